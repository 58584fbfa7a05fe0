package layout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// stageReach is one check of a stage's graphs: it records every digest the walks read or find,
// so that the staged referrers of what is reached can be checked as Verify walks them. A staged
// blob is recorded by a byte at its place in the stage's push order, not a map entry (80,000
// small blobs: 80 KB instead of about 5 MB at the check's peak).
type stageReach struct {
	st         *Stage
	mu         sync.Mutex
	staged     []uint8                 // reachBits of the blobs staged when the check began, by place
	other      map[digest.Digest]int64 // the other blobs reached: the size found with (in otherFound), or -1
	otherFound []blobSize              // the blobs not in staged that the walks found, each once
	walker     *Walker                 // of the referrers' checks
	carried    []subjectRef            // the staged referrers checked that the entries do not reach
}

// reachBits say what a check did with a staged blob.
const (
	reachedBit uint8 = 1 << iota // a walk reached it
	foundBit                     // a walk found it, with its size
)

// blobSize is a blob's digest and size.
type blobSize struct {
	d    digest.Digest
	size int64
}

// newReach returns an empty stageReach of st.
func (st *Stage) newReach() *stageReach {
	st.mu.Lock()
	n := len(st.order)
	st.mu.Unlock()
	return &stageReach{st: st, staged: make([]uint8, n), other: map[digest.Digest]int64{}}
}

// place returns d's place in r.staged, or -1 when it is not there. r.mu is held.
func (r *stageReach) place(d digest.Digest) int {
	r.st.mu.Lock()
	i, ok := r.st.staged[d]
	r.st.mu.Unlock()
	if !ok || int(i) >= len(r.staged) {
		return -1
	}
	return int(i)
}

// mark records d as reached.
func (r *stageReach) mark(d digest.Digest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := r.place(d); i >= 0 {
		r.staged[i] |= reachedBit
	} else if _, ok := r.other[d]; !ok {
		r.other[d] = -1
	}
}

// isReached reports whether d was reached.
func (r *stageReach) isReached(d digest.Digest) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := r.place(d); i >= 0 {
		return r.staged[i]&reachedBit != 0
	}
	_, ok := r.other[d]
	return ok
}

// fetch is Stage.Fetch, recording desc as reached (and found, when it is); the stage forgets a
// kept document once this read took it to its end.
func (r *stageReach) fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	r.mark(desc.Digest)
	rc, err := r.st.fetch(ctx, desc, true)
	if err == nil {
		r.markFound(desc)
	}
	return rc, r.st.blame(ctx, desc, err)
}

// exists is Stage.Exists, recording desc as reached (and found, when it is).
func (r *stageReach) exists(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	r.mark(desc.Digest)
	ok, err := r.st.Exists(ctx, desc)
	if ok && err == nil {
		r.markFound(desc)
	}
	return ok, r.st.blame(ctx, desc, err)
}

// markFound records desc's blob as found, staged or in the layout, with desc's size (a staged
// blob is found only with its staged size).
func (r *stageReach) markFound(desc ocispec.Descriptor) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := r.place(desc.Digest); i >= 0 {
		r.staged[i] |= foundBit
	} else if r.other[desc.Digest] < 0 {
		r.other[desc.Digest] = desc.Size
		r.otherFound = append(r.otherFound, blobSize{d: r.st.stagedDigest(desc.Digest), size: desc.Size})
	}
}

// foundWith reports whether desc's blob was found with desc's size: looking it up again gives
// the same answer.
func (r *stageReach) foundWith(desc ocispec.Descriptor) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := r.place(desc.Digest); i >= 0 {
		r.st.mu.Lock()
		defer r.st.mu.Unlock()
		return r.staged[i]&foundBit != 0 && r.st.sizes[i] == desc.Size
	}
	n, ok := r.other[desc.Digest]
	return ok && n >= 0 && n == desc.Size
}

// found returns the blobs the walks found, each once: the staged ones in push order, with the
// stage's own strings of their digests (the one a walk decoded from a document goes with the
// document), then the others in the order found.
func (r *stageReach) found() []blobSize {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st.mu.Lock()
	defer r.st.mu.Unlock()
	n := len(r.otherFound)
	for _, b := range r.staged {
		if b&foundBit != 0 {
			n++
		}
	}
	out := make([]blobSize, 0, n)
	for i, b := range r.staged {
		if b&foundBit != 0 {
			out = append(out, blobSize{d: r.st.order[i], size: r.st.sizes[i]})
		}
	}
	return append(out, r.otherFound...)
}

// checkPresent checks, under the index lock, that every blob a passed CheckGraph found (staged
// then, published since, or in the layout) is in the layout with its size: what AddEntries'
// walk of the entries' graphs would find again, without reading and decoding every document a
// second time (CheckGraph read them verified; a gc meanwhile removes files, it does not change
// them). It returns an error naming the first blob that is gone, wrapping ErrNotFound or
// ErrSizeMismatch and ErrGraphIncomplete.
func (s *Store) checkPresent(ctx context.Context, found []blobSize) error {
	for _, b := range found {
		ok, err := s.Exists(ctx, ocispec.Descriptor{Digest: b.d, Size: b.size})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil && !ok {
			err = fmt.Errorf("blob %s: %w", b.d, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("layout %s: a blob the entries reach is gone since it was checked: %w: %w", s.root, err, ErrGraphIncomplete)
		}
	}
	return nil
}

// blame tells apart, when the layout holds desc's blob with another size than desc says (err
// wraps ErrSizeMismatch), a damaged blob file of the layout from a descriptor of the wrong
// size: the file is hashed, and when it does not hold its digest's content the error is a
// DamagedBlobError of the layout; else err stands (the descriptor is wrong). Other errors, and
// blobs of the stage, are returned as they are.
func (st *Stage) blame(ctx context.Context, desc ocispec.Descriptor, err error) error {
	if !errors.Is(err, ErrSizeMismatch) || st.isStaged(desc.Digest) || ctx.Err() != nil {
		return err
	}
	path, perr := st.s.blobPath(desc.Digest)
	if perr != nil {
		return err
	}
	fi, serr := lstatRegular(path)
	if serr != nil {
		return err
	}
	rc, ferr := st.s.Fetch(ctx, ocispec.Descriptor{Digest: desc.Digest, Size: fi.Size()})
	if ferr != nil {
		return err
	}
	defer rc.Close()
	if derr := drain(ctx, rc); derr != nil && isContentError(derr) {
		return st.s.damaged(desc.Digest, derr)
	}
	return err
}

// GraphOptions tunes Stage.CheckGraphWith. The zero value checks as CheckGraph does.
type GraphOptions struct {
	// OnDocument, when set, is called with each manifest and index the walks of the entries
	// reach (not the staged referrers the check walks after them), in the walks' order: entry
	// by entry, a document before what it points at, and again each time a document is reached
	// again (Walker.Revisit: the descriptor may carry another platform). It is called before the
	// walk reads the document, so that a rule check run there reads it, and what it points at,
	// from the stage's memory (Fetch) before the check makes the stage forget them: no staged
	// file is opened again while the stage keeps its documents. content returns the document's
	// verified bytes (only to be read, not kept; as ReadAllFrom under MaxJSONBytes, errors
	// included). at is where the walk is, under the root Label names. OnDocument runs on the
	// checking goroutine; it cannot stop the check (a graph error ends it, and OnDocument's
	// results then mean nothing).
	OnDocument func(ctx context.Context, desc ocispec.Descriptor, at Location, content func() ([]byte, error))

	// Label, when set, names the root of entry i in the locations OnDocument gets, such as
	// "index.json[3](ref x)"; unset, a root has no label. The check's own errors name the entry
	// as CheckGraph's do.
	Label func(i int) string
}

// checkEntries checks the graph of each entry as checkEntryGraphs does (one walker for all,
// the same errors), calling opts.OnDocument with each document the walks reach.
func (r *stageReach) checkEntries(ctx context.Context, entries []ocispec.Descriptor, opts GraphOptions) error {
	if opts.OnDocument == nil {
		return checkEntryGraphs(ctx, r.st.s.root, entries, r.fetch, r.exists, stageMissing)
	}
	w := NewWalker(r.fetch, WalkOptions{})
	w.Revisit = true // for OnDocument
	for i, e := range entries {
		root := Location{}
		if opts.Label != nil {
			root = labelLocation(opts.Label(i))
		}
		err := w.walk(ctx, e, Location{}, func(ctx context.Context, desc ocispec.Descriptor, at Location) error {
			if IsManifestType(desc.MediaType) || IsIndexType(desc.MediaType) {
				opts.OnDocument(ctx, desc, at.under(root), func() ([]byte, error) { return r.st.content(ctx, desc) })
				return nil // read by the walk
			}
			if r.foundWith(desc) {
				return nil // reached again (Revisit)
			}
			ok, err := r.exists(ctx, desc)
			if err != nil {
				return err
			}
			if !ok {
				return stageMissing(desc)
			}
			return nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("layout %s: %s: %w: %w", r.st.s.root, describeDesc(e), err, ErrGraphIncomplete)
		}
	}
	return nil
}

// under returns l, a location of a walk from an unlabelled root, as the location of the same
// path from root instead.
func (l Location) under(root Location) Location {
	if l.s == nil {
		return root
	}
	parent := Location{l.s.parent}.under(root)
	step := *l.s
	step.parent = parent.s
	return Location{&step}
}

// check is checkGraphWith over the stage and the layout, recording what it reaches, with one
// walker for every referrer it checks (the walk's caps count for all of them).
func (r *stageReach) check(ctx context.Context, root ocispec.Descriptor) error {
	if r.walker == nil {
		r.walker = NewWalker(r.fetch, WalkOptions{})
	}
	return checkGraphWith(ctx, r.walker, r.exists, stageMissing, root)
}

// stageMissing is the error of a blob that neither the stream nor the layout holds.
func stageMissing(desc ocispec.Descriptor) error {
	return fmt.Errorf("blob %s (%s, %d bytes) is neither in the stream nor in the layout: %w", desc.Digest, desc.MediaType, desc.Size, ErrNotFound)
}

// checkReferrers checks the graph of every staged referrer (a manifest or index with a
// subject) whose subject is reached by what was checked, or is a blob the layout holds, and so
// on until no more join: Verify walks those of the layout the import makes, so an import
// refuses what it would report. It returns ErrGraphIncomplete naming the referrer.
func (r *stageReach) checkReferrers(ctx context.Context) error {
	cands, err := r.st.stagedReferrers(ctx)
	if err != nil || len(cands) == 0 {
		return err
	}
	done := make([]bool, len(cands))
	for changed := true; changed; {
		changed = false
		for i, c := range cands {
			if done[i] || !(r.isReached(c.subject) || r.st.layoutHas(c.subject)) {
				continue
			}
			done[i], changed = true, true
			if !r.isReached(c.desc.Digest) { // else the entries' graphs hold it already
				r.carried = append(r.carried, c)
			}
			if err := r.check(ctx, c.desc); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("layout %s: referrer %s of %s: %w: %w", r.st.s.root, c.desc.Digest, c.subject, err, ErrGraphIncomplete)
			}
		}
	}
	return nil
}

// stagedDigest returns the stage's string of the digest d when d is staged (the one Push was
// given, which the stage keeps anyway), else d.
func (st *Stage) stagedDigest(d digest.Digest) digest.Digest {
	st.mu.Lock()
	defer st.mu.Unlock()
	if i, ok := st.staged[d]; ok {
		return st.order[i]
	}
	return d
}

// isStaged reports whether the stage wrote a blob of digest d.
func (st *Stage) isStaged(d digest.Digest) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	_, ok := st.staged[d]
	return ok
}

// layoutHas reports whether the layout holds a blob file of digest d.
func (st *Stage) layoutHas(d digest.Digest) bool {
	path, err := st.s.blobPath(d)
	if err != nil {
		return false
	}
	_, err = lstatRegular(path)
	return err == nil
}

// stagedReferrers returns the staged manifests and indexes that have a subject, in push order,
// as Push found them while they streamed in (every staged blob of at most MaxJSONBytes whose
// first bytes look like a JSON object was decoded then, verified, when it could name a subject).
func (st *Stage) stagedReferrers(ctx context.Context) ([]subjectRef, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Clone(st.refs), nil
}
