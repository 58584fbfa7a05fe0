package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gadgetpack/gadgetpack/internal/testfs"
	"github.com/gadgetpack/gadgetpack/layout"
)

// asMainEnv makes the test binary behave as the gadgetpack binary: the crash and
// many-process tests start it as a child process.
const asMainEnv = "GADGETPACK_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		code := Run(context.Background(), append([]string{"gadgetpack"}, os.Args[1:]...))
		writePeakRSS(os.Getenv(peakRSSEnv))
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// gadgetpackCmd returns a command that runs gadgetpack (this test binary) as a child.
func gadgetpackCmd(tb testing.TB, args ...string) *exec.Cmd {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), asMainEnv+"=1")
	return cmd
}

// Tree helpers shared with other packages' tests.
var (
	sharedPath = testfs.SharedPath
	treeDigest = testfs.TreeDigest
	copyTree   = testfs.CopyTree
	dirNamesOf = testfs.DirNames
)

// result is one in-process run of the command line.
type result struct {
	code           int
	stdout, stderr string
}

// gp runs gadgetpack in process with args (without the program name).
func gp(tb testing.TB, args ...string) result {
	tb.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"gadgetpack"}, args...), strings.NewReader(""), &out, &errb)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// mustGP runs gadgetpack in process and fails the test unless it exits 0.
func mustGP(tb testing.TB, args ...string) result {
	tb.Helper()
	r := gp(tb, args...)
	if r.code != 0 {
		tb.Fatalf("gadgetpack %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// repoPath returns a path relative to the repository root.
func repoPath(parts ...string) string {
	return filepath.Join(append([]string{".."}, parts...)...)
}

// verifyJSON runs verify --json and decodes the report.
func verifyJSON(tb testing.TB, args ...string) (layout.Report, result) {
	tb.Helper()
	r := gp(tb, append([]string{"verify", "--json"}, args...)...)
	var rep layout.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		tb.Fatalf("verify --json %v: exit %d, not JSON: %v\nstdout:\n%s\nstderr:\n%s", args, r.code, err, r.stdout, r.stderr)
	}
	return rep, r
}

// buildDemo builds both testdata gadgets into a new layout and returns its path.
func buildDemo(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "bundle")
	mustGP(tb, "build", "--layout", dir, "--tag", "trace_exec", repoPath("testdata", "gadgets", "trace_exec"))
	mustGP(tb, "build", "--layout", dir, "--tag", "trace_params", repoPath("testdata", "gadgets", "trace_params"))
	return dir
}
