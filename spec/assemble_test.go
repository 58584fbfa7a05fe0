package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func layer(mediaType, content string) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromString(content), Size: int64(len(content))}
}

func TestManifestGolden(t *testing.T) {
	config := configDescriptor([]byte("name: x\n"))
	config.Annotations = map[string]string{AnnotationTitle: "x"}
	got, err := Manifest(config, []ocispec.Descriptor{layer(MediaTypeEBPF, "elf"), layer(MediaTypeBTFGen, "tgz")},
		map[string]string{AnnotationTitle: "x", AnnotationCreated: "1970-01-01T00:00:00Z", "a&b": "<c>"})
	if err != nil {
		t.Fatal(err)
	}
	var back ocispec.Manifest
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	want := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.gadget.v1+binary","config":{"mediaType":"application/vnd.gadget.config.v1+yaml","digest":"` +
		config.Digest.String() + `","size":8,"annotations":{"org.opencontainers.image.title":"x"}},"layers":[{"mediaType":"application/vnd.gadget.ebpf.program.v1+binary","digest":"` +
		digest.FromString("elf").String() + `","size":3},{"mediaType":"application/vnd.gadget.btfgen.v1+binary","digest":"` +
		digest.FromString("tgz").String() + `","size":3}],"annotations":{"a\u0026b":"\u003cc\u003e","org.opencontainers.image.created":"1970-01-01T00:00:00Z","org.opencontainers.image.title":"x"}}`
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	again, _ := Manifest(config, []ocispec.Descriptor{layer(MediaTypeEBPF, "elf"), layer(MediaTypeBTFGen, "tgz")},
		map[string]string{"a&b": "<c>", AnnotationCreated: "1970-01-01T00:00:00Z", AnnotationTitle: "x"})
	if !bytes.Equal(got, again) {
		t.Fatal("Manifest is not deterministic")
	}
}

func TestManifestNoMetadataNoLayers(t *testing.T) {
	got, err := Manifest(EmptyConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.gadget.v1+binary",` +
		`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="},"layers":[]}`
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	e := EmptyConfig()
	e.Data[0] = 'x'
	if ocispec.DescriptorEmptyJSON.Data[0] != '{' {
		t.Fatal("EmptyConfig shares its data with ocispec.DescriptorEmptyJSON")
	}
}

// TestManifestIndexMatchIG rebuilds ig's own manifests and indexes from their parts: the bytes
// must be ig's, plus the mediaType ig leaves out of manifests.
func TestManifestIndexMatchIG(t *testing.T) {
	store := readLayoutDir(t, interopPath(t, "ig-store"))
	export := readLayoutTar(t, interopPath(t, "ig-export/trace_open.tar"))
	for _, tc := range []struct {
		name   string
		set    *blobSet
		digest string
	}{
		{"ig-store manifest", store, "sha256:f04a4a04a15fef85a1438a2b7079c2bbc81a822acee2fb9c4827ae1709f3101f"},
		{"ig-store manifest 2", store, "sha256:f84cf5fdcd2d900633996bcbb93536efd3669f318586a20951c8e74a344f1ffd"},
		{"trace_open amd64 manifest (before artifactType)", export, "sha256:20a6646251ab1273da15f6f3588a8fef4c6934f3dd88937db93a61dd652c66df"},
		{"ig-store index", store, "sha256:f34a362f177727ed3f12eadc1f255ffe6a19190ab82d48df98c19f1bddc3b86a"},
		{"ig-store index 2", store, "sha256:7418beed5ba60cb39d90e819b07c8ceb078a8dbedbdca53a8e9b01b3628fb988"},
		{"trace_open index", export, "sha256:87c3ecca8d843f2e08382836cb0eff718fa5c56d786c73e2674d7e9db13a1ac7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blob := tc.set.blobs[digestOf(tc.digest)]
			var probe struct {
				Manifests []ocispec.Descriptor `json:"manifests"`
			}
			if err := json.Unmarshal(blob, &probe); err != nil {
				t.Fatal(err)
			}
			var got, want []byte
			if probe.Manifests != nil {
				var idx ocispec.Index
				if err := json.Unmarshal(blob, &idx); err != nil {
					t.Fatal(err)
				}
				var err error
				if got, err = Index(idx.Manifests, idx.Annotations); err != nil {
					t.Fatal(err)
				}
				want = blob
			} else {
				var m ocispec.Manifest
				if err := json.Unmarshal(blob, &m); err != nil {
					t.Fatal(err)
				}
				var err error
				if got, err = Manifest(m.Config, m.Layers, m.Annotations); err != nil {
					t.Fatal(err)
				}
				want = bytes.Replace(blob, []byte(`{"schemaVersion":2,`),
					[]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`), 1)
				if m.ArtifactType == "" {
					want = bytes.Replace(want, []byte(`manifest.v1+json",`), []byte(`manifest.v1+json","artifactType":"application/vnd.gadget.v1+binary",`), 1)
				}
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("got\n%s\nig wrote (adjusted)\n%s", got, want)
			}
		})
	}
}

func TestIndexSorts(t *testing.T) {
	m := func(arch, content string) ocispec.Descriptor {
		d := layer(ocispec.MediaTypeImageManifest, content)
		d.Platform = &ocispec.Platform{Architecture: arch, OS: "linux"}
		d.ArtifactType = MediaTypeArtifact
		return d
	}
	a, b := m("arm64", "a"), m("amd64", "b")
	got1, err := Index([]ocispec.Descriptor{a, b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got2, err := Index([]ocispec.Descriptor{b, a}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got1, got2) {
		t.Fatal("the order of entries changes the index")
	}
	var idx ocispec.Index
	if err := json.Unmarshal(got1, &idx); err != nil {
		t.Fatal(err)
	}
	if idx.MediaType != ocispec.MediaTypeImageIndex || idx.SchemaVersion != 2 || len(idx.Manifests) != 2 ||
		idx.Manifests[0].Platform.Architecture != "amd64" || idx.Annotations != nil {
		t.Fatalf("index %s", got1)
	}
	one, err := Index([]ocispec.Descriptor{a}, map[string]string{"k": "v"})
	if err != nil || !strings.Contains(string(one), `"annotations":{"k":"v"}`) {
		t.Fatalf("single-arch index %s, %v", one, err)
	}
}

func TestManifestBad(t *testing.T) {
	ebpf, wasm, btfgen := layer(MediaTypeEBPF, "e"), layer(MediaTypeWasm, "w"), layer(MediaTypeBTFGen, "b")
	config := configDescriptor([]byte("name: x\n"))
	badDigest := ebpf
	badDigest.Digest = "sha256:1234"
	empty := ebpf
	empty.Size = 0
	fakeEmpty := EmptyConfig()
	fakeEmpty.Size = 3
	for _, tc := range []struct {
		name   string
		config ocispec.Descriptor
		layers []ocispec.Descriptor
		why    string
	}{
		{"image config", ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: config.Digest, Size: 8}, nil, "config: media type"},
		{"not the empty descriptor", fakeEmpty, nil, "the empty descriptor is"},
		{"config with a bad digest", ocispec.Descriptor{MediaType: MediaTypeConfig, Digest: "md5:x", Size: 1}, nil, `config: digest "md5:x"`},
		{"empty metadata", ocispec.Descriptor{MediaType: MediaTypeConfig, Digest: digest.FromString(""), Size: 0}, nil, "size 0"},
		{"container layer", config, []ocispec.Descriptor{ebpf, layer(ocispec.MediaTypeImageLayerGzip, "x")}, "layers[1]: media type"},
		{"two eBPF layers", config, []ocispec.Descriptor{ebpf, ebpf}, "layers[1]: a second"},
		{"wasm before eBPF", config, []ocispec.Descriptor{wasm, ebpf}, "layers[1]: " + MediaTypeEBPF + " after " + MediaTypeWasm},
		{"btfgen before wasm", config, []ocispec.Descriptor{ebpf, btfgen, wasm}, "layers[2]"},
		{"bad layer digest", config, []ocispec.Descriptor{badDigest}, `layers[0]: digest "sha256:1234"`},
		{"empty layer", config, []ocispec.Descriptor{empty}, "layers[0]: " + empty.Digest.String() + ": size 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Manifest(tc.config, tc.layers, nil)
			if !errors.Is(err, ErrBadDescriptor) || got != nil || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("Manifest: %v; want ErrBadDescriptor saying %q", err, tc.why)
			}
		})
	}
}

func TestIndexBad(t *testing.T) {
	m := func(arch, os string) ocispec.Descriptor {
		d := layer(ocispec.MediaTypeImageManifest, "manifest "+arch+os)
		if arch != "" {
			d.Platform = &ocispec.Platform{Architecture: arch, OS: os}
		}
		return d
	}
	nested := m("amd64", "linux")
	nested.MediaType = ocispec.MediaTypeImageIndex
	signature := m("amd64", "linux")
	signature.ArtifactType = "application/vnd.cncf.notary.signature"
	for _, tc := range []struct {
		name    string
		entries []ocispec.Descriptor
		why     string
	}{
		{"no entries", nil, "no manifest"},
		{"no platform", []ocispec.Descriptor{m("", "")}, "manifests[0]: no platform"},
		{"uname name", []ocispec.Descriptor{m("x86_64", "linux")}, "platform linux/x86_64"},
		{"other os", []ocispec.Descriptor{m("amd64", "windows")}, "platform windows/amd64"},
		{"other arch", []ocispec.Descriptor{m("riscv64", "linux")}, "platform linux/riscv64"},
		{"two amd64", []ocispec.Descriptor{m("amd64", "linux"), m("arm64", "linux"), m("amd64", "linux")}, "manifests[2]: a second amd64"},
		{"nested index", []ocispec.Descriptor{nested}, "media type"},
		{"other artifact", []ocispec.Descriptor{signature}, "artifactType"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Index(tc.entries, nil)
			if !errors.Is(err, ErrBadDescriptor) || got != nil || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("Index: %v; want ErrBadDescriptor saying %q", err, tc.why)
			}
		})
	}
}

func BenchmarkManifest(b *testing.B) {
	config := configDescriptor([]byte("name: x\n"))
	layers := []ocispec.Descriptor{layer(MediaTypeEBPF, "e"), layer(MediaTypeWasm, "w"), layer(MediaTypeBTFGen, "b")}
	annotations := Annotations(&Metadata{Name: "x"}, time.Unix(0, 0), nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Manifest(config, layers, annotations); err != nil {
			b.Fatal(err)
		}
	}
}

// configDescriptor is the config descriptor of metadata stored byte for byte as the config blob.
func configDescriptor(metadata []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: MediaTypeConfig, Digest: digest.FromBytes(metadata), Size: int64(len(metadata))}
}
