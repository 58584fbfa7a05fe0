package tarball

import (
	"context"
	"sync"
)

// Import reads the tar stream ahead of its stage on a goroutine of its own (readAhead): the
// stream's decompression, its tar headers and the copy of each small blob run on one CPU
// while the stage hashes and writes the blobs before them on the other (a file created per
// blob: its openat is the largest cost of an import of many small blobs). The stage still
// takes the entries in the stream's order, and Import still handles every error in that order,
// so an error is the one a read in turn would give, naming the same entry. A blob over
// aheadBlobMax is not copied: the goroutine stops at it until Import has streamed it from the
// Reader itself.

// Caps of the read-ahead: a batch holds up to aheadBatchEntries entries and aheadBatchBytes of
// small blobs' content, and aheadBatches batches exist (filled, in flight or being staged), so
// at most aheadBatches*aheadBatchBytes of content is held.
const (
	aheadBlobMax      = 64 << 10
	aheadBatchBytes   = 256 << 10
	aheadBatchEntries = 128
	aheadBatches      = 4
)

// aheadEntry is one result of the Reader, in stream order: an entry and its content, or the
// error of Next.
type aheadEntry struct {
	e       *Entry
	err     error  // Next's error (io.EOF at the end); e is nil then
	data    []byte // the content, for oci-layout, index.json and a blob of at most aheadBlobMax
	readErr error  // the error reading the content
	stream  bool   // a blob over aheadBlobMax: Import reads it from the Reader, then calls resume
}

// aheadBatch is a batch of entries and the buffer their blobs' content is copied into.
type aheadBatch struct {
	entries []aheadEntry
	buf     []byte
}

// aheadReader is what readAhead hands out: batches in stream order, recycled once staged.
type aheadReader struct {
	rd      *Reader
	batches chan *aheadBatch // filled, in stream order
	free    chan *aheadBatch // staged, for reuse
	resumed chan struct{}    // Import streamed the blob that paused the goroutine
	quit    chan struct{}    // closed by stop
	exited  chan struct{}    // closed when the goroutine returns
	cur     *aheadBatch      // the batch Import takes entries from
	next    int              // its next entry
	once    sync.Once
}

// readAhead starts reading rd ahead of Import's loop. Nothing but the goroutine uses rd until
// stop has returned, except the content of a blob marked stream, between its entry and resume.
func readAhead(ctx context.Context, rd *Reader) *aheadReader {
	a := &aheadReader{rd: rd, batches: make(chan *aheadBatch, aheadBatches), free: make(chan *aheadBatch, aheadBatches),
		resumed: make(chan struct{}), quit: make(chan struct{}), exited: make(chan struct{})}
	for range aheadBatches {
		a.free <- &aheadBatch{buf: make([]byte, 0, aheadBatchBytes)}
	}
	go func() {
		defer close(a.exited)
		a.run(ctx)
	}()
	return a
}

// run reads entries until the end of the stream, an error, or quit.
func (a *aheadReader) run(ctx context.Context) {
	b, ok := a.take(ctx)
	for ok {
		e, err := a.rd.Next()
		if err != nil {
			b.entries = append(b.entries, aheadEntry{err: err})
			a.send(ctx, b)
			return // Import returns on any error of Next, io.EOF included
		}
		it := aheadEntry{e: e}
		switch {
		case e.Kind != KindBlob:
			it.data, it.readErr = a.rd.ReadAll() // capped by Next
		case e.Size > aheadBlobMax:
			it.stream = true
		default:
			if int64(cap(b.buf)-len(b.buf)) < e.Size {
				if !a.send(ctx, b) {
					return
				}
				if b, ok = a.take(ctx); !ok {
					return
				}
			}
			n := len(b.buf)
			b.buf = b.buf[:n+int(e.Size)]
			it.data = b.buf[n:len(b.buf):len(b.buf)]
			_, it.readErr = readFull(a.rd, it.data)
		}
		b.entries = append(b.entries, it)
		switch {
		case it.readErr != nil:
			a.send(ctx, b)
			return
		case it.stream:
			if !a.send(ctx, b) {
				return
			}
			select { // Import reads the blob from rd now
			case <-a.resumed:
			case <-a.quit:
				return
			}
			b, ok = a.take(ctx)
		case len(b.entries) == aheadBatchEntries:
			if !a.send(ctx, b) {
				return
			}
			b, ok = a.take(ctx)
		}
	}
}

// readFull reads len(p) bytes of the current entry from rd.
func readFull(rd *Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := rd.Read(p[n:])
		n += m
		if err != nil && n < len(p) {
			return n, err
		}
	}
	return n, nil
}

// take returns an empty batch, waiting for one to be staged; false when Import stopped.
func (a *aheadReader) take(ctx context.Context) (*aheadBatch, bool) {
	select {
	case b := <-a.free:
		b.entries, b.buf = b.entries[:0], b.buf[:0]
		return b, true
	case <-a.quit:
		return nil, false
	case <-ctx.Done():
		return nil, false
	}
}

// send hands b to Import; false when Import stopped.
func (a *aheadReader) send(ctx context.Context, b *aheadBatch) bool {
	select {
	case a.batches <- b:
		return true
	case <-a.quit:
		return false
	case <-ctx.Done():
		return false
	}
}

// entry returns the next entry in stream order, or ctx's error once ctx is done. The entry's
// data stays valid until the entry after it is taken.
func (a *aheadReader) entry(ctx context.Context) aheadEntry {
	if a.cur != nil && a.next == len(a.cur.entries) {
		a.free <- a.cur // never blocks: aheadBatches batches exist
		a.cur = nil
	}
	if a.cur == nil {
		select {
		case a.cur = <-a.batches:
			a.next = 0
		case <-ctx.Done():
			return aheadEntry{err: ctx.Err()}
		}
	}
	it := a.cur.entries[a.next]
	a.next++
	return it
}

// resume lets the goroutine go on after Import streamed a blob marked stream.
func (a *aheadReader) resume() {
	select {
	case a.resumed <- struct{}{}:
	case <-a.exited:
	}
}

// stop ends the goroutine and waits for it: rd is Import's alone again. Safe to call twice.
func (a *aheadReader) stop() {
	a.once.Do(func() { close(a.quit) })
	<-a.exited
}
