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
// The type section is little-endian: big-endian BTF is byte-swapped word by word when parsed
// (every field of a type record and of its trailing data is a 32-bit word). It is read-only
// after parsing and safe for concurrent use.
type rawBTF struct {
	types []rawType
	data  []byte // type section, little-endian
	strs  []byte // string section
}

// parseRawBTF reads raw BTF (the format of /sys/kernel/btf/vmlinux and of an ELF .BTF
// section), in either byte order. Little-endian data is kept, not copied. It checks what the
// matching code relies on: record bounds, string offsets and that every referenced type ID
// exists.
func parseRawBTF(data []byte) (*rawBTF, error) {
	return parseRawBTFInto(data, nil)
}

// parseRawBTFInto is parseRawBTF reusing types' backing array for the records.
//
// It is one pass over the type section: each record is indexed, and the largest type ID and
// string offset that the record and its trailing data refer to are folded into two running
// maxima, so that a kernel's type references cost one comparison at the end; only when one is
// out of range does checkRefs walk the records again, to name the first bad one.
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
	b := &rawBTF{data: body[typeOff : typeOff+typeLen], strs: body[strOff : strOff+strLen]}
	if len(b.strs) == 0 || b.strs[0] != 0 || b.strs[len(b.strs)-1] != 0 {
		return nil, fmt.Errorf("string section not NUL-delimited: %w", ErrBadBTF)
	}
	if bo == binary.BigEndian {
		le := make([]byte, len(b.data))
		for i := 0; i+4 <= len(le); i += 4 {
			binary.LittleEndian.PutUint32(le[i:], binary.BigEndian.Uint32(b.data[i:]))
		}
		b.data = le
	}
	// Kernel records average about 22 bytes with their trailing data.
	if want := len(b.data)/20 + 1; cap(types) < want {
		types = make([]rawType, 0, want)
	}
	types = append(types[:0], rawType{})
	d := b.data
	var maxType, maxName uint32 // largest type ID and string offset referred to
	for off := 0; off < len(d); {
		if len(d)-off < 12 {
			return nil, fmt.Errorf("type %d: truncated record: %w", len(types), ErrBadBTF)
		}
		t := rawType{nameOff: le32(d[off:]), info: le32(d[off+4:]), sizeType: le32(d[off+8:]),
			extra: uint32(off + 12)}
		off += 12
		vlen := t.vlen()
		var n int
		switch t.kind() {
		case kindPtr, kindTypedef, kindVolatile, kindConst, kindRestrict, kindFunc, kindTypeTag:
			maxType = max(maxType, t.sizeType)
		case kindFwd, kindFloat:
		case kindInt:
			n = 4
		case kindVar, kindDeclTag:
			maxType = max(maxType, t.sizeType)
			n = 4
		case kindArray:
			n = 12
			if len(d)-off >= n {
				maxType = max(maxType, le32(d[off:]), le32(d[off+4:]))
			}
		case kindStruct, kindUnion:
			n = 12 * vlen
			if len(d)-off >= n {
				for m := d[off : off+n]; len(m) >= 12; m = m[12:] {
					maxName = max(maxName, le32(m[0:]))
					maxType = max(maxType, le32(m[4:]))
				}
			}
		case kindDatasec:
			n = 12 * vlen
			if len(d)-off >= n {
				for m := d[off : off+n]; len(m) >= 12; m = m[12:] {
					maxType = max(maxType, le32(m[0:]))
				}
			}
		case kindEnum64:
			n = 12 * vlen
			if len(d)-off >= n {
				for m := d[off : off+n]; len(m) >= 12; m = m[12:] {
					maxName = max(maxName, le32(m[0:]))
				}
			}
		case kindEnum:
			n = 8 * vlen
			if len(d)-off >= n {
				for i := off; i < off+n; i += 8 {
					maxName = max(maxName, le32(d[i:]))
				}
			}
		case kindFuncProto:
			maxType = max(maxType, t.sizeType)
			n = 8 * vlen
			if len(d)-off >= n {
				for i := off; i < off+n; i += 8 {
					maxName = max(maxName, le32(d[i:]))
					maxType = max(maxType, le32(d[i+4:]))
				}
			}
		default:
			return nil, fmt.Errorf("type %d: kind %d: %w", len(types), t.kind(), ErrBadBTF)
		}
		if len(d)-off < n {
			return nil, fmt.Errorf("type %d: truncated %s data: %w", len(types), kindNames[t.kind()], ErrBadBTF)
		}
		off += n
		maxName = max(maxName, t.nameOff)
		if len(types) > maxTypeID {
			return nil, fmt.Errorf("too many types: %w", ErrBadBTF)
		}
		types = append(types, t)
	}
	b.types = types
	if maxType >= uint32(len(types)) || maxName >= uint32(len(b.strs)) {
		if err := b.checkRefs(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("reference out of range: %w", ErrBadBTF) // checkRefs finds it
	}
	return b, nil
}

// le32 reads a little-endian word; the compiler turns it into one load.
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

// checkRefs makes sure every type ID and member name that a record holds is in range, so that
// the rest of the package can index without checks.
func (b *rawBTF) checkRefs() error {
	n := uint32(len(b.types))
	bad := func(id int, what string, v uint32) error {
		return fmt.Errorf("type %d: %s %d out of range: %w", id, what, v, ErrBadBTF)
	}
	for id := 1; id < len(b.types); id++ {
		t := &b.types[id]
		if t.nameOff >= uint32(len(b.strs)) {
			return bad(id, "name offset", t.nameOff)
		}
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

func (b *rawBTF) u32(off uint32) uint32 { return le32(b.data[off:]) }

// typ returns the record of id; id must be in range (0 is void, kind unknown).
func (b *rawBTF) typ(id uint32) *rawType { return &b.types[id] }

// str returns the NUL-terminated string at off, or "" when off is out of range.
func (b *rawBTF) str(off uint32) string { return string(b.strBytes(off)) }

// strBytes is str without a copy: nil when off is out of range.
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
