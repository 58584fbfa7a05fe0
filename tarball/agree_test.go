package tarball

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gadgetpack/gadgetpack/layout"
)

// agTar tars the layout at dir by hand, as a tool that checks nothing would: oci-layout,
// index.json, then every blob file.
func agTar(tb testing.TB, dir string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			tb.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			tb.Fatal(err)
		}
	}
	add(layout.LayoutFile)
	add(layout.IndexFile)
	ents, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		tb.Fatal(err)
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	for _, n := range names {
		add("blobs/sha256/" + n)
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// agAddEntry appends raw to the manifests of index.json at dir, as it is.
func agAddEntry(tb testing.TB, dir, raw string) {
	tb.Helper()
	path := filepath.Join(dir, layout.IndexFile)
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	i := bytes.LastIndexByte(data, ']')
	out := append(append(slices.Clone(data[:i]), ","+raw...), data[i:]...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// TestVerifyAndImportAgree runs tarballs through Verify and Import, into a new path and into a
// layout: Verify finds an error iff Import refuses, and what Verify only warns about Import
// takes with the same warning.
func TestVerifyAndImportAgree(t *testing.T) {
	absent := `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + strings.Repeat("ab", 32) + `","size":500}`
	for _, tc := range []struct {
		name  string
		craft func(t *testing.T, l *exLayout)
		fails bool   // verify errors, import refuses
		warn  string // the rule of the warning both give
	}{
		{name: "sound", craft: func(t *testing.T, l *exLayout) {}},
		// oras-go lists every manifest it stores as an unnamed entry and skips absent ones: an
		// ig store tarred as it is carries them.
		{name: "unnamed entry whose blob is absent", warn: layout.RuleDanglingEntry, craft: func(t *testing.T, l *exLayout) {
			agAddEntry(t, l.s.Path(), absent)
		}},
		{name: "named entry whose blob is absent", fails: true, craft: func(t *testing.T, l *exLayout) {
			agAddEntry(t, l.s.Path(), strings.TrimSuffix(absent, "}")+`,"annotations":{"org.opencontainers.image.ref.name":"x:1"}}`)
		}},
		{name: "unnamed entry with a bad data field", fails: true, craft: func(t *testing.T, l *exLayout) {
			agAddEntry(t, l.s.Path(), `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"`+string(l.v1.Digest)+`","size":`+strconv.FormatInt(l.v1.Size, 10)+`,"data":"e30="}`)
		}},
		{name: "one ref name for two digests", fails: true, craft: func(t *testing.T, l *exLayout) {
			agAddEntry(t, l.s.Path(), `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"`+string(l.v2.Digest)+`","size":`+strconv.FormatInt(l.v2.Size, 10)+`,"annotations":{"org.opencontainers.image.ref.name":"`+exRefV1+`"}}`)
		}},
		{name: "oci-layout of another version", fails: true, craft: func(t *testing.T, l *exLayout) {
			if err := os.WriteFile(filepath.Join(l.s.Path(), layout.LayoutFile), []byte(`{"imageLayoutVersion":"1.1.0"}`), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "index.json of an unknown mediaType", fails: true, craft: func(t *testing.T, l *exLayout) {
			data, _ := os.ReadFile(filepath.Join(l.s.Path(), layout.IndexFile))
			data = bytes.Replace(data, []byte(`"mediaType":"application/vnd.oci.image.index.v1+json"`), []byte(`"mediaType":"application/json"`), 1)
			if err := os.WriteFile(filepath.Join(l.s.Path(), layout.IndexFile), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "ref name with a control character", fails: true, craft: func(t *testing.T, l *exLayout) {
			agAddEntry(t, l.s.Path(), `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"`+string(l.v1.Digest)+`","size":`+strconv.FormatInt(l.v1.Size, 10)+`,"annotations":{"org.opencontainers.image.ref.name":"x\u0007:1"}}`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := exMakeLayout(t)
			tc.craft(t, l)
			data := agTar(t, l.s.Path())
			rep, err := Verify(context.Background(), bytes.NewReader(data), VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK == tc.fails {
				t.Fatalf("verify: ok %v, want %v: %v", rep.OK, !tc.fails, rep.Problems)
			}
			if tc.warn != "" && !slices.ContainsFunc(rep.Problems, func(p layout.Problem) bool { return p.Rule == tc.warn }) {
				t.Errorf("verify: no warning %s: %v", tc.warn, rep.Problems)
			}
			for _, into := range []string{"new path", "layout"} {
				dir := filepath.Join(t.TempDir(), "new")
				if into == "layout" {
					dir = imTarget(t)
				}
				res, err := imImport(t, dir, data, ImportOptions{})
				switch {
				case tc.fails && err == nil:
					t.Errorf("import into a %s: accepts a tarball verify fails", into)
				case !tc.fails && err != nil:
					t.Errorf("import into a %s: refuses a tarball verify passes: %v", into, err)
				case err == nil:
					if tc.warn != "" && !slices.ContainsFunc(res.Warnings, func(p layout.Problem) bool { return p.Rule == tc.warn }) {
						t.Errorf("import into a %s: no warning %s: %v", into, tc.warn, res.Warnings)
					}
					imVerify(t, dir)
				default:
					t.Logf("import into a %s: %v", into, err)
				}
			}
		})
	}
}
