package layout

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gadgetpack/gadgetpack/internal/strictjson"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestAmbiguousDocuments checks that every parser of this package refuses the documents that
// another parser would read differently, naming the key and where it is.
func TestAmbiguousDocuments(t *testing.T) {
	const d = `"sha256:0000000000000000000000000000000000000000000000000000000000000000"`
	entry := `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":` + d + `,"size":1}`
	index := func(s string) []byte { return []byte(`{"schemaVersion":2,` + s + `}`) }
	parseIndexJSONErr := func(data []byte) error { _, err := parseIndexJSON(data); return err }
	parseIndexErr := func(data []byte) error { _, err := ParseIndex(data); return err }
	decodeDocErr := func(data []byte) error { _, err := decodeDoc(data); return err }
	layoutFileErr := func(data []byte) error { return parseLayoutFile("/l", data) }
	for _, tc := range []struct {
		name      string
		parse     func([]byte) error
		data      []byte
		sentinels []error
		msg       string
	}{
		{"index.json duplicate manifests", parseIndexJSONErr, index(`"manifests":[],"manifests":[` + entry + `]`), []error{ErrBadIndex, strictjson.ErrDuplicateKey}, `index.json: duplicate key "manifests" at $ `},
		{"index.json duplicate digest", parseIndexJSONErr, index(`"manifests":[{"digest":` + d + `,"size":1,"mediaType":"a/b","digest":"sha256:1"}]`), []error{ErrBadIndex, strictjson.ErrDuplicateKey}, `duplicate key "digest" at $.manifests[0]`},
		{"index.json duplicate ref name", parseIndexJSONErr, index(`"manifests":[{"digest":` + d + `,"size":1,"mediaType":"a/b","annotations":{"org.opencontainers.image.ref.name":"a","org.opencontainers.image.ref.name":"b"}}]`), []error{ErrBadIndex, strictjson.ErrDuplicateKey}, `duplicate key "org.opencontainers.image.ref.name" at $.manifests[0].annotations`},
		{"index.json null manifests", parseIndexJSONErr, index(`"manifests":null`), []error{ErrBadIndex, strictjson.ErrNull}, `null "manifests" at $`},
		{"index.json BOM", parseIndexJSONErr, append([]byte("\xef\xbb\xbf"), index(`"manifests":[]`)...), []error{ErrBadIndex, strictjson.ErrBOM}, `index.json: byte order mark`},
		{"index.json case variant", parseIndexJSONErr, index(`"manifests":[],"Manifests":[` + entry + `]`), []error{ErrBadIndex, strictjson.ErrCaseVariant}, `key "Manifests" differs only in case from "manifests" at $`},
		{"index.json case variant alone", parseIndexJSONErr, index(`"MANIFESTS":[` + entry + `]`), []error{ErrBadIndex, strictjson.ErrCaseVariant}, `"MANIFESTS"`},
		{"index.json trailing data", parseIndexJSONErr, index(`"manifests":[]` + "} {"), []error{ErrBadIndex, strictjson.ErrSyntax}, `data after the document`},
		{"stream index.json duplicate manifests", parseIndexErr, index(`"manifests":[],"manifests":[` + entry + `]`), []error{ErrBadIndex, strictjson.ErrDuplicateKey}, `index.json: duplicate key "manifests" at $`},
		{"stream index.json invalid UTF-8 ref", parseIndexErr, index(`"manifests":[{"digest":` + d + `,"size":1,"mediaType":"a/b","annotations":{"org.opencontainers.image.ref.name":"a` + "\xff" + `"}}]`), []error{ErrBadIndex, strictjson.ErrInvalidUTF8}, `at $.manifests[0].annotations`},
		{"manifest null layers", decodeDocErr, []byte(`{"schemaVersion":2,"config":` + entry + `,"layers":null}`), []error{ErrBadManifest, strictjson.ErrNull}, `null "layers" at $`},
		{"manifest duplicate config", decodeDocErr, []byte(`{"schemaVersion":2,"config":` + entry + `,"layers":[],"config":` + entry + `}`), []error{ErrBadManifest, strictjson.ErrDuplicateKey}, `duplicate key "config" at $`},
		{"index null subject", decodeDocErr, []byte(`{"schemaVersion":2,"manifests":[],"subject":null}`), []error{ErrBadManifest, strictjson.ErrNull}, `null "subject"`},
		{"manifest case variant digest", decodeDocErr, []byte(`{"schemaVersion":2,"config":{"mediaType":"a/b","digest":` + d + `,"Digest":` + d + `,"size":1},"layers":[]}`), []error{ErrBadManifest, strictjson.ErrCaseVariant}, `at $.config`},
		{"oci-layout duplicate imageLayoutVersion", layoutFileErr, []byte(`{"imageLayoutVersion":"1.0.0","imageLayoutVersion":"9"}`), []error{ErrNotLayout, strictjson.ErrDuplicateKey}, `oci-layout: duplicate key "imageLayoutVersion" at $`},
		{"oci-layout BOM", layoutFileErr, []byte("\xef\xbb\xbf{\"imageLayoutVersion\":\"1.0.0\"}"), []error{ErrNotLayout, strictjson.ErrBOM}, `oci-layout: byte order mark`},
		{"stream oci-layout case variant", CheckLayoutFile, []byte(`{"imageLayoutVersion":"1.0.0","ImageLayoutVersion":"2"}`), []error{ErrNotLayout}, `oci-layout: key "ImageLayoutVersion" differs only in case`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.parse(tc.data)
			for _, s := range tc.sentinels {
				if !errors.Is(err, s) {
					t.Fatalf("%v, want %v", err, s)
				}
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("%v, want it to name %q", err, tc.msg)
			}
		})
	}
}

// TestAmbiguousLayout checks that a layout with an ambiguous document is a finding of Verify
// (rule RuleAmbiguousJSON, naming the key) and is refused by Open (oci-layout), Index
// (index.json), Walk and Copy (a manifest or index blob), neither layout changed.
func TestAmbiguousLayout(t *testing.T) {
	const zero = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	// badEntry stores doc's JSON with old replaced by new as a blob and names it "bad" in
	// index.json, bypassing Tag's checks as a broken tool might.
	badEntry := func(t *testing.T, s *Store, doc ocispec.Descriptor, old, new string) ocispec.Descriptor {
		data, err := os.ReadFile(blobFilePath(s, doc.Digest))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), old) {
			t.Fatalf("%s has no %q", doc.Digest, old)
		}
		desc := writeBlob(t, s, doc.MediaType, []byte(strings.Replace(string(data), old, new, 1)))
		desc.Annotations = map[string]string{ocispec.AnnotationRefName: "bad"}
		addEntry(t, s, entryJSON(doc.MediaType, desc, `,"annotations":{"org.opencontainers.image.ref.name":"bad"}`))
		return desc
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, s *Store, im testImage) ocispec.Descriptor // the bad root, if a blob
		where  string                                                        // of the finding
		msg    string                                                        // in the finding and the errors
	}{
		{"duplicate manifests in index.json", func(t *testing.T, s *Store, im testImage) ocispec.Descriptor {
			rewrite(t, filepath.Join(s.Path(), IndexFile), `"manifests":[`, `"manifests":[],"manifests":[`)
			return ocispec.Descriptor{}
		}, IndexFile, `duplicate key "manifests" at $`},
		{"case variant in index.json", func(t *testing.T, s *Store, im testImage) ocispec.Descriptor {
			rewrite(t, filepath.Join(s.Path(), IndexFile), `"manifests":[`, `"Manifests":[],"manifests":[`)
			return ocispec.Descriptor{}
		}, IndexFile, `key "Manifests" differs only in case`},
		{"duplicate imageLayoutVersion", func(t *testing.T, s *Store, im testImage) ocispec.Descriptor {
			rewrite(t, filepath.Join(s.Path(), LayoutFile), `{`, `{"imageLayoutVersion":"9.9.9",`)
			return ocispec.Descriptor{}
		}, LayoutFile, `duplicate key "imageLayoutVersion" at $`},
		{"duplicate digest in an index blob", func(t *testing.T, s *Store, im testImage) ocispec.Descriptor {
			return badEntry(t, s, im.index, `"digest":`, `"digest":"`+zero+`","digest":`)
		}, "(ref bad)", `duplicate key "digest" at $.manifests[0]`},
		{"null layers in a manifest", func(t *testing.T, s *Store, im testImage) ocispec.Descriptor {
			return badEntry(t, s, im.manifests[1], `"layers":[`, `"layers":null,"x":[`)
		}, "(ref bad)", `null "layers" at $`},
		{"duplicate key in an image config", func(t *testing.T, s *Store, im testImage) ocispec.Descriptor {
			cfg := writeBlob(t, s, ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"os":"windows"}`))
			m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{}}
			m.SchemaVersion = 2
			md := writeJSON(t, s, ocispec.MediaTypeImageManifest, m)
			addEntry(t, s, entryJSON(md.MediaType, md, `,"annotations":{"org.opencontainers.image.ref.name":"bad"}`))
			return ocispec.Descriptor{} // Walk and Copy do not read configs
		}, "(ref bad) > config", `duplicate key "os" at $`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, im := verifyLayout(t)
			root := tc.damage(t, s, im)
			dst := newStore(t)
			before, dstBefore := treeState(t, s.Path()), treeState(t, dst.Path())
			rep, err := Verify(t.Context(), s.Path(), VerifyOptions{Jobs: 2})
			if err != nil {
				t.Fatal(err)
			}
			p, ok := findProblem(rep, SeverityError, RuleAmbiguousJSON, tc.msg)
			if rep.OK || !ok || !strings.Contains(p.Where, tc.where) {
				dumpProblems(t, rep)
				t.Fatalf("no %s finding at %q naming %q", RuleAmbiguousJSON, tc.where, tc.msg)
			}
			errs := map[string]error{}
			switch {
			case tc.where == LayoutFile:
				_, errs["Open"] = Open(s.Path())
			case tc.where == IndexFile:
				_, errs["Index"] = s.Index(t.Context())
			case root.Digest == "": // a config: Verify alone reads it
			default:
				errs["Walk"] = Walk(t.Context(), s.Fetch, root, func(context.Context, ocispec.Descriptor, Location) error { return nil })
				_, errs["Copy"] = Copy(t.Context(), s, dst, []ocispec.Descriptor{root}, CopyOptions{})
			}
			for name, err := range errs {
				if err == nil || !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("%s: %v, want an error naming %q", name, err, tc.msg)
				}
			}
			if !maps.Equal(before, treeState(t, s.Path())) || !maps.Equal(dstBefore, treeState(t, dst.Path())) {
				t.Fatal("a layout changed")
			}
		})
	}
}

// rewrite replaces the first old in the file at path by new.
func rewrite(tb testing.TB, path, old, new string) {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		tb.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkDecodeDoc measures what verify, Walk and Copy pay per manifest and for index.json:
// decodeDoc (strictjson.Check, then two decodes), beside strictjson.Check alone, on a gadget
// manifest and on an index.json of 20,000 refs.
func BenchmarkDecodeDoc(b *testing.B) {
	manifest, err := os.ReadFile("testdata/manifest-gadget.json")
	if err != nil {
		b.Fatal(err)
	}
	var idx strings.Builder
	idx.WriteString(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`)
	for i := range 20000 {
		if i > 0 {
			idx.WriteByte(',')
		}
		d := digest.FromString(strconv.Itoa(i))
		idx.WriteString(`{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"` + string(d) + `","size":2285,` +
			`"annotations":{"org.opencontainers.image.ref.name":"ghcr.io/example/gadget-` + strconv.Itoa(i) + `:latest"}}`)
	}
	idx.WriteString(`]}`)
	for _, in := range []struct {
		name string
		data []byte
	}{{"manifest", manifest}, {"index-20000-refs", []byte(idx.String())}} {
		b.Run(in.name+"/decodeDoc", func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeDoc(in.data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in.name+"/check", func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := strictjson.Check(in.data, strictjson.Document); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestEmptiedStoreIndex: oras-go (so ig) writes `"manifests": null` for a store whose last image
// was removed. verify reports it and readers refuse it; an edit takes it as no entries, so copy
// into such a store works and rewrites it as []; with any other ambiguity beside it, it is
// refused.
func TestEmptiedStoreIndex(t *testing.T) {
	src, im := verifyLayout(t)
	dst := newStore(t)
	emptied := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":null}`)
	if err := os.WriteFile(filepath.Join(dst.Path(), IndexFile), emptied, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(t.Context(), dst.Path(), VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := findProblem(rep, SeverityError, RuleAmbiguousJSON, `null "manifests"`); !ok {
		dumpProblems(t, rep)
		t.Fatal("verify does not report the null manifests")
	}
	// Readers refuse it (gc would otherwise sweep every blob on a null's word).
	if _, err := dst.Index(t.Context()); err == nil {
		t.Fatal("Index of an emptied store: no error")
	}
	if _, err := Copy(t.Context(), src, dst, []ocispec.Descriptor{im.index}, CopyOptions{}); err != nil {
		t.Fatalf("copy into an emptied store: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dst.Path(), IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "null") || !strings.Contains(string(data), string(im.index.Digest)) {
		t.Errorf("index.json after the copy:\n%s", data)
	}
	both := []byte(`{"schemaVersion":2,"schemaVersion":2,"manifests":null}`)
	if _, err := parseOwnIndex(both); err == nil || !strings.Contains(err.Error(), "duplicate key") {
		t.Errorf("null manifests beside a duplicate key: %v", err)
	}
}
