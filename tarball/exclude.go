package tarball

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
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
// It returns layout.ErrNotLayout for a directory that is not a layout and ErrBadOptions for
// a file that is not a tarball, or holds an entry with an absolute or ".." name.
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
	f, err := os.Open(path)
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

// Magic numbers of the compressions a tarball may have.
var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

func heldInTar(ctx context.Context, name string, r io.Reader) (BlobSet, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(4)
	var in io.Reader = br
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("tarball %s: %w: %w", name, ErrBadOptions, err)
		}
		defer z.Close()
		in = z
	case bytes.HasPrefix(head, zstdMagic):
		z, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(64<<20))
		if err != nil {
			return nil, fmt.Errorf("tarball %s: %w: %w", name, ErrBadOptions, err)
		}
		defer z.Close()
		in = z
	}
	set := BlobSet{}
	tr := tar.NewReader(in)
	sawLayout := false
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("tarball %s: %w: %w", name, ErrBadOptions, err)
		}
		n := h.Name
		if strings.HasPrefix(n, "/") || strings.Contains("/"+n+"/", "/../") {
			return nil, fmt.Errorf("tarball %s: entry %q: unsafe name: %w", name, h.Name, ErrBadOptions)
		}
		n = strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(filepath.Clean(n)), "./"), "/")
		if n == layout.LayoutFile {
			sawLayout = true
		}
		if !h.FileInfo().Mode().IsRegular() {
			continue
		}
		rest, ok := strings.CutPrefix(n, layout.BlobsDir+"/")
		if !ok {
			continue
		}
		alg, enc, ok := strings.Cut(rest, "/")
		if !ok {
			continue
		}
		d := digest.NewDigestFromEncoded(digest.Algorithm(alg), enc)
		if d.Validate() != nil {
			return nil, fmt.Errorf("tarball %s: entry %q: not a digest: %w", name, h.Name, ErrBadOptions)
		}
		set[d] = struct{}{}
	}
	if !sawLayout {
		return nil, fmt.Errorf("tarball %s: no %s entry, not a layout's tarball: %w", name, layout.LayoutFile, ErrBadOptions)
	}
	return set, nil
}
