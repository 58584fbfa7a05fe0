package strictjson

import (
	"unicode"
	"unicode/utf8"
)

// foldName folds a key as encoding/json does to match it to a struct field (its fold.go):
// ASCII letters to upper case, any other rune to the smallest rune of its fold set, so that
// "ſ" (U+017F) folds as "S" and "K" (U+212A) as "K".
func foldName(in []byte) []byte {
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); {
		if c := in[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(in[i:])
		out = utf8.AppendRune(out, foldRune(r))
		i += n
	}
	return out
}

// foldRune returns the smallest rune of r's fold set.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}
