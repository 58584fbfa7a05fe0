package btf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
)

func TestParseRawBTF(t *testing.T) {
	k := testKernels(t)[0]
	b, err := parseRawBTF(k.data)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.types) < 10000 {
		t.Fatalf("%d types in %s", len(b.types), k.name)
	}
	// every task_struct member resolves and the struct has a size
	found := false
	for id := 1; id < len(b.types); id++ {
		if b.typ(uint32(id)).kind() == kindStruct && b.name(uint32(id)) == "task_struct" {
			found = true
			if b.resolveSize(uint32(id)) <= 0 {
				t.Fatal("task_struct has no size")
			}
		}
	}
	if !found {
		t.Fatal("no task_struct")
	}
	corrupt := func(f func(b []byte)) []byte {
		c := append([]byte(nil), k.data[:4096]...)
		f(c)
		return c
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"short", k.data[:10]},
		{"magic", corrupt(func(b []byte) { b[0] = 1 })},
		{"version", corrupt(func(b []byte) { b[2] = 9 })},
		{"truncated", k.data[:4096]},
		{"header length", corrupt(func(b []byte) { binary.LittleEndian.PutUint32(b[4:], 1<<30) })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := parseRawBTF(tc.data); !errors.Is(err, ErrBadBTF) || got != nil {
				t.Fatalf("got %v, %v; want ErrBadBTF", got != nil, err)
			}
		})
	}
}

func TestEssentialNameLen(t *testing.T) {
	for _, tc := range []struct {
		name string
		want int
	}{
		{"task_struct", 11},
		{"task_struct___old", 11},
		{"a___b___c", 5},
		{"a____b", 6},
		{"___x", 4},
		{"x___", 4},
		{"", 0},
	} {
		if got := essentialNameLen([]byte(tc.name)); got != tc.want {
			t.Errorf("essentialNameLen(%q) = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// bigEndian returns little-endian raw BTF in big-endian order: the header's fields and every
// 32-bit word of the type section swapped, the strings as they are.
func bigEndian(tb testing.TB, le []byte) []byte {
	tb.Helper()
	be := bytes.Clone(le)
	binary.BigEndian.PutUint16(be, binary.LittleEndian.Uint16(le))
	for off := 4; off < btfHeaderLen; off += 4 {
		binary.BigEndian.PutUint32(be[off:], binary.LittleEndian.Uint32(le[off:]))
	}
	hdr := binary.LittleEndian.Uint32(le[4:])
	typeOff, typeLen := hdr+binary.LittleEndian.Uint32(le[8:]), binary.LittleEndian.Uint32(le[12:])
	for off := typeOff; off < typeOff+typeLen; off += 4 {
		binary.BigEndian.PutUint32(be[off:], binary.LittleEndian.Uint32(le[off:]))
	}
	return be
}

// TestParseBigEndian checks that big-endian BTF (swapped to little-endian when parsed) gives
// the same records and the same minimal BTF as the little-endian original.
func TestParseBigEndian(t *testing.T) {
	k := testKernels(t)[0]
	le, err := parseRawBTF(k.data)
	if err != nil {
		t.Fatal(err)
	}
	be, err := parseRawBTF(bigEndian(t, k.data))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(le.types, be.types) || !bytes.Equal(le.data, be.data) || !bytes.Equal(le.strs, be.strs) {
		t.Fatal("big-endian BTF parses differently")
	}
	objs := loadTestObjects(t, testObjectPaths(t))
	want, err := Minimize(&Kernel{raw: le}, objs...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Minimize(&Kernel{raw: be}, objs...)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("minimal BTF from big-endian kernel: %d bytes, %v; want %d bytes", len(got), err, len(want))
	}
}

func FuzzRawBTF(f *testing.F) {
	ks, err := loadTestKernels()
	if err == nil && len(ks) > 0 {
		f.Add(ks[0].data[:8192])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := parseRawBTF(data)
		if err != nil {
			if b != nil || !errors.Is(err, ErrBadBTF) {
				t.Fatalf("%v with a result or not ErrBadBTF", err)
			}
			return
		}
		for id := range b.types {
			b.resolveSize(uint32(id))
			b.skipModsAndTypedefs(uint32(id))
		}
	})
}
