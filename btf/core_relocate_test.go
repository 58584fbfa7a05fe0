package btf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// fixups relocates every CO-RE instruction of spec against target with cilium/ebpf and
// returns one line per relocation: program, instruction index and the fixup. A target type ID
// is only compared for presence: the minimal BTF renumbers types (bpftool's known limit).
func fixups(tb testing.TB, spec *ebpf.CollectionSpec, target *btf.Spec) []string {
	tb.Helper()
	var out []string
	names := make([]string, 0, len(spec.Programs))
	for n := range spec.Programs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		prog := spec.Programs[n]
		var relos []*btf.CORERelocation
		var at []int
		iter := prog.Instructions.Iterate()
		for iter.Next() {
			if r := btf.CORERelocationMetadata(iter.Ins); r != nil {
				relos = append(relos, r)
				at = append(at, iter.Index)
			}
		}
		if len(relos) == 0 {
			continue
		}
		fs, err := btf.CORERelocate(relos, []*btf.Spec{target}, binary.LittleEndian, spec.Types.TypeID)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: error %v", n, err))
			continue
		}
		for i, f := range fs {
			s := f.String()
			if strings.HasPrefix(s, "target_type_id=") && !strings.HasSuffix(s, "=poison") {
				s = "target_type_id=found"
			}
			ins := prog.Instructions[at[i]]
			if err := f.Apply(&ins); err != nil {
				s += " apply: " + err.Error()
			} else if !strings.HasPrefix(s, "target_type_id") {
				s += " -> " + asm.Instructions{ins}.String()
			}
			out = append(out, fmt.Sprintf("%s[%d]: %s", n, at[i], s))
		}
	}
	return out
}

// TestMinimalBTFRelocatesLikeKernel checks that cilium/ebpf's CO-RE relocation of each object
// gives the same fixups against the minimal BTF as against the full kernel BTF.
func TestMinimalBTFRelocatesLikeKernel(t *testing.T) {
	kernels := testKernels(t)
	paths := testObjectPaths(t)
	objs := loadTestObjects(t, paths)
	for _, k := range kernels {
		full, err := btf.LoadSpecFromReader(bytes.NewReader(k.data))
		if err != nil {
			t.Fatalf("%s: %v", k.name, err)
		}
		kern, err := ParseKernel(k.data)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range paths {
			t.Run(k.name+"/"+strings.ReplaceAll(p, "/", "_"), func(t *testing.T) {
				spec, err := ebpf.LoadCollectionSpec(p)
				if err != nil {
					t.Fatal(err)
				}
				raw, err := Minimize(kern, objs[i])
				if err != nil {
					t.Fatal(err)
				}
				min, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
				if err != nil {
					t.Fatal(err)
				}
				want, got := fixups(t, spec, full), fixups(t, spec, min)
				if len(want) == 0 && !strings.Contains(p, "core_none") {
					t.Fatalf("no CO-RE relocation found in %s", p)
				}
				t.Logf("%d fixups compared", len(want))
				if !slices.Equal(got, want) {
					t.Fatalf("fixups differ:\nfull kernel:\n%s\nminimal:\n%s", strings.Join(want, "\n"), strings.Join(got, "\n"))
				}
			})
		}
	}
}
