package layout

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// LockFile is the name of the lock file in a layout's root: `ig` and gadgetpack take flock(2) on
// it (exclusive to change index.json, shared to read it), as Inspektor Gadget's local store does
// through github.com/gofrs/flock.
const LockFile = "index.json.lock"

// Polling bounds of lockFile while another process holds the lock.
const (
	lockPollMin = time.Millisecond
	lockPollMax = 20 * time.Millisecond
)

// fileLock is a held flock(2) on an open file.
type fileLock struct {
	f *os.File
}

// unlock releases the lock and closes the file.
func (l *fileLock) unlock() error {
	err := unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// flockCtx takes flock(how) on f, polling LOCK_NB with short sleeps so that ctx can cancel the
// wait. how is unix.LOCK_EX or unix.LOCK_SH.
func flockCtx(ctx context.Context, f *os.File, how int) error {
	wait := lockPollMin
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case !errors.Is(err, unix.EWOULDBLOCK):
			return fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for lock %s: %w", f.Name(), ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, lockPollMax)
	}
}

// openLockFile opens the lock file at path, creating it if absent (as ig does), never
// following a symlink and never blocking: a FIFO, a socket, a device or a symlink there is
// refused with ErrNotRegular naming it (a FIFO would block the open, a symlink would make ig
// and gadgetpack create or lock a file outside the layout).
func openLockFile(path string) (*os.File, error) {
	before, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		before = nil
	case err != nil:
		return nil, fmt.Errorf("lock %s: %w", path, err)
	case !before.Mode().IsRegular():
		return nil, fmt.Errorf("lock %w", notRegular(path, before.Mode()))
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o644)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, fmt.Errorf("lock %s is a symlink: %w", path, ErrNotRegular)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	case !fi.Mode().IsRegular():
		_ = f.Close()
		return nil, fmt.Errorf("lock %w", notRegular(path, fi.Mode()))
	case before != nil && !os.SameFile(before, fi):
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: replaced while opening: %w", path, ErrNotRegular)
	}
	return f, nil
}

// lockPath opens (creating it if absent, as ig does) the lock file at path and takes an
// exclusive or a shared flock on it, waiting until it is free or ctx is done.
func lockPath(ctx context.Context, path string, exclusive bool) (*fileLock, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	if err := flockCtx(ctx, f, how); err != nil {
		_ = f.Close()
		return nil, err
	}
	return &fileLock{f: f}, nil
}

// lock takes the layout's index lock: exclusive to change index.json (or remove files that only
// a lock holder may remove), shared to read index.json while no writer is in the middle of
// changing it (ig writes index.json in place).
func (s *Store) lock(ctx context.Context, exclusive bool) (*fileLock, error) {
	return lockPath(ctx, filepath.Join(s.root, LockFile), exclusive)
}

// readLock takes a shared index lock when the layout lets it: on read-only media, or when the
// lock file cannot be created, it returns a nil lock and no error, and the read goes unlocked.
func (s *Store) readLock(ctx context.Context) (*fileLock, error) {
	l, err := s.lock(ctx, false)
	if err == nil {
		return l, nil
	}
	if ctx.Err() != nil {
		return nil, err
	}
	if errors.Is(err, unix.EROFS) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
		return nil, nil
	}
	return nil, err
}
