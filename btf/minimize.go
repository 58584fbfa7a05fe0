package btf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"

	"github.com/cilium/ebpf/btf"
)

// Kernel is one kernel's parsed BTF, ready to be minimised for any number of objects. It keeps
// the raw bytes it was parsed from; it is read-only and safe for concurrent use.
type Kernel struct {
	raw *rawBTF
}

// ParseKernel parses raw kernel BTF (the content of /sys/kernel/btf/vmlinux or of a
// btfhub-archive .btf file). data is kept, not copied. Returns an error wrapping ErrBadBTF.
func ParseKernel(data []byte) (*Kernel, error) {
	raw, err := parseRawBTF(data)
	if err != nil {
		return nil, err
	}
	return &Kernel{raw: raw}, nil
}

// candidateIndex follows libbpf's bpf_core_add_cands over the whole kernel in one pass for
// all the objects' local types: for each local essential name, the IDs, in increasing order,
// of the named kernel types with that essential name and a kind some local type is compatible
// with. The exact kind filter (btf_kind_core_compat) is applied per relocation. The index is
// read-only and shared by every object set minimised against this kernel.
func (k *Kernel) candidateIndex(objs []*Object) map[string][]uint32 {
	names := map[string][]uint32{}
	var kinds [32]bool
	for _, o := range objs {
		for _, n := range o.locals {
			names[n] = nil
		}
		for _, r := range o.relos {
			kind := o.btf.typ(r.typeID).kind()
			kinds[kind] = true
			if isAnyEnum(kind) {
				kinds[kindEnum], kinds[kindEnum64] = true, true
			}
		}
	}
	if len(names) == 0 {
		return names
	}
	b := k.raw
	var filter prefixFilter
	for n := range names {
		filter.add(n)
	}
	for id := 1; id < len(b.types); id++ {
		t := &b.types[id]
		if t.nameOff == 0 || !kinds[t.kind()] {
			continue
		}
		if w, ok := prefixWord(b.strs, t.nameOff); ok && !filter.has(w) {
			continue // no wanted essential name starts like this one
		}
		name := b.strBytes(t.nameOff)
		ess := name
		if len(name) > 4 && bytes.Contains(name[1:], flavourSep) {
			ess = name[:essentialNameLen(name)]
		}
		if ids, ok := names[string(ess)]; ok {
			names[string(ess)] = append(ids, uint32(id))
		}
	}
	return names
}

// prefixFilter is a 4096-bit set of the first four bytes of the wanted essential names (see
// prefixWord), so that candidateIndex looks at the whole name of few kernel types: a kernel
// name passes if its first four bytes could start a wanted essential name, with or without a
// "___flavour" suffix.
type prefixFilter [64]uint64

func prefixHash(w uint32) uint32 { return (w * 0x9e3779b1) >> 20 }

func (f *prefixFilter) set(w uint32) { h := prefixHash(w); f[h/64] |= 1 << (h % 64) }

func (f *prefixFilter) has(w uint32) bool { h := prefixHash(w); return f[h/64]&(1<<(h%64)) != 0 }

// add adds an essential name: its first four bytes (zero-padded when shorter), and for a
// shorter one, the same followed by underscores, as a flavoured kernel name starts
// ("ab___x" for "ab").
func (f *prefixFilter) add(name string) {
	var p [4]byte
	copy(p[:], name)
	f.set(binary.LittleEndian.Uint32(p[:]))
	if len(name) < 4 {
		for i := len(name); i < 4; i++ {
			p[i] = '_'
		}
		f.set(binary.LittleEndian.Uint32(p[:]))
	}
}

// prefixWord returns the first four bytes of the NUL-terminated string at off in strs, with
// the terminator and anything after it zeroed; false when fewer than four bytes remain.
func prefixWord(strs []byte, off uint32) (uint32, bool) {
	if uint64(off)+4 > uint64(len(strs)) {
		return 0, false
	}
	w := le32(strs[off:])
	// The lowest byte with its high bit set in z is the first NUL (higher ones may be wrong).
	if z := (w - 0x01010101) &^ w & 0x80808080; z != 0 {
		w &= 1<<(bits.TrailingZeros32(z)-7) - 1
	}
	return w, true
}

var flavourSep = []byte("___")

// Minimize computes the minimal BTF of kernel k that the CO-RE relocations of objs need, as
// bpftool gen min_core_btf does for the same kernel and objects, and returns it as raw
// little-endian BTF: the kept types in their kernel order, renumbered, references to dropped
// types pointed at void, trimmed structs and unions with their full size and only the kept
// members at their original bit offsets. With no relocations it returns the empty BTF.
//
// Candidates follow libbpf (bpf_core_add_cands, bpf_core_calc_relo_insn): types of a
// compatible kind whose essential name (without "___flavour") equals the local one, in kernel
// order, cached per local type and object and pruned to the ones that matched; the first
// matching candidate is the one recorded; candidates that disagree are an error; no match
// records nothing. Returns an error wrapping ErrRelocation when bpftool would fail for this
// kernel, or ErrUnsupported when the encoder cannot reproduce a kept type.
func Minimize(k *Kernel, objs ...*Object) ([]byte, error) {
	return k.minimize(objs, k.candidateIndex(objs))
}

// minimize is Minimize with a candidate index built for (at least) objs.
func (k *Kernel) minimize(objs []*Object, names map[string][]uint32) ([]byte, error) {
	m, err := k.mark(objs, names)
	if err != nil {
		return nil, err
	}
	return k.emit(m)
}

func (k *Kernel) mark(objs []*Object, names map[string][]uint32) (*marks, error) {
	m := newMarks()
	var scratch [3]coreSpec
	for _, o := range objs {
		cache := map[uint32]*candList{}
		for i := range o.relos {
			r := &o.relos[i]
			var cands *candList
			if r.kind != reloTypeIDLocal {
				cands = cache[r.typeID]
				if cands == nil {
					cands = &candList{}
					lt := o.btf.typ(r.typeID)
					lname := o.btf.strBytes(lt.nameOff)
					for _, id := range names[string(lname[:essentialNameLen(lname)])] {
						if len(lname) > 0 && coreKindCompat(k.raw.typ(id).kind(), lt.kind()) {
							cands.ids = append(cands.ids, id)
						}
					}
					cache[r.typeID] = cands
				}
			}
			spec, err := calcReloInsn(o.btf, r, cands, k.raw, &scratch)
			if err == nil {
				err = m.record(k.raw, r.kind, spec)
			}
			if err != nil {
				return nil, &objectError{name: o.name, err: fmt.Errorf("relocation %d (%s, %s %q): %w", i, r.kind,
					o.btf.str(r.section), o.btf.name(r.typeID), err)}
			}
		}
	}
	return m, nil
}

// emit follows btfgen_get_btf: kept types are written in kernel ID order through the
// cilium/ebpf encoder, with the string table in first-use order as libbpf's btf__add_* builds
// it.
func (k *Kernel) emit(m *marks) ([]byte, error) {
	b := k.raw
	ids := make([]uint32, 0, len(m.types))
	for id := range m.types {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make(map[uint32]btf.Type, len(ids))
	types := make([]btf.Type, len(ids))
	for i, id := range ids {
		typ, err := k.shell(id)
		if err != nil {
			return nil, err
		}
		out[id] = typ
		types[i] = typ
	}
	ref := func(id uint32) btf.Type {
		if t, ok := out[id]; ok {
			return t
		}
		return &btf.Void{}
	}
	for _, id := range ids {
		t := b.typ(id)
		switch v := out[id].(type) {
		case *btf.Pointer:
			v.Target = ref(t.sizeType)
		case *btf.Typedef:
			v.Type = ref(t.sizeType)
		case *btf.Const:
			v.Type = ref(t.sizeType)
		case *btf.Volatile:
			v.Type = ref(t.sizeType)
		case *btf.Restrict:
			v.Type = ref(t.sizeType)
		case *btf.Array:
			elem, index, _ := b.array(id)
			v.Type, v.Index = ref(elem), ref(index)
		case *btf.FuncProto:
			v.Return = ref(t.sizeType)
			for i := range v.Params {
				_, p := b.param(id, i)
				v.Params[i].Type = ref(p)
			}
		case *btf.Struct:
			ms, err := k.members(m, id, ref)
			if err != nil {
				return nil, err
			}
			v.Members = ms
		case *btf.Union:
			ms, err := k.members(m, id, ref)
			if err != nil {
				return nil, err
			}
			v.Members = ms
		}
	}
	builder, err := btf.NewBuilder(types, nil)
	if err != nil {
		return nil, fmt.Errorf("encoding minimal BTF: %v: %w", err, ErrUnsupported)
	}
	raw, err := builder.Marshal(nil, &btf.MarshalOptions{Order: binary.LittleEndian})
	if err != nil {
		return nil, fmt.Errorf("encoding minimal BTF: %v: %w", err, ErrUnsupported)
	}
	if err := k.patchEnumSizes(raw, ids); err != nil {
		return nil, err
	}
	return raw, nil
}

// patchEnumSizes gives the 8-byte ENUMs among the kept kernel types ids (written with size 4,
// see shell) their size back in the encoded BTF raw, where ids[i] has become type i+1, as
// btfgen_get_btf copies the kernel's record.
func (k *Kernel) patchEnumSizes(raw []byte, ids []uint32) error {
	var out *rawBTF
	for i, id := range ids {
		t := k.raw.typ(id)
		if t.kind() != kindEnum || t.sizeType != 8 {
			continue
		}
		if out == nil {
			var err error
			if out, err = parseRawBTF(raw); err != nil || len(out.types) != len(ids)+1 {
				return fmt.Errorf("encoding minimal BTF: reading it back: %v: %w", err, ErrUnsupported)
			}
		}
		o := out.typ(uint32(i + 1))
		if o.kind() != kindEnum || o.sizeType != 4 || o.nameOff == 0 || out.str(o.nameOff) != k.raw.str(t.nameOff) {
			return fmt.Errorf("type %d: enum %q of size 8: not at its place in the encoded BTF: %w", id, k.raw.str(t.nameOff), ErrUnsupported)
		}
		// out.data is raw's type section (little-endian BTF is not copied); the record's
		// size word sits 8 bytes into it, 12 bytes before its trailing data.
		binary.LittleEndian.PutUint32(out.data[o.extra-4:], 8)
	}
	return nil
}

// members returns the kept members of a struct or union, as btfgen_get_btf passes them to
// btf__add_field: name, type, bit offset and bitfield size of the kernel's record.
func (k *Kernel) members(m *marks, id uint32, ref func(uint32) btf.Type) ([]btf.Member, error) {
	b := k.raw
	var ms []btf.Member
	for i := 0; i < b.typ(id).vlen(); i++ {
		if !m.hasMember(id, i) {
			continue
		}
		nameOff, mt, _ := b.member(id, i)
		off, size := b.memberBitOffset(id, i), b.memberBitfieldSize(id, i)
		if size == 0 && off%8 != 0 {
			// libbpf would set kflag for this member; the encoder would not.
			return nil, fmt.Errorf("type %d: member %d at bit %d: %w", id, i, off, ErrUnsupported)
		}
		ms = append(ms, btf.Member{Name: b.str(nameOff), Type: ref(mt), Offset: btf.Bits(off), BitfieldSize: btf.Bits(size)})
	}
	return ms, nil
}

// shell makes the cilium/ebpf type for kernel type id, without its references.
func (k *Kernel) shell(id uint32) (btf.Type, error) {
	b := k.raw
	t := b.typ(id)
	name := b.str(t.nameOff)
	switch t.kind() {
	case kindInt:
		if b.intOffset(id) != 0 || b.intBits(id) != t.sizeType*8 || t.sizeType > 255 {
			return nil, fmt.Errorf("type %d: int %q with %d bits at offset %d: %w", id, name, b.intBits(id), b.intOffset(id), ErrUnsupported)
		}
		return &btf.Int{Name: name, Size: t.sizeType, Encoding: btf.IntEncoding(b.intEncoding(id))}, nil
	case kindPtr:
		return &btf.Pointer{}, nil
	case kindArray:
		_, _, n := b.array(id)
		return &btf.Array{Nelems: n}, nil
	case kindStruct:
		return &btf.Struct{Name: name, Size: t.sizeType}, nil
	case kindUnion:
		return &btf.Union{Name: name, Size: t.sizeType}, nil
	case kindEnum, kindEnum64:
		size := t.sizeType
		if t.kind() == kindEnum && size == 8 {
			// An ENUM of 8 bytes (kernels before ENUM64, 5.x and older, encode enums with 64-bit
			// values so) would come out of the encoder as an ENUM64: it is written with size 4
			// and patched back to 8 afterwards (see patchEnumSizes).
			size = 4
		} else if (t.kind() == kindEnum64) != (size == 8) {
			return nil, fmt.Errorf("type %d: %s %q of size %d: %w", id, kindNames[t.kind()], name, t.sizeType, ErrUnsupported)
		}
		e := &btf.Enum{Name: name, Size: size, Signed: t.kflag(), Values: make([]btf.EnumValue, t.vlen())}
		for i := range e.Values {
			v := b.enumValue(id, i)
			if t.kind() == kindEnum && !t.kflag() {
				v &= 0xffffffff
			}
			e.Values[i] = btf.EnumValue{Name: b.str(b.enumNameOff(id, i)), Value: v}
		}
		return e, nil
	case kindFwd:
		kind := btf.FwdStruct
		if t.kflag() {
			kind = btf.FwdUnion
		}
		return &btf.Fwd{Name: name, Kind: kind}, nil
	case kindTypedef:
		return &btf.Typedef{Name: name}, nil
	case kindVolatile:
		return &btf.Volatile{}, nil
	case kindConst:
		return &btf.Const{}, nil
	case kindRestrict:
		return &btf.Restrict{}, nil
	case kindFuncProto:
		fp := &btf.FuncProto{Params: make([]btf.FuncParam, t.vlen())}
		for i := range fp.Params {
			n, _ := b.param(id, i)
			fp.Params[i].Name = b.str(n)
		}
		return fp, nil
	case kindFloat:
		return &btf.Float{Name: name, Size: t.sizeType}, nil
	}
	return nil, fmt.Errorf("type %d: kind %s: %w", id, kindNames[t.kind()], ErrUnsupported)
}
