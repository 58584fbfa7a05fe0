package tarball

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/layout"
)

// exBenchBytesEnv sets the size of the benchmark layout, as for layout's benchmarks; `make bench`
// sets 1 GiB. The default is 64 MiB.
const exBenchBytesEnv = "GADGETPACK_BENCH_BYTES"

var exBenchOnce sync.Once

// exBenchLayout returns the benchmark layout, built once per test binary.
func exBenchLayout(tb testing.TB) *layout.Store {
	tb.Helper()
	var s *layout.Store
	var err error
	exBenchOnce.Do(func() { exBenchStore, err = exBuildBenchLayout(tb) })
	if s = exBenchStore; err != nil || s == nil {
		tb.Fatalf("benchmark layout: %v", err)
	}
	return s
}

var exBenchStore *layout.Store

// exBuildBenchLayout builds the benchmark layout under
// os.TempDir() and kept between runs (a ".complete" marker says it was finished): random blobs
// of a fixed seed, sizes cycling from 256 KiB to 32 MiB as scripts/bench.sh makes them, as the
// layers of one manifest tagged in index.json.
func exBuildBenchLayout(tb testing.TB) (*layout.Store, error) {
	total := int64(64 << 20)
	if v := os.Getenv(exBenchBytesEnv); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1<<20 {
			return nil, fmt.Errorf("%s=%q: want a number of bytes of at least 1 MiB", exBenchBytesEnv, v)
		}
		total = n
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("gadgetpack-bench-export-v1-%d", total))
	if _, err := os.Stat(dir + ".complete"); err == nil {
		return layout.Open(dir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	s, err := layout.Init(dir)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	rng := rand.NewChaCha8([32]byte{'e', 'x', 'p', 'o', 'r', 't'})
	sizes := []int64{256 << 10, 1 << 20, 4 << 20, 32 << 20, 8 << 20, 512 << 10, 16 << 20, 2 << 20}
	var layers []ocispec.Descriptor
	for i, n := int64(0), int64(0); n < total; i++ {
		size := min(sizes[i%int64(len(sizes))], total-n)
		desc, err := s.WriteBlob(ctx, io.LimitReader(rng, size))
		if err != nil {
			return nil, err
		}
		desc.MediaType = ocispec.MediaTypeImageLayer
		layers = append(layers, desc)
		n += size
	}
	m := exManifest(tb, s, ocispec.Descriptor{}, layers, nil, "")
	if err := s.Tag(ctx, m, "example.com/bench/data:latest"); err != nil {
		return nil, err
	}
	if err := os.WriteFile(dir+".complete", nil, 0o644); err != nil {
		return nil, err
	}
	return s, nil
}

// BenchmarkExport exports the benchmark layout: the tar into io.Discard (the pipeline's CPU:
// two hashes of every byte, the blob's and the output's), into a file with its checksum file
// (as `gadgetpack export -o FILE`), and compressed.
func BenchmarkExport(b *testing.B) {
	s := exBenchLayout(b)
	ctx := context.Background()
	total := exBenchTotal(b, s)
	dir := b.TempDir()
	// One export first, so that the first sub-benchmark does not read a cold page cache.
	if _, err := Export(ctx, s, io.Discard, ExportOptions{}); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		comp Compression
		file bool
	}{
		{"discard", None, false},
		{"file", None, true},
		{"gzip", Gzip, false},
		{"zstd", Zstd, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(total)
			opts := ExportOptions{Compression: bc.comp}
			for b.Loop() {
				var err error
				if bc.file {
					_, err = ExportFile(ctx, s, filepath.Join(dir, "out.tar"), opts)
				} else {
					_, err = Export(ctx, s, io.Discard, opts)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// exBenchTotal returns the bytes of the blobs an export of s carries.
func exBenchTotal(tb testing.TB, s *layout.Store) int64 {
	tb.Helper()
	refs, err := s.Refs(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	cl, err := s.Closure(context.Background(), refs)
	if err != nil {
		tb.Fatal(err)
	}
	return cl.Bytes
}
