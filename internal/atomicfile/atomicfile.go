package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// TempPrefix returns the prefix of the names of the temp files that Write creates for the file
// named base: ".<base>.tmp-". Write's temp files are ".<base>.tmp-<random>" in the same
// directory as the file.
func TempPrefix(base string) string {
	return "." + base + ".tmp-"
}

// Write replaces the file at path with what r yields, so that a reader of path sees either the
// old content or the new one, never a part, and the new content survives a crash once Write has
// returned nil. It writes a temp file ".<base>.tmp-<random>" in path's directory with mode perm,
// fsyncs it, renames it over path and fsyncs the directory. On any failure the temp file is
// removed and path is left as it was. Write does not lock anything: callers that race on one
// path decide the winner themselves (the last rename wins).
func Write(path string, r io.Reader, perm fs.FileMode) error {
	return write(path, r, perm, true)
}

// WriteNew is Write for a file that must not exist yet: when path exists it is left untouched
// and WriteNew returns an error wrapping fs.ErrExist. Of several concurrent WriteNew calls on one
// path exactly one succeeds.
func WriteNew(path string, r io.Reader, perm fs.FileMode) error {
	return write(path, r, perm, false)
}

func write(path string, r io.Reader, perm fs.FileMode, replace bool) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, TempPrefix(base)+"*")
	if err != nil {
		return fmt.Errorf("atomicfile %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			// After a rename the temp name is gone and this is a no-op.
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("atomicfile %s: %w", path, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		return fmt.Errorf("atomicfile %s: writing: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("atomicfile %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("atomicfile %s: %w", path, err)
	}
	if err := Publish(tmp, path, replace); err != nil {
		return fmt.Errorf("atomicfile %s: %w", path, err)
	}
	return nil
}

// WriteFile is Write for content held in memory.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return Write(path, bytes.NewReader(data), perm)
}

// SyncDir fsyncs the directory dir, which makes the creation, removal or renaming of its
// entries durable.
func SyncDir(dir string) (err error) {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := d.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// Publish moves the temp file tmp, already written and fsynced by the caller, to path and
// fsyncs path's directory. tmp must be on the same file system as path (a rename).
//
// With replace false an existing path is never touched: Publish returns an error wrapping
// fs.ErrExist and leaves tmp in place for the caller to remove. This is how content-addressed
// files are published: the first writer wins and the file is never rewritten.
func Publish(tmp, path string, replace bool) error {
	if replace {
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
		return SyncDir(filepath.Dir(path))
	}
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, path, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
	case errors.Is(err, unix.EEXIST):
		return &os.LinkError{Op: "publish", Old: tmp, New: path, Err: fs.ErrExist}
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.ENOTSUP):
		// The file system has no RENAME_NOREPLACE: a hard link fails the same way on an
		// existing name, then the temp name goes.
		if err := os.Link(tmp, path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return &os.LinkError{Op: "publish", Old: tmp, New: path, Err: fs.ErrExist}
			}
			return err
		}
		if err := os.Remove(tmp); err != nil {
			return err
		}
	default:
		return &os.LinkError{Op: "publish", Old: tmp, New: path, Err: err}
	}
	return SyncDir(filepath.Dir(path))
}
