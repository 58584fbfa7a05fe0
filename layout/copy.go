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
// signatures) into dst, all or nothing, as an import does. A ref conflict (ErrRefExists) is
// found before any blob is written (CheckEntries). Blobs dst lacks are streamed on opts.Jobs
// goroutines into a Stage of dst, which verifies them (a damaged source blob stops the copy
// with ErrDigestMismatch or ErrSizeMismatch naming it; a blob file of dst of the wrong size is
// a DamagedBlobError of dst); blobs dst has are not read. Then Stage.Commit checks the graphs,
// makes the staged blobs durable at once (one syncfs of dst's file system where Linux has it,
// not one fsync per blob), publishes them and merges the entries into dst's index.json in one
// write under dst's index lock (AddEntries, which checks the graphs again under the lock), the
// protocol ig's local store follows, so copying into ig's store while ig runs is safe: Copy
// waits for the lock as long as ctx allows.
//
// On error no ref of dst has changed, and no blob has been added to it when the error comes
// before the blobs are published (the stage is removed); only a conflict that appears under
// the lock after that leaves the published blobs, unreferenced, for gc. A copy whose process
// dies leaves its stage folder for the next gc or CleanTemp. src is only read.
func Copy(ctx context.Context, src, dst *Store, entries []ocispec.Descriptor, opts CopyOptions) (*CopyResult, error) {
	cl, err := src.ClosureWith(ctx, entries, ClosureOptions{ScanReferrers: opts.ScanReferrers})
	if err != nil {
		return nil, err
	}
	if err := dst.CheckEntries(ctx, cl.Entries, AddOptions{Force: opts.Force}); err != nil {
		return nil, err // before any blob is written
	}
	st, err := dst.NewStage(ctx)
	if err != nil {
		return nil, err
	}
	defer st.Discard() // a no-op after Commit
	res := &CopyResult{Blobs: len(cl.Blobs), Bytes: cl.Bytes}
	if err := stageBlobs(ctx, src, st, cl, opts); err != nil {
		return nil, err
	}
	res.Copied, res.Written = st.Staged()
	added, err := st.Commit(ctx, cl.Entries, AddOptions{Force: opts.Force})
	if err != nil {
		return nil, err
	}
	res.Entries = *added
	dst.dropEmptyTempDir()
	return res, nil
}

// stageBlobs pushes the blobs of cl that st's layout lacks from src into st, on opts.Jobs
// goroutines, calling opts.Progress after each blob. It returns the first error, once every
// push has returned.
func stageBlobs(ctx context.Context, src *Store, st *Stage, cl *Closure, opts CopyOptions) error {
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		next atomic.Int64
		mu   sync.Mutex // guards done and calls of opts.Progress
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
				if err := stageBlob(ctx, src, st, desc); err != nil {
					cancel(err)
					return
				}
				mu.Lock()
				done += desc.Size
				if opts.Progress != nil {
					opts.Progress(done, cl.Bytes)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// stageBlob streams desc's blob from src into st unless st's layout has it. Stage.Push
// verifies what it reads, so the source is opened unverified (still refusing symlinks and
// special files). A blob file of the layout of another size than desc's goes to Push too,
// which reads the source through and blames the layout's file when the source is good.
func stageBlob(ctx context.Context, src *Store, st *Stage, desc ocispec.Descriptor) error {
	ok, err := st.s.Exists(ctx, desc)
	if err != nil && !errors.Is(err, ErrSizeMismatch) {
		return fmt.Errorf("copy to %s: %w", st.s.root, err)
	}
	if ok {
		return nil
	}
	f, err := src.openBlob(desc)
	if err != nil {
		return fmt.Errorf("copy from %s: %w", src.root, err)
	}
	defer f.Close()
	err = st.Push(ctx, desc, f)
	if errors.Is(err, ErrAlreadyExists) {
		return nil // the closure lists a blob once; a second push of it has nothing to add
	}
	if err != nil {
		return fmt.Errorf("copy %s from %s to %s: %w", desc.Digest, src.root, st.s.root, err)
	}
	return nil
}
