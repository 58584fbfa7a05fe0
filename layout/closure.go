package layout

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Closure is what a set of index.json entries carries with it: for export and copy.
type Closure struct {
	// Entries are the index.json entries to carry, in index.json order (entries given that are
	// not in index.json come last, in the order given): the entries asked for, the digest-tag
	// signature entries of every digest in the closure (sha256-<hex>, sha256-<hex>.sig and other
	// cosign suffixes), and the unnamed entries whose digest is in the closure.
	Entries []ocispec.Descriptor
	// Blobs are every blob the entries reach, their referrers included, each digest once, in
	// walk pre-order: a manifest or index comes before what it points at.
	Blobs []ocispec.Descriptor
	// Bytes is the total size of Blobs.
	Bytes int64
}

// DigestTagOf returns the digest a digest-tag ref names (cosign's `sha256-<hex>.sig`, `.att`,
// `.sbom`; the referrers tag schema's `sha256-<hex>`; bare or after a repository and a colon),
// or "" for any other ref. The form is `(^|:)sha256-[a-f0-9]{64}(\.[a-z]+)?$`, matched by hand:
// it runs for every entry of index.json.
func DigestTagOf(ref string) digest.Digest {
	const prefix, hexLen = "sha256-", 64
	body := ref
	// A suffix .[a-z]+ ends at the last dot: the hex and "sha256-" hold none, and "sha256-"
	// is not [a-z]+, so a dot before it cannot start a suffix that reaches the end.
	if j := strings.LastIndexByte(ref, '.'); j >= 0 && j < len(ref)-1 && isLowerAlpha(ref[j+1:]) {
		body = ref[:j]
	}
	n := len(prefix) + hexLen
	if len(body) < n || (len(body) > n && body[len(body)-n-1] != ':') {
		return ""
	}
	tag := body[len(body)-n:]
	if !strings.HasPrefix(tag, prefix) || !isLowerHex(tag[len(prefix):]) {
		return ""
	}
	return digest.NewDigestFromEncoded(digest.SHA256, tag[len(prefix):])
}

// isLowerAlpha reports whether s is all of a-z.
func isLowerAlpha(s string) bool {
	for i := range len(s) {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

// ClosureOptions tunes ClosureWith. The zero value finds referrers as Closure does.
type ClosureOptions struct {
	// ScanReferrers finds referrers among every blob of the layout (ReferrerTable with scan),
	// not only among those index.json lists: for a layout written by a tool that keeps
	// referrers as bare blobs. Referrers found so that index.json does not list become unnamed
	// entries of the closure, so that the copy or export lists them.
	ScanReferrers bool
	// AllRefs adds every named entry of index.json to the entries asked for (what Refs
	// returns), from the same read of index.json.
	AllRefs bool
	// OnBlob, when set, is called with each blob as it joins the closure, in the order
	// Closure.Blobs would list them (it stays nil then: memory), from the goroutine running
	// ClosureWith: with its verified content when
	// the walk reads it whole (a manifest, an index, a JSON config; then once it has), else
	// nil. A caller writing the blobs out starts before the closure ends and reads none of
	// those again; what it was given is the closure only once ClosureWith returns without
	// error. An error from OnBlob stops the closure and is returned as it is.
	OnBlob func(desc ocispec.Descriptor, content []byte) error
	// Skip, when set with OnBlob, names the blobs the caller will not write out (a delta
	// export's): they are read ahead only as the walk needs them (a document, a JSON config),
	// never whole for their content.
	Skip func(digest.Digest) bool
}

// Closure returns what entries carry: every blob they reach; their OCI 1.1 referrers, as
// index.json lists them (its unnamed manifest and index entries whose subject is in the
// closure: see ReferrerTable; a referrer's own referrers too), with the unnamed entries that
// list them; and the digest-tag signature entries of index.json that name a digest of the
// closure (sha256-<hex>.sig, the referrers tag schema's sha256-<hex>), with what those reach
// in turn. Manifests and indexes are read verified; other blobs must be present with their
// declared size (Exists). A blob that is absent or damaged stops Closure with an error naming
// it and how it is reached, wrapping ErrGraphIncomplete; so does a graph nested deeper or
// larger than the defaults of WalkOptions allow (ErrTooDeep, ErrTooManyDescriptors: one count
// for the whole closure). Closure takes time linear in the size of index.json, its unnamed
// entries and the graph, not in the size of the layout: it reads no blob the closure does not
// hold but the unnamed entries'. It reads index.json under the shared lock once and takes no
// other lock: a concurrent gc may still remove blobs of entries that are not named.
func (s *Store) Closure(ctx context.Context, entries []ocispec.Descriptor) (*Closure, error) {
	return s.ClosureWith(ctx, entries, ClosureOptions{})
}

// ClosureWith is Closure with options.
func (s *Store) ClosureWith(ctx context.Context, entries []ocispec.Descriptor, opts ClosureOptions) (*Closure, error) {
	d, err := s.readIndexChecked(ctx)
	if err != nil {
		return nil, err
	}
	return s.closure(ctx, d, entries, s.onceReferrers(ctx, d, opts), opts)
}

// Closures returns the Closure (with opts) of each entry on its own, in the order given,
// reading index.json and finding referrers once for all of them: for commands that send each
// ref on its own, such as push --all.
func (s *Store) Closures(ctx context.Context, entries []ocispec.Descriptor, opts ClosureOptions) ([]*Closure, error) {
	d, err := s.readIndexChecked(ctx)
	if err != nil {
		return nil, err
	}
	readRefs := s.onceReferrers(ctx, d, opts)
	out := make([]*Closure, 0, len(entries))
	for _, e := range entries {
		c, err := s.closure(ctx, d, []ocispec.Descriptor{e}, readRefs, ClosureOptions{OnBlob: opts.OnBlob})
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// onceReferrers returns a func that finds the layout's referrers (listed in d, or every one
// with opts.ScanReferrers) on its first call and returns that list (or error) again on later
// calls.
func (s *Store) onceReferrers(ctx context.Context, d *indexDoc, opts ClosureOptions) func() ([]subjectRef, error) {
	return sync.OnceValues(func() ([]subjectRef, error) { return s.findReferrers(ctx, d, opts.ScanReferrers) })
}

// closure is Closure over index.json as d holds it, with the layout's referrers from readRefs
// (which may cache them across calls). It takes time linear in the size of index.json, the
// referrers and the graph: entries are found through a map, and a referrer or a digest-tag
// entry is looked at when its subject joins the closure, not on every pass.
func (s *Store) closure(ctx context.Context, d *indexDoc, entries []ocispec.Descriptor, readRefs func() ([]subjectRef, error), opts ClosureOptions) (*Closure, error) {
	c := &Closure{}
	fetch := s.Fetch
	// With OnBlob, a blob the walk reads whole waits here until it has, to go with its content.
	var (
		pending   *ocispec.Descriptor
		onBlobErr error
	)
	emit := func(desc ocispec.Descriptor, content []byte) error {
		if err := opts.OnBlob(desc, content); err != nil {
			onBlobErr = err
			return err
		}
		return nil
	}
	flush := func() error {
		if pending == nil {
			return nil
		}
		p := *pending
		pending = nil
		return emit(p, nil)
	}
	if opts.OnBlob != nil {
		fetch = func(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
			if pending == nil || pending.Digest != desc.Digest || desc.Size > MaxJSONBytes {
				return s.Fetch(ctx, desc)
			}
			data, err := ReadAllFrom(ctx, s.Fetch, desc, MaxJSONBytes)
			if err != nil {
				return nil, err
			}
			p := *pending
			pending = nil
			if err := emit(p, data); err != nil {
				return nil, err
			}
			return io.NopCloser(bytes.NewReader(data)), nil
		}
	}
	w := NewWalker(fetch, WalkOptions{})
	joined := 0 // the digests of w.order that joined the closure
	walk := func(root ocispec.Descriptor, at Location) error {
		if err := checkEntry(root); err != nil {
			return err
		}
		return w.walk(ctx, root, at, func(ctx context.Context, desc ocispec.Descriptor, _ Location) error {
			ahead := w.cur // what was read ahead of the walk for desc, if anything
			if !IsManifestType(desc.MediaType) && !IsIndexType(desc.MediaType) && (ahead == nil || !ahead.present) {
				ok, err := s.Exists(ctx, desc)
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("blob %s: %w", desc.Digest, ErrNotFound)
				}
			}
			// The walk visits a digest once per media type and size, and lists it in w.order
			// at its first visit, just before calling here: each digest of w.order has joined
			// (c.Blobs, in the same order, or OnBlob), once this returns.
			if len(w.order) == joined {
				return nil
			}
			joined++
			// The blob's identity only: what a copy or an export needs of it, without the
			// annotations, platform and URLs of the descriptor that reached it (memory: one
			// element per blob of the closure).
			b := ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}
			c.Bytes += desc.Size
			if opts.OnBlob == nil {
				c.Blobs = append(c.Blobs, b)
				return nil
			}
			if err := flush(); err != nil {
				return err
			}
			if ahead != nil && ahead.data != nil {
				return emit(b, ahead.data)
			}
			if readWhole(b) {
				pending = &b
				return nil
			}
			return emit(b, nil)
		})
	}
	wrap := func(err error) error {
		if onBlobErr != nil {
			return onBlobErr
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("layout %s: %w: %w", s.root, err, ErrGraphIncomplete)
	}

	// The entries asked for, in index.json order, then the others in the order given.
	type entryKey struct {
		dg   digest.Digest
		name string
	}
	first := make(map[entryKey]int, len(d.entries))
	tagsOf := map[digest.Digest][]int{} // digest-tag entries by the digest they name
	for i, e := range d.entries {
		name := refName(e.desc)
		if _, ok := first[entryKey{e.desc.Digest, name}]; !ok {
			first[entryKey{e.desc.Digest, name}] = i
		}
		if sub := DigestTagOf(name); sub != "" {
			tagsOf[sub] = append(tagsOf[sub], i)
		}
	}
	picked := make([]bool, len(d.entries))
	if opts.AllRefs {
		for i, e := range d.entries {
			picked[i] = refName(e.desc) != ""
		}
	}
	var extra []ocispec.Descriptor
	for _, want := range entries {
		i, ok := first[entryKey{want.Digest, refName(want)}]
		if !ok {
			extra = append(extra, want)
			continue
		}
		picked[i] = true
	}
	// With OnBlob (an export), the blobs of the entries asked for are read ahead of the walk,
	// small ones whole: the walk takes them in its order, and OnBlob gets their content.
	if opts.OnBlob != nil {
		var roots []int32 // the entries picked, by index (a descriptor is 120 bytes)
		for i := range d.entries {
			if picked[i] {
				roots = append(roots, int32(i))
			}
		}
		w.ahead = s.startReadAhead(ctx, len(roots), func(i int) ocispec.Descriptor { return d.entries[roots[i]].desc }, true, opts.Skip)
		defer w.ahead.stop()
	}
	root := 0
	for i, e := range d.entries {
		if picked[i] {
			if err := walk(e.desc, labelLocation(describeEntry(i, e.desc))); err != nil {
				return nil, wrap(err)
			}
			w.ahead.rootDone(root)
			root++
		}
	}
	w.ahead.stop()
	w.ahead = nil
	for _, e := range extra {
		if err := walk(e, labelLocation(describeDesc(e))); err != nil {
			return nil, wrap(err)
		}
	}

	// Referrers and digest-tag signatures of each blob that joins, until none is left.
	refs, err := readRefs()
	if err != nil {
		return nil, err
	}
	var carried []subjectRef // the referrers walked that nothing else reached, in that order
	refsOf := map[digest.Digest][]int{}
	for i, r := range refs {
		refsOf[r.subject] = append(refsOf[r.subject], i)
	}
	for next := 0; next < len(w.order); next++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		dg := w.order[next]
		for _, ri := range refsOf[dg] {
			r := refs[ri]
			if !w.seen[r.desc.Digest] { // else what the closure holds reaches it already
				carried = append(carried, r)
			}
			if err := walk(r.desc, labelLocation("referrer "+string(r.desc.Digest))); err != nil {
				return nil, wrap(err)
			}
		}
		for _, i := range tagsOf[dg] {
			e := d.entries[i]
			if picked[i] {
				continue
			}
			if ok, _ := s.Exists(ctx, e.desc); !ok {
				continue // a dangling signature tag: nothing to carry
			}
			picked[i] = true
			if err := walk(e.desc, labelLocation(describeEntry(i, e.desc))); err != nil {
				return nil, wrap(err)
			}
		}
	}
	if opts.OnBlob != nil {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	listed := make(map[digest.Digest]bool, len(d.entries))
	n := 0
	for i, e := range d.entries {
		if picked[i] || (refName(e.desc) == "" && w.seen[e.desc.Digest]) {
			n++
		}
	}
	c.Entries = make([]ocispec.Descriptor, 0, n+len(extra)+len(carried))
	for i, e := range d.entries {
		listed[e.desc.Digest] = true
		if picked[i] || (refName(e.desc) == "" && w.seen[e.desc.Digest]) {
			c.Entries = append(c.Entries, e.desc)
		}
	}
	c.Entries = append(c.Entries, extra...)
	for _, r := range carried {
		if !listed[r.desc.Digest] {
			listed[r.desc.Digest] = true
			c.Entries = append(c.Entries, asIndexEntry(r))
		}
	}
	return c, nil
}

// readWhole reports whether a walk reads desc's blob whole: a manifest or an index (its
// successors), or a config of a JSON type (its rules, checkConfigBlob).
func readWhole(desc ocispec.Descriptor) bool {
	return IsManifestType(desc.MediaType) || IsIndexType(desc.MediaType) ||
		(isJSONConfigType(desc.MediaType) && desc.Size <= MaxJSONBytes)
}

// describeEntry names index.json entry i for errors: index.json[3](ref x).
func describeEntry(i int, desc ocispec.Descriptor) string {
	if r := refName(desc); r != "" {
		return fmt.Sprintf("%s[%d](ref %s)", IndexFile, i, r)
	}
	return fmt.Sprintf("%s[%d](%s)", IndexFile, i, short(desc.Digest))
}

// describeDesc names a descriptor for errors: its ref, else its digest.
func describeDesc(desc ocispec.Descriptor) string {
	if r := refName(desc); r != "" {
		return "ref " + r
	}
	return string(desc.Digest)
}
