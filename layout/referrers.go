package layout

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// subjectRef is a manifest or index blob of the layout that has a subject.
type subjectRef struct {
	desc    ocispec.Descriptor
	subject digest.Digest
}

// ReferrerTable is a layout's OCI 1.1 referrers by subject, read once: for a command that asks
// for the referrers of many digests (a push's extended copy asks for each node).
type ReferrerTable struct {
	bySubject map[digest.Digest][]ocispec.Descriptor
}

// Referrers returns the referrers of dg in the table, sorted by digest (nil when none). Each
// descriptor has the referrer's media type, its artifactType (or, for a manifest without one,
// its config's media type, as the referrers API reports it) and its annotations.
func (t *ReferrerTable) Referrers(dg digest.Digest) []ocispec.Descriptor {
	return slices.Clone(t.bySubject[dg])
}

// ReferrerTable reads the layout's referrers into a table. Without scan, they are the
// referrers index.json lists: its unnamed entries that are manifests or indexes with a subject
// (ig's oras-go store lists every manifest it holds so, and gadgetpack's pull, sign, import,
// copy and export list every referrer they write or carry), and those its referrers tag schema
// indexes (sha256-<hex> entries) list: one small verified read per unnamed entry and per
// such index and its manifests, whatever the number of blobs. With scan, they are every manifest or index
// blob of the layout with a subject, listed or not: every blob of at most MaxJSONBytes that
// starts like a JSON object is read, for a layout written by a tool that keeps referrers as
// bare blobs. A blob that is absent, damaged or over MaxJSONBytes refers to nothing (verify
// reports it).
func (s *Store) ReferrerTable(ctx context.Context, scan bool) (*ReferrerTable, error) {
	var d *indexDoc
	if !scan {
		var err error
		if d, err = s.readIndexChecked(ctx); err != nil {
			return nil, err
		}
	}
	refs, err := s.findReferrers(ctx, d, scan)
	if err != nil {
		return nil, err
	}
	return newReferrerTable(refs), nil
}

// findReferrers returns the layout's referrers sorted by digest: those index.json (as d holds
// it) lists, or with scan every one among its blobs (d unused).
func (s *Store) findReferrers(ctx context.Context, d *indexDoc, scan bool) ([]subjectRef, error) {
	if scan {
		blobs, err := s.listBlobs(ctx)
		if err != nil {
			return nil, err
		}
		return s.referrersOf(ctx, blobs, nil)
	}
	return s.listedReferrers(ctx, d)
}

// newReferrerTable groups refs by subject.
func newReferrerTable(refs []subjectRef) *ReferrerTable {
	t := &ReferrerTable{bySubject: map[digest.Digest][]ocispec.Descriptor{}}
	for _, r := range refs {
		t.bySubject[r.subject] = append(t.bySubject[r.subject], r.desc)
	}
	for _, l := range t.bySubject {
		slices.SortFunc(l, func(a, b ocispec.Descriptor) int { return strings.Compare(string(a.Digest), string(b.Digest)) })
	}
	return t
}

// Referrers returns the referrers of desc that index.json lists (see ReferrerTable without
// scan), sorted by digest, or nil when there is none. It reads index.json and its unnamed
// entries on each call: a caller asking for many digests builds a ReferrerTable once.
func (s *Store) Referrers(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	t, err := s.ReferrerTable(ctx, false)
	if err != nil {
		return nil, err
	}
	return t.Referrers(desc.Digest), nil
}

// listedReferrers returns the referrers index.json (as d holds it) lists, each digest once,
// sorted by digest: its unnamed entries that are manifests or indexes with a subject, and the
// manifests with a subject that its digest-tag index entries list (the referrers tag schema's
// sha256-<hex> index, as ig's store keeps it for a registry without the referrers API). Each
// is read verified, if at most MaxJSONBytes; one whose blob is absent or damaged is skipped.
func (s *Store) listedReferrers(ctx context.Context, d *indexDoc) ([]subjectRef, error) {
	seen := map[digest.Digest]bool{}
	var out []subjectRef
	read := func(desc ocispec.Descriptor) ([]byte, bool) {
		if seen[desc.Digest] || desc.Size > MaxJSONBytes || (!IsManifestType(desc.MediaType) && !IsIndexType(desc.MediaType)) {
			return nil, false
		}
		seen[desc.Digest] = true
		data, err := s.ReadAll(ctx, ocispec.Descriptor{Digest: desc.Digest, Size: desc.Size}, MaxJSONBytes)
		return data, err == nil // absent or damaged: it refers to nothing
	}
	for _, e := range d.entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name := refName(e.desc)
		switch {
		case name == "":
			if data, ok := read(e.desc); ok {
				if r, ok := asReferrer(ocispec.Descriptor{Digest: e.desc.Digest, Size: e.desc.Size}, data); ok {
					out = append(out, r)
				}
			}
		case DigestTagOf(name) != "" && IsIndexType(e.desc.MediaType):
			data, ok := read(e.desc)
			if !ok {
				continue
			}
			dd, err := decodeDoc(data)
			if err != nil {
				continue
			}
			for _, m := range dd.Manifests {
				if data, ok := read(m); ok {
					if r, ok := asReferrer(ocispec.Descriptor{Digest: m.Digest, Size: m.Size}, data); ok {
						out = append(out, r)
					}
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b subjectRef) int { return strings.Compare(string(a.desc.Digest), string(b.desc.Digest)) })
	return out, nil
}

// referrersOf lists the manifest and index blobs of blobs (as listBlobs lists them) that have a
// subject, sorted by digest, skipping the digests skip reports (nil: none). It reads only blobs
// of at most MaxJSONBytes whose first bytes look like a JSON object.
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

// asIndexEntry returns referrer r as an unnamed index.json entry: its descriptor without a
// ref name among its annotations, so that listing it names nothing.
func asIndexEntry(r subjectRef) ocispec.Descriptor {
	desc := r.desc
	if _, ok := desc.Annotations[ocispec.AnnotationRefName]; ok {
		desc.Annotations = maps.Clone(desc.Annotations)
		delete(desc.Annotations, ocispec.AnnotationRefName)
	}
	return desc
}
