package spec

import (
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Arches returns the architectures a gadget can be built for, in the order their manifests
// appear in a gadget index: amd64, then arm64.
func Arches() []string {
	return []string{"amd64", "arm64"}
}

// gadgetPlatform reports whether p is a platform a gadget manifest may have: linux/amd64 or
// linux/arm64.
func gadgetPlatform(p *ocispec.Platform) bool {
	return p != nil && p.OS == "linux" && archRank(p.Architecture) >= 0
}

// archRank is arch's place in a gadget index (amd64 first), or -1 for another architecture.
func archRank(arch string) int {
	switch arch {
	case "amd64":
		return 0
	case "arm64":
		return 1
	}
	return -1
}

// NormalizeArch returns the OCI (Go) name of an architecture: amd64 for amd64 or x86_64,
// arm64 for arm64 or aarch64. Names are case-sensitive, as in OCI platforms and uname -m.
// Returns ErrUnknownArch for anything else.
func NormalizeArch(s string) (string, error) {
	switch s {
	case "amd64", "x86_64":
		return "amd64", nil
	case "arm64", "aarch64":
		return "arm64", nil
	}
	return "", fmt.Errorf("architecture %q: want amd64 (x86_64) or arm64 (aarch64): %w", s, ErrUnknownArch)
}

// UnameMachine returns what uname -m prints on arch (any name NormalizeArch accepts): x86_64
// or aarch64. That is the folder ig looks up in a btfgen tarball. It returns "" for an unknown
// architecture.
func UnameMachine(arch string) string {
	switch a, _ := NormalizeArch(arch); a {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return ""
}

// BTFHubArch returns the folder btfhub-archive uses for arch (any name NormalizeArch accepts):
// x86_64 or arm64. It returns "" for an unknown architecture.
func BTFHubArch(arch string) string {
	switch a, _ := NormalizeArch(arch); a {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "arm64"
	}
	return ""
}

// btfgenArchDirs returns the folder names a btfgen entry of arch may use: x86_64 for amd64,
// aarch64 (uname -m, what ig looks up) or arm64 (btfhub-archive's name) for arm64.
func btfgenArchDirs(arch string) []string {
	switch a, _ := NormalizeArch(arch); a {
	case "amd64":
		return []string{"x86_64"}
	case "arm64":
		return []string{"aarch64", "arm64"}
	}
	return nil
}
