package layout

import (
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// syncCalls, when a test sets it, counts the calls that make blobs durable (syncFile,
// syncFS): to check that writing many blobs costs a bounded number of them, not one per blob.
var syncCalls *atomic.Int64

// syncFile fsyncs f (a blob file, or a folder after renames into it).
func syncFile(f *os.File) error {
	if syncCalls != nil {
		syncCalls.Add(1)
	}
	return f.Sync()
}

// syncFS flushes the whole file system that holds f to disk (syncfs(2)): one call for every
// file written there. It returns unix.ENOSYS where the kernel lacks it.
func syncFS(f *os.File) error {
	if syncCalls != nil {
		syncCalls.Add(1)
	}
	return unix.Syncfs(int(f.Fd()))
}
