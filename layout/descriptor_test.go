package layout

import (
	"regexp"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// goDigestValid is what checkDigest accepted when it called go-digest: the reference that
// validDigest must agree with.
func goDigestValid(s string) bool {
	d := digest.Digest(s)
	return d.Validate() == nil && d.Algorithm().Available()
}

// mediaTypeRE is the image-spec schema's media type grammar: the reference that validMediaType
// must agree with.
var mediaTypeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$`)

func TestValidDigest(t *testing.T) {
	hex64 := strings.Repeat("0123456789abcdef", 4)
	for _, tc := range []struct {
		name string
		in   string
		want bool
	}{
		{"sha256", "sha256:" + hex64, true},
		{"sha384", "sha384:" + hex64 + hex64[:32], true},
		{"sha512", "sha512:" + hex64 + hex64, true},
		{"empty", "", false},
		{"no colon", "sha256" + hex64, false},
		{"no algorithm", ":" + hex64, false},
		{"no encoded", "sha256:", false},
		{"short", "sha256:" + hex64[:63], false},
		{"long", "sha256:" + hex64 + "0", false},
		{"uppercase hex", "sha256:" + strings.ToUpper(hex64), false},
		{"non-hex", "sha256:" + hex64[:63] + "g", false},
		{"trailing newline", "sha256:" + hex64[:63] + "\n", false},
		{"newline after", "sha256:" + hex64 + "\n", false},
		{"second colon", "sha256:" + hex64[:31] + ":" + hex64[:32], false},
		{"uppercase algorithm", "SHA256:" + hex64, false},
		{"sha512 length of sha256", "sha512:" + hex64, false},
		{"unknown algorithm", "md5:" + hex64[:32], false},
		{"unknown algorithm of the grammar", "sha256+b64u:" + hex64, false},
		{"blake3", "blake3:" + hex64, false},
		{"multibyte", "sha256:" + hex64[:62] + "é", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := validDigest(digest.Digest(tc.in)); got != tc.want {
				t.Errorf("validDigest(%q) = %v, want %v", tc.in, got, tc.want)
			}
			if ref := goDigestValid(tc.in); ref != tc.want {
				t.Errorf("go-digest says %v for %q, the table %v", ref, tc.in, tc.want)
			}
		})
	}
}

func TestValidMediaType(t *testing.T) {
	long := strings.Repeat("a", 127)
	for _, tc := range []struct {
		name string
		in   string
		want bool
	}{
		{"oci manifest", "application/vnd.oci.image.manifest.v1+json", true},
		{"every special", "a!#$&^_.+-/b!#$&^_.+-", true},
		{"digits", "0/9", true},
		{"127 each", long + "/" + long, true},
		{"128 type", long + "a/b", false},
		{"128 subtype", "a/" + long + "b", false},
		{"empty", "", false},
		{"no slash", "application", false},
		{"two slashes", "a/b/c", false},
		{"empty type", "/json", false},
		{"empty subtype", "application/", false},
		{"special first", "+a/b", false},
		{"special first in subtype", "a/.b", false},
		{"parameter", "application/json; charset=utf-8", false},
		{"space", "application/ json", false},
		{"trailing newline", "application/json\n", false},
		{"multibyte", "application/jsoné", false},
		{"star", "application/*", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := validMediaType(tc.in); got != tc.want {
				t.Errorf("validMediaType(%q) = %v, want %v", tc.in, got, tc.want)
			}
			if ref := mediaTypeRE.MatchString(tc.in); ref != tc.want {
				t.Errorf("the schema's expression says %v for %q, the table %v", ref, tc.in, tc.want)
			}
		})
	}
}

// FuzzValidDigest is differential: validDigest accepts and refuses exactly what go-digest does.
func FuzzValidDigest(f *testing.F) {
	hex64 := strings.Repeat("0123456789abcdef", 4)
	for _, s := range []string{"sha256:" + hex64, "sha384:" + hex64 + hex64[:32], "sha512:" + hex64 + hex64,
		"sha256:" + hex64[:63] + "\n", "sha256+b64u:abc", ":", "SHA256:" + hex64} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validDigest(digest.Digest(s)), goDigestValid(s); got != want {
			t.Fatalf("validDigest(%q) = %v, go-digest %v", s, got, want)
		}
	})
}

// FuzzValidMediaType is differential: validMediaType accepts and refuses exactly what the
// schema's regular expression does.
func FuzzValidMediaType(f *testing.F) {
	for _, s := range []string{"application/vnd.oci.image.manifest.v1+json", "a/b", "a/b/c", "/", "a!/b#", strings.Repeat("x", 127) + "/y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validMediaType(s), mediaTypeRE.MatchString(s); got != want {
			t.Fatalf("validMediaType(%q) = %v, the expression %v", s, got, want)
		}
	})
}
