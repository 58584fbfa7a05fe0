package spec

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// testdataPath returns the path of rel inside the repository's testdata/ folder.
func testdataPath(rel string) string {
	return filepath.Join("..", "testdata", filepath.FromSlash(rel))
}

// readTestdata returns a file of the repository's testdata/ folder.
func readTestdata(tb testing.TB, rel string) []byte {
	tb.Helper()
	data, err := os.ReadFile(testdataPath(rel))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// globTestdata returns the paths (relative to testdata/) matching pattern, sorted; it fails
// if there are none, so that a renamed fixture cannot silently empty a test.
func globTestdata(tb testing.TB, pattern string) []string {
	tb.Helper()
	paths, err := filepath.Glob(testdataPath(pattern))
	if err != nil {
		tb.Fatal(err)
	}
	if len(paths) == 0 {
		tb.Fatalf("no testdata matches %s", pattern)
	}
	out := make([]string, len(paths))
	for i, p := range paths {
		rel, err := filepath.Rel(testdataPath(""), p)
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = filepath.ToSlash(rel)
	}
	sort.Strings(out)
	return out
}

// interopPath returns a path under ../shared/interop (real ig artifacts). Without it the test
// skips, or fails when CI is set.
func interopPath(tb testing.TB, rel string) string {
	tb.Helper()
	p := filepath.Join("..", "..", "shared", "interop", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("interop data is required in CI: %v", err)
		}
		tb.Skipf("interop data not found: %v", err)
	}
	return p
}

// blobSet is an OCI layout's blobs in memory, keyed by digest, with index.json.
type blobSet struct {
	index ocispec.Index
	blobs map[digest.Digest][]byte
}

// fetch is a FetchFunc over the set. Like a layout's verified Fetch, it refuses a descriptor
// whose size is not the blob's.
func (s *blobSet) fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, ok := s.blobs[desc.Digest]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, fs.ErrNotExist)
	}
	if int64(len(data)) != desc.Size {
		return nil, fmt.Errorf("blob %s: size %d, want %d", desc.Digest, len(data), desc.Size)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// readLayoutDir loads an OCI layout directory (index.json, blobs/sha256/<hex>) into memory.
func readLayoutDir(tb testing.TB, dir string) *blobSet {
	tb.Helper()
	s := &blobSet{blobs: map[digest.Digest][]byte{}}
	idx, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(idx, &s.index); err != nil {
		tb.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		s.blobs[digest.NewDigestFromEncoded(digest.SHA256, e.Name())] = data
	}
	return s
}

// readLayoutTar loads an OCI layout from an uncompressed tar (ig image export).
func readLayoutTar(tb testing.TB, path string) *blobSet {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	s := &blobSet{blobs: map[digest.Digest][]byte{}}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			tb.Fatal(err)
		}
		name := strings.TrimPrefix(hdr.Name, "./")
		switch {
		case name == "index.json":
			if err := json.Unmarshal(data, &s.index); err != nil {
				tb.Fatal(err)
			}
		case strings.HasPrefix(name, "blobs/sha256/"):
			s.blobs[digest.NewDigestFromEncoded(digest.SHA256, strings.TrimPrefix(name, "blobs/sha256/"))] = data
		}
	}
	return s
}

// digestOf parses a digest literal of a test table.
func digestOf(s string) digest.Digest {
	return digest.Digest(s)
}
