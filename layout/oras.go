package layout

import (
	"context"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// A Store is an oras-go graph target, so that oras.Copy and oras.ExtendedCopy move graphs
// between a layout and a registry (package registry does) without oras-go's own oci.Store:
//
//	content.Storage           Fetch (verified), Exists, Push (verified, durable)
//	content.TagResolver       Tag (graph checked under the index lock), Resolve
//	content.PredecessorFinder Predecessors (the layout's OCI 1.1 referrers)
//
// The sentinels are errdef's (ErrNotFound, ErrAlreadyExists, ErrInvalidDigest...), as
// oras-go's callers expect. The conformance is checked by layout's tests, not here, so that
// the package itself needs nothing of oras-go but errdef.

// Predecessors returns the manifests and indexes of the layout whose subject is node: its OCI
// 1.1 referrers, as Referrers lists them (sorted by digest, with artifactType and
// annotations). It is oras-go's content.PredecessorFinder, so that oras.ExtendedCopy from a
// layout carries an image's signatures and other referrers with it.
//
// Unlike oras-go's own stores, it does not return the image indexes that merely list node
// among their manifests: an extended copy of one platform's manifest does not drag along
// every multi-arch index of the layout that holds it. Digest-tag signatures (sha256-<hex>.sig)
// are index.json entries, not predecessors; Closure finds those.
func (s *Store) Predecessors(ctx context.Context, node ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	return s.Referrers(ctx, node)
}
