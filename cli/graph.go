package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

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

// Caps of the tree inspect shows, against crafted graphs: the nesting of indexes and
// manifests (as layout.WalkOptions counts it), and the nodes of the tree (a graph whose
// indexes list one index many times is a tree that grows exponentially with its depth).
const (
	maxGraphNesting = layout.DefaultMaxNesting
	maxGraphNodes   = 100_000
)

// graphLoader reads an image graph into a tree, each document once.
type graphLoader struct {
	store *layout.Store
	nodes int
	docs  map[string]any // ocispec.Index or ocispec.Manifest by digest
}

// loadGraph reads the index or manifest desc points at, and what it points at, into a tree.
// Blobs that are not indexes or manifests are not read. A graph nested deeper than
// maxGraphNesting or of more than maxGraphNodes nodes is refused, naming where.
func loadGraph(ctx context.Context, store *layout.Store, role string, desc ocispec.Descriptor) (*node, error) {
	g := &graphLoader{store: store, docs: map[string]any{}}
	return g.load(ctx, role, desc, nil)
}

// load reads desc, reached through path (the roles and digests above it), into a tree.
func (g *graphLoader) load(ctx context.Context, role string, desc ocispec.Descriptor, path []string) (*node, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := newNode(role, desc)
	if g.nodes++; g.nodes > maxGraphNodes {
		return nil, fmt.Errorf("%s: the tree has over %d nodes, the cap: %w", pathString(path, role, desc), maxGraphNodes, layout.ErrTooManyDescriptors)
	}
	isDoc := desc.MediaType == ocispec.MediaTypeImageIndex || desc.MediaType == ocispec.MediaTypeImageManifest
	if isDoc && len(path)+1 > maxGraphNesting {
		return nil, fmt.Errorf("%s: %s %s is nested %d levels deep, over the cap of %d: %w", pathString(path, role, desc), desc.MediaType, desc.Digest, len(path)+1, maxGraphNesting, layout.ErrTooDeep)
	}
	switch desc.MediaType {
	case ocispec.MediaTypeImageIndex:
		idx, err := g.index(ctx, desc)
		if err != nil {
			return nil, err
		}
		if n.ArtifactType == "" {
			n.ArtifactType = idx.ArtifactType
		}
		below := append(slices.Clip(path), role+"("+desc.Digest.String()+")")
		for _, m := range idx.Manifests {
			child, err := g.load(ctx, "manifest", m, below)
			if err != nil {
				return nil, err
			}
			n.Children = append(n.Children, child)
		}
	case ocispec.MediaTypeImageManifest:
		m, err := g.manifest(ctx, desc)
		if err != nil {
			return nil, err
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
		g.nodes += len(n.Children)
	}
	return n, nil
}

// index reads the image index desc points at, once per digest.
func (g *graphLoader) index(ctx context.Context, desc ocispec.Descriptor) (ocispec.Index, error) {
	if idx, ok := g.docs[desc.Digest.String()].(ocispec.Index); ok {
		return idx, nil
	}
	idx, err := readIndex(ctx, g.store, desc)
	if err != nil {
		return idx, err
	}
	g.docs[desc.Digest.String()] = idx
	return idx, nil
}

// manifest reads the image manifest desc points at, once per digest.
func (g *graphLoader) manifest(ctx context.Context, desc ocispec.Descriptor) (ocispec.Manifest, error) {
	if m, ok := g.docs[desc.Digest.String()].(ocispec.Manifest); ok {
		return m, nil
	}
	var m ocispec.Manifest
	if err := readDoc(ctx, g.store, desc, "manifest", &m); err != nil {
		return m, err
	}
	g.docs[desc.Digest.String()] = m
	return m, nil
}

// pathString names where a node is in the tree: its path and itself, the first and last 4
// steps of a longer path only.
func pathString(path []string, role string, desc ocispec.Descriptor) string {
	steps := append(slices.Clip(path), role+"("+desc.Digest.String()+")")
	if len(steps) > 9 {
		steps = slices.Concat(steps[:4], []string{fmt.Sprintf("... %d more levels ...", len(steps)-8)}, steps[len(steps)-4:])
	}
	return strings.Join(steps, " > ")
}

// readIndex reads and parses the image index desc points at.
func readIndex(ctx context.Context, store *layout.Store, desc ocispec.Descriptor) (ocispec.Index, error) {
	var idx ocispec.Index
	err := readDoc(ctx, store, desc, "index", &idx)
	return idx, err
}

// readDoc reads the manifest or index desc points at into v, refusing ambiguous JSON
// (strictjson) as every other reader of the layout does; kind names it in errors.
func readDoc(ctx context.Context, store *layout.Store, desc ocispec.Descriptor, kind string, v any) error {
	data, err := store.ReadAll(ctx, desc, maxDocumentBytes)
	if err != nil {
		return err
	}
	if err := strictjson.Check(data, strictjson.Document); err != nil {
		return fmt.Errorf("%s %s: %w", kind, desc.Digest, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s %s: %w", kind, desc.Digest, err)
	}
	return nil
}

// platform names a descriptor's platform as os/arch, or "" when it has none.
func platform(d ocispec.Descriptor) string {
	if d.Platform == nil {
		return ""
	}
	return d.Platform.OS + "/" + d.Platform.Architecture
}
