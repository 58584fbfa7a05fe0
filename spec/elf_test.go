package spec

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestCheckELF(t *testing.T) {
	params := []string{"ignore_failed", "targ_pid", "targ_uid"}
	for _, tc := range []struct {
		file                string
		params, programs    []string
		notParam, notReason string
	}{
		{"gadgets/trace_exec/amd64.bpf.o", nil, []string{"trace_exec"}, "unused_event", "is not const"},
		{"gadgets/trace_exec/arm64.bpf.o", nil, []string{"trace_exec"}, "gadget_tracer_exec___events___event", "is not const"},
		{"gadgets/trace_params/amd64.bpf.o", params, []string{"trace_openat_exit"}, "unused_event", "is not const"},
		{"gadgets/trace_params/arm64.bpf.o", params, []string{"trace_openat_exit"}, "gadget_param_targ_pid", "is not const"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data := readTestdata(t, tc.file)
			info, err := CheckELF(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(info.ConstVolatiles, tc.params) {
				t.Errorf("ConstVolatiles = %q, want %q", info.ConstVolatiles, tc.params)
			}
			if !slices.Equal(info.Programs, tc.programs) {
				t.Errorf("Programs = %q, want %q", info.Programs, tc.programs)
			}
			if why := info.notParam[tc.notParam]; !strings.Contains(why, tc.notReason) {
				t.Errorf("why %s is no parameter: %q, want %q", tc.notParam, why, tc.notReason)
			}
		})
	}
}

// TestCheckELFIG checks the eBPF objects of ig's own trace_open export: real CO-RE objects
// whose old-form metadata names targ_failed, targ_tgid and targ_uid.
func TestCheckELFIG(t *testing.T) {
	set := readLayoutTar(t, interopPath(t, "ig-export/trace_open.tar"))
	for _, d := range []string{
		"sha256:d4797e15f105a82e08912fe7168650ff5d425d8505742e4cbaa6e8a3b0b7a636",
		"sha256:367661ade36159f4c59ec79dfe27c07f23271af91aab8298c1614e13a78dc6ac",
	} {
		t.Run(d, func(t *testing.T) {
			data := set.blobs[digestOf(d)]
			info, err := CheckELF(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"targ_failed", "targ_tgid", "targ_uid"} {
				if !slices.Contains(info.ConstVolatiles, p) {
					t.Errorf("ConstVolatiles %q lack %s", info.ConstVolatiles, p)
				}
			}
			if len(info.Programs) == 0 || !slices.IsSorted(info.Programs) {
				t.Errorf("Programs = %q", info.Programs)
			}
		})
	}
}

func TestCheckELFBad(t *testing.T) {
	good := readTestdata(t, "gadgets/trace_params/amd64.bpf.o")
	class32 := slices.Clone(good)
	class32[4] = 1
	classBad := slices.Clone(good)
	classBad[4] = 7
	dataBad := slices.Clone(good)
	dataBad[5] = 0
	machineNone := slices.Clone(good)
	machineNone[18], machineNone[19] = 0, 0
	btfPastEnd := slices.Clone(good)
	shdr, off := sectionHeader(t, good, ".BTF")
	binary.LittleEndian.PutUint64(btfPastEnd[shdr+32:], uint64(len(good)))
	btfZeroed := slices.Clone(good)
	clear(btfZeroed[off : off+24])
	for _, tc := range []struct {
		name string
		data []byte
		want error
		why  string
	}{
		{"bad/empty.o", readTestdata(t, "bad/empty.o"), ErrNotELF, "empty"},
		{"bad/wasm-as-ebpf.o", readTestdata(t, "bad/wasm-as-ebpf.o"), ErrNotELF, `"\x00asm"`},
		{"bad/not-bpf.o", readTestdata(t, "bad/not-bpf.o"), ErrNotBPF, "machine EM_X86_64, want EM_BPF"},
		{"bad/big-endian.bpf.o", readTestdata(t, "bad/big-endian.bpf.o"), ErrNotBPF, "big-endian"},
		{"bad/no-btf.bpf.o", readTestdata(t, "bad/no-btf.bpf.o"), ErrNoBTF, ".BTF"},
		{"bad/not-btf.txt", readTestdata(t, "bad/not-btf.txt"), ErrNotELF, "not the ELF magic"},
		{"class 32", class32, ErrNotBPF, "ELF class 32, want 64"},
		{"class 7", classBad, ErrNotBPF, "ELF class 7"},
		{"no data encoding", dataBad, ErrNotBPF, "data encoding 0"},
		{"machine EM_NONE (old LLVM, cilium/ebpf accepts it)", machineNone, ErrNotBPF, "machine EM_NONE"},
		{"magic only", good[:4], ErrNotELF, "identification cut short"},
		{"header cut short", good[:40], ErrNotELF, "header cut short at 40"},
		{"truncated object", good[:len(good)/2], ErrBadELF, "section header table (offset"},
		{"header only", good[:64], ErrBadELF, "ends past the end of the file (64 bytes)"},
		{".BTF past the end", btfPastEnd, ErrBadELF, "section .BTF (offset"},
		{".BTF header zeroed", btfZeroed, ErrBadELF, "BTF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := CheckELF(bytes.NewReader(tc.data), int64(len(tc.data)))
			if !errors.Is(err, tc.want) || info != nil {
				t.Fatalf("CheckELF = %+v, %v; want %v", info, err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.why) {
				t.Errorf("error %q should say %q", err, tc.why)
			}
			t.Log(err)
		})
	}
}

// TestCheckELFSize checks that CheckELF reads only size bytes and refuses sizes over the cap
// without reading.
func TestCheckELFSize(t *testing.T) {
	good := readTestdata(t, "gadgets/trace_params/amd64.bpf.o")
	if _, err := CheckELF(bytes.NewReader(append(slices.Clone(good), "trailing junk"...)), int64(len(good))); err != nil {
		t.Errorf("bytes past size were read: %v", err)
	}
	if _, err := CheckELF(bytes.NewReader(good), int64(len(good))-1); !errors.Is(err, ErrBadELF) {
		t.Errorf("one byte short: %v, want ErrBadELF", err)
	}
	_, err := CheckELF(failingReaderAt{}, MaxELFSize+1)
	if !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrBadELF) {
		t.Errorf("over the cap: %v, want ErrTooLarge and ErrBadELF", err)
	}
	if _, err := CheckELF(failingReaderAt{}, -1); !errors.Is(err, ErrBadELF) {
		t.Errorf("negative size: %v, want ErrBadELF", err)
	}
	_, err = CheckELF(failingReaderAt{}, 1000)
	if !errors.Is(err, ErrNotELF) || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("read error: %v, want ErrNotELF naming the cause", err)
	}
}

// sectionHeader returns where the section header of name is, and where its contents are.
func sectionHeader(tb testing.TB, obj []byte, name string) (hdr, off int) {
	tb.Helper()
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		tb.Fatal(err)
	}
	shoff := binary.LittleEndian.Uint64(obj[40:])
	for i, sec := range f.Sections {
		if sec.Name == name {
			return int(shoff) + i*64, int(sec.Offset)
		}
	}
	tb.Fatalf("no section %s", name)
	return 0, 0
}

type failingReaderAt struct{}

func (failingReaderAt) ReadAt([]byte, int64) (int, error) { return 0, errors.New("disk on fire") }

// elfSeeds are the repository's ELF fixtures, good and bad.
func elfSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	var seeds [][]byte
	for _, pattern := range []string{"gadgets/*/*.bpf.o", "bad/*.o"} {
		for _, rel := range globTestdata(tb, pattern) {
			seeds = append(seeds, readTestdata(tb, rel))
		}
	}
	return seeds
}

func FuzzCheckELF(f *testing.F) {
	for _, s := range elfSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := CheckELF(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if info != nil {
				t.Fatalf("error %v with a result", err)
			}
			if !errors.Is(err, ErrNotELF) && !errors.Is(err, ErrNotBPF) && !errors.Is(err, ErrBadELF) && !errors.Is(err, ErrNoBTF) {
				t.Fatalf("error %v wraps no CheckELF sentinel", err)
			}
			return
		}
		if !slices.IsSorted(info.ConstVolatiles) || !slices.IsSorted(info.Programs) {
			t.Fatalf("unsorted info %+v", info)
		}
	})
}

func BenchmarkCheckELF(b *testing.B) {
	data := readTestdata(b, "gadgets/trace_exec/amd64.bpf.o")
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := CheckELF(bytes.NewReader(data), int64(len(data))); err != nil {
			b.Fatal(err)
		}
	}
}
