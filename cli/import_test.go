package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/layout"
	"github.com/gadgetpack/gadgetpack/tarball"
)

// hostileCorpus is tarball/testdata/hostile: what importing each file must say (the entry it
// names, or what it is about) and the flags it needs.
var hostileCorpus = map[string]struct {
	names string
	flags []string
}{
	"dotdot.tar":                 {`tar entry "blobs/../../evil"`, nil},
	"absolute.tar":               {`tar entry "/tmp/gadgetpack-evil"`, nil},
	"symlink.tar":                {`tar entry "blobs/sha256/abababab`, nil},
	"hardlink.tar":               {`tar entry "blobs/sha256/cdcdcdcd`, nil},
	"device.tar":                 {`tar entry "blobs/sha256/efefefef`, nil},
	"fifo.tar":                   {`tar entry "blobs/sha256/01010101`, nil},
	"duplicate.tar":              {`tar entry "blobs/sha256/a8a46316`, nil},
	"unknown-name.tar":           {`tar entry "etc/passwd"`, nil},
	"temp-dir.tar":               {`tar entry ".gadgetpack-tmp/blob-123"`, nil},
	"bad-blob-name.tar":          {`tar entry "blobs/sha256/not-a-digest"`, nil},
	"uppercase-digest.tar":       {`tar entry "blobs/sha256/75A288C0`, nil},
	"content-mismatch.tar":       {`tar entry "blobs/sha256/74afa65c`, nil},
	"truncated.tar":              {`tar entry "blobs/sha256/a8a46316`, nil},
	"layout-version.tar":         {`tar entry "oci-layout"`, nil},
	"index-not-json.tar":         {`tar entry "index.json"`, nil},
	"index-path-digest.tar":      {`"sha256:../../../../etc/passwd"`, nil},
	"missing-base.tar":           {"config(sha256:c5b1d63604f2)", nil},
	"manifest-too-large.tar.gz":  {"ref hostile:1: blob sha256:625fdcf2", nil},
	"over-max-size.tar.gz":       {`tar entry "blobs/sha256/5bcd44e1`, []string{"--max-size", "1M"}},
	"gzip-bomb.tar.gz":           {`tar entry "blobs/sha256/a6d72ac7`, nil},
	"zstd-window.tar.zst":        {"window over the 64 MiB cap", nil},
	"trailing-data.tar":          {"data after the end of the tar archive", nil},
	"not-a-tar.tar":              {"not a valid tar", nil},
	"sparse-gnu.tar":             {`tar entry "blobs/sha256/36787edc411f6ae7b702a6e5b9d3b77ea3dba58dc520ebc252d115b9ee5e8729" at byte 4096: a sparse file (old GNU format)`, nil},
	"sparse-pax-0.0.tar":         {`tar entry "blobs/sha256/36787edc411f6ae7b702a6e5b9d3b77ea3dba58dc520ebc252d115b9ee5e8729" at byte 5120: a sparse file (GNU PAX format 0.x)`, nil},
	"sparse-pax-0.1.tar":         {`tar entry "blobs/sha256/36787edc411f6ae7b702a6e5b9d3b77ea3dba58dc520ebc252d115b9ee5e8729" at byte 5120: a sparse file (GNU PAX format 0.x)`, nil},
	"sparse-pax-1.0.tar":         {`a sparse file (GNU PAX format 1.0) of 64424509440 bytes`, nil},
	"sparse-pax-1.0.tar.gz":      {`a sparse file (GNU PAX format 1.0) of 64424509440 bytes`, nil},
	"gzip-trailing-data.tar.gz":  {"data after the end of the gzip stream, at byte 699 of the input", nil},
	"zstd-trailing-data.tar.zst": {"data after the end of the zstd stream, at byte 624 of the input", nil},
	"bad-header-checksum.tar":    {`tar entry "blobs/sha256/a8a4631676633f8b42dd613a42eb5500f5ad9c823eab1342548632ad746ff959" at byte 3072: not a valid tar header`, nil},
}

// TestImportHostile imports every tarball of the hostile corpus through the command line, into
// a layout with refs and into a path that does not exist: exit 1, a message naming the entry,
// and the whole tree unchanged (the folder around it too: nothing created outside).
func TestImportHostile(t *testing.T) {
	files, err := filepath.Glob(repoPath("tarball", "testdata", "hostile", "*"))
	if err != nil || len(files) < 15 {
		t.Fatalf("hostile corpus: %d files, %v", len(files), err)
	}
	base := buildDemo(t)
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			tc, ok := hostileCorpus[name]
			if !ok {
				t.Fatalf("no case for %s", name)
			}
			parent := t.TempDir()
			dir := filepath.Join(parent, "layout")
			copyTree(t, base, dir)
			refs := refsOf(t, dir)
			for _, target := range []string{dir, filepath.Join(parent, "new")} {
				before, around := treeDigest(t, target), treeDigest(t, parent)
				args := append(append([]string{"import", "--layout", target}, tc.flags...), f)
				r := gp(t, args...)
				if r.code != 1 || !strings.HasPrefix(r.stderr, "gadgetpack: ") || !strings.Contains(r.stderr, tc.names) || r.stdout != "" {
					t.Fatalf("import into %s: exit %d\nstdout %q\nstderr %q\nwant exit 1 naming %s", target, r.code, r.stdout, r.stderr, tc.names)
				}
				if treeDigest(t, target) != before {
					t.Fatalf("import into %s changed it", target)
				}
				if treeDigest(t, parent) != around {
					t.Fatalf("import into %s changed the folder around it", target)
				}
			}
			if got := refsOf(t, dir); !slices.Equal(got, refs) {
				t.Fatalf("refs %v, were %v", got, refs)
			}
			if _, err := os.Lstat("/tmp/gadgetpack-evil"); err == nil {
				t.Fatal("/tmp/gadgetpack-evil exists")
			}
		})
	}
}

// TestImportCommand: the demo exported (plain, gzip, zstd, split, stdin) imports into a fresh
// layout with every blob and ref and the same layout digest, and into a layout with refs of
// its own, keeping them.
func TestImportCommand(t *testing.T) {
	src := buildDemo(t)
	srcRep, _ := verifyJSON(t, src)
	srcRefs := refsOf(t, src)
	dir := t.TempDir()
	for _, tc := range tarballForms {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".tar")
			mustGP(t, append(append([]string{"export", "--layout", src}, tc.flags...), "-o", out)...)
			far := filepath.Join(dir, "far-"+strings.ReplaceAll(tc.name, " ", "-"))
			args := append([]string{"import", "--json", "--layout", far}, tc.args(out)...)
			var r result
			if tc.stdin {
				data, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				r = gpIn(t, string(data), args...)
			} else {
				r = gp(t, args...)
			}
			if r.code != 0 {
				t.Fatalf("import: exit %d: %s", r.code, r.stderr)
			}
			var res tarball.ImportResult
			if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
				t.Fatalf("import --json: %v\n%s", err, r.stdout)
			}
			if res.Blobs != srcRep.Blobs || res.Written != srcRep.Blobs || res.LayoutDigest != srcRep.LayoutDigest {
				t.Fatalf("import result %+v, source %+v", res, srcRep)
			}
			farRep, fr := verifyJSON(t, far)
			if fr.code != 0 || len(farRep.Problems) != 0 || farRep.LayoutDigest != srcRep.LayoutDigest || farRep.Bytes != srcRep.Bytes {
				t.Fatalf("far side: exit %d %+v", fr.code, farRep)
			}
			if got := refsOf(t, far); !slices.Equal(got, srcRefs) {
				t.Fatalf("refs %v, want %v", got, srcRefs)
			}
		})
	}

	// Into a layout with refs of its own: they stay, the new ones join; a second import
	// changes nothing.
	out := filepath.Join(dir, "one.tar")
	mustGP(t, "export", "--layout", src, "-o", out, "trace_params")
	target := filepath.Join(t.TempDir(), "ig-store")
	copyTree(t, sharedPath(t, "interop", "ig-store"), target)
	before := refsOf(t, target)
	r := mustGP(t, "import", "--layout", target, out)
	if !strings.Contains(r.stdout, "ghcr.io/inspektor-gadget/gadget/trace_params:latest\n") || !strings.Contains(r.stdout, "1 added") {
		t.Fatalf("import output:\n%s", r.stdout)
	}
	after := refsOf(t, target)
	for _, ref := range before {
		if !slices.Contains(after, ref) {
			t.Fatalf("ref %s lost", ref)
		}
	}
	if len(after) != len(before)+1 {
		t.Fatalf("refs %v after, %v before", after, before)
	}
	tree := treeDigest(t, target)
	if r := mustGP(t, "import", "--quiet", "--layout", target, out); r.stdout != "" {
		t.Fatalf("--quiet printed %q", r.stdout)
	}
	if treeDigest(t, target) != tree {
		t.Fatal("a second import of the same tarball changed the layout")
	}
	if rep, r := verifyJSON(t, "--rules", "ig", target); r.code != 0 || !rep.OK {
		t.Fatalf("ig store after import: %v", rep.Problems)
	}
}

// TestImportForceAndRules: a ref that would move needs --force; gadget rules refuse what they
// find wrong, and --rules picks the set; bad arguments are usage errors.
func TestImportForceAndRules(t *testing.T) {
	src := buildDemo(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "b.tar")
	mustGP(t, "export", "--layout", src, "-o", out)
	// The same layout as the tarball's (two builds differ when a second passes between them),
	// with trace_exec moved.
	target := filepath.Join(t.TempDir(), "bundle")
	copyTree(t, src, target)
	mustGP(t, "tag", "--layout", target, "trace_params", "trace_exec")
	tree := treeDigest(t, target)
	r := gp(t, "import", "--layout", target, out)
	if r.code != 1 || !strings.Contains(r.stderr, "trace_exec:latest is sha256:") || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("moved ref: exit %d, %s", r.code, r.stderr)
	}
	if treeDigest(t, target) != tree {
		t.Fatal("a refused import changed the layout")
	}
	r = mustGP(t, "import", "--force", "--layout", target, out)
	if !strings.Contains(r.stdout, "1 replaced") {
		t.Fatalf("--force: %s", r.stdout)
	}
	if got, want := mustGP(t, "list", "--layout", target, "--json").stdout, mustGP(t, "list", "--layout", src, "--json").stdout; got != want {
		t.Fatalf("after --force:\n%s\nwant\n%s", got, want)
	}

	// ig's store carries gadgets without an eBPF layer: the seed's rules refuse them.
	igTar := filepath.Join(dir, "ig.tar")
	store := filepath.Join(t.TempDir(), "store")
	copyTree(t, sharedPath(t, "interop", "ig-store"), store)
	mustGP(t, "export", "--layout", store, "-o", igTar)
	far := filepath.Join(t.TempDir(), "far")
	r = gp(t, "import", "--layout", far, igTar)
	if r.code != 1 || !strings.Contains(r.stderr, "[seed/ebpf-layer]") || !strings.Contains(r.stderr, "gadget rules broken") {
		t.Fatalf("seed rules: exit %d, %s", r.code, r.stderr)
	}
	if _, err := os.Lstat(far); err == nil {
		t.Fatal("a refused import created its target")
	}
	mustGP(t, "import", "--rules", "ig", "--layout", far, igTar)

	// ig image export's own tarball, under ig's rules.
	igExport := sharedPath(t, "interop", "ig-export", "trace_open.tar")
	far2 := filepath.Join(t.TempDir(), "far2")
	mustGP(t, "import", "--rules", "ig", "--layout", far2, igExport)
	if rep, r := verifyJSON(t, "--rules", "ig", far2); r.code != 0 || len(rep.Problems) != 0 {
		t.Fatalf("trace_open imported: %+v", rep.Problems)
	}

	for _, args := range [][]string{
		{"import", "--layout", far},
		{"import", "--layout", far, "-", "x.001"},
		{"import", "--layout", far, "--max-size", "lots", out},
		{"import", "--layout", far, "--rules", "other", out},
		{"import", "--layout", far, out, "--force"},
	} {
		if r := gp(t, args...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2: %s", args, r.code, r.stderr)
		}
	}
	if r := gp(t, "import", "--layout", far, filepath.Join(dir, "missing.tar")); r.code != 1 || !strings.Contains(r.stderr, "missing.tar") {
		t.Errorf("missing file: exit %d, %s", r.code, r.stderr)
	}
}

// writeBigLayout writes a layout of about size bytes of random layers under one tagged
// manifest, for imports that take long enough to be killed in the middle.
func writeBigLayout(tb testing.TB, dir string, size int64, ref string) {
	tb.Helper()
	ctx := context.Background()
	s, err := layout.Init(dir)
	if err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewSource(int64(len(ref))))
	var layers []ocispec.Descriptor
	for n := int64(0); n < size; {
		l := min(int64(1+rng.Intn(6))<<20, size-n)
		d, err := s.WriteBlob(ctx, io.LimitReader(rng, l))
		if err != nil {
			tb.Fatal(err)
		}
		d.MediaType = ocispec.MediaTypeImageLayer
		layers = append(layers, d)
		n += l
	}
	cfg, err := s.WriteBlob(ctx, strings.NewReader(`{"architecture":"amd64","os":"linux"}`))
	if err != nil {
		tb.Fatal(err)
	}
	cfg.MediaType = ocispec.MediaTypeImageConfig
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: layers}
	m.SchemaVersion = 2
	data, _ := json.Marshal(m)
	md, err := s.WriteBlob(ctx, strings.NewReader(string(data)))
	if err != nil {
		tb.Fatal(err)
	}
	md.MediaType = ocispec.MediaTypeImageManifest
	if err := s.Tag(ctx, md, ref); err != nil {
		tb.Fatal(err)
	}
}

// TestImportCrash SIGKILLs imports of a 40 MB tarball into a layout with refs at random
// instants, until ten were killed in the middle: after each kill the layout verifies, its old refs resolve as before, and the next
// command (gc) clears the dead import's stage.
func TestImportCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a dozen processes")
	}
	base := buildDemo(t)
	refsBefore := mustGP(t, "list", "--layout", base, "--json").stdout
	big := filepath.Join(t.TempDir(), "big")
	writeBigLayout(t, big, 40<<20, "example.com/big:1")
	tarPath := filepath.Join(t.TempDir(), "big.tar")
	mustGP(t, "export", "--layout", big, "-o", tarPath)

	// How long an import takes here (the fastest of three): kills are spread over that span.
	var span time.Duration
	for i := range 3 {
		probe := filepath.Join(t.TempDir(), fmt.Sprintf("probe%d", i))
		copyTree(t, base, probe)
		start := time.Now()
		if out, err := gadgetpackCmd(t, "import", "--rules", "ig", "--layout", probe, tarPath).CombinedOutput(); err != nil {
			t.Fatalf("import: %v\n%s", err, out)
		}
		if d := time.Since(start); span == 0 || d < span {
			span = d
		}
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d, an import takes %v", seed, span)
	rng := rand.New(rand.NewSource(seed))
	// Rounds until 10 imports were killed in the middle (the machine may be faster than the
	// probes said), at most 30.
	const wantKilled, maxRounds = 10, 30
	killed, staged, rounds := 0, 0, 0
	for i := 0; killed < wantKilled && i < maxRounds; i++ {
		rounds++
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("round%d", i))
		copyTree(t, base, dir)
		delay := time.Duration(rng.Int63n(int64(span) * 9 / 10))
		cmd := gadgetpackCmd(t, "import", "--rules", "ig", "--layout", dir, tarPath)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed++
		}
		if ents, _ := filepath.Glob(filepath.Join(dir, layout.TempDir, "stage-*")); len(ents) > 0 {
			staged++
		}
		rep, r := verifyJSON(t, dir)
		if r.code != 0 || !rep.OK {
			t.Fatalf("round %d (killed after %v): layout broken: %+v", i, delay, rep.Problems)
		}
		list := mustGP(t, "list", "--layout", dir, "--json").stdout
		for _, line := range strings.Split(refsBefore, "\n") {
			if !strings.Contains(list, line) {
				t.Fatalf("round %d (killed after %v): lost %q\nnow:\n%s", i, delay, line, list)
			}
		}
		mustGP(t, "gc", "--layout", dir)
		if ents, _ := filepath.Glob(filepath.Join(dir, layout.TempDir, "*")); len(ents) > 0 {
			t.Fatalf("round %d: gc left %v", i, ents)
		}
		rep, _ = verifyJSON(t, dir)
		if len(rep.Problems) != 0 {
			t.Fatalf("round %d: after gc: %+v", i, rep.Problems)
		}
		// The import runs again to its end over what the dead one left.
		mustGP(t, "import", "--quiet", "--rules", "ig", "--layout", dir, tarPath)
		if rep, r := verifyJSON(t, dir); r.code != 0 || len(rep.Problems) != 0 {
			t.Fatalf("round %d: import after the crash: %+v", i, rep.Problems)
		}
	}
	t.Logf("%d of %d rounds killed mid-import, %d of them left a stage", killed, rounds, staged)
	if killed < wantKilled || staged == 0 {
		t.Errorf("only %d of %d rounds killed an import (%d with a stage), want %d", killed, rounds, staged, wantKilled)
	}
}
