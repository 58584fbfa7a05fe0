package tarball

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/layout"
)

// Blobs go from the layout into the tar through two goroutines: a reader fetches each blob,
// verified, into one of pipeBuffers buffers of copyBufSize, ahead of the writer, which puts
// them into the tar (and through the compressor and the output's hash). Reading and hashing a
// blob overlap with writing and hashing the output, on two CPUs; memory stays at
// pipeBuffers x copyBufSize.
const (
	copyBufSize = 1 << 20
	pipeBuffers = 4
)

// chunk is a piece of a blob handed from the reader to the writer: data, or the blob's end
// (end, after which the blob has been verified), or the error that stops the reader.
type chunk struct {
	buf  *[]byte
	n    int
	kept []byte // instead of buf: a whole blob the closure kept (layout.Closure.Content)
	end  bool
	err  error
}

// writeBlobs writes the blobs into tw as blobs/<alg>/<hex> entries, in order. A blob whose
// verified content kept returns is written from there, unread.
func writeBlobs(ctx context.Context, s *layout.Store, tw *tar.Writer, blobs []ocispec.Descriptor, kept func(digest.Digest) []byte, mtime time.Time, done *atomic.Int64) error {
	if len(blobs) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	free := make(chan *[]byte, pipeBuffers)
	for range pipeBuffers {
		b := make([]byte, copyBufSize)
		free <- &b
	}
	chunks := make(chan chunk, pipeBuffers+1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		readBlobs(ctx, s, blobs, kept, free, chunks)
	}()
	for _, b := range blobs {
		name := path.Join(layout.BlobsDir, b.Digest.Algorithm().String(), b.Digest.Encoded())
		if err := tw.WriteHeader(header(name, b.Size, mtime)); err != nil {
			return fmt.Errorf("tar entry %s: %w", name, err)
		}
		for {
			var c chunk
			select {
			case c = <-chunks:
			case <-ctx.Done():
				return ctx.Err()
			}
			if c.err != nil {
				return c.err // the layout's errors name the blob
			}
			if c.end {
				break
			}
			var err error
			if c.kept != nil {
				_, err = tw.Write(c.kept)
			} else {
				_, err = tw.Write((*c.buf)[:c.n])
				free <- c.buf
			}
			if err != nil {
				return fmt.Errorf("tar entry %s: %w", name, err)
			}
			done.Add(int64(c.n))
		}
	}
	return nil
}

// readBlobs fetches each blob, verified, and sends it to chunks in buffers taken from free
// (or whole, when kept has its content), then an end chunk; on an error it sends it and stops.
// It returns when ctx is done.
func readBlobs(ctx context.Context, s *layout.Store, blobs []ocispec.Descriptor, kept func(digest.Digest) []byte, free chan *[]byte, chunks chan<- chunk) {
	send := func(c chunk) bool {
		select {
		case chunks <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for _, b := range blobs {
		if data := kept(b.Digest); data != nil && int64(len(data)) == b.Size {
			if !send(chunk{kept: data, n: len(data)}) || !send(chunk{end: true}) {
				return
			}
			continue
		}
		if err := readBlob(ctx, s, b, free, send); err != nil {
			send(chunk{err: err})
			return
		}
		if !send(chunk{end: true}) {
			return
		}
	}
}

func readBlob(ctx context.Context, s *layout.Store, b ocispec.Descriptor, free chan *[]byte, send func(chunk) bool) (err error) {
	rc, err := s.Fetch(ctx, b)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := rc.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("blob %s: %w", b.Digest, cerr)
		}
	}()
	for {
		var buf *[]byte
		select {
		case buf = <-free:
		case <-ctx.Done():
			return ctx.Err()
		}
		n, err := io.ReadFull(rc, *buf)
		if n > 0 && !send(chunk{buf: buf, n: n}) {
			return ctx.Err()
		}
		if n == 0 {
			free <- buf
		}
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return nil
		default:
			return err
		}
	}
}
