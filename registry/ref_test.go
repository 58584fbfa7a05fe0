package registry

import (
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

const hexA = "2f096beb75baadce98f52500552f1d7eabf19f4c35007869350d6f496084e992"

func TestMapRef(t *testing.T) {
	for _, tc := range []struct {
		name, prefix, want string
	}{
		{"ghcr.io/inspektor-gadget/gadget/trace_exec:latest", "registry.local:5000/mirror", "registry.local:5000/mirror/inspektor-gadget/gadget/trace_exec:latest"},
		{"ttl.sh/x:latest", "registry.local:5000/mirror", "registry.local:5000/mirror/x:latest"},
		{"ttl.sh/x:latest", "registry.local:5000", "registry.local:5000/x:latest"},
		{"ttl.sh/x:latest", "registry.local:5000/", "registry.local:5000/x:latest"},
		{"ttl.sh/x:latest", "localhost/a/b", "localhost/a/b/x:latest"},
		{"localhost:5000/x/y:v1", "10.0.0.1:5000/m", "10.0.0.1:5000/m/x/y:v1"},
		{"localhost/x:v1", "10.0.0.1:5000/m", "10.0.0.1:5000/m/x:v1"},
		{"library/x:v1", "r.example/m", "r.example/m/library/x:v1"},
		{"x:v1", "r.example/m", "r.example/m/x:v1"},
		{"ttl.sh/signed_with_cosign_legacy:sha256-" + hexA + ".sig", "r.example/m", "r.example/m/signed_with_cosign_legacy:sha256-" + hexA + ".sig"},
		{"ghcr.io/a/b@sha256:" + hexA, "r.example/m", "r.example/m/a/b@sha256:" + hexA},
	} {
		t.Run(tc.name+" under "+tc.prefix, func(t *testing.T) {
			got, err := MapRef(tc.name, tc.prefix)
			if err != nil || got != tc.want {
				t.Fatalf("MapRef = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name, prefix, says string
	}{
		{"latest", "r.example/m", "bare tag"},
		{"sha256-" + hexA + ".sig", "r.example/m", "bare tag"},
		{"ttl.sh/x", "r.example/m", "no tag or digest"},
		{"ttl.sh/X:latest", "r.example/m", "invalid repository"},
		{"ttl.sh/x:latest", "mirror", "no registry host"},
		{"ttl.sh/x:latest", "", "no registry host"},
		{"ttl.sh/x:latest", "r.example/UPPER", "invalid repository"},
	} {
		t.Run("refuses "+tc.name+" under "+tc.prefix, func(t *testing.T) {
			got, err := MapRef(tc.name, tc.prefix)
			if !errors.Is(err, ErrInvalidReference) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("MapRef = %q, %v; want ErrInvalidReference saying %q", got, err, tc.says)
			}
		})
	}
}

func TestDigestTag(t *testing.T) {
	want := digest.Digest("sha256:" + hexA)
	for name, d := range map[string]digest.Digest{
		"sha256-" + hexA:                        want,
		"sha256-" + hexA + ".sig":               want,
		"sha256-" + hexA + ".att":               want,
		"ttl.sh/x:sha256-" + hexA + ".sig":      want,
		"localhost:5000/x:sha256-" + hexA:       want,
		"ttl.sh/x:latest":                       "",
		"sha256-" + hexA[:63]:                   "",
		"sha256-" + strings.ToUpper(hexA):       "",
		"ttl.sh/sha256-" + hexA + "/x:latest":   "",
		"ttl.sh/x@sha256:" + hexA:               "",
		"sha512-" + hexA + hexA:                 "",
		"sha256-" + hexA + ".sig.extra":         "",
		"prefix-sha256-" + hexA:                 "",
		"ttl.sh/x:sha256-" + hexA + ".Sig":      "",
		"ttl.sh/x:sha256-" + hexA + "-whatever": "",
	} {
		if got := digestTag(name); got != d {
			t.Errorf("digestTag(%q) = %q, want %q", name, got, d)
		}
	}
}

func TestParseRemote(t *testing.T) {
	for _, ref := range []string{"r.example:5000/x:v1", "localhost/a/b@sha256:" + hexA, "127.0.0.1:5000/x:sha256-" + hexA + ".sig"} {
		if _, err := parseRemote(ref); err != nil {
			t.Errorf("parseRemote(%q): %v", ref, err)
		}
	}
	for _, ref := range []string{"", "x:v1", "r.example/x", "r.example/X:v1", "r.example/x:bad tag", "r.example/x@sha256:abc"} {
		if _, err := parseRemote(ref); !errors.Is(err, ErrInvalidReference) || !strings.Contains(err.Error(), "ref ") {
			t.Errorf("parseRemote(%q) = %v, want ErrInvalidReference naming it", ref, err)
		}
	}
}

// FuzzMapRef: MapRef never panics; what it returns is a registry ref under the prefix that keeps
// the name's tag or digest; what it refuses wraps ErrInvalidReference. digestTag agrees with it
// on digest-tag signatures.
func FuzzMapRef(f *testing.F) {
	for _, seed := range []string{
		"ghcr.io/inspektor-gadget/gadget/trace_exec:latest", "ttl.sh/x:latest", "latest",
		"sha256-" + hexA + ".sig", "ttl.sh/signed_with_cosign_legacy:sha256-" + hexA + ".sig",
		"ghcr.io/a/b@sha256:" + hexA, "localhost:5000/x", "x:v1", "a/b/c:d:e", "@", ":", "/",
	} {
		f.Add(seed, "registry.local:5000/mirror")
	}
	f.Add("ttl.sh/x:latest", "registry.local:5000")
	f.Fuzz(func(t *testing.T, name, prefix string) {
		got, err := MapRef(name, prefix)
		if err != nil {
			if got != "" || !errors.Is(err, ErrInvalidReference) {
				t.Fatalf("MapRef(%q, %q) = %q, %v", name, prefix, got, err)
			}
			return
		}
		r, err := parseRemote(got)
		if err != nil {
			t.Fatalf("MapRef(%q, %q) = %q, which does not parse: %v", name, prefix, got, err)
		}
		host, _, _ := strings.Cut(strings.TrimSuffix(prefix, "/"), "/")
		if r.Registry != host || !strings.HasPrefix(got, strings.TrimSuffix(prefix, "/")+"/") {
			t.Fatalf("MapRef(%q, %q) = %q, not under the prefix", name, prefix, got)
		}
		if !strings.HasSuffix(name, r.Reference) {
			t.Fatalf("MapRef(%q, %q) = %q lost the tag or digest", name, prefix, got)
		}
		if d := digestTag(name); d != "" && digestTag(got) != d {
			t.Fatalf("digestTag(%q) = %s but digestTag(%q) = %s", name, d, got, digestTag(got))
		}
	})
}
