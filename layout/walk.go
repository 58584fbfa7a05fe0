package layout

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/internal/strictjson"
)

// FetchFunc opens the verified content of a descriptor; Store.Fetch is one. It is the same type
// as spec.FetchFunc (both are aliases).
type FetchFunc = func(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error)

// child is a successor with the role it plays in its parent, for locations in errors and
// reports: "config", "layers[2]", "manifests[0]".
type child struct {
	role string
	desc ocispec.Descriptor
}

// doc is what this package reads of a manifest or an index: the fields of both shapes, so that
// one decode serves either and reports fields of the other shape.
type doc struct {
	SchemaVersion *int                 `json:"schemaVersion"`
	MediaType     string               `json:"mediaType,omitempty"`
	ArtifactType  string               `json:"artifactType,omitempty"`
	Config        *ocispec.Descriptor  `json:"config,omitempty"`
	Layers        []ocispec.Descriptor `json:"layers"`
	Manifests     []ocispec.Descriptor `json:"manifests"`
	Subject       *ocispec.Descriptor  `json:"subject,omitempty"`
	Annotations   map[string]string    `json:"annotations,omitempty"`
	raw           map[string]json.RawMessage
}

// decodeDoc parses a manifest or index blob. It returns ErrBadManifest (naming what) when data
// is not a JSON object, is ambiguous (strictjson.Check: duplicate keys, a null field...) or a
// field has the wrong JSON type.
func decodeDoc(data []byte) (*doc, error) {
	if err := strictjson.Check(data, strictjson.Document); err != nil {
		return nil, fmt.Errorf("%w: %w", err, ErrBadManifest)
	}
	if !isJSONObject(data) {
		return nil, fmt.Errorf("not a JSON object: %w", ErrBadManifest)
	}
	var d doc
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%v: %w", jsonError(err), ErrBadManifest)
	}
	if err := json.Unmarshal(data, &d.raw); err != nil {
		return nil, fmt.Errorf("%v: %w", jsonError(err), ErrBadManifest)
	}
	return &d, nil
}

// jsonError shortens encoding/json's messages, which start with "json: ".
func jsonError(err error) string {
	s := err.Error()
	if len(s) > 6 && s[:6] == "json: " {
		return s[6:]
	}
	return s
}

// has reports whether the document has the top-level field name (even as null).
func (d *doc) has(name string) bool {
	_, ok := d.raw[name]
	return ok
}

// referrerType returns the media type of a document that has a subject, from its mediaType or,
// when that is absent, from its shape (a config: a manifest; manifests: an index). ok is false
// when it is neither a manifest nor an index.
func (d *doc) referrerType() (mediaType string, ok bool) {
	mt := d.MediaType
	if mt == "" {
		switch {
		case d.Config != nil:
			mt = ocispec.MediaTypeImageManifest
		case d.has("manifests"):
			mt = ocispec.MediaTypeImageIndex
		}
	}
	return mt, IsManifestType(mt) || IsIndexType(mt)
}

// children returns d's successors for a document of media type mt: config then layers for a
// manifest, manifests for an index. subject is not a successor.
func (d *doc) children(mt string) []child {
	var out []child
	switch {
	case IsManifestType(mt):
		if d.Config != nil {
			out = append(out, child{"config", *d.Config})
		}
		for i, l := range d.Layers {
			out = append(out, child{"layers[" + strconv.Itoa(i) + "]", l})
		}
	case IsIndexType(mt):
		for i, m := range d.Manifests {
			out = append(out, child{"manifests[" + strconv.Itoa(i) + "]", m})
		}
	}
	return out
}

// manifest returns d as an ocispec.Manifest.
func (d *doc) manifest() ocispec.Manifest {
	m := ocispec.Manifest{
		MediaType:    d.MediaType,
		ArtifactType: d.ArtifactType,
		Layers:       d.Layers,
		Subject:      d.Subject,
		Annotations:  d.Annotations,
	}
	if d.SchemaVersion != nil {
		m.SchemaVersion = *d.SchemaVersion
	}
	if d.Config != nil {
		m.Config = *d.Config
	}
	return m
}

// index returns d as an ocispec.Index.
func (d *doc) index() ocispec.Index {
	idx := ocispec.Index{
		MediaType:    d.MediaType,
		ArtifactType: d.ArtifactType,
		Manifests:    d.Manifests,
		Subject:      d.Subject,
		Annotations:  d.Annotations,
	}
	if d.SchemaVersion != nil {
		idx.SchemaVersion = *d.SchemaVersion
	}
	return idx
}

// fetchDoc reads and decodes the manifest or index desc points at, through fetch, capped at
// MaxJSONBytes.
func fetchDoc(ctx context.Context, fetch FetchFunc, desc ocispec.Descriptor) (*doc, error) {
	data, err := ReadAllFrom(ctx, fetch, desc, MaxJSONBytes)
	if err != nil {
		return nil, err
	}
	d, err := decodeDoc(data)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", desc.MediaType, desc.Digest, err)
	}
	return d, nil
}

// successors returns the children of desc with their roles: nil for a media type that is not a
// manifest or an index.
func successors(ctx context.Context, fetch FetchFunc, desc ocispec.Descriptor) ([]child, error) {
	if !IsManifestType(desc.MediaType) && !IsIndexType(desc.MediaType) {
		return nil, nil
	}
	d, err := fetchDoc(ctx, fetch, desc)
	if err != nil {
		return nil, err
	}
	if err := checkDocument(ctx, fetch, desc, d); err != nil {
		return nil, err
	}
	kids := d.children(desc.MediaType)
	for _, k := range kids {
		if err := checkDesc(k.desc); err != nil {
			return nil, fmt.Errorf("%s %s: %s: %w", desc.MediaType, desc.Digest, k.role, err)
		}
	}
	return kids, nil
}

// Successors returns the descriptors desc points at: the config then the layers of an image
// manifest, the manifests of an image index (OCI or Docker schema 2), nil for any other media
// type. The subject of a referrer is not a successor. The document is read through fetch,
// capped at MaxJSONBytes (ErrTooLarge); ErrBadManifest when it does not parse or breaks a rule
// Verify reports of a document (its mediaType other than desc's, a missing field...), the
// sentinel of the rule a successor's descriptor breaks (ErrInvalidDigest, ErrInvalidMediaType,
// ErrDigestMismatch for a data field...), fetch's own errors otherwise.
func Successors(ctx context.Context, fetch FetchFunc, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	kids, err := successors(ctx, fetch, desc)
	if err != nil {
		return nil, err
	}
	out := make([]ocispec.Descriptor, len(kids))
	for i, k := range kids {
		out[i] = k.desc
	}
	return out, nil
}

// WalkFunc is called by Walk for each descriptor reached. where says how it was reached from
// the root, e.g. "manifests[1](sha256:0123456789ab) > layers[0](sha256:ba9876543210)" (empty
// for the root). Returning an error stops the walk with it.
type WalkFunc func(ctx context.Context, desc ocispec.Descriptor, where string) error

// Walk visits root and everything reachable from it through Successors, depth first, each
// digest once per media type and size, calling fn on a node before reading its successors.
// After fn, each descriptor is held to the rules Verify reports (rules.go: what it says by
// itself, a JSON config's content, a document's fields against its descriptor). An error of
// fn, fetch, those rules or Successors stops the walk; Walk returns it prefixed with where it
// happened.
func Walk(ctx context.Context, fetch FetchFunc, root ocispec.Descriptor, fn WalkFunc) error {
	seen := map[descKey]bool{}
	var visit func(desc ocispec.Descriptor, where string) error
	visit = func(desc ocispec.Descriptor, where string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if seen[keyOf(desc)] {
			return nil
		}
		seen[keyOf(desc)] = true
		if err := fn(ctx, desc, where); err != nil {
			return wrapWhere(where, err)
		}
		if err := checkNode(ctx, fetch, desc); err != nil {
			return wrapWhere(where, err)
		}
		kids, err := successors(ctx, fetch, desc)
		if err != nil {
			return wrapWhere(where, err)
		}
		for _, k := range kids {
			w := k.role + "(" + short(k.desc.Digest) + ")"
			if where != "" {
				w = where + " > " + w
			}
			if err := visit(k.desc, w); err != nil {
				return err
			}
		}
		return nil
	}
	return visit(root, "")
}

// wrapWhere prefixes err with a location when there is one.
func wrapWhere(where string, err error) error {
	if where == "" {
		return err
	}
	return fmt.Errorf("%s: %w", where, err)
}
