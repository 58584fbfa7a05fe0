package layout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/internal/strictjson"
)

// FetchFunc opens the verified content of a descriptor; Store.Fetch is one. It is the same type
// as spec.FetchFunc (both are aliases).
type FetchFunc = func(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error)

// child is a successor with the role it plays in its parent, for locations in errors and
// reports: "config", "layers[2]", "manifests[0]". The role is kept as a kind and an index, and
// rendered only when a location is.
type child struct {
	kind roleKind
	i    int
	desc ocispec.Descriptor
}

// role renders c's role: "config", "layers[2]", "manifests[0]".
func (c child) role() string {
	return c.kind.render(c.i)
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
	// layers and manifests say whether those fields are there and whether they are null,
	// which the typed fields above cannot tell apart from an absent field.
	layers, manifests listField
}

// listField is what the rules need of a list field besides its elements.
type listField struct{ present, null bool }

// decodeDoc parses a manifest or index blob. It returns ErrBadManifest (naming what) when data
// is not a JSON object, is ambiguous (strictjson.Check: duplicate keys, a null field...) or a
// field has the wrong JSON type.
func decodeDoc(data []byte) (*doc, error) {
	if docDecodes != nil {
		docDecodes.Add(1)
	}
	if err := strictjson.Check(data, strictjson.Document); err != nil {
		return nil, fmt.Errorf("%w: %w", err, ErrBadManifest)
	}
	if !isJSONObject(data) {
		return nil, fmt.Errorf("not a JSON object: %w", ErrBadManifest)
	}
	if d, err := fastDoc(data); err == nil {
		return d, nil
	}
	var d doc
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%v: %w", jsonError(err), ErrBadManifest)
	}
	// One decode tells the list fields' presence: strictjson.Check refused a null or a case
	// variant of them, and encoding/json makes an array, even an empty one, a non-nil slice.
	d.layers = listField{present: d.Layers != nil}
	d.manifests = listField{present: d.Manifests != nil}
	return &d, nil
}

// docDecodes, when a test sets it, counts the calls of decodeDoc.
var docDecodes *atomic.Int64

// jsonError shortens encoding/json's messages, which start with "json: ".
func jsonError(err error) string {
	s := err.Error()
	if len(s) > 6 && s[:6] == "json: " {
		return s[6:]
	}
	return s
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
		case d.manifests.present:
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
		out = make([]child, 0, len(d.Layers)+1)
		if d.Config != nil {
			out = append(out, child{kind: roleConfig, desc: *d.Config})
		}
		for i, l := range d.Layers {
			out = append(out, child{kind: roleLayer, i: i, desc: l})
		}
	case IsIndexType(mt):
		out = make([]child, 0, len(d.Manifests))
		for i, m := range d.Manifests {
			out = append(out, child{kind: roleManifest, i: i, desc: m})
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
	return docSuccessors(ctx, fetch, desc, d)
}

// docSuccessors is successors of the document d that desc points at, decoded already.
func docSuccessors(ctx context.Context, fetch FetchFunc, desc ocispec.Descriptor, d *doc) ([]child, error) {
	if err := checkDocument(ctx, fetch, desc, d); err != nil {
		return nil, err
	}
	kids := d.children(desc.MediaType)
	for _, k := range kids {
		if err := checkChild(k); err != nil {
			return nil, fmt.Errorf("%s %s: %s: %w", desc.MediaType, desc.Digest, k.role(), err)
		}
	}
	return kids, nil
}

// checkChild checks what one descriptor of a manifest or index says by itself, before a walk
// follows it: the one place where Walk and its callers (gc, closures, Tag, AddEntries, import's
// graph check) check a descriptor.
func checkChild(k child) error {
	return checkDesc(k.desc) // what verify says of a descriptor by itself (rules.go)
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

// Defaults of WalkOptions.
const (
	// DefaultMaxNesting is WalkOptions.MaxNesting when it is not set.
	DefaultMaxNesting = 64
	// DefaultMaxDescriptors is WalkOptions.MaxDescriptors when it is not set.
	DefaultMaxDescriptors = 1_000_000
)

// WalkOptions bounds a graph walk against crafted input. The zero value walks with the
// defaults.
type WalkOptions struct {
	// MaxNesting is the number of manifests and indexes one path from the root may hold (an
	// index in an index in an index... then a manifest): a document deeper than that is not
	// read, and the walk stops with ErrTooDeep naming the path to it. If ≤ 0,
	// DefaultMaxNesting (64); real images nest 2 or 3.
	MaxNesting int
	// MaxDescriptors caps the descriptors one walk visits, counting a digest each time a
	// document points at it (also when it was seen already): past it the walk stops with
	// ErrTooManyDescriptors. If ≤ 0, DefaultMaxDescriptors (1,000,000).
	MaxDescriptors int
}

// withDefaults returns o with its zero fields set to the defaults.
func (o WalkOptions) withDefaults() WalkOptions {
	if o.MaxNesting <= 0 {
		o.MaxNesting = DefaultMaxNesting
	}
	if o.MaxDescriptors <= 0 {
		o.MaxDescriptors = DefaultMaxDescriptors
	}
	return o
}

// WalkFunc is called by Walk for each descriptor reached. at says how it was reached from the
// root (at.String() renders it, e.g. "manifests[1](sha256:0123456789ab) >
// layers[0](sha256:ba9876543210)", empty for the root). Returning an error stops the walk with
// it.
type WalkFunc func(ctx context.Context, desc ocispec.Descriptor, at Location) error

// Walk is WalkWith with the default WalkOptions.
func Walk(ctx context.Context, fetch FetchFunc, root ocispec.Descriptor, fn WalkFunc) error {
	return WalkWith(ctx, fetch, root, WalkOptions{}, fn)
}

// WalkWith visits root and everything reachable from it through Successors, depth first, each
// digest once per media type and size, calling fn on a node before reading its successors.
// After fn, each descriptor is held to the rules Verify reports (rules.go: what it says by
// itself, a JSON config's content, a document's fields against its descriptor). An error of
// fn, fetch, those rules or Successors stops the walk; WalkWith returns it prefixed with where
// it happened. It stops with
// ErrTooDeep at a manifest or index nested deeper than opts.MaxNesting, and with
// ErrTooManyDescriptors past opts.MaxDescriptors, naming the path. It does not recurse: memory
// is linear in the size of the graph, and a location is rendered only for an error.
func WalkWith(ctx context.Context, fetch FetchFunc, root ocispec.Descriptor, opts WalkOptions, fn WalkFunc) error {
	return NewWalker(fetch, opts).walk(ctx, root, Location{}, fn)
}

// Walker walks the graphs of several roots as one: each digest once over all of them, with one
// count of descriptors (WalkOptions.MaxDescriptors) for all of them. It is for a command that
// walks every entry of an index.json: a blob that many entries reach is read once. A Walker is
// not safe for concurrent use.
type Walker struct {
	// Revisit, when set, calls the WalkFunc also on a descriptor whose digest was visited
	// already, without reading its successors again: for checks that depend on the descriptor
	// (its platform), not only on the digest.
	Revisit bool

	fetch   FetchFunc
	opts    WalkOptions
	seen    map[digest.Digest]bool
	keys    map[descKey]bool // what was visited: a digest once per media type and size
	order   []digest.Digest  // the digests seen, in the order first seen
	visited int
	// absentOK makes a manifest or index that is absent a leaf (gc's mark), not an error.
	absentOK bool
	// ahead, when set, has read blobs ahead of the walk (readahead.go); cur is what it read for
	// the descriptor being visited (nil for none), which the walk and its WalkFunc use instead
	// of reading the blob again.
	ahead *readAhead
	cur   *aheadItem
	// mediaTypes interns the media types of keys (key).
	mediaTypes interner
}

// NewWalker returns a Walker reading documents through fetch, bounded by opts.
func NewWalker(fetch FetchFunc, opts WalkOptions) *Walker {
	return &Walker{fetch: fetch, opts: opts.withDefaults(), seen: map[digest.Digest]bool{}, keys: map[descKey]bool{}, mediaTypes: interner{}}
}

// Walk is WalkWith of root over w: what w visited before is not visited again (unless
// Revisit), and the cap on descriptors counts every Walk of w. label names the root in
// locations and errors, such as "index.json[3](ref x)"; "" for none.
func (w *Walker) Walk(ctx context.Context, root ocispec.Descriptor, label string, fn WalkFunc) error {
	at := Location{}
	if label != "" {
		at = labelLocation(label)
	}
	return w.walk(ctx, root, at, fn)
}

// key returns keyOf(desc) with its media type interned: a walk keeps the key of every blob it
// visits.
func (w *Walker) key(desc ocispec.Descriptor) descKey {
	k := keyOf(desc)
	k.mediaType = w.mediaTypes.intern(k.mediaType)
	return k
}

// walkFrame is a document of the current path whose successors are being visited.
type walkFrame struct {
	kids []child
	next int
	at   Location
}

// walk visits root (reached at at) and what it reaches that this walker has not seen yet, in
// pre-order, as WalkWith says.
func (w *Walker) walk(ctx context.Context, root ocispec.Descriptor, at Location, fn WalkFunc) error {
	var stack []walkFrame
	visit := func(desc ocispec.Descriptor, at Location) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := w.count(at); err != nil {
			return err
		}
		// A blob reached again under another media type or size is visited again: each of its
		// descriptors is held to the rules, as Verify holds them.
		if w.keys[keyOf(desc)] {
			if w.Revisit {
				if err := fn(ctx, desc, at); err != nil {
					return at.wrap(err)
				}
			}
			return nil
		}
		w.keys[w.key(desc)] = true
		if !w.seen[desc.Digest] {
			w.seen[desc.Digest] = true
			w.order = append(w.order, desc.Digest)
		}
		w.cur = w.ahead.take(desc)
		defer func() { w.cur = nil }()
		if err := fn(ctx, desc, at); err != nil {
			return at.wrap(err)
		}
		// After fn, the rules Verify reports of the descriptor and, for a JSON config, of its
		// content (rules.go); a document's own fields are checked where it is read. What was
		// read ahead stands for a read: a config whose content passed, a decoded document.
		check := checkNode
		if w.cur != nil && w.cur.configOK {
			check = func(_ context.Context, _ FetchFunc, desc ocispec.Descriptor) error { return checkDesc(desc) }
		}
		if err := check(ctx, w.fetch, desc); err != nil && !(w.absentOK && errors.Is(err, ErrNotFound)) {
			return at.wrap(err)
		}
		if !IsManifestType(desc.MediaType) && !IsIndexType(desc.MediaType) {
			return nil
		}
		if err := checkNesting(at, desc, w.opts.MaxNesting); err != nil {
			return err
		}
		var kids []child
		var err error
		if w.cur != nil && w.cur.doc != nil {
			kids, err = docSuccessors(ctx, w.fetch, desc, w.cur.doc)
		} else {
			kids, err = successors(ctx, w.fetch, desc)
		}
		if w.absentOK && errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return at.wrap(err)
		}
		if len(kids) > 0 {
			stack = append(stack, walkFrame{kids: kids, at: at})
		}
		return nil
	}
	if err := visit(root, at); err != nil {
		return err
	}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.next == len(top.kids) {
			stack[len(stack)-1] = walkFrame{}
			stack = stack[:len(stack)-1]
			continue
		}
		k := top.kids[top.next]
		top.next++
		if err := visit(k.desc, top.at.child(k)); err != nil {
			return err
		}
	}
	return nil
}

// count counts one more descriptor visited, and returns ErrTooManyDescriptors past the cap.
func (w *Walker) count(at Location) error {
	w.visited++
	if w.visited > w.opts.MaxDescriptors {
		return at.wrap(fmt.Errorf("the graph walk visits over %d descriptors, the cap: %w", w.opts.MaxDescriptors, ErrTooManyDescriptors))
	}
	return nil
}

// checkNesting returns ErrTooDeep, naming the path, when the manifest or index desc reached at
// at is nested deeper than max.
func checkNesting(at Location, desc ocispec.Descriptor, max int) error {
	if level := at.Depth() + 1; level > max {
		return at.wrap(fmt.Errorf("%s %s is nested %d levels deep, over the cap of %d: %w", desc.MediaType, desc.Digest, level, max, ErrTooDeep))
	}
	return nil
}
