package layout

import (
	"context"
	"os"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// A Store is an oras-go graph target, so that oras.Copy and oras.ExtendedCopy move graphs
// between a layout and a registry (package registry does) without oras-go's own oci.Store:
//
//	content.Storage           Fetch (verified), Exists, Push (verified, durable)
//	content.TagResolver       Tag (graph checked under the index lock), Resolve
//	content.PredecessorFinder Predecessors (the layout's OCI 1.1 referrers)
//
// A Stage is an oras-go content.Storage too, for a copy that must land all or nothing (package
// registry's pull): Exists and Fetch look in the stage, then in the layout; Push writes into the
// stage, verified, on as many goroutines as the copy runs, and without an fsync per blob. The
// copy's tags are not the stage's business: the caller names what it copied in Commit's
// entries, so a copy into a stage needs no Tag or Resolve.
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

// OpenBlob opens desc's blob file for a read that is not verified here, for a sender whose
// receiver checks the digest itself, as a registry does on upload: the file can then go to the
// network as it is (sendfile), unhashed. It refuses what Fetch refuses before reading: a
// symlink or special file (ErrNotRegular), a file of another size than desc.Size
// (ErrSizeMismatch), an absent blob (ErrNotFound), a bad digest (ErrInvalidDigest). The caller
// closes the file. Anything that keeps or trusts the content uses Fetch.
func (s *Store) OpenBlob(ctx context.Context, desc ocispec.Descriptor) (*os.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.openBlob(desc)
}
