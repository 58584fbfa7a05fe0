package layout

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gadgetpack/gadgetpack/internal/atomicfile"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// GCPlan is what a garbage collection removes: computed by PlanGC, carried out by ApplyGC
// (print it for a dry run).
type GCPlan struct {
	// Blobs are the blobs nothing kept points at, sorted by digest.
	Blobs []GCBlob `json:"blobs"`
	// Bytes is the total size of Blobs.
	Bytes int64 `json:"bytes"`
	// Temp are the stale temp files, relative to the layout root, sorted.
	Temp []string `json:"temp"`
	// Kept is the number of blobs kept.
	Kept int `json:"kept"`
}

// GCBlob is one blob of a GCPlan.
type GCBlob struct {
	Digest digest.Digest `json:"digest"`
	Size   int64         `json:"size"`
}

// PlanGC computes what a gc would remove, without removing anything. It keeps, by marking from
// every entry of index.json (named or not) through Successors: everything reachable; every
// referrer (a manifest or index blob whose subject is kept, found by reading the small JSON
// blobs; a referrer's own referrers too); and so the digest-tag signatures of kept images
// (sha256-<hex>, sha256-<hex>.sig), which are index.json entries. An entry whose blob is
// absent is skipped, as oras-go does. A reachable manifest that cannot be read or does not
// verify stops the plan with its error (ErrDigestMismatch, ErrBadManifest...): gc never
// guesses what a damaged manifest pointed at; nor does it past the defaults of WalkOptions
// (ErrTooDeep, ErrTooManyDescriptors). Stale temp files are listed too (see CleanTemp).
//
// The plan is advisory: ApplyGC marks again under the lock before it removes anything.
func (s *Store) PlanGC(ctx context.Context) (*GCPlan, error) {
	l, err := s.readLock(ctx)
	if err != nil {
		return nil, err
	}
	d, _, err := s.readIndexFile(false)
	var temps []string
	if err == nil {
		// Under the shared lock no index writer is active, so root temps are stale.
		temps, err = s.staleTemps(ctx, false, true, nil)
	}
	if l != nil {
		if uerr := l.unlock(); err == nil && uerr != nil {
			err = uerr
		}
	}
	if err != nil {
		return nil, err
	}
	marked, blobs, err := s.mark(ctx, d)
	if err != nil {
		return nil, err
	}
	plan := &GCPlan{Blobs: []GCBlob{}, Temp: temps}
	if plan.Temp == nil {
		plan.Temp = []string{}
	}
	for _, b := range blobs {
		if marked[b.Digest] {
			plan.Kept++
			continue
		}
		plan.Blobs = append(plan.Blobs, b)
		plan.Bytes += b.Size
	}
	return plan, nil
}

// ApplyGC removes what plan lists and is still garbage. Under the exclusive index lock it
// re-reads index.json and marks again (as PlanGC does), so a blob that a Tag made reachable
// since the plan stays; a blob whose size changed since the plan stays too. Temp files of
// writers still alive stay. Removals are fsynced. On return, plan lists only what was removed
// (Blobs, Bytes, Temp).
func (s *Store) ApplyGC(ctx context.Context, plan *GCPlan) (err error) {
	l, err := s.lock(ctx, true)
	if err != nil {
		return err
	}
	defer func() {
		if uerr := l.unlock(); err == nil && uerr != nil {
			err = uerr
		}
	}()
	d, _, err := s.readIndexFile(false)
	if err != nil {
		return err
	}
	marked, _, err := s.mark(ctx, d)
	if err != nil {
		return err
	}
	removed := plan.Blobs[:0:0]
	var bytes int64
	// Removals are relative to blobs/<alg>/ folders held open below the root, never reached
	// through a symlink (folders.go): gc removes nothing outside the layout.
	dirs, err := s.openBlobDirs()
	if err != nil {
		return err
	}
	defer dirs.close()
	touched := map[digest.Algorithm]bool{}
	for _, b := range plan.Blobs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if marked[b.Digest] {
			continue
		}
		if err := checkDigest(b.Digest); err != nil {
			return err
		}
		dir, err := dirs.get(b.Digest.Algorithm())
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		fi, err := atomicfile.LstatAt(dir, b.Digest.Encoded())
		if err != nil || !fi.Mode().IsRegular() || fi.Size() != b.Size {
			continue
		}
		if err := atomicfile.UnlinkAt(dir, b.Digest.Encoded()); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return fmt.Errorf("gc %s: blob %s: %w", s.root, b.Digest, err)
		}
		touched[b.Digest.Algorithm()] = true
		removed = append(removed, b)
		bytes += b.Size
	}
	for _, alg := range slices.Sorted(maps.Keys(touched)) {
		dir, _ := dirs.get(alg)
		if err := dir.Sync(); err != nil {
			return fmt.Errorf("gc %s: %w", s.root, err)
		}
	}
	planned := map[string]bool{}
	for _, t := range plan.Temp {
		planned[t] = true
	}
	temps, err := s.staleTemps(ctx, true, true, func(rel string) bool { return planned[rel] })
	if err != nil {
		return err
	}
	plan.Blobs, plan.Bytes, plan.Temp = removed, bytes, temps
	if plan.Temp == nil {
		plan.Temp = []string{}
	}
	return nil
}

// mark returns the set of kept digests and the list of blob files (valid digest names, regular
// files), sorted by digest.
func (s *Store) mark(ctx context.Context, d *indexDoc) (map[digest.Digest]bool, []GCBlob, error) {
	w := NewWalker(s.Fetch, WalkOptions{})
	w.absentOK = true // absent: nothing under it to keep
	markFrom := func(desc ocispec.Descriptor, at Location) error {
		err := w.walk(ctx, desc, at, func(context.Context, ocispec.Descriptor, Location) error { return nil })
		switch {
		case err == nil, ctx.Err() != nil:
			return err
		case errors.Is(err, ErrTooDeep), errors.Is(err, ErrTooManyDescriptors):
			return fmt.Errorf("gc %s: %w", s.root, err)
		}
		return fmt.Errorf("gc %s: %w, so what it points at is unknown (run verify)", s.root, err)
	}
	for i, e := range d.entries {
		if err := markFrom(e.desc, entryLocation(i, e.desc.Digest, refName(e.desc))); err != nil {
			return nil, nil, err
		}
	}
	marked := w.seen

	blobs, err := s.listBlobs(ctx)
	if err != nil {
		return nil, nil, err
	}
	// Referrers: small JSON blobs not kept yet whose subject is kept, until none is left.
	cands, err := s.referrersOf(ctx, blobs, func(d digest.Digest) bool { return marked[d] })
	if err != nil {
		return nil, nil, err
	}
	bySubject := map[digest.Digest][]int{}
	for i, c := range cands {
		bySubject[c.subject] = append(bySubject[c.subject], i)
	}
	for next := 0; next < len(w.order); next++ {
		for _, i := range bySubject[w.order[next]] {
			c := cands[i]
			if marked[c.desc.Digest] {
				continue
			}
			if err := markFrom(c.desc, labelLocation("referrer "+string(c.desc.Digest))); err != nil {
				return nil, nil, err
			}
		}
	}
	return marked, blobs, nil
}

// listBlobs lists the regular files under blobs/<alg>/ whose names are valid digests of a
// known algorithm, sorted by digest. Anything else is left for verify to report.
func (s *Store) listBlobs(ctx context.Context) ([]GCBlob, error) {
	dir := filepath.Join(s.root, BlobsDir)
	algs, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", s.root, err)
	}
	var out []GCBlob
	for _, a := range algs {
		alg := digest.Algorithm(a.Name())
		if !a.IsDir() || !alg.Available() {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(dir, a.Name()))
		if err != nil {
			return nil, fmt.Errorf("layout %s: %w", s.root, err)
		}
		for _, e := range ents {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if !e.Type().IsRegular() || alg.Validate(e.Name()) != nil {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue
			}
			out = append(out, GCBlob{Digest: digest.NewDigestFromEncoded(alg, e.Name()), Size: fi.Size()})
		}
	}
	slices.SortFunc(out, func(a, b GCBlob) int { return strings.Compare(string(a.Digest), string(b.Digest)) })
	return out, nil
}
