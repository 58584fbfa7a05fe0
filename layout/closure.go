package layout

import (
	"context"
	"fmt"
	"regexp"
	"slices"
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

// subjectRef is a manifest or index blob of the layout that has a subject.
type subjectRef struct {
	desc    ocispec.Descriptor
	subject digest.Digest
}

// digestTagRE matches the tag of a digest-tag signature, attestation or SBOM (cosign's
// sha256-<hex>.sig, .att, .sbom; the referrers tag schema's sha256-<hex>), with an optional
// repository before it.
var digestTagRE = regexp.MustCompile(`(?:^|:)(sha256)-([a-f0-9]{64})(?:\.[a-z]+)?$`)

// DigestTagOf returns the digest a digest-tag ref names (cosign's `sha256-<hex>.sig`, `.att`,
// `.sbom`; the referrers tag schema's `sha256-<hex>`; bare or after a repository and a colon),
// or "" for any other ref.
func DigestTagOf(ref string) digest.Digest {
	m := digestTagRE.FindStringSubmatch(ref)
	if m == nil {
		return ""
	}
	return digest.NewDigestFromEncoded(digest.Algorithm(m[1]), m[2])
}

// Closure returns what entries carry: every blob they reach, their OCI 1.1 referrers (manifests
// and indexes whose subject is in the closure, found by reading the layout's small JSON blobs;
// a referrer's own referrers too) and the digest-tag signature entries of index.json that name a
// digest of the closure, with what those reach in turn. Manifests and indexes are read
// verified; other blobs must be present with their declared size (Exists). A blob that is
// absent or damaged stops Closure with an error naming it and how it is reached, wrapping
// ErrGraphIncomplete; so does a graph nested deeper or larger than the defaults of WalkOptions
// allow (ErrTooDeep, ErrTooManyDescriptors: one count for the whole closure). Closure takes time
// linear in the size of index.json and of the graph. Closure reads index.json under the shared
// lock once and takes no other lock: a concurrent gc may still remove blobs of entries that are
// not named.
func (s *Store) Closure(ctx context.Context, entries []ocispec.Descriptor) (*Closure, error) {
	d, err := s.readIndexChecked(ctx)
	if err != nil {
		return nil, err
	}
	return s.closure(ctx, d, entries, s.onceReferrers(ctx))
}

// Closures returns the Closure of each entry on its own, in the order given, reading index.json
// once and scanning the layout for referrers once for all of them (Closure of one entry after
// another would scan every blob per entry): for commands that send each ref on its own, such as
// push --all.
func (s *Store) Closures(ctx context.Context, entries []ocispec.Descriptor) ([]*Closure, error) {
	d, err := s.readIndexChecked(ctx)
	if err != nil {
		return nil, err
	}
	readRefs := s.onceReferrers(ctx)
	out := make([]*Closure, 0, len(entries))
	for _, e := range entries {
		c, err := s.closure(ctx, d, []ocispec.Descriptor{e}, readRefs)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// onceReferrers returns a func that scans the layout for referrers on its first call and
// returns that list (or error) again on later calls.
func (s *Store) onceReferrers(ctx context.Context) func() ([]subjectRef, error) {
	return sync.OnceValues(func() ([]subjectRef, error) { return s.referrers(ctx, nil) })
}

// closure is Closure over index.json as d holds it, with the layout's referrers from readRefs
// (which may cache them across calls). It takes time linear in the size of index.json, the
// referrers and the graph: entries are found through a map, and a referrer or a digest-tag
// entry is looked at when its subject joins the closure, not on every pass.
func (s *Store) closure(ctx context.Context, d *indexDoc, entries []ocispec.Descriptor, readRefs func() ([]subjectRef, error)) (*Closure, error) {
	c := &Closure{}
	w := NewWalker(s.Fetch, WalkOptions{})
	inBlobs := map[digest.Digest]bool{} // the walk visits a digest once per media type and size
	walk := func(root ocispec.Descriptor, at Location) error {
		if err := checkEntry(root); err != nil {
			return err
		}
		return w.walk(ctx, root, at, func(ctx context.Context, desc ocispec.Descriptor, _ Location) error {
			if !IsManifestType(desc.MediaType) && !IsIndexType(desc.MediaType) {
				ok, err := s.Exists(ctx, desc)
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("blob %s: %w", desc.Digest, ErrNotFound)
				}
			}
			if inBlobs[desc.Digest] {
				return nil
			}
			inBlobs[desc.Digest] = true
			c.Blobs = append(c.Blobs, desc)
			c.Bytes += desc.Size
			return nil
		})
	}
	wrap := func(err error) error {
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
	var extra []ocispec.Descriptor
	for _, want := range entries {
		i, ok := first[entryKey{want.Digest, refName(want)}]
		if !ok {
			extra = append(extra, want)
			continue
		}
		picked[i] = true
	}
	for i, e := range d.entries {
		if picked[i] {
			if err := walk(e.desc, labelLocation(describeEntry(i, e.desc))); err != nil {
				return nil, wrap(err)
			}
		}
	}
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
	refsOf := map[digest.Digest][]int{}
	for i, r := range refs {
		refsOf[r.subject] = append(refsOf[r.subject], i)
	}
	for next := 0; next < len(c.Blobs); next++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		dg := c.Blobs[next].Digest
		for _, ri := range refsOf[dg] {
			r := refs[ri]
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
	for i, e := range d.entries {
		if picked[i] || (refName(e.desc) == "" && w.seen[e.desc.Digest]) {
			c.Entries = append(c.Entries, e.desc)
		}
	}
	c.Entries = append(c.Entries, extra...)
	return c, nil
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

// Referrers returns the manifests and indexes of the layout whose subject is desc (OCI 1.1
// referrers), sorted by digest. Each descriptor has the referrer's media type, its
// artifactType (or, for a manifest without one, its config's media type, as the referrers API
// reports it) and its annotations. They are found by reading the layout's JSON-looking blobs
// of at most MaxJSONBytes; damaged blobs are skipped (verify reports them). It returns nil
// when there is none.
func (s *Store) Referrers(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	refs, err := s.referrers(ctx, nil)
	if err != nil {
		return nil, err
	}
	var out []ocispec.Descriptor
	for _, r := range refs {
		if r.subject == desc.Digest {
			out = append(out, r.desc)
		}
	}
	return out, nil
}

// referrers lists the manifest and index blobs of the layout that have a subject, sorted by
// digest, skipping the digests skip reports. It reads only blobs of at most MaxJSONBytes whose
// first bytes look like a JSON object.
func (s *Store) referrers(ctx context.Context, skip func(digest.Digest) bool) ([]subjectRef, error) {
	blobs, err := s.listBlobs(ctx)
	if err != nil {
		return nil, err
	}
	return s.referrersOf(ctx, blobs, skip)
}

// referrersOf is referrers over a blob list of listBlobs.
func (s *Store) referrersOf(ctx context.Context, blobs []GCBlob, skip func(digest.Digest) bool) ([]subjectRef, error) {
	var out []subjectRef
	for _, b := range blobs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if (skip != nil && skip(b.Digest)) || b.Size > MaxJSONBytes || b.Size < 2 {
			continue
		}
		desc := ocispec.Descriptor{Digest: b.Digest, Size: b.Size}
		if !s.mayBeJSONObject(desc) {
			continue // an ELF, wasm or tar layer: read 4 KiB of it, not all
		}
		data, err := s.ReadAll(ctx, desc, MaxJSONBytes)
		if err != nil {
			continue // a damaged blob refers to nothing
		}
		if r, ok := asReferrer(desc, data); ok {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b subjectRef) int { return strings.Compare(string(a.desc.Digest), string(b.desc.Digest)) })
	return out, nil
}

// asReferrer returns the blob desc with content data as a referrer, when it is a manifest or
// an index with a subject: desc with the referrer's media type, its artifactType (for a
// manifest without one, its config's media type, as the referrers API reports it) and its
// annotations.
func asReferrer(desc ocispec.Descriptor, data []byte) (subjectRef, bool) {
	dd, err := decodeDoc(data)
	if err != nil || dd.Subject == nil {
		return subjectRef{}, false
	}
	mt, ok := dd.referrerType()
	if !ok {
		return subjectRef{}, false
	}
	desc.MediaType = mt
	desc.ArtifactType = dd.ArtifactType
	if desc.ArtifactType == "" && dd.Config != nil && IsManifestType(mt) {
		desc.ArtifactType = dd.Config.MediaType
	}
	if len(dd.Annotations) > 0 {
		desc.Annotations = dd.Annotations
	}
	return subjectRef{desc: desc, subject: dd.Subject.Digest}, true
}
