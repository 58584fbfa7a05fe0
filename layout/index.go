package layout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gadgetpack/gadgetpack/internal/atomicfile"
	"github.com/gadgetpack/gadgetpack/internal/strictjson"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// indexDoc is index.json as read, kept for a faithful rewrite: the top-level fields other than
// manifests as raw JSON (unknown ones included; only for an edit, see keepFields), and each
// entry as raw JSON beside its decoded descriptor. Entries that an edit does not touch are
// written back as they were (compacted), in their order.
type indexDoc struct {
	fields  map[string]json.RawMessage
	head    indexHeader // the typed view of fields, which no edit changes
	entries []indexEntry
}

// indexEntry is one element of index.json's manifests.
type indexEntry struct {
	raw  json.RawMessage // nil for an entry added by this package
	desc ocispec.Descriptor
}

// indexHeader holds the typed top-level fields of index.json, to check their JSON types.
type indexHeader struct {
	SchemaVersion *int                `json:"schemaVersion"`
	MediaType     *string             `json:"mediaType"`
	ArtifactType  string              `json:"artifactType"`
	Subject       *ocispec.Descriptor `json:"subject"`
	Annotations   map[string]string   `json:"annotations"`
}

// indexFile is index.json as parseIndexJSON decodes it, in one pass: the typed top-level
// fields and the raw JSON of each entry (nil Manifests: the field is absent).
type indexFile struct {
	indexHeader
	Manifests *[]json.RawMessage `json:"manifests"`
}

// parseIndexJSON parses index.json for Open, Index and the edits, and for Verify. It returns
// ErrBadIndex, naming the field or the entry, unless data is an unambiguous JSON object
// (strictjson.Check: no duplicate key, no null field...) with schemaVersion 2, mediaType absent
// or the OCI index type, and manifests an array of descriptors with valid digests and sizes.
// The other top-level fields are not kept: an edit adds them with keepFields.
func parseIndexJSON(data []byte) (*indexDoc, error) {
	if err := strictjson.Check(data, strictjson.Document); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", IndexFile, err, ErrBadIndex)
	}
	if !isJSONObject(data) {
		return nil, fmt.Errorf("%s: not a JSON object: %w", IndexFile, ErrBadIndex)
	}
	h, entries, present, err := fastIndex(data)
	fast := err == nil
	var raws []json.RawMessage
	if !fast {
		// encoding/json decides what fastIndex does not read.
		var f indexFile
		if err := json.Unmarshal(data, &f); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", IndexFile, jsonError(err), ErrBadIndex)
		}
		h, present = f.indexHeader, f.Manifests != nil
		if present {
			raws = *f.Manifests
		}
	}
	switch {
	case h.SchemaVersion == nil:
		return nil, fmt.Errorf("%s: no schemaVersion: %w", IndexFile, ErrBadIndex)
	case *h.SchemaVersion != 2:
		return nil, fmt.Errorf("%s: schemaVersion %d, want 2: %w", IndexFile, *h.SchemaVersion, ErrBadIndex)
	case h.MediaType != nil && *h.MediaType != ocispec.MediaTypeImageIndex:
		return nil, fmt.Errorf("%s: mediaType %q, want %q: %w", IndexFile, *h.MediaType, ocispec.MediaTypeImageIndex, ErrBadIndex)
	case !present:
		return nil, fmt.Errorf("%s: no manifests: %w", IndexFile, ErrBadIndex)
	}
	if fast {
		for i, e := range entries {
			if err := checkIndexEntry(i, e.desc); err != nil {
				return nil, err
			}
		}
		return &indexDoc{head: h, entries: entries}, nil
	}
	d := &indexDoc{head: h, entries: make([]indexEntry, 0, len(raws))}
	for i, raw := range raws {
		var desc ocispec.Descriptor
		if !isJSONObject(raw) {
			return nil, fmt.Errorf("%s: manifests[%d]: not a JSON object: %w", IndexFile, i, ErrBadIndex)
		}
		if err := json.Unmarshal(raw, &desc); err != nil {
			return nil, fmt.Errorf("%s: manifests[%d]: %s: %w", IndexFile, i, jsonError(err), ErrBadIndex)
		}
		if err := checkIndexEntry(i, desc); err != nil {
			return nil, err
		}
		d.entries = append(d.entries, indexEntry{raw: raw, desc: desc})
	}
	return d, nil
}

// checkIndexEntry checks what parseIndexJSON checks of index.json's entry i: its digest and size.
func checkIndexEntry(i int, desc ocispec.Descriptor) error {
	if err := checkDigest(desc.Digest); err != nil {
		return fmt.Errorf("%s: manifests[%d]: %w: %w", IndexFile, i, err, ErrBadIndex)
	}
	if desc.Size < 0 {
		return fmt.Errorf("%s: manifests[%d] (%s): size %d: %w", IndexFile, i, desc.Digest, desc.Size, ErrBadIndex)
	}
	return nil
}

// keepFields keeps the top-level fields of data, the index.json d was parsed from, other than
// manifests, as raw JSON (unknown ones included), for marshal to write them back as they were.
func (d *indexDoc) keepFields(data []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return fmt.Errorf("%s: %s: %w", IndexFile, jsonError(err), ErrBadIndex)
	}
	delete(fields, "manifests")
	d.fields = fields
	return nil
}

// index returns the typed view of d.
func (d *indexDoc) index() ocispec.Index {
	h := d.head
	idx := ocispec.Index{
		ArtifactType: h.ArtifactType,
		Subject:      h.Subject,
		Annotations:  h.Annotations,
		Manifests:    make([]ocispec.Descriptor, len(d.entries)),
	}
	idx.SchemaVersion = 2
	if h.MediaType != nil {
		idx.MediaType = *h.MediaType
	}
	for i, e := range d.entries {
		idx.Manifests[i] = e.desc
	}
	return idx
}

// headOrder is the order of the known top-level fields in a written index.json; unknown fields
// follow, sorted by name.
var headOrder = []string{"schemaVersion", "mediaType", "artifactType", "manifests", "subject", "annotations"}

// marshal writes d as compact JSON with a deterministic field order.
func (d *indexDoc) marshal() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	key := func(k string) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
	}
	value := func(raw []byte) error {
		return json.Compact(&b, raw)
	}
	for _, k := range headOrder {
		if k == "manifests" {
			key(k)
			b.WriteByte('[')
			for i, e := range d.entries {
				if i > 0 {
					b.WriteByte(',')
				}
				raw := e.raw
				if raw == nil {
					var err error
					if raw, err = json.Marshal(e.desc); err != nil {
						return nil, err
					}
				}
				if err := value(raw); err != nil {
					return nil, err
				}
			}
			b.WriteByte(']')
			continue
		}
		if raw, ok := d.fields[k]; ok {
			key(k)
			if err := value(raw); err != nil {
				return nil, err
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(d.fields)) {
		if slices.Contains(headOrder, k) {
			continue
		}
		key(k)
		if err := value(d.fields[k]); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// readIndexFile reads and parses index.json without any lock. With forWrite (an edit that
// rewrites it, or the check before one), an emptied store's `"manifests": null` reads as no
// entries (parseOwnIndex); every other reader refuses it.
//
// A reader (not forWrite) gets the document the Store parsed last, shared, when the file is
// the same one unchanged (inode, size, mtime and ctime as fstat gives them, for a file that had
// not changed for settleTime when it was parsed): a command that
// resolves a ref and then walks its closure parses an index.json of 20,000 entries once, not
// twice. Readers do not change what they get; an edit (update) always reads and parses anew.
// Data is nil then.
func (s *Store) readIndexFile(forWrite bool) (*indexDoc, []byte, error) {
	path := filepath.Join(s.root, IndexFile)
	f, fi, err := openRegular(path, IndexFile)
	if err != nil {
		return nil, nil, fmt.Errorf("layout %s: %w", s.root, err)
	}
	defer func() { _ = f.Close() }()
	id := snapshotID(fi)
	if snap := s.index.Load(); !forWrite && snap != nil && id != (indexFileID{}) && snap.id == id {
		return snap.doc, nil, nil
	}
	data, err := readAllCapped(f, IndexFile, fi.Size(), MaxIndexBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("layout %s: %w", s.root, err)
	}
	parse := parseIndexJSON
	if forWrite {
		parse = parseOwnIndex
	}
	d, err := parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("layout %s: %w", s.root, err)
	}
	if !forWrite && id.settled(time.Now()) {
		s.index.Store(&indexSnapshot{id: id, doc: d})
	}
	return d, data, nil
}

// settleTime is how long ago a file must have last changed for its indexFileID to tell it
// apart from its next version: file times tick coarsely (a few milliseconds) and a freed inode
// number is soon given again, so a file replaced twice within a tick, at the same size, could
// look unchanged; one unchanged for this long cannot (what git calls a racy entry).
const settleTime = 2 * time.Second

// settled reports whether the file id describes last changed at least settleTime before now.
func (id indexFileID) settled(now time.Time) bool {
	return id.ctimeNs < now.Add(-settleTime).UnixNano() && id.mtimeNs < now.Add(-settleTime).UnixNano()
}

// indexSnapshot is an index.json a reader parsed, and the identity of the file it read.
type indexSnapshot struct {
	id  indexFileID
	doc *indexDoc
}

// indexFileID is what tells a file's content changed without reading it: the file (another
// after a rename over it), its size, and the times of its last write and change.
type indexFileID struct {
	fileID
	size             int64
	mtimeNs, ctimeNs int64
}

// snapshotID returns fi's indexFileID; the zero value, which matches no snapshot, when fi has
// no stat_t.
func snapshotID(fi fs.FileInfo) indexFileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return indexFileID{}
	}
	return indexFileID{fileID: fileIDOf(fi), size: fi.Size(), mtimeNs: st.Mtim.Nano(), ctimeNs: st.Ctim.Nano()}
}

// parseOwnIndex is parseIndexJSON for the layout's own index.json, which it also reads when
// the one thing strictjson refuses is `"manifests": null` at the top: the form oras-go (so
// ig) writes for a store whose last image was removed. Every parser reads it as no entries,
// and the next edit writes `[]`, so copy and import into an emptied ig store keep working.
// verify still reports it; index.json of a tarball or a registry gets no such leeway.
func parseOwnIndex(data []byte) (*indexDoc, error) {
	d, err := parseIndexJSON(data)
	var se *strictjson.Error
	if err == nil || !errors.As(err, &se) || !errors.Is(se, strictjson.ErrNull) || se.Path != "$" ||
		se.Msg != `null "manifests"` || !bytes.HasPrefix(data[se.Offset:], []byte("null")) {
		return d, err
	}
	fixed := make([]byte, 0, len(data)-2)
	fixed = append(append(append(fixed, data[:se.Offset]...), "[]"...), data[se.Offset+4:]...)
	return parseIndexJSON(fixed)
}

// readIndex reads index.json under a shared index lock (when the media lets it take one).
func (s *Store) readIndex(ctx context.Context) (*indexDoc, error) {
	return s.readIndexLock(ctx, false)
}

// readIndexLock is readIndex, with readIndexFile's forWrite.
func (s *Store) readIndexLock(ctx context.Context, forWrite bool) (*indexDoc, error) {
	l, err := s.readLock(ctx)
	if err != nil {
		return nil, err
	}
	d, _, err := s.readIndexFile(forWrite)
	if l != nil {
		if uerr := l.unlock(); err == nil && uerr != nil {
			err = uerr
		}
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

// update is the one read-modify-write of index.json: take the exclusive index lock, re-read
// index.json, let edit change the document, write it back durably (atomicfile), unlock. When
// edit returns an error nothing is written. When the bytes do not change nothing is written.
func (s *Store) update(ctx context.Context, edit func(d *indexDoc) error) (err error) {
	l, err := s.lock(ctx, true)
	if err != nil {
		return err
	}
	defer func() {
		if uerr := l.unlock(); err == nil && uerr != nil {
			err = uerr
		}
	}()
	d, old, err := s.readIndexFile(true)
	if err != nil {
		return err
	}
	if err := d.keepFields(old); err != nil {
		return fmt.Errorf("layout %s: %w", s.root, err)
	}
	if err := edit(d); err != nil {
		return err
	}
	data, err := d.marshal()
	if err != nil {
		return fmt.Errorf("layout %s: %s: %w", s.root, IndexFile, err)
	}
	if bytes.Equal(data, old) {
		return nil
	}
	return atomicfile.WriteFile(filepath.Join(s.root, IndexFile), data, 0o644)
}

// Index returns the layout's index.json as an image index, entries in file order. It takes a
// shared index lock while reading (none on read-only media) and returns ErrBadIndex when
// index.json does not parse.
func (s *Store) Index(ctx context.Context) (ocispec.Index, error) {
	d, err := s.readIndex(ctx)
	if err != nil {
		return ocispec.Index{}, err
	}
	return d.index(), nil
}

// Resolve returns the index.json entry whose org.opencontainers.image.ref.name is exactly ref
// (the last one when several are, as ig reads them). A ref that parses as a digest
// ("sha256:...") resolves to the first index.json entry of that digest, else to the blob of
// that digest with the mediaType its JSON declares, if any. It returns ErrNotFound when nothing
// matches.
func (s *Store) Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	if ref == "" {
		return ocispec.Descriptor{}, fmt.Errorf("empty ref: %w", ErrInvalidReference)
	}
	d, err := s.readIndex(ctx)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if dg, err := digest.Parse(ref); err == nil {
		for _, e := range d.entries {
			if e.desc.Digest == dg {
				return e.desc, nil
			}
		}
		return s.resolveBlob(ctx, dg)
	}
	for i := len(d.entries) - 1; i >= 0; i-- {
		if refName(d.entries[i].desc) == ref {
			return d.entries[i].desc, nil
		}
	}
	return ocispec.Descriptor{}, fmt.Errorf("ref %s in %s: %w", ref, s.root, ErrNotFound)
}

// resolveBlob returns a descriptor for the blob dg, with the media type its JSON declares when
// it is a small JSON document.
func (s *Store) resolveBlob(ctx context.Context, dg digest.Digest) (ocispec.Descriptor, error) {
	path, err := s.blobPath(dg)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	fi, err := lstatRegular(path)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("blob %s in %s: %w", dg, s.root, err)
	}
	desc := ocispec.Descriptor{Digest: dg, Size: fi.Size()}
	if desc.Size <= MaxJSONBytes {
		data, err := s.ReadAll(ctx, desc, MaxJSONBytes)
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		var head struct {
			MediaType string `json:"mediaType"`
		}
		if isJSONObject(data) && json.Unmarshal(data, &head) == nil && validMediaType(head.MediaType) {
			desc.MediaType = head.MediaType
		}
	}
	return desc, nil
}

// Refs returns the named entries of index.json (those with org.opencontainers.image.ref.name),
// sorted by name, then digest.
func (s *Store) Refs(ctx context.Context) ([]ocispec.Descriptor, error) {
	d, err := s.readIndex(ctx)
	if err != nil {
		return nil, err
	}
	var out []ocispec.Descriptor
	for _, e := range d.entries {
		if refName(e.desc) != "" {
			out = append(out, e.desc)
		}
	}
	slices.SortStableFunc(out, func(a, b ocispec.Descriptor) int {
		if c := strings.Compare(refName(a), refName(b)); c != 0 {
			return c
		}
		return strings.Compare(string(a.Digest), string(b.Digest))
	})
	return out, nil
}

// Tag names desc ref in index.json: an entry of that name is replaced where it stands (other
// entries of the same name are dropped), else the entry is appended; every other entry is kept
// as it was, in order. desc is stored with its annotations plus the ref name. Under the
// exclusive index lock, before writing, Tag checks that desc's whole graph is present and
// sound (every manifest and index read and verified, every other blob of the right size), so
// that a gc running at the same time cannot leave a ref to missing blobs: when it is not, Tag
// returns ErrGraphIncomplete naming the first missing or damaged blob and how it is reached,
// and changes nothing. ErrInvalidReference, ErrInvalidDigest and ErrInvalidMediaType report
// bad arguments.
func (s *Store) Tag(ctx context.Context, desc ocispec.Descriptor, ref string) error {
	if err := checkRef(ref); err != nil {
		return err
	}
	if err := checkDigest(desc.Digest); err != nil {
		return fmt.Errorf("tag %s: %w", ref, err)
	}
	if err := checkMediaType(desc.MediaType); err != nil {
		return fmt.Errorf("tag %s: %s: %w", ref, desc.Digest, err)
	}
	entry := desc
	entry.Annotations = make(map[string]string, len(desc.Annotations)+1)
	maps.Copy(entry.Annotations, desc.Annotations)
	entry.Annotations[ocispec.AnnotationRefName] = ref
	return s.update(ctx, func(d *indexDoc) error {
		if err := s.checkGraph(ctx, desc); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("tag %s: %w: %w", ref, err, ErrGraphIncomplete)
		}
		if currentDigest(d, ref) == "" {
			d.entries = append(d.entries, indexEntry{desc: entry})
		} else {
			replaceNamed(d, map[string]ocispec.Descriptor{ref: entry})
		}
		return nil
	})
}

// checkGraph checks that root and everything reachable from it are present: manifests and
// indexes are read and verified, other blobs must be regular files of the declared size.
func (s *Store) checkGraph(ctx context.Context, root ocispec.Descriptor) error {
	return checkGraphWith(ctx, NewWalker(s.fetchOwn, WalkOptions{}), s.Exists, s.missing, root)
}

// missing is the error of checkGraph for an absent blob.
func (s *Store) missing(desc ocispec.Descriptor) error {
	return fmt.Errorf("blob %s: %w", desc.Digest, ErrNotFound)
}

// checkGraphWith walks root's graph with w (whose fetch reads and verifies every manifest and
// index; what w has seen already is not walked again) and checks each other blob with exists;
// an absent one stops the walk with missing's error, which wraps ErrNotFound.
func checkGraphWith(ctx context.Context, w *Walker, exists func(context.Context, ocispec.Descriptor) (bool, error),
	missing func(ocispec.Descriptor) error, root ocispec.Descriptor) error {
	return w.walk(ctx, root, Location{}, func(ctx context.Context, desc ocispec.Descriptor, _ Location) error {
		if IsManifestType(desc.MediaType) || IsIndexType(desc.MediaType) {
			return nil // read by the walk
		}
		ok, err := exists(ctx, desc)
		if err != nil {
			return err
		}
		if !ok {
			return missing(desc)
		}
		return nil
	})
}

// checkEntryGraphs checks the graph of each entry as checkGraphWith does, with one walker for
// all of them (a blob that two entries reach is checked once, and the walk's caps count for
// all), and returns the first failure wrapping ErrGraphIncomplete, naming the layout at root
// and the entry.
func checkEntryGraphs(ctx context.Context, root string, entries []ocispec.Descriptor, fetch FetchFunc,
	exists func(context.Context, ocispec.Descriptor) (bool, error), missing func(ocispec.Descriptor) error) error {
	w := NewWalker(fetch, WalkOptions{})
	for _, e := range entries {
		if err := checkGraphWith(ctx, w, exists, missing, e); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("layout %s: %s: %w: %w", root, describeDesc(e), err, ErrGraphIncomplete)
		}
	}
	return nil
}

// Untag removes the entries named ref from index.json, keeping every other entry as it was. It
// returns ErrNotFound when no entry has that name. It removes no blob (gc does).
func (s *Store) Untag(ctx context.Context, ref string) error {
	if ref == "" {
		return fmt.Errorf("empty ref: %w", ErrInvalidReference)
	}
	return s.update(ctx, func(d *indexDoc) error {
		out := d.entries[:0:0]
		for _, e := range d.entries {
			if refName(e.desc) != ref {
				out = append(out, e)
			}
		}
		if len(out) == len(d.entries) {
			return fmt.Errorf("ref %s in %s: %w", ref, s.root, ErrNotFound)
		}
		d.entries = out
		return nil
	})
}

// lstatRegular returns path's FileInfo when it is a regular file (ErrNotFound when absent,
// ErrNotRegular for anything else, never following a symlink).
func lstatRegular(path string) (fs.FileInfo, error) {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, ErrNotFound
	case err != nil:
		return nil, err
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("is a %s: %w", kindOf(fi.Mode()), ErrNotRegular)
	}
	return fi, nil
}
