package layout

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/internal/termsafe"
)

// AddOptions tunes AddEntries. The zero value refuses to move an existing ref.
type AddOptions struct {
	// Force lets a named entry replace an entry of the same name that points at another
	// digest. Without it such a conflict is an error (ErrRefExists) and nothing is written.
	Force bool

	// Drop lists digests whose unnamed index.json entries AddEntries removes in the same write
	// (a signature replaced by a new one), unless one of the entries given has that digest. It
	// removes no blob (gc does).
	Drop []digest.Digest

	// found, set by a Stage's Commit, lists the blobs the entries' graphs reach as its
	// CheckGraph found them: under the lock, AddEntries checks that they are all there
	// (checkPresent) instead of walking the graphs again.
	found []blobSize
}

// AddResult says what AddEntries changed.
type AddResult struct {
	Added     int `json:"added"`     // entries appended
	Replaced  int `json:"replaced"`  // named entries moved to another digest (only with Force)
	Unchanged int `json:"unchanged"` // entries already in index.json as given
}

// AddEntries merges entries into index.json in one locked read-modify-write, for import and
// copy. A named entry (org.opencontainers.image.ref.name) whose ref is already there for the
// same digest is left as it is; for another digest it is replaced where it stands when
// opts.Force is set, else AddEntries returns ErrRefExists naming every such ref and writes
// nothing. An unnamed entry is appended unless an unnamed entry of its digest is there already.
// New entries keep the order given. Under the exclusive index lock, before writing, every
// entry's graph is checked present and sound as Tag does; when one is not, AddEntries returns
// ErrGraphIncomplete naming the entry and the first missing or damaged blob (or ErrTooDeep,
// ErrTooManyDescriptors past the defaults of WalkOptions, one walk for all entries), and writes
// nothing. It takes time linear in the entries of index.json and those given. With opts.Drop,
// the unnamed entries of those digests go in the same write. ErrInvalidReference,
// ErrInvalidDigest and ErrInvalidMediaType report bad entries.
func (s *Store) AddEntries(ctx context.Context, entries []ocispec.Descriptor, opts AddOptions) (*AddResult, error) {
	for _, e := range entries {
		if err := checkEntry(e); err != nil {
			return nil, fmt.Errorf("layout %s: %w", s.root, err)
		}
	}
	var res AddResult
	err := s.update(ctx, func(d *indexDoc) error {
		res = AddResult{}
		if opts.found != nil {
			if err := s.checkPresent(ctx, opts.found); err != nil {
				return err
			}
		} else if err := checkEntryGraphs(ctx, s.root, entries, s.fetchOwn, s.Exists, s.missing); err != nil {
			return err
		}
		var conflicts []string
		res, conflicts = merge(d, entries, opts)
		if len(conflicts) > 0 {
			return s.refConflict(conflicts)
		}
		dropUnnamed(d, opts.Drop, entries)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// dropUnnamed removes from d the unnamed entries of the digests in drop that keep does not
// hold, keeping every other entry in order.
func dropUnnamed(d *indexDoc, drop []digest.Digest, keep []ocispec.Descriptor) {
	if len(drop) == 0 {
		return
	}
	gone := make(map[digest.Digest]bool, len(drop))
	for _, dg := range drop {
		gone[dg] = true
	}
	for _, e := range keep {
		delete(gone, e.Digest)
	}
	out := d.entries[:0:0]
	for _, e := range d.entries {
		if !(refName(e.desc) == "" && gone[e.desc.Digest]) {
			out = append(out, e)
		}
	}
	d.entries = out
}

// CheckEntries reports, without the lock and without writing, whether AddEntries would refuse
// entries because of a ref of the layout that points elsewhere (ErrRefExists naming them), so
// that a command can stop before it writes any blob. AddEntries checks again under the lock.
func (s *Store) CheckEntries(ctx context.Context, entries []ocispec.Descriptor, opts AddOptions) error {
	for _, e := range entries {
		if err := checkEntry(e); err != nil {
			return fmt.Errorf("layout %s: %w", s.root, err)
		}
	}
	d, err := s.readIndexLock(ctx, true)
	if err != nil {
		return err
	}
	if _, conflicts := merge(d, entries, opts); len(conflicts) > 0 {
		return s.refConflict(conflicts)
	}
	return nil
}

// refConflict is the ErrRefExists error naming the refs that would move (the first few of
// them, and how many more: 145k refs make no one-line message).
func (s *Store) refConflict(conflicts []string) error {
	return fmt.Errorf("layout %s: %s: %w", s.root, termsafe.Join(conflicts, "; ", 0), ErrRefExists)
}

// merge applies entries to d as AddEntries does and returns what changed, or the conflicts. It
// takes time linear in the entries of d and the entries given: the names and unnamed digests
// of d are indexed once (refTable), and the named entries to replace are swapped in one pass at
// the end.
func merge(d *indexDoc, entries []ocispec.Descriptor, opts AddOptions) (res AddResult, conflicts []string) {
	t := newRefTable(d)
	replace := map[string]ocispec.Descriptor{}
	for _, e := range entries {
		name := refName(e)
		cur := t.names[name]
		switch {
		case name == "" && t.unnamed[e.Digest], name != "" && cur.last == e.Digest && !cur.mixed:
			res.Unchanged++
		case name == "" || cur.last == "":
			d.entries = append(d.entries, indexEntry{desc: e})
			t.add(e)
			res.Added++
		case !opts.Force:
			conflicts = append(conflicts, fmt.Sprintf("%s is %s, not %s", name, cur.last, e.Digest))
		default:
			replace[name] = e
			t.names[name] = refState{last: e.Digest}
			res.Replaced++
		}
	}
	if len(replace) > 0 {
		replaceNamed(d, replace)
	}
	return res, conflicts
}

// refState is what index.json says of one ref name: the digest of its last entry (the one ig
// reads) and whether entries of that name point at several digests.
type refState struct {
	last  digest.Digest
	mixed bool
}

// refTable indexes index.json's entries for merge: each ref name's state, and the digests of
// the unnamed entries.
type refTable struct {
	names   map[string]refState
	unnamed map[digest.Digest]bool
}

// newRefTable indexes the entries of d.
func newRefTable(d *indexDoc) *refTable {
	t := &refTable{names: make(map[string]refState, len(d.entries)), unnamed: map[digest.Digest]bool{}}
	for _, e := range d.entries {
		t.add(e.desc)
	}
	return t
}

// add indexes one more entry, after the others.
func (t *refTable) add(e ocispec.Descriptor) {
	name := refName(e)
	if name == "" {
		t.unnamed[e.Digest] = true
		return
	}
	st, ok := t.names[name]
	t.names[name] = refState{last: e.Digest, mixed: st.mixed || (ok && st.last != e.Digest)}
}

// checkEntry checks an index.json entry as Verify does: its ref name, if any (refViolations),
// and what the descriptor says by itself (descViolations). The error names the entry.
func checkEntry(e ocispec.Descriptor) error {
	if err := firstError(refViolations(e)); err != nil {
		return err // it quotes the name
	}
	if err := checkDesc(e); err != nil {
		return fmt.Errorf("%s: %w", describeDesc(e), err)
	}
	return nil
}

// currentDigest returns the digest the last entry named name points at (the one ig reads).
func currentDigest(d *indexDoc, name string) digest.Digest {
	var dg digest.Digest
	for _, e := range d.entries {
		if refName(e.desc) == name {
			dg = e.desc.Digest
		}
	}
	return dg
}

// replaceNamed puts each entry of byName where the first entry of its name stands and drops the
// others of that name, as Tag does, in one pass over d's entries.
func replaceNamed(d *indexDoc, byName map[string]ocispec.Descriptor) {
	out := d.entries[:0:0]
	placed := make(map[string]bool, len(byName))
	for _, cur := range d.entries {
		name := refName(cur.desc)
		e, ok := byName[name]
		switch {
		case !ok:
			out = append(out, cur)
		case !placed[name]:
			out = append(out, indexEntry{desc: e})
			placed[name] = true
		}
	}
	d.entries = out
}
