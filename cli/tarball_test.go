package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gadgetpack/gadgetpack/layout"
)

// sameReport fails unless a tarball's verify report says what its layout's does: the same
// problems (those about a layout folder's own files aside), counts and verdict; the same layout
// digest when sameIndex (an export's index.json is the layout's).
func sameReport(tb testing.TB, got, want layout.Report, sameIndex bool) {
	tb.Helper()
	strip := func(ps []layout.Problem) []string {
		var out []string
		for _, p := range ps {
			if p.Rule != layout.RuleTempLeftover && p.Rule != layout.RuleUnknownFile {
				out = append(out, p.String())
			}
		}
		return out
	}
	if g, w := strip(got.Problems), strip(want.Problems); !slices.Equal(g, w) {
		tb.Fatalf("problems differ:\ntarball %s\nlayout  %s", strings.Join(g, "\n        "), strings.Join(w, "\n        "))
	}
	if got.OK != want.OK || got.Blobs != want.Blobs || got.Bytes != want.Bytes || (sameIndex && got.LayoutDigest != want.LayoutDigest) {
		tb.Fatalf("tarball %+v\nlayout  %+v", got, want)
	}
}

// TestVerifyTarball verifies the demo's export in every form verify reads (plain, gzip, zstd,
// split parts named either way, stdin) under both rule sets: the report is the layout's.
func TestVerifyTarball(t *testing.T) {
	src := buildDemo(t)
	dir := t.TempDir()
	for _, tc := range tarballForms {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".tar")
			mustGP(t, append(append([]string{"export", "--layout", src}, tc.flags...), "-o", out)...)
			for _, rules := range []string{"seed", "ig"} {
				want, _ := verifyJSON(t, "--rules", rules, src)
				args := append([]string{"verify", "--json", "--rules", rules}, tc.args(out)...)
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
				var got layout.Report
				if err := jsonDecode(r.stdout, &got); err != nil || r.code != 0 {
					t.Fatalf("--rules %s: exit %d, %v\n%s\n%s", rules, r.code, err, r.stdout, r.stderr)
				}
				sameReport(t, got, want, true)
				if !want.OK || got.Path != tc.args(out)[0] {
					t.Fatalf("report %+v", got)
				}
			}
			if tc.stdin {
				return
			}
			text := mustGP(t, append([]string{"verify"}, tc.args(out)...)...)
			if !strings.Contains(text.stdout, ": ok: ") || !strings.Contains(text.stdout, "layout digest sha256:") {
				t.Fatalf("text report:\n%s", text.stdout)
			}
		})
	}
	// --expect.
	out := filepath.Join(dir, "plain.tar")
	want, _ := verifyJSON(t, src)
	mustGP(t, "verify", "--expect", want.LayoutDigest.String(), out)
	rep, r := verifyJSON(t, "--expect", "sha256:"+strings.Repeat("0", 64), out)
	if r.code != 1 || rep.OK || !hasRule(rep.Problems, layout.RuleExpect) {
		t.Fatalf("wrong --expect: exit %d, %+v", r.code, rep.Problems)
	}
	if r := gp(t, "verify", "-", out); r.code != 2 {
		t.Fatalf("- with parts: exit %d", r.code)
	}
}

// TestVerifyTarballIG verifies ig's own export (layers before manifests), from the file and
// from stdin, and an export of ig's store: the same reports as for their layouts.
func TestVerifyTarballIG(t *testing.T) {
	igExport := sharedPath(t, "interop", "ig-export", "trace_open.tar")
	extracted := filepath.Join(t.TempDir(), "trace_open")
	untar(t, igExport, extracted)
	data, err := os.ReadFile(igExport)
	if err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(t.TempDir(), "ig-store")
	copyTree(t, sharedPath(t, "interop", "ig-store"), store)
	storeTar := filepath.Join(t.TempDir(), "store.tar")
	mustGP(t, "export", "--layout", store, "-o", storeTar)
	storeOut := filepath.Join(t.TempDir(), "store-out")
	untar(t, storeTar, storeOut)
	for _, rules := range []string{"seed", "ig"} {
		want, _ := verifyJSON(t, "--rules", rules, extracted)
		got, r := verifyJSON(t, "--rules", rules, igExport)
		if r.code != 0 {
			t.Fatalf("--rules %s: exit %d: %+v", rules, r.code, got.Problems)
		}
		sameReport(t, got, want, true)
		r = gpIn(t, string(data), "verify", "--json", "--rules", rules, "-")
		var fromStdin layout.Report
		if err := jsonDecode(r.stdout, &fromStdin); err != nil || r.code != 0 {
			t.Fatalf("stdin: exit %d %v %s", r.code, err, r.stderr)
		}
		sameReport(t, fromStdin, want, true)

		want, _ = verifyJSON(t, "--rules", rules, storeOut)
		got, r = verifyJSON(t, "--rules", rules, storeTar)
		sameReport(t, got, want, true)
		if wantCode := map[string]int{"seed": 1, "ig": 0}[rules]; r.code != wantCode {
			t.Fatalf("ig store tarball, --rules %s: exit %d", rules, r.code)
		}
	}
}

// tarballFindings is the rule each hostile tarball's verify report has among its errors.
var tarballFindings = map[string]string{
	"dotdot.tar": "tar/entry", "absolute.tar": "tar/entry", "symlink.tar": "tar/entry",
	"hardlink.tar": "tar/entry", "device.tar": "tar/entry", "fifo.tar": "tar/entry",
	"duplicate.tar": "tar/entry", "unknown-name.tar": "tar/entry", "temp-dir.tar": "tar/entry",
	"bad-blob-name.tar": "tar/entry", "uppercase-digest.tar": "tar/entry",
	"content-mismatch.tar": layout.RuleBlobDigest, "truncated.tar": "tar/stream",
	"layout-version.tar": layout.RuleLayoutFile, "index-not-json.tar": layout.RuleJSON,
	"index-path-digest.tar": layout.RuleDescDigest, "missing-base.tar": layout.RuleMissingBlob,
	"manifest-too-large.tar.gz": layout.RuleTooLarge, "over-max-size.tar.gz": layout.RuleUnreferenced,
	"gzip-bomb.tar.gz": "tar/stream", "zstd-window.tar.zst": "tar/stream",
	"trailing-data.tar": "tar/stream", "not-a-tar.tar": "tar/stream",
	"sparse-gnu.tar": "tar/entry", "sparse-pax-0.0.tar": "tar/entry", "sparse-pax-0.1.tar": "tar/entry",
	"sparse-pax-1.0.tar": "tar/entry", "sparse-pax-1.0.tar.gz": "tar/entry", "bad-header-checksum.tar": "tar/stream",
	"gzip-trailing-data.tar.gz": "tar/stream", "zstd-trailing-data.tar.zst": "tar/stream",
}

// TestVerifyTarballHostile verifies every tarball of the hostile corpus: each is reported, with
// an error of the expected rule (over-max-size.tar.gz is sound under verify's cap, with a blob
// nothing points at), and the command exits 1 for errors.
func TestVerifyTarballHostile(t *testing.T) {
	files, err := filepath.Glob(repoPath("tarball", "testdata", "hostile", "*"))
	if err != nil || len(files) < 15 {
		t.Fatalf("hostile corpus: %d files, %v", len(files), err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			rule, ok := tarballFindings[name]
			if !ok {
				t.Fatalf("no case for %s", name)
			}
			rep, r := verifyJSON(t, f)
			if !hasRule(rep.Problems, rule) {
				t.Fatalf("exit %d, no %s finding: %+v", r.code, rule, rep.Problems)
			}
			if wantOK := rule == layout.RuleUnreferenced; rep.OK != wantOK || r.code != map[bool]int{true: 0, false: 1}[wantOK] {
				t.Fatalf("exit %d, ok %v: %+v", r.code, rep.OK, rep.Problems)
			}
		})
	}
}

// jsonDecode decodes a command's JSON output.
func jsonDecode(out string, v any) error { return json.Unmarshal([]byte(out), v) }

// tarballForm is one way to export the demo and hand the result to a command: args turns the
// export's -o path into the command's arguments; stdin feeds the file on stdin instead.
type tarballForm struct {
	name  string
	flags []string
	args  func(out string) []string
	stdin bool
}

// tarballForms are the forms import and verify read: plain, gzip, zstd, split parts named as
// FILE or listed, and stdin.
var tarballForms = []tarballForm{
	{"plain", nil, func(out string) []string { return []string{out} }, false},
	{"gzip", []string{"--compress", "gzip"}, func(out string) []string { return []string{out} }, false},
	{"zstd", []string{"--compress", "zstd"}, func(out string) []string { return []string{out} }, false},
	{"split as FILE", []string{"--split", "1M"}, func(out string) []string { return []string{out} }, false},
	{"split as parts", []string{"--split", "1M", "--compress", "gzip"}, func(out string) []string {
		parts, _ := filepath.Glob(out + ".0*")
		return parts
	}, false},
	{"stdin", []string{"--compress", "zstd"}, func(string) []string { return []string{"-"} }, true},
}

// TestTarballChecksum: verify and import check a tarball against the FILE.sha256 export wrote
// beside it. A ref renamed inside index.json changes no blob's digest: only that file sees it.
func TestTarballChecksum(t *testing.T) {
	src := buildDemo(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "bundle.tar")
	mustGP(t, "export", "--layout", src, "-o", out)
	r := mustGP(t, "verify", out)
	if !strings.Contains(r.stdout, "checksum "+out+".sha256: ok: 1 file, ") {
		t.Fatalf("verify says nothing of the checksum file:\n%s", r.stdout)
	}
	far := filepath.Join(dir, "far")
	r = mustGP(t, "import", "--layout", far, out)
	if !strings.Contains(r.stdout, "checksum "+out+".sha256: ok") {
		t.Fatalf("import says nothing of the checksum file:\n%s", r.stdout)
	}

	// Rename trace_exec:latest to trace_exeX:latest in the tar's index.json.
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndex(string(data), "trace_exec:latest")
	data[i+len("trace_exe")] = 'X'
	if err := os.WriteFile(out, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		layout.Report
		Checksum *struct {
			Path string `json:"path"`
			OK   bool   `json:"ok"`
		} `json:"checksum"`
	}
	r = gp(t, "verify", "--json", out)
	if err := jsonDecode(r.stdout, &rep); err != nil || r.code != 1 || rep.OK || rep.Checksum == nil || rep.Checksum.OK ||
		rep.Checksum.Path != out+".sha256" || !hasRule(rep.Problems, "tar/checksum") {
		t.Fatalf("verify of a changed tarball: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	before := treeDigest(t, far)
	r = gp(t, "import", "--layout", far, "--force", out)
	if r.code != 1 || !strings.Contains(r.stderr, "the file changed after export") {
		t.Fatalf("import of a changed tarball: exit %d\n%s", r.code, r.stderr)
	}
	if treeDigest(t, far) != before {
		t.Fatal("a refused import changed the layout")
	}
	fresh := filepath.Join(dir, "fresh")
	if r := gp(t, "import", "--layout", fresh, out); r.code != 1 {
		t.Fatalf("import into a new path: exit %d", r.code)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Fatalf("a refused import left %s: %v", fresh, err)
	}
	// Without the checksum file the change goes unseen: the layout digest is the only witness.
	if err := os.Remove(out + ".sha256"); err != nil {
		t.Fatal(err)
	}
	want, _ := verifyJSON(t, src)
	mustGP(t, "verify", out)
	if r := gp(t, "verify", "--expect", want.LayoutDigest.String(), out); r.code != 1 {
		t.Fatalf("--expect of the original layout digest: exit %d", r.code)
	}
}
