package layout

import (
	_ "crypto/sha256" // registers sha256 for go-digest
	_ "crypto/sha512" // registers sha384 and sha512 for go-digest
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media types this package walks. Docker's schema 2 types have the same shapes as OCI's.
const (
	mediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// IsManifestType reports whether mt names an image manifest (OCI or Docker schema 2).
func IsManifestType(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == mediaTypeDockerManifest
}

// IsIndexType reports whether mt names an image index (OCI or Docker manifest list).
func IsIndexType(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == mediaTypeDockerList
}

// validMediaType reports whether mt has the RFC 6838 form of a media type, as the image-spec
// schema checks it: type "/" subtype, each a restricted-name (an ASCII letter or digit, then up
// to 126 of letters, digits and !#$&^_.+-). It accepts exactly what the regular expression
// ^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$ accepts
// (descriptor_test.go compares both), without running one for every descriptor.
func validMediaType(mt string) bool {
	slash := strings.IndexByte(mt, '/')
	return slash >= 0 && restrictedName(mt[:slash]) && restrictedName(mt[slash+1:])
}

// restrictedName reports whether s is an RFC 6838 restricted-name of at most 127 characters.
func restrictedName(s string) bool {
	if len(s) == 0 || len(s) > 127 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && !strings.ContainsRune("!#$&^_.+-", rune(c)) {
			return false
		}
	}
	return true
}

// isAlnum reports whether c is an ASCII letter or digit.
func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// checkMediaType returns an error wrapping ErrInvalidMediaType unless mt is well formed.
func checkMediaType(mt string) error {
	if !validMediaType(mt) {
		return fmt.Errorf("media type %q: %w", mt, ErrInvalidMediaType)
	}
	return nil
}

// checkDigest returns an error wrapping ErrInvalidDigest unless d parses, names an available
// algorithm and has a well-formed encoded part (lowercase hex of the right length).
func checkDigest(d digest.Digest) error {
	if !validDigest(d) {
		return fmt.Errorf("digest %q: %w", string(d), ErrInvalidDigest)
	}
	return nil
}

// validDigest reports whether d is sha256, sha384 or sha512, a colon, and the lowercase hex of
// that hash's size: exactly what go-digest's d.Validate() accepts with d.Algorithm().Available()
// (descriptor_test.go compares both), without the regular expression go-digest runs per digest.
func validDigest(d digest.Digest) bool {
	s := string(d)
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return false
	}
	var n int
	switch digest.Algorithm(s[:i]) {
	case digest.SHA256:
		n = 64
	case digest.SHA384:
		n = 96
	case digest.SHA512:
		n = 128
	default:
		return false
	}
	hex := s[i+1:]
	return len(hex) == n && isLowerHex(hex)
}

// isLowerHex reports whether s is all of 0-9 and a-f. It looks each byte up in a table and
// tests once at the end: the two range tests per byte were mispredicted on random hex (a
// digest is checked several times on its way through a walk; 0.09 s of an export of 20,000
// images).
func isLowerHex(s string) bool {
	var bad uint8
	for i := range len(s) {
		bad |= notLowerHex[s[i]]
	}
	return bad == 0
}

// notLowerHex is 1 for each byte that is not one of 0-9 and a-f.
var notLowerHex = func() (t [256]uint8) {
	for i := range t {
		if c := byte(i); (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			t[i] = 1
		}
	}
	return t
}()

// short returns d with its encoded part cut to 12 characters, for locations in reports.
func short(d digest.Digest) string {
	s := string(d)
	if i := strings.IndexByte(s, ':'); i >= 0 && len(s) > i+13 {
		return s[:i+13]
	}
	return s
}

// refNameRE is the grammar of org.opencontainers.image.ref.name in image-layout.md:
// component ("/" component)*, component = alphanum (separator alphanum)*, separator = [-._:@+] | "--".
var refNameRE = regexp.MustCompile(`^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$`)

// checkRef returns an error wrapping ErrInvalidReference unless ref can be stored as a ref name:
// non-empty, of the image-layout grammar, and not a digest (digests resolve as digests).
func checkRef(ref string) error {
	if ref == "" {
		return fmt.Errorf("empty ref: %w", ErrInvalidReference)
	}
	if _, err := digest.Parse(ref); err == nil {
		return fmt.Errorf("ref %q is a digest: %w", ref, ErrInvalidReference)
	}
	if len(ref) > 4096 || !refNameRE.MatchString(ref) {
		return fmt.Errorf("ref %q: %w", ref, ErrInvalidReference)
	}
	return nil
}

// refName returns the org.opencontainers.image.ref.name annotation of desc, or "".
func refName(desc ocispec.Descriptor) string {
	if refNameCalls != nil {
		refNameCalls.Add(1)
	}
	return desc.Annotations[ocispec.AnnotationRefName]
}

// refNameCalls, when a test sets it, counts the calls of refName: how many times index.json
// entries are looked at, to check that merges and closures take linear time.
var refNameCalls *atomic.Int64
