package spec

import (
	"errors"
	"slices"
	"testing"
)

func TestNormalizeArch(t *testing.T) {
	for _, tc := range []struct {
		in, want, uname, btfhub string
	}{
		{"amd64", "amd64", "x86_64", "x86_64"},
		{"x86_64", "amd64", "x86_64", "x86_64"},
		{"arm64", "arm64", "aarch64", "arm64"},
		{"aarch64", "arm64", "aarch64", "arm64"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := NormalizeArch(tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("NormalizeArch(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			if u := UnameMachine(tc.in); u != tc.uname {
				t.Errorf("UnameMachine(%q) = %q, want %q", tc.in, u, tc.uname)
			}
			if b := BTFHubArch(tc.in); b != tc.btfhub {
				t.Errorf("BTFHubArch(%q) = %q, want %q", tc.in, b, tc.btfhub)
			}
		})
	}
}

func TestNormalizeArchUnknown(t *testing.T) {
	for _, in := range []string{"", "AMD64", "x86", "386", "riscv64", "arm", "arm64 ", "wasm"} {
		t.Run(in, func(t *testing.T) {
			got, err := NormalizeArch(in)
			if !errors.Is(err, ErrUnknownArch) || got != "" {
				t.Fatalf("NormalizeArch(%q) = %q, %v; want ErrUnknownArch", in, got, err)
			}
			if UnameMachine(in) != "" || BTFHubArch(in) != "" || btfgenArchDirs(in) != nil {
				t.Errorf("%q: helpers should return nothing for an unknown arch", in)
			}
		})
	}
}

func TestArches(t *testing.T) {
	if got := Arches(); !slices.Equal(got, []string{"amd64", "arm64"}) {
		t.Fatalf("Arches() = %v", got)
	}
	for _, a := range Arches() {
		if n, err := NormalizeArch(a); err != nil || n != a {
			t.Errorf("Arches() entry %q is not normalized: %q, %v", a, n, err)
		}
	}
}
