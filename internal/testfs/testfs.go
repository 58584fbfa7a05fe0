package testfs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// repoRoot is the repository's root, found from this file's own path.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// SharedPath returns the path of parts in ../shared beside the repository (real artifacts
// written by ig, see shared/interop/README.md). When it is absent SharedPath skips the test,
// or fails it when the environment variable CI is set.
func SharedPath(tb testing.TB, parts ...string) string {
	tb.Helper()
	p := filepath.Join(append([]string{repoRoot(), "..", "shared"}, parts...)...)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("shared fixture %s: %v", p, err)
		}
		tb.Skipf("shared fixture %s: %v", p, err)
	}
	return p
}

// CopyTree copies the directories and regular files under src to dst, files writable (0644),
// so that tests can change a copy of read-only fixtures.
func CopyTree(tb testing.TB, src, dst string) {
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

// DirNames lists the names in dir, sorted, hidden ones included; it fails the test when dir
// cannot be read.
func DirNames(tb testing.TB, dir string) []string {
	tb.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TreeDigest hashes every path under dir with its mode and, for a regular file, its content
// (sorted), so a test can tell whether a command changed anything on disk or whether two trees
// hold the same files. A missing dir hashes to "absent".
func TreeDigest(tb testing.TB, dir string) string {
	tb.Helper()
	return treeDigest(tb, dir, false)
}

// TreeStamp is TreeDigest with the mtime of every regular file too: a file rewritten with the
// same bytes changes it.
func TreeStamp(tb testing.TB, dir string) string {
	tb.Helper()
	return treeDigest(tb, dir, true)
}

func treeDigest(tb testing.TB, dir string, mtimes bool) string {
	tb.Helper()
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
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
			if mtimes {
				line += " " + info.ModTime().UTC().String()
			}
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
