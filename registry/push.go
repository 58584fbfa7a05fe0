package registry

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/gadgetpack/gadgetpack/internal/termsafe"
	"github.com/gadgetpack/gadgetpack/layout"
)

// Result says what a push or a pull did.
type Result struct {
	// Refs are the refs written at the destination, in the order they were.
	Refs []Moved `json:"refs"`
	// Skipped are the layout refs PushAll left out, each with why.
	Skipped []string `json:"skipped,omitempty"`
	// Blobs and Bytes count what was sent; BlobsSkipped and BytesSkipped what the destination
	// had already (or got by a mount).
	Blobs        int   `json:"blobs"`
	Bytes        int64 `json:"bytes"`
	BlobsSkipped int   `json:"blobs_skipped"`
	BytesSkipped int64 `json:"bytes_skipped"`
}

// Moved is one ref written at the destination.
type Moved struct {
	Src       string        `json:"src"`
	Dst       string        `json:"dst"`
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"media_type"`
	// Referrers are the OCI 1.1 referrers that went with it.
	Referrers []digest.Digest `json:"referrers,omitempty"`
}

// fill copies the tracker's counts into r.
func (r *Result) fill(t *tracker) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r.Blobs, r.Bytes, r.BlobsSkipped, r.BytesSkipped = t.sent, t.sentBytes, t.skipped, t.skippedBytes
}

// pushJob is one ref to push: a layout entry, the repository it goes to and its tag there
// ("" to push by digest only).
type pushJob struct {
	entry ocispec.Descriptor
	src   string
	dst   registry.Reference
	// extended carries the entry's referrers with it (images); digest-tag signatures go alone.
	extended bool
	// blobs are what the job is expected to move, for progress.
	blobs []ocispec.Descriptor
}

// Push sends the image srcRef of the layout (a ref of its index.json, or a digest) to the
// registry ref dstRef (REGISTRY/REPOSITORY:TAG, or @DIGEST of the same image), with everything
// it carries: its blobs, its OCI 1.1 referrers (through the referrers API, or the referrers tag
// schema where the registry lacks it), and the layout's digest-tag signatures of it
// (sha256-<hex>.sig and the like), which are tagged in the same repository. Blobs the registry
// has are not sent again, so that an interrupted push resumes.
//
// Before anything is sent, the image's whole graph must be present and sound in the layout
// (ErrGraphIncomplete otherwise). Errors name the ref, the registry and what it answered, and
// wrap ErrUnauthorized, ErrNotFound, ErrUnreachable, ErrTLS or ErrRegistry.
func Push(ctx context.Context, store *layout.Store, srcRef, dstRef string, opts Options) (*Result, error) {
	dst, err := parseRemote(dstRef)
	if err != nil {
		return nil, fmt.Errorf("push %s: %w", srcRef, err)
	}
	entry, err := store.Resolve(ctx, srcRef)
	if err != nil {
		return nil, fmt.Errorf("push %s: %w", srcRef, err)
	}
	if d, err := dst.Digest(); err == nil && d != entry.Digest {
		return nil, fmt.Errorf("push %s to %s: the image is %s: %w", srcRef, dstRef, entry.Digest, ErrInvalidReference)
	}
	closure, err := store.ClosureWith(ctx, []ocispec.Descriptor{entry}, layout.ClosureOptions{ScanReferrers: opts.ScanReferrers})
	if err != nil {
		return nil, fmt.Errorf("push %s: %w", srcRef, err)
	}
	jobs := []pushJob{{entry: entry, src: srcRef, dst: dst, extended: true, blobs: closure.Blobs}}
	for _, e := range closure.Entries {
		name := e.Annotations[ocispec.AnnotationRefName]
		if name == "" || digestTag(name) == "" {
			continue
		}
		_, suffix := splitName(name)
		sig := dst
		sig.Reference = strings.TrimPrefix(suffix, ":")
		jobs = append(jobs, pushJob{entry: e, src: name, dst: sig})
	}
	return push(ctx, store, dst.Registry, jobs, opts, nil)
}

// PushAll mirrors every ref of the layout under prefix (REGISTRY[/PATH]), keeping each ref's
// repository path (see MapRef), with what each carries as Push sends it. A digest-tag signature
// with no repository of its own (sha256-<hex>.sig, as ig stores them) goes to the repository of
// every image whose graph holds that digest, and is left out (Result.Skipped) when none does.
// Images go first, signatures after them, so that the layout's referrers tag schema indexes
// are what the registry ends up with.
//
// Nothing is sent unless every ref maps and every graph is present and sound: a ref that cannot
// be mapped (a bare tag that is no digest-tag signature) is an ErrInvalidReference naming it.
func PushAll(ctx context.Context, store *layout.Store, prefix string, opts Options) (*Result, error) {
	host, _, err := splitPrefix(prefix)
	if err != nil {
		return nil, fmt.Errorf("push --all: %w", err)
	}
	refs, err := store.Refs(ctx)
	if err != nil {
		return nil, err
	}
	closures, err := store.Closures(ctx, refs, layout.ClosureOptions{ScanReferrers: opts.ScanReferrers})
	if err != nil {
		return nil, fmt.Errorf("push --all: %w", err)
	}
	closureOf := make(map[string]*layout.Closure, len(refs))
	for i, e := range refs {
		closureOf[e.Annotations[ocispec.AnnotationRefName]] = closures[i]
	}
	var (
		jobs, sigJobs []pushJob
		bad           []string
		res           = &Result{}
		repoOf        = map[digest.Digest][]string{} // digest -> destination repositories holding it
		bareSigs      []ocispec.Descriptor
	)
	for _, e := range refs {
		name := e.Annotations[ocispec.AnnotationRefName]
		path, _ := splitName(name)
		if digestTag(name) != "" && path == "" {
			bareSigs = append(bareSigs, e)
			continue
		}
		mapped, err := MapRef(name, prefix)
		if err != nil {
			bad = append(bad, strings.TrimSuffix(err.Error(), ": "+ErrInvalidReference.Error()))
			continue
		}
		dst, err := parseRemote(mapped)
		if err != nil {
			return nil, fmt.Errorf("push --all: %w", err)
		}
		c := closureOf[name]
		job := pushJob{entry: e, src: name, dst: dst, extended: digestTag(name) == "", blobs: c.Blobs}
		if job.extended {
			jobs = append(jobs, job)
			for _, b := range c.Blobs {
				if !slices.Contains(repoOf[b.Digest], dst.Repository) {
					repoOf[b.Digest] = append(repoOf[b.Digest], dst.Repository)
				}
			}
		} else {
			sigJobs = append(sigJobs, job)
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("push --all: %d refs cannot be mirrored under %s: %s: %w", len(bad), prefix, termsafe.Join(bad, "; ", 0), ErrInvalidReference)
	}
	for _, e := range bareSigs {
		name := e.Annotations[ocispec.AnnotationRefName]
		repos := repoOf[digestTag(name)]
		if len(repos) == 0 {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s: signs %s, which no image of the layout holds", name, digestTag(name)))
			continue
		}
		c := closureOf[name]
		for _, repo := range repos {
			dst := registry.Reference{Registry: host, Repository: repo, Reference: name}
			sigJobs = append(sigJobs, pushJob{entry: e, src: name, dst: dst, blobs: c.Blobs})
		}
	}
	return push(ctx, store, host, append(jobs, sigJobs...), opts, res)
}

// push runs jobs against host in order, one client and one repository handle per repository.
func push(ctx context.Context, store *layout.Store, host string, jobs []pushJob, opts Options, res *Result) (*Result, error) {
	if res == nil {
		res = &Result{}
	}
	cl, err := newClient(host, opts)
	if err != nil {
		return nil, fmt.Errorf("push to %s: %w", host, err)
	}
	table, err := store.ReferrerTable(ctx, opts.ScanReferrers) // read once for every job
	if err != nil {
		return nil, fmt.Errorf("push to %s: %w", host, err)
	}
	src := pushSource{store, table}
	cp := newCopier(opts)
	for _, job := range jobs {
		for _, b := range job.blobs {
			cp.t.expect(job.dst.Repository, b)
		}
	}
	repos := map[string]*remote.Repository{}
	for _, job := range jobs {
		what := fmt.Sprintf("push %s to %s", job.src, job.dst)
		repo := repos[job.dst.Repository]
		if repo == nil {
			repo = cl.repository(job.dst)
			repos[job.dst.Repository] = repo
		}
		referrers, err := cp.run(ctx, graphCopy{
			src: src, dst: repo, root: job.entry, extended: job.extended,
			repo: job.dst.Repository, layoutSrc: store,
		})
		if err != nil {
			res.fill(cp.t)
			return res, cl.describe(what, err)
		}
		desc := ocispec.Descriptor{MediaType: job.entry.MediaType, Digest: job.entry.Digest, Size: job.entry.Size}
		if _, derr := job.dst.Digest(); derr != nil {
			if err := repo.Tag(ctx, desc, job.dst.Reference); err != nil {
				res.fill(cp.t)
				return res, cl.describe(what, err)
			}
		}
		m := Moved{Src: job.src, Dst: job.dst.String(), Digest: desc.Digest, MediaType: desc.MediaType}
		for _, r := range referrers {
			m.Referrers = append(m.Referrers, r.Digest)
		}
		res.Refs = append(res.Refs, m)
	}
	res.fill(cp.t)
	return res, nil
}

// pushSource is the layout as the source of a push: manifests and indexes are read verified,
// since the copy follows what they point at; other blobs are sent as their files are, unhashed
// here (by sendfile when nothing counts the bytes): the registry checks the digest of each
// upload and refuses one that does not match.
type pushSource struct {
	*layout.Store
	referrers *layout.ReferrerTable
}

// Predecessors returns node's referrers from the table read once for the push (the Store's
// own Predecessors reads index.json again on every call).
func (s pushSource) Predecessors(_ context.Context, node ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	return s.referrers.Referrers(node.Digest), nil
}

// Fetch opens desc for sending.
func (s pushSource) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if isManifest(desc.MediaType) {
		return s.Store.Fetch(ctx, desc)
	}
	return s.Store.OpenBlob(ctx, desc)
}

// isManifest reports whether mediaType is one of a manifest or an index, which a copy reads to
// find what they point at.
func isManifest(mediaType string) bool {
	switch mediaType {
	case ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex,
		"application/vnd.docker.distribution.manifest.v2+json",
		"application/vnd.docker.distribution.manifest.list.v2+json",
		"application/vnd.oci.artifact.manifest.v1+json":
		return true
	}
	return false
}
