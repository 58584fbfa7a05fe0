package tarball

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gadgetpack/gadgetpack/internal/testfs"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/layout"
)

// imVerify fails the test unless the layout at dir verifies with no error.
func imVerify(tb testing.TB, dir string) *layout.Report {
	tb.Helper()
	rep, err := layout.Verify(context.Background(), dir, layout.VerifyOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	if !rep.OK {
		tb.Fatalf("verify %s: %v", dir, rep.Problems)
	}
	return rep
}

// imTarget returns a layout holding a small image named "base:1", made by importing
// good/small.tar... under another name: good/small.tar's entry renamed.
func imTarget(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "target")
	src := exMakeLayout(tb)
	data, _ := exportBytes(tb, src.s, ExportOptions{})
	if _, err := Import(context.Background(), dir, bytes.NewReader(data), ImportOptions{}); err != nil {
		tb.Fatal(err)
	}
	return dir
}

func imImport(tb testing.TB, dir string, data []byte, opts ImportOptions) (*ImportResult, error) {
	tb.Helper()
	return Import(context.Background(), dir, bytes.NewReader(data), opts)
}

func TestImportGood(t *testing.T) {
	for _, file := range []string{"small.tar", "small.tar.gz", "small.tar.zst", "dirs.tar", "members.tar.gz", "skippable.tar.zst"} {
		t.Run(file, func(t *testing.T) {
			data := testdata(t, "good", file)
			// Into a path that does not exist yet.
			fresh := filepath.Join(t.TempDir(), "a", "fresh")
			res, err := imImport(t, fresh, data, ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Blobs != 3 || res.Written != 3 || res.Added != 1 || !slices.Equal(res.Refs, []string{"hostile:1"}) {
				t.Fatalf("result %+v", res)
			}
			imVerify(t, fresh)
			// Into a layout with refs of its own.
			dir := imTarget(t)
			before := exRefs(t, dir)
			if _, err := imImport(t, dir, data, ImportOptions{}); err != nil {
				t.Fatal(err)
			}
			imVerify(t, dir)
			after := exRefs(t, dir)
			for _, r := range before {
				if !slices.Contains(after, r) {
					t.Fatalf("ref %s lost: %v", r, after)
				}
			}
			if !slices.ContainsFunc(after, func(r string) bool { return strings.HasPrefix(r, "hostile:1 ") }) {
				t.Fatalf("refs %v", after)
			}
			if ents, _ := os.ReadDir(filepath.Join(dir, layout.TempDir)); len(ents) != 0 {
				t.Fatalf("temp left: %v", ents)
			}
		})
	}
}

// TestImportRoundTrip exports a layout, plain and compressed, and imports it into a fresh
// layout: every blob and ref comes back, and the fresh layout's digest is the tarball's.
func TestImportRoundTrip(t *testing.T) {
	src := exMakeLayout(t)
	for _, c := range []Compression{None, Gzip, Zstd} {
		t.Run(string(c), func(t *testing.T) {
			data, exp := exportBytes(t, src.s, ExportOptions{Compression: c})
			dir := filepath.Join(t.TempDir(), "far")
			res, err := imImport(t, dir, data, ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Compression != c || res.Blobs != exp.Blobs || res.Written != exp.Blobs || res.BlobBytes != exp.BlobBytes ||
				res.LayoutDigest != exp.LayoutDigest || !slices.Equal(res.Refs, exp.Refs) {
				t.Fatalf("import %+v of export %+v", res, exp)
			}
			rep := imVerify(t, dir)
			if rep.LayoutDigest != exp.LayoutDigest {
				t.Fatalf("fresh layout's digest %s, the tarball's %s", rep.LayoutDigest, exp.LayoutDigest)
			}
			if got, want := exRefs(t, dir), exRefs(t, src.s.Path()); !slices.Equal(got, want) {
				t.Fatalf("refs %v, want %v", got, want)
			}
		})
	}
}

// exRefs returns "name digest" of every ref of the layout at dir.
func exRefs(tb testing.TB, dir string) []string {
	tb.Helper()
	s, err := layout.Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	refs, err := s.Refs(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, r := range refs {
		out = append(out, r.Annotations[ocispec.AnnotationRefName]+" "+string(r.Digest))
	}
	return out
}

// imHostile is what importing each file of testdata/hostile must give.
var imHostile = map[string]struct {
	want  error
	names string
	opts  ImportOptions
}{
	"dotdot.tar":                 {ErrUnsafeEntry, `"blobs/../../evil"`, ImportOptions{}},
	"absolute.tar":               {ErrUnsafeEntry, `"/tmp/gadgetpack-evil"`, ImportOptions{}},
	"symlink.tar":                {ErrUnsafeEntry, `"blobs/sha256/abab`, ImportOptions{}},
	"hardlink.tar":               {ErrUnsafeEntry, `"blobs/sha256/cdcd`, ImportOptions{}},
	"device.tar":                 {ErrUnsafeEntry, `"blobs/sha256/efef`, ImportOptions{}},
	"fifo.tar":                   {ErrUnsafeEntry, `"blobs/sha256/0101`, ImportOptions{}},
	"duplicate.tar":              {ErrUnsafeEntry, `"blobs/sha256/a8a46316`, ImportOptions{}},
	"unknown-name.tar":           {ErrUnsafeEntry, `"etc/passwd"`, ImportOptions{}},
	"temp-dir.tar":               {ErrUnsafeEntry, `".gadgetpack-tmp/blob-123"`, ImportOptions{}},
	"bad-blob-name.tar":          {ErrUnsafeEntry, `"blobs/sha256/not-a-digest"`, ImportOptions{}},
	"uppercase-digest.tar":       {ErrUnsafeEntry, `"blobs/sha256/75A288C0`, ImportOptions{}},
	"content-mismatch.tar":       {layout.ErrDigestMismatch, `tar entry "blobs/sha256/74afa65c8f3253ac0ec2145a03f689fd04fc87a66ee6d857a79d93d95ef96eb3" at byte 4096: blob`, ImportOptions{}},
	"truncated.tar":              {ErrTruncated, `"blobs/sha256/a8a46316`, ImportOptions{}},
	"layout-version.tar":         {layout.ErrNotLayout, `tar entry "oci-layout" at byte 0: `, ImportOptions{}},
	"index-not-json.tar":         {layout.ErrBadIndex, `tar entry "index.json"`, ImportOptions{}},
	"index-path-digest.tar":      {layout.ErrInvalidDigest, `"sha256:../../../../etc/passwd"`, ImportOptions{}},
	"missing-base.tar":           {layout.ErrGraphIncomplete, "neither in the stream nor in the layout", ImportOptions{}},
	"manifest-too-large.tar.gz":  {layout.ErrTooLarge, "ref hostile:1", ImportOptions{}},
	"over-max-size.tar.gz":       {ErrTooLarge, `tar entry "blobs/sha256/`, ImportOptions{MaxSize: 1 << 20}},
	"gzip-bomb.tar.gz":           {ErrTooLarge, `tar entry "blobs/sha256/`, ImportOptions{}},
	"zstd-window.tar.zst":        {ErrTooLarge, "window", ImportOptions{}},
	"trailing-data.tar":          {ErrCorrupt, "after the end of the tar archive", ImportOptions{}},
	"not-a-tar.tar":              {ErrCorrupt, "not a valid tar", ImportOptions{}},
	"sparse-gnu.tar":             {ErrUnsafeEntry, `"blobs/sha256/36787edc411f6ae7b702a6e5b9d3b77ea3dba58dc520ebc252d115b9ee5e8729" at byte 4096: a sparse file`, ImportOptions{}},
	"sparse-pax-0.0.tar":         {ErrUnsafeEntry, `"blobs/sha256/36787edc411f6ae7b702a6e5b9d3b77ea3dba58dc520ebc252d115b9ee5e8729" at byte 5120: a sparse file`, ImportOptions{}},
	"sparse-pax-0.1.tar":         {ErrUnsafeEntry, `"blobs/sha256/36787edc411f6ae7b702a6e5b9d3b77ea3dba58dc520ebc252d115b9ee5e8729" at byte 5120: a sparse file`, ImportOptions{}},
	"sparse-pax-1.0.tar":         {ErrUnsafeEntry, `"blobs/sha256/36787edc411f6ae7b702a6e5b9d3b77ea3dba58dc520ebc252d115b9ee5e8729" at byte`, ImportOptions{}},
	"sparse-pax-1.0.tar.gz":      {ErrUnsafeEntry, "a sparse file (GNU PAX format 1.0) of 64424509440 bytes", ImportOptions{}},
	"gzip-trailing-data.tar.gz":  {ErrCorrupt, "data after the end of the gzip stream", ImportOptions{}},
	"zstd-trailing-data.tar.zst": {ErrCorrupt, "data after the end of the zstd stream", ImportOptions{}},
	"bad-header-checksum.tar":    {ErrCorrupt, `tar entry "blobs/sha256/a8a4631676633f8b42dd613a42eb5500f5ad9c823eab1342548632ad746ff959" at byte 3072: not a valid tar header`, ImportOptions{}},
}

// TestImportHostile imports every file of the hostile corpus into a layout with refs and into a
// path that does not exist: each is refused with its sentinel, naming the entry, and nothing
// changes on disk, inside the target or beside it.
func TestImportHostile(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "hostile", "*"))
	if err != nil || len(files) < 15 {
		t.Fatalf("hostile corpus: %d files, %v", len(files), err)
	}
	base := imTarget(t)
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			tc, ok := imHostile[name]
			if !ok {
				t.Fatalf("no case for %s", name)
			}
			data := testdata(t, "hostile", name)
			parent := t.TempDir()
			dir := filepath.Join(parent, "layout")
			exCopyTree(t, base, dir)
			for _, target := range []string{dir, filepath.Join(parent, "new")} {
				before, beside := imTree(t, target), imTree(t, parent)
				_, err := imImport(t, target, data, tc.opts)
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.names) {
					t.Fatalf("into %s: got %v, want %v naming %s", target, err, tc.want, tc.names)
				}
				if after := imTree(t, target); after != before {
					t.Fatalf("into %s: the tree changed:\n%s\n----\n%s", target, before, after)
				}
				if after := imTree(t, parent); after != beside {
					t.Fatalf("into %s: the folder around it changed", target)
				}
			}
			if _, err := os.Lstat("/tmp/gadgetpack-evil"); err == nil {
				t.Fatal("/tmp/gadgetpack-evil exists")
			}
		})
	}
}

func TestImportPresentNotRewritten(t *testing.T) {
	dir := imTarget(t)
	data := testdata(t, "good", "small.tar")
	if _, err := imImport(t, dir, data, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	before := imTree(t, dir)
	res, err := imImport(t, dir, data, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 0 || res.Unchanged != 1 || res.Added != 0 {
		t.Fatalf("second import: %+v", res)
	}
	if after := imTree(t, dir); after != before {
		t.Fatal("a second import of the same tarball changed the layout")
	}
	// A present blob still has to match in the stream.
	bad := bytes.Clone(data)
	i := bytes.Index(bad, []byte("a layer of the hostile corpus"))
	bad[i] = 'A'
	if _, err := imImport(t, dir, bad, ImportOptions{}); !errors.Is(err, layout.ErrDigestMismatch) {
		t.Fatalf("flipped present blob: %v", err)
	}
}

func TestImportRefExists(t *testing.T) {
	dir := imTarget(t)
	src := exMakeLayout(t)
	// Another image under a ref the target has.
	refs := exRefs(t, dir)
	name := strings.Fields(refs[0])[0]
	if err := src.s.Tag(context.Background(), imOtherImage(t, src.s), name); err != nil {
		t.Fatal(err)
	}
	one, err := src.s.Resolve(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := exportBytes(t, src.s, ExportOptions{Entries: []ocispec.Descriptor{one}})
	before := imTree(t, dir)
	if _, err := imImport(t, dir, data, ImportOptions{}); !errors.Is(err, layout.ErrRefExists) || !strings.Contains(err.Error(), name) {
		t.Fatalf("got %v, want ErrRefExists naming %s", err, name)
	}
	if imTree(t, dir) != before {
		t.Fatal("refused import changed the layout")
	}
	res, err := imImport(t, dir, data, ImportOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Replaced != 1 {
		t.Fatalf("forced: %+v", res)
	}
	imVerify(t, dir)
	got, _ := layout.Open(dir)
	if d, _ := got.Resolve(context.Background(), name); d.Digest != one.Digest {
		t.Fatalf("%s is %s, want %s", name, d.Digest, one.Digest)
	}
}

// imOtherImage writes a one-layer manifest into s and returns its descriptor.
func imOtherImage(tb testing.TB, s *layout.Store) ocispec.Descriptor {
	tb.Helper()
	l := exBlob(tb, s, ocispec.MediaTypeImageLayer, []byte("another image"))
	return exManifest(tb, s, ocispec.Descriptor{}, []ocispec.Descriptor{l}, nil, "")
}

func TestImportDelta(t *testing.T) {
	ctx := context.Background()
	delta := testdata(t, "hostile", "missing-base.tar")
	// Without its base: refused, naming the config the manifest needs.
	dir := filepath.Join(t.TempDir(), "far")
	_, err := imImport(t, dir, delta, ImportOptions{})
	if !errors.Is(err, layout.ErrGraphIncomplete) || !strings.Contains(err.Error(), "config") {
		t.Fatalf("delta alone: %v", err)
	}
	// On its base: the base's blobs are there, the delta lands.
	if _, err := imImport(t, dir, testdata(t, "good", "small.tar"), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := imImport(t, dir, delta, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Blobs != 1 || res.Written != 0 {
		t.Fatalf("delta: %+v", res)
	}
	imVerify(t, dir)

	// A real delta: export with --exclude-from the base.
	src := exMakeLayout(t)
	baseDir := filepath.Join(t.TempDir(), "base")
	first, _ := exportBytes(t, src.s, ExportOptions{})
	if _, err := imImport(t, baseDir, first, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	next := imOtherImage(t, src.s)
	if err := src.s.Tag(ctx, next, "example.com/next:1"); err != nil {
		t.Fatal(err)
	}
	held, err := HeldBlobs(ctx, baseDir)
	if err != nil {
		t.Fatal(err)
	}
	update, _ := exportBytes(t, src.s, ExportOptions{Exclude: held})
	res, err = imImport(t, baseDir, update, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 2 {
		t.Fatalf("update wrote %d blobs, want 2 (manifest, layer)", res.Written)
	}
	imVerify(t, baseDir)
	if !slices.Contains(exRefs(t, baseDir), "example.com/next:1 "+string(next.Digest)) {
		t.Fatal("the update's ref is missing")
	}
}

func TestImportRules(t *testing.T) {
	data := testdata(t, "good", "small.tar")
	var sawIndex, sawManifest int
	warn := &testFinding{severity: layout.SeverityWarning, rule: "test/warn", message: "just so"}
	opts := ImportOptions{
		CheckIndex: func(ctx context.Context, desc ocispec.Descriptor, idx ocispec.Index, fetch layout.FetchFunc) []error {
			sawIndex++
			return nil
		},
		CheckManifest: func(ctx context.Context, desc ocispec.Descriptor, m ocispec.Manifest, fetch layout.FetchFunc) []error {
			sawManifest++
			// Rules read layers through fetch.
			if _, err := layout.ReadAllFrom(ctx, fetch, m.Config, layout.MaxJSONBytes); err != nil {
				return []error{err}
			}
			return []error{warn}
		},
	}
	dir := filepath.Join(t.TempDir(), "l")
	res, err := imImport(t, dir, data, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sawIndex != 1 || sawManifest != 1 || len(res.Warnings) != 1 || res.Warnings[0].Rule != "test/warn" ||
		res.Warnings[0].Where != "index.json[0](ref hostile:1) > just here" {
		t.Fatalf("rules: index %d, manifest %d, warnings %+v", sawIndex, sawManifest, res.Warnings)
	}
	opts.CheckManifest = func(ctx context.Context, desc ocispec.Descriptor, m ocispec.Manifest, fetch layout.FetchFunc) []error {
		return []error{&testFinding{severity: layout.SeverityError, rule: "test/error", message: "no good"}}
	}
	dir2 := filepath.Join(t.TempDir(), "l2")
	if _, err := imImport(t, dir2, data, opts); !errors.Is(err, ErrRuleViolation) || !strings.Contains(err.Error(), "no good [test/error]") {
		t.Fatalf("error finding: %v", err)
	}
	if _, err := os.Lstat(dir2); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a refused import left its target")
	}
	// A manifest with an error per layer (27,000 empty eBPF layers) lists the first few.
	opts.CheckManifest = func(ctx context.Context, desc ocispec.Descriptor, m ocispec.Manifest, fetch layout.FetchFunc) []error {
		errs := make([]error, 27000)
		for i := range errs {
			errs[i] = &testFinding{severity: layout.SeverityError, rule: "test/error", message: fmt.Sprintf("layer %d no good", i)}
		}
		return errs
	}
	_, err = imImport(t, dir2, data, opts)
	if msg := fmt.Sprint(err); !errors.Is(err, ErrRuleViolation) || !strings.Contains(msg, "27000 gadget rule errors: ") ||
		!strings.Contains(msg, "layer 9 no good [test/error]; ... and 26990 more") || len(msg) > 4096 {
		t.Fatalf("27000 error findings: %d bytes: %.300s", len(msg), msg)
	}
}

type testFinding struct{ severity, rule, message string }

func (f *testFinding) Error() string { return f.message }
func (f *testFinding) Finding() (string, string, string, string) {
	return f.severity, f.rule, "just here", f.message
}

func TestImportIGExport(t *testing.T) {
	tarPath := exShared(t, "interop", "ig-export", "trace_open.tar")
	dir := filepath.Join(t.TempDir(), "ig")
	res, err := ImportFiles(context.Background(), dir, []string{tarPath}, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Blobs != 6 || len(res.Refs) != 1 {
		t.Fatalf("result %+v", res)
	}
	imVerify(t, dir)
}

func TestImportParts(t *testing.T) {
	data := testdata(t, "good", "small.tar.gz")
	dir := t.TempDir()
	file := filepath.Join(dir, "bundle.tar.gz")
	for i, at := 0, 0; at < len(data); i++ {
		end := min(at+100, len(data))
		if err := os.WriteFile(PartName(file, i), data[at:end], 0o644); err != nil {
			t.Fatal(err)
		}
		at = end
	}
	target := filepath.Join(dir, "layout")
	if _, err := ImportFiles(context.Background(), target, []string{file}, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	imVerify(t, target)
	// Parts out of order are a damaged stream.
	parts, _ := Parts([]string{file})
	parts[1], parts[2] = parts[2], parts[1]
	target2 := filepath.Join(dir, "layout2")
	if _, err := ImportFiles(context.Background(), target2, parts, ImportOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("parts out of order: %v", err)
	}
	if _, err := Parts([]string{filepath.Join(dir, "nothing")}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestImportCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := filepath.Join(t.TempDir(), "l")
	if _, err := Import(ctx, dir, bytes.NewReader(testdata(t, "good", "small.tar")), ImportOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a cancelled import left its target")
	}
}

// BenchmarkImport imports the export benchmark layout's tarball (64 MiB by default,
// GADGETPACK_BENCH_BYTES) from a file into a fresh layout: one pass, each byte hashed once and
// written once, blobs fsynced.
func BenchmarkImport(b *testing.B) {
	s := exBenchLayout(b)
	ctx := context.Background()
	file := filepath.Join(b.TempDir(), "bench.tar")
	res, err := ExportFile(ctx, s, file, ExportOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(res.Size)
	i := 0
	for b.Loop() {
		dir := filepath.Join(b.TempDir(), fmt.Sprint(i))
		i++
		if _, err := ImportFiles(ctx, dir, []string{file}, ImportOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	_ = io.Discard
}

// imTree digests a whole tree, mtimes included (see testfs.TreeStamp).
var imTree = testfs.TreeStamp

// imPushImages pushes into st n images as the scale benchmark makes them (index -> manifest ->
// JSON config + one small layer), and returns the named index.json entries.
func imPushImages(tb testing.TB, st *layout.Stage, n int) []ocispec.Descriptor {
	tb.Helper()
	ctx := context.Background()
	put := func(mt string, data []byte) ocispec.Descriptor {
		d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(data), Size: int64(len(data))}
		if err := st.Push(ctx, d, bytes.NewReader(data)); err != nil {
			tb.Fatal(err)
		}
		return d
	}
	putJSON := func(mt string, v any) ocispec.Descriptor {
		data, err := json.Marshal(v)
		if err != nil {
			tb.Fatal(err)
		}
		return put(mt, data)
	}
	var entries []ocispec.Descriptor
	for i := range n {
		layer := put(ocispec.MediaTypeImageLayer, []byte(fmt.Sprintf("layer %d", i)))
		cfg := putJSON(ocispec.MediaTypeImageConfig, map[string]any{"architecture": "amd64", "os": "linux",
			"rootfs": map[string]any{"type": "layers", "diff_ids": []string{string(layer.Digest)}}})
		m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}}
		md := putJSON(ocispec.MediaTypeImageManifest, m)
		md.Platform = &ocispec.Platform{Architecture: "amd64", OS: "linux"}
		idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{md}}
		e := putJSON(ocispec.MediaTypeImageIndex, idx)
		e.Annotations = map[string]string{ocispec.AnnotationRefName: fmt.Sprintf("example.com/img-%d:v1", i)}
		entries = append(entries, e)
	}
	return entries
}

// TestGraphAndRulesReadOnce checks that an import's graph check and rules read every staged
// document from the stage's memory: the rules of each document run once, and the rule funcs'
// reads (an index's manifests, as spec's CheckIndex reads them to tell a gadget) find them
// there. The staged files are overwritten after the pushes (same sizes, other bytes): a read of
// one fails its digest. A walk of the rules after the graph check read each index and manifest
// again from its file, and each manifest once more for its index's rule.
func TestGraphAndRulesReadOnce(t *testing.T) {
	const n = 50
	ctx := t.Context()
	st, err := layout.NewStageAt(ctx, filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Discard()
	entries := imPushImages(t, st, n)
	// A staged sha256 blob's file has its blobs/sha256 name (layout.stagedName).
	files, err := filepath.Glob(filepath.Join(st.Path(), layout.TempDir, "stage-*", "*"))
	var staged []string
	for _, f := range files {
		if len(filepath.Base(f)) == 64 {
			staged = append(staged, f)
		}
	}
	if err != nil || len(staged) != 4*n {
		t.Fatalf("staged files: %d, %v; want %d", len(staged), err, 4*n)
	}
	for _, f := range staged {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, bytes.Repeat([]byte{'x'}, len(data)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ruled := map[string]int{}
	var readErrs []error
	opts := ImportOptions{
		CheckIndex: func(ctx context.Context, desc ocispec.Descriptor, idx ocispec.Index, fetch layout.FetchFunc) []error {
			ruled[desc.Digest.String()]++
			for _, m := range idx.Manifests {
				if desc.Digest == "" {
					break // index.json
				}
				if _, err := layout.ReadAllFrom(ctx, fetch, m, layout.MaxJSONBytes); err != nil {
					readErrs = append(readErrs, err)
				}
			}
			return nil
		},
		CheckManifest: func(ctx context.Context, desc ocispec.Descriptor, m ocispec.Manifest, fetch layout.FetchFunc) []error {
			ruled[desc.Digest.String()]++
			return nil
		},
	}
	if _, err := checkGraphAndRules(ctx, st, ocispec.Index{Manifests: entries}, opts); err != nil {
		t.Fatal(err)
	}
	if len(readErrs) > 0 {
		t.Errorf("the rule funcs read %d manifests from their staged files; the first: %v", len(readErrs), readErrs[0])
	}
	if want := 2*n + 1; len(ruled) != want {
		t.Errorf("rules ran on %d documents, want %d (index.json, each index and manifest)", len(ruled), want)
	}
	for d, k := range ruled {
		if k != 1 {
			t.Errorf("the rule of %s ran %d times, want once", d, k)
		}
	}
}
