package spec

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// Value types and opcodes of the wasm binary format, for wasmModule.
const (
	wI32, wI64, wF64 = 0x7f, 0x7e, 0x7c
	opI32Const       = 0x41
	opI64Const       = 0x42
	opLocalGet       = 0x20
	opEnd            = 0x0b
)

// wasmFunc is one function of a test module: its type, and its body's instructions (without
// the locals vector and the final end); an import has no body.
type wasmFunc struct {
	params, results []byte
	body            []byte
	importFrom      string // module name: the function is imported
	export          string
}

// wasmModule assembles a core wasm module from funcs (imports first, as the format wants).
func wasmModule(funcs ...wasmFunc) []byte {
	vec := func(items ...[]byte) []byte {
		out := uleb(uint32(len(items)))
		for _, it := range items {
			out = append(out, it...)
		}
		return out
	}
	name := func(s string) []byte { return append(uleb(uint32(len(s))), s...) }
	section := func(id byte, payload []byte) []byte {
		return append(append([]byte{id}, uleb(uint32(len(payload)))...), payload...)
	}
	var types, imports, decls, exports, bodies [][]byte
	for i, f := range funcs {
		types = append(types, append(append(append([]byte{0x60}, uleb(uint32(len(f.params)))...), f.params...),
			append(uleb(uint32(len(f.results))), f.results...)...))
		if f.importFrom != "" {
			imports = append(imports, append(append(name(f.importFrom), name("f")...), append([]byte{0x00}, uleb(uint32(i))...)...))
		} else {
			decls = append(decls, uleb(uint32(i)))
			body := append([]byte{0x00}, f.body...) // no locals
			body = append(body, opEnd)
			bodies = append(bodies, append(uleb(uint32(len(body))), body...))
		}
		if f.export != "" {
			exports = append(exports, append(name(f.export), append([]byte{0x00}, uleb(uint32(i))...)...))
		}
	}
	out := []byte("\x00asm\x01\x00\x00\x00")
	out = append(out, section(1, vec(types...))...)
	if len(imports) > 0 {
		out = append(out, section(2, vec(imports...))...)
	}
	out = append(out, section(3, vec(decls...))...)
	out = append(out, section(7, vec(exports...))...)
	return append(out, section(10, vec(bodies...))...)
}

func uleb(v uint32) []byte {
	var out []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			out = append(out, c|0x80)
			continue
		}
		return append(out, c)
	}
}

func version(results []byte, body ...byte) wasmFunc {
	return wasmFunc{results: results, body: body, export: "gadgetAPIVersion"}
}

func TestCheckWasm(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		bin  []byte
	}{
		{"testdata program.wasm", readTestdata(t, "gadgets/trace_exec/program.wasm")},
		{"i64 1", wasmModule(version([]byte{wI64}, opI64Const, 1))},
		{"i32 1 (wazero hands it back as 1 too)", wasmModule(version([]byte{wI32}, opI32Const, 1))},
		{"computed result is not judged", wasmModule(version([]byte{wI64}, opI64Const, 3, opI64Const, 2, 0x7d /* i64.sub */))},
		{"after an import and another function", wasmModule(
			wasmFunc{params: []byte{wI32}, importFrom: "env"},
			wasmFunc{results: []byte{wI32}, body: []byte{opI32Const, 7}, export: "gadgetInit"},
			version([]byte{wI64}, opI64Const, 1))},
		{"re-exported import (the host decides)", wasmModule(wasmFunc{results: []byte{wI64}, importFrom: "ig", export: "gadgetAPIVersion"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckWasm(ctx, bytes.NewReader(tc.bin), int64(len(tc.bin))); err != nil {
				t.Fatal(err)
			}
			if err := CheckWasm(ctx, iotest.OneByteReader(bytes.NewReader(tc.bin)), -1); err != nil {
				t.Fatalf("unknown size: %v", err)
			}
		})
	}
}

func TestCheckWasmBad(t *testing.T) {
	ctx := context.Background()
	good := readTestdata(t, "gadgets/trace_exec/program.wasm")
	for _, tc := range []struct {
		name string
		bin  []byte
		why  string
	}{
		{"bad/no-api-version.wasm", readTestdata(t, "bad/no-api-version.wasm"), "no exported function gadgetAPIVersion"},
		{"bad/truncated.wasm", readTestdata(t, "bad/truncated.wasm"), "export section: 83 bytes declared, 36 left"},
		{"bad/invalid.wasm", readTestdata(t, "bad/invalid.wasm"), "section 255: 245366783 bytes declared"},
		{"last byte missing", good[:len(good)-1], "code section: 24 bytes declared, 23 left"},
		{"bad/empty.o", readTestdata(t, "bad/empty.o"), "empty"},
		{"an eBPF object", readTestdata(t, "bad/not-bpf.o"), `starts with "\x7fELF"`},
		{"magic only", good[:6], "preamble cut short at 6"},
		{"a component", append([]byte("\x00asm\x0d\x00\x01\x00"), good[8:]...), "version 0x1000d"},
		{"returns 2", wasmModule(version([]byte{wI64}, opI64Const, 2)), "returns 2, ig wants 1"},
		{"returns -1", wasmModule(version([]byte{wI64}, opI64Const, 0x7f)), "returns -1"},
		{"i32 returns 0", wasmModule(version([]byte{wI32}, opI32Const, 0)), "returns 0"},
		{"takes an argument", wasmModule(wasmFunc{params: []byte{wI64}, results: []byte{wI64}, body: []byte{opLocalGet, 0}, export: "gadgetAPIVersion"}),
			"type func(i64) -> (i64)"},
		{"returns nothing", wasmModule(version(nil)), "type func() -> ()"},
		{"returns a float", wasmModule(version([]byte{wF64}, 0x44, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f)), "type func() -> (f64)"},
		{"returns two values", wasmModule(version([]byte{wI64, wI64}, opI64Const, 1, opI64Const, 1)), "type func() -> (i64, i64)"},
		{"does not validate", wasmModule(version([]byte{wI64}, opI32Const, 1)), "does not compile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckWasm(ctx, bytes.NewReader(tc.bin), int64(len(tc.bin)))
			if !errors.Is(err, ErrBadWasm) || !strings.Contains(err.Error(), tc.why) || !strings.HasPrefix(err.Error(), "wasm module: ") {
				t.Fatalf("CheckWasm: %v; want ErrBadWasm saying %q", err, tc.why)
			}
			t.Log(err)
		})
	}
}

func TestCheckWasmSize(t *testing.T) {
	ctx := context.Background()
	good := readTestdata(t, "gadgets/trace_exec/program.wasm")
	for _, tc := range []struct {
		name     string
		r        io.Reader
		size     int64
		why      string
		tooLarge bool
	}{
		{"size says more", bytes.NewReader(good), int64(len(good)) + 10, "truncated: 146 of 156 bytes", false},
		{"size says less", bytes.NewReader(good), int64(len(good)) - 1, "longer than its size 145", false},
		{"declared over the cap", bytes.NewReader(good), MaxWasmSize + 1, "over", true},
		{"unknown size over the cap", io.MultiReader(bytes.NewReader(good), zeros{}), -1, "over", true},
		{"read error", iotest.ErrReader(errors.New("disk on fire")), 10, "disk on fire", false},
		{"read error, unknown size", iotest.ErrReader(errors.New("disk on fire")), -1, "disk on fire", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckWasm(ctx, tc.r, tc.size)
			if !errors.Is(err, ErrBadWasm) || errors.Is(err, ErrTooLarge) != tc.tooLarge || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("CheckWasm: %v; want ErrBadWasm saying %q (too large: %v)", err, tc.why, tc.tooLarge)
			}
		})
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := CheckWasm(cancelled, bytes.NewReader(good), int64(len(good))); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func FuzzCheckWasm(f *testing.F) {
	for _, pattern := range []string{"gadgets/*/*.wasm", "bad/*.wasm"} {
		for _, rel := range globTestdata(f, pattern) {
			f.Add(readTestdata(f, rel))
		}
	}
	f.Add(wasmModule(version([]byte{wI64}, opI64Const, 2)))
	f.Add(wasmModule(wasmFunc{params: []byte{wI32}, importFrom: "env"}, version([]byte{wI32}, opI32Const, 1)))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, bin []byte) {
		err := CheckWasm(ctx, bytes.NewReader(bin), int64(len(bin)))
		if err != nil && !errors.Is(err, ErrBadWasm) {
			t.Fatalf("error %v does not wrap ErrBadWasm", err)
		}
		if err2 := CheckWasm(ctx, bytes.NewReader(bin), -1); (err == nil) != (err2 == nil) {
			t.Fatalf("known size: %v; unknown size: %v", err, err2)
		}
	})
}

func BenchmarkCheckWasm(b *testing.B) {
	bin := readTestdata(b, "gadgets/trace_exec/program.wasm")
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(bin)))
	for b.Loop() {
		if err := CheckWasm(ctx, bytes.NewReader(bin), int64(len(bin))); err != nil {
			b.Fatal(err)
		}
	}
}
