package tarball

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// smallImagesTar returns a layout tarball of n small images as scripts/bench-scale.sh makes
// them (index -> manifest -> image config + one 1 KiB layer: 4n blobs), each named.
func smallImagesTar(tb testing.TB, n int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o444, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			tb.Fatal(err)
		}
	}
	put := func(mt string, data []byte) ocispec.Descriptor {
		d := digest.FromBytes(data)
		add("blobs/sha256/"+d.Encoded(), data)
		return ocispec.Descriptor{MediaType: mt, Digest: d, Size: int64(len(data))}
	}
	putJSON := func(mt string, v any) ocispec.Descriptor {
		data, err := json.Marshal(v)
		if err != nil {
			tb.Fatal(err)
		}
		return put(mt, data)
	}
	add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	var entries []ocispec.Descriptor
	for i := range n {
		layer := put(ocispec.MediaTypeImageLayer, bytes.Repeat([]byte(fmt.Sprintf("%08d", i)), 128))
		cfg := putJSON(ocispec.MediaTypeImageConfig, map[string]any{"architecture": "amd64", "os": "linux",
			"rootfs": map[string]any{"type": "layers", "diff_ids": []string{string(layer.Digest)}}})
		m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}}
		m.SchemaVersion = 2
		md := putJSON(ocispec.MediaTypeImageManifest, m)
		md.Platform = &ocispec.Platform{Architecture: "amd64", OS: "linux"}
		idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{md}}
		idx.SchemaVersion = 2
		e := putJSON(ocispec.MediaTypeImageIndex, idx)
		e.Annotations = map[string]string{ocispec.AnnotationRefName: fmt.Sprintf("example.com/scale/img-%d:v1", i)}
		entries = append(entries, e)
	}
	top := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: entries}
	top.SchemaVersion = 2
	data, err := json.Marshal(top)
	if err != nil {
		tb.Fatal(err)
	}
	add("index.json", data)
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkImportSmallImages imports a tarball of 2,000 small images (8,000 blobs) into a fresh
// layout: issue 12's import at scale, where the cost is per blob and per document (each staged
// document read and decoded once, no per-blob fsync), not per byte.
func BenchmarkImportSmallImages(b *testing.B) {
	const n = 2000
	data := smallImagesTar(b, n)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	i := 0
	for b.Loop() {
		dir := filepath.Join(b.TempDir(), fmt.Sprint(i))
		i++
		res, err := Import(ctx, dir, bytes.NewReader(data), ImportOptions{})
		if err != nil || res.Added != n {
			b.Fatalf("Import = %+v, %v", res, err)
		}
		b.StopTimer()
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(4*n), "ns/blob")
}
