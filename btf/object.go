package btf

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
)

// maxSectionSize caps the .BTF and .BTF.ext sections read from one object.
const maxSectionSize = 256 << 20

// Object is the part of a CO-RE eBPF object that btfgen needs: its BTF and the CO-RE
// relocation records of its .BTF.ext section. It is read-only once loaded and safe for
// concurrent use by several kernels.
type Object struct {
	name   string
	btf    *rawBTF
	relos  []coreRelo
	locals []string // essential local type names that need candidates, sorted, unique
}

// LoadObject opens an eBPF ELF object and calls ReadObject.
func LoadObject(path string) (_ *Object, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadObject(f, path)
}

// ReadObject reads an eBPF ELF object: name labels errors. It returns an error wrapping
// ErrBadObject for a file that is not a little-endian ELF or has no .BTF or no .BTF.ext section
// (as bpftool gen min_core_btf refuses it), ErrBadBTF or ErrBadBTFExt when they do not parse,
// and ErrBadBTFExt when a CO-RE record names a type that does not exist. An object whose
// .BTF.ext holds no CO-RE records is valid and adds nothing to the minimal BTF.
func ReadObject(r io.ReaderAt, name string) (_ *Object, err error) {
	defer func() {
		if p := recover(); p != nil { // debug/elf panics on some malformed files
			err = fmt.Errorf("object %s: %v: %w", name, p, ErrBadObject)
		}
	}()
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("object %s: %v: %w", name, err, ErrBadObject)
	}
	if f.ByteOrder != binary.LittleEndian {
		return nil, fmt.Errorf("object %s: big-endian ELF: %w", name, ErrBadObject)
	}
	read := func(sec string) ([]byte, error) {
		s := f.Section(sec)
		if s == nil {
			return nil, fmt.Errorf("object %s: no %s section: %w", name, sec, ErrBadObject)
		}
		if s.Type == elf.SHT_NOBITS || s.Size > maxSectionSize {
			return nil, fmt.Errorf("object %s: section %s: size %d: %w", name, sec, s.Size, ErrBadObject)
		}
		data, err := s.Data()
		if err != nil {
			return nil, fmt.Errorf("object %s: section %s: %v: %w", name, sec, err, ErrBadObject)
		}
		return data, nil
	}
	btfData, err := read(".BTF")
	if err != nil {
		return nil, err
	}
	extData, err := read(".BTF.ext")
	if err != nil {
		return nil, err
	}
	return newObject(name, btfData, extData)
}

func newObject(name string, btfData, extData []byte) (*Object, error) {
	b, err := parseRawBTF(btfData)
	if err != nil {
		return nil, fmt.Errorf("object %s: section .BTF: %w", name, err)
	}
	relos, err := parseBTFExt(extData)
	if err != nil {
		return nil, fmt.Errorf("object %s: section .BTF.ext: %w", name, err)
	}
	o := &Object{name: name, btf: b, relos: relos}
	seen := map[string]bool{}
	for i, r := range relos {
		if r.typeID >= uint32(len(b.types)) {
			return nil, fmt.Errorf("object %s: section .BTF.ext: relocation %d: type %d out of range: %w", name, i, r.typeID, ErrBadBTFExt)
		}
		if r.kind == reloTypeIDLocal {
			continue
		}
		local := b.strBytes(b.types[r.typeID].nameOff)
		ess := string(local[:essentialNameLen(local)])
		if ess != "" && !seen[ess] {
			seen[ess] = true
			o.locals = append(o.locals, ess)
		}
	}
	slices.Sort(o.locals)
	return o, nil
}
