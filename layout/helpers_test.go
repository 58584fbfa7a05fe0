package layout

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// igStore is Inspektor Gadget's own signed-gadget store (see /work/shared/interop/README.md).
const igStore = "/work/shared/interop/ig-store"

// newStore returns a fresh layout in a temp dir.
func newStore(tb testing.TB) *Store {
	tb.Helper()
	s, err := Init(filepath.Join(tb.TempDir(), "layout"))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// writeBlob stores data and returns its descriptor with mediaType set.
func writeBlob(tb testing.TB, s *Store, mediaType string, data []byte) ocispec.Descriptor {
	tb.Helper()
	desc, err := s.WriteBlob(tb.Context(), bytes.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	desc.MediaType = mediaType
	return desc
}

// writeJSON stores v as JSON and returns its descriptor.
func writeJSON(tb testing.TB, s *Store, mediaType string, v any) ocispec.Descriptor {
	tb.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return writeBlob(tb, s, mediaType, data)
}

// testImage is a small two-arch artifact written by buildImage.
type testImage struct {
	index     ocispec.Descriptor
	manifests []ocispec.Descriptor
	configs   []ocispec.Descriptor
	layers    []ocispec.Descriptor
}

// all returns every descriptor of the image, index first.
func (im testImage) all() []ocispec.Descriptor {
	out := []ocispec.Descriptor{im.index}
	out = append(out, im.manifests...)
	out = append(out, im.configs...)
	return append(out, im.layers...)
}

// buildImage writes an index of two manifests (amd64, arm64), each with a YAML config and two
// layers of random-ish bytes derived from seed, hand-written as ig writes them.
func buildImage(tb testing.TB, s *Store, seed string) testImage {
	tb.Helper()
	var im testImage
	for _, arch := range []string{"amd64", "arm64"} {
		cfg := writeBlob(tb, s, "application/vnd.gadget.config.v1+yaml", []byte("name: "+seed+"\narch: "+arch+"\n"))
		l1 := writeBlob(tb, s, "application/vnd.gadget.ebpf.program.v1+binary", pseudoRandom(seed+arch+"1", 3000))
		l2 := writeBlob(tb, s, "application/vnd.gadget.wasm.program.v1+binary", pseudoRandom(seed+arch+"2", 70000))
		m := ocispec.Manifest{
			MediaType:    ocispec.MediaTypeImageManifest,
			ArtifactType: "application/vnd.gadget.v1+binary",
			Config:       cfg,
			Layers:       []ocispec.Descriptor{l1, l2},
			Annotations:  map[string]string{"org.opencontainers.image.title": seed},
		}
		m.SchemaVersion = 2
		md := writeJSON(tb, s, ocispec.MediaTypeImageManifest, m)
		md.Platform = &ocispec.Platform{Architecture: arch, OS: "linux"}
		im.manifests = append(im.manifests, md)
		im.configs = append(im.configs, cfg)
		im.layers = append(im.layers, l1, l2)
	}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: im.manifests}
	idx.SchemaVersion = 2
	im.index = writeJSON(tb, s, ocispec.MediaTypeImageIndex, idx)
	return im
}

// pseudoRandom returns n deterministic bytes derived from seed.
func pseudoRandom(seed string, n int) []byte {
	out := make([]byte, 0, n+32)
	h := digest.FromString(seed)
	for len(out) < n {
		h = digest.FromString(string(h))
		out = append(out, h.Encoded()...)
	}
	return out[:n]
}

// copyDir copies the tree at src into a new temp dir, making everything writable, and returns
// the copy's path.
func copyDir(tb testing.TB, src string) string {
	tb.Helper()
	dst := filepath.Join(tb.TempDir(), filepath.Base(src))
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		tb.Fatal(err)
	}
	return dst
}

// treeState maps every path under root to its content digest, mode, size and inode, to compare a
// tree before and after an operation.
func treeState(tb testing.TB, root string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			v += " " + digest.FromBytes(data).String() + " " + fi.ModTime().String() + " " + inode(fi)
		}
		out[rel] = v
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// inode returns fi's inode number.
func inode(fi fs.FileInfo) string {
	return strconv.FormatUint(fi.Sys().(*syscall.Stat_t).Ino, 10)
}
