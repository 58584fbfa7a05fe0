package layout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

var specVersion = specs.Versioned{SchemaVersion: 2}

// memBlobs is a content store in memory, so that graphs of 100,000 documents cost no disk.
type memBlobs map[digest.Digest][]byte

// put stores v as JSON and returns its descriptor of media type mt.
func (m memBlobs) put(tb testing.TB, mt string, v any) ocispec.Descriptor {
	tb.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	dg := digest.FromBytes(data)
	m[dg] = data
	return ocispec.Descriptor{MediaType: mt, Digest: dg, Size: int64(len(data))}
}

func (m memBlobs) fetch(_ context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	data, ok := m[desc.Digest]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// nestedIndexes stores an image manifest under depth-1 indexes, each the only entry of the
// next, and returns the outermost index and every document, outermost first.
func nestedIndexes(tb testing.TB, m memBlobs, depth int) []ocispec.Descriptor {
	tb.Helper()
	config := ocispec.DescriptorEmptyJSON
	m[config.Digest] = []byte("{}")
	cur := m.put(tb, ocispec.MediaTypeImageManifest, ocispec.Manifest{
		Versioned: specVersion, MediaType: ocispec.MediaTypeImageManifest, Config: config, Layers: []ocispec.Descriptor{},
	})
	docs := []ocispec.Descriptor{cur}
	for range depth - 1 {
		cur = m.put(tb, ocispec.MediaTypeImageIndex, ocispec.Index{
			Versioned: specVersion, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{cur},
		})
		docs = append(docs, cur)
	}
	for i, j := 0, len(docs)-1; i < j; i, j = i+1, j-1 {
		docs[i], docs[j] = docs[j], docs[i]
	}
	return docs
}

func TestWalkNesting(t *testing.T) {
	for _, tc := range []struct {
		name  string
		depth int // documents in the chain
		max   int
		ok    bool
	}{
		{"at the default cap", DefaultMaxNesting, 0, true},
		{"one over the default cap", DefaultMaxNesting + 1, 0, false},
		{"100 deep", 100, 0, false},
		{"100,000 deep", 100_000, 0, false},
		{"3 deep, cap 3", 3, 3, true},
		{"4 deep, cap 3", 4, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := memBlobs{}
			docs := nestedIndexes(t, m, tc.depth)
			n := 0
			err := WalkWith(t.Context(), m.fetch, docs[0], WalkOptions{MaxNesting: tc.max}, func(context.Context, ocispec.Descriptor, Location) error {
				n++
				return nil
			})
			if tc.ok {
				if err != nil || n != tc.depth+1 {
					t.Fatalf("WalkWith = %v after %d descriptors, want nil after %d", err, n, tc.depth+1)
				}
				return
			}
			max := tc.max
			if max == 0 {
				max = DefaultMaxNesting
			}
			if !errors.Is(err, ErrTooDeep) {
				t.Fatalf("WalkWith = %v, want ErrTooDeep", err)
			}
			// It stops at the first level too deep: it read no document below it.
			if n != max+1 {
				t.Errorf("visited %d descriptors, want %d", n, max+1)
			}
			msg := err.Error()
			first := "manifests[0](" + short(docs[1].Digest) + ")"
			last := "manifests[0](" + short(docs[max].Digest) + ")"
			hidden := "manifests[0](" + short(docs[max/2].Digest) + ")"
			switch {
			case !strings.HasPrefix(msg, first):
				t.Errorf("error does not start with the first level %s: %s", first, msg)
			case !strings.Contains(msg, last) || !strings.Contains(msg, string(docs[max].Digest)):
				t.Errorf("error does not name the level too deep %s: %s", docs[max].Digest, msg)
			case max > 2*locationEnds+1 && strings.Contains(msg, hidden):
				t.Errorf("error lists every level, want the ends only: %s", msg)
			case len(msg) > 1000:
				t.Errorf("error of %d bytes: %s", len(msg), msg)
			}
			if max > 2*locationEnds+1 && !strings.Contains(msg, fmt.Sprintf("... %d more levels ...", max-2*locationEnds)) {
				t.Errorf("error does not count the levels it leaves out: %s", msg)
			}
		})
	}
}

func TestWalkMaxDescriptors(t *testing.T) {
	m := memBlobs{}
	config := ocispec.DescriptorEmptyJSON
	m[config.Digest] = []byte("{}")
	// An index of 1,000 entries, all the same manifest: one blob, 1,001 descriptors.
	man := m.put(t, ocispec.MediaTypeImageManifest, ocispec.Manifest{Versioned: specVersion, MediaType: ocispec.MediaTypeImageManifest, Config: config, Layers: []ocispec.Descriptor{}})
	wide := m.put(t, ocispec.MediaTypeImageIndex, ocispec.Index{Versioned: specVersion, MediaType: ocispec.MediaTypeImageIndex, Manifests: repeat(man, 1000)})
	for _, tc := range []struct {
		name string
		max  int
		ok   bool
	}{
		{"default", 0, true},
		{"exactly", 1002, true}, // the index, 1,000 entries, the config
		{"one short", 1001, false},
		{"10", 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := WalkWith(t.Context(), m.fetch, wide, WalkOptions{MaxDescriptors: tc.max}, func(context.Context, ocispec.Descriptor, Location) error { return nil })
			switch {
			case tc.ok && err != nil:
				t.Fatalf("WalkWith = %v", err)
			case !tc.ok && !errors.Is(err, ErrTooManyDescriptors):
				t.Fatalf("WalkWith = %v, want ErrTooManyDescriptors", err)
			case !tc.ok && !strings.Contains(err.Error(), fmt.Sprintf("over %d descriptors", tc.max)):
				t.Fatalf("error does not name the cap %d: %v", tc.max, err)
			}
		})
	}
	// One Walker counts every walk it makes: the cap is per command, not per root.
	w := NewWalker(m.fetch, WalkOptions{MaxDescriptors: 1500})
	nop := func(context.Context, ocispec.Descriptor, Location) error { return nil }
	if err := w.Walk(t.Context(), wide, "first", nop); err != nil {
		t.Fatal(err)
	}
	if err := w.Walk(t.Context(), wide, "second", nop); err != nil {
		t.Fatalf("a root seen already counts once: %v", err)
	}
	wide2 := m.put(t, ocispec.MediaTypeImageIndex, ocispec.Index{Versioned: specVersion, MediaType: ocispec.MediaTypeImageIndex, Manifests: repeat(man, 999)})
	if err := w.Walk(t.Context(), wide2, "third", nop); !errors.Is(err, ErrTooManyDescriptors) || !strings.HasPrefix(err.Error(), "third > manifests[") {
		t.Fatalf("Walker over its cap across walks: %v", err)
	}
}

func repeat(d ocispec.Descriptor, n int) []ocispec.Descriptor {
	out := make([]ocispec.Descriptor, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestLocationString(t *testing.T) {
	dg := digest.FromString("x")
	chain := func(n int) Location {
		at := entryLocation(7, dg, "example.com/x:1")
		for i := 1; i < n; i++ {
			at = at.step(roleManifest, i, dg)
		}
		return at
	}
	sd := short(dg)
	for _, tc := range []struct {
		name string
		at   Location
		want string
	}{
		{"zero", Location{}, ""},
		{"an entry", chain(1), "index.json[7](ref example.com/x:1)"},
		{"unnamed entry", entryLocation(2, dg, ""), "index.json[2](" + sd + ")"},
		{"roles", labelLocation("root").step(roleManifest, 1, dg).step(roleConfig, 0, dg).step(roleLayer, 3, dg).step(roleSubject, 0, dg),
			"root > manifests[1](" + sd + ") > config(" + sd + ") > layers[3](" + sd + ") > subject(" + sd + ")"},
		{"9 levels, all shown", chain(9), "index.json[7](ref example.com/x:1) > manifests[1](" + sd + ") > manifests[2](" + sd + ") > manifests[3](" + sd + ") > manifests[4](" + sd + ") > manifests[5](" + sd + ") > manifests[6](" + sd + ") > manifests[7](" + sd + ") > manifests[8](" + sd + ")"},
		{"10 levels, 2 left out", chain(10), "index.json[7](ref example.com/x:1) > manifests[1](" + sd + ") > manifests[2](" + sd + ") > manifests[3](" + sd + ") > ... 2 more levels ... > manifests[6](" + sd + ") > manifests[7](" + sd + ") > manifests[8](" + sd + ") > manifests[9](" + sd + ")"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.at.String(); got != tc.want {
				t.Fatalf("String =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	if d := chain(100_000).Depth(); d != 99_999 {
		t.Fatalf("Depth = %d", d)
	}
}
