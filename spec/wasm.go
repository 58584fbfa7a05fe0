package spec

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// MaxWasmSize is the largest wasm module CheckWasm accepts: 64 MiB. The module is read into
// memory to be compiled.
const MaxWasmSize = 64 << 20

// wasmAPIVersion is the gadget API version ig's wasm operator wants gadgetAPIVersion to return.
const wasmAPIVersion = 1

// CheckWasm checks that r holds a wasm module ig can run: it compiles with wazero (the runtime
// ig embeds), and exports a function gadgetAPIVersion that takes no argument and returns one
// integer (ig calls it and wants 1; when the function body is a lone constant, CheckWasm checks
// that it is 1). size is the expected length (a descriptor's size), or -1 if unknown; with
// size >= 0, fewer or more bytes than size are an error. CheckWasm reads at most
// MaxWasmSize+1 bytes and honours ctx.
//
// Before wazero sees the module, CheckWasm checks that every count and length in it fits in
// the bytes of its section and within the WebAssembly JS API's implementation limits
// (checkWasmBounds): wazero allocates what a module declares before reading it.
//
// It returns ErrBadWasm for an empty, truncated or non-wasm input, a module that does not
// compile or is over those limits, and a missing or mistyped gadgetAPIVersion; ErrTooLarge (with ErrBadWasm) over
// MaxWasmSize; ctx's error if ctx ends first. It does not instantiate the module or run any
// of its code.
func CheckWasm(ctx context.Context, r io.Reader, size int64) error {
	bin, err := readWasm(r, size)
	if err != nil {
		return err
	}
	if err := checkWasmBounds(bin); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCloseOnContextDone(true))
	defer rt.Close(context.WithoutCancel(ctx))
	mod, err := rt.CompileModule(ctx, bin)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return fmt.Errorf("wasm module: does not compile: %v: %w", err, ErrBadWasm)
	}
	defer mod.Close(context.WithoutCancel(ctx))
	fn, ok := mod.ExportedFunctions()["gadgetAPIVersion"]
	if !ok {
		return fmt.Errorf("wasm module: no exported function gadgetAPIVersion (ig calls it to check the gadget API version): %w", ErrBadWasm)
	}
	if p, res := fn.ParamTypes(), fn.ResultTypes(); len(p) != 0 || len(res) != 1 ||
		(res[0] != api.ValueTypeI32 && res[0] != api.ValueTypeI64) {
		return fmt.Errorf("wasm module: gadgetAPIVersion has type %s, want func() -> (i64) (ig calls it with no argument and reads one integer): %w",
			funcType(p, res), ErrBadWasm)
	}
	// A re-exported import has no body here: its value is the host's business.
	if imports := uint32(len(mod.ImportedFunctions())); fn.Index() >= imports {
		if v, ok := constantResult(bin, fn.Index()-imports, fn.ResultTypes()[0]); ok && v != wasmAPIVersion {
			return fmt.Errorf("wasm module: gadgetAPIVersion returns %d, ig wants %d: %w", v, wasmAPIVersion, ErrBadWasm)
		}
	}
	return nil
}

// readWasm reads the module into memory under MaxWasmSize and checks its preamble.
func readWasm(r io.Reader, size int64) ([]byte, error) {
	if size > MaxWasmSize {
		return nil, fmt.Errorf("wasm module: %d bytes, over %d: %w: %w", size, MaxWasmSize, ErrBadWasm, ErrTooLarge)
	}
	var bin []byte
	if size >= 0 {
		bin = make([]byte, size)
		if n, err := io.ReadFull(r, bin); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("wasm module: truncated: %d of %d bytes: %w", n, size, ErrBadWasm)
			}
			return nil, fmt.Errorf("wasm module: reading: %v: %w", err, ErrBadWasm)
		}
		var extra [1]byte
		if n, _ := io.ReadFull(r, extra[:]); n > 0 {
			return nil, fmt.Errorf("wasm module: longer than its size %d: %w", size, ErrBadWasm)
		}
	} else {
		var err error
		bin, err = io.ReadAll(io.LimitReader(r, MaxWasmSize+1))
		if err != nil {
			return nil, fmt.Errorf("wasm module: reading: %v: %w", err, ErrBadWasm)
		}
		if len(bin) > MaxWasmSize {
			return nil, fmt.Errorf("wasm module: over %d bytes: %w: %w", MaxWasmSize, ErrBadWasm, ErrTooLarge)
		}
	}
	switch {
	case len(bin) == 0:
		return nil, fmt.Errorf("wasm module: empty: %w", ErrBadWasm)
	case len(bin) < 4 || !bytes.Equal(bin[:4], []byte("\x00asm")):
		return nil, fmt.Errorf("wasm module: starts with %q, not the wasm magic \\0asm: %w", bin[:min(len(bin), 4)], ErrBadWasm)
	case len(bin) < 8:
		return nil, fmt.Errorf("wasm module: preamble cut short at %d bytes: %w", len(bin), ErrBadWasm)
	}
	if v := binary.LittleEndian.Uint32(bin[4:8]); v != 1 {
		return nil, fmt.Errorf("wasm module: binary format version %#x, want 1 (a core module, not a component): %w", v, ErrBadWasm)
	}
	return bin, nil
}

// funcType formats a function type as wat does.
func funcType(params, results []api.ValueType) string {
	s := "func("
	for i, p := range params {
		if i > 0 {
			s += ", "
		}
		s += api.ValueTypeName(p)
	}
	s += ") -> ("
	for i, r := range results {
		if i > 0 {
			s += ", "
		}
		s += api.ValueTypeName(r)
	}
	return s + ")"
}

// constantResult returns the value the index-th function body of the code section returns
// when that body is only "i64.const N" (or "i32.const N" for an i32 result), with no locals.
// bin has been validated by wazero; any surprise just means "not a constant" (false).
func constantResult(bin []byte, index uint32, result api.ValueType) (int64, bool) {
	const codeSection = 10
	p := wasmReader{b: bin[8:]}
	for !p.done() {
		id := p.byte()
		n := p.u32()
		sec := p.take(n)
		if p.bad {
			return 0, false
		}
		if id != codeSection {
			continue
		}
		code := wasmReader{b: sec}
		count := code.u32()
		if index >= count {
			return 0, false
		}
		for i := uint32(0); i < index && !code.bad; i++ {
			code.take(code.u32())
		}
		body := wasmReader{b: code.take(code.u32())}
		if code.bad || body.u32() != 0 { // locals
			return 0, false
		}
		op := body.byte()
		v := body.s64()
		if body.byte() != 0x0b || !body.done() || body.bad {
			return 0, false
		}
		switch {
		case op == 0x42 && result == api.ValueTypeI64:
			return v, true
		case op == 0x41 && result == api.ValueTypeI32:
			return int64(uint32(int32(v))), true
		}
		return 0, false
	}
	return 0, false
}

// wasmReader decodes the LEB128 encodings of the wasm binary format; past the end or on an
// overlong number it sets bad and returns zeros.
type wasmReader struct {
	b   []byte
	bad bool
}

func (r *wasmReader) done() bool { return len(r.b) == 0 }

func (r *wasmReader) byte() byte {
	if len(r.b) == 0 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *wasmReader) take(n uint32) []byte {
	if uint64(n) > uint64(len(r.b)) {
		r.bad = true
		r.b = nil
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

func (r *wasmReader) u32() uint32 {
	var v uint64
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if v > 0xffffffff {
				r.bad = true
			}
			return uint32(v)
		}
	}
	r.bad = true
	return 0
}

func (r *wasmReader) s64() int64 {
	var v int64
	for shift := 0; shift < 70; shift += 7 {
		c := r.byte()
		v |= int64(c&0x7f) << shift
		if c&0x80 == 0 {
			if shift+7 < 64 && c&0x40 != 0 {
				v |= -1 << (shift + 7)
			}
			return v
		}
	}
	r.bad = true
	return 0
}
