package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

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
	return createLocked(dir, func() (*os.File, error) { return os.CreateTemp(dir, pattern) })
}

// MkdirLocked creates a temp folder in dir as os.MkdirTemp does with pattern, and returns it
// open with its writer's exclusive flock held; f.Name() is its path. The caller removes the
// folder, or renames it away, before closing it.
func MkdirLocked(dir, pattern string) (*os.File, error) {
	return createLocked(dir, func() (*os.File, error) {
		path, err := os.MkdirTemp(dir, pattern)
		if err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			_ = os.Remove(path)
			return nil, err
		}
		return f, nil
	})
}

// createLocked creates with create and takes the flock, again under a new name when a cleaner
// removed the first between the two steps.
func createLocked(dir string, create func() (*os.File, error)) (*os.File, error) {
	for range 8 {
		f, err := create()
		if err != nil {
			return nil, err
		}
		if err := Flock(f, unix.LOCK_EX); err != nil {
			_ = f.Close()
			_ = os.RemoveAll(f.Name())
			return nil, err
		}
		if SameFile(f, f.Name()) {
			return f, nil
		}
		// A cleaner removed it between create and flock: take another name.
		_ = f.Close()
	}
	return nil, fmt.Errorf("temp files in %s keep disappearing", dir)
}

// RemoveIfDead reports whether the temp file or folder at path belongs to a dead writer: its
// flock can be taken without waiting. With remove set it removes it (a folder with what it
// holds) while holding the flock. A path that vanished meanwhile, a symlink and anything that
// is not a regular file or a folder are reported as not dead.
func RemoveIfDead(path string, remove bool) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ELOOP) {
			return false, nil
		}
		return false, err
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() && !fi.IsDir() {
		return false, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) || errors.Is(err, unix.EINTR) {
			return false, nil // a live writer
		}
		return false, fmt.Errorf("lock %s: %w", path, err)
	}
	if !SameFile(f, path) {
		return false, nil
	}
	if remove {
		if err := os.RemoveAll(path); err != nil {
			return false, err
		}
	}
	return true, nil
}
