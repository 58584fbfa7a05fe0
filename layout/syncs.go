package layout

import (
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// syncCounts counts the calls that make blobs durable, by kind.
type syncCounts struct {
	files atomic.Int64 // syncFile: one file or folder
	fs    atomic.Int64 // syncFS: a whole file system
}

// syncCalls, when a test sets it, counts the calls of syncFile and syncFS: to check that
// writing many blobs costs a bounded number of them, not one per blob, and that writing a few
// does not wait for a whole file system.
var syncCalls *syncCounts

// syncFile fsyncs f (a blob file, or a folder after renames into it).
func syncFile(f *os.File) error {
	if syncCalls != nil {
		syncCalls.files.Add(1)
	}
	return f.Sync()
}

// syncFS flushes the whole file system that holds f to disk (syncfs(2)): one call for every
// file written there. It returns unix.ENOSYS where the kernel lacks it.
func syncFS(f *os.File) error {
	if syncCalls != nil {
		syncCalls.fs.Add(1)
	}
	return unix.Syncfs(int(f.Fd()))
}
