package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/spec"
)

func btfArchive() string { return repoPath("btf", "testdata", "archive") }

func TestBTFGenCommand(t *testing.T) {
	objs := []string{repoPath("testdata", "gadgets", "trace_exec", "amd64.bpf.o"), repoPath("testdata", "gadgets", "trace_params", "amd64.bpf.o")}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.tar.gz"), filepath.Join(dir, "b.tar.gz")
	r := mustGP(t, append([]string{"btfgen", "--archive", btfArchive(), "-o", a}, objs...)...)
	if !strings.HasPrefix(r.stdout, "3 kernels read, 3 pairs written, 0 pairs skipped\n"+a+": 3 kernels, 3 entries, ") {
		t.Fatalf("btfgen output: %q", r.stdout)
	}
	mustGP(t, append([]string{"btfgen", "--archive", btfArchive(), "--jobs", "1", "-o", b}, objs...)...)
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) {
		t.Fatal("two runs (2 jobs, 1 job) gave different archives")
	}
	entries, err := spec.CheckBTFGen(context.Background(), bytes.NewReader(da), "amd64")
	if err != nil || len(entries) != 3 {
		t.Fatalf("our archive in the amd64 slot: %v %v", entries, err)
	}

	// stdout and zstd
	r = mustGP(t, append([]string{"btfgen", "--archive", btfArchive(), "--filter", "debian/12/x86_64/6.1.*", "--compress", "zstd", "-o", "-"}, objs...)...)
	if !strings.HasPrefix(r.stdout, "\x28\xb5\x2f\xfd") {
		t.Fatalf("-o - --compress zstd did not write a zstd stream")
	}

	// one archive per object
	per := filepath.Join(dir, "per")
	mustGP(t, append([]string{"btfgen", "--archive", btfArchive(), "--per-object", per}, objs[0])...)
	if _, err := os.Stat(filepath.Join(per, "amd64.bpf.tar.gz")); err != nil {
		t.Fatalf("--per-object: %v", err)
	}
}

func TestBTFGenRefuses(t *testing.T) {
	obj := repoPath("testdata", "gadgets", "trace_exec", "amd64.bpf.o")
	broken := filepath.Join(t.TempDir(), "archive")
	copyTree(t, btfArchive(), broken)
	bad := filepath.Join(broken, "ubuntu", "22.04", "x86_64", "5.15.0-1-generic.btf.tar.xz")
	if err := os.MkdirAll(filepath.Dir(bad), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("not xz at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		names string
	}{
		{"no BTF in object", []string{"--archive", btfArchive(), "-o", "OUT", repoPath("testdata", "bad", "no-btf.bpf.o")}, 1, "no-btf.bpf.o"},
		{"not an object", []string{"--archive", btfArchive(), "-o", "OUT", repoPath("testdata", "bad", "not-bpf.o")}, 1, "not-bpf.o"},
		{"missing archive", []string{"--archive", "/nonexistent/archive", "-o", "OUT", obj}, 1, "/nonexistent/archive"},
		{"broken kernel stops the run", []string{"--archive", broken, "-o", "OUT", obj}, 1, "ubuntu/22.04/x86_64/5.15.0-1-generic.btf.tar.xz"},
		{"broken kernel with --keep-going", []string{"--archive", broken, "--keep-going", "-o", "OUT", obj}, 1, "ubuntu/22.04/x86_64/5.15.0-1-generic.btf.tar.xz"},
		{"no output", []string{"--archive", btfArchive(), obj}, 2, "-o FILE"},
		{"both outputs", []string{"--archive", btfArchive(), "-o", "x", "--per-object", "y", obj}, 2, "-o FILE"},
		{"bad arch", []string{"--archive", btfArchive(), "--arch", "mips", "-o", "OUT", obj}, 2, "mips"},
		{"bad compression", []string{"--archive", btfArchive(), "--compress", "xz", "-o", "OUT", obj}, 2, "xz"},
		{"no object", []string{"--archive", btfArchive(), "-o", "OUT"}, 2, "OBJ"},
		{"two objects, one per-object name", []string{"--archive", btfArchive(), "--per-object", "DIR", obj, repoPath("testdata", "gadgets", "trace_params", "amd64.bpf.o")}, 2, "amd64.bpf.tar.gz"},
		{"--json with -o -", []string{"--archive", btfArchive(), "--json", "-o", "-", obj}, 2, "--json"},
		{"output folder missing", []string{"--archive", btfArchive(), "-o", "MISSING", obj}, 1, "nonexistent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.tar.gz")
			args := []string{"btfgen"}
			for _, a := range tc.args {
				switch a {
				case "OUT":
					a = out
				case "DIR":
					a = filepath.Join(dir, "per")
				case "MISSING":
					a = filepath.Join(dir, "nonexistent", "out.tar.gz")
				}
				args = append(args, a)
			}
			r := gp(t, args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.names) {
				t.Fatalf("exit %d (want %d), stderr does not name %q:\n%s", r.code, tc.code, tc.names, r.stderr)
			}
			if tc.name == "broken kernel with --keep-going" {
				if !strings.Contains(r.stdout, "3 pairs written, 1 pairs skipped") {
					t.Fatalf("--keep-going did not write the good kernels: %s", r.stdout)
				}
				return
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Fatalf("a failed btfgen left %v behind", left)
			}
		})
	}
}

// TestBuildWithBTFHubArchive builds with btfgen made from the archive: the amd64 manifest gets a
// btfgen layer that verify checks entry by entry; arm64, with no arm64 kernel in the archive,
// gets none and a warning.
func TestBuildWithBTFHubArchive(t *testing.T) {
	src := repoPath("testdata", "gadgets", "trace_exec")
	dir := filepath.Join(t.TempDir(), "bundle")
	r := mustGP(t, "build", "--layout", dir, "--tag", "trace_exec", "--metadata", filepath.Join(src, "gadget.yaml"),
		"--ebpf", "amd64="+filepath.Join(src, "amd64.bpf.o"), "--ebpf", "arm64="+filepath.Join(src, "arm64.bpf.o"),
		"--btfhub-archive", btfArchive())
	if !strings.Contains(r.stderr, "warning: ") || !strings.Contains(r.stderr, "no btfgen layer for arm64") {
		t.Fatalf("no warning for the arm64 slot:\n%s", r.stderr)
	}
	for _, rules := range []string{"seed", "ig"} {
		rep, r := verifyJSON(t, "--rules", rules, dir)
		if r.code != 0 || len(rep.Problems) != 0 {
			t.Fatalf("--rules %s: %+v", rules, rep.Problems)
		}
	}
	var root struct {
		Children []struct {
			Platform *ocispec.Platform
			Children []struct{ MediaType string }
		}
	}
	if err := json.Unmarshal([]byte(mustGP(t, "inspect", "--layout", dir, "--json", "trace_exec").stdout), &root); err != nil {
		t.Fatal(err)
	}
	last := func(i int) string { c := root.Children[i].Children; return c[len(c)-1].MediaType }
	if last(0) != spec.MediaTypeBTFGen || last(1) == spec.MediaTypeBTFGen {
		t.Fatalf("btfgen layers: amd64 %s, arm64 %s", last(0), last(1))
	}
}

// TestBTFGenStatus: the progress line of a long run gives kernels done / total and the pairs
// skipped so far.
func TestBTFGenStatus(t *testing.T) {
	for _, tc := range []struct {
		done, total, skipped int
		elapsed              float64
		want                 string
	}{
		{0, 300, 0, 1, "0/300 kernels, 0 pairs skipped, 0.0 kernels/s"},
		{150, 300, 12, 10, "150/300 kernels, 12 pairs skipped, 15.0 kernels/s"},
		{300, 300, 86, 20, "300/300 kernels, 86 pairs skipped, 15.0 kernels/s"},
	} {
		if got := btfgenStatus(tc.done, tc.total, tc.skipped)(tc.elapsed); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
