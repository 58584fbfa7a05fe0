package tarball

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/layout"
)

// vfRules returns rule funcs that read every layer and the config through fetch and report
// what they read as warnings (so reports show that they ran and what they saw), with a count
// of calls.
func vfRules() (layout.VerifyOptions, *vfCount) {
	c := &vfCount{}
	return layout.VerifyOptions{
		CheckManifest: func(ctx context.Context, desc ocispec.Descriptor, m ocispec.Manifest, fetch layout.FetchFunc) []error {
			c.add()
			var out []error
			for _, d := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
				if d.Digest == "" {
					continue
				}
				rc, err := fetch(ctx, d)
				if err != nil {
					out = append(out, fmt.Errorf("cannot read %s: %w", d.Digest, err))
					continue
				}
				h := digest.SHA256.Digester()
				_, err = io.Copy(h.Hash(), rc)
				rc.Close()
				if err != nil {
					out = append(out, fmt.Errorf("reading %s: %w", d.Digest, err))
					continue
				}
				out = append(out, &testFinding{severity: layout.SeverityWarning, rule: "test/read", message: fmt.Sprintf("read %s of %s", h.Digest(), platformOf(desc))})
			}
			return out
		},
		CheckIndex: func(ctx context.Context, desc ocispec.Descriptor, idx ocispec.Index, fetch layout.FetchFunc) []error {
			return []error{&testFinding{severity: layout.SeverityWarning, rule: "test/index", message: fmt.Sprintf("index %s of %d entries", desc.Digest, len(idx.Manifests))}}
		},
	}, c
}

func platformOf(desc ocispec.Descriptor) string {
	if desc.Platform == nil {
		return "no platform"
	}
	return desc.Platform.OS + "/" + desc.Platform.Architecture
}

type vfCount struct {
	mu sync.Mutex
	n  int
}

func (c *vfCount) add() { c.mu.Lock(); c.n++; c.mu.Unlock() }
func (c *vfCount) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// vfProblems renders problems without those about a layout folder's own files and with the
// tar's entry names (a leading "./") cleaned, for comparing a tarball's report with its
// layout's.
func vfProblems(ps []layout.Problem) []string {
	var out []string
	for _, p := range ps {
		if p.Rule == layout.RuleTempLeftover || p.Rule == layout.RuleUnknownFile {
			continue
		}
		out = append(out, p.String())
	}
	return out
}

// vfSame fails unless a tarball's report says what the layout's does. Their layout digests
// are the same when the tarball's index.json is written as a layout's (export's are).
func vfSame(tb testing.TB, got, want *layout.Report, sameIndex bool) {
	tb.Helper()
	if g, w := vfProblems(got.Problems), vfProblems(want.Problems); !slices.Equal(g, w) {
		tb.Fatalf("problems differ:\ntarball %s\nlayout  %s", strings.Join(g, "\n        "), strings.Join(w, "\n        "))
	}
	if got.OK != want.OK || got.Blobs != want.Blobs || got.Bytes != want.Bytes || (sameIndex && got.LayoutDigest != want.LayoutDigest) {
		tb.Fatalf("report differs: tarball %+v, layout %+v", *got, *want)
	}
}

// TestVerifyAgrees verifies tarballs from a file, from a stream and from parts, and the
// layouts they import into: the reports agree, rule funcs included.
func TestVerifyAgrees(t *testing.T) {
	src := exMakeLayout(t)
	igTar := exShared(t, "interop", "ig-export", "trace_open.tar")
	igData, err := os.ReadFile(igTar)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := exportBytes(t, src.s, ExportOptions{})
	gz, _ := exportBytes(t, src.s, ExportOptions{Compression: Gzip})
	zst, _ := exportBytes(t, src.s, ExportOptions{Compression: Zstd})
	igStore := exIGStore(t)
	igStoreTar, _ := exportBytes(t, igStore, ExportOptions{})
	// A manifest whose first 1.5 MiB are white space: its first chunks hold no JSON byte yet.
	spaced, err := layout.Init(filepath.Join(t.TempDir(), "spaced"))
	if err != nil {
		t.Fatal(err)
	}
	l := exBlob(t, spaced, ocispec.MediaTypeImageLayer, []byte("layer"))
	cfg := exBlob(t, spaced, ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux"}`))
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[{"mediaType":%q,"digest":%q,"size":%d}]}`,
		ocispec.MediaTypeImageManifest, cfg.MediaType, cfg.Digest, cfg.Size, l.MediaType, l.Digest, l.Size)
	md := exBlob(t, spaced, ocispec.MediaTypeImageManifest, append(bytes.Repeat([]byte(" "), 3<<19), m...))
	if err := spaced.Tag(context.Background(), md, "spaced:1"); err != nil {
		t.Fatal(err)
	}
	spacedTar, _ := exportBytes(t, spaced, ExportOptions{})
	for _, tc := range []struct {
		name    string
		data    []byte
		foreign bool // index.json not written as a layout's: the imported layout's differs
	}{
		{"export", plain, false}, {"export gzip", gz, false}, {"export zstd", zst, false},
		{"ig store export", igStoreTar, false},
		{"manifest after white space", spacedTar, false},
		{"ig image export (layers before manifests)", igData, true},
		{"good/dirs.tar", testdata(t, "good", "dirs.tar"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "imported")
			if _, err := imImport(t, dir, tc.data, ImportOptions{}); err != nil {
				t.Fatal(err)
			}
			lopts, _ := vfRules()
			want, err := layout.Verify(context.Background(), dir, lopts)
			if err != nil {
				t.Fatal(err)
			}
			if !want.OK {
				t.Fatalf("the layout does not verify: %v", want.Problems)
			}
			file := filepath.Join(t.TempDir(), "t.tar")
			if err := os.WriteFile(file, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			// A file (read twice when needed), a stream read once, the parts of a split.
			opts, calls := vfRules()
			got, err := VerifyFiles(context.Background(), []string{file}, VerifyOptions{VerifyOptions: opts, Path: dir})
			if err != nil {
				t.Fatal(err)
			}
			vfSame(t, got.Report, want, !tc.foreign)
			if calls.get() == 0 && strings.Contains(tc.name, "export") && !strings.Contains(tc.name, "ig store") {
				t.Fatal("CheckManifest never called")
			}
			opts, _ = vfRules()
			got, err = Verify(context.Background(), bytes.NewReader(tc.data), VerifyOptions{VerifyOptions: opts, Path: dir})
			if err != nil {
				t.Fatal(err)
			}
			vfSame(t, got.Report, want, !tc.foreign)
			for i, at := 0, 0; at < len(tc.data); i++ {
				end := min(at+1000+i*77, len(tc.data))
				if err := os.WriteFile(PartName(file+".p", i), tc.data[at:end], 0o644); err != nil {
					t.Fatal(err)
				}
				at = end
			}
			opts, _ = vfRules()
			got, err = VerifyFiles(context.Background(), []string{file + ".p"}, VerifyOptions{VerifyOptions: opts, Path: dir})
			if err != nil {
				t.Fatal(err)
			}
			vfSame(t, got.Report, want, !tc.foreign)
		})
	}
}

// TestVerifyRulesDuringStream checks that an export's manifests have their rules run while the
// stream passes (no second read), and what happens to a stream read once whose layers came
// before their manifests (ig's export) when memory is short.
func TestVerifyRulesDuringStream(t *testing.T) {
	src := exMakeLayout(t)
	data, _ := exportBytes(t, src.s, ExportOptions{Compression: Gzip})
	opts, _ := vfRules()
	reopened := 0
	rep, err := Verify(context.Background(), bytes.NewReader(data), VerifyOptions{VerifyOptions: opts,
		Reopen: func() (io.ReadCloser, error) { reopened++; return io.NopCloser(bytes.NewReader(data)), nil }})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || reopened != 0 {
		t.Fatalf("ok %v, reopened %d times, want 0: %v", rep.OK, reopened, rep.Problems)
	}
	// The big layer (3 MiB) does not fit in 1 MiB: its rule reads it from a second pass.
	opts, _ = vfRules()
	rep, err = Verify(context.Background(), bytes.NewReader(data), VerifyOptions{VerifyOptions: opts, MaxMemory: 1 << 20,
		Reopen: func() (io.ReadCloser, error) { reopened++; return io.NopCloser(bytes.NewReader(data)), nil }})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || reopened == 0 {
		t.Fatalf("ok %v, reopened %d times: %v", rep.OK, reopened, rep.Problems)
	}

	// ig's export, from a stream read once with room for nothing: a clear finding.
	ig, err := os.ReadFile(exShared(t, "interop", "ig-export", "trace_open.tar"))
	if err != nil {
		t.Fatal(err)
	}
	opts, _ = vfRules()
	rep, err = Verify(context.Background(), bytes.NewReader(ig), VerifyOptions{VerifyOptions: opts, MaxMemory: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || !slices.ContainsFunc(rep.Problems, func(p layout.Problem) bool {
		return strings.Contains(p.Message, "verify the tarball as a file")
	}) {
		t.Fatalf("want a finding saying to verify the file: %v", rep.Problems)
	}
}

// vfHostile is the rule each hostile tarball's report must have among its errors.
var vfHostile = map[string]struct {
	rule  string
	where string
	opts  VerifyOptions
}{
	"dotdot.tar":                 {RuleEntry, "blobs/../../evil", VerifyOptions{}},
	"absolute.tar":               {RuleEntry, "/tmp/gadgetpack-evil", VerifyOptions{}},
	"symlink.tar":                {RuleEntry, "blobs/sha256/abab", VerifyOptions{}},
	"hardlink.tar":               {RuleEntry, "blobs/sha256/cdcd", VerifyOptions{}},
	"device.tar":                 {RuleEntry, "blobs/sha256/efef", VerifyOptions{}},
	"fifo.tar":                   {RuleEntry, "blobs/sha256/0101", VerifyOptions{}},
	"duplicate.tar":              {RuleEntry, "blobs/sha256/a8a46316", VerifyOptions{}},
	"unknown-name.tar":           {RuleEntry, "etc/passwd", VerifyOptions{}},
	"temp-dir.tar":               {RuleEntry, ".gadgetpack-tmp/blob-123", VerifyOptions{}},
	"bad-blob-name.tar":          {RuleEntry, "blobs/sha256/not-a-digest", VerifyOptions{}},
	"uppercase-digest.tar":       {RuleEntry, "blobs/sha256/75A288C0", VerifyOptions{}},
	"content-mismatch.tar":       {layout.RuleBlobDigest, "blobs/sha256/", VerifyOptions{}},
	"truncated.tar":              {RuleStream, "blobs/sha256/a8a46316", VerifyOptions{}},
	"layout-version.tar":         {layout.RuleLayoutFile, "oci-layout", VerifyOptions{}},
	"index-not-json.tar":         {layout.RuleJSON, "index.json", VerifyOptions{}},
	"index-path-digest.tar":      {layout.RuleDescDigest, "index.json[0]", VerifyOptions{}},
	"missing-base.tar":           {layout.RuleMissingBlob, "index.json[0](ref hostile:1) > config", VerifyOptions{}},
	"manifest-too-large.tar.gz":  {layout.RuleTooLarge, "index.json[0](ref hostile:1)", VerifyOptions{}},
	"over-max-size.tar.gz":       {RuleStream, "blobs/sha256/", VerifyOptions{MaxSize: 1 << 20}},
	"gzip-bomb.tar.gz":           {RuleStream, "blobs/sha256/", VerifyOptions{}},
	"zstd-window.tar.zst":        {RuleStream, "tarball", VerifyOptions{}},
	"trailing-data.tar":          {RuleStream, "tarball", VerifyOptions{}},
	"not-a-tar.tar":              {RuleStream, "tarball", VerifyOptions{}},
	"sparse-gnu.tar":             {RuleEntry, "blobs/sha256/36787edc", VerifyOptions{}},
	"sparse-pax-0.0.tar":         {RuleEntry, "blobs/sha256/36787edc", VerifyOptions{}},
	"sparse-pax-0.1.tar":         {RuleEntry, "blobs/sha256/36787edc", VerifyOptions{}},
	"sparse-pax-1.0.tar":         {RuleEntry, "blobs/sha256/36787edc", VerifyOptions{}},
	"sparse-pax-1.0.tar.gz":      {RuleEntry, "blobs/sha256/36787edc", VerifyOptions{}},
	"gzip-trailing-data.tar.gz":  {RuleStream, "tarball", VerifyOptions{}},
	"zstd-trailing-data.tar.zst": {RuleStream, "tarball", VerifyOptions{}},
	"bad-header-checksum.tar":    {RuleStream, "blobs/sha256/a8a46316", VerifyOptions{}},
}

func TestVerifyHostile(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "hostile", "*"))
	if err != nil || len(files) < 15 {
		t.Fatalf("hostile corpus: %d files, %v", len(files), err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			tc, ok := vfHostile[name]
			if !ok {
				t.Fatalf("no case for %s", name)
			}
			rep, err := VerifyFiles(context.Background(), []string{f}, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK || !slices.ContainsFunc(rep.Problems, func(p layout.Problem) bool {
				return p.Severity == layout.SeverityError && p.Rule == tc.rule && strings.HasPrefix(p.Where, tc.where)
			}) {
				t.Fatalf("want an error %s at %s, got %v", tc.rule, tc.where, rep.Problems)
			}
		})
	}
}

func TestVerifyExpect(t *testing.T) {
	data := testdata(t, "good", "small.tar.zst")
	rep, err := Verify(context.Background(), bytes.NewReader(data), VerifyOptions{})
	if err != nil || !rep.OK || len(rep.Problems) != 0 || rep.Blobs != 3 {
		t.Fatalf("%v %+v", err, rep)
	}
	opts := VerifyOptions{}
	opts.Expect = rep.LayoutDigest
	if rep, _ := Verify(context.Background(), bytes.NewReader(data), opts); !rep.OK {
		t.Fatalf("--expect its own digest: %v", rep.Problems)
	}
	opts.Expect = digest.FromString("other")
	if rep, _ := Verify(context.Background(), bytes.NewReader(data), opts); rep.OK {
		t.Fatal("--expect another digest passed")
	}
	var last int64
	opts = VerifyOptions{Size: int64(len(data))}
	opts.Progress = func(done, total int64) { last = done }
	if _, err := Verify(context.Background(), bytes.NewReader(data), opts); err != nil || last != int64(len(data)) {
		t.Fatalf("progress ended at %d of %d (%v)", last, len(data), err)
	}
	if _, err := Verify(context.Background(), iotestErr{}, VerifyOptions{}); err == nil {
		t.Fatal("an unreadable input gave a report")
	}
	if _, err := VerifyFiles(context.Background(), []string{filepath.Join(t.TempDir(), "none")}, VerifyOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("device gone") }

// BenchmarkVerify verifies the benchmark layout's tarball from a file: one pass, each byte
// hashed once.
func BenchmarkVerify(b *testing.B) {
	s := exBenchLayout(b)
	ctx := context.Background()
	file := filepath.Join(b.TempDir(), "bench.tar")
	res, err := ExportFile(ctx, s, file, ExportOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(res.Size)
	for b.Loop() {
		rep, err := VerifyFiles(ctx, []string{file}, VerifyOptions{})
		if err != nil || !rep.OK {
			b.Fatal(err, rep)
		}
	}
}

// TestVerifyKeepsLittle verifies tarballs of images with a layer of their own each, as files
// and as streams, plain and compressed, and counts what each keeps in memory: a plain file,
// read in place, keeps no document, and a layer only while the rule of its manifest waits for
// it; a compressed file or a stream that cannot be read again in place keeps its documents and
// the layers it is done with in the spill, with no more than spillBuffer of them in memory,
// makes no second pass, and leaves nothing in the temp dir. The reports are the layout's.
func TestVerifyKeepsLittle(t *testing.T) {
	const images, layerSize, buffer = 40, 64 << 10, 1 << 10
	defer func(n int) { spillBuffer = n }(spillBuffer)
	spillBuffer = buffer
	s, err := layout.Init(filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range images {
		cfg := exBlob(t, s, ocispec.MediaTypeImageConfig, fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","variant":"v%d"}`, i))
		m := exManifest(t, s, cfg, []ocispec.Descriptor{exBlob(t, s, ocispec.MediaTypeImageLayer, exRandom(layerSize, uint64(i)))}, nil, "")
		if err := s.Tag(t.Context(), m, fmt.Sprintf("example.com/img-%d:v1", i)); err != nil {
			t.Fatal(err)
		}
	}
	lopts, _ := vfRules()
	want, err := layout.Verify(t.Context(), s.Path(), lopts)
	if err != nil || !want.OK {
		t.Fatalf("the layout does not verify: %v %v", err, want)
	}
	dir := t.TempDir()
	tars := map[Compression][]byte{}
	files := map[Compression]string{}
	for _, c := range []Compression{None, Gzip, Zstd} {
		tars[c], _ = exportBytes(t, s, ExportOptions{Compression: c})
		files[c] = filepath.Join(dir, "t."+string(c))
		if err := os.WriteFile(files[c], tars[c], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reopened := 0
	reopen := func(c Compression) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) { reopened++; return io.NopCloser(bytes.NewReader(tars[c])), nil }
	}
	for _, tc := range []struct {
		name    string
		verify  func(opts VerifyOptions) (*Report, error)
		spilled bool // documents and layers go to the spill
	}{
		{name: "file", verify: func(opts VerifyOptions) (*Report, error) {
			return VerifyFiles(t.Context(), []string{files[None]}, opts)
		}},
		{name: "gzip file", verify: func(opts VerifyOptions) (*Report, error) {
			return VerifyFiles(t.Context(), []string{files[Gzip]}, opts)
		}, spilled: true},
		{name: "zstd stream read again when needed", verify: func(opts VerifyOptions) (*Report, error) {
			opts.Reopen = reopen(Zstd)
			return Verify(t.Context(), bytes.NewReader(tars[Zstd]), opts)
		}, spilled: true},
		{name: "stream read once", verify: func(opts VerifyOptions) (*Report, error) {
			return Verify(t.Context(), bytes.NewReader(tars[None]), opts)
		}, spilled: true},
		{name: "gzip stream read once", verify: func(opts VerifyOptions) (*Report, error) {
			return Verify(t.Context(), bytes.NewReader(tars[Gzip]), opts)
		}, spilled: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			var v *streamVerifier
			verifierMade = func(sv *streamVerifier) { v = sv }
			defer func() { verifierMade = nil }()
			opts, _ := vfRules()
			var mu sync.Mutex
			var held, docs int64
			var left []string
			rule := opts.CheckManifest
			opts.CheckManifest = func(ctx context.Context, desc ocispec.Descriptor, m ocispec.Manifest, fetch layout.FetchFunc) []error {
				mu.Lock()
				held = max(held, v.heldSize)
				docs = max(docs, v.jsonSize)
				if v.spill != nil {
					docs = max(docs, v.jsonSize+int64(len(v.spill.buf)))
				}
				if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
					left = append(left, ents[0].Name())
				}
				mu.Unlock()
				return rule(ctx, desc, m, fetch)
			}
			reopened = 0
			got, err := tc.verify(VerifyOptions{VerifyOptions: opts, Path: s.Path()})
			if err != nil {
				t.Fatal(err)
			}
			vfSame(t, got.Report, want, true)
			if len(v.json) > 0 || v.jsonSize > 0 || v.heldSize > 0 || len(v.held) > 0 {
				t.Errorf("kept in memory after the stream: %d documents (%d bytes), %d blobs (%d bytes), want none", len(v.json), v.jsonSize, len(v.held), v.heldSize)
			}
			if docs > buffer {
				t.Errorf("%d bytes of documents in memory at most while a rule ran, want at most %d", docs, buffer)
			}
			if held > 2*layerSize {
				t.Errorf("%d bytes held at most while a rule ran, want at most %d", held, 2*layerSize)
			}
			if spilled := v.spilledDocs > 8*buffer && v.spilledBlobs >= images*layerSize; spilled != tc.spilled {
				t.Errorf("spilled %d bytes of documents, %d of blobs: want the documents and layers spilled %v", v.spilledDocs, v.spilledBlobs, tc.spilled)
			}
			if reopened > 0 {
				t.Errorf("the stream was read again %d times, want 0", reopened)
			}
			if ents, _ := os.ReadDir(tmp); len(left) > 0 || len(ents) > 0 {
				t.Errorf("files in the temp dir during verify %v, after %v: want none", left, ents)
			}
		})
	}
}

// TestVerifyFindsReferrers verifies tarballs of a layout with referrers that index.json does
// not list, one of them with its subject key written with an escape: a tarball file, whose
// documents are not kept, finds them as verify of the layout does.
func TestVerifyFindsReferrers(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  string
	}{
		{"plain key", `"subject"`},
		{"escaped key", `"\u0073ubject"`},
		{"escaped in full", `"\u0073\u0075\u0062\u006a\u0065\u0063\u0074"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := exMakeLayout(t)
			sig := exBlob(t, l.s, "application/vnd.example.signature", []byte("signature of v2, "+tc.name))
			cfg := exBlob(t, l.s, ocispec.MediaTypeEmptyJSON, []byte("{}"))
			m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"artifactType":"application/vnd.example.signature","config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[{"mediaType":%q,"digest":%q,"size":%d}],%s:{"mediaType":%q,"digest":%q,"size":%d}}`,
				ocispec.MediaTypeImageManifest, cfg.MediaType, cfg.Digest, cfg.Size, sig.MediaType, sig.Digest, sig.Size, tc.key, l.v2.MediaType, l.v2.Digest, l.v2.Size)
			ref := exBlob(t, l.s, ocispec.MediaTypeImageManifest, []byte(m))
			lopts, _ := vfRules()
			want, err := layout.Verify(t.Context(), l.s.Path(), lopts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(want.Problems, func(p layout.Problem) bool {
				return p.Rule == layout.RuleUnlistedReferrer && strings.Contains(p.Message, string(ref.Digest))
			}) {
				t.Fatalf("verify of the layout does not find the referrer %s: %v", ref.Digest, want.Problems)
			}
			file := filepath.Join(t.TempDir(), "t.tar")
			if err := os.WriteFile(file, agTar(t, l.s.Path()), 0o644); err != nil {
				t.Fatal(err)
			}
			opts, _ := vfRules()
			got, err := VerifyFiles(t.Context(), []string{file}, VerifyOptions{VerifyOptions: opts, Path: l.s.Path()})
			if err != nil {
				t.Fatal(err)
			}
			vfSame(t, got.Report, want, true)
		})
	}
}

// TestVerifyOddDocuments verifies tarballs whose index.json points at documents of odd shapes,
// with rule funcs, from a stream read once and from a file: no panic, and the report is the
// layout's.
func TestVerifyOddDocuments(t *testing.T) {
	for _, tc := range []struct{ name, doc string }{
		{"index without manifests", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}`},
		{"index with null manifests", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":null}`},
		{"manifest without config", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}`},
		{"manifest with null layers", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":null}`},
		{"manifest with layers of the wrong type", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":5}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "layout")
			if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
				t.Fatal(err)
			}
			dg := digest.FromString(tc.doc)
			mt := ocispec.MediaTypeImageManifest
			if strings.Contains(tc.doc, "index") {
				mt = ocispec.MediaTypeImageIndex
			}
			for name, data := range map[string]string{
				layout.LayoutFile:              `{"imageLayoutVersion":"1.0.0"}`,
				layout.IndexFile:               fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":%q,"digest":%q,"size":%d,"annotations":{"org.opencontainers.image.ref.name":"odd:1"}}]}`, mt, dg, len(tc.doc)),
				"blobs/sha256/" + dg.Encoded(): tc.doc,
				"blobs/sha256/" + ocispec.DescriptorEmptyJSON.Digest.Encoded(): "{}",
			} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			lopts, _ := vfRules()
			want, err := layout.Verify(t.Context(), dir, lopts)
			if err != nil {
				t.Fatal(err)
			}
			data := agTar(t, dir)
			file := filepath.Join(t.TempDir(), "t.tar")
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			opts, _ := vfRules()
			got, err := Verify(t.Context(), bytes.NewReader(data), VerifyOptions{VerifyOptions: opts, Path: dir})
			if err != nil {
				t.Fatal(err)
			}
			vfSame(t, got.Report, want, true)
			opts, _ = vfRules()
			got, err = VerifyFiles(t.Context(), []string{file}, VerifyOptions{VerifyOptions: opts, Path: dir})
			if err != nil {
				t.Fatal(err)
			}
			vfSame(t, got.Report, want, true)
		})
	}
}
