package btf

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// BTF kinds, as numbered in the kernel's include/uapi/linux/btf.h.
const (
	kindUnkn      = 0
	kindInt       = 1
	kindPtr       = 2
	kindArray     = 3
	kindStruct    = 4
	kindUnion     = 5
	kindEnum      = 6
	kindFwd       = 7
	kindTypedef   = 8
	kindVolatile  = 9
	kindConst     = 10
	kindRestrict  = 11
	kindFunc      = 12
	kindFuncProto = 13
	kindVar       = 14
	kindDatasec   = 15
	kindFloat     = 16
	kindDeclTag   = 17
	kindTypeTag   = 18
	kindEnum64    = 19
)

var kindNames = [...]string{"unknown", "int", "ptr", "array", "struct", "union", "enum", "fwd",
	"typedef", "volatile", "const", "restrict", "func", "func_proto", "var", "datasec", "float",
	"decl_tag", "type_tag", "enum64"}

const (
	btfMagic     = 0xeB9F
	btfHeaderLen = 24
	maxTypeID    = 1<<31 - 1
)

// rawType is one type record as it is on the wire: libbpf's struct btf_type plus the offset
// of its trailing data (members, params, enumerators, array info) in rawBTF.data.
type rawType struct {
	nameOff  uint32
	info     uint32
	sizeType uint32
	extra    uint32
}

func (t *rawType) kind() int   { return int(t.info>>24) & 0x1f }
func (t *rawType) vlen() int   { return int(t.info & 0xffff) }
func (t *rawType) kflag() bool { return t.info>>31 == 1 }

// rawBTF is raw BTF kept as libbpf sees it: type records by ID (0 is void) over the original
// bytes, so that the matching rules read kinds, flags and offsets exactly as relo_core.c does.
// It is read-only after parsing and safe for concurrent use.
type rawBTF struct {
	bo    binary.ByteOrder
	types []rawType
	data  []byte // type section
	strs  []byte // string section
}

// parseRawBTF reads raw BTF (the format of /sys/kernel/btf/vmlinux and of an ELF .BTF
// section), in either byte order. data is kept, not copied. It checks what the matching code
// relies on: record bounds, string offsets and that every referenced type ID exists.
func parseRawBTF(data []byte) (*rawBTF, error) {
	return parseRawBTFInto(data, nil)
}

// parseRawBTFInto is parseRawBTF reusing types' backing array for the records.
func parseRawBTFInto(data []byte, types []rawType) (*rawBTF, error) {
	if len(data) < btfHeaderLen {
		return nil, fmt.Errorf("header: %d bytes, want %d: %w", len(data), btfHeaderLen, ErrBadBTF)
	}
	var bo binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint16(data) == btfMagic:
		bo = binary.LittleEndian
	case binary.BigEndian.Uint16(data) == btfMagic:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("magic %#04x: %w", binary.LittleEndian.Uint16(data), ErrBadBTF)
	}
	if data[2] != 1 {
		return nil, fmt.Errorf("version %d: %w", data[2], ErrBadBTF)
	}
	hdrLen := uint64(bo.Uint32(data[4:]))
	typeOff, typeLen := uint64(bo.Uint32(data[8:])), uint64(bo.Uint32(data[12:]))
	strOff, strLen := uint64(bo.Uint32(data[16:])), uint64(bo.Uint32(data[20:]))
	if hdrLen < btfHeaderLen || hdrLen > uint64(len(data)) {
		return nil, fmt.Errorf("header length %d: %w", hdrLen, ErrBadBTF)
	}
	body := data[hdrLen:]
	if typeOff+typeLen > uint64(len(body)) || strOff+strLen > uint64(len(body)) {
		return nil, fmt.Errorf("sections beyond the end (%d bytes): %w", len(body), ErrBadBTF)
	}
	if typeOff%4 != 0 {
		return nil, fmt.Errorf("type section offset %d not aligned: %w", typeOff, ErrBadBTF)
	}
	b := &rawBTF{bo: bo, data: body[typeOff : typeOff+typeLen], strs: body[strOff : strOff+strLen]}
	if len(b.strs) == 0 || b.strs[0] != 0 || b.strs[len(b.strs)-1] != 0 {
		return nil, fmt.Errorf("string section not NUL-delimited: %w", ErrBadBTF)
	}
	// Kernel records average about 30 bytes with their members; append grows past a guess.
	if cap(types) == 0 {
		types = make([]rawType, 0, len(b.data)/24+1)
	}
	b.types = append(types[:0], rawType{})
	for off := 0; off < len(b.data); {
		if len(b.data)-off < 12 {
			return nil, fmt.Errorf("type %d: truncated record: %w", len(b.types), ErrBadBTF)
		}
		t := rawType{nameOff: bo.Uint32(b.data[off:]), info: bo.Uint32(b.data[off+4:]),
			sizeType: bo.Uint32(b.data[off+8:]), extra: uint32(off + 12)}
		n, err := extraLen(&t)
		if err != nil {
			return nil, fmt.Errorf("type %d: %w", len(b.types), err)
		}
		off += 12 + n
		if off > len(b.data) {
			return nil, fmt.Errorf("type %d: truncated %s data: %w", len(b.types), kindNames[t.kind()], ErrBadBTF)
		}
		if t.nameOff >= uint32(len(b.strs)) {
			return nil, fmt.Errorf("type %d: name offset %d: %w", len(b.types), t.nameOff, ErrBadBTF)
		}
		if len(b.types) > maxTypeID {
			return nil, fmt.Errorf("too many types: %w", ErrBadBTF)
		}
		b.types = append(b.types, t)
	}
	if err := b.checkRefs(); err != nil {
		return nil, err
	}
	return b, nil
}

func extraLen(t *rawType) (int, error) {
	switch t.kind() {
	case kindInt, kindVar, kindDeclTag:
		return 4, nil
	case kindPtr, kindFwd, kindTypedef, kindVolatile, kindConst, kindRestrict, kindFunc,
		kindFloat, kindTypeTag:
		return 0, nil
	case kindArray:
		return 12, nil
	case kindStruct, kindUnion, kindDatasec, kindEnum64:
		return 12 * t.vlen(), nil
	case kindEnum, kindFuncProto:
		return 8 * t.vlen(), nil
	}
	return 0, fmt.Errorf("kind %d: %w", t.kind(), ErrBadBTF)
}

// checkRefs makes sure every type ID and member name that a record holds is in range, so that
// the rest of the package can index without checks.
func (b *rawBTF) checkRefs() error {
	n := uint32(len(b.types))
	bad := func(id int, what string, v uint32) error {
		return fmt.Errorf("type %d: %s %d out of range: %w", id, what, v, ErrBadBTF)
	}
	for id := 1; id < len(b.types); id++ {
		t := &b.types[id]
		switch t.kind() {
		case kindPtr, kindTypedef, kindVolatile, kindConst, kindRestrict, kindFunc, kindVar,
			kindDeclTag, kindTypeTag, kindFuncProto:
			if t.sizeType >= n {
				return bad(id, "type", t.sizeType)
			}
		}
		switch t.kind() {
		case kindArray:
			elem, index, _ := b.array(uint32(id))
			if elem >= n {
				return bad(id, "element type", elem)
			}
			if index >= n {
				return bad(id, "index type", index)
			}
		case kindStruct, kindUnion:
			for i := 0; i < t.vlen(); i++ {
				name, typ, _ := b.member(uint32(id), i)
				if typ >= n {
					return bad(id, "member type", typ)
				}
				if name >= uint32(len(b.strs)) {
					return bad(id, "member name", name)
				}
			}
		case kindFuncProto:
			for i := 0; i < t.vlen(); i++ {
				name, typ := b.param(uint32(id), i)
				if typ >= n {
					return bad(id, "parameter type", typ)
				}
				if name >= uint32(len(b.strs)) {
					return bad(id, "parameter name", name)
				}
			}
		case kindEnum, kindEnum64:
			for i := 0; i < t.vlen(); i++ {
				if name := b.enumNameOff(uint32(id), i); name >= uint32(len(b.strs)) {
					return bad(id, "enumerator name", name)
				}
			}
		case kindDatasec:
			for i := 0; i < t.vlen(); i++ {
				if typ := b.u32(t.extra + uint32(12*i)); typ >= n {
					return bad(id, "variable type", typ)
				}
			}
		}
	}
	return nil
}

func (b *rawBTF) u32(off uint32) uint32 { return b.bo.Uint32(b.data[off:]) }

// typ returns the record of id; id must be in range (0 is void, kind unknown).
func (b *rawBTF) typ(id uint32) *rawType { return &b.types[id] }

// str returns the NUL-terminated string at off, or "" when off is out of range.
func (b *rawBTF) str(off uint32) string {
	if off >= uint32(len(b.strs)) {
		return ""
	}
	s := b.strs[off:]
	return string(s[:bytes.IndexByte(s, 0)])
}

// strBytes is str without a copy.
func (b *rawBTF) strBytes(off uint32) []byte {
	if off >= uint32(len(b.strs)) {
		return nil
	}
	s := b.strs[off:]
	return s[:bytes.IndexByte(s, 0)]
}

func (b *rawBTF) name(id uint32) string { return b.str(b.types[id].nameOff) }

// member returns the name offset, type and raw offset field of member i of a struct or union.
func (b *rawBTF) member(id uint32, i int) (nameOff, typ, offset uint32) {
	off := b.types[id].extra + uint32(12*i)
	return b.u32(off), b.u32(off + 4), b.u32(off + 8)
}

// memberBitOffset follows libbpf's btf_member_bit_offset: the low 24 bits when kflag is set.
func (b *rawBTF) memberBitOffset(id uint32, i int) uint32 {
	_, _, off := b.member(id, i)
	if b.types[id].kflag() {
		return off & 0xffffff
	}
	return off
}

// memberBitfieldSize follows libbpf's btf_member_bitfield_size: 0 unless kflag is set.
func (b *rawBTF) memberBitfieldSize(id uint32, i int) uint32 {
	_, _, off := b.member(id, i)
	if b.types[id].kflag() {
		return off >> 24
	}
	return 0
}

func (b *rawBTF) param(id uint32, i int) (nameOff, typ uint32) {
	off := b.types[id].extra + uint32(8*i)
	return b.u32(off), b.u32(off + 4)
}

func (b *rawBTF) array(id uint32) (elem, index, nelems uint32) {
	off := b.types[id].extra
	return b.u32(off), b.u32(off + 4), b.u32(off + 8)
}

func (b *rawBTF) enumNameOff(id uint32, i int) uint32 {
	if b.types[id].kind() == kindEnum {
		return b.u32(b.types[id].extra + uint32(8*i))
	}
	return b.u32(b.types[id].extra + uint32(12*i))
}

// enumValue returns enumerator i as libbpf reads it: ENUM values zero-extended from 32 bits
// (btf_enum.val is a __s32 read into a __u64 by bpf_core_calc_enumval_relo, so sign-extended
// when negative), ENUM64 values whole.
func (b *rawBTF) enumValue(id uint32, i int) uint64 {
	t := &b.types[id]
	if t.kind() == kindEnum {
		return uint64(int64(int32(b.u32(t.extra + uint32(8*i) + 4))))
	}
	off := t.extra + uint32(12*i)
	return uint64(b.u32(off+4)) | uint64(b.u32(off+8))<<32
}

func (b *rawBTF) intEncoding(id uint32) uint32 { return b.u32(b.types[id].extra) >> 24 & 0x0f }
func (b *rawBTF) intOffset(id uint32) uint32   { return b.u32(b.types[id].extra) >> 16 & 0xff }
func (b *rawBTF) intBits(id uint32) uint32     { return b.u32(b.types[id].extra) & 0xff }

func isMod(kind int) bool {
	return kind == kindVolatile || kind == kindConst || kind == kindRestrict || kind == kindTypeTag
}

func isComposite(kind int) bool { return kind == kindStruct || kind == kindUnion }
func isAnyEnum(kind int) bool   { return kind == kindEnum || kind == kindEnum64 }

// skipModsAndTypedefs follows libbpf's skip_mods_and_typedefs: it returns the first type that
// is neither a modifier (const, volatile, restrict, type tag) nor a typedef, and its ID.
func (b *rawBTF) skipModsAndTypedefs(id uint32) uint32 {
	for i := 0; i < len(b.types); i++ {
		k := b.types[id].kind()
		if !isMod(k) && k != kindTypedef {
			return id
		}
		id = b.types[id].sizeType
	}
	return id
}

// coreKindCompat follows libbpf's btf_kind_core_compat: same kind, or both enums of either
// width.
func coreKindCompat(a, b int) bool {
	return a == b || (isAnyEnum(a) && isAnyEnum(b))
}

const maxResolveDepth = 32

// resolveSize follows libbpf's btf__resolve_size, with 8-byte pointers (both targets here are
// 64-bit). It returns -1 where libbpf returns an error.
func (b *rawBTF) resolveSize(id uint32) int64 {
	nelems := uint64(1)
	size := int64(-1)
	for i := 0; i < maxResolveDepth && id != 0; i++ {
		t := &b.types[id]
		switch t.kind() {
		case kindInt, kindStruct, kindUnion, kindEnum, kindEnum64, kindDatasec, kindFloat:
			size = int64(t.sizeType)
		case kindPtr:
			size = 8
		case kindTypedef, kindVolatile, kindConst, kindRestrict, kindVar, kindDeclTag, kindTypeTag:
			id = t.sizeType
			continue
		case kindArray:
			elem, _, n := b.array(id)
			if nelems != 0 && uint64(n) > 0xffffffff/nelems {
				return -1
			}
			nelems *= uint64(n)
			id = elem
			continue
		default:
			return -1
		}
		break
	}
	if size < 0 {
		return -1
	}
	if nelems != 0 && uint64(size) > 0xffffffff/nelems {
		return -1
	}
	return int64(nelems) * size
}

// essentialNameLen follows libbpf's bpf_core_essential_name_len: the length of name without
// its last "___flavour" suffix, where the separator is three underscores between two
// characters that are not underscores.
func essentialNameLen(name []byte) int {
	n := len(name)
	for i := n - 5; i >= 0; i-- {
		if name[i] != '_' && name[i+1] == '_' && name[i+2] == '_' && name[i+3] == '_' && name[i+4] != '_' {
			return i + 1
		}
	}
	return n
}
