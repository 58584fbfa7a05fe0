package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/layout"
)

// memFetcher serves blobs from memory, as a registry would.
type memFetcher map[digest.Digest][]byte

func (m memFetcher) Fetch(_ context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	data, ok := m[desc.Digest]
	if !ok {
		return nil, ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// TestNesting walks chains of nested indexes as oras-go does for a pull, through the bounds a
// copy puts on FindSuccessors: 64 documents pass, the 65th is refused before it is read.
func TestNesting(t *testing.T) {
	for _, tc := range []struct {
		name  string
		depth int // documents in the chain, the manifest at the bottom included
		ok    bool
	}{
		{"64 levels", layout.DefaultMaxNesting, true},
		{"65 levels", layout.DefaultMaxNesting + 1, false},
		{"10,000 levels", 10_000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := memFetcher{}
			put := func(mt string, v any) ocispec.Descriptor {
				data, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				m[digest.FromBytes(data)] = data
				return ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(data), Size: int64(len(data))}
			}
			v2 := specs.Versioned{SchemaVersion: 2}
			cur := put(ocispec.MediaTypeImageManifest, ocispec.Manifest{Versioned: v2, MediaType: ocispec.MediaTypeImageManifest, Config: ocispec.DescriptorEmptyJSON, Layers: []ocispec.Descriptor{}})
			for range tc.depth - 1 {
				cur = put(ocispec.MediaTypeImageIndex, ocispec.Index{Versioned: v2, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{cur}})
			}
			n := newNesting(cur)
			var err error
			docs := 0
			for queue := []ocispec.Descriptor{cur}; len(queue) > 0 && err == nil; {
				d := queue[0]
				queue = queue[1:]
				var succ []ocispec.Descriptor
				succ, err = n.successors(t.Context(), m, d)
				if err == nil && succ != nil {
					docs++
				}
				queue = append(queue, succ...)
			}
			if tc.ok {
				if err != nil || docs != tc.depth {
					t.Fatalf("read %d documents, %v; want %d", docs, err, tc.depth)
				}
				return
			}
			if !errors.Is(err, layout.ErrTooDeep) || docs != layout.DefaultMaxNesting || !strings.Contains(err.Error(), "nested 65 levels deep under "+string(cur.Digest)) {
				t.Fatalf("read %d documents, %v; want ErrTooDeep after 64", docs, err)
			}
		})
	}
}
