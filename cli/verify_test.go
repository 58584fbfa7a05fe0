package cli

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gadgetpack/gadgetpack/layout"
)

func TestVerifyDemo(t *testing.T) {
	dir := buildDemo(t)
	r := mustGP(t, "verify", dir)
	if !strings.Contains(r.stdout, ": ok: ") || !strings.Contains(r.stdout, "layout digest sha256:") {
		t.Fatalf("verify output:\n%s", r.stdout)
	}
	rep, _ := verifyJSON(t, dir)
	if !rep.OK || rep.Blobs == 0 || rep.Bytes == 0 || rep.LayoutDigest == "" || rep.Path != dir {
		t.Fatalf("report: %+v", rep)
	}
	mustGP(t, "verify", "--expect", rep.LayoutDigest.String(), dir)
	other := "sha256:" + strings.Repeat("0", 64)
	rep2, r2 := verifyJSON(t, "--expect", other, dir)
	if r2.code != 1 || rep2.OK || !hasRule(rep2.Problems, "layout/expect") {
		t.Fatalf("wrong --expect: exit %d, problems %+v", r2.code, rep2.Problems)
	}
}

func hasRule(problems []layout.Problem, rule string) bool {
	for _, p := range problems {
		if p.Rule == rule {
			return true
		}
	}
	return false
}

// TestVerifyIGStore checks ig's own store: clean under ig's rules; under the seed's rules the
// only errors are the missing eBPF layers.
func TestVerifyIGStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ig-store")
	copyTree(t, sharedPath(t, "interop", "ig-store"), dir)
	rep, r := verifyJSON(t, "--rules", "ig", dir)
	if r.code != 0 || !rep.OK {
		t.Fatalf("--rules ig: exit %d, problems %+v", r.code, rep.Problems)
	}
	rep, r = verifyJSON(t, "--rules", "seed", dir)
	if r.code != 1 || rep.OK {
		t.Fatalf("--rules seed: exit %d, want 1 (no eBPF layer)", r.code)
	}
	for _, p := range rep.Problems {
		if p.Severity == "error" && p.Rule != "seed/ebpf-layer" {
			t.Errorf("--rules seed: unexpected error %+v", p)
		}
	}
}

// TestVerifyIGExport checks the layout inside ig's own export tarball under both rule sets.
func TestVerifyIGExport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "trace_open")
	untar(t, sharedPath(t, "interop", "ig-export", "trace_open.tar"), dir)
	for _, rules := range []string{"seed", "ig"} {
		rep, r := verifyJSON(t, "--rules", rules, dir)
		if r.code != 0 || !rep.OK {
			t.Fatalf("--rules %s: exit %d, problems %+v", rules, r.code, rep.Problems)
		}
	}
}

// untar extracts a tar of regular files (a test fixture we trust) into dir.
func untar(tb testing.TB, file, dir string) {
	tb.Helper()
	f, err := os.Open(file)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			tb.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		out, err := os.Create(p)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			tb.Fatal(err)
		}
		if err := out.Close(); err != nil {
			tb.Fatal(err)
		}
	}
}

// TestVerifyCorruption damages each blob of a built layout in turn (a flipped bit, a cut, a
// removal) and checks that verify fails and names the blob. The layout package's own tests flip
// bits at many offsets; this one checks what the user sees.
func TestVerifyCorruption(t *testing.T) {
	clean := buildDemo(t)
	blobs, err := filepath.Glob(filepath.Join(clean, "blobs", "sha256", "*"))
	if err != nil || len(blobs) < 8 {
		t.Fatalf("blobs: %v %v", blobs, err)
	}
	damage := map[string]func(string) error{
		"flip": func(p string) error {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			data[len(data)/2] ^= 0x10
			return os.WriteFile(p, data, 0o644)
		},
		"truncate": func(p string) error {
			st, err := os.Stat(p)
			if err != nil {
				return err
			}
			return os.Truncate(p, st.Size()-1)
		},
		"remove": os.Remove,
	}
	for _, how := range []string{"flip", "truncate", "remove"} {
		for _, blob := range blobs {
			hex := filepath.Base(blob)
			t.Run(how+"/"+hex[:12], func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "bundle")
				copyTree(t, clean, dir)
				p := filepath.Join(dir, "blobs", "sha256", hex)
				os.Chmod(p, 0o644)
				if err := damage[how](p); err != nil {
					t.Fatal(err)
				}
				rep, r := verifyJSON(t, dir)
				if r.code != 1 || rep.OK {
					t.Fatalf("exit %d ok=%v after %s of %s", r.code, rep.OK, how, hex)
				}
				named := false
				for _, p := range rep.Problems {
					if p.Severity == "error" && strings.Contains(p.Where+" "+p.Message, hex[:12]) {
						named = true
					}
				}
				if !named {
					t.Fatalf("no error names sha256:%s: %+v", hex, rep.Problems)
				}
			})
		}
	}
	t.Run("edited index.json under --expect", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "bundle")
		copyTree(t, clean, dir)
		rep, _ := verifyJSON(t, dir)
		p := filepath.Join(dir, "index.json")
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		edited := strings.Replace(string(data), "trace_params", "trace_paramz", 1)
		if err := os.WriteFile(p, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		rep2, r := verifyJSON(t, "--expect", rep.LayoutDigest.String(), dir)
		if r.code != 1 || !hasRule(rep2.Problems, "layout/expect") {
			t.Fatalf("edited index.json passed --expect: exit %d, %+v", r.code, rep2.Problems)
		}
	})
}
