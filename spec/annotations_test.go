package spec

import (
	"encoding/json"
	"maps"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestAnnotations(t *testing.T) {
	paris := time.FixedZone("CEST", 2*3600)
	created := time.Date(2025, 10, 20, 15, 28, 46, 999_999_999, paris)
	const createdUTC = "2025-10-20T13:28:46Z"
	full := &Metadata{
		Name: "trace_exec", Description: "d", HomepageURL: "https://h", DocumentationURL: "https://d",
		SourceURL: "https://s", Annotations: map[string]string{"io.x": "1"},
	}
	for _, tc := range []struct {
		name  string
		m     *Metadata
		extra map[string]string
		want  map[string]string
	}{
		{"no metadata: created only, as ig", nil, nil, map[string]string{AnnotationCreated: createdUTC}},
		{"no metadata with extra", nil, map[string]string{"k": "v"}, map[string]string{AnnotationCreated: createdUTC, "k": "v"}},
		{"all fields", full, nil, map[string]string{
			AnnotationTitle: "trace_exec", AnnotationDescription: "d", AnnotationURL: "https://h",
			AnnotationDocumentation: "https://d", AnnotationSource: "https://s", AnnotationCreated: createdUTC, "io.x": "1",
		}},
		{"empty fields are written as empty strings, as ig", &Metadata{Name: "n"}, nil, map[string]string{
			AnnotationTitle: "n", AnnotationDescription: "", AnnotationURL: "", AnnotationDocumentation: "",
			AnnotationSource: "", AnnotationCreated: createdUTC,
		}},
		{"metadata annotations override fields but not created", &Metadata{Name: "n", Annotations: map[string]string{
			AnnotationTitle: "other", AnnotationCreated: "1999-01-01T00:00:00Z",
		}}, nil, map[string]string{
			AnnotationTitle: "other", AnnotationDescription: "", AnnotationURL: "", AnnotationDocumentation: "",
			AnnotationSource: "", AnnotationCreated: createdUTC,
		}},
		{"extra overrides everything", &Metadata{Name: "n"}, map[string]string{AnnotationTitle: "t", AnnotationCreated: "c"}, map[string]string{
			AnnotationTitle: "t", AnnotationDescription: "", AnnotationURL: "", AnnotationDocumentation: "",
			AnnotationSource: "", AnnotationCreated: "c",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Annotations(tc.m, created, tc.extra)
			if !maps.Equal(got, tc.want) {
				t.Fatalf("got %v\nwant %v", got, tc.want)
			}
			got["mutated"] = "yes"
			if tc.m != nil && tc.m.Annotations["mutated"] != "" || tc.extra["mutated"] != "" {
				t.Fatal("Annotations returned a map shared with its input")
			}
		})
	}
}

// TestAnnotationsMatchIG rebuilds the annotations of manifests ig wrote from their config
// blobs: the same keys and values, created aside (ig wrote local time, we write UTC).
func TestAnnotationsMatchIG(t *testing.T) {
	store := readLayoutDir(t, interopPath(t, "ig-store"))
	export := readLayoutTar(t, interopPath(t, "ig-export/trace_open.tar"))
	for _, tc := range []struct {
		name     string
		set      *blobSet
		manifest string
	}{
		{"ig-store unsigned", store, "sha256:f04a4a04a15fef85a1438a2b7079c2bbc81a822acee2fb9c4827ae1709f3101f"},
		{"ig-store notation", store, "sha256:6bde71ca5eb6c2a358f73deb52389039bb3fe2c6960bd37466ef79bd7264a430"},
		{"ig-export trace_open amd64", export, "sha256:20a6646251ab1273da15f6f3588a8fef4c6934f3dd88937db93a61dd652c66df"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m ocispec.Manifest
			if err := json.Unmarshal(tc.set.blobs[digestOf(tc.manifest)], &m); err != nil {
				t.Fatal(err)
			}
			md, err := ParseMetadata(tc.set.blobs[m.Config.Digest])
			if err != nil {
				t.Fatal(err)
			}
			igCreated, err := time.Parse(time.RFC3339, m.Annotations[AnnotationCreated])
			if err != nil {
				t.Fatal(err)
			}
			extra := map[string]string{}
			if v, ok := m.Annotations["io.inspektor-gadget.builder.version"]; ok {
				extra["io.inspektor-gadget.builder.version"] = v
			}
			got := Annotations(md, igCreated, extra)
			gotCreated, err := time.Parse(time.RFC3339, got[AnnotationCreated])
			if err != nil || !gotCreated.Equal(igCreated) || gotCreated.Location() != time.UTC {
				t.Errorf("created %q (%v), want the instant %q in UTC", got[AnnotationCreated], err, m.Annotations[AnnotationCreated])
			}
			want := maps.Clone(m.Annotations)
			delete(want, AnnotationCreated)
			delete(got, AnnotationCreated)
			if !maps.Equal(got, want) {
				t.Fatalf("got %v\nig wrote %v", got, want)
			}
			if !maps.Equal(m.Annotations, m.Config.Annotations) {
				t.Errorf("ig's config descriptor annotations differ from the manifest's; the contract of Annotations assumes one map")
			}
		})
	}
}

func BenchmarkAnnotations(b *testing.B) {
	m := &Metadata{Name: "n", Description: "d", Annotations: map[string]string{"a": "b"}}
	created := time.Unix(0, 0)
	b.ReportAllocs()
	for b.Loop() {
		Annotations(m, created, nil)
	}
}
