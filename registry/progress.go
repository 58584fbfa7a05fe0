package registry

import (
	"context"
	"io"
	"os"
	"slices"
	"sync"

	"github.com/gadgetpack/gadgetpack/internal/ticker"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// Progress is one report of a transfer, given to Options.Progress.
type Progress struct {
	// Blob is the blob the report is about.
	Blob ocispec.Descriptor
	// BlobDone is how many bytes of Blob have moved (Blob.Size once it is complete).
	BlobDone int64
	// Skipped is set when Blob was already at the destination, or mounted there from another
	// repository of the registry, so that nothing was sent.
	Skipped bool
	// Done and Total are the bytes of all blobs done so far (skipped ones included) and of all
	// blobs known so far: a pull learns of blobs as it reads manifests, so Total grows.
	Done, Total int64
	// Blobs and TotalBlobs count the blobs the same way.
	Blobs, TotalBlobs int
}

// reportEvery is how many bytes of a blob move between two reports.
const reportEvery = 1 << 20

// tracker adds up what moves and reports it to Options.Progress. A blob is counted once per
// destination repository (a push to two repositories moves it twice, the second time maybe by a
// mount). It is safe for concurrent use.
type tracker struct {
	fn func(Progress)

	mu       sync.Mutex
	known    map[blobKey]int64 // size of every blob known
	moved    map[blobKey]int64 // bytes moved of blobs in flight or done
	complete map[blobKey]bool
	done     int64
	total    int64
	blobs    int
	// watched are blob files sent as they are (by sendfile, which reads them at their file
	// position): their positions are the bytes sent, read by poll.
	watched []watchedFile

	// Sent and Skipped count the blobs (and bytes) sent and found present, for the result.
	sent, skipped           int
	sentBytes, skippedBytes int64
}

// blobKey is a blob at a destination repository ("" for a layout).
type blobKey struct {
	repo   string
	digest digest.Digest
}

func newTracker(fn func(Progress)) *tracker {
	return &tracker{fn: fn, known: map[blobKey]int64{}, moved: map[blobKey]int64{}, complete: map[blobKey]bool{}}
}

// expect adds desc, bound for repo, to the blobs known.
func (t *tracker) expect(repo string, desc ocispec.Descriptor) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expectLocked(blobKey{repo, desc.Digest}, desc.Size)
}

func (t *tracker) expectLocked(k blobKey, size int64) {
	if _, ok := t.known[k]; ok {
		return
	}
	t.known[k] = size
	t.total += size
}

// restart forgets the bytes moved of desc: a new read of it begins (a retry).
func (t *tracker) restart(repo string, desc ocispec.Descriptor) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := blobKey{repo, desc.Digest}
	t.expectLocked(k, desc.Size)
	if t.complete[k] {
		return
	}
	t.done -= t.moved[k]
	t.moved[k] = 0
}

// add counts n more bytes of desc, reporting when a MiB has passed since the last report.
func (t *tracker) add(repo string, desc ocispec.Descriptor, n int64, last *int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := blobKey{repo, desc.Digest}
	if t.complete[k] {
		return
	}
	t.moved[k] += n
	t.done += n
	if t.moved[k]-*last >= reportEvery {
		*last = t.moved[k]
		t.reportLocked(k, desc, false)
	}
}

// finish marks desc complete at repo: sent (its bytes moved) or skipped (already there, or
// mounted).
func (t *tracker) finish(repo string, desc ocispec.Descriptor, skipped bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := blobKey{repo, desc.Digest}
	t.expectLocked(k, desc.Size)
	if t.complete[k] {
		return
	}
	t.complete[k] = true
	t.done += desc.Size - t.moved[k]
	t.moved[k] = desc.Size
	t.blobs++
	if skipped {
		t.skipped++
		t.skippedBytes += desc.Size
	} else {
		t.sent++
		t.sentBytes += desc.Size
	}
	t.reportLocked(k, desc, skipped)
}

func (t *tracker) reportLocked(k blobKey, desc ocispec.Descriptor, skipped bool) {
	if t.fn == nil {
		return
	}
	t.fn(Progress{
		Blob: desc, BlobDone: t.moved[k], Skipped: skipped,
		Done: t.done, Total: t.total, Blobs: t.blobs, TotalBlobs: len(t.known),
	})
}

// watchedFile is a blob file in flight, watched by tracker.poll.
type watchedFile struct {
	k    blobKey
	desc ocispec.Descriptor
	f    *os.File
}

// watch starts following the position of f, the file of desc sent to repo.
func (t *tracker) watch(repo string, desc ocispec.Descriptor, f *os.File) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := blobKey{repo, desc.Digest}
	t.watched = slices.DeleteFunc(t.watched, func(w watchedFile) bool { return w.k == k })
	t.watched = append(t.watched, watchedFile{k: k, desc: desc, f: f})
}

// poll counts the bytes of the watched files sent since the last poll. A file that is closed or
// whose blob is complete is no longer watched.
func (t *tracker) poll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.watched = slices.DeleteFunc(t.watched, func(w watchedFile) bool {
		if t.complete[w.k] {
			return true
		}
		// Seek takes no lock of the file: it does not wait for sendfile.
		off, err := w.f.Seek(0, io.SeekCurrent)
		if err != nil {
			return true
		}
		if n := off - t.moved[w.k]; n > 0 {
			t.moved[w.k] += n
			t.done += n
			t.reportLocked(w.k, w.desc, false)
		}
		return false
	})
}

// polling runs t.poll about five times a second (internal/ticker), and once more at the end,
// until the returned stop is called.
func (t *tracker) polling() (stop func()) {
	if t.fn == nil {
		return func() {}
	}
	return ticker.Start(t.poll)
}

// countingSource is a copy source whose reads are counted by a tracker.
type countingSource struct {
	content.ReadOnlyGraphStorage
	t    *tracker
	repo string
}

// Fetch opens desc and counts what is read of it. A blob file (*os.File) is returned as it is,
// so that it goes to the network by sendfile, and watched instead (see tracker.poll).
func (s countingSource) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	rc, err := s.ReadOnlyGraphStorage.Fetch(ctx, desc)
	if err != nil || s.t.fn == nil {
		return rc, err
	}
	s.t.restart(s.repo, desc)
	if f, ok := rc.(*os.File); ok {
		s.t.watch(s.repo, desc, f)
		return f, nil
	}
	return &countingReader{rc: rc, t: s.t, repo: s.repo, desc: desc}, nil
}

// countingReader reports the bytes read of one blob.
type countingReader struct {
	rc   io.ReadCloser
	t    *tracker
	repo string
	desc ocispec.Descriptor
	last int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if n > 0 {
		r.t.add(r.repo, r.desc, int64(n), &r.last)
	}
	return n, err
}

func (r *countingReader) Close() error { return r.rc.Close() }
