package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The *At functions work relative to a folder held open (dir, opened with O_DIRECTORY) and a
// single name in it, never a path: what they create, rename or remove is in the folder dir is,
// even when the path that led to it is swapped for a symlink meanwhile, and the name itself is
// never followed when it is a symlink. A caller that opened dir without following symlinks
// below some root (O_NOFOLLOW at each step) thus confines its writes to that root.

// OpenDir opens the folder at path for the *At functions, following symlinks in path.
func OpenDir(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// OpenDirAt opens the folder name in dir without following a symlink: a symlink, or anything
// that is not a folder, fails with an error wrapping unix.ENOTDIR (Linux says ENOTDIR for a
// symlink opened with O_DIRECTORY|O_NOFOLLOW).
func OpenDirAt(dir *os.File, name string) (*os.File, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: filepath.Join(dir.Name(), name), Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(dir.Name(), name)), nil
}

// MkdirAt creates the folder name in dir with mode 0755 and fsyncs dir. It returns an error
// wrapping fs.ErrExist when name exists (of any type).
func MkdirAt(dir *os.File, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := unix.Mkdirat(int(dir.Fd()), name, 0o755); err != nil {
		return &os.PathError{Op: "mkdir", Path: filepath.Join(dir.Name(), name), Err: err}
	}
	return dir.Sync()
}

// OpenFileAt opens the file name in dir with flags (plus O_NOFOLLOW and O_CLOEXEC) and perm;
// the file's Name is dir's name joined with name.
func OpenFileAt(dir *os.File, name string, flags int, perm uint32) (*os.File, error) {
	fd, err := openFDAt(dir, name, flags, perm)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), filepath.Join(dir.Name(), name)), nil
}

// CreateFDAt creates the new file name in dir for writing with perm (under the umask), never
// following a symlink, and returns its raw descriptor (O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|
// O_CLOEXEC), which the caller closes: for a caller that writes many small files and wants no
// *os.File for each. An existing name fails with an error wrapping fs.ErrExist. It does not
// retry on EINTR (the error wraps it).
func CreateFDAt(dir *os.File, name string, perm uint32) (int, error) {
	return openFDAt(dir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, perm)
}

// openFDAt is openat of name in dir with flags plus O_NOFOLLOW and O_CLOEXEC: a raw descriptor,
// or an *os.PathError naming the path.
func openFDAt(dir *os.File, name string, flags int, perm uint32) (int, error) {
	if err := checkName(name); err != nil {
		return -1, err
	}
	fd, err := unix.Openat(int(dir.Fd()), name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: filepath.Join(dir.Name(), name), Err: err}
	}
	return fd, nil
}

// LstatAt returns the FileInfo of name in dir, not following a symlink.
func LstatAt(dir *os.File, name string) (fs.FileInfo, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, &os.PathError{Op: "lstat", Path: filepath.Join(dir.Name(), name), Err: err}
	}
	return statInfo{name: name, st: st}, nil
}

// SameFileAt reports whether name in dir is the open file f (never following a symlink).
func SameFileAt(f, dir *os.File, name string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := LstatAt(dir, name)
	if err != nil {
		return false
	}
	sa, ok := a.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	sb := b.(statInfo).st
	return uint64(sa.Dev) == uint64(sb.Dev) && uint64(sa.Ino) == uint64(sb.Ino)
}

// UnlinkAt removes the file (not a folder) name from dir.
func UnlinkAt(dir *os.File, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := unix.Unlinkat(int(dir.Fd()), name, 0); err != nil {
		return &os.PathError{Op: "remove", Path: filepath.Join(dir.Name(), name), Err: err}
	}
	return nil
}

// RemoveAllAt removes name from dir and, when it is a folder, everything below it, never
// following a symlink (a symlink is removed, not what it points at). A missing name is no
// error.
func RemoveAllAt(dir *os.File, name string) error {
	err := UnlinkAt(dir, name)
	switch {
	case err == nil, errors.Is(err, fs.ErrNotExist):
		return nil
	case !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM):
		return err
	}
	sub, err := OpenDirAt(dir, name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	names, err := sub.Readdirnames(-1)
	if err == nil {
		for _, n := range names {
			if err = RemoveAllAt(sub, n); err != nil {
				break
			}
		}
	}
	if cerr := sub.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := unix.Unlinkat(int(dir.Fd()), name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "remove", Path: filepath.Join(dir.Name(), name), Err: err}
	}
	return nil
}

// CreateLockedAt is CreateLocked in the folder dir: it creates a new file in dir named after
// pattern (the last "*" replaced by a random string) and returns it with its writer's flock
// held, and its name in dir.
func CreateLockedAt(dir *os.File, pattern string) (*os.File, string, error) {
	return createLockedAt(dir, pattern, func(name string) (*os.File, error) {
		return OpenFileAt(dir, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, 0o600)
	})
}

// MkdirLockedAt is MkdirLocked in the folder dir: it creates a new folder in dir named after
// pattern and returns it open, with its writer's flock held, and its name in dir.
func MkdirLockedAt(dir *os.File, pattern string) (*os.File, string, error) {
	return createLockedAt(dir, pattern, func(name string) (*os.File, error) {
		if err := unix.Mkdirat(int(dir.Fd()), name, 0o700); err != nil {
			return nil, &os.PathError{Op: "mkdir", Path: filepath.Join(dir.Name(), name), Err: err}
		}
		f, err := OpenDirAt(dir, name)
		if err != nil {
			_ = unix.Unlinkat(int(dir.Fd()), name, unix.AT_REMOVEDIR)
			return nil, err
		}
		return f, nil
	})
}

// createLockedAt creates a new name after pattern in dir with create and takes the flock,
// again under a new name when the name exists or a cleaner removed the first between the two
// steps.
func createLockedAt(dir *os.File, pattern string, create func(name string) (*os.File, error)) (*os.File, string, error) {
	prefix, suffix, ok := strings.Cut(pattern, "*")
	if !ok {
		suffix = ""
	}
	if strings.ContainsRune(pattern, '/') || strings.Contains(suffix, "*") {
		return nil, "", fmt.Errorf("temp pattern %q: want one name with at most one *", pattern)
	}
	for range 10000 {
		name := prefix + strconv.FormatUint(uint64(rand.Uint32()), 10) + suffix
		f, err := create(name)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		if err := Flock(f, unix.LOCK_EX); err != nil {
			_ = f.Close()
			_ = RemoveAllAt(dir, name)
			return nil, "", err
		}
		if SameFileAt(f, dir, name) {
			return f, name, nil
		}
		// A cleaner removed it between create and flock: take another name.
		_ = f.Close()
	}
	return nil, "", fmt.Errorf("temp files in %s: no free name after %q", dir.Name(), pattern)
}

// PublishAt is Publish between held folders: it renames oldName in oldDir to newName in
// newDir and fsyncs newDir. With replace false an existing newName is never touched: PublishAt
// returns an error wrapping fs.ErrExist and leaves oldName in place for the caller to remove.
func PublishAt(oldDir *os.File, oldName string, newDir *os.File, newName string, replace bool) error {
	if err := MoveAt(oldDir, oldName, newDir, newName, replace); err != nil {
		return err
	}
	return newDir.Sync()
}

// MoveAt is PublishAt without the fsync of newDir: for a caller that moves many files into one
// folder and fsyncs it once, after making their data durable itself (syncfs), before anything
// refers to them.
func MoveAt(oldDir *os.File, oldName string, newDir *os.File, newName string, replace bool) error {
	if err := checkName(oldName); err != nil {
		return err
	}
	if err := checkName(newName); err != nil {
		return err
	}
	odfd, ndfd := int(oldDir.Fd()), int(newDir.Fd())
	linkErr := func(err error) error {
		return &os.LinkError{Op: "publish", Old: filepath.Join(oldDir.Name(), oldName), New: filepath.Join(newDir.Name(), newName), Err: err}
	}
	if replace {
		if err := unix.Renameat(odfd, oldName, ndfd, newName); err != nil {
			return linkErr(err)
		}
		return nil
	}
	err := unix.Renameat2(odfd, oldName, ndfd, newName, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
	case errors.Is(err, unix.EEXIST):
		return linkErr(fs.ErrExist)
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.ENOTSUP):
		// The file system has no RENAME_NOREPLACE: a hard link fails the same way on an
		// existing name, then the temp name goes.
		if err := unix.Linkat(odfd, oldName, ndfd, newName, 0); err != nil {
			if errors.Is(err, unix.EEXIST) {
				return linkErr(fs.ErrExist)
			}
			return linkErr(err)
		}
		if err := unix.Unlinkat(odfd, oldName, 0); err != nil {
			return linkErr(err)
		}
	default:
		return linkErr(err)
	}
	return nil
}

// RemoveIfDeadAt is RemoveIfDead for name in the folder dir.
func RemoveIfDeadAt(dir *os.File, name string, remove bool) (bool, error) {
	f, err := OpenFileAt(dir, name, unix.O_RDONLY|unix.O_NONBLOCK, 0)
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
		return false, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	if !SameFileAt(f, dir, name) {
		return false, nil
	}
	if remove {
		if err := RemoveAllAt(dir, name); err != nil {
			return false, err
		}
	}
	return true, nil
}

// checkName refuses a name that is not one entry of a folder.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return fmt.Errorf("%q is not a file name in a folder: %w", name, fs.ErrInvalid)
	}
	return nil
}

// statInfo is an fs.FileInfo of an fstatat result.
type statInfo struct {
	name string
	st   unix.Stat_t
}

func (s statInfo) Name() string { return s.name }
func (s statInfo) Size() int64  { return s.st.Size }
func (s statInfo) Mode() fs.FileMode {
	m := fs.FileMode(s.st.Mode & 0o777)
	switch s.st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	}
	return m
}
func (s statInfo) ModTime() time.Time { return time.Unix(s.st.Mtim.Unix()) }
func (s statInfo) IsDir() bool        { return s.Mode().IsDir() }
func (s statInfo) Sys() any           { return &s.st }
