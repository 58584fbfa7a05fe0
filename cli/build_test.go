package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildFromDirAndFlagsAgree(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	src := repoPath("testdata", "gadgets", "trace_exec")
	a := filepath.Join(t.TempDir(), "a")
	b := filepath.Join(t.TempDir(), "b")
	ra := mustGP(t, "build", "--layout", a, "--tag", "trace_exec", src)
	args := []string{"build", "--layout", b, "--tag", "ghcr.io/inspektor-gadget/gadget/trace_exec:latest",
		"--metadata", filepath.Join(src, "gadget.yaml"),
		"--ebpf", "x86_64=" + filepath.Join(src, "amd64.bpf.o"),
		"--ebpf", "aarch64=" + filepath.Join(src, "arm64.bpf.o"),
		"--wasm", filepath.Join(src, "program.wasm")}
	for _, arch := range []string{"amd64", "arm64"} {
		if p := filepath.Join(src, "btfs-"+arch+".tar.gz"); fileExists(p) {
			args = append(args, "--btfgen", arch+"="+p)
		}
	}
	rb := mustGP(t, args...)
	if ra.stdout != rb.stdout {
		t.Fatalf("SRC_DIR and flags built different images:\n%s\n%s", ra.stdout, rb.stdout)
	}
	if !strings.Contains(ra.stdout, "ghcr.io/inspektor-gadget/gadget/trace_exec:latest sha256:") {
		t.Fatalf("build output does not name the full ref and digest:\n%s", ra.stdout)
	}
	for _, dir := range []string{a, b} {
		rep, r := verifyJSON(t, dir)
		if r.code != 0 || !rep.OK || len(rep.Problems) != 0 {
			t.Fatalf("verify %s: exit %d, problems %+v", dir, r.code, rep.Problems)
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestBuildReproducible builds the same inputs twice under SOURCE_DATE_EPOCH and compares the
// two layouts byte for byte.
func TestBuildReproducible(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	a, b := buildDemo(t), buildDemo(t)
	if da, db := treeDigest(t, a), treeDigest(t, b); da != db {
		t.Fatalf("two builds differ: %s vs %s", da, db)
	}
}

// TestBuildRefusesBadInput feeds real bad inputs to build, into a missing layout and into one
// that holds images already: each is refused with exit 1 (2 for a usage error), an error naming
// the file, and not a byte changed.
func TestBuildRefusesBadInput(t *testing.T) {
	good := repoPath("testdata", "gadgets", "trace_exec")
	params := repoPath("testdata", "gadgets", "trace_params")
	bad := func(name string) string { return repoPath("testdata", "bad", name) }
	obj := filepath.Join(good, "amd64.bpf.o")
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		names string // what the error must mention
	}{
		{"non-BPF ELF", []string{"--ebpf", "amd64=" + bad("not-bpf.o")}, 1, "not-bpf.o"},
		{"wasm as eBPF", []string{"--ebpf", "amd64=" + bad("wasm-as-ebpf.o")}, 1, "wasm-as-ebpf.o"},
		{"empty file", []string{"--ebpf", "amd64=" + bad("empty.o")}, 1, "empty.o"},
		{"object without BTF", []string{"--ebpf", "amd64=" + bad("no-btf.bpf.o")}, 1, "no-btf.bpf.o"},
		{"big-endian object", []string{"--ebpf", "amd64=" + bad("big-endian.bpf.o")}, 1, "big-endian.bpf.o"},
		{"missing file", []string{"--ebpf", "amd64=" + bad("does-not-exist.o")}, 1, "does-not-exist.o"},
		{"unknown arch", []string{"--ebpf", "mips=" + obj}, 2, "mips"},
		{"arch twice", []string{"--ebpf", "amd64=" + obj, "--ebpf", "x86_64=" + obj}, 2, "amd64"},
		{"truncated wasm", []string{"--ebpf", "amd64=" + obj, "--wasm", bad("truncated.wasm")}, 1, "truncated.wasm"},
		{"invalid wasm", []string{"--ebpf", "amd64=" + obj, "--wasm", bad("invalid.wasm")}, 1, "invalid.wasm"},
		{"wasm without gadgetAPIVersion", []string{"--ebpf", "amd64=" + obj, "--wasm", bad("no-api-version.wasm")}, 1, "no-api-version.wasm"},
		{"param without variable", []string{"--metadata", bad("bad-params.yaml"), "--ebpf", "amd64=" + filepath.Join(params, "amd64.bpf.o")}, 1, "bad-params.yaml"},
		{"btfgen of the other arch", []string{"--ebpf", "amd64=" + obj, "--btfgen", "amd64=" + bad("btfs-wrong-arch.tar.gz")}, 1, "btfs-wrong-arch.tar.gz"},
		{"btfgen not gzip", []string{"--ebpf", "amd64=" + obj, "--btfgen", "amd64=" + bad("btfs-not-gzip.tar")}, 1, "btfs-not-gzip.tar"},
		{"btfgen bad path", []string{"--ebpf", "amd64=" + obj, "--btfgen", "amd64=" + bad("btfs-bad-path.tar.gz")}, 1, "btfs-bad-path.tar.gz"},
		{"btfgen not BTF", []string{"--ebpf", "amd64=" + obj, "--btfgen", "amd64=" + bad("not-btf.tar.gz")}, 1, "not-btf.tar.gz"},
		{"btfgen without object", []string{"--ebpf", "amd64=" + obj, "--btfgen", "arm64=" + bad("btfs-wrong-arch.tar.gz")}, 2, "arm64"},
		{"bad second arch after a good first", []string{"--ebpf", "amd64=" + obj, "--ebpf", "arm64=" + bad("not-bpf.o")}, 1, "not-bpf.o"},
		{"bad tag", []string{"--tag", "Not/A:Ref!", "--ebpf", "amd64=" + obj}, 2, "Not/A:Ref!"},
		{"no inputs", nil, 2, "missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fresh := filepath.Join(t.TempDir(), "fresh")
			existing := buildDemo(t)
			for _, dir := range []string{fresh, existing} {
				before := treeDigest(t, dir)
				args := []string{"build", "--layout", dir}
				if !hasFlag(tc.args, "--tag") {
					args = append(args, "--tag", "broken")
				}
				args = append(args, tc.args...)
				r := gp(t, args...)
				if r.code != tc.code {
					t.Fatalf("exit %d, want %d\nstderr: %s", r.code, tc.code, r.stderr)
				}
				if !strings.HasPrefix(r.stderr, "gadgetpack: ") || !strings.Contains(r.stderr, tc.names) {
					t.Fatalf("error does not name %q:\n%s", tc.names, r.stderr)
				}
				if strings.Count(r.stderr, "\n") != 1 {
					t.Fatalf("error printed more than once:\n%s", r.stderr)
				}
				if after := treeDigest(t, dir); after != before {
					t.Fatalf("layout %s changed on refused input", dir)
				}
			}
		})
	}
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag {
			return true
		}
	}
	return false
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"unknown command", []string{"frobnicate"}},
		{"unknown flag", []string{"verify", "--frob", "x"}},
		{"verify without layout", []string{"verify"}},
		{"verify two layouts", []string{"verify", "a", "b"}},
		{"flag after argument", []string{"verify", "x", "--json"}},
		{"bad rules", []string{"verify", "--rules", "strict", "x"}},
		{"bad expect", []string{"verify", "--expect", "md5:abc", "x"}},
		{"list without layout", []string{"list"}},
		{"tag one argument", []string{"tag", "--layout", "x", "a"}},
		{"bad annotation", []string{"build", "--layout", "x", "--tag", "a", "--annotation", "novalue", "--ebpf", "amd64=y"}},
		{"src dir and flags", []string{"build", "--layout", "x", "--tag", "a", "--ebpf", "amd64=y", "dir"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GADGETPACK_LAYOUT", "")
			r := gp(t, tc.args...)
			if r.code != ExitUsage {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, ExitUsage, r.stdout, r.stderr)
			}
		})
	}
}

func TestVersionAndHelp(t *testing.T) {
	if r := mustGP(t, "--version"); !strings.HasPrefix(r.stdout, "gadgetpack version ") {
		t.Fatalf("--version: %q", r.stdout)
	}
	for _, cmd := range []string{"build", "verify", "list", "inspect", "tag", "rm", "gc", "btfgen"} {
		r := mustGP(t, cmd, "--help")
		if !strings.Contains(r.stdout, "gadgetpack "+cmd) {
			t.Fatalf("%s --help does not show usage:\n%s", cmd, r.stdout)
		}
	}
}

func TestLayoutFromEnv(t *testing.T) {
	dir := buildDemo(t)
	t.Setenv("GADGETPACK_LAYOUT", dir)
	r := mustGP(t, "list", "--quiet")
	want := "ghcr.io/inspektor-gadget/gadget/trace_exec:latest\nghcr.io/inspektor-gadget/gadget/trace_params:latest\n"
	if r.stdout != want {
		t.Fatalf("list --quiet = %q, want %q", r.stdout, want)
	}
}

// TestBuildIGVersion: --ig-version stamps io.inspektor-gadget.builder.version on the index's
// entries, the manifests and the config descriptors, as ig image build does; a malformed one
// is a usage error that writes nothing.
func TestBuildIGVersion(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "l")
	mustGP(t, "build", "--layout", dir, "--tag", "trace_exec", "--ig-version", "v0.45.0", repoPath("testdata", "gadgets", "trace_exec"))
	files, err := filepath.Glob(filepath.Join(dir, "blobs", "sha256", "*"))
	if err != nil {
		t.Fatal(err)
	}
	stamped := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(data), `"io.inspektor-gadget.builder.version":"v0.45.0"`); n > 0 {
			stamped++
			if strings.Contains(string(data), `"config":`) && n != 2 {
				t.Errorf("manifest %s: stamped %d times, want on itself and its config", filepath.Base(f), n)
			}
		}
	}
	if stamped != 3 {
		t.Errorf("%d documents stamped, want the index and 2 manifests", stamped)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	if r := gp(t, "build", "--layout", bad, "--tag", "x", "--ig-version", "0.45", repoPath("testdata", "gadgets", "trace_exec")); r.code != ExitUsage || fileExists(bad) {
		t.Errorf("--ig-version 0.45: exit %d, layout made: %v", r.code, fileExists(bad))
	}
}
