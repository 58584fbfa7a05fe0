package spec

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gadgetpack/gadgetpack/internal/testtool"
)

// rawModule is the wasm preamble followed by sections given as (id, payload).
func rawModule(sections ...[]byte) []byte {
	out := []byte("\x00asm\x01\x00\x00\x00")
	for _, s := range sections {
		out = append(out, s[0])
		out = append(out, uleb(uint32(len(s)-1))...)
		out = append(out, s[1:]...)
	}
	return out
}

func sec(id byte, payload ...[]byte) []byte {
	out := []byte{id}
	for _, p := range payload {
		out = append(out, p...)
	}
	return out
}

// TestCheckWasmHostile gives CheckWasm modules of a few bytes that declare huge counts or
// lengths: each must be refused, naming the section, without allocating what it declares.
func TestCheckWasmHostile(t *testing.T) {
	huge := uleb(0xfffffff0)
	manyExports := []byte{}
	for i := range wasmMaxExports + 1 {
		manyExports = append(manyExports, 1, byte('a'+i%26), 0x00, 0x00)
	}
	for _, tc := range []struct {
		name string
		bin  []byte
		why  string
	}{
		// The module the fuzzer found: a 2 GiB export name made wazero allocate it.
		{"export name length", rawModule(sec(7, uleb(1), huge)), "export section: export name of 4294967280 bytes declared"},
		{"export count", rawModule(sec(7, huge)), "export section: 4294967280 exports declared"},
		{"type count", rawModule(sec(1, huge)), "type section: 4294967280 types declared"},
		{"param count", rawModule(sec(1, uleb(1), []byte{0x60}, huge)), "type section: 4294967280 params declared"},
		{"import module name", rawModule(sec(2, uleb(1), huge)), "import section: module name of 4294967280 bytes"},
		{"function count", rawModule(sec(3, huge)), "function section: 4294967280 functions declared"},
		{"global count", rawModule(sec(6, huge)), "global section: 4294967280 globals declared"},
		{"element count", rawModule(sec(9, uleb(1), uleb(1), []byte{0x00}, huge)), "element section: 4294967280 elements declared"},
		{"code count", rawModule(sec(10, huge)), "code section: 4294967280 function bodies declared"},
		{"locals", rawModule(sec(10, uleb(1), uleb(7), uleb(1), huge, []byte{0x7f, 0x0b})), "function body 0: over 50000 locals"},
		{"locals over the module budget", rawModule(sec(10, func() []byte {
			out := uleb(400)
			for range 400 {
				out = append(out, append(append(uleb(6), uleb(1)...), append(uleb(50000), 0x7f, 0x0b)...)...)
			}
			return out
		}())), "over 16777216 locals in the module"},
		{"data segment length", rawModule(sec(11, uleb(1), uleb(1), huge)), "data section: data segment of 4294967280 bytes"},
		{"custom section name", rawModule(sec(0, huge)), "custom section: name of 4294967280 bytes"},
		{"name section function names", rawModule(sec(0, uleb(4), []byte("name"), []byte{1}, uleb(5), huge)), `custom section "name": 4294967280 name entries`},
		{"name section local names", rawModule(sec(0, uleb(4), []byte("name"), []byte{2}, uleb(7), uleb(1), uleb(0), huge)), `4294967280 local names declared`},
		{"name section module name", rawModule(sec(0, uleb(4), []byte("name"), []byte{0}, uleb(5), huge)), "module name of 4294967280 bytes"},
		{"section past the end", rawModule(sec(1, uleb(0)))[:8+1], "section header cut short"},
		{"over the export limit", rawModule(sec(7, uleb(wasmMaxExports+1), manyExports)), "100001 exports, over the limit of 100000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := CheckWasm(context.Background(), bytes.NewReader(tc.bin), int64(len(tc.bin)))
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrBadWasm) || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("CheckWasm: %v; want ErrBadWasm saying %q", err, tc.why)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20+2*uint64(len(tc.bin)) {
				t.Errorf("allocated %d bytes for a %d-byte module", alloc, len(tc.bin))
			}
		})
	}
}

// TestCheckWasmRich compiles a module with every section the walker reads (wat2wasm, with
// its name section) and checks that the walker lets it through.
func TestCheckWasmRich(t *testing.T) {
	wat2wasm := testtool.Require(t, "wat2wasm")
	dir := t.TempDir()
	src := filepath.Join(dir, "rich.wat")
	const wat = `(module
  (type $v (func (result i64)))
  (import "env" "log" (func $log (param i32)))
  (import "env" "mem" (memory 1 2))
  (import "env" "g" (global $g i32))
  (import "env" "t" (table 1 funcref))
  (global $h (mut i64) (i64.const -5))
  (global $f f64 (f64.const 1.5))
  (table $tab 4 funcref)
  (elem (table $tab) (i32.const 0) func $version $init)
  (elem declare func $version)
  (elem $p funcref (ref.func $init) (ref.null func))
  (data (i32.const 16) "hello")
  (data $d "passive")
  (func $version (export "gadgetAPIVersion") (type $v) i64.const 1)
  (func $init (export "gadgetInit") (result i32) (local $a i32) (local $b i64) (local f64 f64)
    local.get $a
    call $log
    i32.const 0)
  (start $init2)
  (func $init2)
  (export "memory" (memory 0)))`
	if err := os.WriteFile(src, []byte(wat), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "rich.wasm")
	if msg, err := exec.Command(wat2wasm, "--debug-names", src, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, msg)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkWasmBounds(bin); err != nil {
		t.Fatalf("checkWasmBounds: %v", err)
	}
	if err := CheckWasm(context.Background(), bytes.NewReader(bin), int64(len(bin))); err != nil {
		t.Fatal(err)
	}
}
