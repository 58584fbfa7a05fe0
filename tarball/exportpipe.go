package tarball

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
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
// blob (start, with its descriptor desc), data (in buf, or whole in content), the blob's end
// (end, after which it has been verified), or the error that stops the reader; a blob read
// whole by the walk is one chunk with all three. The reader hands chunks over in batches; a
// closed channel is the end of the stream.
type chunk struct {
	desc    ocispec.Descriptor
	start   bool
	buf     *[]byte
	content []byte
	n       int
	end     bool
	err     error
}

// writeBlobs writes the blobs queue yields as blobs/<alg>/<hex> entries, in order, until queue
// is closed: their headers made by blobHeaders and their data and padding written to bw, under
// tw (which must have no entry open: flushed), or through tw when blobHeaders cannot make the
// header.
func writeBlobs(ctx context.Context, s *layout.Store, tw *tar.Writer, bw io.Writer, queue <-chan []blobItem, mtime time.Time, done *atomic.Int64) error {
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
	chunks := make(chan []chunk, pipeBuffers+1)
	wg.Go(func() { readBlobs(ctx, s, queue, free, chunks) })
	var (
		hdrs  = newBlobHeaders(mtime)
		blk   [ustarBlock]byte
		zeros [ustarBlock]byte
		cur   ocispec.Descriptor // the entry being written
		raw   bool               // its header and data go to bw, not through tw
		left  int64              // its data bytes still to come, when raw
	)
	fail := func(err error) error {
		return fmt.Errorf("tar entry %s: %w", blobEntryName(cur.Digest), err)
	}
	for {
		var cs []chunk
		var ok bool
		select {
		case cs, ok = <-chunks:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok {
			return nil
		}
		for i := range cs {
			c := &cs[i]
			if c.err != nil {
				return c.err // the layout's errors name the blob
			}
			if c.start {
				cur = c.desc
				raw = hdrs.fill(&blk, cur.Digest, cur.Size)
				var err error
				if raw {
					_, err = bw.Write(blk[:])
					left = cur.Size
				} else {
					err = tw.WriteHeader(header(blobEntryName(cur.Digest), cur.Size, mtime))
				}
				if err != nil {
					return fail(err)
				}
			}
			var p []byte
			switch {
			case c.content != nil:
				p = c.content
			case c.buf != nil:
				p = (*c.buf)[:c.n]
			}
			var err error
			switch {
			case raw && int64(len(p)) > left:
				err = tar.ErrWriteTooLong
			case raw:
				_, err = bw.Write(p)
				left -= int64(len(p))
			case len(p) > 0:
				_, err = tw.Write(p)
			}
			if c.buf != nil {
				free <- c.buf
			}
			if err != nil {
				return fail(err)
			}
			done.Add(int64(c.n))
			if !c.end {
				continue
			}
			switch {
			case raw && left != 0:
				err = fmt.Errorf("%d bytes of %d missing", left, cur.Size)
			case raw:
				_, err = bw.Write(zeros[:(ustarBlock-cur.Size%ustarBlock)%ustarBlock])
			default:
				err = tw.Flush()
			}
			if err != nil {
				return fail(err)
			}
		}
	}
}

// readBlobs takes each batch of blobs from queue and sends them to chunks: a blob that came
// with its content as one chunk, batched with the next ones; any other as a start chunk, its
// content fetched, verified, in buffers taken from free, then an end chunk; on an error it
// sends it and stops. It closes chunks once queue is closed and every blob sent. It returns
// when ctx is done.
func readBlobs(ctx context.Context, s *layout.Store, queue <-chan []blobItem, free chan *[]byte, chunks chan<- []chunk) {
	send := func(cs []chunk) bool {
		select {
		case chunks <- cs:
			return true
		case <-ctx.Done():
			return false
		}
	}
	one := func(c chunk) bool { return send([]chunk{c}) }
	for {
		var items []blobItem
		var ok bool
		select {
		case items, ok = <-queue:
		case <-ctx.Done():
			return
		}
		if !ok {
			close(chunks)
			return
		}
		// A batch is mostly small blobs read whole: one chunk each, in one slice made once.
		whole := make([]chunk, 0, len(items))
		for i, it := range items {
			b := it.desc
			if it.content != nil && int64(len(it.content)) == b.Size {
				whole = append(whole, chunk{desc: b, start: true, content: it.content, n: len(it.content), end: true})
				continue
			}
			if len(whole) > 0 {
				if !send(whole) {
					return
				}
				whole = make([]chunk, 0, len(items)-i)
			}
			if !one(chunk{desc: b, start: true}) {
				return
			}
			if err := readBlob(ctx, s, b, free, one); err != nil {
				one(chunk{err: err})
				return
			}
			if !one(chunk{end: true}) {
				return
			}
		}
		if len(whole) > 0 && !send(whole) {
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
