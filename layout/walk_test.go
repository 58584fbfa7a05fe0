package layout

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestSuccessors(t *testing.T) {
	s := newStore(t)
	im := buildImage(t, s, "x")
	subject := im.manifests[0]
	ref := ocispec.Manifest{
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.DescriptorEmptyJSON,
		Layers:    []ocispec.Descriptor{},
		Subject:   &subject,
	}
	ref.SchemaVersion = 2
	empty := writeBlob(t, s, ocispec.MediaTypeEmptyJSON, []byte("{}"))
	refDesc := writeJSON(t, s, ocispec.MediaTypeImageManifest, ref)
	docker := writeBlob(t, s, mediaTypeDockerList, []byte(`{"schemaVersion":2,"mediaType":"`+mediaTypeDockerList+`","manifests":[{"mediaType":"`+mediaTypeDockerManifest+`","digest":"`+string(im.manifests[1].Digest)+`","size":1}]}`))
	for _, tc := range []struct {
		name string
		desc ocispec.Descriptor
		want []digest.Digest
	}{
		{"index", im.index, []digest.Digest{im.manifests[0].Digest, im.manifests[1].Digest}},
		{"manifest: config then layers", im.manifests[1], []digest.Digest{im.configs[1].Digest, im.layers[2].Digest, im.layers[3].Digest}},
		{"referrer: subject is not a successor", refDesc, []digest.Digest{empty.Digest}},
		{"docker manifest list", docker, []digest.Digest{im.manifests[1].Digest}},
		{"layer", im.layers[0], nil},
		{"config", im.configs[0], nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Successors(t.Context(), s.Fetch, tc.desc)
			if err != nil {
				t.Fatal(err)
			}
			var ds []digest.Digest
			for _, d := range got {
				ds = append(ds, d.Digest)
			}
			if !slices.Equal(ds, tc.want) {
				t.Fatalf("Successors = %v, want %v", ds, tc.want)
			}
		})
	}
}

func TestSuccessorsErrors(t *testing.T) {
	s := newStore(t)
	big := writeBlob(t, s, ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"x":"`+strings.Repeat("a", MaxJSONBytes)+`"}`))
	for _, tc := range []struct {
		name    string
		doc     string
		wantErr error
	}{
		{"not JSON", `{"schemaVersion":`, ErrBadManifest},
		{"an array", `[]`, ErrBadManifest},
		{"layers of the wrong type", `{"schemaVersion":2,"layers":{}}`, ErrBadManifest},
		{"bad child digest", `{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"sha256:12","size":1},"layers":[]}`, ErrInvalidDigest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			desc := writeBlob(t, s, ocispec.MediaTypeImageManifest, []byte(tc.doc))
			got, err := Successors(t.Context(), s.Fetch, desc)
			if !errors.Is(err, tc.wantErr) || got != nil {
				t.Fatalf("Successors = %v, %v; want %v", got, err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), string(desc.Digest)) {
				t.Errorf("error %q does not name %s", err, desc.Digest)
			}
		})
	}
	if _, err := Successors(t.Context(), s.Fetch, big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Successors of a manifest over the cap: %v", err)
	}
}

func TestWalk(t *testing.T) {
	s := newStore(t)
	im := buildImage(t, s, "x")
	var seen []string
	err := Walk(t.Context(), s.Fetch, im.index, func(_ context.Context, desc ocispec.Descriptor, at Location) error {
		seen = append(seen, at.String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"",
		"manifests[0](" + short(im.manifests[0].Digest) + ")",
		"manifests[0](" + short(im.manifests[0].Digest) + ") > config(" + short(im.configs[0].Digest) + ")",
		"manifests[0](" + short(im.manifests[0].Digest) + ") > layers[0](" + short(im.layers[0].Digest) + ")",
		"manifests[0](" + short(im.manifests[0].Digest) + ") > layers[1](" + short(im.layers[1].Digest) + ")",
		"manifests[1](" + short(im.manifests[1].Digest) + ")",
		"manifests[1](" + short(im.manifests[1].Digest) + ") > config(" + short(im.configs[1].Digest) + ")",
		"manifests[1](" + short(im.manifests[1].Digest) + ") > layers[0](" + short(im.layers[2].Digest) + ")",
		"manifests[1](" + short(im.manifests[1].Digest) + ") > layers[1](" + short(im.layers[3].Digest) + ")",
	}
	if !slices.Equal(seen, want) {
		t.Fatalf("Walk order:\n%s\nwant\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}

	// A missing manifest stops the walk with the path to it and the digest.
	os.Remove(filepath.Join(s.Path(), "blobs", "sha256", im.manifests[1].Digest.Encoded()))
	err = Walk(t.Context(), s.Fetch, im.index, func(context.Context, ocispec.Descriptor, Location) error { return nil })
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "manifests[1]("+short(im.manifests[1].Digest)+")") || !strings.Contains(err.Error(), string(im.manifests[1].Digest)) {
		t.Fatalf("Walk over a missing manifest: %v", err)
	}
	// fn's error stops it too.
	stop := errors.New("stop")
	err = Walk(t.Context(), s.Fetch, im.index, func(_ context.Context, d ocispec.Descriptor, _ Location) error {
		if d.Digest == im.layers[1].Digest {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Walk: %v, want fn's error", err)
	}
}

// FuzzManifestJSON parses manifest and index blobs as Successors, gc and Verify do: no panic,
// no result with an error, and Verify's checks of the document do not panic either.
func FuzzManifestJSON(f *testing.F) {
	if ents, err := os.ReadDir(filepath.Join(igStore, "blobs", "sha256")); err == nil {
		for _, e := range ents {
			data, err := os.ReadFile(filepath.Join(igStore, "blobs", "sha256", e.Name()))
			if err == nil && isJSONObject(data) {
				f.Add(data)
			}
		}
	}
	for _, name := range []string{"testdata/manifest-gadget.json", "testdata/index-foreign.json"} {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"schemaVersion":2,"layers":null,"manifests":null,"subject":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := decodeDoc(data)
		if err != nil {
			if d != nil {
				t.Fatal("a result with an error")
			}
			return
		}
		for _, mt := range []string{ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex} {
			_ = d.children(mt)
			v := &verifier{blobs: map[digest.Digest]*blobFile{}}
			desc := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(data), Size: int64(len(data))}
			v.checkManifestShape(d, desc, labelLocation("x"))
			v.checkIndexShape(d, labelLocation("x"), mt, false)
			if d.Subject != nil {
				v.checkSubject(*d.Subject, labelLocation("x"))
			}
		}
		_ = d.manifest()
		_ = d.index()
	})
}

// FuzzDecodeDocListFields is differential: the presence and nullness decodeDoc gives the list
// fields (from its one decode) is what a second decode of their raw JSON says, as decodeDoc
// made it before.
func FuzzDecodeDocListFields(f *testing.F) {
	for _, s := range []string{
		`{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"sha256:` + strings.Repeat("0", 64) + `","size":1},"layers":[]}`,
		`{"schemaVersion":2,"manifests":[]}`,
		`{"schemaVersion":2,"layers":[],"manifests":[]}`,
		`{"schemaVersion":2}`,
		`{"schemaVersion":2,"layers":null}`,
		`{"schemaVersion":2,"Layers":[]}`,
		`{"schemaVersion":2,"manifests":{}}`,
		`{"schemaVersion":2,"layers":[{"mediaType":"a/b","digest":"sha256:` + strings.Repeat("1", 64) + `","size":2}]}`,
	} {
		f.Add([]byte(s))
	}
	for _, name := range []string{"testdata/manifest-gadget.json", "testdata/index-foreign.json"} {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := decodeDoc(data)
		if err != nil {
			return
		}
		var raw struct {
			Layers    json.RawMessage `json:"layers"`
			Manifests json.RawMessage `json:"manifests"`
		}
		if err := json.Unmarshal(data, &raw); err != nil {
			t.Fatalf("decodeDoc accepts what a decode of the list fields refuses: %v", err)
		}
		want := func(r json.RawMessage) listField { return listField{present: r != nil, null: string(r) == "null"} }
		if d.layers != want(raw.Layers) || d.manifests != want(raw.Manifests) {
			t.Fatalf("layers %+v manifests %+v, the raw decode says %+v %+v", d.layers, d.manifests, want(raw.Layers), want(raw.Manifests))
		}
	})
}
