package cli

import (
	"context"
	"encoding/json"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/internal/strictjson"
	"github.com/gadgetpack/gadgetpack/layout"
)

// maxDocumentBytes caps the manifests and indexes list and inspect read.
const maxDocumentBytes = 4 << 20

// node is one descriptor of an image graph as list and inspect show it.
type node struct {
	Role         string            `json:"role"`
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	Platform     *ocispec.Platform `json:"platform,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Children     []*node           `json:"children,omitempty"`
}

func newNode(role string, d ocispec.Descriptor) *node {
	return &node{Role: role, MediaType: d.MediaType, ArtifactType: d.ArtifactType, Digest: d.Digest.String(),
		Size: d.Size, Platform: d.Platform, Annotations: d.Annotations}
}

// loadGraph reads the index or manifest desc points at, and what it points at, into a tree.
// Blobs that are not indexes or manifests are not read.
func loadGraph(ctx context.Context, store *layout.Store, role string, desc ocispec.Descriptor, depth int) (*node, error) {
	n := newNode(role, desc)
	if depth > 8 {
		return nil, fmt.Errorf("%s %s: nested over 8 levels", role, desc.Digest)
	}
	switch desc.MediaType {
	case ocispec.MediaTypeImageIndex:
		idx, err := readIndex(ctx, store, desc)
		if err != nil {
			return nil, err
		}
		if n.ArtifactType == "" {
			n.ArtifactType = idx.ArtifactType
		}
		for _, m := range idx.Manifests {
			child, err := loadGraph(ctx, store, "manifest", m, depth+1)
			if err != nil {
				return nil, err
			}
			n.Children = append(n.Children, child)
		}
	case ocispec.MediaTypeImageManifest:
		data, err := store.ReadAll(ctx, desc, maxDocumentBytes)
		if err != nil {
			return nil, err
		}
		var m ocispec.Manifest
		if err := strictjson.Check(data, strictjson.Document); err != nil {
			return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
		} else if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
		}
		if n.ArtifactType == "" {
			n.ArtifactType = m.ArtifactType
		}
		n.Children = append(n.Children, newNode("config", m.Config))
		for _, l := range m.Layers {
			n.Children = append(n.Children, newNode("layer", l))
		}
		if m.Subject != nil {
			n.Children = append(n.Children, newNode("subject", *m.Subject))
		}
	}
	return n, nil
}

// readIndex reads and parses the image index desc points at.
func readIndex(ctx context.Context, store *layout.Store, desc ocispec.Descriptor) (ocispec.Index, error) {
	var idx ocispec.Index
	data, err := store.ReadAll(ctx, desc, maxDocumentBytes)
	if err != nil {
		return idx, err
	}
	if err := strictjson.Check(data, strictjson.Document); err != nil {
		return idx, fmt.Errorf("index %s: %w", desc.Digest, err)
	} else if err := json.Unmarshal(data, &idx); err != nil {
		return idx, fmt.Errorf("index %s: %w", desc.Digest, err)
	}
	return idx, nil
}

// platform names a descriptor's platform as os/arch, or "" when it has none.
func platform(d ocispec.Descriptor) string {
	if d.Platform == nil {
		return ""
	}
	return d.Platform.OS + "/" + d.Platform.Architecture
}
