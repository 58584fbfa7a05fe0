package btf

import (
	"errors"
	"fmt"
)

// This file follows libbpf's relo_core.c (bpf_core_parse_spec, bpf_core_spec_match,
// bpf_core_match_member, bpf_core_fields_are_compat, __bpf_core_types_are_compat,
// __bpf_core_types_match, bpf_core_calc_relo, bpf_core_calc_relo_insn) over raw BTF, so that
// the target spec each relocation settles on is the one bpftool gen min_core_btf records.

// coreSpecMaxLen is libbpf's BPF_CORE_SPEC_MAX_LEN.
const coreSpecMaxLen = 64

// errTooDeep is libbpf's -E2BIG for a spec longer than BPF_CORE_SPEC_MAX_LEN. libbpf's
// tri-state matchers return (false, nil) here for its "0" (no match) and an error for its "< 0".
var errTooDeep = fmt.Errorf("spec longer than %d: %w", coreSpecMaxLen, ErrRelocation)

type accessor struct {
	typeID uint32
	idx    uint32
	name   string // "" for an array index
	named  bool
}

// coreSpec is libbpf's struct bpf_core_spec: the high-level accessors (named fields and array
// indices), the raw access indices (including anonymous members), and the bit offset.
type coreSpec struct {
	btf       *rawBTF
	root      uint32
	kind      relocKind
	raw       []uint32
	spec      []accessor
	bitOffset uint32
}

func (s *coreSpec) reset(b *rawBTF, root uint32, kind relocKind) {
	s.btf, s.root, s.kind, s.bitOffset = b, root, kind, 0
	s.raw, s.spec = s.raw[:0], s.spec[:0]
}

// parseSpec follows bpf_core_parse_spec: it turns the access string "0:1:2" of a relocation
// into raw indices and high-level accessors against the local BTF.
func parseSpec(b *rawBTF, r *coreRelo, spec *coreSpec) error {
	access := b.str(r.accessOff)
	if r.accessOff >= uint32(len(b.strs)) || access == "" || access[0] == ':' {
		return fmt.Errorf("access string %q: %w", access, ErrRelocation)
	}
	spec.reset(b, r.typeID, r.kind)
	if r.kind.typeBased() {
		if access != "0" {
			return fmt.Errorf("access string %q for a %s relocation: %w", access, r.kind, ErrRelocation)
		}
		return nil
	}
	for s := access; s != ""; {
		if s[0] == ':' {
			s = s[1:]
		}
		n, rest, ok := scanInt(s)
		if !ok {
			return fmt.Errorf("access string %q: %w", access, ErrRelocation)
		}
		if len(spec.raw) == coreSpecMaxLen {
			return fmt.Errorf("access string %q: %w", access, errTooDeep)
		}
		spec.raw = append(spec.raw, n)
		s = rest
	}
	id := b.skipModsAndTypedefs(r.typeID)
	t := b.typ(id)
	idx := spec.raw[0]
	spec.spec = append(spec.spec, accessor{typeID: id, idx: idx})
	if r.kind.enumvalBased() {
		if !isAnyEnum(t.kind()) || len(spec.raw) > 1 || idx >= uint32(t.vlen()) {
			return fmt.Errorf("enum access %q on %s %d: %w", access, kindNames[t.kind()], id, ErrRelocation)
		}
		spec.spec[0].name = b.str(b.enumNameOff(id, int(idx)))
		spec.spec[0].named = true
		return nil
	}
	if !r.kind.fieldBased() {
		return fmt.Errorf("%s: %w", r.kind, ErrRelocation)
	}
	sz := b.resolveSize(id)
	if sz < 0 {
		return fmt.Errorf("size of type %d: %w", id, ErrRelocation)
	}
	spec.bitOffset = uint32(int64(idx) * sz * 8)
	for i := 1; i < len(spec.raw); i++ {
		id = b.skipModsAndTypedefs(id)
		t = b.typ(id)
		idx = spec.raw[i]
		switch {
		case isComposite(t.kind()):
			if idx >= uint32(t.vlen()) {
				return fmt.Errorf("member %d of type %d: %w", idx, id, ErrRelocation)
			}
			spec.bitOffset += b.memberBitOffset(id, int(idx))
			nameOff, mtype, _ := b.member(id, int(idx))
			if nameOff != 0 {
				name := b.str(nameOff)
				if name == "" {
					return fmt.Errorf("member %d of type %d: empty name: %w", idx, id, ErrRelocation)
				}
				spec.spec = append(spec.spec, accessor{typeID: id, idx: idx, name: name, named: true})
			}
			id = mtype
		case t.kind() == kindArray:
			elem, _, nelems := b.array(id)
			last := &spec.spec[len(spec.spec)-1]
			flex := isFlexArr(b, last, nelems)
			id = b.skipModsAndTypedefs(elem)
			if !flex && idx >= nelems {
				return fmt.Errorf("index %d of array %d: %w", idx, id, ErrRelocation)
			}
			spec.spec = append(spec.spec, accessor{typeID: id, idx: idx})
			sz := b.resolveSize(id)
			if sz < 0 {
				return fmt.Errorf("size of type %d: %w", id, ErrRelocation)
			}
			spec.bitOffset += uint32(int64(idx) * sz * 8)
		default:
			return fmt.Errorf("access %q reaches %s %d: %w", access, kindNames[t.kind()], id, ErrRelocation)
		}
	}
	return nil
}

// scanInt reads a decimal index as sscanf("%d") would at the start of s; negative indices are
// refused (libbpf would index out of bounds with them).
func scanInt(s string) (uint32, string, bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
		i++
	}
	if i < len(s) && s[i] == '+' {
		i++
	}
	start := i
	var n uint64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		n = n*10 + uint64(s[i]-'0')
		if n > 1<<31-1 {
			return 0, "", false
		}
		i++
	}
	if i == start {
		return 0, "", false
	}
	return uint32(n), s[i:], true
}

// isFlexArr follows libbpf's is_flex_arr: a zero-length array that is the last member of the
// struct the previous accessor named.
func isFlexArr(b *rawBTF, acc *accessor, nelems uint32) bool {
	if !acc.named || nelems > 0 {
		return false
	}
	return int(acc.idx) == b.typ(acc.typeID).vlen()-1
}

// specMatch follows bpf_core_spec_match: it tries to match the local spec against candidate
// targID and fills targ. It returns false, nil for "no match".
func specMatch(local *coreSpec, targBTF *rawBTF, targID uint32, targ *coreSpec) (bool, error) {
	targ.reset(targBTF, targID, local.kind)
	if local.kind.typeBased() {
		if local.kind == reloTypeMatches {
			return typesMatch(local.btf, local.root, targBTF, targID, false, 32)
		}
		return typesAreCompat(local.btf, local.root, targBTF, targID, 32)
	}
	if local.kind.enumvalBased() {
		targID = targBTF.skipModsAndTypedefs(targID)
		t := targBTF.typ(targID)
		if !isAnyEnum(t.kind()) {
			return false, nil
		}
		lname := local.spec[0].name
		lessent := essentialNameLen([]byte(lname))
		for i := 0; i < t.vlen(); i++ {
			tname := targBTF.strBytes(targBTF.enumNameOff(targID, i))
			if essentialNameLen(tname) != lessent {
				continue
			}
			if string(tname[:lessent]) == lname[:lessent] {
				targ.spec = append(targ.spec, accessor{typeID: targID, idx: uint32(i), name: string(tname), named: true})
				targ.raw = append(targ.raw, uint32(i))
				return true, nil
			}
		}
		return false, nil
	}
	if !local.kind.fieldBased() {
		return false, fmt.Errorf("%s: %w", local.kind, ErrRelocation)
	}
	for i := range local.spec {
		lacc := &local.spec[i]
		targID = targBTF.skipModsAndTypedefs(targID)
		if lacc.named {
			next, ok, err := matchMember(local.btf, lacc, targBTF, targID, targ)
			if err != nil || !ok {
				return false, err
			}
			targID = next
			continue
		}
		// for i == 0, targID is already the root, treated as the array element type
		if i > 0 {
			t := targBTF.typ(targID)
			if t.kind() != kindArray {
				return false, nil
			}
			elem, _, nelems := targBTF.array(targID)
			flex := isFlexArr(targBTF, &targ.spec[len(targ.spec)-1], nelems)
			if !flex && lacc.idx >= nelems {
				return false, nil
			}
			targID = targBTF.skipModsAndTypedefs(elem)
		}
		if len(targ.raw) == coreSpecMaxLen {
			return false, errTooDeep
		}
		targ.spec = append(targ.spec, accessor{typeID: targID, idx: lacc.idx})
		targ.raw = append(targ.raw, lacc.idx)
		sz := targBTF.resolveSize(targID)
		if sz < 0 {
			return false, fmt.Errorf("size of target type %d: %w", targID, ErrRelocation)
		}
		targ.bitOffset += uint32(int64(lacc.idx) * sz * 8)
	}
	return true, nil
}

// matchMember follows bpf_core_match_member: a depth-first search of targID's members for the
// local accessor's field name, descending into anonymous members; the first member of that
// name decides (compatible or not). It returns the matched member's type.
func matchMember(lb *rawBTF, lacc *accessor, tb *rawBTF, targID uint32, targ *coreSpec) (uint32, bool, error) {
	targID = tb.skipModsAndTypedefs(targID)
	t := tb.typ(targID)
	if !isComposite(t.kind()) {
		return 0, false, nil
	}
	_, lmtype, _ := lb.member(lacc.typeID, int(lacc.idx))
	lname := lacc.name
	for i := 0; i < t.vlen(); i++ {
		bitOff := tb.memberBitOffset(targID, i)
		if len(targ.raw) == coreSpecMaxLen {
			return 0, false, errTooDeep
		}
		targ.bitOffset += bitOff
		targ.raw = append(targ.raw, uint32(i))
		nameOff, mtype, _ := tb.member(targID, i)
		tname := tb.strBytes(nameOff)
		if len(tname) == 0 {
			next, ok, err := matchMember(lb, lacc, tb, mtype, targ)
			if err != nil || ok {
				return next, ok, err
			}
		} else if string(tname) == lname {
			targ.spec = append(targ.spec, accessor{typeID: targID, idx: uint32(i), name: lname, named: true})
			ok, err := fieldsAreCompat(lb, lmtype, tb, mtype)
			if !ok {
				targ.spec = targ.spec[:len(targ.spec)-1]
			}
			return mtype, ok, err
		}
		targ.bitOffset -= bitOff
		targ.raw = targ.raw[:len(targ.raw)-1]
	}
	return 0, false, nil
}

// fieldsAreCompat follows bpf_core_fields_are_compat: any two composites, pointers and floats
// match; enums and forward declarations by essential name (or one anonymous); integers unless
// a legacy bitfield; arrays by element type.
func fieldsAreCompat(lb *rawBTF, lid uint32, tb *rawBTF, tid uint32) (bool, error) {
	for depth := 0; ; depth++ {
		if depth > len(lb.types)+len(tb.types) {
			return false, fmt.Errorf("type loop at %d: %w", lid, ErrRelocation)
		}
		lid, tid = lb.skipModsAndTypedefs(lid), tb.skipModsAndTypedefs(tid)
		lt, tt := lb.typ(lid), tb.typ(tid)
		if isComposite(lt.kind()) && isComposite(tt.kind()) {
			return true, nil
		}
		if !coreKindCompat(lt.kind(), tt.kind()) {
			return false, nil
		}
		switch lt.kind() {
		case kindPtr, kindFloat:
			return true, nil
		case kindFwd, kindEnum, kindEnum64:
			ln, tn := lb.strBytes(lt.nameOff), tb.strBytes(tt.nameOff)
			ll, tl := essentialNameLen(ln), essentialNameLen(tn)
			return ll == 0 || tl == 0 || (ll == tl && string(ln[:ll]) == string(tn[:tl])), nil
		case kindInt:
			return lb.intOffset(lid) == 0 && tb.intOffset(tid) == 0, nil
		case kindArray:
			lid, _, _ = lb.array(lid)
			tid, _, _ = tb.array(tid)
		default:
			return false, nil
		}
	}
}

// typesAreCompat follows __bpf_core_types_are_compat (type exists/size/id relocations): kinds
// must agree after modifiers and typedefs; pointers and arrays recurse into their targets,
// function prototypes into parameters and return type; level bounds the recursion into
// prototypes and the 32-step depth the chain.
func typesAreCompat(lb *rawBTF, lid uint32, tb *rawBTF, tid uint32, level int) (bool, error) {
	if !coreKindCompat(lb.typ(lid).kind(), tb.typ(tid).kind()) {
		return false, nil
	}
	for depth := 32; ; {
		depth--
		if depth < 0 {
			return false, fmt.Errorf("type %d: too deep: %w", lid, ErrRelocation)
		}
		lid, tid = lb.skipModsAndTypedefs(lid), tb.skipModsAndTypedefs(tid)
		lt, tt := lb.typ(lid), tb.typ(tid)
		if !coreKindCompat(lt.kind(), tt.kind()) {
			return false, nil
		}
		switch lt.kind() {
		case kindUnkn, kindStruct, kindUnion, kindEnum, kindFwd, kindEnum64:
			return true, nil
		case kindInt:
			return lb.intOffset(lid) == 0 && tb.intOffset(tid) == 0, nil
		case kindPtr:
			lid, tid = lt.sizeType, tt.sizeType
		case kindArray:
			lid, _, _ = lb.array(lid)
			tid, _, _ = tb.array(tid)
		case kindFuncProto:
			if lt.vlen() != tt.vlen() {
				return false, nil
			}
			for i := 0; i < lt.vlen(); i++ {
				if level <= 0 {
					return false, fmt.Errorf("type %d: too deep: %w", lid, ErrRelocation)
				}
				_, lp := lb.param(lid, i)
				_, tp := tb.param(tid, i)
				ok, err := typesAreCompat(lb, lb.skipModsAndTypedefs(lp), tb, tb.skipModsAndTypedefs(tp), level-1)
				if err != nil || !ok {
					return false, err
				}
			}
			lid, tid = lb.skipModsAndTypedefs(lt.sizeType), tb.skipModsAndTypedefs(tt.sizeType)
		default:
			return false, nil
		}
	}
}

// namesMatch follows bpf_core_names_match: essential names equal; an anonymous target matches
// only an anonymous local.
func namesMatch(lb *rawBTF, lnameOff uint32, tb *rawBTF, tnameOff uint32) bool {
	ln, tn := lb.strBytes(lnameOff), tb.strBytes(tnameOff)
	if len(tn) == 0 {
		return len(ln) == 0
	}
	ll, tl := essentialNameLen(ln), essentialNameLen(tn)
	return ll == tl && string(ln[:ll]) == string(tn[:tl])
}

// typesMatch follows __bpf_core_types_match (the type_matches relocation): names and kinds
// match after modifiers and typedefs; integers by size and signedness; enums when every local
// enumerator has a namesake; composites when every local member has a matching namesake, but
// only by kind behind a pointer (where a forward declaration of the same kind also matches);
// arrays by length and element; prototypes by arity, parameters and return type.
func typesMatch(lb *rawBTF, lid uint32, tb *rawBTF, tid uint32, behindPtr bool, level int) (bool, error) {
	if level <= 0 {
		return false, fmt.Errorf("type %d: too deep: %w", lid, ErrRelocation)
	}
	for depth := 32; ; {
		depth--
		if depth < 0 {
			return false, fmt.Errorf("type %d: too deep: %w", lid, ErrRelocation)
		}
		lid, tid = lb.skipModsAndTypedefs(lid), tb.skipModsAndTypedefs(tid)
		lt, tt := lb.typ(lid), tb.typ(tid)
		if !namesMatch(lb, lt.nameOff, tb, tt.nameOff) {
			return false, nil
		}
		lk, tk := lt.kind(), tt.kind()
		switch lk {
		case kindUnkn:
			return lk == tk, nil
		case kindFwd:
			if behindPtr {
				if lk == tk {
					return lt.kflag() == tt.kflag(), nil
				}
				return (tk == kindStruct && !lt.kflag()) || (tk == kindUnion && lt.kflag()), nil
			}
			return lk == tk && lt.kflag() == tt.kflag(), nil
		case kindEnum, kindEnum64:
			if !isAnyEnum(tk) {
				return false, nil
			}
			return enumsMatch(lb, lid, tb, tid), nil
		case kindStruct, kindUnion:
			if behindPtr {
				if lk == tk {
					return true, nil
				}
				if tk != kindFwd {
					return false, nil
				}
				return (lk == kindUnion) == tt.kflag(), nil
			}
			if lk != tk {
				return false, nil
			}
			return compositesMatch(lb, lid, tb, tid, behindPtr, level)
		case kindInt:
			if lk != tk {
				return false, nil
			}
			return lt.sizeType == tt.sizeType && lb.intEncoding(lid)&1 == tb.intEncoding(tid)&1, nil
		case kindPtr:
			if lk != tk {
				return false, nil
			}
			behindPtr = true
			lid, tid = lt.sizeType, tt.sizeType
		case kindArray:
			if lk != tk {
				return false, nil
			}
			le, _, ln := lb.array(lid)
			te, _, tn := tb.array(tid)
			if ln != tn {
				return false, nil
			}
			lid, tid = le, te
		case kindFuncProto:
			if lk != tk || lt.vlen() != tt.vlen() {
				return false, nil
			}
			for i := 0; i < lt.vlen(); i++ {
				_, lp := lb.param(lid, i)
				_, tp := tb.param(tid, i)
				ok, err := typesMatch(lb, lp, tb, tp, behindPtr, level-1)
				if err != nil || !ok {
					return false, err
				}
			}
			lid, tid = lt.sizeType, tt.sizeType
		default:
			return false, nil
		}
	}
}

func enumsMatch(lb *rawBTF, lid uint32, tb *rawBTF, tid uint32) bool {
	lt, tt := lb.typ(lid), tb.typ(tid)
	if lt.sizeType != tt.sizeType || lt.vlen() > tt.vlen() {
		return false
	}
	for i := 0; i < lt.vlen(); i++ {
		matched := false
		for j := 0; j < tt.vlen() && !matched; j++ {
			matched = namesMatch(lb, lb.enumNameOff(lid, i), tb, tb.enumNameOff(tid, j))
		}
		if !matched {
			return false
		}
	}
	return true
}

func compositesMatch(lb *rawBTF, lid uint32, tb *rawBTF, tid uint32, behindPtr bool, level int) (bool, error) {
	lt, tt := lb.typ(lid), tb.typ(tid)
	if lt.vlen() > tt.vlen() {
		return false, nil
	}
	for i := 0; i < lt.vlen(); i++ {
		lname, ltype, _ := lb.member(lid, i)
		matched := false
		for j := 0; j < tt.vlen(); j++ {
			tname, ttype, _ := tb.member(tid, j)
			if !namesMatch(lb, lname, tb, tname) {
				continue
			}
			ok, err := typesMatch(lb, ltype, tb, ttype, behindPtr, level-1)
			if err != nil {
				return false, err
			}
			if ok {
				matched = true
				break
			}
		}
		if !matched {
			return false, nil
		}
	}
	return true, nil
}

// reloRes is the part of libbpf's struct bpf_core_relo_res that decides ambiguity.
type reloRes struct {
	newVal uint64
	poison bool
}

// errPoison is libbpf's -EUCLEAN: the instruction would be poisoned, not an error.
var errPoison = errors.New("poison")

// calcFieldRelo follows bpf_core_calc_field_relo for the value it computes (nil spec: no
// target found).
func calcFieldRelo(r *coreRelo, spec *coreSpec) (uint64, error) {
	if r.kind == reloFieldExists {
		if spec == nil {
			return 0, nil
		}
		return 1, nil
	}
	if spec == nil {
		return 0, errPoison
	}
	b := spec.btf
	acc := &spec.spec[len(spec.spec)-1]
	if !acc.named {
		sz := b.resolveSize(acc.typeID)
		switch {
		case sz < 0:
			return 0, fmt.Errorf("size of type %d: %w", acc.typeID, ErrRelocation)
		case r.kind == reloFieldByteOffset:
			return uint64(spec.bitOffset / 8), nil
		case r.kind == reloFieldByteSize:
			return uint64(sz), nil
		}
		return 0, fmt.Errorf("%s relocation of an array access: %w", r.kind, ErrRelocation)
	}
	_, mtype, _ := b.member(acc.typeID, int(acc.idx))
	fieldType := b.skipModsAndTypedefs(mtype)
	mt := b.typ(fieldType)
	bitOff := spec.bitOffset
	bitSz := b.memberBitfieldSize(acc.typeID, int(acc.idx))
	var byteOff, byteSz uint32
	bitfield := bitSz > 0
	if bitfield {
		byteSz = mt.sizeType
		if byteSz == 0 {
			return 0, fmt.Errorf("bitfield of size 0 in type %d: %w", acc.typeID, ErrRelocation)
		}
		byteOff = bitOff / 8 / byteSz * byteSz
		for bitOff+bitSz-byteOff*8 > byteSz*8 {
			if byteSz >= 8 {
				return 0, fmt.Errorf("bitfield at bit %d of type %d cannot be read with 64 bits: %w", bitOff, acc.typeID, ErrRelocation)
			}
			byteSz *= 2
			byteOff = bitOff / 8 / byteSz * byteSz
		}
	} else {
		sz := b.resolveSize(fieldType)
		if sz < 0 {
			return 0, fmt.Errorf("size of type %d: %w", fieldType, ErrRelocation)
		}
		byteSz = uint32(sz)
		byteOff = spec.bitOffset / 8
		bitSz = byteSz * 8
	}
	switch r.kind {
	case reloFieldByteOffset:
		return uint64(byteOff), nil
	case reloFieldByteSize:
		return uint64(byteSz), nil
	case reloFieldSigned:
		signed := (isAnyEnum(mt.kind()) && mt.kflag()) || (mt.kind() == kindInt && b.intEncoding(fieldType)&1 != 0)
		if signed {
			return 1, nil
		}
		return 0, nil
	case reloFieldLShiftU64:
		return uint64(64 - (bitOff + bitSz - byteOff*8)), nil
	case reloFieldRShiftU64:
		return uint64(64 - bitSz), nil
	}
	return 0, fmt.Errorf("%s: %w", r.kind, ErrRelocation)
}

func calcTypeRelo(r *coreRelo, spec *coreSpec) (uint64, error) {
	if spec == nil {
		return 0, nil
	}
	switch r.kind {
	case reloTypeIDTarget:
		return uint64(spec.root), nil
	case reloTypeExists, reloTypeMatches:
		return 1, nil
	case reloTypeSize:
		sz := spec.btf.resolveSize(spec.root)
		if sz < 0 {
			return 0, fmt.Errorf("size of type %d: %w", spec.root, ErrRelocation)
		}
		return uint64(sz), nil
	}
	return 0, fmt.Errorf("%s: %w", r.kind, ErrRelocation)
}

func calcEnumvalRelo(r *coreRelo, spec *coreSpec) (uint64, error) {
	switch r.kind {
	case reloEnumvalExists:
		if spec == nil {
			return 0, nil
		}
		return 1, nil
	case reloEnumvalValue:
		if spec == nil {
			return 0, errPoison
		}
		return spec.btf.enumValue(spec.spec[0].typeID, int(spec.spec[0].idx)), nil
	}
	return 0, fmt.Errorf("%s: %w", r.kind, ErrRelocation)
}

// calcRelo follows bpf_core_calc_relo: the local value is computed first (its errors count),
// then the target's; a poison request is a result, not an error.
func calcRelo(r *coreRelo, local, targ *coreSpec) (reloRes, error) {
	var calc func(*coreRelo, *coreSpec) (uint64, error)
	switch {
	case r.kind.fieldBased():
		calc = calcFieldRelo
	case r.kind.typeBased():
		calc = calcTypeRelo
	case r.kind.enumvalBased():
		calc = calcEnumvalRelo
	default:
		return reloRes{}, fmt.Errorf("%s: %w", r.kind, ErrRelocation)
	}
	_, err := calc(r, local)
	if err == nil {
		var v uint64
		v, err = calc(r, targ)
		if err == nil {
			return reloRes{newVal: v}, nil
		}
	}
	if errors.Is(err, errPoison) {
		return reloRes{poison: true}, nil
	}
	return reloRes{}, err
}

// candList is one cached candidate list (libbpf's struct bpf_core_cand_list), shared by every
// relocation of the same local type in one object and pruned as relocations resolve.
type candList struct{ ids []uint32 }

// calcReloInsn follows bpf_core_calc_relo_insn as bpftool calls it: it returns the target spec
// (nil when no candidate matched) for the relocation. scratch holds reusable specs.
func calcReloInsn(local *rawBTF, r *coreRelo, cands *candList, targBTF *rawBTF, scratch *[3]coreSpec) (*coreSpec, error) {
	lspec, cspec, tspec := &scratch[0], &scratch[1], &scratch[2]
	if err := parseSpec(local, r, lspec); err != nil {
		return nil, err
	}
	if r.kind == reloTypeIDLocal {
		return nil, nil
	}
	if local.name(r.typeID) == "" {
		return nil, fmt.Errorf("%s relocation of anonymous type %d: %w", r.kind, r.typeID, ErrRelocation)
	}
	var best reloRes
	j := 0
	for _, cand := range cands.ids {
		ok, err := specMatch(lspec, targBTF, cand, cspec)
		if err != nil {
			return nil, fmt.Errorf("candidate %d: %w", cand, err)
		}
		if !ok {
			continue
		}
		res, err := calcRelo(r, lspec, cspec)
		if err != nil {
			return nil, fmt.Errorf("candidate %d: %w", cand, err)
		}
		if j == 0 {
			best = res
			*tspec, *cspec = *cspec, *tspec // keep the first candidate's spec
		} else if cspec.bitOffset != tspec.bitOffset {
			return nil, fmt.Errorf("field offset ambiguity between candidates %d and %d: %w", tspec.root, cand, ErrRelocation)
		} else if res.poison != best.poison || res.newVal != best.newVal {
			return nil, fmt.Errorf("relocation decision ambiguity between candidates %d and %d: %w", tspec.root, cand, ErrRelocation)
		}
		cands.ids[j] = cand
		j++
	}
	if j > 0 {
		cands.ids = cands.ids[:j]
		return tspec, nil
	}
	if _, err := calcRelo(r, lspec, nil); err != nil {
		return nil, err
	}
	return nil, nil
}
