package tarball

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// spillBuffer is how many bytes a spill keeps in memory before it writes them to its file: a
// spill that never holds more makes no file. Tests lower it to make spills reach their file.
var spillBuffer = 1 << 20

// spill is where Verify of a stream that cannot be read again in place (compressed, or read
// once) keeps the blobs it reads again after they passed (documents for the graph checks,
// layers that a later manifest may share): one temporary file, appended to as they pass and
// read back by offset, so that memory holds at most spillBuffer bytes of them. The file is
// made in os.TempDir() with no name (O_TMPFILE, or unlinked as soon as it is made), so that
// nothing is left on disk whatever ends the process, and never in a layout or beside the input.
// What is read back must be verified by the caller (hashed against its digest): another
// process of the same user can write the file.
//
// When the file cannot be made or written (no temp dir, a full disk), the spill breaks: add
// refuses from then on and the caller keeps blobs as it would without a spill; what was added
// before stays readable (bytes that a failed write held stay in memory). The zero value is an
// empty spill; a nil *spill refuses every add. add must not be called at once with another
// method; ReadAt may be called from several goroutines at once when add is not.
type spill struct {
	f       *os.File
	written int64  // bytes in f
	buf     []byte // bytes added after them, not written yet
	broken  bool
}

// add appends data and returns its offset, or false when the spill is broken (now or before)
// and did not take it.
func (s *spill) add(data []byte) (int64, bool) {
	if s == nil || s.broken {
		return 0, false
	}
	off := s.written + int64(len(s.buf))
	if len(s.buf)+len(data) > spillBuffer {
		if !s.flush() {
			return 0, false
		}
		if len(data) > spillBuffer {
			if !s.write(data) {
				return 0, false
			}
			return off, true
		}
	}
	s.buf = append(s.buf, data...)
	return off, true
}

// flush writes the buffer to the file and reports whether it could. When it cannot, the spill
// is broken and the buffer stays in memory.
func (s *spill) flush() bool {
	if len(s.buf) == 0 {
		return true
	}
	if !s.write(s.buf) {
		return false
	}
	s.buf = s.buf[:0]
	return true
}

// write writes p to the file after what it holds, making the file first, and reports whether
// it could. When it cannot, the spill is broken.
func (s *spill) write(p []byte) bool {
	if s.f == nil {
		f, err := openSpillFile()
		if err != nil {
			s.broken = true
			return false
		}
		s.f = f
	}
	if _, err := s.f.WriteAt(p, s.written); err != nil {
		s.broken = true
		return false
	}
	s.written += int64(len(p))
	return true
}

// errSpillOffset is ReadAt's error for a negative offset.
var errSpillOffset = errors.New("spill: negative offset")

// ReadAt reads len(p) bytes of what was added, from off: from the file, then the buffer. It
// returns io.EOF past the end of what was added, and io.ErrUnexpectedEOF when the file is
// shorter than what was written to it (someone truncated it).
func (s *spill) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errSpillOffset
	}
	n := 0
	if off < s.written {
		m := int(min(int64(len(p)), s.written-off))
		k, err := s.f.ReadAt(p[:m], off)
		n += k
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return n, err
		}
	}
	if n < len(p) {
		i := off + int64(n) - s.written
		if i < int64(len(s.buf)) {
			n += copy(p[n:], s.buf[i:])
		}
		if n < len(p) {
			return n, io.EOF
		}
	}
	return n, nil
}

// Close closes the file (which goes with it) and forgets the buffer.
func (s *spill) Close() error {
	s.buf = nil
	if s.f == nil {
		return nil
	}
	f := s.f
	s.f = nil
	return f.Close()
}

// openSpillFile makes a temporary file with no name in os.TempDir(): O_TMPFILE, or, on a file
// system without it, a named file unlinked at once.
func openSpillFile() (*os.File, error) {
	dir := os.TempDir()
	f, err := os.OpenFile(dir, os.O_RDWR|unix.O_TMPFILE|unix.O_CLOEXEC, 0o600)
	if err == nil {
		return f, nil
	}
	f, err = os.CreateTemp(dir, "gadgetpack-verify-*")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}
