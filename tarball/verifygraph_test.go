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

// TestRuleID checks that ruleIDOf tells descriptors apart as ruleKey (layout.Verify's key of
// rule calls) does, and that it allocates nothing: a verify holds one per manifest.
func TestRuleID(t *testing.T) {
	dg := digest.FromString("m")
	plat := func(p ocispec.Platform) ocispec.Descriptor {
		return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: dg, Size: 10, Platform: &p}
	}
	bare := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: dg, Size: 10}
	for _, tc := range []struct {
		name string
		a, b ocispec.Descriptor
	}{
		{"same bare", bare, bare},
		{"bare and empty platform", bare, plat(ocispec.Platform{})},
		{"other digest", bare, ocispec.Descriptor{Digest: digest.FromString("n")}},
		{"same platform", plat(ocispec.Platform{OS: "linux", Architecture: "amd64"}), plat(ocispec.Platform{OS: "linux", Architecture: "amd64"})},
		{"fields shifted", plat(ocispec.Platform{OS: "linux", Architecture: "amd6"}), plat(ocispec.Platform{OS: "4linux", Architecture: "amd"})},
		{"variant", plat(ocispec.Platform{OS: "linux", Architecture: "arm64"}), plat(ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"})},
		{"os version", plat(ocispec.Platform{OS: "windows", OSVersion: "10"}), plat(ocispec.Platform{OS: "windows", OSVersion: "11"})},
		{"features nil and empty", plat(ocispec.Platform{OS: "linux"}), plat(ocispec.Platform{OS: "linux", OSFeatures: []string{}})},
		{"features", plat(ocispec.Platform{OS: "linux", OSFeatures: []string{"a", "b"}}), plat(ocispec.Platform{OS: "linux", OSFeatures: []string{"ab"}})},
		{"media type and size aside", bare, ocispec.Descriptor{Digest: dg}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if keys, ids := ruleKey(tc.a) == ruleKey(tc.b), ruleIDOf(tc.a) == ruleIDOf(tc.b); keys != ids {
				t.Fatalf("ruleKey equal %v, ruleID equal %v", keys, ids)
			}
		})
	}
	desc := plat(ocispec.Platform{OS: "linux", Architecture: "amd64", OSFeatures: []string{"sse4"}})
	if n := testing.AllocsPerRun(100, func() { _ = ruleIDOf(desc) }); n != 0 {
		t.Fatalf("ruleIDOf allocates %v times", n)
	}
}

// ruleKey is the string key of a CheckManifest call that ruleID replaced (the digest, then the
// platform's JSON): TestRuleID's reference.
func ruleKey(desc ocispec.Descriptor) string {
	key := string(desc.Digest)
	if desc.Platform != nil {
		p, _ := json.Marshal(desc.Platform)
		key += string(p)
	}
	return key
}
