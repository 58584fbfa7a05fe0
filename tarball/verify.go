package tarball

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/internal/ticker"
	"github.com/gadgetpack/gadgetpack/layout"
)

// Rules of the findings Verify makes itself about the tar, beside layout's.
const (
	RuleEntry    = "tar/entry"    // an entry a layout never holds (see ErrUnsafeEntry): import refuses it
	RuleStream   = "tar/stream"   // a stream that is damaged, truncated or over a cap: read no further
	RuleChecksum = "tar/checksum" // the files do not match the checksum file beside them (ErrChecksum)
)

// Report is what Verify finds: layout's report of the layout the tarball holds and, for an
// Input with a checksum file, the check of its files against it (whose findings are in
// Problems too, of rule RuleChecksum). Its JSON is layout's report with a "checksum" object.
type Report struct {
	*layout.Report
	// Checksum is nil when there is no checksum file (stdin, or no FILE.sha256 beside FILE).
	Checksum *ChecksumCheck `json:"checksum,omitempty"`
}

// Defaults of VerifyOptions.
const (
	// DefaultMaxMemory is VerifyOptions.MaxMemory when it is not set.
	DefaultMaxMemory = 64 << 20
	// DefaultMaxJSONMemory is VerifyOptions.MaxJSONMemory when it is not set. It matters for a
	// compressed stream only (a file read in place keeps no document): past it, each document
	// is read again by a second pass of the stream, so it is where verify stops being linear
	// (about 150,000 small images). The documents are kept in a temporary file, not in memory
	// (see VerifyOptions.MaxJSONMemory).
	DefaultMaxJSONMemory = 128 << 20
)

// VerifyOptions tunes Verify. The zero value checks the OCI layout alone, with the default
// caps, for a stream that cannot be read twice.
type VerifyOptions struct {
	// VerifyOptions are layout's: Expect, the rule funcs, Jobs (rule funcs run at once after
	// the stream). Progress is called about five times a second with the input bytes read and
	// Size, and once more at the end.
	layout.VerifyOptions

	// Path names the tarball in the report (Report.Path).
	Path string

	// Size is the input's size in bytes, for Progress; 0 when unknown.
	Size int64

	// MaxSize caps the tar stream's size after decompression (ReaderOptions.MaxSize).
	MaxSize int64

	// MaxMemory caps the blob bytes held in memory for the rule funcs: the layers of the
	// manifests whose rules wait for them (a manifest comes before its layers in an export) and,
	// for a stream that cannot be reopened, blobs that came before the manifest that needs
	// them. If ≤ 0, DefaultMaxMemory. From a stream that cannot be read again in place, a held
	// blob no waiting rule needs any more goes to the temporary file of MaxJSONMemory (up to
	// MaxMemory bytes there too), for a later manifest that shares it; past that it stays in
	// memory until room is needed.
	MaxMemory int64

	// MaxJSONMemory caps the bytes of JSON documents (blobs of at most layout.MaxJSONBytes that
	// start as a JSON object) kept for the graph checks; if ≤ 0, DefaultMaxJSONMemory. Documents
	// past it are read again through Reopen, or reported unreadable. With ReaderAt over an
	// uncompressed stream no document is kept (the checks read them in place), but one that
	// does not hash to its name. From another stream they are kept in one temporary file in
	// os.TempDir() (with no name, so nothing is left behind), appended as they pass and read
	// back by offset, verified, with only its last MiB in memory; when that file cannot be made
	// or written, they are kept in memory instead.
	MaxJSONMemory int64

	// Reopen, when set, opens the same stream again from its start: a blob that a rule func
	// or a check needs and that was not kept is then read from a second pass (VerifyFiles sets
	// it). ReaderAt, when set as well for an uncompressed stream, reads such a blob in place.
	Reopen   func() (io.ReadCloser, error)
	ReaderAt io.ReaderAt
}

// Verify checks the layout tarball r yields (plain, gzip or zstd, told from its bytes) without
// extracting it, in one streaming pass, and returns the report layout.Verify gives for a
// layout (layout.VerifyStream): oci-layout and index.json, every blob hashed against its name,
// every descriptor reached (digest, size, data, media type), documents parsed, referrers, the
// gadget rule funcs, opts.Expect, unreferenced blobs as warnings. Tar entries that import
// refuses are errors of rule RuleEntry; a damaged or truncated stream, or one over a cap, is an
// error of rule RuleStream, and the report covers what came before it.
//
// The rule funcs read layers through their fetch. A manifest comes before its layers in what
// Export writes: its layers are held in memory as they pass (up to opts.MaxMemory) and its
// CheckManifest runs once they are all there. For other orders (ig image export sorts blobs by
// digest) a layer that came first is read again through opts.Reopen, or, for a stream read
// once, kept in memory up to opts.MaxMemory; past that its rule reports that it cannot read it.
//
// When r is an Input (OpenInput) with a checksum file, its files are checked against that
// file once the stream is read, each file hashed to its end (Input.Check):
// each finding is an error of rule RuleChecksum, and Report.Checksum says what was checked.
//
// The error is for what stops the check itself: the input cannot be read at all, or ctx done.
func Verify(ctx context.Context, r io.Reader, opts VerifyOptions) (*Report, error) {
	if opts.MaxMemory <= 0 {
		opts.MaxMemory = DefaultMaxMemory
	}
	if opts.MaxJSONMemory <= 0 {
		opts.MaxJSONMemory = DefaultMaxJSONMemory
	}
	v := &streamVerifier{
		opts:       opts,
		json:       map[digest.Digest][]byte{},
		held:       map[digest.Digest]*heldBlob{},
		parents:    map[digest.Digest][]ocispec.Descriptor{},
		parentKeys: map[ruleID]bool{},
		wants:      map[digest.Digest][]*pendingRule{},
		cache:      map[ruleID][]error{},
		passed:     map[digest.Digest]blobAt{},
		bad:        map[digest.Digest]error{},
	}
	if verifierMade != nil {
		verifierMade(v)
	}
	in := layout.StreamLayout{Path: opts.Path}
	rd, err := NewReader(r, ReaderOptions{MaxSize: opts.MaxSize})
	if err != nil {
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
			return nil, err
		}
		in.Problems = append(in.Problems, layout.Problem{Severity: layout.SeverityError, Rule: RuleStream, Where: "tarball", Message: err.Error(), Err: err})
	} else {
		defer rd.Close()
		v.comp = rd.Compression()
		if !v.rereadable() {
			v.spill = &spill{}
			defer v.spill.Close()
		}
		if opts.Progress != nil {
			stop := ticker.Start(func() { opts.Progress(rd.InputBytes(), opts.Size) })
			defer stop()
		}
		if err := v.read(ctx, rd, &in); err != nil {
			return nil, err
		}
		_ = rd.Close() // what it remembers of the entries is no longer needed
		v.streamed()
	}
	var check *ChecksumCheck
	if input, ok := r.(*Input); ok {
		var err error
		check, err = input.Check()
		if err != nil {
			for _, e := range splitErrors(err) {
				in.Problems = append(in.Problems, layout.Problem{Severity: layout.SeverityError, Rule: RuleChecksum, Where: input.ChecksumFile(), Message: e.Error(), Err: e})
			}
		}
	}
	in.Fetch = v.fetch
	lopts := opts.VerifyOptions
	lopts.Progress = nil
	if orig := lopts.CheckManifest; orig != nil {
		lopts.CheckManifest = func(ctx context.Context, desc ocispec.Descriptor, m ocispec.Manifest, fetch layout.FetchFunc) []error {
			if errs, ok := v.cache[ruleIDOf(desc)]; ok {
				return errs
			}
			return orig(ctx, desc, m, fetch)
		}
	}
	report, err := layout.VerifyStream(ctx, in, lopts)
	if err != nil {
		return nil, err
	}
	return &Report{Report: report, Checksum: check}, nil
}

// VerifyFiles is Verify of a tarball file, or of the parts of a split export read as one
// stream (see Parts for what files stand for), through OpenInput: when the checksum file export
// writes beside them exists (FILE.sha256), the files are checked against it in the same pass
// (Report.Checksum; findings of rule RuleChecksum). It can read a blob twice, so rule funcs get
// every layer whatever the order of the tar. Report.Path is files[0] unless opts.Path is set.
func VerifyFiles(ctx context.Context, files []string, opts VerifyOptions) (*Report, error) {
	in, err := OpenInput(files)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	if opts.Path == "" {
		opts.Path = files[0]
	}
	if opts.Size == 0 {
		opts.Size = in.Size()
	}
	parts := in.Files()
	opts.Reopen = func() (io.ReadCloser, error) { return openStream(parts) }
	ra, err := openPartsAt(parts)
	if err != nil {
		return nil, err
	}
	defer ra.Close()
	opts.ReaderAt = ra
	return Verify(ctx, in, opts)
}

// verifierMade, when a test sets it, is called with the state of each Verify pass, to count
// what it keeps.
var verifierMade func(*streamVerifier)

// streamVerifier is the state of one Verify pass.
type streamVerifier struct {
	opts     VerifyOptions
	comp     Compression
	json     map[digest.Digest][]byte // JSON documents kept in memory
	jsonSize int64
	held     map[digest.Digest]*heldBlob // other blobs kept in memory for rule funcs
	heldSize int64
	// spill keeps documents and blobs read again after they passed, when the stream cannot be
	// read again in place (nil when it can); spilledDocs and spilledBlobs count the bytes of
	// each in it.
	spill                     *spill
	spilledDocs, spilledBlobs int64
	// scratch holds the content of a document read for a look when documents are not kept.
	scratch []byte
	// parents are the descriptors that indexes seen so far give each manifest; parentKeys their
	// rule keys, so that an index listing one manifest under many platforms takes linear time.
	parents    map[digest.Digest][]ocispec.Descriptor
	parentKeys map[ruleID]bool
	// wants are the rules that wait for a blob, by its digest.
	wants map[digest.Digest][]*pendingRule
	// cache holds the rule funcs' findings run during the stream, by ruleID.
	cache map[ruleID][]error
	// passed are the blobs read so far, each with where it can be read again; bad the hash
	// verdicts of those that do not hash to their names.
	passed map[digest.Digest]blobAt
	bad    map[digest.Digest]error
	// order is the held blobs, oldest first: those no waiting rule needs are dropped in this
	// order to make room.
	order []digest.Digest
}

// blobAt is where a blob that passed can be read again: at off in the stream when it can be
// read again in place (its content's size is then the descriptor's, as it was), else at off in
// the spill, size bytes; off is -1 when neither.
type blobAt struct {
	off, size int64
}

// heldBlob is a blob kept in memory for rule funcs.
type heldBlob struct {
	data []byte
	refs int // rules waiting that need it; at 0 it may be dropped to make room
}

// pendingRule is a manifest whose CheckManifest waits for its blobs.
type pendingRule struct {
	desc   ocispec.Descriptor
	m      ocispec.Manifest
	needs  map[digest.Digest]bool
	uses   []digest.Digest // held blobs it holds a ref on
	failed bool            // a blob it needs cannot be held: the rule runs after the stream
}

// ruleID is what tells two CheckManifest calls apart, as layout.Verify does (the digest and the
// platform of the descriptor), at a fixed size, for the maps of a verify or an import that hold
// one per manifest: the sha256 of the digest and of every field of the platform, so that they
// keep no string of their own per key.
type ruleID [sha256.Size]byte

// ruleIDOf returns desc's ruleID: the hash of its digest and platform fields, each prefixed
// with its length, and whether it has a platform at all.
func ruleIDOf(desc ocispec.Descriptor) ruleID {
	var a [512]byte
	b := appendField(a[:0], string(desc.Digest))
	if p := desc.Platform; p != nil {
		b = append(b, 1)
		for _, f := range []string{p.Architecture, p.OS, p.OSVersion, p.Variant} {
			b = appendField(b, f)
		}
		b = binary.AppendUvarint(b, uint64(len(p.OSFeatures)))
		for _, f := range p.OSFeatures {
			b = appendField(b, f)
		}
	}
	return sha256.Sum256(b)
}

// appendField appends s to b after its length.
func appendField(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// streamed drops what only the pass over the stream needed: the rules waiting and the
// descriptors of manifests; the held blobs too when the stream can be read again in place,
// else it moves them to the spill while it has room.
func (v *streamVerifier) streamed() {
	if v.rereadable() {
		v.held, v.heldSize = nil, 0
	} else {
		for _, d := range v.order {
			if v.held[d] != nil {
				v.spillHeld(d)
			}
		}
	}
	v.wants, v.parents, v.parentKeys, v.order, v.scratch = nil, nil, nil, nil, nil
}

// read is the one pass over the stream: it fills in with what it finds.
func (v *streamVerifier) read(ctx context.Context, rd *Reader, in *layout.StreamLayout) error {
	bp := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := rd.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			rule := RuleStream
			if errors.Is(err, ErrUnsafeEntry) {
				rule = RuleEntry
			}
			in.Problems = append(in.Problems, layout.Problem{Severity: layout.SeverityError, Rule: rule, Where: whereOf(rd.name), Message: err.Error(), Err: err})
			if rule == RuleEntry {
				continue
			}
			return nil
		}
		switch e.Kind {
		case KindLayoutFile, KindIndex:
			data, err := rd.ReadAll()
			if err != nil {
				in.Problems = append(in.Problems, layout.Problem{Severity: layout.SeverityError, Rule: RuleStream, Where: e.Path, Message: err.Error(), Err: err})
				return nil
			}
			if e.Kind == KindLayoutFile {
				in.LayoutFile = data
			} else {
				in.Index = data
			}
		case KindBlob:
			b, err := v.readBlob(ctx, rd, e, bp)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				in.Problems = append(in.Problems, layout.Problem{Severity: layout.SeverityError, Rule: RuleStream, Where: e.Path, Message: err.Error(), Err: err})
				return nil
			}
			in.Blobs = append(in.Blobs, b)
		}
	}
}

// whereOf is the Where of a finding about a tar entry.
func whereOf(name string) string {
	if name == "" {
		return "tarball"
	}
	return name
}

// readBlob hashes one blob entry, keeping it when it is a JSON document to keep (all of them
// unless the stream can be read again in place) or a blob rule funcs wait for. The error is for
// a stream that cannot go on; a content that does not hash to its name is the blob's Err.
func (v *streamVerifier) readBlob(ctx context.Context, rd *Reader, e *Entry, buf []byte) (layout.StreamBlob, error) {
	desc := ocispec.Descriptor{Digest: e.Digest, Size: e.Size}
	// Name stays empty: the entry's path is blobs/<alg>/<encoded> (the reader takes no other
	// blob name), which layout renders from the digest.
	b := layout.StreamBlob{Digest: e.Digest, Size: e.Size}
	at := blobAt{off: -1, size: e.Size}
	if v.rereadable() {
		at.off = rd.offset
	}
	vr, err := layout.NewVerifyReader(rd, desc)
	if err != nil {
		return b, err
	}
	maybeJSON := e.Size <= layout.MaxJSONBytes
	// Blobs rule funcs wait for are held; from a stream that cannot be read again, others too
	// (a manifest may come after its layers), as long as room can be made.
	wanted := len(v.wants[e.Digest]) > 0
	hold := (wanted || (v.opts.Reopen == nil && v.opts.CheckManifest != nil)) && v.makeRoom(e.Size)
	// Held blobs are read whole into memory of their own; others only while they may be a JSON
	// object, into v.scratch (a document kept in memory is copied out of it).
	var data []byte
	switch {
	case hold:
		data = make([]byte, 0, e.Size)
	case maybeJSON:
		if int64(cap(v.scratch)) < e.Size {
			v.scratch = make([]byte, 0, e.Size)
		}
		data = v.scratch[:0]
	}
	looked := hold
	for {
		if err := ctx.Err(); err != nil {
			return b, err
		}
		n, rerr := vr.Read(buf)
		if n > 0 && data != nil {
			data = append(data, buf[:n]...)
			if !looked {
				// Until the first byte that is no white space, a JSON document may follow.
				if i := firstNonSpace(buf[:n]); i >= 0 {
					looked = true
					if buf[i] != '{' {
						data, maybeJSON = nil, false
					}
				}
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if errors.Is(rerr, layout.ErrDigestMismatch) {
				b.Err = rerr
				break
			}
			if rd.err != nil {
				return b, rd.err
			}
			return b, rerr
		}
	}
	doc := maybeJSON && data != nil && isJSONObject(data)
	if b.Err != nil {
		// A document that does not hash to its name is kept in memory whatever the stream: the
		// graph checks read it as verify of a layout does, and a read in place or from the
		// spill would give only the mismatch.
		if doc && v.jsonSize+e.Size <= v.opts.MaxJSONMemory {
			b.Data = owned(data, hold)
			v.jsonSize += e.Size
		}
		v.passed[e.Digest] = at
		v.bad[e.Digest] = b.Err
		v.dropWants(e.Digest)
		return b, nil
	}
	kept := doc && !v.rereadable() && v.keepDoc(data, hold, &b, &at)
	v.passed[e.Digest] = at
	if doc {
		v.document(ctx, desc, data)
		// A document not handed over may be a referrer: VerifyStream reads it again to see.
		b.MaySubject = b.Data == nil && layout.MaySubject(data)
	}
	switch {
	case kept:
		if b.Data != nil {
			v.json[e.Digest] = b.Data
		}
		v.arrived(ctx, e.Digest)
	case hold:
		v.hold(ctx, e.Digest, data)
	default:
		v.dropWants(e.Digest)
	}
	return b, nil
}

// owned returns data as memory of its own: data itself when it is (a held blob's), else a
// copy (of v.scratch).
func owned(data []byte, isOwn bool) []byte {
	if isOwn {
		return data
	}
	return bytes.Clone(data)
}

// keepDoc keeps a document from a stream that cannot be read again in place, for the graph
// checks and rule funcs after it: in the spill (at gets its offset there), or, when the spill
// is broken, in memory (b.Data), as long as the documents kept stay under MaxJSONMemory. It
// reports whether it kept it; isOwn says whether data is memory of its own.
func (v *streamVerifier) keepDoc(data []byte, isOwn bool, b *layout.StreamBlob, at *blobAt) bool {
	n := int64(len(data))
	if v.jsonSize+v.spilledDocs+n > v.opts.MaxJSONMemory {
		return false
	}
	if off, ok := v.spill.add(data); ok {
		at.off = off
		v.spilledDocs += n
		return true
	}
	b.Data = owned(data, isOwn)
	v.jsonSize += n
	return true
}

// firstNonSpace returns the index of the first byte of p that is not JSON white space, or -1.
func firstNonSpace(p []byte) int {
	for i, c := range p {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return i
		}
	}
	return -1
}

// isJSONObject reports whether data's first non-space byte opens a JSON object.
func isJSONObject(data []byte) bool {
	i := firstNonSpace(data)
	return i >= 0 && data[i] == '{'
}

// docShape is what document needs of a manifest or an index.
type docShape struct {
	MediaType string                `json:"mediaType"`
	Config    *ocispec.Descriptor   `json:"config"`
	Manifests *[]ocispec.Descriptor `json:"manifests"`
}

// document looks at a verified JSON blob: an index gives its manifests their descriptors; a
// manifest gets its rule queued for its blobs.
func (v *streamVerifier) document(ctx context.Context, desc ocispec.Descriptor, data []byte) {
	if v.opts.CheckManifest == nil {
		return
	}
	var d docShape
	if json.Unmarshal(data, &d) != nil {
		return
	}
	switch {
	case layout.IsIndexType(d.MediaType) || (d.MediaType == "" && d.Manifests != nil):
		if d.Manifests == nil {
			return // an index without manifests, which the graph checks report
		}
		for _, c := range *d.Manifests {
			if !layout.IsManifestType(c.MediaType) {
				continue
			}
			if key := ruleIDOf(c); !v.parentKeys[key] {
				v.parentKeys[key] = true
				v.parents[c.Digest] = append(v.parents[c.Digest], c)
			}
		}
	case layout.IsManifestType(d.MediaType) || (d.MediaType == "" && d.Config != nil):
		var m ocispec.Manifest
		if json.Unmarshal(data, &m) != nil {
			return
		}
		desc.MediaType = d.MediaType
		if desc.MediaType == "" {
			desc.MediaType = ocispec.MediaTypeImageManifest
		}
		p := &pendingRule{desc: desc, m: m, needs: map[digest.Digest]bool{}}
		var need int64
		for _, c := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
			if v.kept(c.Digest) == nil && !v.spilled(c.Digest) && c.Size > 0 {
				need += c.Size
			}
		}
		if need > v.opts.MaxMemory {
			return // its blobs cannot all be held: the rule runs after the stream
		}
		for _, c := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
			if c.Digest == "" || c.Digest.Validate() != nil {
				continue
			}
			switch {
			case v.json[c.Digest] != nil, v.spilled(c.Digest):
			case v.held[c.Digest] != nil:
				v.held[c.Digest].refs++
				p.uses = append(p.uses, c.Digest)
			case v.seenBlob(c.Digest):
				p.failed = true // came before, not kept: the rule runs after the stream
			case !p.needs[c.Digest]:
				p.needs[c.Digest] = true
				v.wants[c.Digest] = append(v.wants[c.Digest], p)
			}
		}
		if p.failed {
			v.release(p)
			return
		}
		if len(p.needs) == 0 {
			v.run(ctx, p)
		}
	}
}

// arrived hands a kept blob to the rules waiting for it, running those that have all theirs.
// Each takes its ref on a held blob before any runs, so that one that ran does not drop the
// blob under the others.
func (v *streamVerifier) arrived(ctx context.Context, d digest.Digest) {
	waiting := v.wants[d]
	delete(v.wants, d)
	h := v.held[d]
	var ready []*pendingRule
	for _, p := range waiting {
		if p.failed {
			continue
		}
		delete(p.needs, d)
		if h != nil {
			h.refs++
			p.uses = append(p.uses, d)
		}
		if len(p.needs) == 0 {
			ready = append(ready, p)
		}
	}
	for _, p := range ready {
		v.run(ctx, p)
	}
}

// hold keeps a blob that rules wait for (or, from a stream read once, that a manifest still to
// come may want) and hands it to the rules waiting. When no waiting rule holds it any more, it
// goes (unhold).
func (v *streamVerifier) hold(ctx context.Context, d digest.Digest, data []byte) {
	v.held[d] = &heldBlob{data: data}
	v.heldSize += int64(len(data))
	v.arrived(ctx, d)
	if h := v.held[d]; h != nil && h.refs <= 0 {
		v.unhold(d)
	}
	if v.held[d] != nil && !v.rereadable() {
		if len(v.order) >= 2*len(v.held)+64 {
			v.order = v.stillHeld(v.order)
		}
		v.order = append(v.order, d)
	}
}

// unhold lets go of a held blob that no waiting rule holds: when the stream can be read again
// in place, it goes; otherwise it moves to the spill while the spill has room for it, else
// stays for makeRoom to drop when room is needed.
func (v *streamVerifier) unhold(d digest.Digest) {
	if v.rereadable() {
		v.drop(d)
		return
	}
	v.spillHeld(d)
}

// spillHeld moves a held blob to the spill, as long as the blobs spilled stay under MaxMemory
// and the spill takes it.
func (v *streamVerifier) spillHeld(d digest.Digest) {
	h := v.held[d]
	n := int64(len(h.data))
	if v.spilledBlobs+n > v.opts.MaxMemory {
		return
	}
	off, ok := v.spill.add(h.data)
	if !ok {
		return
	}
	v.spilledBlobs += n
	v.passed[d] = blobAt{off: off, size: n}
	v.drop(d)
}

// stillHeld returns the digests of order that are still held, in order, in order's memory.
func (v *streamVerifier) stillHeld(order []digest.Digest) []digest.Digest {
	keep := order[:0]
	for _, d := range order {
		if v.held[d] != nil {
			keep = append(keep, d)
		}
	}
	clear(order[len(keep):])
	return keep
}

// drop forgets a held blob.
func (v *streamVerifier) drop(d digest.Digest) {
	if h := v.held[d]; h != nil {
		v.heldSize -= int64(len(h.data))
		delete(v.held, d)
	}
}

// rereadable reports whether a blob that passed can be read again in place (ReaderAt over an
// uncompressed stream), so that nothing need be kept for later.
func (v *streamVerifier) rereadable() bool {
	return v.opts.ReaderAt != nil && v.comp == None
}

// dropWants fails the rules waiting for a blob that cannot be kept.
func (v *streamVerifier) dropWants(d digest.Digest) {
	waiting := v.wants[d]
	delete(v.wants, d)
	for _, p := range waiting {
		if !p.failed {
			p.failed = true
			v.release(p)
		}
	}
}

// run calls CheckManifest for a manifest whose blobs are all kept, once per descriptor that
// points at it (from the indexes seen; its own, bare, when none did), and caches the findings.
// Descriptors that indexes give it later are for the rule calls after the stream.
// A call whose fetch missed a blob is not cached: it runs again after the stream.
func (v *streamVerifier) run(ctx context.Context, p *pendingRule) {
	descs := v.parents[p.desc.Digest]
	if len(descs) == 0 {
		descs = []ocispec.Descriptor{p.desc}
	}
	for _, desc := range descs {
		key := ruleIDOf(desc)
		if _, ok := v.cache[key]; ok {
			continue
		}
		missed := false
		fetch := func(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
			if data := v.kept(d.Digest); data != nil {
				return verified(data, d)
			}
			if v.spilled(d.Digest) {
				return v.fromSpill(d)
			}
			missed = true
			return nil, fmt.Errorf("blob %s: %w", d.Digest, layout.ErrNotFound)
		}
		errs := v.callRule(ctx, desc, p.m, fetch)
		if !missed && ctx.Err() == nil {
			v.cache[key] = errs
		}
	}
	// The manifest has passed: no call of its rule runs in the stream any more.
	delete(v.parents, p.desc.Digest)
	v.release(p)
}

// callRule calls CheckManifest, turning a panic into a finding as layout.Verify does.
func (v *streamVerifier) callRule(ctx context.Context, desc ocispec.Descriptor, m ocispec.Manifest, fetch layout.FetchFunc) (errs []error) {
	defer func() {
		if r := recover(); r != nil {
			errs = []error{fmt.Errorf("rule check of %s panicked: %v", desc.Digest, r)}
		}
	}()
	return v.opts.CheckManifest(ctx, desc, m, fetch)
}

// release drops a rule's refs on held blobs: a blob no other rule holds goes (unhold).
func (v *streamVerifier) release(p *pendingRule) {
	for _, d := range p.uses {
		if h := v.held[d]; h != nil {
			h.refs--
			if h.refs <= 0 {
				v.unhold(d)
			}
		}
	}
	p.uses = nil
}

// makeRoom drops held blobs that no waiting rule needs, oldest first, until n more bytes fit
// under MaxMemory, and reports whether they do. When it has to drop, it drops down to three
// quarters of MaxMemory, so that its walk over the held blobs is paid once per many blobs, not
// once per blob (a tarball of 80,000 small blobs made that quadratic).
func (v *streamVerifier) makeRoom(n int64) bool {
	if n > v.opts.MaxMemory {
		return false
	}
	if v.heldSize+n <= v.opts.MaxMemory {
		return true
	}
	target := v.opts.MaxMemory / 4 * 3
	keep := v.order[:0]
	for _, d := range v.order {
		h := v.held[d]
		if h == nil {
			continue
		}
		if v.heldSize+n > target && h.refs <= 0 {
			v.heldSize -= int64(len(h.data))
			delete(v.held, d)
			continue
		}
		keep = append(keep, d)
	}
	clear(v.order[len(keep):])
	v.order = keep
	return v.heldSize+n <= v.opts.MaxMemory
}

// seenBlob reports whether a blob has passed in the stream.
func (v *streamVerifier) seenBlob(d digest.Digest) bool {
	_, ok := v.passed[d]
	return ok
}

// spilled reports whether a blob is in the spill.
func (v *streamVerifier) spilled(d digest.Digest) bool {
	at, ok := v.passed[d]
	return ok && at.off >= 0 && !v.rereadable()
}

// fromSpill returns a verified reader of desc's content from the spill, which must hold it.
// It reads the bytes the blob had, whatever desc.Size says, as a read of the blob kept in
// memory would.
func (v *streamVerifier) fromSpill(desc ocispec.Descriptor) (io.ReadCloser, error) {
	at := v.passed[desc.Digest]
	return readAgain(io.NewSectionReader(v.spill, at.off, at.size), desc, at.size, "the temporary file")
}

// readAgain returns a verified reader of desc's content from r, a blob of size bytes that
// hashed to its digest when it passed in the stream, read again from where. When desc says as
// many bytes, content that now hashes to another digest means that the file changed since:
// that error wraps ErrChanged, not layout.ErrDigestMismatch (the blob's verdict is the
// stream's).
func readAgain(r io.Reader, desc ocispec.Descriptor, size int64, where string) (io.ReadCloser, error) {
	rc, err := verifiedStream(r, desc, nil)
	if err != nil || desc.Size != size {
		return rc, err
	}
	return &changedReader{ReadCloser: rc, desc: desc, where: where}, nil
}

// changedReader turns the digest mismatch of a blob read again into ErrChanged.
type changedReader struct {
	io.ReadCloser
	desc  ocispec.Descriptor
	where string
}

func (r *changedReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && errors.Is(err, layout.ErrDigestMismatch) {
		err = fmt.Errorf("blob %s: read again from %s: %w", r.desc.Digest, r.where, ErrChanged)
	}
	return n, err
}

// kept returns a blob's content when it is in memory.
func (v *streamVerifier) kept(d digest.Digest) []byte {
	if data := v.json[d]; data != nil {
		return data
	}
	if h := v.held[d]; h != nil {
		return h.data
	}
	return nil
}

// verified returns a verified reader of data as desc's content.
func verified(data []byte, desc ocispec.Descriptor) (io.ReadCloser, error) {
	return verifiedStream(bytes.NewReader(data), desc, nil)
}

// fetch is the FetchFunc of the checks after the stream: memory first, then the input again.
// It is called from several goroutines; the maps are no longer written.
func (v *streamVerifier) fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if data := v.kept(desc.Digest); data != nil {
		return verified(data, desc)
	}
	at, ok := v.passed[desc.Digest]
	switch {
	case !ok:
		return nil, fmt.Errorf("blob %s: not in the tarball: %w", desc.Digest, layout.ErrNotFound)
	case v.bad[desc.Digest] != nil:
		return nil, v.bad[desc.Digest]
	case at.off >= 0 && v.rereadable():
		return readAgain(io.NewSectionReader(v.opts.ReaderAt, at.off, desc.Size), desc, at.size, "the tarball")
	case at.off >= 0:
		return v.fromSpill(desc)
	}
	if v.opts.Reopen == nil {
		return nil, fmt.Errorf("blob %s: came in the stream before what reads it, past the %s kept in memory: verify the tarball as a file to read it twice: %w",
			desc.Digest, sizeString(v.opts.MaxMemory), layout.ErrNotFound)
	}
	return v.reread(ctx, desc)
}

// verifiedStream returns a verified reader of r as desc's content, closing c (if any) with it.
func verifiedStream(r io.Reader, desc ocispec.Descriptor, c io.Closer) (io.ReadCloser, error) {
	vr, err := layout.NewVerifyReader(r, desc)
	if err != nil {
		if c != nil {
			_ = c.Close()
		}
		return nil, err
	}
	return &readCloser{Reader: vr, close: c}, nil
}

type readCloser struct {
	io.Reader
	close io.Closer
}

func (r *readCloser) Close() error {
	if r.close == nil {
		return nil
	}
	return r.close.Close()
}

// reread opens the input again and reads up to desc's entry: a second pass for one blob.
func (v *streamVerifier) reread(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	rc, err := v.opts.Reopen()
	if err != nil {
		return nil, err
	}
	rd, err := NewReader(rc, ReaderOptions{MaxSize: v.opts.MaxSize})
	if err != nil {
		_ = rc.Close()
		return nil, err
	}
	both := closers{rd, rc}
	for {
		if err := ctx.Err(); err != nil {
			_ = both.Close()
			return nil, err
		}
		e, err := rd.Next()
		if errors.Is(err, ErrUnsafeEntry) {
			continue
		}
		if err != nil {
			_ = both.Close()
			if err == io.EOF {
				return nil, fmt.Errorf("blob %s: not found reading the tarball again: %w", desc.Digest, layout.ErrNotFound)
			}
			return nil, err
		}
		if e.Kind == KindBlob && e.Digest == desc.Digest {
			return verifiedStream(rd, desc, both)
		}
	}
}

// closers closes each of its elements, returning the first error.
type closers []io.Closer

func (cs closers) Close() error {
	var first error
	for _, c := range cs {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// partsAt reads the concatenation of files at an offset.
type partsAt struct {
	files  []*os.File
	starts []int64 // offset of each file in the concatenation
	size   int64
}

// openPartsAt opens files for reading at offsets across them.
func openPartsAt(paths []string) (*partsAt, error) {
	p := &partsAt{}
	for _, path := range paths {
		f, err := openFile(path, true)
		if err != nil {
			_ = p.Close()
			return nil, err
		}
		fi, err := f.Stat()
		if err != nil {
			_ = f.Close()
			_ = p.Close()
			return nil, err
		}
		p.files = append(p.files, f)
		p.starts = append(p.starts, p.size)
		p.size += fi.Size()
	}
	return p, nil
}

func (p *partsAt) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		at := off + int64(n)
		if at >= p.size {
			return n, io.EOF
		}
		i := sort.Search(len(p.starts), func(i int) bool { return p.starts[i] > at }) - 1
		m, err := p.files[i].ReadAt(b[n:], at-p.starts[i])
		n += m
		if err != nil && err != io.EOF {
			return n, err
		}
		if m == 0 && err == io.EOF {
			return n, io.ErrUnexpectedEOF // the file shrank
		}
	}
	return n, nil
}

func (p *partsAt) Close() error {
	var first error
	for _, f := range p.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
