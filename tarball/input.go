package tarball

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// Input is a tarball's files opened as one stream (OpenInput). When a checksum file lies beside
// them, a second goroutine reads the same files through its own descriptors and hashes them,
// on a second CPU, a little ahead of the reader or behind it: the reader's path stays what it
// is without a checksum (the page cache serves both), and Check only waits for that goroutine.
type Input struct {
	files   []string
	size    int64
	sumFile string
	r       io.ReadCloser

	read     atomic.Int64  // bytes the reader has had
	progress chan struct{} // a nudge to the hasher, which waits while too far ahead
	unleash  chan struct{} // closed by Check: the hasher runs to the end
	done     chan struct{} // closed by Close: the hasher stops
	hashed   chan struct{} // closed by the hasher when it ends
	once     sync.Once
	unleashd sync.Once

	free    bool   // the hasher's own: Check unleashed it
	sums    []Part // the hasher's results, read after hashed is closed
	hashErr error
	err     error // what Read returns after Close
}

// hashLead is how far the hasher may read ahead of the reader: enough to keep both CPUs busy,
// little enough that the pages it brings in are still cached when the reader gets there. Tests
// lower it.
var hashLead int64 = 64 << 20

// fdPath matches the paths of a descriptor the shell hands over: process substitution
// (<(zstdcat ...)) gives /dev/fd/N (bash) or /proc/self/fd/N (zsh).
var fdPath = regexp.MustCompile(`^/(dev|proc/self)/fd/[0-9]+$`)

// checkFileType refuses what is not a regular file: a directory, a device, a socket, and a
// FIFO unless pipes is set and path names a descriptor the shell handed over (fdPath, or
// /dev/stdin). A FIFO named on the command line may have no writer: opening it, or reading it,
// would wait forever. A pipe of process substitution has its writer already.
func checkFileType(path string, fi fs.FileInfo, pipes bool) error {
	m := fi.Mode()
	switch {
	case m.IsRegular():
		return nil
	case m.IsDir():
		return fmt.Errorf("%s: a directory, not a tarball: %w", path, ErrNotRegular)
	case m&fs.ModeNamedPipe != 0 && pipes && (fdPath.MatchString(path) || path == "/dev/stdin"):
		return nil
	case m&fs.ModeNamedPipe != 0:
		return fmt.Errorf("%s: a FIFO (named pipe), not a regular file: it is not read, as nothing may ever write to it (for a stream, use - or <(...)): %w", path, ErrNotRegular)
	case m&fs.ModeSocket != 0:
		return fmt.Errorf("%s: a socket, not a regular file: %w", path, ErrNotRegular)
	case m&fs.ModeDevice != 0:
		return fmt.Errorf("%s: a device, not a regular file: %w", path, ErrNotRegular)
	}
	return fmt.Errorf("%s: not a regular file (%s): %w", path, m.Type(), ErrNotRegular)
}

// openFile opens a file of a tarball (or its checksum file) for reading without ever blocking
// on it: it checks its type first (checkFileType, following symlinks), opens it with O_NONBLOCK
// (a FIFO swapped in meanwhile does not block the open), then checks the opened file again:
// the same file, of an accepted type. Reads of a pipe wait for data in the runtime's poller.
func openFile(path string, pipes bool) (*os.File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := checkFileType(path, fi, pipes); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	ofi, err := f.Stat()
	if err == nil && !os.SameFile(fi, ofi) {
		err = fmt.Errorf("%s: replaced while it was opened: %w", path, ErrNotRegular)
	}
	if err == nil {
		err = checkFileType(path, ofi, pipes)
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// OpenInput opens the tarball files stand for (see Parts) as one stream: regular files, or
// one pipe handed over as /dev/fd/N (process substitution). A missing file, a directory, a
// FIFO named otherwise, a socket or a device is an error (ErrNotRegular, naming it) before any
// byte is read, and without blocking. When the checksum file that export writes beside them
// exists (ChecksumFile), Import and Verify check the files against it (Check). The caller
// closes the Input.
func OpenInput(files []string) (*Input, error) {
	parts, err := Parts(files)
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("no file to read: %w", fs.ErrInvalid)
	}
	in := &Input{files: parts}
	regular := true
	for _, p := range parts {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if err := checkFileType(p, fi, len(parts) == 1); err != nil {
			return nil, err
		}
		if fi.Mode().IsRegular() {
			in.size += fi.Size()
		} else {
			regular = false // a pipe (<(zstdcat ...)): read once, and has no size
		}
	}
	if sf := ChecksumFile(parts); sf != "" && regular {
		if fi, err := os.Stat(sf); err == nil {
			if err := checkFileType(sf, fi, false); err != nil {
				return nil, err
			}
			in.sumFile = sf
		}
	}
	if in.r, err = openStream(parts); err != nil {
		return nil, err
	}
	if in.sumFile != "" {
		in.progress = make(chan struct{}, 1)
		in.unleash = make(chan struct{})
		in.done = make(chan struct{})
		in.hashed = make(chan struct{})
		go in.hashAll()
	}
	return in, nil
}

// Files returns the files read, in order.
func (in *Input) Files() []string { return in.files }

// Size returns the regular files' total size in bytes.
func (in *Input) Size() int64 { return in.size }

// ChecksumFile returns the checksum file beside the files, or "" when there is none.
func (in *Input) ChecksumFile() string { return in.sumFile }

// Read reads the files as one stream.
func (in *Input) Read(p []byte) (int, error) {
	if in.err != nil {
		return 0, in.err
	}
	n, err := in.r.Read(p)
	if n > 0 && in.progress != nil {
		in.read.Add(int64(n))
		select {
		case in.progress <- struct{}{}:
		default:
		}
	}
	return n, err
}

// hashAll is the goroutine that hashes every file, never more than hashLead ahead of Read
// until Check unleashes it. It runs on its own OS thread at the lowest priority (nice 19), so
// that it takes the CPU time the import or verify leaves idle rather than competing with it
// (on 2 CPUs, import with a check: 1.95 s at the same priority, 1.61 s niced; 1.35 s without).
// The thread ends with the goroutine (it is never unlocked), taking its priority with it.
func (in *Input) hashAll() {
	defer close(in.hashed)
	runtime.LockOSThread()
	_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 19) // Linux: one thread's nice
	buf := make([]byte, 1<<20)
	var at int64 // bytes hashed, over all files
	for _, path := range in.files {
		part, err := in.hashFile(path, buf, &at)
		if err != nil {
			in.hashErr = err
			return
		}
		in.sums = append(in.sums, part)
	}
}

func (in *Input) hashFile(path string, buf []byte, at *int64) (Part, error) {
	f, err := openFile(path, false)
	if err != nil {
		return Part{}, err
	}
	defer f.Close()
	h := sha256.New()
	var size int64
	for {
		for !in.free && *at-in.read.Load() > hashLead {
			select {
			case <-in.progress:
			case <-in.unleash:
				in.free = true
			case <-in.done:
				return Part{}, fs.ErrClosed
			}
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		size += int64(n)
		*at += int64(n)
		if err == io.EOF {
			return Part{Path: path, Size: size, Digest: digest.NewDigest(digest.SHA256, h)}, nil
		}
		if err != nil {
			return Part{}, fmt.Errorf("%s: %w", path, err)
		}
	}
}

// Check checks the files against the checksum file. It returns nil and no error when there is
// none; otherwise the check, and, when a file is not listed, listed with another sha256, or
// listed and not read, or when the checksum file does not parse, one error per finding joined
// (errors.Join), each wrapping ErrChecksum and naming the file. It reads each file to its end
// whatever Read has had of it. An error reading the files is returned as it is, with a nil
// check.
func (in *Input) Check() (*ChecksumCheck, error) {
	if in.sumFile == "" {
		return nil, nil
	}
	in.unleashd.Do(func() { close(in.unleash) })
	<-in.hashed
	if in.hashErr != nil {
		return nil, in.hashErr
	}
	check := &ChecksumCheck{Path: in.sumFile, Files: in.sums}
	want, err := ReadChecksums(in.sumFile)
	if err != nil {
		if !errors.Is(err, ErrChecksum) {
			err = fmt.Errorf("%w: %w", ErrChecksum, err)
		}
		return check, err
	}
	errs := compareSums(in.sumFile, want, in.sums)
	check.OK = len(errs) == 0
	return check, errors.Join(errs...)
}

// Close stops the hashing goroutine and closes the files.
func (in *Input) Close() error {
	var err error
	in.once.Do(func() {
		if in.done != nil {
			close(in.done)
			<-in.hashed
		}
		err = in.r.Close()
		in.err = fs.ErrClosed
	})
	return err
}
