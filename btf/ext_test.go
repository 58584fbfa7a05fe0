package btf

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"
)

// extSection returns the .BTF.ext section of a test object.
func extSection(tb testing.TB, path string) []byte {
	tb.Helper()
	f, err := elf.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	s := f.Section(".BTF.ext")
	if s == nil {
		tb.Fatalf("%s: no .BTF.ext", path)
	}
	data, err := s.Data()
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func TestParseBTFExt(t *testing.T) {
	for _, tc := range []struct {
		obj   string
		relos int
	}{
		{"core_fields.bpf.o", 35},
		{"core_types.bpf.o", 11},
		{"core_enums.bpf.o", 4},
		{"core_none.bpf.o", 0},
	} {
		t.Run(tc.obj, func(t *testing.T) {
			relos, err := parseBTFExt(extSection(t, filepath.Join("testdata", tc.obj)))
			if err != nil {
				t.Fatal(err)
			}
			if len(relos) != tc.relos {
				t.Fatalf("%d CO-RE records, want %d", len(relos), tc.relos)
			}
		})
	}
	good := extSection(t, "testdata/core_enums.bpf.o")
	corrupt := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"bad magic", corrupt(func(b []byte) []byte { b[0] = 0; return b })},
		{"big endian", corrupt(func(b []byte) []byte { binary.BigEndian.PutUint16(b, btfMagic); return b })},
		{"version", corrupt(func(b []byte) []byte { b[2] = 2; return b })},
		{"flags", corrupt(func(b []byte) []byte { b[3] = 1; return b })},
		{"header only", good[:32]},
		{"truncated", good[:len(good)-4]},
		{"core record size", corrupt(func(b []byte) []byte {
			off := 32 + binary.LittleEndian.Uint32(b[24:])
			binary.LittleEndian.PutUint32(b[off:], 12)
			return b
		})},
		{"core zero records", corrupt(func(b []byte) []byte {
			off := 32 + binary.LittleEndian.Uint32(b[24:])
			binary.LittleEndian.PutUint32(b[off+8:], 0)
			return b
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			relos, err := parseBTFExt(tc.data)
			if !errors.Is(err, ErrBadBTFExt) || relos != nil {
				t.Fatalf("got %d records, %v; want ErrBadBTFExt", len(relos), err)
			}
		})
	}
}

func FuzzBTFExt(f *testing.F) {
	objs, _ := filepath.Glob("testdata/*.bpf.o")
	for _, o := range objs {
		f.Add(extSection(f, o))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		relos, err := parseBTFExt(data)
		if err != nil && relos != nil {
			t.Fatal("error with a result")
		}
		if err != nil && !errors.Is(err, ErrBadBTFExt) {
			t.Fatalf("%v is not ErrBadBTFExt", err)
		}
	})
}
