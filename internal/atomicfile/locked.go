package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Temp files whose writer may die: a writer holds an exclusive flock on its temp file (or
// folder) from creation until it has renamed it into place or removed it. The kernel drops
// flocks with the process, so a cleaner that takes that flock without waiting knows the writer
// is dead, and removes the temp while still holding it (RemoveIfDead). A writer, after taking
// its flock, checks that its path still names its file (CreateLocked), so a cleaner that won
// the race between create and flock cannot make it write into a removed file.

// Flock takes a blocking flock(2) of kind how (unix.LOCK_EX, unix.LOCK_SH) on f, retrying on
// EINTR. The error names f.
func Flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			if err != nil {
				return fmt.Errorf("lock %s: %w", f.Name(), err)
			}
			return nil
		}
	}
}

// SameFile reports whether path names the open file f (never following a symlink).
func SameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(path)
	return err == nil && os.SameFile(a, b)
}

// CreateLocked creates a temp file in dir as os.CreateTemp does with pattern, and returns it
// with its writer's exclusive flock held. The caller renames the file into place, or removes
// it, before closing it.
func CreateLocked(dir, pattern string) (*os.File, error) {
	return inDir(dir, func(d *os.File) (*os.File, error) {
		f, _, err := CreateLockedAt(d, pattern)
		return f, err
	})
}

// MkdirLocked creates a temp folder in dir as os.MkdirTemp does with pattern, and returns it
// open with its writer's exclusive flock held; f.Name() is its path. The caller removes the
// folder, or renames it away, before closing it.
func MkdirLocked(dir, pattern string) (*os.File, error) {
	return inDir(dir, func(d *os.File) (*os.File, error) {
		f, _, err := MkdirLockedAt(d, pattern)
		return f, err
	})
}

// inDir runs f on the folder at path, held open.
func inDir(path string, f func(d *os.File) (*os.File, error)) (*os.File, error) {
	d, err := OpenDir(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = d.Close() }()
	return f(d)
}

// RemoveIfDead reports whether the temp file or folder at path belongs to a dead writer: its
// flock can be taken without waiting. With remove set it removes it (a folder with what it
// holds) while holding the flock. A path that vanished meanwhile, a symlink and anything that
// is not a regular file or a folder are reported as not dead. See RemoveIfDeadAt.
func RemoveIfDead(path string, remove bool) (bool, error) {
	d, err := OpenDir(filepath.Dir(path))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	defer func() { _ = d.Close() }()
	return RemoveIfDeadAt(d, filepath.Base(path), remove)
}
