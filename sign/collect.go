package sign

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// FetchFunc opens the verified content of a descriptor, as layout.VerifyOptions' rule funcs
// receive it.
type FetchFunc = func(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error)

// maxCollected caps the bytes a Collector keeps (signature documents are a few KiB each).
const maxCollected = 256 << 20

// Collector gathers, from the rule calls of one verify or import pass (layout.Verify,
// tarball.Verify, tarball.Import), what checking signatures needs: index.json's entries,
// every signature manifest with its payload or bundle, every referrers index, and the subject
// of every manifest. Its CheckIndex and CheckManifest have the rule func signatures of
// layout.VerifyOptions and never return findings themselves; Graph then checks the signatures
// without reading the layout or the stream again. Safe for concurrent use.
type Collector struct {
	mu        sync.Mutex
	entries   []ocispec.Descriptor
	blobs     map[digest.Digest][]byte
	referrers map[digest.Digest][]ocispec.Descriptor
	seenRef   map[digest.Digest]bool
	size      int64
	err       error
}

// NewCollector returns an empty Collector.
func NewCollector() *Collector {
	return &Collector{
		blobs:     map[digest.Digest][]byte{},
		referrers: map[digest.Digest][]ocispec.Descriptor{},
		seenRef:   map[digest.Digest]bool{},
	}
}

// keep reads desc's bytes through fetch and keeps them, once per digest.
func (c *Collector) keep(ctx context.Context, desc ocispec.Descriptor, fetch FetchFunc) {
	c.mu.Lock()
	_, have := c.blobs[desc.Digest]
	full := c.size+desc.Size > maxCollected
	c.mu.Unlock()
	if have || desc.Size < 0 || desc.Size > maxSignatureJSON {
		return
	}
	if full {
		c.fail(fmt.Errorf("signature documents over %d MiB: %w", maxCollected>>20, ErrBadSignature))
		return
	}
	rc, err := fetch(ctx, desc)
	if err != nil {
		return // verify reports the blob itself
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, desc.Size+1))
	if err != nil || int64(len(data)) != desc.Size {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, have := c.blobs[desc.Digest]; !have {
		c.blobs[desc.Digest] = data
		c.size += desc.Size
	}
}

func (c *Collector) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
}

// CheckIndex records index.json's entries (the call with a zero descriptor) and keeps every
// other index whole (a referrers-tag index lists signatures). It returns no findings.
func (c *Collector) CheckIndex(ctx context.Context, desc ocispec.Descriptor, idx ocispec.Index, fetch FetchFunc) []error {
	if desc.Digest == "" {
		c.mu.Lock()
		c.entries = append([]ocispec.Descriptor(nil), idx.Manifests...)
		c.mu.Unlock()
		return nil
	}
	if len(idx.Manifests) <= 64 {
		c.keep(ctx, desc, fetch)
	}
	return nil
}

// CheckManifest keeps every signature manifest with its payload or bundle layer, and records it
// as a referrer of its subject when it has one. It returns no findings.
func (c *Collector) CheckManifest(ctx context.Context, desc ocispec.Descriptor, m ocispec.Manifest, fetch FetchFunc) []error {
	at := m.ArtifactType
	if at == "" {
		at = m.Config.MediaType
	}
	if _, ok := formatOf(&m, true); !ok {
		return nil // not a signature: no verdict depends on it
	}
	c.addReferrer(desc, m.Subject, at)
	c.keep(ctx, desc, fetch)
	for _, l := range m.Layers {
		if l.MediaType == MediaTypeSimpleSigning || l.MediaType == MediaTypeBundle {
			c.keep(ctx, l, fetch)
		}
	}
	return nil
}

// addReferrer records desc as a referrer of subject.
func (c *Collector) addReferrer(desc ocispec.Descriptor, subject *ocispec.Descriptor, artifactType string) {
	if subject == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seenRef[desc.Digest] {
		return
	}
	c.seenRef[desc.Digest] = true
	r := ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size, ArtifactType: artifactType}
	c.referrers[subject.Digest] = append(c.referrers[subject.Digest], r)
}

// Graph returns what was collected as a Graph, or the error that stopped collecting.
func (c *Collector) Graph() (Graph, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return Graph{}, c.err
	}
	return Graph{
		Entries: c.entries,
		ReadJSON: func(_ context.Context, desc ocispec.Descriptor, max int64) ([]byte, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			data, ok := c.blobs[desc.Digest]
			if !ok {
				return nil, fmt.Errorf("blob %s: not in the layout or not readable: %w", desc.Digest, ErrBadSignature)
			}
			return data, nil
		},
		Referrers: func(dg digest.Digest) []ocispec.Descriptor {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.referrers[dg]
		},
	}, nil
}
