package strictjson

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf8"
)

// MaxDepth is how deep arrays and objects may nest; Check returns ErrTooDeep beyond it.
const MaxDepth = 1000

// smallObject is the number of keys an object holds before Check indexes them in a map.
const smallObject = 16

// frame is one open object or array.
type frame struct {
	obj       bool
	role      role
	n         int    // elements or keys begun
	key       []byte // an object's current key
	keysStart int    // where an object's keys start in checker.keys
	set       map[string]struct{}
}

// checker is the state of one Check.
type checker struct {
	data  []byte
	i     int
	stack []frame
	keys  [][]byte // the keys of the open objects, innermost last
}

// Check returns nil when data is one JSON document of kind k that every parser reads alike,
// and otherwise an *Error naming what is wrong and where: ErrSyntax, ErrTooDeep, or one of
// ErrDuplicateKey, ErrCaseVariant, ErrNull, ErrBOM, ErrInvalidUTF8 and ErrNumberRange (each
// wraps ErrAmbiguous). What Check accepts, encoding/json accepts. Check reads data once, without
// recursion; it allocates only for keys with escapes and for objects of many keys (its stacks
// are reused from one Check to the next). It does not check types (a string where OCI wants a
// number); decoding does.
func Check(data []byte, k Kind) error {
	c := checkers.Get().(*checker)
	c.data = data
	defer c.release()
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		return c.fail(0, ErrBOM, "byte order mark")
	}
	return c.run(topRole(k))
}

// checkers holds checkers between Checks: a store walk checks tens of thousands of small
// documents, and growing two stacks for each was a third of what it allocated.
var checkers = sync.Pool{New: func() any { return new(checker) }}

// maxPooledFrames caps the stacks of a checker put back in checkers: a deep document's do not
// stay.
const maxPooledFrames = 64

// release clears c (it must hold nothing of the document: its keys are slices of it) and puts
// it back in checkers, unless its stacks grew past maxPooledFrames.
func (c *checker) release() {
	clear(c.stack[:cap(c.stack)])
	clear(c.keys[:cap(c.keys)])
	if cap(c.stack) > maxPooledFrames || cap(c.keys) > 4*maxPooledFrames {
		return
	}
	*c = checker{stack: c.stack[:0], keys: c.keys[:0]}
	checkers.Put(c)
}

// fail returns the *Error for what is wrong at offset off, in the innermost open container.
func (c *checker) fail(off int, sentinel error, format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...), Path: c.path(), Offset: off, Err: sentinel}
}

// unexpected is the syntax error at c.i.
func (c *checker) unexpected(want string) error {
	if c.i >= len(c.data) {
		return c.fail(c.i, ErrSyntax, "unexpected end of input, want %s", want)
	}
	return c.fail(c.i, ErrSyntax, "unexpected %q, want %s", c.data[c.i], want)
}

// ws skips whitespace.
func (c *checker) ws() {
	for c.i < len(c.data) {
		switch c.data[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

// run checks the document: a loop over values, with the open containers on c.stack.
func (c *checker) run(top role) error {
	r, nullOK := top, true
	if top != roleOther {
		nullOK = false
	}
	var key []byte // the key of the value to read, for a null's message
value:
	c.ws()
	if c.i >= len(c.data) {
		return c.unexpected("a value")
	}
	switch ch := c.data[c.i]; ch {
	case '{', '[':
		if len(c.stack) >= MaxDepth {
			return c.fail(c.i, ErrTooDeep, "over %d levels of nesting", MaxDepth)
		}
		c.stack = append(c.stack, frame{obj: ch == '{', role: r, keysStart: len(c.keys)})
		c.i++
		c.ws()
		if ch == '{' {
			if c.i < len(c.data) && c.data[c.i] == '}' {
				c.i++
				c.stack = c.stack[:len(c.stack)-1]
				goto next
			}
			goto member
		}
		if c.i < len(c.data) && c.data[c.i] == ']' {
			c.i++
			c.stack = c.stack[:len(c.stack)-1]
			goto next
		}
		f := &c.stack[len(c.stack)-1]
		f.n++
		r, nullOK = f.role.elem()
		key = nil
		goto value
	case '"':
		if _, err := c.str(); err != nil {
			return err
		}
	case 't':
		if err := c.literal("true"); err != nil {
			return err
		}
	case 'f':
		if err := c.literal("false"); err != nil {
			return err
		}
	case 'n':
		if !nullOK {
			if key != nil {
				return c.fail(c.i, ErrNull, "null %s", quote(key))
			}
			if len(c.stack) == 0 {
				return c.fail(c.i, ErrNull, "null document")
			}
			return c.fail(c.i, ErrNull, "null element [%d]", c.stack[len(c.stack)-1].n-1)
		}
		if err := c.literal("null"); err != nil {
			return err
		}
	default:
		if ch == '-' || '0' <= ch && ch <= '9' {
			if err := c.number(); err != nil {
				return err
			}
			break
		}
		return c.unexpected("a value")
	}

next: // after a value: close containers, or go on to the next member or element.
	if len(c.stack) == 0 {
		c.ws()
		if c.i < len(c.data) {
			return c.fail(c.i, ErrSyntax, "data after the document")
		}
		return nil
	}
	c.ws()
	if c.i >= len(c.data) {
		return c.unexpected("',' or a closing bracket")
	}
	{
		f := &c.stack[len(c.stack)-1]
		switch ch := c.data[c.i]; {
		case ch == ',':
			c.i++
			if f.obj {
				c.ws()
				goto member
			}
			f.n++
			r, nullOK = f.role.elem()
			key = nil
			goto value
		case ch == '}' && f.obj, ch == ']' && !f.obj:
			c.i++
			if f.obj {
				c.keys = c.keys[:f.keysStart]
			}
			c.stack = c.stack[:len(c.stack)-1]
			goto next
		}
		if f.obj {
			return c.unexpected("',' or '}'")
		}
		return c.unexpected("',' or ']'")
	}

member: // at the key of an object's member
	{
		if c.i >= len(c.data) || c.data[c.i] != '"' {
			return c.unexpected("a key")
		}
		f := &c.stack[len(c.stack)-1]
		at := c.i
		k, err := c.str()
		if err != nil {
			return err
		}
		if err := c.addKey(f, k, at); err != nil {
			return err
		}
		c.ws()
		if c.i >= len(c.data) || c.data[c.i] != ':' {
			return c.unexpected("':'")
		}
		c.i++
		r, nullOK = f.role.child(k)
		key = k
		goto value
	}
}

// addKey records key k (at offset at) in object f: refused when f has it already, or when it
// is spelled otherwise than the known field of f's role that encoding/json would match it to.
func (c *checker) addKey(f *frame, k []byte, at int) error {
	f.key = k
	f.n++
	if fs := fields[f.role]; fs != nil {
		if _, ok := fs[string(k)]; !ok && len(k) <= maxFieldLen {
			if name, ok := folded[f.role][string(foldName(k))]; ok {
				return c.fail(at, ErrCaseVariant, "key %s differs only in case from %q", quote(k), name)
			}
		}
	}
	own := c.keys[f.keysStart:]
	switch {
	case f.set != nil:
		if _, dup := f.set[string(k)]; dup {
			return c.fail(at, ErrDuplicateKey, "duplicate key %s", quote(k))
		}
		f.set[string(k)] = struct{}{}
	default:
		for _, o := range own {
			if bytes.Equal(o, k) {
				return c.fail(at, ErrDuplicateKey, "duplicate key %s", quote(k))
			}
		}
		if len(own) >= smallObject {
			f.set = make(map[string]struct{}, 2*len(own))
			for _, o := range own {
				f.set[string(o)] = struct{}{}
			}
			f.set[string(k)] = struct{}{}
		}
	}
	c.keys = append(c.keys, k)
	return nil
}

// literal reads the literal lit at c.i.
func (c *checker) literal(lit string) error {
	if !bytes.HasPrefix(c.data[c.i:], []byte(lit)) {
		return c.unexpected(lit)
	}
	c.i += len(lit)
	return nil
}

// number reads a number at c.i, by RFC 8259's grammar, and refuses one beyond float64's range.
func (c *checker) number() error {
	d := c.data
	start := c.i
	if d[c.i] == '-' {
		c.i++
	}
	switch {
	case c.i < len(d) && d[c.i] == '0':
		c.i++
	case c.i < len(d) && '1' <= d[c.i] && d[c.i] <= '9':
		c.digits()
	default:
		return c.unexpected("a digit")
	}
	if c.i < len(d) && d[c.i] == '.' {
		c.i++
		if c.digits() == 0 {
			return c.unexpected("a digit")
		}
	}
	exp := false
	if c.i < len(d) && (d[c.i] == 'e' || d[c.i] == 'E') {
		c.i++
		if c.i < len(d) && (d[c.i] == '+' || d[c.i] == '-') {
			c.i++
		}
		if c.digits() == 0 {
			return c.unexpected("a digit")
		}
		exp = true
	}
	if exp || c.i-start > 300 { // only these can overflow
		if _, err := strconv.ParseFloat(string(d[start:c.i]), 64); err != nil {
			return c.fail(start, ErrNumberRange, "number %.40s is beyond float64's range", d[start:c.i])
		}
	}
	return nil
}

// digits skips decimal digits and returns how many.
func (c *checker) digits() int {
	start := c.i
	for c.i < len(c.data) && '0' <= c.data[c.i] && c.data[c.i] <= '9' {
		c.i++
	}
	return c.i - start
}

// str reads the string at c.i (at its opening quote) and returns its content unescaped: a
// slice of data when it has no escape.
func (c *checker) str() ([]byte, error) {
	d := c.data
	start := c.i + 1
	escaped := false
	i := start
	for {
		if i >= len(d) {
			c.i = i
			return nil, c.unexpected("'\"'")
		}
		ch := d[i]
		switch {
		case ch == '"':
			c.i = i + 1
			if !escaped {
				return d[start:i], nil
			}
			return unescape(d[start:i]), nil
		case ch == '\\':
			n, err := c.escape(i)
			if err != nil {
				return nil, err
			}
			escaped = true
			i += n
		case ch < 0x20:
			c.i = i
			return nil, c.fail(i, ErrSyntax, "control character %q in a string", ch)
		case ch < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && n == 1 {
				return nil, c.fail(i, ErrInvalidUTF8, "byte %#x is not UTF-8", ch)
			}
			i += n
		}
	}
}

// escape checks the escape sequence at d[i] ('\\') and returns its length. A \u escape of a
// surrogate must be a high one followed by a low one.
func (c *checker) escape(i int) (int, error) {
	d := c.data
	if i+1 >= len(d) {
		c.i = i + 1
		return 0, c.unexpected("an escape")
	}
	switch d[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
	default:
		return 0, c.fail(i, ErrSyntax, "unknown escape %q", d[i:i+2])
	}
	r, ok := hex4(d, i+2)
	if !ok {
		return 0, c.fail(i, ErrSyntax, "\\u without 4 hex digits")
	}
	switch {
	case r < 0xd800 || r > 0xdfff:
		return 6, nil
	case r <= 0xdbff && i+7 < len(d) && d[i+6] == '\\' && d[i+7] == 'u':
		if lo, ok := hex4(d, i+8); ok && 0xdc00 <= lo && lo <= 0xdfff {
			return 12, nil
		}
	}
	return 0, c.fail(i, ErrInvalidUTF8, "\\u%04x is a lone surrogate", r)
}

// hex4 decodes 4 hex digits at d[i:].
func hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var r rune
	for _, ch := range d[i : i+4] {
		switch {
		case '0' <= ch && ch <= '9':
			ch -= '0'
		case 'a' <= ch && ch <= 'f':
			ch = ch - 'a' + 10
		case 'A' <= ch && ch <= 'F':
			ch = ch - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(ch)
	}
	return r, true
}

// unescape decodes the content of a string whose escapes escape has checked.
func unescape(s []byte) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			out = append(out, s[i])
			i++
			continue
		}
		switch s[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, _ := hex4(s, i+2)
			if 0xd800 <= r && r <= 0xdbff {
				lo, _ := hex4(s, i+8)
				r = (r-0xd800)<<10 | (lo - 0xdc00) + 0x10000
				i += 6
			}
			out = utf8.AppendRune(out, r)
			i += 6
			continue
		default: // " \ /
			out = append(out, s[i+1])
		}
		i += 2
	}
	return out
}
