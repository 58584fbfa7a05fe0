package btf

import (
	"encoding/binary"
	"fmt"
)

// relocKind is a CO-RE relocation kind, numbered as libbpf's enum bpf_core_relo_kind.
type relocKind uint32

const (
	reloFieldByteOffset relocKind = 0
	reloFieldByteSize   relocKind = 1
	reloFieldExists     relocKind = 2
	reloFieldSigned     relocKind = 3
	reloFieldLShiftU64  relocKind = 4
	reloFieldRShiftU64  relocKind = 5
	reloTypeIDLocal     relocKind = 6
	reloTypeIDTarget    relocKind = 7
	reloTypeExists      relocKind = 8
	reloTypeSize        relocKind = 9
	reloEnumvalExists   relocKind = 10
	reloEnumvalValue    relocKind = 11
	reloTypeMatches     relocKind = 12
)

var relocKindNames = [...]string{"byte_off", "byte_sz", "field_exists", "signed", "lshift_u64",
	"rshift_u64", "local_type_id", "target_type_id", "type_exists", "type_size",
	"enumval_exists", "enumval_value", "type_matches"}

func (k relocKind) String() string {
	if int(k) < len(relocKindNames) {
		return relocKindNames[k]
	}
	return fmt.Sprintf("kind %d", uint32(k))
}

func (k relocKind) fieldBased() bool { return k <= reloFieldRShiftU64 }

func (k relocKind) typeBased() bool {
	switch k {
	case reloTypeIDLocal, reloTypeIDTarget, reloTypeExists, reloTypeMatches, reloTypeSize:
		return true
	}
	return false
}

func (k relocKind) enumvalBased() bool { return k == reloEnumvalExists || k == reloEnumvalValue }

// coreRelo is one record of the CO-RE relocation table of .BTF.ext (libbpf's struct
// bpf_core_relo). section is the name offset of the ELF section holding the instruction.
type coreRelo struct {
	section   uint32
	insnOff   uint32
	typeID    uint32
	accessOff uint32
	kind      relocKind
}

// BTF.ext layout: struct btf_ext_header from libbpf's libbpf_internal.h.
const (
	extHdrLenMin      = 8  // magic, version, flags, hdr_len
	extHdrLenInfo     = 24 // through line_info_len
	extHdrLenCoreRelo = 32 // through core_relo_len
	funcInfoMinRec    = 8
	lineInfoMinRec    = 16
	coreReloMinRec    = 16
)

// parseBTFExt reads the CO-RE relocation records of a .BTF.ext section, in file order, and
// validates the func and line info tables with the checks of libbpf's btf_ext__new (a section
// libbpf refuses is refused here too). An extension without CO-RE records returns none.
// Only little-endian extensions are read: libbpf 1.1 refuses the other order.
func parseBTFExt(data []byte) ([]coreRelo, error) {
	bo := binary.LittleEndian
	if len(data) < extHdrLenMin {
		return nil, fmt.Errorf("header: %d bytes: %w", len(data), ErrBadBTFExt)
	}
	switch {
	case bo.Uint16(data) == btfMagic:
	case binary.BigEndian.Uint16(data) == btfMagic:
		return nil, fmt.Errorf("big-endian extension: %w", ErrBadBTFExt)
	default:
		return nil, fmt.Errorf("magic %#04x: %w", bo.Uint16(data), ErrBadBTFExt)
	}
	if data[2] != 1 {
		return nil, fmt.Errorf("version %d: %w", data[2], ErrBadBTFExt)
	}
	if data[3] != 0 {
		return nil, fmt.Errorf("flags %#x: %w", data[3], ErrBadBTFExt)
	}
	hdrLen := uint64(bo.Uint32(data[4:]))
	if uint64(len(data)) < hdrLen {
		return nil, fmt.Errorf("header length %d beyond the section (%d bytes): %w", hdrLen, len(data), ErrBadBTFExt)
	}
	if uint64(len(data)) == hdrLen {
		return nil, fmt.Errorf("no data after the header: %w", ErrBadBTFExt)
	}
	if hdrLen < extHdrLenInfo {
		return nil, fmt.Errorf("header length %d: %w", hdrLen, ErrBadBTFExt)
	}
	tables := []struct {
		name   string
		at     int
		minRec uint32
	}{{"func info", 8, funcInfoMinRec}, {"line info", 16, lineInfoMinRec}, {"core relocations", 24, coreReloMinRec}}
	var relos []coreRelo
	for _, tb := range tables {
		if uint64(tb.at+8) > hdrLen {
			break // an older header without CO-RE records
		}
		off, length := uint64(bo.Uint32(data[tb.at:])), uint64(bo.Uint32(data[tb.at+4:]))
		recs, err := extInfo(data, hdrLen, off, length, tb.minRec, tb.at == 24)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", tb.name, err)
		}
		relos = recs
	}
	return relos, nil
}

// extInfo walks one info table the way libbpf's btf_ext_setup_info does and, for the CO-RE
// table (keep), returns its records.
func extInfo(data []byte, hdrLen, off, length uint64, minRec uint32, keep bool) ([]coreRelo, error) {
	if length == 0 {
		return nil, nil
	}
	if off%4 != 0 {
		return nil, fmt.Errorf("offset %d not aligned: %w", off, ErrBadBTFExt)
	}
	start := hdrLen + off
	if start+length > uint64(len(data)) {
		return nil, fmt.Errorf("%d bytes at %d beyond the section: %w", length, off, ErrBadBTFExt)
	}
	info := data[start : start+length]
	if len(info) < 4 {
		return nil, fmt.Errorf("no record size: %w", ErrBadBTFExt)
	}
	recSize := binary.LittleEndian.Uint32(info)
	if recSize < minRec || recSize%4 != 0 {
		return nil, fmt.Errorf("record size %d: %w", recSize, ErrBadBTFExt)
	}
	info = info[4:]
	if len(info) == 0 {
		return nil, fmt.Errorf("no records: %w", ErrBadBTFExt)
	}
	var relos []coreRelo
	for len(info) > 0 {
		if len(info) < 8 {
			return nil, fmt.Errorf("truncated section header: %w", ErrBadBTFExt)
		}
		sec, num := binary.LittleEndian.Uint32(info), uint64(binary.LittleEndian.Uint32(info[4:]))
		if num == 0 {
			return nil, fmt.Errorf("section %d has no records: %w", sec, ErrBadBTFExt)
		}
		total := 8 + num*uint64(recSize)
		if uint64(len(info)) < total {
			return nil, fmt.Errorf("section %d: %d records of %d bytes beyond the table: %w", sec, num, recSize, ErrBadBTFExt)
		}
		if keep {
			for i := uint64(0); i < num; i++ {
				r := info[8+i*uint64(recSize):]
				relos = append(relos, coreRelo{section: sec,
					insnOff:   binary.LittleEndian.Uint32(r),
					typeID:    binary.LittleEndian.Uint32(r[4:]),
					accessOff: binary.LittleEndian.Uint32(r[8:]),
					kind:      relocKind(binary.LittleEndian.Uint32(r[12:]))})
			}
		}
		info = info[total:]
	}
	return relos, nil
}
