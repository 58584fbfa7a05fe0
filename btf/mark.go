package btf

import "fmt"

// This file follows bpftool's gen.c (btfgen_record_reloc and the btfgen_mark_* functions):
// which kernel types and members a resolved relocation keeps.

// marks records the kernel types and struct/union members that the minimal BTF keeps.
type marks struct {
	depth   int // recursion guard against type loops in hostile BTF
	types   map[uint32]struct{}
	members map[uint64]struct{} // type ID << 16 | member index
}

func newMarks() *marks {
	return &marks{types: map[uint32]struct{}{}, members: map[uint64]struct{}{}}
}

func (m *marks) member(id uint32, idx int) { m.members[uint64(id)<<16|uint64(idx)] = struct{}{} }

func (m *marks) hasMember(id uint32, idx int) bool {
	_, ok := m.members[uint64(id)<<16|uint64(idx)]
	return ok
}

// maxMarkDepth bounds the recursion of the marking functions: real BTF nests a few levels.
const maxMarkDepth = 1000

func (m *marks) enter(id uint32) error {
	m.depth++
	if m.depth > maxMarkDepth {
		return fmt.Errorf("type %d: nested deeper than %d: %w", id, maxMarkDepth, ErrBadBTF)
	}
	return nil
}

func (m *marks) leave() { m.depth-- }

func errUnsupportedKind(b *rawBTF, id uint32) error {
	return fmt.Errorf("type %d: unsupported kind %s: %w", id, kindNames[b.typ(id).kind()], ErrRelocation)
}

// markType follows btfgen_mark_type: the type is kept; modifiers, typedefs, array element and
// index types and prototype parameters are followed; pointers only when followPointers;
// structs and unions are kept without members; any other kind (forward declarations,
// functions, variables, sections, tags) fails, as bpftool's "unsupported kind".
func (m *marks) markType(b *rawBTF, id uint32, followPointers bool) error {
	if err := m.enter(id); err != nil {
		return err
	}
	defer m.leave()
	for steps := 0; id != 0; steps++ {
		if steps > len(b.types) {
			return fmt.Errorf("type %d: reference loop: %w", id, ErrBadBTF)
		}
		m.types[id] = struct{}{}
		t := b.typ(id)
		switch t.kind() {
		case kindInt, kindFloat, kindEnum, kindEnum64, kindStruct, kindUnion:
			return nil
		case kindPtr:
			if !followPointers {
				return nil
			}
			id = t.sizeType
		case kindConst, kindRestrict, kindVolatile, kindTypedef:
			id = t.sizeType
		case kindArray:
			elem, index, _ := b.array(id)
			if err := m.markType(b, elem, followPointers); err != nil {
				return err
			}
			id = index
		case kindFuncProto:
			if err := m.markType(b, t.sizeType, followPointers); err != nil {
				return err
			}
			for i := 0; i < t.vlen(); i++ {
				_, p := b.param(id, i)
				if err := m.markType(b, p, followPointers); err != nil {
					return err
				}
			}
			return nil
		default:
			return errUnsupportedKind(b, id)
		}
	}
	return nil
}

// markTypeMatch follows btfgen_mark_type_match: like markType, but a struct or union keeps all
// its members, recursively, except behind a pointer where it is kept empty; forward
// declarations are kept.
func (m *marks) markTypeMatch(b *rawBTF, id uint32, behindPtr bool) error {
	if err := m.enter(id); err != nil {
		return err
	}
	defer m.leave()
	for steps := 0; id != 0; steps++ {
		if steps > len(b.types) {
			return fmt.Errorf("type %d: reference loop: %w", id, ErrBadBTF)
		}
		m.types[id] = struct{}{}
		t := b.typ(id)
		switch t.kind() {
		case kindInt, kindFloat, kindEnum, kindEnum64:
			return nil
		case kindStruct, kindUnion:
			if behindPtr {
				return nil
			}
			for i := 0; i < t.vlen(); i++ {
				m.member(id, i)
				_, mt, _ := b.member(id, i)
				if err := m.markTypeMatch(b, mt, false); err != nil {
					return err
				}
			}
			return nil
		case kindConst, kindFwd, kindRestrict, kindTypedef, kindVolatile:
			id = t.sizeType
		case kindPtr:
			behindPtr = true
			id = t.sizeType
		case kindArray:
			elem, index, _ := b.array(id)
			if err := m.markTypeMatch(b, elem, false); err != nil {
				return err
			}
			if err := m.markTypeMatch(b, index, false); err != nil {
				return err
			}
			return nil
		case kindFuncProto:
			if err := m.markTypeMatch(b, t.sizeType, false); err != nil {
				return err
			}
			for i := 0; i < t.vlen(); i++ {
				_, p := b.param(id, i)
				if err := m.markTypeMatch(b, p, false); err != nil {
					return err
				}
			}
			return nil
		default:
			return errUnsupportedKind(b, id)
		}
	}
	return nil
}

// markFieldRelo follows btfgen_record_field_relo: the root is kept (without members), then
// each step of the target's raw access path: a struct or union step keeps that member and its
// type, an array step moves to the element type; typedefs and modifiers are skipped.
func (m *marks) markFieldRelo(b *rawBTF, spec *coreSpec) error {
	id := spec.root
	if err := m.markType(b, id, false); err != nil {
		return err
	}
	for i := 1; i < len(spec.raw); i++ {
		id = b.skipModsAndTypedefs(id)
		switch t := b.typ(id); t.kind() {
		case kindStruct, kindUnion:
			idx := int(spec.raw[i])
			m.member(id, idx)
			_, id, _ = b.member(id, idx)
			if err := m.markType(b, id, false); err != nil {
				return err
			}
		case kindArray:
			id, _, _ = b.array(id)
		default:
			return errUnsupportedKind(b, id)
		}
	}
	return nil
}

// record follows btfgen_record_reloc for one resolved relocation (spec nil: no candidate
// matched, nothing is kept). Local type ID relocations need no kernel type.
func (m *marks) record(b *rawBTF, kind relocKind, spec *coreSpec) error {
	if spec == nil {
		return nil
	}
	switch {
	case kind.fieldBased():
		return m.markFieldRelo(b, spec)
	case kind == reloTypeIDLocal:
		return nil
	case kind == reloTypeIDTarget, kind == reloTypeExists, kind == reloTypeSize:
		return m.markType(b, spec.root, true)
	case kind == reloTypeMatches:
		return m.markTypeMatch(b, spec.root, false)
	case kind.enumvalBased():
		return m.markType(b, spec.root, false)
	}
	return fmt.Errorf("%s: %w", kind, ErrRelocation)
}
