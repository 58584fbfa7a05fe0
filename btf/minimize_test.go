package btf

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gadgetpack/gadgetpack/internal/testtool"
)

// bpftoolMinCoreBTF runs bpftool gen min_core_btf for one kernel and objects.
func bpftoolMinCoreBTF(tb testing.TB, bpftool string, kernel []byte, objs []string) ([]byte, error) {
	tb.Helper()
	dir := tb.TempDir()
	in, out := filepath.Join(dir, "in.btf"), filepath.Join(dir, "out.btf")
	if err := os.WriteFile(in, kernel, 0o644); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bpftool, append([]string{"gen", "min_core_btf", in, out}, objs...)...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, &exec.ExitError{ProcessState: cmd.ProcessState, Stderr: msg}
	}
	return os.ReadFile(out)
}

// TestMinimizeMatchesBpftool is the heart of the package: for every test object alone and for
// all of them together, against every test kernel, Minimize must give bpftool's bytes, or fail
// where bpftool fails.
func TestMinimizeMatchesBpftool(t *testing.T) {
	bpftool := testtool.Require(t, "bpftool")
	kernels := append(testKernels(t), synthKernels(t)...)
	paths := testObjectPaths(t)
	objs := loadTestObjects(t, paths)
	sets := map[string][]int{}
	var names []string
	for i, p := range paths {
		names = append(names, p)
		sets[p] = []int{i}
	}
	all := make([]int, len(paths))
	for i := range all {
		all[i] = i
	}
	names = append(names, "all")
	sets["all"] = all
	identical, bothFail := 0, 0
	for _, k := range kernels {
		kern, err := ParseKernel(k.data)
		if err != nil {
			t.Fatalf("%s: %v", k.name, err)
		}
		for _, n := range names {
			t.Run(k.name+"/"+strings.ReplaceAll(n, "/", "_"), func(t *testing.T) {
				var set []*Object
				var setPaths []string
				for _, i := range sets[n] {
					set = append(set, objs[i])
					setPaths = append(setPaths, paths[i])
				}
				want, werr := bpftoolMinCoreBTF(t, bpftool, k.data, setPaths)
				got, gerr := Minimize(kern, set...)
				switch {
				case werr != nil && gerr != nil:
					bothFail++
					t.Logf("both fail: bpftool: %s; Minimize: %v", bytes.TrimSpace(werr.(*exec.ExitError).Stderr), gerr)
				case werr != nil:
					t.Fatalf("bpftool fails (%s), Minimize gives %d bytes", bytes.TrimSpace(werr.(*exec.ExitError).Stderr), len(got))
				case gerr != nil:
					t.Fatalf("Minimize: %v; bpftool gives %d bytes", gerr, len(want))
				case !bytes.Equal(got, want):
					dir := t.TempDir()
					_ = os.WriteFile(filepath.Join(dir, "got.btf"), got, 0o644)
					_ = os.WriteFile(filepath.Join(dir, "want.btf"), want, 0o644)
					t.Fatalf("Minimize gives %d bytes, bpftool %d: differ (kept in %s)", len(got), len(want), dir)
				default:
					identical++
				}
			})
		}
	}
	t.Logf("%d kernels x %d object sets: %d byte-identical to bpftool, %d failing in both", len(kernels), len(names), identical, bothFail)
}

// FuzzMinimize feeds hostile CO-RE records (a fuzzed .BTF.ext beside a real .BTF) through the
// matching and marking code against a real kernel: no panic, and an error means no output.
func FuzzMinimize(f *testing.F) {
	objs, _ := filepath.Glob("testdata/*.bpf.o")
	for _, o := range objs {
		f.Add(extSection(f, o))
	}
	btfData := btfSection(f, "testdata/core_fields.bpf.o")
	kern, err := ParseKernel(testKernels(f)[0].data)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ext []byte) {
		o, err := newObject("fuzz", btfData, ext)
		if err != nil {
			return
		}
		out, err := Minimize(kern, o)
		if err != nil && out != nil {
			t.Fatal("error with a result")
		}
	})
}

func btfSection(tb testing.TB, path string) []byte {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	e, err := elf.NewFile(f)
	if err != nil {
		tb.Fatal(err)
	}
	data, err := e.Section(".BTF").Data()
	if err != nil {
		tb.Fatal(err)
	}
	return data
}
