package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// The files of a layout (oci-layout, index.json, its lock, blobs, staged files) are opened
// only once they are known to be regular files, and never so that the open can block: a FIFO
// put where index.json belongs would otherwise hang the reader until some writer opens it,
// and a device could do anything on open. Each is lstat'ed first (no symlink followed), opened
// with O_NOFOLLOW|O_NONBLOCK, and the open file is fstat'ed and compared with what lstat saw.

// kindOf names the type of a file mode for messages: "FIFO", "socket", "symlink"...
func kindOf(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "special file"
}

// notRegular returns the error for name, a file of mode m where a regular file belongs:
// "index.json is a FIFO: not a regular file".
func notRegular(name string, m fs.FileMode) error {
	return fmt.Errorf("%s is a %s: %w", name, kindOf(m), ErrNotRegular)
}

// openRegular opens the regular file at path read-only, without following a symlink and
// without blocking: it lstats path, opens it with O_NOFOLLOW|O_NONBLOCK and checks that the
// open file is the one it looked at. It returns fs.ErrNotExist (wrapped) when path is absent
// and ErrNotRegular, naming the file as name and what it is, for anything but a regular file.
func openRegular(path, name string) (*os.File, fs.FileInfo, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, notRegular(name, fi.Mode())
	}
	f, err := openNoFollow(path, fi)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, fi, nil
}

// openNoFollow opens path read-only without following a symlink and without blocking, and
// checks that the open file is a regular file and the one lstat'ed as want (ErrNotRegular
// otherwise).
func openNoFollow(path string, want fs.FileInfo) (*os.File, error) {
	return openNoFollowID(path, fileIDOf(want))
}

// fileID is what identifies a file on its file system: what os.SameFile compares, in 16 bytes
// (a verify of many blobs keeps one per blob, not a whole fs.FileInfo).
type fileID struct{ dev, ino uint64 }

// fileIDOf returns fi's fileID; the zero fileID when fi has no stat_t (never on Linux).
func fileIDOf(fi fs.FileInfo) fileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino} //nolint:unconvert // Dev is not uint64 on every platform
}

// openNoFollowID is openNoFollow against the fileID of the file lstat'ed.
func openNoFollowID(path string, want fileID) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, fmt.Errorf("symlink: %w", ErrNotRegular)
		}
		return nil, err
	}
	got, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	if !got.Mode().IsRegular() || want == (fileID{}) || fileIDOf(got) != want {
		_ = f.Close()
		return nil, fmt.Errorf("replaced while opening: %w", ErrNotRegular)
	}
	return f, nil
}
