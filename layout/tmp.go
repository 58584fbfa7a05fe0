package layout

import (
	"context"
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gadgetpack/gadgetpack/internal/atomicfile"
)

// Temp files, and who may remove them.
//
// A blob writer streams into <layout>/.gadgetpack-tmp/blob-<random>, and an import's or a
// copy's Stage (stage.go) into a folder <layout>/.gadgetpack-tmp/stage-<random>/. Each holds a
// flock on its file or folder until it has renamed it away or removed it
// (atomicfile.CreateLocked, MkdirLocked); a cleaner removes only those whose flock it can take,
// while holding it (atomicfile.RemoveIfDead): their writers are dead.
//
// atomicfile's ".index.json.tmp-<random>" and ".oci-layout.tmp-<random>" in the root are
// written only by a holder of the index lock (Tag, Untag, Init), so whoever holds that lock
// knows any such file is stale; CleanTemp removes them only while holding it.
//
// Open and Init do not clean: Open must work on read-only media and must not contend with ig
// for the lock, and Init runs at the start of every build. gc (PlanGC lists, ApplyGC removes)
// and CleanTemp are the only removers.

// tempPrefix is the name prefix of blob writers' temp files in TempDir.
const tempPrefix = "blob-"

// blobTemp is a blob writer's temp file in TempDir, with the folders that confine it: the
// layout's root and TempDir, opened once (see openFolder).
type blobTemp struct {
	*os.File          // the temp file, with its writer's flock held
	root     *os.File // the layout's root folder
	dir      *os.File // TempDir, below root
	name     string   // the temp file's name in dir; "" once published
}

// createTemp creates a writer's temp file in TempDir (made when missing, never through a
// symlink) and returns it with the writer's flock held (atomicfile.CreateLockedAt). The caller
// publishes it or removes it (removeTemp), which closes it.
func (s *Store) createTemp() (*blobTemp, error) {
	root, err := s.openRoot()
	if err != nil {
		return nil, err
	}
	for try := 0; ; try++ {
		dir, _, err := openFolder(root, TempDir, true)
		if err != nil {
			_ = root.Close()
			return nil, err
		}
		f, name, err := atomicfile.CreateLockedAt(dir, tempPrefix+"*")
		if err == nil {
			return &blobTemp{File: f, root: root, dir: dir, name: name}, nil
		}
		_ = dir.Close()
		// dropEmptyTempDir of another writer removed TempDir between the open and the
		// create: make it again.
		if !errors.Is(err, fs.ErrNotExist) || try == 3 {
			_ = root.Close()
			return nil, fmt.Errorf("layout %s: %w", s.root, err)
		}
	}
}

// dropEmptyTempDir removes TempDir when it holds nothing, so that a command that wrote blobs
// into a layout (another tool's, such as ig's store) leaves no empty folder of ours behind. A
// TempDir that holds a live writer's file stays; a writer that loses its freshly opened TempDir
// to this makes it again (createTemp).
func (s *Store) dropEmptyTempDir() {
	root, err := s.openRoot()
	if err != nil {
		return
	}
	defer root.Close()
	_ = unix.Unlinkat(int(root.Fd()), TempDir, unix.AT_REMOVEDIR)
}

// removeTemp removes a writer's temp file that was not published (publish clears its name)
// and closes it and its folders; closing releases the writer's flock.
func removeTemp(t *blobTemp) {
	if t.name != "" {
		_ = atomicfile.UnlinkAt(t.dir, t.name)
	}
	_ = t.File.Close()
	_ = t.dir.Close()
	_ = t.root.Close()
}

// isRootTemp reports whether name, in a layout's root, is an atomicfile temp file of one of the
// files written under the index lock.
func isRootTemp(name string) bool {
	return strings.HasPrefix(name, atomicfile.TempPrefix(IndexFile)) ||
		strings.HasPrefix(name, atomicfile.TempPrefix(LayoutFile))
}

// staleTemps lists, as paths relative to the root and sorted, the temp files that are stale:
// writer temps whose writer is dead (removing them when remove is set), and, when rootTemps is
// set, atomicfile temps in the root. The caller must hold the exclusive index lock to remove
// root temps. When only is not nil, files for which it returns false are left out.
func (s *Store) staleTemps(ctx context.Context, remove, rootTemps bool, only func(rel string) bool) ([]string, error) {
	var out []string
	root, err := s.openRoot()
	if err != nil {
		return nil, err
	}
	defer func() { _ = root.Close() }()
	// TempDir is held open, never reached through a symlink: a cleaner removes only what is
	// inside the layout.
	dir, _, err := openFolder(root, TempDir, false)
	var ents []fs.DirEntry
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		defer func() { _ = dir.Close() }()
		if ents, err = dir.ReadDir(-1); err != nil {
			return nil, fmt.Errorf("layout %s: %w", s.root, err)
		}
		slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if only != nil && !only(filepath.Join(TempDir, e.Name())) {
			continue
		}
		var dead bool
		switch {
		case e.IsDir() && strings.HasPrefix(e.Name(), stagePrefix):
			dead, err = atomicfile.RemoveIfDeadAt(dir, e.Name(), remove) // an import's or a copy's stage (stage.go)
		case e.Type().IsRegular():
			dead, err = atomicfile.RemoveIfDeadAt(dir, e.Name(), remove)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("layout %s: %w", s.root, err)
		}
		if dead {
			out = append(out, filepath.Join(TempDir, e.Name()))
		}
	}
	if rootTemps {
		ents, err := os.ReadDir(s.root)
		if err != nil {
			return nil, fmt.Errorf("layout %s: %w", s.root, err)
		}
		for _, e := range ents {
			if !e.Type().IsRegular() || !isRootTemp(e.Name()) || (only != nil && !only(e.Name())) {
				continue
			}
			if remove {
				if err := os.Remove(filepath.Join(s.root, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return nil, fmt.Errorf("layout %s: %w", s.root, err)
				}
			}
			out = append(out, e.Name())
		}
	}
	if remove && len(out) > 0 {
		if err := atomicfile.SyncDir(s.root); err != nil {
			return nil, err
		}
		if dir != nil {
			if err := dir.Sync(); err != nil {
				return nil, fmt.Errorf("layout %s: %w", s.root, err)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// CleanTemp removes the temp files left by dead writers: blob temp files in TempDir whose
// writer no longer holds its flock, stage folders of imports and copies whose process died (see Stage), and atomicfile temps of index.json and oci-layout in the
// root (removed under the exclusive index lock, since only a lock holder writes them). It
// returns the removed files as paths relative to the layout root, sorted. Temp files of live
// writers are left alone, and so is anything CleanTemp does not recognize (oras-go's ingest/
// folder of an ig store, for one).
func (s *Store) CleanTemp(ctx context.Context) ([]string, error) {
	l, err := s.lock(ctx, true)
	if err != nil {
		return nil, err
	}
	removed, err := s.staleTemps(ctx, true, true, nil)
	if uerr := l.unlock(); err == nil && uerr != nil {
		err = uerr
	}
	if err != nil {
		return nil, err
	}
	return removed, nil
}
