package registry

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/internal/registrytest"
	"github.com/gadgetpack/gadgetpack/layout"
)

// benchBytesEnv sets the size of the benchmark layout; `make bench` sets 1 GiB.
const benchBytesEnv = "GADGETPACK_BENCH_BYTES"

// benchImage writes an image of about GADGETPACK_BENCH_BYTES (default 64 MiB) in 16 layers and
// returns the layout and its size.
func benchImage(b *testing.B) (*layout.Store, int64) {
	b.Helper()
	total := int64(64 << 20)
	if v := os.Getenv(benchBytesEnv); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1<<20 {
			b.Fatalf("%s=%q: want a number of bytes of at least 1 MiB", benchBytesEnv, v)
		}
		total = n
	}
	s := newLayout(b)
	const layers = 16
	im := writeImageLayers(b, s, "example.com/bench:v1", int(total/layers), layers)
	var size int64
	for _, d := range im.blobs {
		size += d.Size
	}
	return s, size
}

// writeImageLayers writes an image index of n manifests, each with a config and one layer of
// layerSize bytes, tags it ref and returns it.
func writeImageLayers(b *testing.B, s *layout.Store, ref string, layerSize, n int) testImage {
	b.Helper()
	var im testImage
	var manifests []ocispec.Descriptor
	for i := 0; i < n; i++ {
		cfg := writeBlob(b, s, "application/vnd.example.config.v1+json", []byte(fmt.Sprintf(`{"part":%d}`, i)))
		layer := writeBlob(b, s, "application/vnd.example.layer.v1", pseudoRandom(fmt.Sprintf("bench-%d", i), layerSize))
		m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}}
		m.SchemaVersion = 2
		md := writeJSON(b, s, ocispec.MediaTypeImageManifest, m)
		manifests = append(manifests, md)
		im.blobs = append(im.blobs, md, cfg, layer)
		im.layers = append(im.layers, layer)
	}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: manifests}
	idx.SchemaVersion = 2
	im.index = writeJSON(b, s, ocispec.MediaTypeImageIndex, idx)
	im.blobs = append([]ocispec.Descriptor{im.index}, im.blobs...)
	if err := s.Tag(b.Context(), im.index, ref); err != nil {
		b.Fatal(err)
	}
	return im
}

// BenchmarkPush pushes the benchmark image to a local docker-registry, a new repository each
// time (nothing to skip).
func BenchmarkPush(b *testing.B) {
	r := registrytest.Start(b, registrytest.Options{})
	s, size := benchImage(b)
	b.ReportAllocs()
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Push(b.Context(), s, "example.com/bench:v1", r.Ref(fmt.Sprintf("bench/push%d:v1", i)), plain(r)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPull pulls the benchmark image from a local docker-registry into a new layout each
// time.
func BenchmarkPull(b *testing.B) {
	r := registrytest.Start(b, registrytest.Options{})
	s, size := benchImage(b)
	if _, err := Push(b.Context(), s, "example.com/bench:v1", r.Ref("bench/pull:v1"), plain(r)); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	b.ReportAllocs()
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst := filepath.Join(dir, strconv.Itoa(i))
		if _, err := Pull(b.Context(), dst, r.Ref("bench/pull:v1"), "", plain(r)); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := os.RemoveAll(dst); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
