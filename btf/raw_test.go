package btf

import (
	"encoding/binary"
	"errors"
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
