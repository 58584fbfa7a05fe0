package layout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/internal/strictjson"
)

// The rules of the OCI format that Verify reports and that every path moving content (import,
// export, copy, push, tag, gc's mark) enforces are written once, here: Verify turns each
// violation into a Problem, the others turn the first into an error. A rule added here is
// checked by both sides; rules_test.go runs every rule through both.

// ruleViolation is one broken rule: the Rule* it breaks, the sentinel it wraps and what is wrong,
// naming the digest. warn marks a violation Verify reports as a warning, which no path refuses.
type ruleViolation struct {
	rule string
	err  error
	msg  string
	warn bool
}

// Error returns the message with its sentinel: what import, export, copy and push print.
func (x ruleViolation) Error() string { return x.msg + " (rule " + x.rule + "): " + x.err.Error() }

// Unwrap returns the sentinel.
func (x ruleViolation) Unwrap() error { return x.err }

// report records vs as problems located at where.
func (v *verifier) report(where string, vs []ruleViolation) {
	for _, x := range vs {
		if x.warn {
			v.warnf(x.rule, where, "%s", x.msg)
		} else {
			v.errorf(x.rule, where, x.err, "%s", x.msg)
		}
	}
}

// checkShape checks the fields of the manifest or index d against a descriptor desc that
// reaches it, once per media type that reaches it: a second descriptor of the same digest but
// another media type must find the document of its type too.
func (v *verifier) checkShape(d *doc, desc ocispec.Descriptor, bf *blobFile, at Location) {
	key := v.shapeKey(bf, desc.MediaType)
	if v.once[key] {
		return
	}
	v.once[key] = true
	v.reportAt(at, docViolations(d, desc.MediaType, false))
}

// reportAt is report at a Location, rendered only when there is something to report.
func (v *verifier) reportAt(at Location, vs []ruleViolation) {
	if len(vs) > 0 {
		v.report(at.String(), vs)
	}
}

// descKey is what tells apart, for the rules that compare a descriptor with its blob, two
// descriptors of one digest: its media type (the shape its document must have) and its size.
// Walks visit each descKey once, not each digest, so that neither is checked only once.
type descKey struct {
	digest    digest.Digest
	mediaType string
	size      int64
}

// keyOf returns desc's descKey.
func keyOf(desc ocispec.Descriptor) descKey {
	return descKey{desc.Digest, desc.MediaType, desc.Size}
}

// firstError returns the first ruleViolation of vs that is not a warning, or nil.
func firstError(vs []ruleViolation) error {
	for _, x := range vs {
		if !x.warn {
			return x
		}
	}
	return nil
}

// descViolations checks what a descriptor says by itself: digest grammar, size, media type,
// artifactType, the empty descriptor and the data field. ok is false when the digest is
// unusable (then nothing else was checked).
func descViolations(desc ocispec.Descriptor) (vs []ruleViolation, ok bool) {
	if err := checkDigest(desc.Digest); err != nil {
		return []ruleViolation{{rule: RuleDescDigest, err: err, msg: fmt.Sprintf("digest %q is not algorithm:encoded of a known algorithm with lowercase hex of the right length", string(desc.Digest))}}, false
	}
	if desc.Size < 0 {
		vs = append(vs, ruleViolation{rule: RuleDescSize, err: ErrSizeMismatch, msg: fmt.Sprintf("size %d of %s is negative", desc.Size, desc.Digest)})
	}
	if desc.MediaType == "" {
		vs = append(vs, ruleViolation{rule: RuleDescMediaType, err: ErrInvalidMediaType, msg: fmt.Sprintf("descriptor of %s has no mediaType", desc.Digest)})
	} else if !validMediaType(desc.MediaType) {
		vs = append(vs, ruleViolation{rule: RuleDescMediaType, err: ErrInvalidMediaType, msg: fmt.Sprintf("media type %q of %s is not of the RFC 6838 form type/subtype", desc.MediaType, desc.Digest)})
	}
	if desc.ArtifactType != "" && !validMediaType(desc.ArtifactType) {
		vs = append(vs, ruleViolation{rule: RuleDescArtifact, err: ErrInvalidMediaType, msg: fmt.Sprintf("artifactType %q of %s is not of the RFC 6838 form type/subtype", desc.ArtifactType, desc.Digest)})
	}
	if desc.MediaType == ocispec.MediaTypeEmptyJSON && (desc.Digest != ocispec.DescriptorEmptyJSON.Digest || desc.Size != ocispec.DescriptorEmptyJSON.Size) {
		vs = append(vs, ruleViolation{rule: RuleEmpty, err: ErrDigestMismatch, msg: fmt.Sprintf("%s descriptor is %s (%d bytes), want %s (2 bytes, {})", ocispec.MediaTypeEmptyJSON, desc.Digest, desc.Size, ocispec.DescriptorEmptyJSON.Digest)})
	}
	if desc.Data != nil {
		got := desc.Digest.Algorithm().FromBytes(desc.Data)
		if int64(len(desc.Data)) != desc.Size || got != desc.Digest {
			vs = append(vs, ruleViolation{rule: RuleDescData, err: ErrDigestMismatch, msg: fmt.Sprintf("data field of %s is %d bytes hashing to %s, not the blob's content", desc.Digest, len(desc.Data), got)})
		}
	}
	return vs, true
}

// checkDesc returns the first rule desc breaks by itself (descViolations), or nil.
func checkDesc(desc ocispec.Descriptor) error {
	vs, _ := descViolations(desc)
	return firstError(vs)
}

// refViolations checks the ref name of an index.json entry, if it has one, as AddEntries and
// ParseIndex do.
func refViolations(desc ocispec.Descriptor) []ruleViolation {
	name, ok := desc.Annotations[ocispec.AnnotationRefName]
	if !ok {
		return nil
	}
	if err := checkRef(name); err != nil {
		return []ruleViolation{{rule: RuleRefName, err: ErrInvalidReference, msg: fmt.Sprintf("ref name %q of %s is not of the image-layout grammar (alphanumerics and separators . _ - : @ + / --, at most 4096 bytes, not a digest)", name, desc.Digest)}}
	}
	return nil
}

// refsViolations checks index.json's entries together: a ref name given to entries of different
// digests is ambiguous (ig reads the last, other tools the first), so it is an error, once per
// name.
func refsViolations(entries []ocispec.Descriptor) []ruleViolation {
	var vs []ruleViolation
	first := map[string]int{}
	reported := map[string]bool{}
	for i, e := range entries {
		name := refName(e)
		if name == "" {
			continue
		}
		j, ok := first[name]
		if !ok {
			first[name] = i
			continue
		}
		if entries[j].Digest != e.Digest && !reported[name] {
			reported[name] = true
			vs = append(vs, ruleViolation{rule: RuleRefName, err: ErrInvalidReference, msg: fmt.Sprintf("ref name %q is given to %s (manifests[%d]) and to %s (manifests[%d]): readers differ on which it names", name, entries[j].Digest, j, e.Digest, i)})
		}
	}
	return vs
}

// checkRefs returns the first ref name of entries given to two digests (refsViolations), or nil.
func checkRefs(entries []ocispec.Descriptor) error {
	return firstError(refsViolations(entries))
}

// readIndexChecked is readIndex for the paths that carry index.json's entries elsewhere
// (export, copy, push): it refuses an index.json whose refs are ambiguous (checkRefs), as
// Verify reports them.
func (s *Store) readIndexChecked(ctx context.Context) (*indexDoc, error) {
	d, err := s.readIndex(ctx)
	if err != nil {
		return nil, err
	}
	descs := make([]ocispec.Descriptor, len(d.entries))
	for i, e := range d.entries {
		descs[i] = e.desc
	}
	if err := checkRefs(descs); err != nil {
		return nil, fmt.Errorf("layout %s: %s: %w", s.root, IndexFile, err)
	}
	return d, nil
}

// docViolations checks the fields of a manifest or index document d, read from a blob that a
// descriptor of media type descMT points at; top is set for index.json itself (descMT "").
func docViolations(d *doc, descMT string, top bool) []ruleViolation {
	var vs []ruleViolation
	add := func(rule string, err error, format string, args ...any) {
		vs = append(vs, ruleViolation{rule: rule, err: err, msg: fmt.Sprintf(format, args...)})
	}
	if top || IsIndexType(descMT) {
		rule, sentinel := RuleIndex, ErrBadIndex
		if !top {
			sentinel = ErrBadManifest // an index blob: a manifest-like document of the graph
		}
		switch {
		case d.SchemaVersion == nil:
			add(rule, sentinel, "no schemaVersion")
		case *d.SchemaVersion != 2:
			add(rule, sentinel, "schemaVersion %d, want 2", *d.SchemaVersion)
		}
		switch {
		case top && d.MediaType != "" && d.MediaType != ocispec.MediaTypeImageIndex:
			add(rule, sentinel, "mediaType %q, want %q", d.MediaType, ocispec.MediaTypeImageIndex)
		case !top && d.MediaType != "" && d.MediaType != descMT:
			add(rule, sentinel, "mediaType %q in the document, %q in its descriptor", d.MediaType, descMT)
		}
		switch {
		case !d.manifests.present:
			add(rule, sentinel, "no manifests")
		case d.manifests.null && top:
			vs = append(vs, ruleViolation{rule: rule, err: sentinel, warn: true, msg: "manifests is null, where OCI wants an array (oras-go writes null for a store without entries)"})
		case d.manifests.null:
			add(rule, sentinel, "manifests is null, not an array")
		}
		return vs
	}
	rule := RuleManifest
	switch {
	case d.SchemaVersion == nil:
		add(rule, ErrBadManifest, "no schemaVersion")
	case *d.SchemaVersion != 2:
		add(rule, ErrBadManifest, "schemaVersion %d, want 2", *d.SchemaVersion)
	}
	if d.MediaType != "" && d.MediaType != descMT {
		add(rule, ErrBadManifest, "mediaType %q in the document, %q in its descriptor", d.MediaType, descMT)
	}
	if d.Config == nil {
		add(rule, ErrBadManifest, "no config")
	}
	if !d.layers.present || d.layers.null {
		add(rule, ErrBadManifest, "no layers array")
	}
	if d.ArtifactType != "" && !validMediaType(d.ArtifactType) {
		add(RuleDescArtifact, ErrInvalidMediaType, "artifactType %q is not of the RFC 6838 form type/subtype", d.ArtifactType)
	}
	return vs
}

// subjectSizeViolation is the ruleViolation of a subject whose blob is present with another size
// than the subject descriptor says, given the size of the blob (-1 when it is absent).
func subjectSizeViolation(desc ocispec.Descriptor, blobSize int64) []ruleViolation {
	if blobSize < 0 || blobSize == desc.Size {
		return nil
	}
	return []ruleViolation{{rule: RuleDescSize, err: ErrSizeMismatch, msg: fmt.Sprintf("size %d, but blob %s has %d bytes", desc.Size, desc.Digest, blobSize)}}
}

// checkDocument checks, for the paths that move content, the manifest or index d that desc
// points at as Verify does: its fields (docViolations) and its subject (descViolations, and the
// subject's size when fetch finds its blob with another size). The error names the rule, the
// document's digest and the field.
func checkDocument(ctx context.Context, fetch FetchFunc, desc ocispec.Descriptor, d *doc) error {
	if err := firstError(docViolations(d, desc.MediaType, false)); err != nil {
		return fmt.Errorf("%s %s: %w", desc.MediaType, desc.Digest, err)
	}
	if d.Subject == nil {
		return nil
	}
	sub := *d.Subject
	vs, ok := descViolations(sub)
	if err := firstError(vs); err != nil || !ok {
		return fmt.Errorf("%s %s: subject: %w", desc.MediaType, desc.Digest, err)
	}
	rc, err := fetch(ctx, sub)
	if err == nil {
		_ = rc.Close()
	} else if errors.Is(err, ErrSizeMismatch) {
		return fmt.Errorf("%s %s: subject: %w", desc.MediaType, desc.Digest,
			ruleViolation{rule: RuleDescSize, err: ErrSizeMismatch, msg: fmt.Sprintf("size %d, but %v", sub.Size, err)})
	}
	return nil
}

// isJSONConfigType reports whether mt is a config type whose content Verify parses: OCI's
// image config and Docker's.
func isJSONConfigType(mt string) bool {
	return mt == ocispec.MediaTypeImageConfig || mt == mediaTypeDockerConf
}

// configViolations checks the content of a config of a JSON type (isJSONConfigType): a JSON
// object that parses as an image config.
func configViolations(desc ocispec.Descriptor, data []byte) []ruleViolation {
	if !isJSONObject(data) {
		return []ruleViolation{{rule: RuleConfig, err: ErrBadManifest, msg: fmt.Sprintf("config %s is not a JSON object, as %s wants", desc.Digest, desc.MediaType)}}
	}
	if err := strictjson.Check(data, strictjson.Plain); err != nil {
		return []ruleViolation{{rule: jsonRule(err, RuleConfig), err: ErrBadManifest, msg: fmt.Sprintf("config %s does not parse as %s: %v", desc.Digest, desc.MediaType, err)}}
	}
	if fastConfigOK(data) {
		return nil
	}
	var img ocispec.Image
	if err := json.Unmarshal(data, &img); err != nil {
		return []ruleViolation{{rule: RuleConfig, err: ErrBadManifest, msg: fmt.Sprintf("config %s does not parse as %s: %s", desc.Digest, desc.MediaType, jsonError(err))}}
	}
	return nil
}

// checkConfigBlob checks, for the paths that move content, a config of a JSON type as Verify does:
// under MaxJSONBytes and parsing as its type (read verified through fetch). Other blobs it
// leaves alone.
func checkConfigBlob(ctx context.Context, fetch FetchFunc, desc ocispec.Descriptor) error {
	if !isJSONConfigType(desc.MediaType) {
		return nil
	}
	if desc.Size > MaxJSONBytes {
		return ruleViolation{rule: RuleTooLarge, err: ErrTooLarge, msg: fmt.Sprintf("config %s has %d bytes, over the %d-byte cap", desc.Digest, desc.Size, MaxJSONBytes)}
	}
	data, err := ReadAllFrom(ctx, fetch, desc, MaxJSONBytes)
	if err != nil {
		return err
	}
	return firstError(configViolations(desc, data))
}

// checkNode checks, for Walk, a descriptor reached by itself (descViolations) and, for a config
// of a JSON type, its content (checkConfigBlob). Manifests and indexes are checked where their
// document is read (checkDocument, from successors).
func checkNode(ctx context.Context, fetch FetchFunc, desc ocispec.Descriptor) error {
	if err := checkDesc(desc); err != nil {
		return err
	}
	return checkConfigBlob(ctx, fetch, desc)
}
