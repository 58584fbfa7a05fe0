package cli

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// tarGzNames lists the entries of a .tar.gz file, failing the test when it cannot be read.
func tarGzNames(tb testing.TB, path string) []string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	tr := tar.NewReader(z)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		names = append(names, h.Name)
	}
}

// brokenArchive is the test archive plus one kernel that does not decompress.
func brokenArchive(tb testing.TB) (root, bad string) {
	tb.Helper()
	root = filepath.Join(tb.TempDir(), "archive")
	copyTree(tb, btfArchive(), root)
	bad = "ubuntu/22.04/x86_64/5.15.0-1-generic.btf.tar.xz"
	p := filepath.Join(root, filepath.FromSlash(bad))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("not xz at all"), 0o644); err != nil {
		tb.Fatal(err)
	}
	return root, bad
}

// copyFile copies the file src to dst.
func copyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// oldKernelArchive copies the real old vendor kernels of ../shared/kernels into a fresh archive.
func oldKernelArchive(tb testing.TB) string {
	tb.Helper()
	src := sharedPath(tb, "kernels")
	root := filepath.Join(tb.TempDir(), "archive")
	kernels, err := filepath.Glob(filepath.Join(src, "*", "*", "*", "*.btf.tar.xz"))
	if err != nil || len(kernels) != 4 {
		tb.Fatalf("%s: %d kernels, %v", src, len(kernels), err)
	}
	for _, k := range kernels {
		rel, _ := filepath.Rel(src, k)
		dst := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			tb.Fatal(err)
		}
		copyFile(tb, k, dst)
	}
	return root
}

// TestBTFGenKeepGoingWrites (issue 13, defect 1): with --keep-going and a kernel that cannot be
// read, -o FILE and --per-object write every pair that worked, list the skipped ones with their
// reason on stderr and in --json, and exit 1.
func TestBTFGenKeepGoingWrites(t *testing.T) {
	root, bad := brokenArchive(t)
	objs := []string{repoPath("testdata", "gadgets", "trace_exec", "amd64.bpf.o"), repoPath("btf", "testdata", "core_fields.bpf.o")}
	dir := t.TempDir()
	out := filepath.Join(dir, "btfs.tar.gz")
	r := gp(t, append([]string{"btfgen", "--archive", root, "--keep-going", "-o", out}, objs...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "skipped "+bad+" for all objects: ") || !strings.Contains(r.stderr, "1 of 4 kernel x object pairs skipped") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if names := tarGzNames(t, out); len(names) != 3 {
		t.Fatalf("-o %s holds %q, want the 3 good kernels", out, names)
	}

	per := filepath.Join(dir, "per")
	r = gp(t, append([]string{"btfgen", "--archive", root, "--keep-going", "--json", "--per-object", per}, objs...)...)
	if r.code != 1 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	for _, f := range []string{"amd64.bpf.tar.gz", "core_fields.bpf.tar.gz"} {
		if names := tarGzNames(t, filepath.Join(per, f)); len(names) != 3 {
			t.Fatalf("--per-object %s holds %q, want the 3 good kernels", f, names)
		}
	}
	var rep struct {
		Selected int `json:"kernelsSelected"`
		Kernels  int `json:"kernelsRead"`
		Pairs    int `json:"pairsWritten"`
		Skipped  []struct{ Kernel, Object, Output, Reason string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	if rep.Selected != 4 || rep.Kernels != 3 || rep.Pairs != 6 || len(rep.Skipped) != 2 {
		t.Fatalf("--json report %+v", rep)
	}
	for i, sk := range rep.Skipped {
		if sk.Kernel != bad || sk.Object != objs[i] || !strings.Contains(sk.Reason, "xz") || sk.Output != filepath.Join(per, filepath.Base(objs[i][:len(objs[i])-2])+".tar.gz") {
			t.Errorf("skipped pair %+v", sk)
		}
		if !strings.Contains(r.stderr, "skipped "+bad+" for "+objs[i]+": ") {
			t.Errorf("stderr does not list %s for %s:\n%s", bad, objs[i], r.stderr)
		}
	}
}

// TestBTFGenPerObjectIsolation (issue 13, defect 2): on the real CentOS 8 and Kylin V10
// kernels, core_ambiguous.bpf.o's relocation on task_struct is ambiguous (bpftool refuses it
// too); with --per-object --keep-going only its own pairs are lost, the other object keeps
// every kernel. With -o, the set is refused as a whole on those kernels, naming the object.
func TestBTFGenPerObjectIsolation(t *testing.T) {
	root := oldKernelArchive(t)
	amb, fields := repoPath("btf", "testdata", "core_ambiguous.bpf.o"), repoPath("btf", "testdata", "core_fields.bpf.o")
	per := filepath.Join(t.TempDir(), "per")
	r := gp(t, "btfgen", "--archive", root, "--keep-going", "--per-object", per, amb, fields)
	if r.code != 1 || !strings.Contains(r.stderr, "2 of 8 kernel x object pairs skipped") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	for _, k := range []string{"centos/8/arm64/4.18.0-147.5.1.el8_1.aarch64.btf.tar.xz", "kylin/V10/arm64/4.19.90-52.22.v2207.ky10.aarch64.btf.tar.xz"} {
		if !strings.Contains(r.stderr, "skipped "+k+" for "+amb+": ") || !strings.Contains(r.stderr, "ambiguous") {
			t.Errorf("stderr does not list %s for %s:\n%s", k, amb, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "for "+fields) {
		t.Errorf("a pair of %s skipped:\n%s", fields, r.stderr)
	}
	if names := tarGzNames(t, filepath.Join(per, "core_fields.bpf.tar.gz")); len(names) != 8 {
		t.Fatalf("core_fields: %q, want the 4 kernels under arm64 and aarch64", names)
	}
	if names := tarGzNames(t, filepath.Join(per, "core_ambiguous.bpf.tar.gz")); len(names) != 4 || slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "centos/") || strings.HasPrefix(n, "kylin/") }) {
		t.Fatalf("core_ambiguous: %q, want the two Android kernels", names)
	}

	out := filepath.Join(t.TempDir(), "all.tar.gz")
	r = gp(t, "btfgen", "--archive", root, "--keep-going", "-o", out, amb, fields)
	if r.code != 1 || !strings.Contains(r.stderr, "for "+amb+": ") || !strings.Contains(r.stderr, "refuses the 2 objects together") {
		t.Fatalf("-o: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if names := tarGzNames(t, out); len(names) != 4 {
		t.Fatalf("-o: %q, want the two Android kernels", names)
	}
}

// TestBTFGenSymlinksAndNoKernel (issue 13, defect 3): a symlinked root, folder and kernel file
// are followed; an archive or filter that selects no kernel is an error naming them, and
// nothing is written.
func TestBTFGenSymlinksAndNoKernel(t *testing.T) {
	obj := repoPath("testdata", "gadgets", "trace_exec", "amd64.bpf.o")
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	kernels, err := filepath.Glob(filepath.Join(btfArchive(), "debian", "12", "x86_64", "*.btf.tar.xz"))
	if err != nil || len(kernels) != 3 {
		t.Fatal(kernels, err)
	}
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	for _, l := range []struct{ target, link string }{
		{abs(kernels[0]), filepath.Join(real, "debian", "12", "x86_64", filepath.Base(kernels[0]))}, // a file
		{abs(filepath.Dir(kernels[1])), filepath.Join(real, "ubuntu", "20.04", "x86_64")},           // a folder
		{real, filepath.Join(real, "ubuntu", "20.04-loop")},                                         // a loop
		{real, filepath.Join(dir, "archive")},                                                       // the root
	} {
		if err := os.MkdirAll(filepath.Dir(l.link), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(l.target, l.link); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "out.tar.gz")
	mustGP(t, "btfgen", "--archive", filepath.Join(dir, "archive"), "-o", out, obj)
	if names := tarGzNames(t, out); len(names) != 4 {
		t.Fatalf("%q, want 1 kernel through a linked file and 3 through a linked folder", names)
	}

	empty := filepath.Join(dir, "empty")
	if err := os.MkdirAll(filepath.Join(empty, "ubuntu", "20.04", "x86_64"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		names []string
	}{
		{"empty archive", []string{"--archive", empty}, []string{empty, "no kernel"}},
		{"filter selects none", []string{"--archive", btfArchive(), "--filter", "centos/*"}, []string{btfArchive(), `"centos/*"`}},
		{"arch selects none", []string{"--archive", btfArchive(), "--arch", "arm64"}, []string{btfArchive(), "arm64"}},
	} {
		for _, mode := range []string{"-o", "--per-object"} {
			t.Run(tc.name+" "+mode, func(t *testing.T) {
				d := t.TempDir()
				target := filepath.Join(d, "out")
				r := gp(t, append(append([]string{"btfgen"}, tc.args...), mode, target, obj)...)
				if r.code != 1 {
					t.Fatalf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
				}
				for _, n := range tc.names {
					if !strings.Contains(r.stderr, n) {
						t.Errorf("stderr does not name %s:\n%s", n, r.stderr)
					}
				}
				if left := dirNamesOf(t, d); len(left) != 0 {
					t.Fatalf("left %q behind", left)
				}
			})
		}
	}
}

// TestBTFGenFilterArm64 (issue 13, defect 4): in an archive whose arm64 folders are named
// aarch64 on disk, --filter matches the coordinates written in the output (arm64) as well as
// the path on disk.
func TestBTFGenFilterArm64(t *testing.T) {
	src := sharedPath(t, "kernels", "kylin", "V10", "arm64", "4.19.90-52.22.v2207.ky10.aarch64.btf.tar.xz")
	root := filepath.Join(t.TempDir(), "archive")
	dst := filepath.Join(root, "kylin", "V10", "aarch64", filepath.Base(src))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, src, dst)
	obj := repoPath("btf", "testdata", "core_fields.bpf.o")
	for _, filter := range []string{"kylin/V10/arm64/*", "kylin/V10/aarch64/*", "kylin/*/arm64/4.19.90-*.btf"} {
		t.Run(filter, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.tar.gz")
			mustGP(t, "btfgen", "--archive", root, "--filter", filter, "-o", out, obj)
			want := []string{"kylin/V10/arm64/4.19.90-52.22.v2207.ky10.aarch64.btf", "kylin/V10/aarch64/4.19.90-52.22.v2207.ky10.aarch64.btf"}
			if names := tarGzNames(t, out); !slices.Equal(names, want) {
				t.Fatalf("%q, want %q", names, want)
			}
		})
	}
}

// TestBTFGenSummary (issue 13, defect 5): the summary counts kernels read and pairs written,
// and gives each output its own kernels, entries and bytes, the size of the file written.
func TestBTFGenSummary(t *testing.T) {
	objs := []string{repoPath("testdata", "gadgets", "trace_exec", "amd64.bpf.o"), repoPath("btf", "testdata", "core_none.bpf.o"), repoPath("btf", "testdata", "core_fields.bpf.o")}
	per := filepath.Join(t.TempDir(), "per")
	r := mustGP(t, append([]string{"btfgen", "--archive", btfArchive(), "--per-object", per}, objs...)...)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || lines[0] != "3 kernels read, 9 pairs written, 0 pairs skipped" {
		t.Fatalf("summary:\n%s", r.stdout)
	}
	for _, l := range lines[1:] {
		path, rest, _ := strings.Cut(l, ": ")
		f := strings.Fields(rest) // N kernels, N entries, N bytes
		st, err := os.Stat(path)
		if err != nil || len(f) != 6 || f[0] != "3" || f[2] != "3" || f[4] != strconv.FormatInt(st.Size(), 10) {
			t.Errorf("line %q: file %v, %v", l, st, err)
		}
	}
}
