package layout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// CopyOptions tunes Copy. The zero value copies with 4 workers and moves no existing ref.
type CopyOptions struct {
	// Force lets a ref of the target that points elsewhere be moved (see AddOptions.Force).
	Force bool
	// Jobs is the number of blobs copied at once; if ≤ 0, 4 are.
	Jobs int
	// Progress, when set, is called after each blob with the bytes of the closure handled so
	// far (copied or found present) and their total. Calls may come from several goroutines,
	// one at a time.
	Progress func(done, total int64)
	// ScanReferrers finds the referrers to carry among every blob of src, not only among those
	// its index.json lists (ClosureOptions.ScanReferrers); dst's index.json lists them.
	ScanReferrers bool
}

// CopyResult says what Copy did.
type CopyResult struct {
	Entries AddResult `json:"entries"` // what happened to the target's index.json entries
	Blobs   int       `json:"blobs"`   // blobs of the closure
	Bytes   int64     `json:"bytes"`   // their total size
	Copied  int       `json:"copied"`  // blobs written into the target
	Written int64     `json:"written"` // their total size
}

// Copy copies entries of src (index.json entries, as Refs or Resolve return them) with
// everything they carry (see Closure: their graphs, OCI 1.1 referrers and digest-tag
// signatures) into dst. Blobs dst lacks are streamed into it through Push, which verifies
// them (a damaged source blob stops the copy with ErrDigestMismatch or ErrSizeMismatch naming
// it); blobs dst has are not read. Then the entries are merged into dst's index.json in one
// write under dst's index lock (AddEntries; a ref conflict is found before any blob is written, which checks the graph complete under the lock),
// the protocol ig's local store follows, so copying into ig's store while ig runs is safe: Copy
// waits for the lock as long as ctx allows. On error no ref of dst has changed; blobs already
// copied stay, unreferenced, for gc. src is only read.
func Copy(ctx context.Context, src, dst *Store, entries []ocispec.Descriptor, opts CopyOptions) (*CopyResult, error) {
	cl, err := src.ClosureWith(ctx, entries, ClosureOptions{ScanReferrers: opts.ScanReferrers})
	if err != nil {
		return nil, err
	}
	if err := dst.CheckEntries(ctx, cl.Entries, AddOptions{Force: opts.Force}); err != nil {
		return nil, err // before any blob is written
	}
	res := &CopyResult{Blobs: len(cl.Blobs), Bytes: cl.Bytes}
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		next atomic.Int64
		mu   sync.Mutex // guards res.Copied, res.Written, done and calls of opts.Progress
		done int64
		wg   sync.WaitGroup
	)
	for range min(jobs, len(cl.Blobs)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(cl.Blobs) || ctx.Err() != nil {
					return
				}
				desc := cl.Blobs[i]
				wrote, err := copyBlob(ctx, src, dst, desc)
				if err != nil {
					cancel(err)
					return
				}
				mu.Lock()
				if wrote {
					res.Copied++
					res.Written += desc.Size
				}
				done += desc.Size
				if opts.Progress != nil {
					opts.Progress(done, cl.Bytes)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	added, err := dst.AddEntries(ctx, cl.Entries, AddOptions{Force: opts.Force})
	if err != nil {
		return nil, err
	}
	res.Entries = *added
	dst.dropEmptyTempDir()
	return res, nil
}

// copyBlob streams desc's blob from src into dst unless dst has it, and reports whether it
// wrote it. Push verifies what it reads, so the source is opened unverified (still refusing
// symlinks and special files).
func copyBlob(ctx context.Context, src, dst *Store, desc ocispec.Descriptor) (bool, error) {
	ok, err := dst.Exists(ctx, desc)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, fmt.Errorf("copy to %s: %w", dst.root, err)
	}
	if ok {
		return false, nil
	}
	f, err := src.openBlob(desc)
	if err != nil {
		return false, fmt.Errorf("copy from %s: %w", src.root, err)
	}
	defer f.Close()
	err = dst.Push(ctx, desc, f)
	if errors.Is(err, ErrAlreadyExists) {
		return false, nil // another writer published it meanwhile
	}
	if err != nil {
		return false, fmt.Errorf("copy %s from %s to %s: %w", desc.Digest, src.root, dst.root, err)
	}
	return true, nil
}
