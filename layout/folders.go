package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gadgetpack/gadgetpack/internal/atomicfile"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// The folders of a layout: blobs/, blobs/<alg>/ and TempDir (with the stage folders in it) are
// real folders inside the layout, never symlinks: a symlink there would make reads come from,
// and writes (blobs, temp files, gc's removals) land in, a folder outside the layout. The root
// itself may be a symlink to a folder (users make those); nothing below it may be one.
//
// One rule for every reader (checkFolder): Verify reports such a folder, Open and Init refuse
// the layout. Writers then confine themselves: they open the root once and each folder below
// it one name at a time without following a symlink (openFolder), and create, rename and
// remove relative to the folders they hold (atomicfile's *At functions), so that a folder
// swapped for a symlink while they run cannot redirect them.

// folderError is a folder of a layout that is not a real folder. It wraps ErrNotLayout.
type folderError struct {
	rel  string // relative to the root: "blobs/sha256"
	kind string // what it is: "symlink"
}

func (e *folderError) Error() string {
	return fmt.Sprintf("%s is a %s, not a folder: %s", e.rel, e.kind, ErrNotLayout)
}

func (e *folderError) Unwrap() error { return ErrNotLayout }

// checkFolder is the rule for the folder rel of a layout (blobs, an entry of blobs, TempDir),
// of mode m: nil for a real folder, else a *folderError naming rel and what it is.
func checkFolder(rel string, m fs.FileMode) error {
	if m.IsDir() {
		return nil
	}
	return &folderError{rel: rel, kind: kindOf(m)}
}

// checkFolders applies checkFolder to the layout at root: blobs/ (which must exist when
// needBlobs is set), each entry of blobs/ that is a symlink or is named after a digest
// algorithm (see isAlgFolder), and TempDir when it exists. It reads no blob and follows no
// symlink.
func checkFolders(root string, needBlobs bool) error {
	fi, err := os.Lstat(filepath.Join(root, BlobsDir))
	var ents []fs.DirEntry
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if needBlobs {
			return fmt.Errorf("layout %s: no %s directory: %w", root, BlobsDir, ErrNotLayout)
		}
	case err != nil:
		return fmt.Errorf("layout %s: %w", root, err)
	default:
		if err := checkFolder(BlobsDir, fi.Mode()); err != nil {
			return fmt.Errorf("layout %s: %w", root, err)
		}
		if ents, err = os.ReadDir(filepath.Join(root, BlobsDir)); err != nil {
			return fmt.Errorf("layout %s: %w", root, err)
		}
	}
	for _, e := range ents {
		if isAlgFolder(e) && !e.IsDir() {
			return fmt.Errorf("layout %s: %w", root, checkFolder(filepath.Join(BlobsDir, e.Name()), e.Type()))
		}
	}
	fi, err = os.Lstat(filepath.Join(root, TempDir))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("layout %s: %w", root, err)
	}
	if err := checkFolder(TempDir, fi.Mode()); err != nil {
		return fmt.Errorf("layout %s: %w", root, err)
	}
	return nil
}

// isAlgFolder reports whether the entry e of blobs/ stands where a digest algorithm's folder
// belongs: a symlink (to anything), or any file named after an algorithm this package
// computes. Other files in blobs/ are only verify's warnings.
func isAlgFolder(e fs.DirEntry) bool {
	return e.Type()&fs.ModeSymlink != 0 || digest.Algorithm(e.Name()).Available()
}

// openRoot opens the layout's root folder, following a symlink (the root may be one).
func (s *Store) openRoot() (*os.File, error) {
	d, err := atomicfile.OpenDir(s.root)
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", s.root, err)
	}
	return d, nil
}

// openFolder opens the folder rel ("blobs/sha256", TempDir) below the root folder held as
// root, one name at a time, never following a symlink. With create, a missing folder is made
// (and fsynced into its parent), and made reports whether the last one was. A symlink or
// anything else than a folder on the way is a *folderError (ErrNotLayout) naming it; a
// missing folder without create wraps fs.ErrNotExist.
func openFolder(root *os.File, rel string, create bool) (dir *os.File, made bool, err error) {
	dir = root
	parts := strings.Split(filepath.Clean(rel), string(filepath.Separator))
	for i, name := range parts {
		made = false
		next, err := atomicfile.OpenDirAt(dir, name)
		if errors.Is(err, fs.ErrNotExist) && create {
			if err = atomicfile.MkdirAt(dir, name); err == nil || errors.Is(err, fs.ErrExist) {
				made = err == nil
				next, err = atomicfile.OpenDirAt(dir, name)
			}
		}
		if err != nil && errors.Is(err, unix.ENOTDIR) {
			if fi, serr := atomicfile.LstatAt(dir, name); serr == nil && !fi.IsDir() {
				err = checkFolder(filepath.Join(parts[:i+1]...), fi.Mode())
			}
		}
		if dir != root {
			_ = dir.Close()
		}
		if err != nil {
			return nil, false, fmt.Errorf("layout %s: %w", root.Name(), err)
		}
		dir = next
	}
	return dir, made, nil
}

// mkdirBlobs makes blobs/<alg> (and blobs; blobs alone for alg "") below the root when missing,
// each fsynced into its parent, refusing a symlink on the way.
func (s *Store) mkdirBlobs(alg string) error {
	root, err := s.openRoot()
	if err != nil {
		return err
	}
	defer func() { _ = root.Close() }()
	d, _, err := openFolder(root, filepath.Join(BlobsDir, alg), true)
	if err != nil {
		return err
	}
	return d.Close()
}

// blobDirs holds the root and the blobs/<alg>/ folders below it, opened on first use.
type blobDirs struct {
	root *os.File
	algs map[digest.Algorithm]*os.File
}

// openBlobDirs opens the layout's root for blobDirs.
func (s *Store) openBlobDirs() (*blobDirs, error) {
	root, err := s.openRoot()
	if err != nil {
		return nil, err
	}
	return &blobDirs{root: root, algs: map[digest.Algorithm]*os.File{}}, nil
}

// get returns the folder blobs/<alg>/, opened without following a symlink (a *folderError for
// one, fs.ErrNotExist wrapped when it is missing).
func (b *blobDirs) get(alg digest.Algorithm) (*os.File, error) {
	if d, ok := b.algs[alg]; ok {
		return d, nil
	}
	d, _, err := openFolder(b.root, filepath.Join(BlobsDir, alg.String()), false)
	if err != nil {
		return nil, err
	}
	b.algs[alg] = d
	return d, nil
}

// close closes every folder b holds.
func (b *blobDirs) close() {
	for _, d := range b.algs {
		_ = d.Close()
	}
	_ = b.root.Close()
}
