package spec

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/distribution/reference"
)

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestExpandRef(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"trace_exec", "ghcr.io/inspektor-gadget/gadget/trace_exec:latest"},
		{"trace_exec:latest", "ghcr.io/inspektor-gadget/gadget/trace_exec:latest"},
		{"trace_exec:v0.40.0", "ghcr.io/inspektor-gadget/gadget/trace_exec:v0.40.0"},
		{"trace_exec:V1_RC", "ghcr.io/inspektor-gadget/gadget/trace_exec:V1_RC"},
		{"trace-exec", "ghcr.io/inspektor-gadget/gadget/trace-exec:latest"},
		{"a__b", "ghcr.io/inspektor-gadget/gadget/a__b:latest"},
		{"foo/bar", "ghcr.io/foo/bar:latest"},
		{"foo/bar/baz:1", "ghcr.io/foo/bar/baz:1"},
		{"ghcr.io/foo", "ghcr.io/inspektor-gadget/gadget/foo:latest"},
		{"ghcr.io/foo/bar", "ghcr.io/foo/bar:latest"},
		{"ghcr.io/inspektor-gadget/gadget/trace_exec:latest", "ghcr.io/inspektor-gadget/gadget/trace_exec:latest"},
		{"ttl.sh/signed_with_cosign_oci11:latest", "ttl.sh/signed_with_cosign_oci11:latest"},
		{"localhost/x", "localhost/x:latest"},
		{"localhost:5000/x", "localhost:5000/x:latest"},
		{"localhost:5000/x/y:tag", "localhost:5000/x/y:tag"},
		{"127.0.0.1:5000/gadget", "127.0.0.1:5000/gadget:latest"},
		{"[::1]:5000/gadget", "[::1]:5000/gadget:latest"},
		{"registry.example.com/team/g", "registry.example.com/team/g:latest"},
		{"docker.io/foo", "docker.io/library/foo:latest"},
		{"docker.io/foo/bar", "docker.io/foo/bar:latest"},
		{"index.docker.io/foo/bar", "docker.io/foo/bar:latest"},
		// A first component with upper case is a host (ig and distribution/reference agree).
		{"Registry/gadget", "Registry/gadget:latest"},
		{"trace_exec@sha256:" + hex64, "ghcr.io/inspektor-gadget/gadget/trace_exec@sha256:" + hex64},
		{"trace_exec:v1@sha256:" + hex64, "ghcr.io/inspektor-gadget/gadget/trace_exec:v1@sha256:" + hex64},
		{"localhost:5000/x@sha256:" + hex64, "localhost:5000/x@sha256:" + hex64},
		// A single name with a colon is name:tag, not host:port.
		{"foo:5000", "ghcr.io/inspektor-gadget/gadget/foo:5000"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ExpandRef(tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("ExpandRef(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			if !IsFullRef(got) {
				t.Errorf("IsFullRef(%q) = false for ExpandRef's own output", got)
			}
			if again, err := ExpandRef(got); err != nil || again != got {
				t.Errorf("ExpandRef is not idempotent: %q -> %q, %v", got, again, err)
			}
		})
	}
}

func TestExpandRefBad(t *testing.T) {
	for _, tc := range []struct{ in, why string }{
		{"", "empty"},
		{"Trace_exec", "must be lowercase"},
		{"foo/Bar", "must be lowercase"},
		{"ghcr.io/Foo/bar", "must be lowercase"},
		{"trace exec", "not [host"},
		{"trace_exec:", "not [host"},
		{"trace_exec:-tag", "not [host"},
		{"trace_exec:" + strings.Repeat("a", 129), "not [host"},
		{"trace_exec@sha256:abc", "not [host"},
		{"trace_exec@sha256:" + strings.ToUpper(hex64), "digest"},
		{"trace_exec@sha256:" + hex64[:63] + "0a", "digest"},
		{"trace_exec@md5:" + hex64[:32], "digest"},
		{"foo//bar", "not [host"},
		{"foo/bar/", "not [host"},
		{"/foo", "not [host"},
		{"-foo", "not [host"},
		{"foo_", "not [host"},
		{"foo/" + strings.Repeat("a", 252), "over 255"},
		{"ghcr.io/", "not [host"},
		{"host:port/x", "not [host"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ExpandRef(tc.in)
			if !errors.Is(err, ErrBadRef) || got != "" {
				t.Fatalf("ExpandRef(%q) = %q, %v; want ErrBadRef", tc.in, got, err)
			}
			if !strings.Contains(err.Error(), tc.why) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.in)) {
				t.Errorf("error %q should name the input and say %q", err, tc.why)
			}
		})
	}
}

func TestIsFullRef(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"ghcr.io/inspektor-gadget/gadget/trace_open:latest", true},
		{"ttl.sh/signed_with_cosign_legacy:latest", true},
		{"ghcr.io/inspektor-gadget/gadget/unsigned:francis-signature-unit-tests", true},
		{"latest", false},
		{"trace_open:latest", false},
		{"ghcr.io/inspektor-gadget/gadget/trace_open", false},
		{"sha256-2f096beb75baadce98f52500552f1d7eabf19f4c35007869350d6f496084e992.sig", false},
		{"docker.io/foo:latest", false},
		{"", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := IsFullRef(tc.in); got != tc.want {
				t.Fatalf("IsFullRef(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestRefName(t *testing.T) {
	for _, tc := range []struct{ in, repo, tag string }{
		{"ghcr.io/inspektor-gadget/gadget/trace_open:latest", "ghcr.io/inspektor-gadget/gadget/trace_open", "latest"},
		{"ghcr.io/inspektor-gadget/gadget/unsigned:francis-signature-unit-tests", "ghcr.io/inspektor-gadget/gadget/unsigned", "francis-signature-unit-tests"},
		{"localhost:5000/x", "localhost:5000/x", "latest"},
		{"localhost:5000/x@sha256:" + hex64, "localhost:5000/x", "latest"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			repo, tag, err := RefName(tc.in)
			if err != nil || repo != tc.repo || tag != tc.tag {
				t.Fatalf("RefName(%q) = %q, %q, %v; want %q, %q", tc.in, repo, tag, err, tc.repo, tc.tag)
			}
		})
	}
	for _, in := range []string{"", "trace_exec", "trace_open:latest", "Foo bar"} {
		t.Run("bad/"+in, func(t *testing.T) {
			if _, _, err := RefName(in); !errors.Is(err, ErrBadRef) {
				t.Fatalf("RefName(%q): %v, want ErrBadRef", in, err)
			}
		})
	}
}

// igNormalize is ig's pkg/oci normalizeImageName, on the real distribution/reference package
// (a test-only dependency): ExpandRef must give the same answer for every input.
func igNormalize(image string) (string, error) {
	domain, remainder := "", ""
	i := strings.IndexRune(image, '/')
	if i == -1 || (!strings.ContainsAny(image[:i], ".:") && image[:i] != "localhost" && strings.ToLower(image[:i]) == image[:i]) {
		domain, remainder = "ghcr.io", image
	} else {
		domain, remainder = image[:i], image[i+1:]
	}
	if domain == "ghcr.io" && !strings.ContainsRune(remainder, '/') {
		remainder = "inspektor-gadget/gadget/" + remainder
	}
	name, err := reference.ParseNormalizedNamed(domain + "/" + remainder)
	if err != nil {
		return "", err
	}
	return reference.TagNameOnly(name).String(), nil
}

func checkAgainstIG(t *testing.T, in string) {
	t.Helper()
	want, wantErr := igNormalize(in)
	got, err := ExpandRef(in)
	if (err != nil) != (wantErr != nil) || got != want {
		t.Fatalf("ExpandRef(%q) = %q, %v; ig gives %q, %v", in, got, err, want, wantErr)
	}
	if err != nil && !errors.Is(err, ErrBadRef) {
		t.Fatalf("ExpandRef(%q): %v does not wrap ErrBadRef", in, err)
	}
}

var refSeeds = []string{
	"trace_exec", "trace_exec:v1", "foo/bar", "ghcr.io/foo", "localhost:5000/x", "Registry/gadget",
	"docker.io/foo", "index.docker.io/foo", "a_b.c/x", "trace_exec@sha256:" + hex64,
	"x:y@sha512:" + hex64 + hex64, "[::1]/x", "[fe80::1%eth0]/x", "Foo", "foo/Bar", "foo:Bar",
	"localhost", "localhost/", "foo..bar", "foo--bar", "foo.-bar", "ghcr.io:443/a/b", "a/b/c/d/e",
	strings.Repeat("a", 255), "ghcr.io/" + strings.Repeat("a", 250), "UPPER.example.com/x",
	"example.com:port/x", "trace_exec@sha256:" + hex64 + "00", "trace_exec@SHA256:" + hex64,
}

func TestExpandRefMatchesIG(t *testing.T) {
	for _, in := range refSeeds {
		t.Run(in, func(t *testing.T) { checkAgainstIG(t, in) })
	}
}

func FuzzExpandRef(f *testing.F) {
	for _, s := range refSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkAgainstIG(t, in)
	})
}

func BenchmarkExpandRef(b *testing.B) {
	in := "trace_exec:v0.40.0"
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ExpandRef(in); err != nil {
			b.Fatal(err)
		}
	}
}
