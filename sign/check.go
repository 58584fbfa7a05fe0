package sign

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/layout"
)

// Graph is what checking signatures reads of a layout (or of a tarball being verified): its
// index.json entries, its signature documents, and its OCI 1.1 referrers. LayoutGraph makes one
// of a layout; a Collector makes one of what a verify or import pass saw.
type Graph struct {
	// Entries are index.json's entries; signature tags are found among them by name
	// (`sha256-<hex>.sig`, `sha256-<hex>`, bare or after a repository and a colon).
	Entries []ocispec.Descriptor
	// ReadJSON returns the bytes of a small JSON blob (a signature manifest, a referrers
	// index, a payload or a bundle), verified against desc, at most max bytes.
	ReadJSON func(ctx context.Context, desc ocispec.Descriptor, max int64) ([]byte, error)
	// Referrers returns the manifests whose subject is dg (nil when there is none).
	Referrers func(dg digest.Digest) []ocispec.Descriptor
}

// Verdicts of one signature.
const (
	// VerdictOK: verified with one of the keys and names the image's digest.
	VerdictOK = "ok"
	// VerdictInvalid: malformed, does not verify with any key, or names another digest.
	VerdictInvalid = "invalid"
	// VerdictUnsupported: a format gadgetpack does not check (Notation).
	VerdictUnsupported = "unsupported"
	// VerdictUnchecked: well formed and naming the image, but no key was given to check it.
	VerdictUnchecked = "unchecked"
)

// Signature is one signature found for an image, with its verdict.
type Signature struct {
	// Format is the signature's format.
	Format Format `json:"format"`
	// Manifest is the digest of the signature manifest.
	Manifest digest.Digest `json:"manifest"`
	// Via says how it was found: "tag NAME" or "referrer".
	Via string `json:"via"`
	// Verdict is one of the Verdict constants.
	Verdict string `json:"verdict"`
	// KeyID is the ID of the key it verified with (VerdictOK only).
	KeyID string `json:"key_id,omitempty"`
	// Reason says why it is invalid or unsupported.
	Reason string `json:"reason,omitempty"`
	// loaded is set when the signature's form was read whole (ig's LoadSignatureAndPayload
	// would succeed): the first such one in ig's order is the one ig verifies.
	loaded bool
}

// Result is the signatures of one image and whether one of them verified.
type Result struct {
	// Digest is the image's digest (what the ref resolves to).
	Digest digest.Digest `json:"digest"`
	// Signed is true when a signature verified with one of the keys (VerdictOK).
	Signed bool `json:"signed"`
	// Signatures are every signature found, in the order ig tries the formats.
	Signatures []Signature `json:"signatures"`
	// Decisive is the index in Signatures of the signature ig verifies (the first whose form
	// reads whole, in ig's order of formats), -1 when there is none. ig verifies that one alone:
	// when it fails, another that would verify does not help.
	Decisive int `json:"-"`
}

// Best returns the signature that decides the result: the one ig verifies (Decisive), else
// the first OK one, else the first unchecked one, else the first, else nil.
func (r *Result) Best() *Signature {
	if r.Decisive >= 0 && r.Decisive < len(r.Signatures) {
		return &r.Signatures[r.Decisive]
	}
	for _, v := range []string{VerdictOK, VerdictUnchecked} {
		for i := range r.Signatures {
			if r.Signatures[i].Verdict == v {
				return &r.Signatures[i]
			}
		}
	}
	if len(r.Signatures) > 0 {
		return &r.Signatures[0]
	}
	return nil
}

// Summary is the one-line verdict reports print: "signed (legacy, key 3f2a1b0c)",
// "unsigned", "invalid signature (legacy: ...)", "signature present (bundle), not checked".
func (r *Result) Summary() string {
	b := r.Best()
	switch {
	case b == nil:
		return "unsigned"
	case b.Verdict == VerdictOK:
		return fmt.Sprintf("signed (%s, key %s)", b.Format, shortHex(b.KeyID))
	case b.Verdict == VerdictUnchecked:
		return fmt.Sprintf("signature present (%s), not checked", b.Format)
	case b.Verdict == VerdictUnsupported:
		return fmt.Sprintf("signature present (%s), not checked: unsupported format", b.Format)
	}
	return fmt.Sprintf("invalid signature (%s: %s)", b.Format, b.Reason)
}

func shortHex(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

// Checker checks the signatures of images in one Graph against a set of keys. It is not safe
// for concurrent use.
type Checker struct {
	g    Graph
	keys []PublicKey
	tags map[string]ocispec.Descriptor // signature tag (bare form) -> entry
}

// NewChecker returns a Checker over g. With no keys, signatures are found and their form and
// payload checked, but none verifies (VerdictUnchecked at best).
func NewChecker(g Graph, keys []PublicKey) *Checker {
	c := &Checker{g: g, keys: keys, tags: map[string]ocispec.Descriptor{}}
	for _, e := range g.Entries {
		name := e.Annotations[ocispec.AnnotationRefName]
		if i := strings.LastIndexByte(name, ':'); i >= 0 {
			name = name[i+1:]
		}
		if strings.HasPrefix(name, "sha256-") {
			c.tags[name] = e
		}
	}
	return c
}

// IsSignatureTag reports whether a ref name is a signature tag (`sha256-<hex>.sig`,
// `sha256-<hex>`, `sha256-<hex>.att`...: layout.DigestTagOf): images are the refs that are not.
func IsSignatureTag(ref string) bool { return layout.DigestTagOf(ref) != "" }

// tagOf returns the signature tag of dg with suffix (".sig" or "").
func tagOf(dg digest.Digest, suffix string) string {
	return dg.Algorithm().String() + "-" + dg.Encoded() + suffix
}

// maxSignatureJSON caps a signature manifest, payload or bundle.
const maxSignatureJSON = 4 << 20

// candidate is a signature manifest to check.
type candidate struct {
	desc ocispec.Descriptor
	via  string
}

// Check finds and checks every signature of the image dg. It returns an error only for a
// cancelled context; a broken or missing signature is a verdict in the Result.
func (c *Checker) Check(ctx context.Context, dg digest.Digest) (*Result, error) {
	res := &Result{Digest: dg, Decisive: -1}
	seen := map[digest.Digest]bool{}
	var cands []candidate
	add := func(d ocispec.Descriptor, via string) {
		if !seen[d.Digest] {
			seen[d.Digest] = true
			cands = append(cands, candidate{d, via})
		}
	}
	if e, ok := c.tags[tagOf(dg, ".sig")]; ok {
		add(e, "tag "+tagOf(dg, ".sig"))
	}
	if c.g.Referrers != nil {
		for _, r := range c.g.Referrers(dg) {
			add(r, "referrer")
		}
	}
	if e, ok := c.tags[tagOf(dg, "")]; ok {
		if idx, err := c.readIndex(ctx, e); err == nil {
			for _, m := range idx.Manifests {
				add(m, "tag "+tagOf(dg, "")+" (referrers index)")
			}
		} else if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	for _, cand := range cands {
		sig, ok := c.checkOne(ctx, cand, dg)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if ok {
			res.Signatures = append(res.Signatures, sig)
		}
	}
	order := map[Format]int{FormatLegacy: 0, FormatBundle: 1, FormatOCI11: 2, FormatNotation: 3}
	slices.SortStableFunc(res.Signatures, func(a, b Signature) int { return order[a.Format] - order[b.Format] })
	// As ig: the first signature whose form reads whole is the one verified, and it alone
	// decides.
	res.Decisive = slices.IndexFunc(res.Signatures, func(s Signature) bool { return s.loaded })
	if res.Decisive >= 0 {
		d := &res.Signatures[res.Decisive]
		res.Signed = d.Verdict == VerdictOK
		if !res.Signed {
			for _, s := range res.Signatures[res.Decisive+1:] {
				if s.Verdict == VerdictOK {
					d.Reason += fmt.Sprintf("; ig reads this %s signature first and stops there, so the %s signature %s that verifies (key %s) does not count",
						d.Format, s.Format, s.Manifest, shortHex(s.KeyID))
					break
				}
			}
		}
	}
	return res, nil
}

// readJSON reads a small JSON blob whole.
func (c *Checker) readJSON(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
	if desc.Size < 0 || desc.Size > maxSignatureJSON {
		return nil, fmt.Errorf("blob %s: %d bytes, cap %d: %w", desc.Digest, desc.Size, maxSignatureJSON, ErrBadSignature)
	}
	data, err := c.g.ReadJSON(ctx, desc, maxSignatureJSON)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != desc.Size {
		return nil, fmt.Errorf("blob %s: %d bytes, descriptor says %d: %w", desc.Digest, len(data), desc.Size, ErrBadSignature)
	}
	return data, nil
}

// readIndex reads an image index.
func (c *Checker) readIndex(ctx context.Context, desc ocispec.Descriptor) (*ocispec.Index, error) {
	data, err := c.readJSON(ctx, desc)
	if err != nil {
		return nil, err
	}
	var idx ocispec.Index
	if err := decodeStrict(data, &idx); err != nil {
		return nil, fmt.Errorf("index %s: %v: %w", desc.Digest, err, ErrBadSignature)
	}
	return &idx, nil
}

// formatOf tells a signature manifest's format from its artifactType, config and layers; ok is
// false for a manifest that is no signature (another kind of referrer).
func formatOf(m *ocispec.Manifest, byTag bool) (Format, bool) {
	switch {
	case m.ArtifactType == ArtifactTypeNotation || m.Config.MediaType == ArtifactTypeNotation:
		return FormatNotation, true
	case m.ArtifactType == MediaTypeBundle || m.Config.ArtifactType == MediaTypeBundle:
		return FormatBundle, true
	case m.ArtifactType == ArtifactTypeCosign || m.Config.MediaType == ArtifactTypeCosign:
		return FormatOCI11, true
	}
	for _, l := range m.Layers {
		switch l.MediaType {
		case MediaTypeBundle:
			return FormatBundle, true
		case MediaTypeSimpleSigning:
			if byTag {
				return FormatLegacy, true
			}
			return FormatOCI11, true
		}
	}
	return "", false
}

// checkOne reads and checks one candidate; ok is false when it is not a signature at all.
func (c *Checker) checkOne(ctx context.Context, cand candidate, dg digest.Digest) (Signature, bool) {
	sig := Signature{Manifest: cand.desc.Digest, Via: cand.via}
	legacyTag := cand.via == "tag "+tagOf(dg, ".sig")
	if legacyTag {
		sig.Format = FormatLegacy
	}
	invalid := func(err error) (Signature, bool) {
		if sig.Format == "" {
			sig.Format = FormatOCI11
		}
		sig.Verdict, sig.Reason = VerdictInvalid, err.Error()
		return sig, true
	}
	data, err := c.readJSON(ctx, cand.desc)
	if err != nil {
		return invalid(err)
	}
	var m ocispec.Manifest
	if err := decodeStrict(data, &m); err != nil {
		return invalid(fmt.Errorf("manifest %s: %v", cand.desc.Digest, err))
	}
	f, ok := formatOf(&m, legacyTag)
	if !ok {
		if !legacyTag {
			return sig, false
		}
		f = FormatLegacy
	}
	if legacyTag {
		f = FormatLegacy
	}
	sig.Format = f
	var payload, signed []byte
	var signatures [][]byte
	switch f {
	case FormatNotation:
		sig.Verdict, sig.Reason = VerdictUnsupported, "Notation signatures are not checked"
		return sig, true
	case FormatBundle:
		payload, signed, signatures, err = c.loadBundle(ctx, &m)
	default:
		payload, signatures, err = c.loadSimpleSigning(ctx, &m)
		signed = payload
	}
	if err != nil {
		return invalid(err)
	}
	sig.loaded = true
	if len(c.keys) == 0 {
		// Form and payload only: the payload is read without a verified signature.
		if err := c.checkPayload(f, payload, dg); err != nil {
			return invalid(err)
		}
		sig.Verdict = VerdictUnchecked
		return sig, true
	}
	for _, k := range c.keys {
		for _, s := range signatures {
			if verifyMessage(k, s, signed) != nil {
				continue
			}
			// As ig: the payload is trusted only once its signature verified.
			if err := c.checkPayload(f, payload, dg); err != nil {
				return invalid(err)
			}
			sig.Verdict, sig.KeyID = VerdictOK, k.ID
			return sig, true
		}
	}
	return invalid(fmt.Errorf("signature does not verify with any given key (%s): %w", keyList(c.keys), ErrBadSignature))
}

func keyList(keys []PublicKey) string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ShortID()
	}
	return strings.Join(ids, ", ")
}

// checkPayload checks a payload names dg, by format.
func (c *Checker) checkPayload(f Format, payload []byte, dg digest.Digest) error {
	if f == FormatBundle {
		return checkStatement(payload, dg)
	}
	return checkSimpleSigning(payload, dg)
}

// loadSimpleSigning returns the payload and the signature of a legacy or OCI 1.1 signature
// manifest, which must have exactly one simple-signing layer (ig refuses any other count).
func (c *Checker) loadSimpleSigning(ctx context.Context, m *ocispec.Manifest) (payload []byte, sigs [][]byte, err error) {
	if len(m.Layers) != 1 {
		return nil, nil, fmt.Errorf("signature manifest has %d layers, want 1: %w", len(m.Layers), ErrBadSignature)
	}
	l := m.Layers[0]
	if l.MediaType != MediaTypeSimpleSigning {
		return nil, nil, fmt.Errorf("signature layer has media type %q, want %q: %w", l.MediaType, MediaTypeSimpleSigning, ErrBadSignature)
	}
	b64, ok := l.Annotations[AnnotationSignature]
	if !ok {
		return nil, nil, fmt.Errorf("signature layer has no %s annotation: %w", AnnotationSignature, ErrBadSignature)
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, nil, fmt.Errorf("signature annotation is not base64: %w", ErrBadSignature)
	}
	payload, err = c.readJSON(ctx, l)
	if err != nil {
		return nil, nil, fmt.Errorf("payload %s: %w", l.Digest, err)
	}
	return payload, [][]byte{sig}, nil
}

// bundle is the part of a sigstore bundle v0.3 (protobuf JSON) that is checked.
type bundle struct {
	MediaType    string `json:"mediaType"`
	DSSEEnvelope *struct {
		Payload     []byte `json:"payload"`
		PayloadType string `json:"payloadType"`
		Signatures  []struct {
			Sig   []byte `json:"sig"`
			KeyID string `json:"keyid,omitempty"`
		} `json:"signatures"`
	} `json:"dsseEnvelope"`
	VerificationMaterial json.RawMessage `json:"verificationMaterial"`
}

// loadBundle returns the in-toto statement, the DSSE bytes signed and the signature of a
// bundle signature manifest (its first bundle layer, as ig reads it).
func (c *Checker) loadBundle(ctx context.Context, m *ocispec.Manifest) (payload, signed []byte, sigs [][]byte, err error) {
	i := slices.IndexFunc(m.Layers, func(l ocispec.Descriptor) bool { return l.MediaType == MediaTypeBundle })
	if i < 0 {
		return nil, nil, nil, fmt.Errorf("bundle manifest has no %s layer: %w", MediaTypeBundle, ErrBadSignature)
	}
	data, err := c.readJSON(ctx, m.Layers[i])
	if err != nil {
		return nil, nil, nil, fmt.Errorf("bundle %s: %w", m.Layers[i].Digest, err)
	}
	var b bundle
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, nil, nil, fmt.Errorf("bundle %s: %v: %w", m.Layers[i].Digest, err, ErrBadSignature)
	}
	env := b.DSSEEnvelope
	if env == nil {
		return nil, nil, nil, fmt.Errorf("bundle %s has no DSSE envelope: %w", m.Layers[i].Digest, ErrBadSignature)
	}
	if len(env.Signatures) != 1 {
		return nil, nil, nil, fmt.Errorf("bundle %s: DSSE envelope has %d signatures, want 1: %w", m.Layers[i].Digest, len(env.Signatures), ErrBadSignature)
	}
	return env.Payload, pae(env.PayloadType, env.Payload), [][]byte{env.Signatures[0].Sig}, nil
}
