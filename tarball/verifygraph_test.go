package tarball

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/layout"
)

// TestVerifyManyPlatforms verifies a tarball whose index lists one manifest 10,000 times, each
// with its own platform: the rule func runs once per platform, and telling the platforms apart
// takes linear time (a scan of the platforms seen per entry made it 50 million rule keys).
func TestVerifyManyPlatforms(t *testing.T) {
	const n = 10_000
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	blob := func(mt string, v any) ocispec.Descriptor {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		dg := digest.FromBytes(data)
		add("blobs/sha256/"+dg.Encoded(), data)
		return ocispec.Descriptor{MediaType: mt, Digest: dg, Size: int64(len(data))}
	}
	v2 := specs.Versioned{SchemaVersion: 2}
	add("blobs/sha256/"+ocispec.DescriptorEmptyJSON.Digest.Encoded(), []byte("{}"))
	man := blob(ocispec.MediaTypeImageManifest, ocispec.Manifest{Versioned: v2, MediaType: ocispec.MediaTypeImageManifest, Config: ocispec.DescriptorEmptyJSON, Layers: []ocispec.Descriptor{}})
	entries := make([]ocispec.Descriptor, n)
	for i := range entries {
		entries[i] = man
		entries[i].Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64", Variant: fmt.Sprintf("v%d", i)}
	}
	idx := blob(ocispec.MediaTypeImageIndex, ocispec.Index{Versioned: v2, MediaType: ocispec.MediaTypeImageIndex, Manifests: entries})
	idx.Annotations = map[string]string{ocispec.AnnotationRefName: "many"}
	top, _ := json.Marshal(ocispec.Index{Versioned: v2, Manifests: []ocispec.Descriptor{idx}})
	add(layout.LayoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`))
	add(layout.IndexFile, top)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	c := &vfCount{}
	opts := layout.VerifyOptions{CheckManifest: func(context.Context, ocispec.Descriptor, ocispec.Manifest, layout.FetchFunc) []error {
		c.add()
		return nil
	}}
	rep, err := Verify(t.Context(), bytes.NewReader(buf.Bytes()), VerifyOptions{VerifyOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	// Once per platform, and once more for the manifest as it passed before its index.
	if !rep.OK || c.get() < n || c.get() > n+1 {
		t.Fatalf("ok %v, %d rule calls, want %d: %v", rep.OK, c.get(), n, rep.Problems)
	}
}
