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

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/layout"
)

// Blobs go from the layout into the tar through two goroutines: a reader fetches each blob,
// verified, into one of pipeBuffers buffers of copyBufSize, ahead of the writer, which puts
// them into the tar (and through the compressor and the output's hash). Reading and hashing a
// blob overlap with writing and hashing the output, on two CPUs; memory stays at
// pipeBuffers x copyBufSize, plus the documents queued with their content.
const (
	copyBufSize = 1 << 20
	pipeBuffers = 4
)

// blobItem is a blob to write, as the closure's walk hands it over: with its verified content
// when the walk read it whole, so that it is not read again.
type blobItem struct {
	desc    ocispec.Descriptor
	content []byte
}

// chunk is a piece of the blob stream handed from the reader to the writer: the start of a
// blob (start, its descriptor), data (in buf, or whole in content), the blob's end (end, after
// which it has been verified), or the error that stops the reader. A closed channel is the end
// of the stream.
type chunk struct {
	start   *ocispec.Descriptor
	buf     *[]byte
	content []byte
	n       int
	end     bool
	err     error
}

// writeBlobs writes the blobs queue yields into tw as blobs/<alg>/<hex> entries, in order,
// until queue is closed.
func writeBlobs(ctx context.Context, s *layout.Store, tw *tar.Writer, queue <-chan blobItem, mtime time.Time, done *atomic.Int64) error {
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
	wg.Go(func() { readBlobs(ctx, s, queue, free, chunks) })
	name := ""
	for {
		var c chunk
		var ok bool
		select {
		case c, ok = <-chunks:
		case <-ctx.Done():
			return ctx.Err()
		}
		switch {
		case !ok:
			return nil
		case c.err != nil:
			return c.err // the layout's errors name the blob
		case c.start != nil:
			b := c.start
			name = path.Join(layout.BlobsDir, b.Digest.Algorithm().String(), b.Digest.Encoded())
			if err := tw.WriteHeader(header(name, b.Size, mtime)); err != nil {
				return fmt.Errorf("tar entry %s: %w", name, err)
			}
		case c.end:
		default:
			var err error
			if c.content != nil {
				_, err = tw.Write(c.content)
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
}

// readBlobs takes each blob from queue and sends it to chunks: a start chunk, its content (as
// the walk read it, or fetched, verified, in buffers taken from free), then an end chunk; on an
// error it sends it and stops. It closes chunks once queue is closed and every blob sent. It
// returns when ctx is done.
func readBlobs(ctx context.Context, s *layout.Store, queue <-chan blobItem, free chan *[]byte, chunks chan<- chunk) {
	send := func(c chunk) bool {
		select {
		case chunks <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		var it blobItem
		var ok bool
		select {
		case it, ok = <-queue:
		case <-ctx.Done():
			return
		}
		if !ok {
			close(chunks)
			return
		}
		b := it.desc
		if !send(chunk{start: &b}) {
			return
		}
		if it.content != nil && int64(len(it.content)) == b.Size {
			if !send(chunk{content: it.content, n: len(it.content)}) {
				return
			}
		} else if err := readBlob(ctx, s, b, free, send); err != nil {
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
