package layout

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// blobSeen is what ClosureOptions.OnBlob was given for one blob.
type blobSeen struct {
	desc    ocispec.Descriptor
	content []byte
}

// readAheadLayout returns a layout of n tagged images (buildImage's, plus one with an OCI JSON
// config each) and the image written last.
func readAheadLayout(tb testing.TB, n int) (*Store, testImage) {
	tb.Helper()
	s := newStore(tb)
	var im testImage
	for i := range n {
		im = buildImage(tb, s, fmt.Sprintf("img-%d", i))
		if err := s.Tag(tb.Context(), im.index, fmt.Sprintf("img-%d", i)); err != nil {
			tb.Fatal(err)
		}
		cfg := writeJSON(tb, s, ocispec.MediaTypeImageConfig, ocispec.Image{Platform: ocispec.Platform{Architecture: "amd64", OS: "linux"}})
		layer := writeBlob(tb, s, ocispec.MediaTypeImageLayer, pseudoRandom(fmt.Sprintf("oci-%d", i), 1024))
		m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}}
		m.SchemaVersion = 2
		md := writeJSON(tb, s, ocispec.MediaTypeImageManifest, m)
		if err := s.Tag(tb.Context(), md, fmt.Sprintf("oci-%d", i)); err != nil {
			tb.Fatal(err)
		}
	}
	return s, im
}

// exportClosure runs the closure of every ref as an export does (with OnBlob) and returns what
// OnBlob was given, and the closure's error.
func exportClosure(tb testing.TB, s *Store) ([]blobSeen, error) {
	tb.Helper()
	var seen []blobSeen
	_, err := s.ClosureWith(tb.Context(), nil, ClosureOptions{AllRefs: true, OnBlob: func(desc ocispec.Descriptor, content []byte) error {
		seen = append(seen, blobSeen{desc, content})
		return nil
	}})
	return seen, err
}

// TestReadAheadExport checks what an export's closure (OnBlob) gets from reading ahead of its
// walk: every blob in the walk's order, the content of every manifest, index, config and small
// blob (so that the writer reads none of those again), each document decoded once, and, when a
// blob is damaged or missing, what the walk says without reading ahead.
func TestReadAheadExport(t *testing.T) {
	blobFile := func(s *Store, desc ocispec.Descriptor) string {
		return filepath.Join(s.Path(), "blobs", "sha256", desc.Digest.Encoded())
	}
	t.Run("order and content", func(t *testing.T) {
		s, _ := readAheadLayout(t, 12)
		plain, err := s.ClosureWith(t.Context(), nil, ClosureOptions{AllRefs: true})
		if err != nil {
			t.Fatal(err)
		}
		var decodes atomic.Int64
		docDecodes = &decodes
		defer func() { docDecodes = nil }()
		seen, err := exportClosure(t, s)
		if err != nil {
			t.Fatal(err)
		}
		docs := 0
		for _, b := range plain.Blobs {
			if IsManifestType(b.MediaType) || IsIndexType(b.MediaType) {
				docs++
			}
		}
		if got := decodes.Load(); got != int64(docs) {
			t.Errorf("%d documents decoded %d times, want once each", docs, got)
		}
		if len(seen) != len(plain.Blobs) {
			t.Fatalf("OnBlob got %d blobs, the closure has %d", len(seen), len(plain.Blobs))
		}
		withContent := 0
		for i, b := range seen {
			if b.desc.Digest != plain.Blobs[i].Digest {
				t.Fatalf("blob %d: %s, the walk's order has %s", i, b.desc.Digest, plain.Blobs[i].Digest)
			}
			data, err := os.ReadFile(blobFile(s, b.desc))
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case b.desc.Size <= aheadSmallBlob && b.content == nil:
				t.Errorf("blob %s (%s, %d bytes) came without its content", b.desc.Digest, b.desc.MediaType, b.desc.Size)
			case b.content != nil && !bytes.Equal(b.content, data):
				t.Errorf("blob %s came with other content than its file's", b.desc.Digest)
			case b.content != nil:
				withContent++
			}
		}
		if withContent == len(seen) {
			t.Errorf("every blob came with its content: none is over %d bytes, as some should be", aheadSmallBlob)
		}
	})
	t.Run("skipped blobs are not read whole", func(t *testing.T) {
		s, _ := readAheadLayout(t, 6)
		plain, err := s.ClosureWith(t.Context(), nil, ClosureOptions{AllRefs: true})
		if err != nil {
			t.Fatal(err)
		}
		skip := map[digest.Digest]bool{}
		for _, b := range plain.Blobs {
			if !readWhole(b) && b.Size <= aheadSmallBlob {
				skip[b.Digest] = true
			}
		}
		if len(skip) == 0 {
			t.Fatal("no small layer to skip")
		}
		var mu sync.Mutex
		opened := 0
		openBlobHook = func(_ *Store, desc ocispec.Descriptor) {
			mu.Lock()
			defer mu.Unlock()
			if skip[desc.Digest] {
				opened++
			}
		}
		defer func() { openBlobHook = nil }()
		var seen []blobSeen
		_, err = s.ClosureWith(t.Context(), nil, ClosureOptions{AllRefs: true,
			Skip: func(d digest.Digest) bool { return skip[d] },
			OnBlob: func(desc ocispec.Descriptor, content []byte) error {
				seen = append(seen, blobSeen{desc, content})
				return nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		if opened != 0 {
			t.Errorf("%d skipped blobs were opened", opened)
		}
		for _, b := range seen {
			switch {
			case skip[b.desc.Digest] && b.content != nil:
				t.Errorf("skipped blob %s came with its content", b.desc.Digest)
			case !skip[b.desc.Digest] && b.desc.Size <= aheadSmallBlob && b.content == nil:
				t.Errorf("blob %s (%s, %d bytes) came without its content", b.desc.Digest, b.desc.MediaType, b.desc.Size)
			}
		}
	})
	t.Run("damaged small blob", func(t *testing.T) {
		s, im := readAheadLayout(t, 3)
		layer := im.layers[0] // 3000 bytes: read ahead whole
		path := blobFile(s, layer)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data[10] ^= 1
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		seen, err := exportClosure(t, s)
		if err != nil {
			t.Fatalf("the closure checks a layer's presence and size, not its digest; got %v", err)
		}
		i := slices.IndexFunc(seen, func(b blobSeen) bool { return b.desc.Digest == layer.Digest })
		if i < 0 || seen[i].content != nil {
			t.Fatalf("the damaged blob came with content (or not at all): a reader ahead must hand over only verified bytes")
		}
	})
	for _, tc := range []struct {
		name string
		pick func(im testImage) ocispec.Descriptor
	}{
		{"missing manifest", func(im testImage) ocispec.Descriptor { return im.manifests[1] }},
		{"missing config", func(im testImage) ocispec.Descriptor { return im.configs[0] }},
		{"missing small layer", func(im testImage) ocispec.Descriptor { return im.layers[0] }},
		{"missing large layer", func(im testImage) ocispec.Descriptor { return im.layers[3] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, im := readAheadLayout(t, 5)
			if err := os.Remove(blobFile(s, tc.pick(im))); err != nil {
				t.Fatal(err)
			}
			_, want := s.ClosureWith(t.Context(), nil, ClosureOptions{AllRefs: true})
			_, err := exportClosure(t, s)
			if want == nil || err == nil || err.Error() != want.Error() {
				t.Fatalf("closure read ahead: %v\nwithout reading ahead: %v", err, want)
			}
		})
	}
}
