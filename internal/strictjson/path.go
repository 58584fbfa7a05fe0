package strictjson

import (
	"strconv"
	"strings"
)

// pathEnds is how many levels a path shows at each end when it is deeper than twice that.
const pathEnds = 8

// path renders the JSONPath of the innermost open object or array: "$", "$.manifests[2]",
// `$.annotations["org.opencontainers.image.ref.name"]`; a deep one with its middle levels
// counted, not shown. It runs only for an error.
func (c *checker) path() string {
	var b strings.Builder
	b.WriteByte('$')
	levels := len(c.stack) - 1
	for i := 0; i < levels; i++ {
		if levels > 2*pathEnds && i == pathEnds {
			b.WriteString("...(" + strconv.Itoa(levels-2*pathEnds) + " levels)...")
			i = levels - pathEnds - 1
			continue
		}
		f := &c.stack[i]
		if !f.obj {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(f.n - 1))
			b.WriteByte(']')
			continue
		}
		writeKey(&b, f.key)
	}
	return b.String()
}

// writeKey appends .key, or ["key"] (quoted as Go does, control characters escaped) when key is
// not a plain name.
func writeKey(b *strings.Builder, key []byte) {
	plain := len(key) > 0
	for i, c := range key {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			plain = false
			break
		}
	}
	if plain {
		b.WriteByte('.')
		b.Write(key)
		return
	}
	b.WriteByte('[')
	b.WriteString(strconv.Quote(string(key)))
	b.WriteByte(']')
}

// quote renders a key for a message, control characters and invalid bytes escaped.
func quote(key []byte) string {
	return strconv.Quote(string(key))
}
