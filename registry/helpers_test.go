package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/internal/registrytest"
	"github.com/gadgetpack/gadgetpack/internal/testfs"
	"github.com/gadgetpack/gadgetpack/layout"
)

// igLayout returns a writable copy of ig's own signed-gadget store (see
// ../shared/interop/README.md).
func igLayout(tb testing.TB) *layout.Store {
	tb.Helper()
	dst := filepath.Join(tb.TempDir(), "ig-store")
	testfs.CopyTree(tb, testfs.SharedPath(tb, "interop", "ig-store"), dst)
	s, err := layout.Open(dst)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// testImage is a small two-arch image written into a layout by writeImage.
type testImage struct {
	index  ocispec.Descriptor
	blobs  []ocispec.Descriptor // every blob of the image, index first
	layers []ocispec.Descriptor
}

// writeImage writes an index of two manifests (amd64, arm64), each with a config and a layer of
// layerSize bytes derived from seed, tags it ref and returns it.
func writeImage(tb testing.TB, s *layout.Store, ref, seed string, layerSize int) testImage {
	tb.Helper()
	var im testImage
	var manifests []ocispec.Descriptor
	for _, arch := range []string{"amd64", "arm64"} {
		cfg := writeBlob(tb, s, "application/vnd.gadget.config.v1+yaml", []byte("name: "+seed+"\narch: "+arch+"\n"))
		layer := writeBlob(tb, s, "application/vnd.gadget.ebpf.program.v1+binary", pseudoRandom(seed+arch, layerSize))
		m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}}
		m.SchemaVersion = 2
		md := writeJSON(tb, s, ocispec.MediaTypeImageManifest, m)
		md.Platform = &ocispec.Platform{Architecture: arch, OS: "linux"}
		manifests = append(manifests, md)
		im.blobs = append(im.blobs, md, cfg, layer)
		im.layers = append(im.layers, layer)
	}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: manifests}
	idx.SchemaVersion = 2
	im.index = writeJSON(tb, s, ocispec.MediaTypeImageIndex, idx)
	im.blobs = append([]ocispec.Descriptor{im.index}, im.blobs...)
	if ref != "" {
		if err := s.Tag(tb.Context(), im.index, ref); err != nil {
			tb.Fatal(err)
		}
	}
	return im
}

// writeReferrer writes an OCI 1.1 signature-like manifest whose subject is subj, and lists it
// in index.json as an unnamed entry, as ig's store and gadgetpack list referrers.
func writeReferrer(tb testing.TB, s *layout.Store, subj ocispec.Descriptor, payload string) ocispec.Descriptor {
	tb.Helper()
	desc := writeBareReferrer(tb, s, subj, payload)
	if _, err := s.AddEntries(tb.Context(), []ocispec.Descriptor{desc}, layout.AddOptions{}); err != nil {
		tb.Fatal(err)
	}
	return desc
}

// writeBareReferrer is writeReferrer without the index.json entry: a referrer as a bare blob.
func writeBareReferrer(tb testing.TB, s *layout.Store, subj ocispec.Descriptor, payload string) ocispec.Descriptor {
	tb.Helper()
	layer := writeBlob(tb, s, "application/vnd.example.signature", []byte(payload))
	empty := writeBlob(tb, s, ocispec.MediaTypeEmptyJSON, []byte("{}"))
	m := ocispec.Manifest{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: "application/vnd.example.signature",
		Config:       empty,
		Layers:       []ocispec.Descriptor{layer},
		Subject:      &subj,
	}
	m.SchemaVersion = 2
	return writeJSON(tb, s, ocispec.MediaTypeImageManifest, m)
}

func writeBlob(tb testing.TB, s *layout.Store, mediaType string, data []byte) ocispec.Descriptor {
	tb.Helper()
	desc, err := s.WriteBlob(tb.Context(), bytes.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	desc.MediaType = mediaType
	return desc
}

func writeJSON(tb testing.TB, s *layout.Store, mediaType string, v any) ocispec.Descriptor {
	tb.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return writeBlob(tb, s, mediaType, data)
}

// pseudoRandom returns n deterministic bytes derived from seed.
func pseudoRandom(seed string, n int) []byte {
	out := make([]byte, n)
	_, _ = rand.NewChaCha8(sha256.Sum256([]byte(seed))).Read(out)
	return out
}

// newLayout returns an empty layout in a temp dir.
func newLayout(tb testing.TB) *layout.Store {
	tb.Helper()
	s, err := layout.Init(filepath.Join(tb.TempDir(), "layout"))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// plain returns the options to reach r.
func plain(r *registrytest.Registry) Options {
	o := Options{PlainHTTP: r.PlainHTTP, CAFile: r.CAFile}
	if r.Username != "" {
		o.Username, o.Password = r.Username, r.Password
	}
	return o
}

// readBlob returns the content of d in s.
func readBlob(tb testing.TB, s *layout.Store, d digest.Digest) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(s.Path(), "blobs", d.Algorithm().String(), d.Encoded()))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// indexBytes returns the layout's index.json.
func indexBytes(tb testing.TB, s *layout.Store) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(s.Path(), layout.IndexFile))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// mustVerify fails unless the layout verifies without errors.
func mustVerify(tb testing.TB, s *layout.Store) *layout.Report {
	tb.Helper()
	rep, err := layout.Verify(tb.Context(), s.Path(), layout.VerifyOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	if !rep.OK {
		for _, p := range rep.Problems {
			tb.Error(p.String())
		}
		tb.FailNow()
	}
	return rep
}

// refsOf maps each ref of the layout to its digest.
func refsOf(tb testing.TB, s *layout.Store) map[string]digest.Digest {
	tb.Helper()
	refs, err := s.Refs(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]digest.Digest{}
	for _, r := range refs {
		out[r.Annotations[ocispec.AnnotationRefName]] = r.Digest
	}
	return out
}
