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
// so that the staged referrers of what is reached can be checked as Verify walks them.
type stageReach struct {
	st      *Stage
	mu      sync.Mutex
	reached map[digest.Digest]bool // true once found (in found), false when only reached
	found   []blobSize             // the blobs the walks found, staged or in the layout, each once
	walker  *Walker                // of the referrers' checks
	carried []subjectRef           // the staged referrers checked that the entries do not reach
}

// blobSize is a blob's digest and size.
type blobSize struct {
	d    digest.Digest
	size int64
}

// newReach returns an empty stageReach of st.
func (st *Stage) newReach() *stageReach {
	return &stageReach{st: st, reached: map[digest.Digest]bool{}}
}

// mark records d as reached.
func (r *stageReach) mark(d digest.Digest) {
	r.mu.Lock()
	if _, ok := r.reached[d]; !ok {
		r.reached[d] = false
	}
	r.mu.Unlock()
}

// isReached reports whether d was reached.
func (r *stageReach) isReached(d digest.Digest) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.reached[d]
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

// markFound records desc's blob as found, staged or in the layout, with desc's size. A staged
// blob is recorded with the stage's own string of its digest: the one the walk decoded from a
// document goes with the document.
func (r *stageReach) markFound(desc ocispec.Descriptor) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.reached[desc.Digest] {
		r.reached[desc.Digest] = true
		r.found = append(r.found, blobSize{d: r.st.stagedDigest(desc.Digest), size: desc.Size})
	}
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
	w.Revisit = true // for OnDocument; a blob reached again is looked up again, with the same answer
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
