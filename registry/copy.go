package registry

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	oras "oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry"

	"github.com/gadgetpack/gadgetpack/layout"
)

// copier runs the graph copies of one push or pull: one tracker for progress and the result,
// and, for pushes, the repositories of the registry known to hold each blob, to mount it from
// there instead of sending it again.
type copier struct {
	opts Options
	t    *tracker

	mu      sync.Mutex
	holders map[digest.Digest][]string // repository paths on the destination registry
}

func newCopier(opts Options) *copier {
	return &copier{opts: opts, t: newTracker(opts.Progress), holders: map[digest.Digest][]string{}}
}

// graphCopy is one copy of a graph.
type graphCopy struct {
	src  content.ReadOnlyGraphStorage
	dst  content.Storage
	root ocispec.Descriptor
	// extended copies the referrers of root too (found through src's Predecessors, and theirs
	// in turn), as oras.ExtendedCopyGraph does.
	extended bool
	// repo is the destination repository's path, for mounts; "" for a pull.
	repo string
	// layoutSrc, for a push, is the layout read from: when the registry already has a manifest,
	// its blobs are counted as skipped by walking it there.
	layoutSrc *layout.Store
}

// run copies g's graph and returns the referrers it found (and copied). Requests are retried by
// the HTTP transport, blob pushes by retryPusher.
func (c *copier) run(ctx context.Context, g graphCopy) ([]ocispec.Descriptor, error) {
	var (
		refMu     sync.Mutex
		referrers []ocispec.Descriptor
	)
	opts := oras.ExtendedCopyGraphOptions{}
	opts.Concurrency = c.opts.concurrency()
	opts.MaxMetadataBytes = layout.MaxJSONBytes
	levels := newNesting(g.root)
	opts.FindSuccessors = func(ctx context.Context, fetcher content.Fetcher, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		succ, err := levels.successors(ctx, fetcher, desc)
		for _, s := range succ {
			c.t.expect(g.repo, s)
		}
		return succ, err
	}
	opts.FindPredecessors = func(ctx context.Context, src content.ReadOnlyGraphStorage, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		preds, err := src.Predecessors(ctx, desc)
		if err != nil {
			return nil, err
		}
		refMu.Lock()
		defer refMu.Unlock()
		for _, p := range preds {
			c.t.expect(g.repo, p)
			if !slices.ContainsFunc(referrers, func(d ocispec.Descriptor) bool { return d.Digest == p.Digest }) {
				referrers = append(referrers, p)
			}
		}
		return preds, nil
	}
	opts.PostCopy = func(_ context.Context, desc ocispec.Descriptor) error {
		c.t.finish(g.repo, desc, false)
		c.hold(desc, g.repo)
		return nil
	}
	opts.OnMounted = func(_ context.Context, desc ocispec.Descriptor) error {
		c.t.finish(g.repo, desc, true)
		c.hold(desc, g.repo)
		return nil
	}
	opts.OnCopySkipped = func(ctx context.Context, desc ocispec.Descriptor) error {
		c.skipped(ctx, g, desc)
		return nil
	}
	if g.repo != "" {
		opts.MountFrom = func(_ context.Context, desc ocispec.Descriptor) ([]string, error) {
			return c.holdersOf(desc, g.repo), nil
		}
	}
	src := countingSource{ReadOnlyGraphStorage: g.src, t: c.t, repo: g.repo}
	c.t.expect(g.repo, g.root)
	dst := retryPusher{Storage: g.dst, src: src, retries: c.opts.retries()}
	var target content.Storage = dst
	if m, ok := g.dst.(registry.Mounter); ok {
		target = mountingRetryPusher{retryPusher: dst, mounter: m}
	}

	stop := c.t.polling()
	defer stop()
	var err error
	if g.extended {
		err = oras.ExtendedCopyGraph(ctx, src, target, g.root, opts)
	} else {
		err = oras.CopyGraph(ctx, src, target, g.root, opts.CopyGraphOptions)
	}
	if err != nil {
		return nil, err
	}
	return referrers, nil
}

// sleep waits d, or less when ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// retryPusher is a copy destination that pushes a blob again, read afresh from src, when a push
// fails on a transient error: a 503 to an upload, a connection reset while a blob streams. The
// HTTP transport cannot retry those, since a streamed body cannot be rewound.
type retryPusher struct {
	content.Storage
	src     content.Fetcher
	retries int
}

// Push pushes desc's content, then retries up to p.retries times with back-off (from 200 ms,
// at most 3 s) while the failure is transient.
func (p retryPusher) Push(ctx context.Context, desc ocispec.Descriptor, r io.Reader) error {
	err := p.Storage.Push(ctx, desc, r)
	for attempt := 0; err != nil && attempt < p.retries && transient(err) && ctx.Err() == nil; attempt++ {
		if !sleep(ctx, min(200*time.Millisecond<<attempt, 3*time.Second)) {
			break
		}
		rc, ferr := p.src.Fetch(ctx, desc)
		if ferr != nil {
			return err
		}
		err = p.Storage.Push(ctx, desc, rc)
		_ = rc.Close()
	}
	return err
}

// mountingRetryPusher is a retryPusher to a registry, which can mount blobs from another
// repository.
type mountingRetryPusher struct {
	retryPusher
	mounter registry.Mounter
}

// Mount mounts desc from fromRepo, or pushes it (through getContent) when the registry does not.
func (p mountingRetryPusher) Mount(ctx context.Context, desc ocispec.Descriptor, fromRepo string, getContent func() (io.ReadCloser, error)) error {
	return p.mounter.Mount(ctx, desc, fromRepo, getContent)
}

// skipped counts desc as present at the destination; for a push of a manifest the registry
// already has, its blobs are counted too (oras-go does not visit them).
func (c *copier) skipped(ctx context.Context, g graphCopy, desc ocispec.Descriptor) {
	c.t.finish(g.repo, desc, true)
	c.hold(desc, g.repo)
	if g.layoutSrc == nil {
		return
	}
	_ = layout.Walk(ctx, g.layoutSrc.Fetch, desc, func(_ context.Context, d ocispec.Descriptor, _ layout.Location) error {
		c.t.finish(g.repo, d, true)
		c.hold(d, g.repo)
		return nil
	})
}

// hold records that repo holds desc.
func (c *copier) hold(desc ocispec.Descriptor, repo string) {
	if repo == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Contains(c.holders[desc.Digest], repo) {
		c.holders[desc.Digest] = append(c.holders[desc.Digest], repo)
	}
}

// holdersOf returns the repositories other than repo known to hold desc.
func (c *copier) holdersOf(desc ocispec.Descriptor, repo string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.holders[desc.Digest] {
		if r != repo {
			out = append(out, r)
		}
	}
	return out
}

// nesting bounds the graph oras-go walks for a copy, as layout.WalkOptions bounds a layout's
// walks (a registry may serve crafted documents): a manifest or index nested deeper than
// layout.DefaultMaxNesting, or a graph of more than layout.DefaultMaxDescriptors descriptors,
// stops the copy. It is safe for concurrent use (oras-go finds successors on several
// goroutines).
type nesting struct {
	root ocispec.Descriptor

	mu    sync.Mutex
	level map[digest.Digest]int // of each document whose successors were found: the root is 1
	count int
}

// newNesting returns the bounds of a copy of the graph of root.
func newNesting(root ocispec.Descriptor) *nesting {
	return &nesting{root: root, level: map[digest.Digest]int{root.Digest: 1}}
}

// successors returns desc's successors (content.Successors), or an error wrapping
// layout.ErrTooDeep or layout.ErrTooManyDescriptors, naming desc and the root, before desc is
// read when it is nested too deep.
func (n *nesting) successors(ctx context.Context, fetcher content.Fetcher, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	n.mu.Lock()
	level, ok := n.level[desc.Digest]
	if !ok {
		level = 1 // a referrer: the root of its own graph
	}
	n.mu.Unlock()
	if (layout.IsManifestType(desc.MediaType) || layout.IsIndexType(desc.MediaType)) && level > layout.DefaultMaxNesting {
		return nil, fmt.Errorf("%s %s is nested %d levels deep under %s, over the cap of %d: %w", desc.MediaType, desc.Digest, level, n.root.Digest, layout.DefaultMaxNesting, layout.ErrTooDeep)
	}
	succ, err := content.Successors(ctx, fetcher, desc)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.count += len(succ)
	if n.count > layout.DefaultMaxDescriptors {
		return nil, fmt.Errorf("the graph of %s has over %d descriptors, the cap: %w", n.root.Digest, layout.DefaultMaxDescriptors, layout.ErrTooManyDescriptors)
	}
	for _, s := range succ {
		if _, ok := n.level[s.Digest]; !ok {
			n.level[s.Digest] = level + 1
		}
	}
	return succ, nil
}
