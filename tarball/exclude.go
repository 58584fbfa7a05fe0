package tarball

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	"github.com/gadgetpack/gadgetpack/layout"
)

// BlobSet is a set of blob digests. The nil set is empty.
type BlobSet map[digest.Digest]struct{}

// Has reports whether d is in the set.
func (s BlobSet) Has(d digest.Digest) bool {
	_, ok := s[d]
	return ok
}

// HeldBlobs returns the blobs that the layout or the tarball at path holds: for a directory,
// the files under blobs/<alg>/ whose names are digests (an OCI image layout, checked by
// layout.Open); for a file, the blobs/<alg>/<hex> entries of the tar, plain, gzip or zstd
// (detected from the bytes), read for their names only; for a path that does not exist but
// whose path.000 does, the parts path.000, path.001... of a split export, in order. Nothing
// is hashed: the far side's import verifies what it gets. It is what export's --exclude-from
// reads to make a delta.
//
// It reads a tarball with Reader, so it returns its errors: ErrCorrupt for a file that is not a
// layout's tarball, ErrUnsafeEntry for an entry no layout holds (an absolute or ".." name, a
// link...). It returns layout.ErrNotLayout for a directory that is not a layout.
func HeldBlobs(ctx context.Context, path string) (BlobSet, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		if _, perr := os.Stat(PartName(path, 0)); perr == nil {
			return heldInParts(ctx, path)
		}
	}
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return heldInLayout(ctx, path)
	}
	f, err := openFile(path, true)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return heldInTar(ctx, path, f)
}

func heldInParts(ctx context.Context, path string) (BlobSet, error) {
	var paths []string
	for i := 0; i < MaxParts; i++ {
		p := PartName(path, i)
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			break
		}
		paths = append(paths, p)
	}
	r, err := OpenParts(paths)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return heldInTar(ctx, path, r)
}

func heldInLayout(ctx context.Context, path string) (BlobSet, error) {
	s, err := layout.Open(path)
	if err != nil {
		return nil, err
	}
	set := BlobSet{}
	blobs := filepath.Join(s.Path(), layout.BlobsDir)
	algs, err := os.ReadDir(blobs)
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", path, err)
	}
	for _, alg := range algs {
		if !alg.IsDir() || !digest.Algorithm(alg.Name()).Available() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(blobs, alg.Name()))
		if err != nil {
			return nil, fmt.Errorf("layout %s: %w", path, err)
		}
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			d := digest.NewDigestFromEncoded(digest.Algorithm(alg.Name()), f.Name())
			if !f.Type().IsRegular() || d.Validate() != nil {
				continue
			}
			set[d] = struct{}{}
		}
	}
	return set, nil
}

// heldMaxSize is the stream cap of a base tarball: only its names are read, so any size goes.
const heldMaxSize = 1 << 50

func heldInTar(ctx context.Context, name string, r io.Reader) (BlobSet, error) {
	rd, err := NewReader(r, ReaderOptions{MaxSize: heldMaxSize})
	if err != nil {
		return nil, fmt.Errorf("tarball %s: %w", name, err)
	}
	defer rd.Close()
	set := BlobSet{}
	sawLayout := false
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("tarball %s: %w", name, err)
		}
		switch e.Kind {
		case KindLayoutFile:
			sawLayout = true
		case KindBlob:
			set[e.Digest] = struct{}{}
		}
	}
	if !sawLayout {
		return nil, fmt.Errorf("tarball %s: no %s entry, not a layout's tarball: %w", name, layout.LayoutFile, ErrCorrupt)
	}
	return set, nil
}
