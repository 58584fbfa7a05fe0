package tarball

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"

	"github.com/opencontainers/go-digest"
)

// Input is a tarball's files opened as one stream (OpenInput): a goroutine reads them in order
// ahead of the reader, into a few buffers, and hashes each file as it goes, so that checking
// the files against their checksum file costs the reader no time on a second CPU. Import and
// Verify check it (Check) when it is their input.
type Input struct {
	files   []string
	size    int64
	sumFile string

	free   chan []byte
	chunks chan inputChunk
	done   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once

	cur  inputChunk
	off  int
	err  error
	sums []Part // written by the reading goroutine before it sends io.EOF
}

type inputChunk struct {
	buf []byte
	n   int
	err error
}

// Read-ahead of an Input: inputBuffers buffers of inputBufSize.
const (
	inputBufSize = 1 << 20
	inputBuffers = 4
)

// OpenInput opens the tarball files stand for (see Parts) as one stream: regular files, or
// pipes. A missing file or a directory is an error before any byte is read. When the checksum file
// that export writes beside them exists (ChecksumFile), Import and Verify check the files
// against it once the stream is read. The caller closes the Input.
func OpenInput(files []string) (*Input, error) {
	parts, err := Parts(files)
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("no file to read: %w", fs.ErrInvalid)
	}
	in := &Input{
		files:  parts,
		free:   make(chan []byte, inputBuffers),
		chunks: make(chan inputChunk, inputBuffers+1),
		done:   make(chan struct{}),
	}
	for _, p := range parts {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if fi.Mode().IsRegular() {
			in.size += fi.Size() // a pipe (<(zstdcat ...)) has no size
		}
	}
	if sf := ChecksumFile(parts); sf != "" {
		if fi, err := os.Stat(sf); err == nil && fi.Mode().IsRegular() {
			in.sumFile = sf
		}
	}
	for range inputBuffers {
		in.free <- make([]byte, inputBufSize)
	}
	in.wg.Add(1)
	go in.readAll()
	return in, nil
}

// Files returns the files read, in order.
func (in *Input) Files() []string { return in.files }

// Size returns the files' total size in bytes.
func (in *Input) Size() int64 { return in.size }

// ChecksumFile returns the checksum file beside the files, or "" when there is none.
func (in *Input) ChecksumFile() string { return in.sumFile }

// readAll is the goroutine that reads the files ahead.
func (in *Input) readAll() {
	defer in.wg.Done()
	for _, p := range in.files {
		if !in.readFile(p) {
			return
		}
	}
	in.chunks <- inputChunk{err: io.EOF}
}

// readFile reads and hashes one file into chunks; it reports whether the next may follow.
func (in *Input) readFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		in.chunks <- inputChunk{err: err}
		return false
	}
	defer f.Close()
	h := sha256.New()
	var size int64
	for {
		var buf []byte
		select {
		case buf = <-in.free:
		case <-in.done:
			return false
		}
		n, err := io.ReadFull(f, buf)
		h.Write(buf[:n])
		size += int64(n)
		if n > 0 {
			// Never blocks: chunks holds every buffer and one end.
			in.chunks <- inputChunk{buf: buf, n: n}
		} else {
			in.free <- buf
		}
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			in.sums = append(in.sums, Part{Path: path, Size: size, Digest: digest.NewDigest(digest.SHA256, h)})
			return true
		default:
			in.chunks <- inputChunk{err: fmt.Errorf("%s: %w", path, err)}
			return false
		}
	}
}

// Read reads the files as one stream.
func (in *Input) Read(p []byte) (int, error) {
	if in.err != nil {
		return 0, in.err
	}
	for in.cur.buf == nil || in.off == in.cur.n {
		if in.cur.buf != nil {
			in.free <- in.cur.buf
			in.cur = inputChunk{}
		}
		c := <-in.chunks
		if c.err != nil {
			in.err = c.err
			return 0, c.err
		}
		in.cur, in.off = c, 0
	}
	n := copy(p, in.cur.buf[in.off:in.cur.n])
	in.off += n
	return n, nil
}

// Check reads what is left of the stream and checks the files against the checksum file.
// It returns nil and no error when there is no checksum file; otherwise the check, and, when
// a file is not listed, listed with another sha256, or listed and not read, or when the
// checksum file does not parse, one error per finding joined (errors.Join), each wrapping
// ErrChecksum and naming the file. An error reading the files is returned as it is, with a
// nil check.
func (in *Input) Check() (*ChecksumCheck, error) {
	if in.sumFile == "" {
		return nil, nil
	}
	if _, err := io.Copy(io.Discard, in); err != nil {
		return nil, err
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

// Close stops the reading goroutine and closes the file it has open.
func (in *Input) Close() error {
	in.once.Do(func() {
		close(in.done)
		in.wg.Wait()
		if in.err == nil {
			in.err = fs.ErrClosed
		}
	})
	return nil
}
