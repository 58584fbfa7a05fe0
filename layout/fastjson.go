package layout

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// A reader of index.json, manifests and indexes written for their common shape, which
// encoding/json decodes several times slower (an index.json of 20,000 refs: 60 ms against
// 175 ms with the raw entries, for each command that reads it; 60,000 manifests and indexes:
// about 0.7 s of CPU less for export and verify). It is an accelerator, not a second parser: it
// reads only what strictjson.Check accepted, and for anything it does not read exactly as
// encoding/json does (a type encoding/json would convert or refuse, a key it would fold onto a
// field, a repeated field) it gives up with errUnusual, and encoding/json decodes it.
// FuzzIndexDecode and FuzzDocDecode check that whatever it decodes, encoding/json decodes the
// same.

// errUnusual is fastIndex giving up: encoding/json decides.
var errUnusual = errors.New("index.json: not in the common shape")

// fastIndex decodes index.json's top-level fields and entries, each entry's raw JSON a slice of
// data (not a copy). manifests is false when the field is absent.
func fastIndex(data []byte) (h indexHeader, entries []indexEntry, manifests bool, err error) {
	c := &jsonCursor{data: data, common: map[string]string{}}
	err = c.document(func(key string) (uint8, error) {
		switch key {
		case "schemaVersion":
			var err error
			h.SchemaVersion, err = c.intPointer()
			return 1, err
		case "mediaType":
			if c.null() {
				h.MediaType = nil
				return 2, nil
			}
			s, err := c.str()
			h.MediaType = &s
			return 2, err
		case "artifactType":
			return 4, c.strInto(&h.ArtifactType)
		case "subject":
			var err error
			h.Subject, err = c.descPointer()
			return 8, err
		case "annotations":
			var err error
			h.Annotations, err = c.stringMap()
			return 16, err
		case "manifests":
			if c.null() {
				return 0, errUnusual // encoding/json leaves the field as it was
			}
			manifests = true
			return 32, c.array(func() error {
				if c.peek() != '{' {
					return errUnusual
				}
				start := c.i
				var d ocispec.Descriptor
				if err := c.descriptor(&d); err != nil {
					return err
				}
				entries = append(entries, indexEntry{raw: data[start:c.i:c.i], desc: d})
				return nil
			})
		}
		return c.unknown(key, "schemaVersion", "mediaType", "artifactType", "subject", "annotations", "manifests")
	})
	if err != nil {
		return indexHeader{}, nil, false, errUnusual
	}
	if manifests && entries == nil {
		entries = []indexEntry{}
	}
	return h, entries, manifests, nil
}

// foldsOnto reports whether key, not one of names, is one that encoding/json would match to
// one of them (it matches names case-insensitively, with Unicode's simple folding).
func foldsOnto(key string, names ...string) bool {
	for _, n := range names {
		if strings.EqualFold(key, n) {
			return true
		}
	}
	return false
}

// fields reads an object whose known keys fn reads, returning a bit of its own for each (0 for
// a key it skipped): a known key given twice is left to encoding/json, which keeps the last.
func (c *jsonCursor) fields(fn func(key string) (uint8, error)) error {
	var seen uint8
	return c.object(func(key string) error {
		bit, err := fn(key)
		if err != nil {
			return err
		}
		if seen&bit != 0 {
			return errUnusual
		}
		seen |= bit
		return nil
	})
}

// document reads a whole document: the object of fields, then nothing but white space.
func (c *jsonCursor) document(fn func(key string) (uint8, error)) error {
	if err := c.fields(fn); err != nil {
		return err
	}
	if c.ws(); c.i != len(c.data) {
		return errUnusual
	}
	return nil
}

// unknown skips the value of a key that is none of names, unless encoding/json would read it
// as one of them.
func (c *jsonCursor) unknown(key string, names ...string) (uint8, error) {
	if foldsOnto(key, names...) {
		return 0, errUnusual
	}
	return 0, c.skip()
}

// intPointer reads an integer as encoding/json reads one into an *int; null is nil.
func (c *jsonCursor) intPointer() (*int, error) {
	if c.null() {
		return nil, nil
	}
	n, err := c.int64()
	v := int(n)
	return &v, err
}

// jsonCursor reads JSON values from data at i.
type jsonCursor struct {
	data []byte
	i    int
	// common, when set, holds the strings that repeat across a big document's entries
	// (annotation values aside), each allocated once; up to maxCommon of them.
	common map[string]string
}

// maxCommon bounds jsonCursor.common.
const maxCommon = 256

// knownStrings are strings every document repeats: the keys OCI defines, and common media
// types and platforms. commonStr returns these without allocating.
var knownStrings = func() map[string]string {
	m := map[string]string{}
	for _, s := range []string{
		"schemaVersion", "mediaType", "artifactType", "config", "layers", "manifests", "subject",
		"annotations", "digest", "size", "urls", "data", "platform", "architecture", "os",
		"os.version", "os.features", "variant", "features",
		ocispec.MediaTypeImageIndex, ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageConfig,
		ocispec.MediaTypeImageLayer, ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageLayerZstd,
		ocispec.MediaTypeEmptyJSON, ocispec.AnnotationRefName, ocispec.AnnotationTitle,
		ocispec.AnnotationCreated, "linux", "amd64", "arm64",
		// an image config's keys (fastConfigOK)
		"created", "author", "rootfs", "history", "type", "diff_ids", "created_by", "comment",
		"empty_layer", "User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes",
		"WorkingDir", "Labels", "StopSignal", "ArgsEscaped",
	} {
		m[s] = s
	}
	return m
}()

// commonStr reads a string that is likely to repeat, sharing it with its earlier copies.
func (c *jsonCursor) commonStr() (string, error) {
	if c.peek() != '"' {
		return "", errUnusual
	}
	// A string without escapes is looked up by its bytes, with no allocation.
	if end := c.plainEnd(); end > 0 {
		b := c.data[c.i+1 : end]
		s, ok := knownStrings[string(b)]
		if !ok {
			s, ok = c.common[string(b)]
		}
		if ok {
			c.i = end + 1
			return s, nil
		}
	}
	s, err := c.str()
	if err == nil && c.common != nil && len(c.common) < maxCommon {
		c.common[s] = s
	}
	return s, err
}

// plainEnd returns the index of the closing quote of the string at i when it has no escape
// and only ASCII, or 0.
func (c *jsonCursor) plainEnd() int {
	for j := c.i + 1; j < len(c.data); j++ {
		switch b := c.data[j]; {
		case b == '"':
			return j
		case b == '\\' || b < 0x20 || b >= utf8.RuneSelf:
			return 0
		}
	}
	return 0
}

// commonInto reads a likely repeated string into s; null leaves s as it is.
func (c *jsonCursor) commonInto(s *string) error {
	if c.null() {
		return nil
	}
	v, err := c.commonStr()
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ws skips white space.
func (c *jsonCursor) ws() {
	for c.i < len(c.data) {
		switch c.data[c.i] {
		case ' ', '\t', '\r', '\n':
			c.i++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end.
func (c *jsonCursor) peek() byte {
	c.ws()
	if c.i < len(c.data) {
		return c.data[c.i]
	}
	return 0
}

// null consumes a null, reporting whether there was one.
func (c *jsonCursor) null() bool {
	if c.peek() == 'n' && strings.HasPrefix(string(c.data[c.i:min(len(c.data), c.i+4)]), "null") {
		c.i += 4
		return true
	}
	return false
}

// object reads an object, calling fn with each key; fn reads its value. Keys repeat from
// entry to entry: each is allocated once (commonStr).
func (c *jsonCursor) object(fn func(key string) error) error {
	if c.peek() != '{' {
		return errUnusual
	}
	c.i++
	if c.peek() == '}' {
		c.i++
		return nil
	}
	for {
		key, err := c.commonStr()
		if err != nil {
			return err
		}
		if c.peek() != ':' {
			return errUnusual
		}
		c.i++
		if err := fn(key); err != nil {
			return err
		}
		switch c.peek() {
		case ',':
			c.i++
		case '}':
			c.i++
			return nil
		default:
			return errUnusual
		}
	}
}

// array reads an array, calling fn for each element; fn reads it.
func (c *jsonCursor) array(fn func() error) error {
	if c.peek() != '[' {
		return errUnusual
	}
	c.i++
	if c.peek() == ']' {
		c.i++
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		switch c.peek() {
		case ',':
			c.i++
		case ']':
			c.i++
			return nil
		default:
			return errUnusual
		}
	}
}

// str reads a string.
func (c *jsonCursor) str() (string, error) {
	if c.peek() != '"' {
		return "", errUnusual
	}
	c.i++
	start := c.i
	for c.i < len(c.data) {
		switch b := c.data[c.i]; {
		case b == '"':
			s := string(c.data[start:c.i])
			c.i++
			return s, nil
		case b == '\\':
			return c.escaped(start)
		case b < 0x20:
			return "", errUnusual
		case b >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(c.data[c.i:])
			if r == utf8.RuneError && n == 1 {
				return "", errUnusual // encoding/json would replace it
			}
			c.i += n
		default:
			c.i++
		}
	}
	return "", errUnusual
}

// skipStr reads past a string without making it (only one with escapes or other than ASCII is
// read through str, which checks it as it reads it).
func (c *jsonCursor) skipStr() error {
	if c.peek() != '"' {
		return errUnusual
	}
	if end := c.plainEnd(); end > 0 {
		c.i = end + 1
		return nil
	}
	_, err := c.str()
	return err
}

// escaped reads the rest of a string that has escapes, from start (after its quote).
func (c *jsonCursor) escaped(start int) (string, error) {
	out := append([]byte(nil), c.data[start:c.i]...)
	for c.i < len(c.data) {
		b := c.data[c.i]
		switch {
		case b == '"':
			c.i++
			return string(out), nil
		case b < 0x20:
			return "", errUnusual
		case b != '\\':
			out = append(out, b)
			c.i++
			continue
		}
		if c.i+1 >= len(c.data) {
			return "", errUnusual
		}
		e := c.data[c.i+1]
		c.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
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
			r, ok := c.hex4()
			if !ok {
				return "", errUnusual
			}
			if utf16.IsSurrogate(r) {
				// Only a valid pair is read here; encoding/json replaces a lone half.
				if c.i+1 >= len(c.data) || c.data[c.i] != '\\' || c.data[c.i+1] != 'u' {
					return "", errUnusual
				}
				c.i += 2
				r2, ok := c.hex4()
				if !ok {
					return "", errUnusual
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					return "", errUnusual
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", errUnusual
		}
	}
	return "", errUnusual
}

// hex4 reads the four hex digits of a \u escape.
func (c *jsonCursor) hex4() (rune, bool) {
	if c.i+4 > len(c.data) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(c.data[c.i:c.i+4]), 16, 16)
	if err != nil {
		return 0, false
	}
	c.i += 4
	return rune(n), true
}

// strInto reads a string into s; null leaves s as it is, as encoding/json does.
func (c *jsonCursor) strInto(s *string) error {
	if c.null() {
		return nil
	}
	v, err := c.str()
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// int64 reads a number that is an integer, as encoding/json reads one into an int64.
func (c *jsonCursor) int64() (int64, error) {
	if b := c.peek(); b != '-' && (b < '0' || b > '9') {
		return 0, errUnusual
	}
	start := c.i
	for c.i < len(c.data) {
		b := c.data[c.i]
		if b == '-' || b == '+' || b == '.' || b == 'e' || b == 'E' || ('0' <= b && b <= '9') {
			c.i++
			continue
		}
		break
	}
	n, err := strconv.ParseInt(string(c.data[start:c.i]), 10, 64)
	if err != nil {
		return 0, errUnusual
	}
	return n, nil
}

// strList reads an array of strings; null is nil, [] is empty and not nil.
func (c *jsonCursor) strList() ([]string, error) {
	if c.null() {
		return nil, nil
	}
	out := []string{}
	err := c.array(func() error {
		s, err := c.str()
		out = append(out, s)
		return err
	})
	return out, err
}

// stringMap reads an object of string values; null is nil, {} is empty and not nil.
func (c *jsonCursor) stringMap() (map[string]string, error) {
	if c.null() {
		return nil, nil
	}
	m := map[string]string{}
	err := c.object(func(key string) error {
		if _, dup := m[key]; dup {
			return errUnusual
		}
		v, err := c.str()
		m[key] = v
		return err
	})
	return m, err
}

// descriptor reads a descriptor object into d.
func (c *jsonCursor) descriptor(d *ocispec.Descriptor) error {
	return c.fields(func(key string) (uint8, error) {
		var err error
		switch key {
		case "mediaType":
			return 1, c.commonInto(&d.MediaType)
		case "digest":
			var s string
			s, err = c.str()
			d.Digest = digest.Digest(s)
			return 2, err
		case "size":
			d.Size, err = c.int64()
			return 4, err
		case "urls":
			d.URLs, err = c.strList()
			return 8, err
		case "annotations":
			d.Annotations, err = c.stringMap()
			return 16, err
		case "data":
			return 32, c.base64Into(&d.Data)
		case "platform":
			if c.null() {
				d.Platform = nil
				return 64, nil
			}
			d.Platform = &ocispec.Platform{}
			return 64, c.platform(d.Platform)
		case "artifactType":
			return 128, c.commonInto(&d.ArtifactType)
		}
		return c.unknown(key, "mediaType", "digest", "size", "urls", "annotations", "data", "platform", "artifactType")
	})
}

// platform reads a platform object into p.
func (c *jsonCursor) platform(p *ocispec.Platform) error {
	return c.fields(func(key string) (uint8, error) {
		switch key {
		case "architecture":
			return 1, c.commonInto(&p.Architecture)
		case "os":
			return 2, c.commonInto(&p.OS)
		case "os.version":
			return 4, c.commonInto(&p.OSVersion)
		case "os.features":
			var err error
			p.OSFeatures, err = c.strList()
			return 8, err
		case "variant":
			return 16, c.commonInto(&p.Variant)
		}
		return c.unknown(key, "architecture", "os", "os.version", "os.features", "variant")
	})
}

// base64Into reads a base64 string into b, as encoding/json decodes a []byte.
func (c *jsonCursor) base64Into(b *[]byte) error {
	if c.null() {
		*b = nil
		return nil
	}
	s, err := c.str()
	if err != nil {
		return err
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(out, []byte(s))
	if err != nil {
		return errUnusual
	}
	*b = out[:n]
	return nil
}

// skip reads past one value of any kind, without recursion.
func (c *jsonCursor) skip() error {
	depth := 0
	for {
		switch b := c.peek(); b {
		case '"':
			if err := c.skipStr(); err != nil {
				return err
			}
		case '{', '[':
			depth++
			c.i++
			continue
		case '}', ']':
			if depth == 0 {
				return errUnusual
			}
			depth--
			c.i++
		case ',', ':':
			if depth == 0 {
				return errUnusual
			}
			c.i++
			continue
		case 0:
			return errUnusual
		default:
			// A number or a literal: up to the next delimiter.
			start := c.i
			for c.i < len(c.data) && !strings.ContainsRune(" \t\r\n,:]}", rune(c.data[c.i])) {
				c.i++
			}
			if c.i == start {
				return errUnusual
			}
		}
		if depth == 0 {
			return nil
		}
	}
}

// fastDoc decodes a manifest or an index as decodeDoc does with encoding/json, for the same
// common shape as fastIndex, or gives up with errUnusual. data passed strictjson.Check.
func fastDoc(data []byte) (*doc, error) {
	c := &jsonCursor{data: data}
	d := &doc{}
	err := c.document(func(key string) (uint8, error) {
		var err error
		switch key {
		case "schemaVersion":
			d.SchemaVersion, err = c.intPointer()
			return 1, err
		case "mediaType":
			return 2, c.commonInto(&d.MediaType)
		case "artifactType":
			return 4, c.commonInto(&d.ArtifactType)
		case "config":
			d.Config, err = c.descPointer()
			return 8, err
		case "layers":
			d.Layers, err = c.descList()
			d.layers = listField{present: true}
			return 16, err
		case "manifests":
			d.Manifests, err = c.descList()
			d.manifests = listField{present: true}
			return 32, err
		case "subject":
			d.Subject, err = c.descPointer()
			return 64, err
		case "annotations":
			d.Annotations, err = c.stringMap()
			return 128, err
		}
		return c.unknown(key, "schemaVersion", "mediaType", "artifactType", "config", "layers", "manifests", "subject", "annotations")
	})
	if err != nil {
		return nil, errUnusual
	}
	return d, nil
}

// descPointer reads a descriptor, or null as nil.
func (c *jsonCursor) descPointer() (*ocispec.Descriptor, error) {
	if c.null() {
		return nil, nil
	}
	var d ocispec.Descriptor
	if err := c.descriptor(&d); err != nil {
		return nil, err
	}
	return &d, nil
}

// descList reads an array of descriptors; [] is empty and not nil. A null list or element is
// left to encoding/json (strictjson refuses both in a document).
func (c *jsonCursor) descList() ([]ocispec.Descriptor, error) {
	if c.null() {
		return nil, errUnusual
	}
	out := []ocispec.Descriptor{}
	err := c.array(func() error {
		if c.peek() != '{' {
			return errUnusual
		}
		out = append(out, ocispec.Descriptor{})
		return c.descriptor(&out[len(out)-1])
	})
	return out, err
}
