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
	var seen uint8
	err = c.object(func(key string) error {
		bit, known := uint8(0), true
		switch key {
		case "schemaVersion":
			bit = 1
			if !c.null() {
				n, err := c.int64()
				if err != nil {
					return err
				}
				v := int(n)
				h.SchemaVersion = &v
			} else {
				h.SchemaVersion = nil
			}
		case "mediaType":
			bit = 2
			if !c.null() {
				s, err := c.str()
				if err != nil {
					return err
				}
				h.MediaType = &s
			} else {
				h.MediaType = nil
			}
		case "artifactType":
			bit = 4
			if err := c.strInto(&h.ArtifactType); err != nil {
				return err
			}
		case "subject":
			bit = 8
			if c.null() {
				h.Subject = nil
				break
			}
			var d ocispec.Descriptor
			if err := c.descriptor(&d); err != nil {
				return err
			}
			h.Subject = &d
		case "annotations":
			bit = 16
			m, err := c.stringMap()
			if err != nil {
				return err
			}
			h.Annotations = m
		case "manifests":
			bit = 32
			if c.null() {
				return errUnusual // encoding/json leaves the field as it was
			}
			manifests = true
			err := c.array(func() error {
				c.ws()
				start := c.i
				if c.peek() != '{' {
					return errUnusual
				}
				var d ocispec.Descriptor
				if err := c.descriptor(&d); err != nil {
					return err
				}
				entries = append(entries, indexEntry{raw: data[start:c.i:c.i], desc: d})
				return nil
			})
			if err != nil {
				return err
			}
		default:
			known = false
			if foldsOnto(key, "schemaVersion", "mediaType", "artifactType", "subject", "annotations", "manifests") {
				return errUnusual
			}
			if err := c.skip(); err != nil {
				return err
			}
		}
		if known {
			if seen&bit != 0 {
				return errUnusual
			}
			seen |= bit
		}
		return nil
	})
	if err == nil {
		c.ws()
		if c.i != len(data) {
			err = errUnusual
		}
	}
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
	var seen uint8
	return c.object(func(key string) error {
		var bit uint8
		var err error
		switch key {
		case "mediaType":
			bit, err = 1, c.commonInto(&d.MediaType)
		case "digest":
			var s string
			if s, err = c.str(); err == nil {
				d.Digest = digest.Digest(s)
			}
			bit = 2
		case "size":
			bit = 4
			d.Size, err = c.int64()
		case "urls":
			bit = 8
			d.URLs, err = c.strList()
		case "annotations":
			bit = 16
			d.Annotations, err = c.stringMap()
		case "data":
			bit = 32
			err = c.base64Into(&d.Data)
		case "platform":
			bit = 64
			if c.null() {
				d.Platform = nil
				break
			}
			var p ocispec.Platform
			err = c.platform(&p)
			d.Platform = &p
		case "artifactType":
			bit, err = 128, c.commonInto(&d.ArtifactType)
		default:
			if foldsOnto(key, "mediaType", "digest", "size", "urls", "annotations", "data", "platform", "artifactType") {
				return errUnusual
			}
			return c.skip()
		}
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

// platform reads a platform object into p.
func (c *jsonCursor) platform(p *ocispec.Platform) error {
	var seen uint8
	return c.object(func(key string) error {
		var bit uint8
		var err error
		switch key {
		case "architecture":
			bit, err = 1, c.commonInto(&p.Architecture)
		case "os":
			bit, err = 2, c.commonInto(&p.OS)
		case "os.version":
			bit, err = 4, c.commonInto(&p.OSVersion)
		case "os.features":
			bit = 8
			p.OSFeatures, err = c.strList()
		case "variant":
			bit, err = 16, c.commonInto(&p.Variant)
		default:
			if foldsOnto(key, "architecture", "os", "os.version", "os.features", "variant") {
				return errUnusual
			}
			return c.skip()
		}
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
			if _, err := c.str(); err != nil {
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
	var seen uint8
	err := c.object(func(key string) error {
		var bit uint8
		var err error
		switch key {
		case "schemaVersion":
			bit = 1
			if c.null() {
				d.SchemaVersion = nil
				break
			}
			var n int64
			if n, err = c.int64(); err == nil {
				v := int(n)
				d.SchemaVersion = &v
			}
		case "mediaType":
			bit, err = 2, c.commonInto(&d.MediaType)
		case "artifactType":
			bit, err = 4, c.commonInto(&d.ArtifactType)
		case "config":
			bit = 8
			d.Config, err = c.descPointer()
		case "layers":
			bit = 16
			d.Layers, err = c.descList()
			d.layers = listField{present: true}
		case "manifests":
			bit = 32
			d.Manifests, err = c.descList()
			d.manifests = listField{present: true}
		case "subject":
			bit = 64
			d.Subject, err = c.descPointer()
		case "annotations":
			bit = 128
			d.Annotations, err = c.stringMap()
		default:
			if foldsOnto(key, "schemaVersion", "mediaType", "artifactType", "config", "layers", "manifests", "subject", "annotations") {
				return errUnusual
			}
			return c.skip()
		}
		if err != nil {
			return err
		}
		if seen&bit != 0 {
			return errUnusual
		}
		seen |= bit
		return nil
	})
	if err == nil {
		c.ws()
		if c.i != len(data) {
			err = errUnusual
		}
	}
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
