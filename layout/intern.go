package layout

// interner shares equal strings: a walk keeps a key per blob, and each decoded descriptor's
// media type (or platform) is a string of its own, so the few distinct ones of a graph would
// otherwise be held once per blob. It keeps at most maxInterned strings (a hostile layout could
// give every descriptor its own media type); past that, a string keeps its own copy.
type interner map[string]string

// maxInterned bounds an interner.
const maxInterned = 1024

// intern returns s, or the equal string interned before.
func (in interner) intern(s string) string {
	if t, ok := in[s]; ok {
		return t
	}
	if len(in) < maxInterned {
		in[s] = s
	}
	return s
}
