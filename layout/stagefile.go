package layout

import (
	"io"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/gadgetpack/gadgetpack/internal/atomicfile"
	"golang.org/x/sys/unix"
)

// A staged blob is written through a raw file descriptor, not an *os.File: os.NewFile costs two
// fcntl calls, a poller registration that a regular file refuses (epoll_ctl, EPERM) and a
// finalizer per file, which at 80,000 small blobs is more than their writes. A staged file is
// openat (O_CREAT|O_EXCL, never following a symlink), written, and closed; it is fchmodded to
// blobPerm only when the creation mode did not give it that mode already (a umask or a default
// ACL of the folder that takes bits away), which the first file of a stage tells (fstat).

// stageFile is a staged blob's file being written: its descriptor in the stage folder.
type stageFile struct {
	fd   int
	dir  string // the stage folder's path, for messages
	name string // the file's name in it
}

// path returns the file's path, for messages.
func (f *stageFile) path() string { return filepath.Join(f.dir, f.name) }

// createStaged creates the file name in the stage folder dir for writing, with mode blobPerm
// (under the process's umask). An existing name fails with an error wrapping fs.ErrExist.
func createStaged(dir *os.File, name string) (stageFile, error) {
	var fd int
	err := ignoringEINTR(func() (err error) {
		countStageCall()
		fd, err = atomicfile.CreateFDAt(dir, name, blobPerm)
		return err
	})
	if err != nil {
		return stageFile{fd: -1}, err
	}
	return stageFile{fd: fd, dir: dir.Name(), name: name}, nil
}

// Write writes p whole, as io.Writer asks: a short write goes on from where it stopped.
func (f *stageFile) Write(p []byte) (int, error) {
	var done int
	for done < len(p) {
		var n int
		err := ignoringEINTR(func() (err error) {
			n, err = unix.Write(f.fd, p[done:])
			return err
		})
		if err != nil {
			return done, &os.PathError{Op: "write", Path: f.path(), Err: err}
		}
		if n == 0 {
			return done, &os.PathError{Op: "write", Path: f.path(), Err: io.ErrShortWrite}
		}
		done += n
	}
	return done, nil
}

// hasMode reports whether the file's mode is blobPerm (fstat).
func (f *stageFile) hasMode() (bool, error) {
	var st unix.Stat_t
	if err := ignoringEINTR(func() error { countStageCall(); return unix.Fstat(f.fd, &st) }); err != nil {
		return false, &os.PathError{Op: "stat", Path: f.path(), Err: err}
	}
	return st.Mode&0o7777 == blobPerm, nil
}

// chmod sets the file's mode to blobPerm.
func (f *stageFile) chmod() error {
	if err := ignoringEINTR(func() error { countStageCall(); return unix.Fchmod(f.fd, blobPerm) }); err != nil {
		return &os.PathError{Op: "chmod", Path: f.path(), Err: err}
	}
	return nil
}

// syncAhead starts the kernel writing the file out (sync_file_range), without waiting for it.
func (f *stageFile) syncAhead() {
	countStageCall()
	_ = unix.SyncFileRange(f.fd, 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}

// Close closes the descriptor, once (Linux closes it even when close fails: no retry).
func (f *stageFile) Close() error {
	if f.fd < 0 {
		return nil
	}
	countStageCall()
	err := unix.Close(f.fd)
	f.fd = -1
	if err != nil {
		return &os.PathError{Op: "close", Path: f.path(), Err: err}
	}
	return nil
}

// stageModeState says whether the files of a stage get blobPerm from their creation mode.
const (
	stageModeUnknown int32 = iota // no file told yet
	stageModeExact                // created with blobPerm: no fchmod
	stageModeChmod                // created with fewer bits: each file is fchmodded
)

// stageCalls, when a test sets it, counts the system calls the stage makes on its staged files
// while writing them, besides the writes (open, fstat, fchmod, sync_file_range, close).
var stageCalls *atomic.Int64

// countStageCall counts one system call on a staged file (stageCalls).
func countStageCall() {
	if stageCalls != nil {
		stageCalls.Add(1)
	}
}

// stageModeOf returns *state, deciding it from f when no file decided it yet.
func stageModeOf(state *atomic.Int32, f *stageFile) (int32, error) {
	if m := state.Load(); m != stageModeUnknown {
		return m, nil
	}
	exact, err := f.hasMode()
	if err != nil {
		return stageModeUnknown, err
	}
	m := stageModeChmod
	if exact {
		m = stageModeExact
	}
	state.CompareAndSwap(stageModeUnknown, m)
	return m, nil
}
