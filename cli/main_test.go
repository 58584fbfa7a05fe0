package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gadgetpack/gadgetpack/layout"
)

// asMainEnv makes the test binary behave as the gadgetpack binary: the crash and
// many-process tests start it as a child process.
const asMainEnv = "GADGETPACK_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		os.Exit(Run(context.Background(), append([]string{"gadgetpack"}, os.Args[1:]...)))
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

// sharedPath returns a path in ../shared beside the repository, skipping the test (failing in
// CI) when it is absent.
func sharedPath(tb testing.TB, parts ...string) string {
	tb.Helper()
	p := filepath.Join(append([]string{"..", "..", "shared"}, parts...)...)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("shared fixture %s: %v", p, err)
		}
		tb.Skipf("shared fixture %s: %v", p, err)
	}
	return p
}

// treeDigest hashes every path, mode and content under dir (sorted), so a test can tell
// whether a command changed anything on disk. A missing dir hashes to "absent".
func treeDigest(tb testing.TB, dir string) string {
	tb.Helper()
	if _, err := os.Lstat(dir); os.IsNotExist(err) {
		return "absent"
	}
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		line := rel + " " + info.Mode().String()
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			line += " " + hex.EncodeToString(sum[:])
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	sort.Strings(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:])
}

// copyTree copies a directory of regular files, so tests can work on shared fixtures.
func copyTree(tb testing.TB, src, dst string) {
	tb.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		tb.Fatal(err)
	}
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
