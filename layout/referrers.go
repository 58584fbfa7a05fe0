package layout

import (
	"context"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ReferrerMap returns every OCI 1.1 referrer of the layout by the digest of its subject, each
// list sorted by digest, with descriptors as Referrers returns them. It reads the layout's
// JSON-looking blobs once, so that callers asking for the referrers of many images do not scan
// the layout once per image.
func (s *Store) ReferrerMap(ctx context.Context) (map[digest.Digest][]ocispec.Descriptor, error) {
	refs, err := s.referrers(ctx, nil)
	if err != nil {
		return nil, err
	}
	out := map[digest.Digest][]ocispec.Descriptor{}
	for _, r := range refs {
		out[r.subject] = append(out[r.subject], r.desc)
	}
	return out, nil
}
