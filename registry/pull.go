package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/layout"
)

// digestTagSuffixes are the digest tags Pull looks for beside an image: the referrers tag
// schema's index (sha256-<hex>) and cosign's signature, attestation and SBOM tags.
var digestTagSuffixes = []string{"", ".sig", ".att", ".sbom"}

// Pull copies the registry ref remoteRef (REGISTRY/REPOSITORY:TAG or @DIGEST) into the layout
// at dir, creating the layout when the pull commits if needed, with what the image carries: its OCI 1.1 referrers
// (through the referrers API, or the referrers tag schema where the registry lacks it; each
// also kept as an unnamed index.json entry, as ig's store does) and the digest tags beside it
// in its repository (sha256-<hex>.sig, .att, .sbom and sha256-<hex>), stored under those bare
// names as ig stores them. The image is named localRef, or remoteRef when localRef is empty;
// names already in the layout are moved to what was pulled.
//
// Nothing is written before the registry has answered for remoteRef: a registry that refuses,
// is down or does not have the ref leaves dir as it was. Blobs are written through a
// layout.Stage: verified on the way into a private folder of the layout's temp dir, on several
// goroutines, then, once everything has arrived, fsynced a few at once, published and named in
// one Commit (AddEntries under the index lock). A pull that fails midway publishes nothing and
// removes its stage (a killed one's is removed by the next gc or CleanTemp): dir is as it was
// (a dir that did not exist still does not), and the next pull fetches every blob again.
// Errors name the ref, the registry and what it answered, and wrap ErrUnauthorized,
// ErrNotFound, ErrUnreachable, ErrTLS or ErrRegistry.
func Pull(ctx context.Context, dir, remoteRef, localRef string, opts Options) (*Result, error) {
	src, err := parseRemote(remoteRef)
	if err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	if localRef == "" {
		localRef = remoteRef
	}
	what := "pull " + remoteRef
	cl, err := newClient(src.Registry, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	repo := cl.repository(src)
	root, err := repo.Resolve(ctx, src.Reference)
	if err != nil {
		return nil, cl.describe(what, err)
	}
	// A missing dir becomes a layout only when the pull commits.
	st, err := layout.NewStageAt(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer st.Discard() // a no-op after Commit

	cp := newCopier(opts)
	res := &Result{}
	referrers, err := cp.run(ctx, graphCopy{src: repo, dst: st, root: root, extended: true})
	if err != nil {
		res.fill(cp.t)
		return res, cl.describe(what, err)
	}
	named := root
	named.Annotations = map[string]string{ocispec.AnnotationRefName: localRef}
	entries := []ocispec.Descriptor{named}
	moved := Moved{Src: remoteRef, Dst: localRef, Digest: root.Digest, MediaType: root.MediaType}

	var sigs []Moved
	if root.Digest.Algorithm() == digest.SHA256 {
		for _, suffix := range digestTagSuffixes {
			tag := "sha256-" + root.Digest.Encoded() + suffix
			desc, err := repo.Resolve(ctx, tag)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				res.fill(cp.t)
				return res, cl.describe(what+": tag "+tag, err)
			}
			if _, err := cp.run(ctx, graphCopy{src: repo, dst: st, root: desc}); err != nil {
				res.fill(cp.t)
				return res, cl.describe(what+": tag "+tag, err)
			}
			desc.Annotations = map[string]string{ocispec.AnnotationRefName: tag}
			entries = append(entries, desc)
			sigs = append(sigs, Moved{Src: src.Registry + "/" + src.Repository + ":" + tag, Dst: tag, Digest: desc.Digest, MediaType: desc.MediaType})
		}
	}
	for _, r := range referrers {
		moved.Referrers = append(moved.Referrers, r.Digest)
		entries = append(entries, ocispec.Descriptor{MediaType: r.MediaType, Digest: r.Digest, Size: r.Size, ArtifactType: r.ArtifactType, Annotations: withoutRefName(r.Annotations)})
	}
	if _, err := st.Commit(ctx, entries, layout.AddOptions{Force: true}); err != nil {
		res.fill(cp.t)
		return res, fmt.Errorf("%s: %w", what, err)
	}
	res.Refs = append([]Moved{moved}, sigs...)
	res.fill(cp.t)
	return res, nil
}

// withoutRefName returns a copy of annotations without org.opencontainers.image.ref.name, or
// nil when nothing else is left.
func withoutRefName(annotations map[string]string) map[string]string {
	var out map[string]string
	for k, v := range annotations {
		if k == ocispec.AnnotationRefName {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	return out
}
