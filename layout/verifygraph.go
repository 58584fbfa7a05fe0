package layout

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// referrer is a verified blob, not reached (yet) from index.json, that is a manifest or an
// index with a subject.
type referrer struct {
	bf        *blobFile
	d         *doc
	data      []byte
	mediaType string
	subject   digest.Digest
	walked    bool
}

// walkIndex walks every entry of index.json, and queues the index rule func for index.json
// itself (with a zero descriptor: ref-level rules live there).
func (v *verifier) walkIndex(ctx context.Context, idx *doc) {
	if v.opts.CheckIndex != nil {
		v.rules = append(v.rules, ruleTask{where: IndexFile, d: idx, index: true})
	}
	v.report(IndexFile, refsViolations(idx.Manifests))
	for i, e := range idx.Manifests {
		if ctx.Err() != nil {
			return
		}
		name := refName(e)
		label := short(e.Digest)
		if name != "" {
			label = "ref " + name
		}
		where := IndexFile + "[" + strconv.Itoa(i) + "](" + label + ")"
		v.report(where, refViolations(e))
		v.visit(ctx, e, where, true, name != "")
	}
}

// visit checks one descriptor and, once per digest, the document it points at and everything
// under it. top is set for index.json's entries, named for those with a ref name.
func (v *verifier) visit(ctx context.Context, desc ocispec.Descriptor, where string, top, named bool) {
	if ctx.Err() != nil || !v.checkDescriptor(desc, where) {
		return
	}
	bf := v.blobs[desc.Digest]
	if bf == nil {
		if top && !named {
			v.warnf(RuleDanglingEntry, where, "blob %s is absent; the entry has no ref name, so no ref depends on it (oras-go, which ig uses, lists every manifest it stores this way and skips absent ones)", desc.Digest)
			return
		}
		v.errorf(RuleMissingBlob, where, ErrNotFound, "blob %s (%s, %d bytes) is missing", desc.Digest, desc.MediaType, desc.Size)
		return
	}
	bf.reached = true
	if desc.Size != bf.size && desc.Size >= 0 {
		v.errorf(RuleDescSize, where, ErrSizeMismatch, "size %d, but blob %s has %d bytes", desc.Size, desc.Digest, bf.size)
	}
	switch {
	case IsManifestType(desc.MediaType), IsIndexType(desc.MediaType):
		v.expand(ctx, desc, bf, where)
	case isJSONConfigType(desc.MediaType):
		v.checkConfig(ctx, desc, bf, where)
	}
}

// checkDescriptor checks what a descriptor says by itself. It returns false when its digest is
// unusable.
func (v *verifier) checkDescriptor(desc ocispec.Descriptor, where string) bool {
	vs, ok := descViolations(desc)
	v.report(where, vs)
	return ok
}

// expand reads, checks and walks the manifest or index bf, once per digest; the rule funcs get
// each distinct descriptor (digest and platform) that reaches it.
func (v *verifier) expand(ctx context.Context, desc ocispec.Descriptor, bf *blobFile, where string) {
	if d, ok := v.docs[bf.dg]; ok {
		if d != nil {
			v.checkShape(d, desc, where)
			v.addRule(desc, d, where)
		}
		return
	}
	v.docs[bf.dg] = nil
	bf.expanded = true
	kind := "manifest"
	if IsIndexType(desc.MediaType) {
		kind = "index"
	}
	if bf.size > MaxJSONBytes {
		v.errorf(RuleTooLarge, where, ErrTooLarge, "%s %s has %d bytes, over the %d-byte cap", kind, bf.dg, bf.size, MaxJSONBytes)
		return
	}
	data, err := v.readDoc(ctx, bf)
	if data == nil {
		if err != nil && ctx.Err() == nil && !errors.Is(err, ErrDigestMismatch) {
			// Recorded as a blob problem by the pass that owned the blob; say where it is.
			v.errorf(RuleBlobRead, where, err, "%s %s cannot be read: %v", kind, bf.dg, err)
		}
		return
	}
	d, err := decodeDoc(data)
	if err != nil {
		v.errorf(jsonRule(err, RuleJSON), where, ErrBadManifest, "%s %s does not parse: %s", kind, bf.dg, docError(err))
		return
	}
	v.docs[bf.dg] = d
	v.checkShape(d, desc, where)
	if d.Subject != nil {
		v.checkSubject(*d.Subject, where+" > subject("+short(d.Subject.Digest)+")")
	}
	v.addRule(desc, d, where)
	for _, k := range d.children(desc.MediaType) {
		if kind == "manifest" && v.opts.CheckManifest != nil {
			if kb := v.blobs[k.desc.Digest]; kb != nil {
				kb.ruleRead = true
			}
		}
		v.visit(ctx, k.desc, where+" > "+k.role+"("+short(k.desc.Digest)+")", false, false)
	}
}

// checkSubject checks a subject descriptor: it need not be in the layout, but when it is its
// size must match.
func (v *verifier) checkSubject(desc ocispec.Descriptor, where string) {
	if !v.checkDescriptor(desc, where) {
		return
	}
	if bf := v.blobs[desc.Digest]; bf != nil {
		v.report(where, subjectSizeViolation(desc, bf.size))
	}
}

// checkIndexShape checks the fields of an image index: index.json itself (top) or a blob of
// media type descMT.
func (v *verifier) checkIndexShape(d *doc, where, descMT string, top bool) {
	v.report(where, docViolations(d, descMT, top))
}

// checkManifestShape checks the fields of an image manifest.
func (v *verifier) checkManifestShape(d *doc, desc ocispec.Descriptor, where string) {
	v.report(where, docViolations(d, desc.MediaType, false))
}

// checkConfig checks, once per digest, that a config of a known JSON type parses as one.
func (v *verifier) checkConfig(ctx context.Context, desc ocispec.Descriptor, bf *blobFile, where string) {
	if bf.expanded {
		return
	}
	bf.expanded = true
	if bf.size > MaxJSONBytes {
		v.errorf(RuleTooLarge, where, ErrTooLarge, "config %s has %d bytes, over the %d-byte cap", bf.dg, bf.size, MaxJSONBytes)
		return
	}
	data, _ := v.readDoc(ctx, bf)
	if data == nil {
		return
	}
	v.report(where, configViolations(desc, data))
}

// addRule queues the rule func call for a reached manifest or index, once per digest and
// platform.
func (v *verifier) addRule(desc ocispec.Descriptor, d *doc, where string) {
	index := IsIndexType(desc.MediaType)
	if (index && v.opts.CheckIndex == nil) || (!index && v.opts.CheckManifest == nil) {
		return
	}
	key := string(desc.Digest)
	if desc.Platform != nil {
		p, _ := json.Marshal(desc.Platform)
		key += string(p)
	}
	if v.ruleKeys[key] {
		return
	}
	v.ruleKeys[key] = true
	v.rules = append(v.rules, ruleTask{where: where, desc: desc, d: d, index: index})
}

// runRule calls a rule func and turns what it returns into problems. A panic in it becomes an
// error problem too.
func (v *verifier) runRule(ctx context.Context, rt ruleTask) {
	defer func() {
		if r := recover(); r != nil {
			v.errorf(ruleGadgetDefault, rt.where, nil, "rule check of %s panicked: %v", rt.desc.Digest, r)
		}
	}()
	fetch := v.fetch
	if v.src != nil {
		fetch = v.src
	}
	var errs []error
	if rt.index {
		errs = v.opts.CheckIndex(ctx, rt.desc, rt.d.index(), fetch)
	} else {
		errs = v.opts.CheckManifest(ctx, rt.desc, rt.d.manifest(), fetch)
	}
	for _, err := range errs {
		if err != nil {
			v.add(findingOf(rt.where, err))
		}
	}
}

// finding is what a rule func's error may implement (spec.Violation does).
type finding interface {
	Finding() (severity, rule, where, message string)
}

// findingOf turns a rule func's error into a Problem located under where.
func findingOf(where string, err error) Problem {
	p := Problem{Severity: SeverityError, Rule: ruleGadgetDefault, Where: where, Message: err.Error(), Err: err}
	var f finding
	if errors.As(err, &f) {
		sev, rule, w, msg := f.Finding()
		if sev == SeverityWarning {
			p.Severity = SeverityWarning
		}
		if rule != "" {
			p.Rule = rule
		}
		if w != "" {
			p.Where = where + " > " + w
		}
		if msg != "" {
			p.Message = msg
		}
	}
	return p
}

// sniffReferrer keeps a verified JSON blob with a subject as a referrer candidate.
func (v *verifier) sniffReferrer(bf *blobFile, data []byte) {
	d, err := decodeDoc(data)
	if err != nil || d.Subject == nil {
		return
	}
	mt, ok := d.referrerType()
	if !ok {
		return
	}
	v.mu.Lock()
	v.cands = append(v.cands, &referrer{bf: bf, d: d, data: data, mediaType: mt, subject: d.Subject.Digest})
	v.mu.Unlock()
}

// walkReferrers walks the referrer candidates whose subject is reached, until no more are: a
// kept referrer's own referrers are kept too.
func (v *verifier) walkReferrers(ctx context.Context) {
	slices.SortFunc(v.cands, func(a, b *referrer) int { return strings.Compare(string(a.bf.dg), string(b.bf.dg)) })
	for changed := true; changed; {
		changed = false
		for _, c := range v.cands {
			if ctx.Err() != nil {
				return
			}
			if c.walked || c.bf.expanded {
				continue
			}
			if s := v.blobs[c.subject]; s == nil || !s.reached {
				continue
			}
			c.walked, changed = true, true
			v.data[c.bf.dg] = c.data
			desc := ocispec.Descriptor{MediaType: c.mediaType, Digest: c.bf.dg, Size: c.bf.size, ArtifactType: c.d.ArtifactType}
			v.visit(ctx, desc, "referrer("+short(c.bf.dg)+") of "+short(c.subject), false, false)
			delete(v.data, c.bf.dg)
		}
	}
}

// reportUnreferenced warns about every blob nothing reached points at.
func (v *verifier) reportUnreferenced() {
	for _, bf := range v.blobs {
		if !bf.reached {
			v.warnf(RuleUnreferenced, bf.rel, "blob %s (%d bytes) is not reachable from index.json nor a referrer of what is (gc removes it)", bf.dg, bf.size)
		}
	}
}
