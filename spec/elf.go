package spec

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// MaxELFSize is the largest eBPF object CheckELF accepts: 64 MiB. Gadget objects are well
// under a megabyte; cilium/ebpf reads sections (BTF above all) into memory.
const MaxELFSize = 64 << 20

// ELFInfo is what CheckELF learns about an eBPF object.
type ELFInfo struct {
	// ConstVolatiles are the sorted names of the global variables ig accepts as eBPF
	// parameters: a BTF VAR with global linkage whose type is const volatile (or an array of
	// const volatile), the rule of ig's checkParamVar. clang places them in .rodata.
	ConstVolatiles []string
	// Programs are the sorted names of the object's programs.
	Programs []string

	// notParam says, for the other BTF variables, why ig would refuse them as a parameter.
	notParam map[string]string
}

// CheckELF checks that the size bytes of r are an eBPF object a gadget can carry: an ELF file,
// 64-bit, little-endian, machine EM_BPF (247), that cilium/ebpf loads as a collection spec and
// that has BTF. It reads the header itself first, so the error says what is wrong: ErrNotELF
// (no ELF magic, header cut short), ErrNotBPF (class, byte order or machine), ErrBadELF
// (a section past the end of the file, or cilium/ebpf refuses it or panics on it: both become
// errors), ErrNoBTF (no .BTF section), or
// ErrTooLarge with ErrBadELF (size over MaxELFSize). It reads nothing past size.
//
// CheckELF does not load anything into the kernel and does not check that the programs would
// pass the verifier.
func CheckELF(r io.ReaderAt, size int64) (info *ELFInfo, err error) {
	if size > MaxELFSize {
		return nil, fmt.Errorf("eBPF object: %d bytes, over %d: %w: %w", size, MaxELFSize, ErrBadELF, ErrTooLarge)
	}
	if size < 0 {
		return nil, fmt.Errorf("eBPF object: negative size %d: %w", size, ErrBadELF)
	}
	sr := io.NewSectionReader(r, 0, size)
	if err := checkELFHeader(sr, size); err != nil {
		return nil, err
	}
	if err := checkSections(sr, size); err != nil {
		return nil, err
	}
	spec, err := loadCollectionSpec(sr)
	if err != nil {
		return nil, fmt.Errorf("eBPF object: %v: %w", err, ErrBadELF)
	}
	if spec.Types == nil {
		return nil, fmt.Errorf("eBPF object: no .BTF section (compile with clang -g): %w", ErrNoBTF)
	}
	info = &ELFInfo{
		Programs: slices.Sorted(maps.Keys(spec.Programs)),
		notParam: map[string]string{},
	}
	if info.ConstVolatiles, err = constVolatiles(spec.Types, info.notParam); err != nil {
		return nil, fmt.Errorf("eBPF object: .BTF: %v: %w", err, ErrBadELF)
	}
	return info, nil
}

// elfHeaderSize is the size of an ELF64 header.
const elfHeaderSize = 64

// checkELFHeader checks the identification and machine of the ELF header.
func checkELFHeader(r io.ReaderAt, size int64) error {
	var hdr [elfHeaderSize]byte
	n, err := r.ReadAt(hdr[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("eBPF object: reading the ELF header: %v: %w", err, ErrNotELF)
	}
	if size == 0 {
		return fmt.Errorf("eBPF object: empty: %w", ErrNotELF)
	}
	if n < len(elf.ELFMAG) || string(hdr[:len(elf.ELFMAG)]) != elf.ELFMAG {
		return fmt.Errorf("eBPF object: starts with %q, not the ELF magic: %w", hdr[:min(n, 4)], ErrNotELF)
	}
	if n < elf.EI_NIDENT {
		return fmt.Errorf("eBPF object: ELF identification cut short at %d bytes: %w", n, ErrNotELF)
	}
	switch class := elf.Class(hdr[elf.EI_CLASS]); class {
	case elf.ELFCLASS64:
	case elf.ELFCLASS32:
		return fmt.Errorf("eBPF object: ELF class 32, want 64: %w", ErrNotBPF)
	default:
		return fmt.Errorf("eBPF object: ELF class %d, want 64: %w", uint8(class), ErrNotBPF)
	}
	switch data := elf.Data(hdr[elf.EI_DATA]); data {
	case elf.ELFDATA2LSB:
	case elf.ELFDATA2MSB:
		return fmt.Errorf("eBPF object: big-endian, want little-endian (clang -target bpf or bpfel, not bpfeb): %w", ErrNotBPF)
	default:
		return fmt.Errorf("eBPF object: ELF data encoding %d, want little-endian: %w", uint8(data), ErrNotBPF)
	}
	if n < elfHeaderSize {
		return fmt.Errorf("eBPF object: ELF header cut short at %d of %d bytes: %w", n, elfHeaderSize, ErrNotELF)
	}
	if m := elf.Machine(binary.LittleEndian.Uint16(hdr[18:20])); m != elf.EM_BPF {
		return fmt.Errorf("eBPF object: machine %v, want EM_BPF: %w", m, ErrNotBPF)
	}
	shoff := binary.LittleEndian.Uint64(hdr[40:48])
	shentsize := uint64(binary.LittleEndian.Uint16(hdr[58:60]))
	shnum := uint64(binary.LittleEndian.Uint16(hdr[60:62]))
	if end := shoff + shentsize*shnum; shoff > uint64(size) || end > uint64(size) || end < shoff {
		return fmt.Errorf("eBPF object: section header table (offset %d, %d entries of %d bytes) ends past the end of the file (%d bytes): %w",
			shoff, shnum, shentsize, size, ErrBadELF)
	}
	return nil
}

// checkSections checks that every section with contents lies inside the file, so that a
// truncated object is named as such instead of failing later with a bare EOF.
func checkSections(r io.ReaderAt, size int64) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("eBPF object: debug/elf panicked: %v: %w", p, ErrBadELF)
		}
	}()
	f, err := elf.NewFile(r)
	if err != nil {
		return fmt.Errorf("eBPF object: %v: %w", err, ErrBadELF)
	}
	for _, sec := range f.Sections {
		if sec.Type == elf.SHT_NOBITS || sec.Type == elf.SHT_NULL {
			continue
		}
		if end := sec.Offset + sec.FileSize; sec.Offset > uint64(size) || end > uint64(size) || end < sec.Offset {
			return fmt.Errorf("eBPF object: section %s (offset %d, %d bytes) ends past the end of the file (%d bytes): %w",
				sec.Name, sec.Offset, sec.FileSize, size, ErrBadELF)
		}
	}
	return nil
}

// loadCollectionSpec calls cilium/ebpf and turns its panics on hostile input into errors.
func loadCollectionSpec(r io.ReaderAt) (spec *ebpf.CollectionSpec, err error) {
	defer func() {
		if p := recover(); p != nil {
			spec, err = nil, fmt.Errorf("cilium/ebpf panicked: %v", p)
		}
	}()
	return ebpf.LoadCollectionSpecFromReader(r)
}

// constVolatiles returns the sorted names of the BTF variables ig's checkParamVar accepts
// (pkg/gadgets/run/types, ig 2024-2026): found by name (a name shared by two VARs is not found),
// global linkage, type const of volatile, or an array of that. For the other variables it
// records in why what ig would say.
func constVolatiles(types *btf.Spec, why map[string]string) ([]string, error) {
	count := map[string]int{}
	var vars []*btf.Var
	for typ, err := range types.All() {
		if err != nil {
			return nil, err
		}
		if v, ok := typ.(*btf.Var); ok && v.Name != "" {
			count[v.Name]++
			vars = append(vars, v)
		}
	}
	var names []string
	for _, v := range vars {
		if count[v.Name] > 1 {
			why[v.Name] = fmt.Sprintf("%d BTF variables are named %s", count[v.Name], v.Name)
			continue
		}
		if reason := paramVarProblem(v); reason != "" {
			why[v.Name] = reason
			continue
		}
		names = append(names, v.Name)
	}
	slices.Sort(names)
	return names, nil
}

// paramVarProblem returns why ig refuses v as an eBPF parameter, or "".
func paramVarProblem(v *btf.Var) string {
	if v.Linkage != btf.GlobalVar {
		return fmt.Sprintf("variable %s is not a global variable (linkage %v)", v.Name, v.Linkage)
	}
	typ := v.Type
	if arr, ok := typ.(*btf.Array); ok {
		typ = arr.Type
	}
	c, ok := typ.(*btf.Const)
	if !ok {
		return fmt.Sprintf("variable %s is not const", v.Name)
	}
	if _, ok := c.Type.(*btf.Volatile); !ok {
		return fmt.Sprintf("variable %s is const but not volatile", v.Name)
	}
	return ""
}
