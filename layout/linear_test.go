package layout

import (
	"fmt"
	"sync/atomic"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// countRefNames counts the calls of refName while fn runs: each is one look at an index.json
// entry's name.
func countRefNames(tb testing.TB, fn func()) int64 {
	tb.Helper()
	var n atomic.Int64
	refNameCalls = &n
	defer func() { refNameCalls = nil }()
	fn()
	return n.Load()
}

// namedN returns n copies of desc named prefix0, prefix1...
func namedN(desc ocispec.Descriptor, prefix string, n int) []ocispec.Descriptor {
	out := make([]ocispec.Descriptor, n)
	for i := range out {
		out[i] = desc
		out[i].Annotations = map[string]string{ocispec.AnnotationRefName: fmt.Sprintf("%s%d", prefix, i)}
	}
	return out
}

// TestMergeLinear checks that merging k entries into an index.json of n looks at each entry a
// bounded number of times (per-entry scans made it n*k: 10k refs into 10k took 8 s, 145k
// never ended).
func TestMergeLinear(t *testing.T) {
	s := newStore(t)
	im := buildImage(t, s, "x")
	other := buildImage(t, s, "y")
	const n = 2000
	existing := append(namedN(im.index, "ref", n), im.manifests[0]) // and one unnamed
	err := s.update(t.Context(), func(d *indexDoc) error {
		for _, e := range existing {
			d.entries = append(d.entries, indexEntry{desc: e})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		entries []ocispec.Descriptor
		force   bool
		want    AddResult
	}{
		{"all there", existing, false, AddResult{Unchanged: n + 1}},
		{"all new", namedN(im.index, "new", n), false, AddResult{Added: n}},
		{"all moved", namedN(other.index, "ref", n), true, AddResult{Replaced: n}},
		{"half and half", append(namedN(im.index, "ref", n/2), namedN(other.index, "half", n/2)...), false, AddResult{Unchanged: n / 2, Added: n / 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := s.readIndex(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var res AddResult
			var conflicts []string
			calls := countRefNames(t, func() { res, conflicts = merge(d, tc.entries, AddOptions{Force: tc.force}) })
			if res != tc.want || len(conflicts) > 0 {
				t.Fatalf("merge = %+v, %v; want %+v", res, conflicts, tc.want)
			}
			if limit := int64(4 * (len(existing) + len(tc.entries))); calls > limit {
				t.Fatalf("merge of %d entries into %d looked at entries %d times, over %d: not linear", len(tc.entries), len(existing), calls, limit)
			}
		})
	}
	// The order and the result of a forced move, as Tag does it: in place, duplicates dropped.
	d := &indexDoc{}
	for _, e := range []ocispec.Descriptor{named(im.index, "a0"), named(im.index, "b0"), named(other.index, "a0")} {
		d.entries = append(d.entries, indexEntry{desc: e})
	}
	moved := named(other.layers[0], "a0")
	moved.MediaType = "application/x"
	res, _ := merge(d, []ocispec.Descriptor{moved, named(other.index, "c0")}, AddOptions{Force: true})
	if res != (AddResult{Replaced: 1, Added: 1}) || len(d.entries) != 3 || d.entries[0].desc.Digest != moved.Digest ||
		refName(d.entries[1].desc) != "b0" || refName(d.entries[2].desc) != "c0" {
		t.Fatalf("forced merge: %+v, entries %v", res, d.entries)
	}
}

// TestClosureLinear checks that the closure of k of n entries looks at each entry a bounded
// number of times (it found each entry asked for by a scan of index.json).
func TestClosureLinear(t *testing.T) {
	s := newStore(t)
	im := buildImage(t, s, "x")
	const n = 2000
	entries := namedN(im.index, "ref", n)
	err := s.update(t.Context(), func(d *indexDoc) error {
		for _, e := range entries {
			d.entries = append(d.entries, indexEntry{desc: e})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var c *Closure
	calls := countRefNames(t, func() { c, err = s.Closure(t.Context(), entries) })
	if err != nil || len(c.Entries) != n || len(c.Blobs) != len(im.all()) {
		t.Fatalf("Closure = %v entries, %v blobs, %v", len(c.Entries), len(c.Blobs), err)
	}
	if limit := int64(4 * 2 * n); calls > limit {
		t.Fatalf("Closure of %d of %d entries looked at entries %d times, over %d: not linear", n, n, calls, limit)
	}
}
