package layout

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/gadgetpack/gadgetpack/internal/atomicfile"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// stagePrefix is the name prefix of a stage's folder in TempDir.
const stagePrefix = "stage-"

// Stage is a staging area for an all-or-nothing import into a layout. Push verifies each blob
// while it streams it into a private folder .gadgetpack-tmp/stage-<random>/ and fsyncs it;
// CheckGraph checks entries against the staged blobs and the layout's; Commit publishes every
// staged blob into blobs/ and merges the entries into index.json in one write (AddEntries);
// Discard removes everything the stage made. Before Commit nothing of the stage is visible in
// the layout, and a refused import leaves the layout's tree as it was.
//
// The stage's folder is created at the first blob it writes (with TempDir, and the layout's
// own folder for NewStageAt, when they are missing), and the stage holds an exclusive flock on
// it until Commit or Discard: CleanTemp and gc remove the folder of a stage whose process died,
// never a live one's.
//
// A Stage is safe for concurrent use: Push, Has, Exists, Fetch, Staged, CheckGraph and CheckGraphWith may run
// on many goroutines at once (an oras-go copy pushes into it on several). Commit or Discard
// comes once, after the pushes have returned. Two pushes of one digest at once write it once:
// the second waits for the first and returns ErrAlreadyExists when it succeeded, or writes the
// blob itself when it failed.
type Stage struct {
	s *Store // the layout, which may not be initialized yet

	mu       sync.Mutex                      // guards everything below
	pending  map[digest.Digest]chan struct{} // pushes in progress, closed when they end
	dir      string                          // the stage folder's path, for messages; "" until created
	lock     *os.File                        // the stage folder, opened and flocked; files are made in it by name
	root     *os.File                        // the layout's root folder, held from open on
	tmp      *os.File                        // TempDir, held: the stage folder is name in it
	name     string                          // the stage folder's name in TempDir
	madeDirs []string                        // the layout's folder and its parents, as the stage created them
	madeTemp bool                            // the stage created TempDir
	staged   map[digest.Digest]int32         // blobs written into dir: their place in order and sizes
	order    []digest.Digest                 // staged, in push order
	sizes    []int64                         // the sizes of order's blobs
	present  map[digest.Digest]int64         // blobs Push found in the layout already
	docs     [][]byte                        // verified content of order's documents, kept (stagedocs.go); nil for the others
	docBytes int64                           // the total size of docs
	docCap   int64                           // a test's cap on docBytes; 0: MaxStageDocBytes
	refs     []subjectRef                    // staged referrers, in push order, found as they streamed in
	checked  *[sha256.Size]byte              // the sum of the entries of the last CheckGraph that passed (entriesSum)
	found    []blobSize                      // the blobs it found, for AddEntries' check under the lock
	carried  []subjectRef                    // the staged referrers it checked that the entries do not reach: Commit lists them
	checkGen int                             // len(order)+len(present) when it passed
	closed   bool                            // no more Push: Commit or Discard has begun
	fresh    bool                            // made for a path that was no layout: it holds no blob to skip
	finished bool                            // Discard has removed the stage
	stray    bool                            // a failed Push may have left a file in the folder
	moved    bool                            // Commit made the stage folder blobs/sha256 (moveFolder)
	mode     atomic.Int32                    // whether staged files need an fchmod (stagefile.go)
}

// NewStage returns an empty stage for s. It writes nothing yet.
func (s *Store) NewStage(ctx context.Context) (*Stage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &Stage{s: s, staged: map[digest.Digest]int32{}, present: map[digest.Digest]int64{}, pending: map[digest.Digest]chan struct{}{}}, nil
}

// NewStageAt returns an empty stage for the layout at path, which need not exist yet: a
// missing path, or an empty directory, becomes a layout at Commit (Init). Discard then leaves no
// trace: the folders the stage created are removed. It returns ErrNotLayout (as Open does) for
// a path that holds anything else than a layout, and Open's error for a layout whose files or
// folders are not what they must be (a FIFO for oci-layout, a symlink for blobs). It writes
// nothing yet.
func NewStageAt(ctx context.Context, path string) (*Stage, error) {
	var fe *folderError
	if s, err := Open(path); err == nil {
		return s.NewStage(ctx)
	} else if !errors.Is(err, ErrNotLayout) || errors.Is(err, ErrNotRegular) || errors.As(err, &fe) {
		return nil, err // a layout with a bad file or folder is no empty path
	}
	root, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", path, err)
	}
	ents, err := os.ReadDir(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case errors.Is(err, syscall.ENOTDIR):
		return nil, fmt.Errorf("layout %s: not a directory: %w", path, ErrNotLayout)
	case err != nil:
		return nil, fmt.Errorf("layout %s: %w", path, err)
	default:
		for _, e := range ents {
			// A dead stage's leftovers in a layout that was never made are not content.
			if e.Name() != TempDir {
				return nil, fmt.Errorf("layout %s: not empty and no OCI image layout (%s): %w", path, e.Name(), ErrNotLayout)
			}
		}
	}
	s := &Store{root: root}
	st, err := s.NewStage(ctx)
	if err == nil {
		st.fresh = true // a blob another writer puts there meanwhile is kept at publishing
	}
	return st, err
}

// Path returns the absolute path of the stage's layout.
func (st *Stage) Path() string { return st.s.root }

// open creates the stage folder (and what is missing above it) and takes its flock. st.mu is
// held.
func (st *Stage) open() error {
	if st.closed {
		return fmt.Errorf("layout %s: stage already committed or discarded", st.s.root)
	}
	if st.dir != "" {
		return nil
	}
	if err := st.mkdirRoot(st.s.root); err != nil {
		return fmt.Errorf("layout %s: %w", st.s.root, err)
	}
	// The root is opened once and TempDir below it without following a symlink: every file
	// the stage writes, renames or removes is in folders it holds (see folders.go).
	root, err := st.s.openRoot()
	if err != nil {
		return err
	}
	tmp, made, err := openFolder(root, TempDir, true)
	if err != nil {
		_ = root.Close()
		return err
	}
	f, name, err := atomicfile.MkdirLockedAt(tmp, stagePrefix+"*")
	if err != nil {
		_ = tmp.Close()
		_ = root.Close()
		return fmt.Errorf("layout %s: stage: %w", st.s.root, err)
	}
	st.madeTemp = made
	st.dir, st.lock, st.root, st.tmp, st.name = f.Name(), f, root, tmp, name
	return nil
}

// mkdirRoot creates dir and its missing parents, remembering each one it created for Discard.
func (st *Stage) mkdirRoot(dir string) error {
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := st.mkdirRoot(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	st.madeDirs = append(st.madeDirs, dir)
	return nil
}

// stagedName returns the name of d's staged file in the stage folder: its blob's name in
// blobs/sha256 for a sha256 digest (the folder may become blobs/sha256: moveFolder), else
// "<alg>-<hex>".
func stagedName(d digest.Digest) string {
	if d.Algorithm() == digest.SHA256 {
		return d.Encoded()
	}
	return d.Algorithm().String() + "-" + d.Encoded()
}

// Push reads the content r yields as the blob desc describes, verifying it on the way
// (ErrShortRead, ErrTrailingData or ErrDigestMismatch, naming the digest, when it does not
// match; nothing is kept then). A blob that the layout holds already (a regular file of the
// right size) is read and verified all the same, so that a stream is checked whole, but not
// written. Otherwise the content goes into a file of the stage through a 1 MiB buffer, and the
// kernel starts writing out a blob of 1 MiB or more (sync_file_range); Commit makes every
// staged blob durable before it publishes any. A staged blob that may be a document (a small
// JSON object) is kept in memory too, under MaxStageDocBytes in all, for the graph checks and
// Fetch, and a referrer among them is recorded for CheckGraph: no staged file is read again
// while the cap holds.
// Push returns ErrAlreadyExists, without reading r, for a digest pushed before into this stage
// (or by a Push of it in progress, which it waits for), and ErrInvalidDigest for a bad digest.
// ctx is checked between chunks.
func (st *Stage) Push(ctx context.Context, desc ocispec.Descriptor, r io.Reader) error {
	v, err := NewVerifyReader(r, desc)
	if err != nil {
		return err
	}
	done, err := st.claim(ctx, desc.Digest)
	if err != nil {
		return err
	}
	defer done()
	var have bool
	if !st.fresh {
		have, err = st.s.Exists(ctx, desc)
	}
	if errors.Is(err, ErrSizeMismatch) {
		return st.damagedOrStream(ctx, v, desc, err)
	}
	if err != nil && !errors.Is(err, ErrNotLayout) {
		return err
	}
	if have {
		if err := drain(ctx, v); err != nil {
			return err
		}
		st.mu.Lock()
		st.present[desc.Digest] = desc.Size
		st.mu.Unlock()
		return nil
	}
	st.mu.Lock()
	err = st.open()
	dir := st.lock
	st.mu.Unlock()
	if err != nil {
		return err
	}
	name := stagedName(desc.Digest)
	f, err := createStaged(dir, name)
	if err != nil {
		return fmt.Errorf("layout %s: staging blob %s: %w", st.s.root, desc.Digest, err)
	}
	tee := newDocTee(&f, desc.Size)
	bp := bufPool.Get().(*[]byte)
	_, err = v.copyTo(ctx, tee, *bp)
	bufPool.Put(bp)
	if err == nil {
		err = st.setMode(&f)
	}
	if err == nil && desc.Size >= syncAheadMin {
		// Start writing it out now, so that the disk works while the stream goes on; Commit
		// fsyncs it (by then mostly a no-op) before publishing anything.
		f.syncAhead()
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("layout %s: staging blob %s: %w", st.s.root, desc.Digest, cerr)
	}
	if err != nil {
		if atomicfile.UnlinkAt(dir, name) != nil {
			st.mu.Lock()
			st.stray = true // Commit must not publish the folder as it is
			st.mu.Unlock()
		}
		return err
	}
	data := tee.doc()
	var ref *subjectRef
	if data != nil {
		ref = stagedReferrerOf(desc, data)
	}
	st.mu.Lock()
	st.staged[desc.Digest] = int32(len(st.order))
	st.order = append(st.order, desc.Digest)
	st.sizes = append(st.sizes, desc.Size)
	if data != nil {
		st.remember(desc, data, ref)
	}
	st.mu.Unlock()
	return nil
}

// setMode gives the staged file f the mode blobPerm: nothing to do when the files of this stage
// get it at their creation (the first one tells), else an fchmod.
func (st *Stage) setMode(f *stageFile) error {
	m, err := stageModeOf(&st.mode, f)
	if err == nil && m == stageModeChmod {
		err = f.chmod()
	}
	if err != nil {
		return fmt.Errorf("layout %s: %w", st.s.root, err)
	}
	return nil
}

// syncAheadMin is the size from which Push starts writing a staged blob out at once
// (sync_file_range): a big blob's writeback then overlaps the rest of the stream. Below it the
// call costs more than it saves (1.9 s of 80,000 small blobs) and Commit's one syncfs writes
// them out together.
const syncAheadMin = 1 << 20

// claim makes the calling Push the only one in progress for d, waiting while another one is
// (or until ctx ends). It returns ErrAlreadyExists when d is staged or found present, and an
// error when the stage is finished. The caller calls done when its push ends, after recording
// what it took.
func (st *Stage) claim(ctx context.Context, d digest.Digest) (done func(), err error) {
	st.mu.Lock()
	for {
		if st.closed {
			st.mu.Unlock()
			return nil, fmt.Errorf("layout %s: stage already committed or discarded", st.s.root)
		}
		_, staged := st.staged[d]
		_, present := st.present[d]
		if staged || present {
			st.mu.Unlock()
			return nil, fmt.Errorf("blob %s: pushed twice: %w", d, ErrAlreadyExists)
		}
		wait, busy := st.pending[d]
		if !busy {
			break
		}
		st.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		st.mu.Lock()
	}
	ch := make(chan struct{})
	st.pending[d] = ch
	st.mu.Unlock()
	return func() {
		st.mu.Lock()
		delete(st.pending, d)
		st.mu.Unlock()
		close(ch)
	}, nil
}

// drain reads r to its end through a pooled buffer, checking ctx between chunks.
func drain(ctx context.Context, r io.Reader) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, err := r.Read(*bp)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// stagedSize returns the size of the staged blob d, and whether d is staged. st.mu is held.
func (st *Stage) stagedSize(d digest.Digest) (int64, bool) {
	i, ok := st.staged[d]
	if !ok {
		return 0, false
	}
	return st.sizes[i], true
}

// Has reports whether Push has taken desc's blob: staged, or found in the layout.
func (st *Stage) Has(desc ocispec.Descriptor) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if i, ok := st.staged[desc.Digest]; ok {
		return st.sizes[i] == desc.Size
	}
	n, ok := st.present[desc.Digest]
	return ok && n == desc.Size
}

// Staged returns how many blobs the stage wrote and their total size.
func (st *Stage) Staged() (blobs int, bytes int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, n := range st.sizes {
		bytes += n
	}
	return len(st.staged), bytes
}

// Fetch opens desc's blob for a verified read, as Store.Fetch does: from the stage when it is
// staged there (from memory for a document Push kept, verified then, until the graph check
// read it: see CheckGraph), else from the layout (ErrNotFound when neither has it).
func (st *Stage) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	return st.fetch(ctx, desc, false)
}

// fetch is Fetch; forget makes the stage forget a kept document once it was read to its end
// (the graph check's reads: a later Fetch reads its file).
func (st *Stage) fetch(ctx context.Context, desc ocispec.Descriptor, forget bool) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st.mu.Lock()
	n, ok := st.stagedSize(desc.Digest)
	dir, data := st.lock, st.keptDoc(desc.Digest)
	st.mu.Unlock()
	if !ok {
		rc, err := st.s.fetchOwn(ctx, desc)
		if errors.Is(err, ErrNotLayout) || errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("blob %s: %w", desc.Digest, ErrNotFound)
		}
		return rc, err
	}
	if n != desc.Size {
		return nil, fmt.Errorf("blob %s: staged with %d bytes, descriptor says %d: %w", desc.Digest, n, desc.Size, ErrSizeMismatch)
	}
	if data != nil {
		return st.keptReader(desc.Digest, data, forget), nil // verified as it streamed in
	}
	f, err := openStaged(dir, desc.Digest)
	if err != nil {
		return nil, fmt.Errorf("blob %s: staged file: %w", desc.Digest, err)
	}
	v, err := NewVerifyReader(f, desc)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &blobReader{ctx: ctx, f: f, v: v}, nil
}

// Exists reports whether desc's blob is staged or in the layout, of desc's size: oras-go's
// content.Storage Exists, so that a copy into the stage skips what the layout holds. A staged
// blob of another size is reported as absent with ErrSizeMismatch, as the layout's are. A blob
// that a Push is writing at the moment is not there yet.
func (st *Stage) Exists(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	st.mu.Lock()
	n, ok := st.stagedSize(desc.Digest)
	st.mu.Unlock()
	if ok {
		if n != desc.Size {
			return false, fmt.Errorf("blob %s: staged with %d bytes, descriptor says %d: %w", desc.Digest, n, desc.Size, ErrSizeMismatch)
		}
		return true, nil
	}
	ok, err := st.s.Exists(ctx, desc)
	if errors.Is(err, ErrNotLayout) {
		return false, nil
	}
	return ok, err
}

// CheckGraph checks that every entry's graph is complete and sound over the staged blobs and
// the layout's, as AddEntries checks it in the layout alone: manifests and indexes are read
// and verified (from the stage first), other blobs must be staged or present with their
// declared size; then the staged referrers of what they reach (manifests and indexes whose
// subject is reached or held by the layout), as Verify walks them. A delta whose base the
// layout lacks fails here. It returns an error wrapping
// ErrGraphIncomplete that names the entry, the first missing or damaged blob and how it is
// reached; ErrTooLarge and ErrBadManifest come wrapped in it for documents over MaxJSONBytes or
// that do not parse. The stage forgets each document it kept once the check read it.
func (st *Stage) CheckGraph(ctx context.Context, entries []ocispec.Descriptor) error {
	return st.CheckGraphWith(ctx, entries, GraphOptions{})
}

// CheckGraphWith is CheckGraph, handing each document the entries' walks reach to
// opts.OnDocument on the way (see GraphOptions).
func (st *Stage) CheckGraphWith(ctx context.Context, entries []ocispec.Descriptor, opts GraphOptions) error {
	r := st.newReach()
	if err := r.checkEntries(ctx, entries, opts); err != nil {
		return err
	}
	if err := r.checkReferrers(ctx); err != nil {
		return err
	}
	sum, found := entriesSum(entries), r.found()
	st.mu.Lock()
	st.found = found
	st.checked, st.checkGen, st.carried = sum, len(st.order)+len(st.present), r.carried
	st.mu.Unlock()
	return nil
}

// withReferrers returns entries with, after them, an unnamed entry for each referrer of refs
// that entries do not hold: a referrer an import or a copy carries is listed in index.json,
// as ig's store lists them, so that the layout's closures find it (see ReferrerTable).
func withReferrers(entries []ocispec.Descriptor, refs []subjectRef) []ocispec.Descriptor {
	if len(refs) == 0 {
		return entries
	}
	have := make(map[digest.Digest]bool, len(entries))
	for _, e := range entries {
		have[e.Digest] = true
	}
	out := slices.Clip(entries)
	for _, r := range refs {
		if !have[r.desc.Digest] {
			have[r.desc.Digest] = true
			out = append(out, asIndexEntry(r))
		}
	}
	return out
}

// checkedAlready reports whether the last CheckGraph that passed had entries equal to entries
// (the same JSON, what index.json gets), with nothing pushed since: Commit need not walk the
// same graphs again. st.mu is held.
func (st *Stage) checkedAlready(entries []ocispec.Descriptor) bool {
	if st.checked == nil || st.checkGen != len(st.order)+len(st.present) {
		return false
	}
	sum := entriesSum(entries)
	return sum != nil && *sum == *st.checked
}

// entriesSum returns the sha256 of entries as JSON: what CheckGraph remembers of its entries
// for Commit, instead of a copy of them (2 MB at 20,000 entries). It returns nil for entries
// that do not encode (never the case of decoded ones): Commit checks those again.
func entriesSum(entries []ocispec.Descriptor) *[sha256.Size]byte {
	h := sha256.New()
	for _, e := range entries { // one at a time: encoding/json pools its buffer, grown to the size of what it encoded
		data, err := json.Marshal(e)
		if err != nil {
			return nil
		}
		h.Write(data)
		h.Write([]byte{'\n'})
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return &sum
}

// Commit makes the import happen: it checks the entries' graphs (CheckGraph, unless the last
// CheckGraph that passed had the same entries and nothing was pushed since), initializes the
// layout if the stage was made for a path that is none yet (Init), publishes every staged blob
// into blobs/ (each fsynced first, then a no-replace rename, folder fsynced: a blob another
// writer published meanwhile is kept as it is; many blobs into a layout without blobs/sha256
// go by one rename of the stage folder, which becomes that folder: stagemove.go), merges entries into index.json (AddEntries, with its checks under the lock,
// ErrRefExists unless opts.Force), with an unnamed entry for each staged referrer it checked
// that the entries' graphs do not reach, and removes the stage. On an error before publishing nothing
// has changed in the layout; after it, the published blobs stay until a gc (they are
// unreferenced when AddEntries refuses). The stage is finished either way. Commit refuses,
// and discards the stage, while a Push is still in progress.
func (st *Stage) Commit(ctx context.Context, entries []ocispec.Descriptor, opts AddOptions) (res *AddResult, err error) {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return nil, fmt.Errorf("layout %s: stage already committed or discarded", st.s.root)
	}
	busy := len(st.pending)
	st.closed = true // no Push from now on
	dir, root, order := st.lock, st.root, slices.Clone(st.order)
	checked := st.checkedAlready(entries)
	if checked {
		st.docs, st.docBytes = nil, 0 // read: the merge into index.json wants the memory
	}
	st.mu.Unlock()
	defer st.Discard()
	if busy != 0 {
		return nil, fmt.Errorf("layout %s: commit while %d pushes are in progress", st.s.root, busy)
	}
	if !checked {
		if err := st.CheckGraph(ctx, entries); err != nil {
			return nil, err
		}
	}
	// Many sha256 blobs staged for a layout without blobs/sha256 (a new one): the stage folder
	// may become that folder by one rename (moveFolder), instead of a rename per blob.
	whole := st.mayMove(order)
	if err := checkLayoutFile(st.s.root); err != nil {
		if _, err := initLayout(st.s.root, !whole); err != nil {
			return nil, err
		}
	}
	var blobs *os.File
	if whole {
		if blobs, err = st.prepareMove(root, dir); err != nil {
			return nil, err
		}
		if blobs != nil {
			defer func() { _ = blobs.Close() }()
		}
	}
	synced, err := st.syncStaged(ctx, dir, order)
	if err != nil {
		return nil, err
	}
	moved := false
	if blobs != nil && synced {
		if moved, err = st.moveFolder(blobs); err != nil {
			return nil, err
		}
	}
	// Each blob is renamed from the stage folder into blobs/<alg>/, both held open: the
	// algorithm folders are opened (made when missing) below the root the stage holds, never
	// through a symlink.
	dirs := map[digest.Algorithm]*os.File{}
	defer func() {
		for _, d := range dirs {
			_ = d.Close()
		}
	}()
	for _, d := range order {
		if moved {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := checkDigest(d); err != nil {
			return nil, err
		}
		bdir, ok := dirs[d.Algorithm()]
		if !ok {
			if bdir, _, err = openFolder(root, filepath.Join(BlobsDir, d.Algorithm().String()), true); err != nil {
				return nil, err
			}
			dirs[d.Algorithm()] = bdir
		}
		// The data is durable already (syncStaged); the folders are fsynced once below.
		countRename()
		if err := atomicfile.MoveAt(dir, stagedName(d), bdir, d.Encoded(), false); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("layout %s: publishing blob %s: %w", st.s.root, d, err)
		}
	}
	// Every rename is durable before index.json names any of the blobs: a crash before this
	// point loses at most blobs that nothing refers to (gc removes what stays in the stage).
	for alg, bdir := range dirs {
		if err := syncFile(bdir); err != nil {
			return nil, fmt.Errorf("layout %s: %s/%s: %w", st.s.root, BlobsDir, alg, err)
		}
	}
	store := st.s
	st.mu.Lock()
	opts.found = st.found // the graphs were checked: under the lock, their blobs must still be there
	entries = withReferrers(entries, st.carried)
	st.mu.Unlock()
	return store.AddEntries(ctx, entries, opts)
}

// syncStaged makes the staged files of order in the stage folder dir durable before any of
// them is published: with one syncfs of the file system that holds the layout (what thousands
// of small blobs want: one call instead of one fsync each), or, for a few files or where the
// kernel has no syncfs, by fsyncing each file on a few goroutines. syncfs also writes out what
// other programs left dirty on that file system, which a copy of one ref should not wait for.
// It reports whether it called syncfs, which made the stage folder itself durable too.
func (st *Stage) syncStaged(ctx context.Context, dir *os.File, order []digest.Digest) (whole bool, err error) {
	if len(order) == 0 {
		return false, nil
	}
	if len(order) <= syncEachMax {
		return false, st.syncEach(ctx, dir, order)
	}
	err = syncFS(dir)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, unix.ENOSYS) {
		return false, fmt.Errorf("layout %s: syncfs: %w", st.s.root, err)
	}
	return false, st.syncEach(ctx, dir, order)
}

// syncEach fsyncs the staged files of order in the stage folder dir, on a few goroutines.
func (st *Stage) syncEach(ctx context.Context, dir *os.File, order []digest.Digest) error {
	paths := make(chan digest.Digest)
	errs := make(chan error, syncJobs)
	for range syncJobs {
		go func() {
			var first error
			for d := range paths {
				if first == nil {
					first = syncStagedFile(dir, d)
				}
			}
			errs <- first
		}()
	}
	var err error
	for _, d := range order {
		if err = ctx.Err(); err != nil {
			break
		}
		paths <- d
	}
	close(paths)
	for range syncJobs {
		if e := <-errs; err == nil && e != nil {
			err = fmt.Errorf("layout %s: %w", st.s.root, e)
		}
	}
	return err
}

// syncJobs is how many staged files Commit fsyncs at once.
const syncJobs = 4

// syncEachMax is the most staged files Commit fsyncs one by one where it has syncfs: one ref's
// closure (an index, its manifests, configs and layers, and their signatures) fits.
const syncEachMax = 16

// openStaged opens d's staged file in the stage folder dir for reading: never following a
// symlink, never blocking, and only a regular file (ErrNotRegular naming what it is).
func openStaged(dir *os.File, d digest.Digest) (*os.File, error) {
	if stagedOpens != nil {
		stagedOpens.Add(1)
	}
	f, err := atomicfile.OpenFileAt(dir, stagedName(d), os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, fmt.Errorf("%s is a symlink: %w", stagedName(d), ErrNotRegular)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = notRegular(stagedName(d), fi.Mode())
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// stagedOpens, when a test sets it, counts the staged files opened for reading.
var stagedOpens *atomic.Int64

// syncStagedFile fsyncs d's staged file in the stage folder dir.
func syncStagedFile(dir *os.File, d digest.Digest) error {
	f, err := openStaged(dir, d)
	if err != nil {
		return err
	}
	err = syncFile(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Discard removes the stage: its folder and files, TempDir when the stage created it and it is
// empty, and the layout's folder and its parents when the stage created them and they are
// empty. It is a no-op after
// Commit or a first Discard. It returns nothing: what it cannot remove, a gc removes once this
// process is gone. It comes after the pushes have returned; a Push still writing then fails.
func (st *Stage) Discard() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.finished {
		return
	}
	st.closed, st.finished = true, true
	if st.lock != nil {
		if !st.moved { // else the folder is blobs/sha256 now, and st.name may be another's
			_ = atomicfile.RemoveAllAt(st.tmp, st.name)
		}
		_ = st.lock.Close()
		st.lock = nil
		if st.madeTemp {
			_ = unix.Unlinkat(int(st.root.Fd()), TempDir, unix.AT_REMOVEDIR) // only when empty
		}
		_ = st.tmp.Close()
		_ = st.root.Close()
	}
	for i := len(st.madeDirs) - 1; i >= 0; i-- {
		if os.Remove(st.madeDirs[i]) != nil {
			break
		}
	}
}
