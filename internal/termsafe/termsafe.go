package termsafe

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxLine is the most bytes a line of output built from input should hold; Clip cuts to it.
const MaxLine = 4096

// Escape returns s with every byte or character a terminal would act on, or that would hide or
// reorder text, written as a Go escape, and with every backslash doubled, so that the result
// is one line of printable characters and nothing is lost: strconv.Unquote of the result,
// with its double quotes escaped and the whole quoted, gives s back byte for byte (Escape
// leaves '"' alone, it is printable).
//
// Escaped are: C0 controls and DEL (\a \b \f \n \r \t \v, others \xHH), C1 controls and every
// other rune strconv.IsPrint refuses (\u0085, \u202e, \ufeff, \U000e0001: bidi controls,
// zero-width and other format characters, line and paragraph separators, spaces other than
// U+0020, unassigned code points), and each byte of invalid UTF-8 (\xHH). Escape returns s
// itself when nothing needs escaping.
func Escape(s string) string {
	return escape(s, true)
}

// Sanitize is Escape for a whole message that may already hold escapes (an error whose fields
// were escaped where it was made): it escapes the same characters but leaves backslashes as
// they are, so nothing is escaped twice. The result is as safe to print as Escape's, but not
// reversible.
func Sanitize(s string) string {
	return escape(s, false)
}

// escape writes s with unsafe characters escaped, and backslashes doubled when backslash.
func escape(s string, backslash bool) string {
	i := firstUnsafe(s, backslash)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteByte(hex[s[i]>>4])
			b.WriteByte(hex[s[i]&0xf])
		case r == '\\' && backslash:
			b.WriteString(`\\`)
		case safe(r):
			b.WriteString(s[i : i+size])
		default:
			writeEscaped(&b, r)
		}
		i += size
	}
	return b.String()
}

const hex = "0123456789abcdef"

// firstUnsafe returns the offset of the first byte of s that escape changes, or -1.
func firstUnsafe(s string, backslash bool) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f || c == '\\' && backslash {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || !safe(r) {
			return i
		}
		i += size
	}
	return -1
}

// safe reports whether r prints as itself and moves the cursor forward only: a graphic
// character or the ASCII space, and none of the format characters that reorder text.
func safe(r rune) bool {
	return strconv.IsPrint(r) && !isFormat(r)
}

// isFormat reports the invisible format characters this package promises to escape; they are
// not graphic, so strconv.IsPrint refuses them already, and this keeps the promise should a
// later Unicode table say otherwise (U+2065 is unassigned today).
func isFormat(r rune) bool {
	switch {
	case r == 0x061c, r == 0xfeff,
		0x200b <= r && r <= 0x200f,
		0x2028 <= r && r <= 0x202e,
		0x2060 <= r && r <= 0x206f:
		return true
	}
	return false
}

// writeEscaped writes the Go escape of rune r: \n-style for the named C0 controls, \xHH for
// other ASCII, \uHHHH or \UHHHHHHHH above it.
func writeEscaped(b *strings.Builder, r rune) {
	switch r {
	case '\a':
		b.WriteString(`\a`)
	case '\b':
		b.WriteString(`\b`)
	case '\f':
		b.WriteString(`\f`)
	case '\n':
		b.WriteString(`\n`)
	case '\r':
		b.WriteString(`\r`)
	case '\t':
		b.WriteString(`\t`)
	case '\v':
		b.WriteString(`\v`)
	default:
		var digits int
		switch {
		case r < utf8.RuneSelf:
			b.WriteString(`\x`)
			digits = 2
		case r <= 0xffff:
			b.WriteString(`\u`)
			digits = 4
		default:
			b.WriteString(`\U`)
			digits = 8
		}
		for shift := 4 * (digits - 1); shift >= 0; shift -= 4 {
			b.WriteByte(hex[r>>uint(shift)&0xf])
		}
	}
}

// Clip returns s when it is at most max bytes long; otherwise its start and end, cut at rune
// boundaries, around a note of how many bytes were left out, the whole at most max bytes
// (for max of at least 64). It keeps one line of output bounded whatever the input; a
// message that lists many items should rather say how many it left out itself.
func Clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	note := " ... [cut: " + strconv.Itoa(len(s)) + " bytes in all] ... "
	keep := max - len(note)
	if keep < 0 {
		keep = 0
	}
	head, tail := keep/2, keep-keep/2
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	t := len(s) - tail
	for t < len(s) && !utf8.RuneStart(s[t]) {
		t++
	}
	return s[:head] + note + s[t:]
}

// MaxListed is how many items a message built with Join lists before it says how many more
// there were.
const MaxListed = 10

// Join joins items with sep as strings.Join does, but lists at most max of them (MaxListed
// when max ≤ 0) and then says how many it left out ("... and 26990 more"), so that a message
// about thousands of items (every layer of a 27,000-layer manifest, every ref of a wide
// index.json) stays one readable line. It escapes nothing.
func Join(items []string, sep string, max int) string {
	if max <= 0 {
		max = MaxListed
	}
	if len(items) <= max {
		return strings.Join(items, sep)
	}
	return strings.Join(items[:max], sep) + sep + "... and " + strconv.Itoa(len(items)-max) + " more"
}

// EscapeJSON returns the JSON text js (as encoding/json writes it: valid UTF-8, C0 controls,
// U+2028 and U+2029 escaped already) with every other rune Escape would escape (DEL, C1
// controls, bidi and other format characters) written as a JSON \uXXXX escape, a surrogate
// pair above U+FFFF. Such runes only occur inside strings, where the escape decodes to the same
// rune, so the document means the same; it just no longer reorders or hides text when printed
// on a terminal. EscapeJSON returns js itself when there is nothing to escape.
func EscapeJSON(js []byte) []byte {
	i := firstUnsafeJSON(js)
	if i < 0 {
		return js
	}
	out := make([]byte, 0, len(js)+32)
	out = append(out, js[:i]...)
	for i < len(js) {
		r, size := utf8.DecodeRune(js[i:])
		if js[i] < utf8.RuneSelf && js[i] != 0x7f || r == utf8.RuneError && size == 1 || r >= utf8.RuneSelf && safe(r) {
			out = append(out, js[i:i+size]...)
			i += size
			continue
		}
		if r > 0xffff {
			r1, r2 := utf16.EncodeRune(r)
			out = appendU(appendU(out, r1), r2)
		} else {
			out = appendU(out, r)
		}
		i += size
	}
	return out
}

// firstUnsafeJSON returns the offset of the first non-ASCII rune of js that EscapeJSON
// escapes, or -1.
func firstUnsafeJSON(js []byte) int {
	for i := 0; i < len(js); {
		if js[i] < utf8.RuneSelf {
			if js[i] == 0x7f {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(js[i:])
		if !(r == utf8.RuneError && size == 1) && !safe(r) {
			return i
		}
		i += size
	}
	return -1
}

// appendU appends the JSON escape \uXXXX of the UTF-16 code unit r.
func appendU(b []byte, r rune) []byte {
	return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}
