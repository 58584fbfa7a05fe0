package sign

import (
	"context"
	"encoding/json"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/layout"
)

// LayoutGraph returns the Graph of a layout as ig sees it: its index.json entries, its verified
// reads, and as referrers the manifests index.json lists without a name that have a subject
// (ig's store, written by oras-go, lists every manifest it holds so, and Sign lists the bundles
// it writes so). A referrer blob that index.json does not list is not found here, as ig does
// not find it; verify finds those too, as it reads every blob (see Collector).
func LayoutGraph(ctx context.Context, s *layout.Store) (Graph, error) {
	idx, err := s.Index(ctx)
	if err != nil {
		return Graph{}, err
	}
	refs := map[digest.Digest][]ocispec.Descriptor{}
	seen := map[digest.Digest]bool{}
	for _, e := range idx.Manifests {
		if e.Annotations[ocispec.AnnotationRefName] != "" || !layout.IsManifestType(e.MediaType) || seen[e.Digest] || e.Size > maxSignatureJSON {
			continue
		}
		seen[e.Digest] = true
		data, err := s.ReadAll(ctx, e, maxSignatureJSON)
		if err != nil {
			if ctx.Err() != nil {
				return Graph{}, ctx.Err()
			}
			continue // absent or damaged: verify reports it; no verdict rests on it
		}
		var m ocispec.Manifest
		if json.Unmarshal(data, &m) != nil || m.Subject == nil {
			continue
		}
		if _, ok := formatOf(&m, false); !ok {
			continue
		}
		r := ocispec.Descriptor{MediaType: e.MediaType, Digest: e.Digest, Size: e.Size, ArtifactType: m.ArtifactType}
		refs[m.Subject.Digest] = append(refs[m.Subject.Digest], r)
	}
	return Graph{
		Entries:   idx.Manifests,
		ReadJSON:  s.ReadAll,
		Referrers: func(dg digest.Digest) []ocispec.Descriptor { return refs[dg] },
	}, nil
}
