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

// countOpens counts the blobs of s that openBlob opens while fn runs.
func countOpens(tb testing.TB, s *Store, fn func()) int64 {
	tb.Helper()
	var n atomic.Int64
	openBlobHook = func(of *Store, _ ocispec.Descriptor) {
		if of.root == s.root {
			n.Add(1)
		}
	}
	defer func() { openBlobHook = nil }()
	fn()
	return n.Load()
}

// TestOneRefCostsOneRef checks that the closure, the copy and the referrers of one ref read
// the same blobs of a layout of 8 images as of one of 80 (with a listed signature each): the
// closure's graph and the unnamed entries' referrers, not a scan of every blob (which read
// 4 KiB of each of the 80 images' 9 blobs for every closure, copy and push of one ref).
func TestOneRefCostsOneRef(t *testing.T) {
	c := t.Context()
	type counts struct{ closure, copy, referrers, scan int64 }
	measure := func(n int) counts {
		s := newStore(t)
		var ref ocispec.Descriptor
		for i := range n {
			im := buildImage(t, s, fmt.Sprintf("img-%d", i))
			if err := s.Tag(c, im.index, fmt.Sprintf("img-%d", i)); err != nil {
				t.Fatal(err)
			}
			sig := referrerOf(t, s, im.index, fmt.Sprintf("sig-%d", i))
			if i%2 == 0 { // half listed, half bare blobs
				if _, err := s.AddEntries(c, []ocispec.Descriptor{sig}, AddOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			if i == 0 {
				ref = im.index
			}
		}
		ref.Annotations = map[string]string{ocispec.AnnotationRefName: "img-0"}
		var got counts
		got.closure = countOpens(t, s, func() {
			if _, err := s.Closure(c, []ocispec.Descriptor{ref}); err != nil {
				t.Fatal(err)
			}
		})
		got.copy = countOpens(t, s, func() {
			if _, err := Copy(c, s, newStore(t), []ocispec.Descriptor{ref}, CopyOptions{}); err != nil {
				t.Fatal(err)
			}
		})
		got.referrers = countOpens(t, s, func() {
			if _, err := s.Referrers(c, ref); err != nil {
				t.Fatal(err)
			}
		})
		got.scan = countOpens(t, s, func() {
			if _, err := s.ReferrerTable(c, true); err != nil {
				t.Fatal(err)
			}
		})
		return got
	}
	small, large := measure(8), measure(80)
	t.Logf("blobs opened at 8 and 80 images: %+v, %+v", small, large)
	// The listed signatures are unnamed entries: each is read to learn its subject, so the
	// referrer search grows with them (40 of 80), and nothing else does.
	listedSmall, listedLarge := int64(4), int64(40)
	if small.closure-listedSmall != large.closure-listedLarge || small.copy-listedSmall != large.copy-listedLarge {
		t.Errorf("one ref's closure or copy reads more of a larger layout: %+v at 8 images, %+v at 80", small, large)
	}
	if small.referrers != listedSmall || large.referrers != listedLarge {
		t.Errorf("Referrers read %d and %d blobs, want the %d and %d listed ones", small.referrers, large.referrers, listedSmall, listedLarge)
	}
	if large.scan < 80*9 {
		t.Errorf("a scan read %d blobs of 80 images, want every one", large.scan)
	}
}
