package sign

import (
	"context"
	"fmt"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/layout"
)

// Rules of the findings Problems makes.
const (
	RuleMissing     = "sig/missing"     // no signature at all
	RuleInvalid     = "sig/invalid"     // signatures, none of which verifies with the keys
	RuleUnsupported = "sig/unsupported" // only signatures of a format that is not checked
)

// RefResult is the signatures of one tagged image.
type RefResult struct {
	// Ref is the image's name in index.json.
	Ref string `json:"ref"`
	Result
}

// CheckRefs checks every tagged image of g (every named index.json entry that is not itself a
// signature tag), sorted by ref. It returns an error only for a cancelled context.
func CheckRefs(ctx context.Context, g Graph, keys []PublicKey) ([]RefResult, error) {
	c := NewChecker(g, keys)
	var out []RefResult
	for _, e := range g.Entries {
		ref := e.Annotations[ocispec.AnnotationRefName]
		if ref == "" || IsSignatureTag(ref) {
			continue
		}
		res, err := c.Check(ctx, e.Digest)
		if err != nil {
			return nil, err
		}
		out = append(out, RefResult{Ref: ref, Result: *res})
	}
	slices.SortStableFunc(out, func(a, b RefResult) int { return strings.Compare(a.Ref, b.Ref) })
	return out, nil
}

// Problems turns results checked with keys into verify findings: one error per ref that is
// not signed by one of the keys (RuleMissing, RuleInvalid or RuleUnsupported), each naming the
// ref, its digest and, for an invalid one, every signature's format and reason.
func Problems(results []RefResult) []layout.Problem {
	var out []layout.Problem
	for _, r := range results {
		if r.Signed {
			continue
		}
		p := layout.Problem{Severity: layout.SeverityError, Where: "ref " + r.Ref, Err: ErrUnsigned}
		unsupported := len(r.Signatures) > 0
		var reasons []string
		for _, s := range r.Signatures {
			unsupported = unsupported && s.Verdict == VerdictUnsupported
			reasons = append(reasons, fmt.Sprintf("%s %s (%s): %s", s.Format, s.Manifest, s.Via, s.Reason))
		}
		switch {
		case len(r.Signatures) == 0:
			p.Rule, p.Message = RuleMissing, fmt.Sprintf("%s has no signature", r.Digest)
		case unsupported:
			p.Rule, p.Message = RuleUnsupported, fmt.Sprintf("%s has only signatures gadgetpack does not check: %s", r.Digest, strings.Join(reasons, "; "))
		default:
			p.Rule, p.Message = RuleInvalid, fmt.Sprintf("%s has no signature that verifies: %s", r.Digest, strings.Join(reasons, "; "))
		}
		out = append(out, p)
	}
	return out
}
