package btf

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
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

// TestPrefixFilter checks that no kernel name whose essential name is wanted is filtered out:
// short names, flavoured names, names at the end of the string table, and names whose first
// bytes differ.
func TestPrefixFilter(t *testing.T) {
	wanted := []string{"a", "ab", "pid", "task", "task_struct", "sk_buff"}
	var f prefixFilter
	for _, n := range wanted {
		f.add(n)
	}
	for _, tc := range []struct {
		kernel string
		pass   bool
	}{
		{"a", true}, {"ab", true}, {"pid", true}, {"task", true}, {"task_struct", true},
		{"a___old", true}, {"ab___x", true}, {"pid___v2", true}, {"task_struct___old", true},
		{"sk_buff", true}, {"pi", false}, {"xyz", false}, {"rq", false}, {"inode", false},
	} {
		// each name twice: followed by other strings, and at the very end of the table
		for _, strs := range []string{"\x00" + tc.kernel + "\x00zzzz\x00", "\x00" + tc.kernel + "\x00"} {
			w, ok := prefixWord([]byte(strs), 1)
			if got := !ok || f.has(w); tc.pass && !got {
				t.Errorf("%q in %q filtered out", tc.kernel, strs)
			} else if !tc.pass && got && ok {
				// a false positive is allowed by the design but not expected for these
				t.Logf("%q passes the filter (hash collision)", tc.kernel)
			}
		}
	}
}

// TestCandidateIndex compares the filtered candidate index with a plain scan of every kernel
// type (named, of a relocation's kind, with the wanted essential name), on every test kernel
// for all test objects.
func TestCandidateIndex(t *testing.T) {
	objs := loadTestObjects(t, testObjectPaths(t))
	kinds := map[int]bool{}
	for _, o := range objs {
		for _, r := range o.relos {
			kind := o.btf.typ(r.typeID).kind()
			kinds[kind] = true
			if isAnyEnum(kind) {
				kinds[kindEnum], kinds[kindEnum64] = true, true
			}
		}
	}
	for _, k := range testKernels(t) {
		kern, err := ParseKernel(k.data)
		if err != nil {
			t.Fatal(err)
		}
		got := kern.candidateIndex(objs)
		want := map[string][]uint32{}
		for _, o := range objs {
			for _, n := range o.locals {
				want[n] = nil
			}
		}
		b := kern.raw
		for id := uint32(1); id < uint32(len(b.types)); id++ {
			if b.typ(id).nameOff == 0 || !kinds[b.typ(id).kind()] {
				continue
			}
			name := b.strBytes(b.typ(id).nameOff)
			if ids, ok := want[string(name[:essentialNameLen(name)])]; ok {
				want[string(name[:essentialNameLen(name)])] = append(ids, id)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: candidate index differs from a plain scan", k.name)
		}
	}
}
