package sign

import (
	"context"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/layout"
)

// LayoutGraph returns the Graph of a layout: its index.json entries, its verified reads, and
// its referrers (found with one read of its JSON-looking blobs).
func LayoutGraph(ctx context.Context, s *layout.Store) (Graph, error) {
	idx, err := s.Index(ctx)
	if err != nil {
		return Graph{}, err
	}
	refs, err := s.ReferrerMap(ctx)
	if err != nil {
		return Graph{}, err
	}
	return Graph{
		Entries:   idx.Manifests,
		ReadJSON:  s.ReadAll,
		Referrers: func(dg digest.Digest) []ocispec.Descriptor { return refs[dg] },
	}, nil
}
