package layout

import (
	"context"
	"hash/maphash"
	"runtime"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// A walk of many roots (an export of every ref) is sequential: it visits the blobs in one
// order, which is the order of the output. What costs is reading each blob it reads, verifying
// it and decoding it, one after the other. A readAhead does that on worker goroutines, ahead of
// the walk and in its order: each worker takes the next root not taken yet and goes through
// its graph depth first, as the walk will, reading each manifest, index and JSON config whole
// (verified, decoded, a config's rules checked) and, for a caller that writes the blobs out,
// each small blob; it only stats the others. The walk takes what was read for each descriptor
// as it visits it (waiting for a worker that is reading it) and does the rest itself: the walk
// still decides everything, in its order, and what it finds, fails and reports is what it would
// without a readAhead. A blob a worker could not read (absent, damaged, too deep, over a cap,
// or not reached yet) is read by the walk as before, with its errors.
//
// Memory is bounded: workers stop reading ahead while the blobs read and not yet taken hold
// more than aheadBytes or number aheadItems, and what the walk passed by is dropped when it
// ends a root.

// Bounds of a readAhead.
const (
	// aheadBytes caps the content read ahead and not taken yet.
	aheadBytes = 2 << 20
	// aheadItems caps the descriptors read ahead and not taken yet.
	aheadItems = 512
	// aheadSmallBlob is the size up to which a readAhead with small set reads any blob whole.
	aheadSmallBlob = 64 << 10
	// aheadWorkers caps the workers of a readAhead (and GOMAXPROCS does).
	aheadWorkers = 2
	// aheadBatch is how many roots the workers must be through with past the walk's before a
	// walk waiting for them goes on: it wakes once per batch, not once per blob (a hand-over
	// per blob costs a context switch, many milliseconds each on a loaded machine).
	aheadBatch = 32
)

// aheadItem is what a readAhead read for one descriptor (one descKey). Its fields are set by
// the worker that claimed it and read only once ready is set (under readAhead.mu).
type aheadItem struct {
	key  descKey
	root int // the root whose graph the worker was in
	// data is the verified content, when read whole; doc its decoding, for a manifest or an
	// index that decodes; configOK says that a JSON config's content passed configViolations;
	// present says that the blob is a regular file of the descriptor's size (read whole, or
	// stat'ed).
	data     []byte
	doc      *doc
	configOK bool
	present  bool
	ready    bool // read (under readAhead.mu)
	counted  bool // its data counts in readAhead.bytes
}

// readAhead reads blobs ahead of a walk of roots; see above. Its methods are safe for
// concurrent use; the walk calls take and rootDone, from one goroutine.
type readAhead struct {
	s     *Store
	roots int                            // how many
	root  func(i int) ocispec.Descriptor // root i
	small bool                           // read whole every blob up to aheadSmallBlob, for a caller writing them out
	skip  func(digest.Digest) bool       // when set with small: blobs the caller will not write out
	dirs  *blobDirs
	dir   int // blobs/sha256's descriptor
	seed  maphash.Seed

	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once

	mu       sync.Mutex
	workers  *sync.Cond // workers wait here for the budget
	walker   *sync.Cond // the walk waits here for a batch of roots
	items    map[descKey]*aheadItem
	fifo     []*aheadItem // the items not taken yet, oldest first (some taken ones too)
	claimed  map[uint64]struct{}
	bytes    int64  // content of the items not taken yet
	finished []bool // the roots a worker is through with
	doneUpTo int    // every root before it is finished
	nextRoot int    // the next root a worker takes
	walkRoot int    // the root the walk is in (those before it are done)
	live     int    // workers running
	blocked  int    // workers waiting for the budget
	// waitingFor is the item the walk waits for a worker to read.
	waitingFor *aheadItem
	stopped    bool
}

// startReadAhead starts reading ahead of a walk of root(0), root(1)... root(roots-1), in that
// order (root is called from the workers); small reads whole
// every small blob too, but those skip (when not nil) names. It returns nil (and the walk reads
// everything itself) when the layout has no blobs/sha256 folder or there is no root. stop ends
// it.
func (s *Store) startReadAhead(ctx context.Context, roots int, root func(i int) ocispec.Descriptor, small bool, skip func(digest.Digest) bool) *readAhead {
	if roots == 0 {
		return nil
	}
	dirs, err := s.openBlobDirs()
	if err != nil {
		return nil
	}
	d, err := dirs.get(blobAtAlg)
	if err != nil {
		dirs.close()
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	ra := &readAhead{
		s: s, roots: roots, root: root, small: small, skip: skip, dirs: dirs, dir: int(d.Fd()), seed: maphash.MakeSeed(),
		cancel: cancel, items: map[descKey]*aheadItem{}, claimed: map[uint64]struct{}{},
		finished: make([]bool, roots),
	}
	ra.workers = sync.NewCond(&ra.mu)
	ra.walker = sync.NewCond(&ra.mu)
	// A walk waiting in take wakes up when ctx ends, and reads for itself (then sees ctx).
	context.AfterFunc(ctx, func() {
		ra.mu.Lock()
		ra.stopped = true
		ra.workers.Broadcast()
		ra.walker.Broadcast()
		ra.mu.Unlock()
	})
	ra.live = min(aheadWorkers, runtime.GOMAXPROCS(0), roots)
	for range ra.live {
		ra.wg.Go(func() { ra.work(ctx) })
	}
	return ra
}

// stop ends the workers, waits for them and closes the folders. It is safe on nil and more
// than once.
func (ra *readAhead) stop() {
	if ra == nil {
		return
	}
	ra.stopOnce.Do(func() {
		ra.cancel() // and so stopped, by the AfterFunc
		ra.wg.Wait()
		ra.dirs.close()
	})
}

// take returns what was read ahead for desc (nil when nothing was, or ra stopped first), and
// makes sure no worker reads it later. It waits for a worker reading it now; when no worker
// has read it and one may still do so in the root the walk is in, it waits once for the
// workers to be through with a batch of roots past the walk's (or to wait for the budget).
func (ra *readAhead) take(desc ocispec.Descriptor) *aheadItem {
	if ra == nil {
		return nil
	}
	key := keyOf(desc)
	ra.mu.Lock()
	defer ra.mu.Unlock()
	for waited := false; ; waited = true {
		it, ok := ra.items[key]
		switch {
		case ok && it.ready:
			delete(ra.items, key)
			ra.release(it)
			return it
		case ok && !ra.stopped:
			ra.waitingFor = it
			ra.walker.Wait()
			ra.waitingFor = nil
			continue
		case ok, waited, ra.stopped, ra.walkRoot >= ra.roots, ra.finished[ra.walkRoot]:
			// Nothing read, and no worker will come to it now: the walk reads it.
			if ok {
				delete(ra.items, key)
				ra.release(it)
			}
			ra.claimed[maphash.Comparable(ra.seed, key)] = struct{}{}
			return nil
		}
		for !ra.stopped && ra.doneUpTo <= min(ra.walkRoot+aheadBatch, ra.roots-1) && ra.blocked < ra.live {
			ra.walker.Wait()
		}
	}
}

// release takes it's content out of the budget, if counted, and wakes the workers waiting
// for it once half of it is free; under ra.mu.
func (ra *readAhead) release(it *aheadItem) {
	if it.counted {
		ra.bytes -= int64(len(it.data))
		it.counted = false
	}
	if ra.blocked > 0 && ra.bytes <= aheadBytes/2 && len(ra.items) <= aheadItems/2 {
		ra.workers.Broadcast()
	}
}

// rootDone tells that the walk has ended root i (and every one before it): what was read for
// them and not taken goes, and workers skip those roots.
func (ra *readAhead) rootDone(i int) {
	if ra == nil {
		return
	}
	ra.mu.Lock()
	defer ra.mu.Unlock()
	ra.walkRoot = i + 1
	for len(ra.fifo) > 0 {
		it := ra.fifo[0]
		if it.root > i {
			break
		}
		ra.fifo[0] = nil
		ra.fifo = ra.fifo[1:]
		if ra.items[it.key] == it { // not taken: the walk passed it by
			delete(ra.items, it.key)
			ra.release(it)
		}
	}
	if ra.blocked > 0 {
		ra.workers.Broadcast() // the walk's root is never held back
	}
}

// claim registers desc as read by the worker in root i, waiting while the budget is spent. It
// returns nil when desc is claimed already, the walk is past root i, or ra stopped. done, when
// not nil, is the item the worker read last: it is completed first, under the same lock (one
// lock a blob less; the workers and the walk contend for it), and before any wait, since the
// walk may be waiting for it.
func (ra *readAhead) claim(done *aheadItem, root int, desc ocispec.Descriptor) *aheadItem {
	key := keyOf(desc)
	h := maphash.Comparable(ra.seed, key)
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if done != nil {
		ra.completeLocked(done)
	}
	// The budget holds back the roots after the walk's only: the walk may be waiting for
	// what a worker reads in its own.
	for !ra.stopped && root > ra.walkRoot && (ra.bytes > aheadBytes || len(ra.items) >= aheadItems) {
		ra.blocked++
		ra.walker.Broadcast()
		ra.workers.Wait()
		ra.blocked--
	}
	if ra.stopped || root < ra.walkRoot {
		return nil
	}
	if _, ok := ra.claimed[h]; ok {
		return nil
	}
	ra.claimed[h] = struct{}{}
	it := &aheadItem{key: key, root: root}
	ra.items[key] = it
	// The fifo holds taken items too until a sweep reaches them: compact it when it is mostly
	// those, so that it stays the size of what is held.
	if len(ra.fifo) >= 2*aheadItems {
		live := ra.fifo[:0]
		for _, x := range ra.fifo {
			if ra.items[x.key] == x {
				live = append(live, x)
			}
		}
		clear(ra.fifo[len(live):])
		ra.fifo = live
	}
	ra.fifo = append(ra.fifo, it)
	return it
}

// completeLocked records that it has been read, counting its content while the walk has not
// taken it; under ra.mu.
func (ra *readAhead) completeLocked(it *aheadItem) {
	it.ready = true
	if ra.items[it.key] == it {
		it.counted = true
		ra.bytes += int64(len(it.data))
	}
	if ra.waitingFor == it {
		ra.walker.Broadcast()
	}
}

// work is a worker: it takes the next root not taken yet and reads ahead in its graph, until
// no root is left or ctx ends.
func (ra *readAhead) work(ctx context.Context) {
	defer func() {
		ra.mu.Lock()
		ra.live--
		ra.walker.Broadcast()
		ra.mu.Unlock()
	}()
	for ctx.Err() == nil {
		ra.mu.Lock()
		i := max(ra.nextRoot, ra.walkRoot)
		ra.nextRoot = i + 1
		ra.mu.Unlock()
		if i >= ra.roots {
			return
		}
		done := ra.readGraph(ctx, i)
		ra.mu.Lock()
		if done != nil {
			ra.completeLocked(done)
		}
		ra.finished[i] = true
		for ra.doneUpTo < ra.roots && ra.finished[ra.doneUpTo] {
			ra.doneUpTo++
		}
		if ra.doneUpTo > min(ra.walkRoot+aheadBatch, ra.roots-1) || ra.walkRoot == i {
			ra.walker.Broadcast()
		}
		ra.mu.Unlock()
	}
}

// aheadFrame is a descriptor a worker will read, with how many documents lead to it.
type aheadFrame struct {
	desc  ocispec.Descriptor
	depth int
}

// readGraph reads ahead in the graph of root i, depth first and in the walk's order, each
// descriptor that no one claimed yet; it does not go below a document it did not claim, nor
// deeper than DefaultMaxNesting documents. Each item it read is completed by its next claim;
// it returns the last one, which the caller completes.
func (ra *readAhead) readGraph(ctx context.Context, i int) (done *aheadItem) {
	stack := []aheadFrame{{desc: ra.root(i)}}
	for len(stack) > 0 && ctx.Err() == nil {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		it := ra.claim(done, i, f.desc)
		done = nil
		if it == nil {
			continue
		}
		ra.read(it, f.desc)
		done = it
		if it.doc == nil || f.depth+1 >= DefaultMaxNesting {
			continue
		}
		kids := it.doc.children(f.desc.MediaType)
		for k := len(kids) - 1; k >= 0; k-- {
			stack = append(stack, aheadFrame{desc: kids[k].desc, depth: f.depth + 1})
		}
	}
	return done
}

// read reads what the walk will read of desc into it; it leaves it empty on any error.
func (ra *readAhead) read(it *aheadItem, desc ocispec.Descriptor) {
	if desc.Digest.Algorithm() != blobAtAlg || desc.Size < 0 {
		return
	}
	isDoc := IsManifestType(desc.MediaType) || IsIndexType(desc.MediaType)
	isConfig := isJSONConfigType(desc.MediaType)
	whole := (isDoc || isConfig) && desc.Size <= MaxJSONBytes
	if !whole && !(ra.small && desc.Size <= aheadSmallBlob && (ra.skip == nil || !ra.skip(desc.Digest))) {
		if checkDigest(desc.Digest) != nil { // the hex becomes a file name
			return
		}
		if err := statBlobAt(ra.dir, desc.Digest.Encoded(), desc.Size); err == nil {
			it.present = true
		}
		return
	}
	data, err := ra.s.readBlobAt(ra.dir, desc)
	if err != nil {
		return
	}
	switch {
	case isDoc:
		d, err := decodeDoc(data)
		if err != nil {
			return
		}
		it.doc = d
	case isConfig:
		it.configOK = configViolations(desc, data) == nil
	}
	it.data, it.present = data, true
}
