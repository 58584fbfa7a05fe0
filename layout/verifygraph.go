package layout

import (
	"context"
	"errors"
	"slices"
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
		v.queueRule(ruleTask{at: labelLocation(IndexFile), d: idx, index: true})
	}
	v.report(IndexFile, refsViolations(idx.Manifests))
	for i, e := range idx.Manifests {
		if ctx.Err() != nil {
			return
		}
		name := refName(e)
		at := entryLocation(i, e.Digest, name)
		v.reportAt(at, refViolations(e))
		v.walk(ctx, e, at, true, name != "")
	}
}

// verifyFrame is a document of the verifier's current path whose successors are being visited.
type verifyFrame struct {
	kids []child
	next int
	at   Location
}

// walk visits desc, reached at at, and everything under it, depth first, without recursion: a
// path is a stack of frames and a location is rendered only for a finding. top is set for
// index.json's entries, named for those with a ref name. Past the descriptor cap
// (VerifyOptions.Walk.MaxDescriptors) the walk stops with a finding; a document nested too deep
// (Walk.MaxNesting) is a finding and is not read.
func (v *verifier) walk(ctx context.Context, desc ocispec.Descriptor, at Location, top, named bool) {
	var stack []verifyFrame
	if kids := v.visit(ctx, desc, at, top, named); len(kids) > 0 {
		stack = append(stack, verifyFrame{kids: kids, at: at})
	}
	for len(stack) > 0 && ctx.Err() == nil {
		f := &stack[len(stack)-1]
		if f.next == len(f.kids) {
			stack[len(stack)-1] = verifyFrame{}
			stack = stack[:len(stack)-1]
			continue
		}
		k := f.kids[f.next]
		f.next++
		kat := f.at.child(k)
		if kids := v.visit(ctx, k.desc, kat, false, false); len(kids) > 0 {
			stack = append(stack, verifyFrame{kids: kids, at: kat})
		}
	}
}

// visit checks one descriptor and, once per digest, the document it points at, and returns the
// successors to visit under it (none when the document was read before).
func (v *verifier) visit(ctx context.Context, desc ocispec.Descriptor, at Location, top, named bool) []child {
	if ctx.Err() != nil || v.stopped {
		return nil
	}
	if v.visited++; v.visited > v.walkOpts.MaxDescriptors {
		v.stopped, v.cut = true, true
		v.errorf(RuleTooMany, at.String(), ErrTooManyDescriptors, "the walk from index.json visits over %d descriptors, the cap: the rest of the graph is not checked, and no blob is called unreferenced", v.walkOpts.MaxDescriptors)
		return nil
	}
	if !v.checkDescriptor(desc, at) {
		return nil
	}
	bf := v.blobs[desc.Digest]
	if bf == nil {
		if top && !named {
			v.warnf(RuleDanglingEntry, at.String(), "blob %s is absent; the entry has no ref name, so no ref depends on it (oras-go, which ig uses, lists every manifest it stores this way and skips absent ones)", desc.Digest)
			return nil
		}
		v.errorf(RuleMissingBlob, at.String(), ErrNotFound, "blob %s (%s, %d bytes) is missing", desc.Digest, desc.MediaType, desc.Size)
		return nil
	}
	if !bf.reached {
		bf.reached = true
		v.reachedList = append(v.reachedList, bf)
	}
	if desc.Size != bf.size && desc.Size >= 0 {
		v.errorf(RuleDescSize, at.String(), ErrSizeMismatch, "size %d, but blob %s has %d bytes", desc.Size, desc.Digest, bf.size)
	}
	switch {
	case IsManifestType(desc.MediaType), IsIndexType(desc.MediaType):
		return v.expand(ctx, desc, bf, at)
	case isJSONConfigType(desc.MediaType):
		v.checkConfig(ctx, desc, bf, at)
	}
	return nil
}

// checkDescriptor checks what a descriptor says by itself. It returns false when its digest is
// unusable.
func (v *verifier) checkDescriptor(desc ocispec.Descriptor, at Location) bool {
	vs, ok := descViolations(desc)
	v.reportAt(at, vs)
	return ok
}

// expand reads and checks the manifest or index bf, once per digest, and returns its successors
// to visit; the rule funcs get each distinct descriptor (digest and platform) that reaches it.
func (v *verifier) expand(ctx context.Context, desc ocispec.Descriptor, bf *blobFile, at Location) []child {
	switch bf.doc {
	case docOK:
		v.recheck(ctx, desc, bf, at)
		return nil
	case docBad:
		return nil
	}
	bf.doc = docBad
	bf.expanded = true
	kind := "manifest"
	if IsIndexType(desc.MediaType) {
		kind = "index"
	}
	if level := at.Depth() + 1; level > v.walkOpts.MaxNesting {
		v.cut = true
		v.errorf(RuleTooDeep, at.String(), ErrTooDeep, "%s %s is nested %d levels deep, over the cap of %d: it is not read, what it points at is not checked, and no blob is called unreferenced", kind, bf.dg, level, v.walkOpts.MaxNesting)
		return nil
	}
	if bf.size > MaxJSONBytes {
		v.errorf(RuleTooLarge, at.String(), ErrTooLarge, "%s %s has %d bytes, over the %d-byte cap", kind, bf.dg, bf.size, MaxJSONBytes)
		return nil
	}
	data, err := v.readDoc(ctx, bf)
	if data == nil {
		if err != nil && ctx.Err() == nil && !errors.Is(err, ErrDigestMismatch) {
			// Recorded as a blob problem by the pass that owned the blob; say where it is.
			v.errorf(RuleBlobRead, at.String(), err, "%s %s cannot be read: %v", kind, bf.dg, err)
		}
		return nil
	}
	d, err := decodeDoc(data)
	if err != nil {
		v.errorf(jsonRule(err, RuleJSON), at.String(), ErrBadManifest, "%s %s does not parse: %s", kind, bf.dg, docError(err))
		return nil
	}
	bf.doc = docOK
	v.checkShape(d, desc, bf, at)
	if d.Subject != nil {
		v.checkSubject(*d.Subject, at.step(roleSubject, 0, d.Subject.Digest))
	}
	v.addRule(desc, bf, d, at)
	kids := d.children(desc.MediaType)
	if kind == "manifest" && v.opts.CheckManifest != nil {
		for _, k := range kids {
			if kb := v.blobs[k.desc.Digest]; kb != nil {
				kb.ruleRead = true
			}
		}
	}
	return kids
}

// checkSubject checks a subject descriptor: it need not be in the layout, but when it is its
// size must match.
func (v *verifier) checkSubject(desc ocispec.Descriptor, at Location) {
	if !v.checkDescriptor(desc, at) {
		return
	}
	if bf := v.blobs[desc.Digest]; bf != nil {
		v.reportAt(at, subjectSizeViolation(desc, bf.size))
	}
}

// checkIndexShape checks the fields of an image index: index.json itself (top) or a blob of
// media type descMT.
func (v *verifier) checkIndexShape(d *doc, at Location, descMT string, top bool) {
	v.reportAt(at, docViolations(d, descMT, top))
}

// checkManifestShape checks the fields of an image manifest.
func (v *verifier) checkManifestShape(d *doc, desc ocispec.Descriptor, at Location) {
	v.reportAt(at, docViolations(d, desc.MediaType, false))
}

// checkConfig checks, once per digest, that a config of a known JSON type parses as one.
func (v *verifier) checkConfig(ctx context.Context, desc ocispec.Descriptor, bf *blobFile, at Location) {
	if bf.expanded {
		return
	}
	bf.expanded = true
	if bf.size > MaxJSONBytes {
		v.errorf(RuleTooLarge, at.String(), ErrTooLarge, "config %s has %d bytes, over the %d-byte cap", bf.dg, bf.size, MaxJSONBytes)
		return
	}
	data, err := v.readDoc(ctx, bf)
	if data == nil {
		// As for a document (expand): a digest mismatch is the blob's own finding; anything
		// else (a stream's copy that changed or is gone) is said where the config is reached,
		// or the config would go unchecked without a word.
		if err != nil && ctx.Err() == nil && !errors.Is(err, ErrDigestMismatch) {
			v.errorf(RuleBlobRead, at.String(), err, "config %s cannot be read: %v", bf.dg, err)
		}
		return
	}
	v.reportAt(at, configViolations(desc, data))
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
// kept referrer's own referrers are kept too. Each reached blob is looked up once among the
// subjects, so a chain of referrers takes time linear in its length.
func (v *verifier) walkReferrers(ctx context.Context) {
	slices.SortFunc(v.cands, func(a, b *referrer) int { return strings.Compare(string(a.bf.dg), string(b.bf.dg)) })
	bySubject := map[digest.Digest][]*referrer{}
	for _, c := range v.cands {
		bySubject[c.subject] = append(bySubject[c.subject], c)
	}
	for next := 0; next < len(v.reachedList); next++ {
		for _, c := range bySubject[v.reachedList[next].dg] {
			if ctx.Err() != nil || v.stopped {
				return
			}
			if c.walked || c.bf.expanded {
				continue
			}
			c.walked = true
			v.warnf(RuleUnlistedReferrer, c.bf.rel(), "referrer %s of %s is not listed in index.json: export, copy and push carry it only with --scan-referrers (which lists it in what they write)", c.bf.dg, c.subject)
			v.data[c.bf.dg] = c.data
			desc := ocispec.Descriptor{MediaType: c.mediaType, Digest: c.bf.dg, Size: c.bf.size, ArtifactType: c.d.ArtifactType}
			v.walk(ctx, desc, labelLocation("referrer("+short(c.bf.dg)+") of "+short(c.subject)), false, false)
			delete(v.data, c.bf.dg)
		}
	}
}

// reportUnreferenced warns about every blob nothing reached points at, unless the walk was cut
// short (a cap): what it did not read may point at them.
func (v *verifier) reportUnreferenced() {
	if v.cut {
		return
	}
	for _, bf := range v.blobs {
		if !bf.reached {
			v.warnf(RuleUnreferenced, bf.rel(), "blob %s (%d bytes) is not reachable from index.json nor a referrer of what is (gc removes it)", bf.dg, bf.size)
		}
	}
}
