// Package testtool helps tests that need an external tool (bpftool, skopeo, umoci, clang-19,
// wat2wasm...): they skip on a laptop that lacks it and fail in CI, where it must be installed.
package testtool

import (
	"os"
	"os/exec"
	"testing"
)

// Require returns the path of the executable name found in PATH. When it is absent, Require
// skips the test, or fails it when the environment variable CI is set.
func Require(tb testing.TB, name string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("%s is required in CI: %v", name, err)
	}
	tb.Skipf("%s not installed: %v", name, err)
	return ""
}
