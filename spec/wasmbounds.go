package spec

import (
	"errors"
	"fmt"
)

// wazero's decoder trusts the counts and lengths of a module: it allocates a vector as soon as it
// has read its count, a name as soon as it has read its length, a function's locals as soon as
// it has summed their counts. A 60-byte module that declares a 2 GiB export name or 4 billion
// locals makes it allocate gigabytes, or kills the process. checkWasmBounds walks the module
// first and refuses any count or length that the bytes left in its section cannot hold, and
// anything over the implementation limits of the WebAssembly JS API (the limits every browser
// engine applies; ig's wazero has none), so that what wazero allocates stays proportional to
// the module. Where it meets an encoding it does not know, it leaves the rest of that section
// to wazero, whose errors then come first.

// Limits of the WebAssembly JS API ("Implementation-defined limits"), and a module-wide budget
// for locals, which that document bounds per function only.
const (
	wasmMaxTypes        = 1_000_000
	wasmMaxFunctions    = 1_000_000
	wasmMaxImports      = 100_000
	wasmMaxExports      = 100_000
	wasmMaxGlobals      = 1_000_000
	wasmMaxDataSegments = 100_000
	wasmMaxTables       = 100_000
	wasmMaxElements     = 10_000_000
	wasmMaxParams       = 1_000
	wasmMaxResults      = 1_000
	wasmMaxLocals       = 50_000
	wasmMaxTotalLocals  = 1 << 24
)

var wasmSectionNames = [...]string{"custom", "type", "import", "function", "table", "memory", "global",
	"export", "start", "element", "code", "data", "data count", "tag"}

// errWasmUnknown stops the walk of one section at an encoding the walker does not know.
var errWasmUnknown = errors.New("unknown encoding")

// checkWasmBounds walks bin (preamble already checked) section by section.
func checkWasmBounds(bin []byte) error {
	p := wasmReader{b: bin[8:]}
	totalLocals := 0
	for !p.done() {
		id := p.byte()
		size := p.u32()
		if p.bad {
			return fmt.Errorf("wasm module: section header cut short: %w", ErrBadWasm)
		}
		name := fmt.Sprintf("section %d", id)
		if int(id) < len(wasmSectionNames) {
			name = wasmSectionNames[id] + " section"
		}
		if uint64(size) > uint64(len(p.b)) {
			return fmt.Errorf("wasm module: %s: %d bytes declared, %d left: %w", name, size, len(p.b), ErrBadWasm)
		}
		s := &wasmWalker{wasmReader: wasmReader{b: p.take(size)}, section: name}
		err := s.walk(id, &totalLocals)
		if errors.Is(err, errWasmUnknown) {
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// wasmWalker reads one section and reports counts and lengths it cannot hold.
type wasmWalker struct {
	wasmReader
	section string
}

func (w *wasmWalker) fail(format string, args ...any) error {
	return fmt.Errorf("wasm module: %s: %s: %w", w.section, fmt.Sprintf(format, args...), ErrBadWasm)
}

// count reads a vector count and checks it against the bytes left (each entry takes at least
// minSize bytes) and the limit (0: none).
func (w *wasmWalker) count(what string, minSize int, limit uint32) (uint32, error) {
	n := w.u32()
	if w.bad {
		return 0, w.fail("%s count cut short", what)
	}
	if uint64(n)*uint64(minSize) > uint64(len(w.b)) {
		return 0, w.fail("%d %s declared, only %d bytes left", n, what, len(w.b))
	}
	if limit > 0 && n > limit {
		return 0, w.fail("%d %s, over the limit of %d", n, what, limit)
	}
	return n, nil
}

// name reads a length-prefixed name (or byte vector).
func (w *wasmWalker) name(what string) error {
	n := w.u32()
	if w.bad {
		return w.fail("%s length cut short", what)
	}
	if uint64(n) > uint64(len(w.b)) {
		return w.fail("%s of %d bytes declared, only %d bytes left", what, n, len(w.b))
	}
	w.take(n)
	return nil
}

func (w *wasmWalker) walk(id byte, totalLocals *int) error {
	switch id {
	case 0:
		return w.custom()
	case 1:
		return w.types()
	case 2:
		return w.imports()
	case 3:
		_, err := w.count("functions", 1, wasmMaxFunctions)
		return err
	case 4:
		_, err := w.count("tables", 2, wasmMaxTables)
		return err
	case 5:
		_, err := w.count("memories", 2, 0)
		return err
	case 6:
		_, err := w.count("globals", 4, wasmMaxGlobals)
		return err
	case 7:
		return w.exports()
	case 9:
		return w.elements()
	case 10:
		return w.code(totalLocals)
	case 11:
		return w.data()
	case 13:
		_, err := w.count("tags", 2, 0)
		return err
	}
	return nil
}

func (w *wasmWalker) custom() error {
	n := w.u32()
	if w.bad || uint64(n) > uint64(len(w.b)) {
		return w.fail("name of %d bytes declared, only %d bytes left", n, len(w.b))
	}
	if string(w.take(n)) != "name" {
		return nil
	}
	w.section = `custom section "name"`
	for !w.done() {
		sub := w.byte()
		size := w.u32()
		if w.bad || uint64(size) > uint64(len(w.b)) {
			return w.fail("subsection %d: %d bytes declared, %d left", sub, size, len(w.b))
		}
		// wazero reads subsections 0, 1 and 2 from the whole module, not from their size:
		// bound them by what is left in the section.
		switch sub {
		case 0:
			if err := w.name("module name"); err != nil {
				return err
			}
		case 1, 2:
			entries, err := w.count("name entries", 2, wasmMaxFunctions)
			if err != nil {
				return err
			}
			for range entries {
				w.u32()
				if sub == 1 {
					if err := w.name("function name"); err != nil {
						return err
					}
					continue
				}
				locals, err := w.count("local names", 2, 0)
				if err != nil {
					return err
				}
				for range locals {
					w.u32()
					if err := w.name("local name"); err != nil {
						return err
					}
				}
			}
		default:
			w.take(size)
		}
	}
	return nil
}

func (w *wasmWalker) types() error {
	n, err := w.count("types", 3, wasmMaxTypes)
	if err != nil {
		return err
	}
	for range n {
		if w.byte() != 0x60 {
			return errWasmUnknown
		}
		for _, vt := range []struct {
			what  string
			limit uint32
		}{{"params", wasmMaxParams}, {"results", wasmMaxResults}} {
			k, err := w.count(vt.what, 1, vt.limit)
			if err != nil {
				return err
			}
			for range k {
				if b := w.byte(); b == 0x63 || b == 0x64 { // typed references: more bytes
					return errWasmUnknown
				}
			}
		}
	}
	return nil
}

func (w *wasmWalker) limits() error {
	flag := w.byte()
	if flag > 3 {
		return errWasmUnknown
	}
	w.u32()
	if flag&1 != 0 {
		w.u32()
	}
	return nil
}

func (w *wasmWalker) imports() error {
	n, err := w.count("imports", 4, wasmMaxImports)
	if err != nil {
		return err
	}
	for range n {
		if err := w.name("module name"); err != nil {
			return err
		}
		if err := w.name("import name"); err != nil {
			return err
		}
		switch w.byte() {
		case 0x00: // func
			w.u32()
		case 0x01: // table
			if b := w.byte(); b == 0x63 || b == 0x64 {
				return errWasmUnknown
			}
			if err := w.limits(); err != nil {
				return err
			}
		case 0x02: // memory
			if err := w.limits(); err != nil {
				return err
			}
		case 0x03: // global
			if b := w.byte(); b == 0x63 || b == 0x64 {
				return errWasmUnknown
			}
			w.byte()
		case 0x04: // tag
			w.byte()
			w.u32()
		default:
			return errWasmUnknown
		}
		if w.bad {
			return w.fail("import cut short")
		}
	}
	return nil
}

func (w *wasmWalker) exports() error {
	n, err := w.count("exports", 3, wasmMaxExports)
	if err != nil {
		return err
	}
	for range n {
		if err := w.name("export name"); err != nil {
			return err
		}
		w.byte()
		w.u32()
		if w.bad {
			return w.fail("export cut short")
		}
	}
	return nil
}

// constExpr skips a constant expression up to its end opcode.
func (w *wasmWalker) constExpr() error {
	for !w.bad {
		switch op := w.byte(); op {
		case 0x0b:
			return nil
		case 0x41, 0x42: // i32.const, i64.const
			w.s64()
		case 0x43:
			w.take(4)
		case 0x44:
			w.take(8)
		case 0x23, 0xd2: // global.get, ref.func
			w.u32()
		case 0xd0: // ref.null
			if b := w.byte(); b != 0x70 && b != 0x6f {
				return errWasmUnknown
			}
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended-const arithmetic
		case 0xfd: // v128.const
			if w.u32() != 12 {
				return errWasmUnknown
			}
			w.take(16)
		default:
			return errWasmUnknown
		}
	}
	return w.fail("constant expression cut short")
}

func (w *wasmWalker) elements() error {
	n, err := w.count("element segments", 3, wasmMaxElements)
	if err != nil {
		return err
	}
	total := uint64(0)
	for range n {
		flag := w.u32()
		if flag > 7 || w.bad {
			return errWasmUnknown
		}
		if flag&2 != 0 && flag&1 == 0 { // explicit table index
			w.u32()
		}
		if flag&1 == 0 { // active: offset expression
			if err := w.constExpr(); err != nil {
				return err
			}
		}
		if flag&3 != 0 { // elemkind or reftype
			if b := w.byte(); b == 0x63 || b == 0x64 {
				return errWasmUnknown
			}
		}
		exprs := flag&4 != 0
		minSize := 1
		if exprs {
			minSize = 2
		}
		k, err := w.count("elements", minSize, 0)
		if err != nil {
			return err
		}
		if total += uint64(k); total > wasmMaxElements {
			return w.fail("over %d elements", wasmMaxElements)
		}
		for range k {
			if !exprs {
				w.u32()
			} else if err := w.constExpr(); err != nil {
				return err
			}
		}
		if w.bad {
			return w.fail("element segment cut short")
		}
	}
	return nil
}

func (w *wasmWalker) code(totalLocals *int) error {
	n, err := w.count("function bodies", 3, wasmMaxFunctions)
	if err != nil {
		return err
	}
	for i := range n {
		size := w.u32()
		if w.bad || uint64(size) > uint64(len(w.b)) {
			return w.fail("function body %d: %d bytes declared, %d left", i, size, len(w.b))
		}
		body := wasmWalker{wasmReader: wasmReader{b: w.take(size)}, section: fmt.Sprintf("%s: function body %d", w.section, i)}
		groups, err := body.count("local groups", 2, 0)
		if err != nil {
			return err
		}
		locals := uint64(0)
		for range groups {
			locals += uint64(body.u32())
			if b := body.byte(); b == 0x63 || b == 0x64 {
				return errWasmUnknown
			}
			if locals > wasmMaxLocals {
				return body.fail("over %d locals", wasmMaxLocals)
			}
		}
		if *totalLocals += int(locals); *totalLocals > wasmMaxTotalLocals {
			return body.fail("over %d locals in the module", wasmMaxTotalLocals)
		}
	}
	return nil
}

func (w *wasmWalker) data() error {
	n, err := w.count("data segments", 2, wasmMaxDataSegments)
	if err != nil {
		return err
	}
	for range n {
		switch flag := w.u32(); flag {
		case 0, 2:
			if flag == 2 {
				w.u32()
			}
			if err := w.constExpr(); err != nil {
				return err
			}
		case 1:
		default:
			return errWasmUnknown
		}
		if err := w.name("data segment"); err != nil {
			return err
		}
	}
	return nil
}
