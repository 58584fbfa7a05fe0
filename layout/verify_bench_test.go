package layout

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// benchBytesEnv sets the size of the benchmark layout; `make bench` sets 1 GiB.
const benchBytesEnv = "GADGETPACK_BENCH_BYTES"

// benchLayout is the benchmark layout: its path, its blob files and their total size.
type benchLayout struct {
	path  string
	blobs []ocispec.Descriptor
	total int64
}

var benchOnce = sync.OnceValues(buildBenchLayout)

// buildBenchLayout returns the benchmark layout, building it once under os.TempDir() (kept
// between runs; a "complete" marker says it was finished). Blobs are random bytes of a fixed
// seed, of sizes from 256 KiB to 24 MiB, log-uniform, as layers of manifests tagged in one
// index: everything is reachable, so Verify walks and hashes all of it.
func buildBenchLayout() (*benchLayout, error) {
	total := int64(64 << 20)
	if v := os.Getenv(benchBytesEnv); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1<<20 {
			return nil, fmt.Errorf("%s=%q: want a number of bytes of at least 1 MiB", benchBytesEnv, v)
		}
		total = n
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("gadgetpack-bench-layout-v1-%d", total))
	// The blob list is derived from the seed, so a complete layout need not be re-read.
	sizes := benchSizes(total)
	if _, err := os.Stat(dir + ".complete"); err == nil {
		return benchDescribe(dir, sizes)
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	s, err := Init(dir)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	rng := rand.NewChaCha8([32]byte{'g', 'a', 'd', 'g', 'e', 't'})
	var layers []ocispec.Descriptor
	for _, size := range sizes {
		desc, err := s.WriteBlob(ctx, io.LimitReader(rng, size))
		if err != nil {
			return nil, err
		}
		desc.MediaType = "application/vnd.example.random"
		layers = append(layers, desc)
	}
	var manifests []ocispec.Descriptor
	for i := 0; i < len(layers); i += 16 {
		cfg, err := s.WriteBlob(ctx, bytes.NewReader([]byte(fmt.Sprintf("name: bench%d\n", i))))
		if err != nil {
			return nil, err
		}
		cfg.MediaType = "application/vnd.gadget.config.v1+yaml"
		m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: layers[i:min(i+16, len(layers))]}
		m.SchemaVersion = 2
		md, err := writeBenchJSON(ctx, s, m)
		if err != nil {
			return nil, err
		}
		md.MediaType = ocispec.MediaTypeImageManifest
		manifests = append(manifests, md)
	}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: manifests}
	idx.SchemaVersion = 2
	id, err := writeBenchJSON(ctx, s, idx)
	if err != nil {
		return nil, err
	}
	id.MediaType = ocispec.MediaTypeImageIndex
	if err := s.Tag(ctx, id, "example.com/bench:1"); err != nil {
		return nil, err
	}
	if err := os.WriteFile(dir+".complete", nil, 0o644); err != nil {
		return nil, err
	}
	return benchDescribe(dir, sizes)
}

func writeBenchJSON(ctx context.Context, s *Store, v any) (ocispec.Descriptor, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return s.WriteBlob(ctx, bytes.NewReader(data))
}

// benchSizes returns the blob sizes summing to total, from a fixed seed.
func benchSizes(total int64) []int64 {
	rng := rand.New(rand.NewPCG(1, 2))
	var sizes []int64
	for left := total; left > 0; {
		// log-uniform in [256 KiB, 24 MiB]
		size := min(int64(math.Exp2(18+rng.Float64()*(24.58-18)))&^1023, left)
		sizes = append(sizes, size)
		left -= size
	}
	return sizes
}

// benchDescribe lists the blob files of the benchmark layout.
func benchDescribe(dir string, sizes []int64) (*benchLayout, error) {
	bl := &benchLayout{path: dir}
	ents, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			return nil, err
		}
		bl.blobs = append(bl.blobs, ocispec.Descriptor{Digest: digest.NewDigestFromEncoded(digest.SHA256, e.Name()), Size: fi.Size()})
		bl.total += fi.Size()
	}
	if len(bl.blobs) < len(sizes) {
		return nil, fmt.Errorf("benchmark layout %s has %d blobs, want at least %d: remove it", dir, len(bl.blobs), len(sizes))
	}
	return bl, nil
}

func benchSetup(b *testing.B) *benchLayout {
	b.Helper()
	bl, err := benchOnce()
	if err != nil {
		b.Fatal(err)
	}
	return bl
}

// BenchmarkVerify verifies the whole benchmark layout: every blob hashed, the graph walked.
func BenchmarkVerify(b *testing.B) {
	bl := benchSetup(b)
	b.SetBytes(bl.total)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rep, err := Verify(context.Background(), bl.path, VerifyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if !rep.OK || rep.Bytes != bl.total || len(rep.Problems) != 0 {
			b.Fatalf("verify: ok=%v bytes=%d problems=%v", rep.OK, rep.Bytes, rep.Problems)
		}
	}
}

// BenchmarkParallelSHA256 is the physical limit BenchmarkVerify is measured against: the same
// blob files hashed by runtime.NumCPU() goroutines with the same 1 MiB buffer, and nothing else.
func BenchmarkParallelSHA256(b *testing.B) {
	bl := benchSetup(b)
	b.SetBytes(bl.total)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		work := make(chan ocispec.Descriptor, len(bl.blobs))
		for _, d := range bl.blobs {
			work <- d
		}
		close(work)
		var wg sync.WaitGroup
		errs := make(chan error, runtime.NumCPU())
		for range runtime.NumCPU() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, bufSize)
				h := sha256.New()
				for d := range work {
					f, err := os.Open(filepath.Join(bl.path, "blobs", "sha256", d.Digest.Encoded()))
					if err != nil {
						errs <- err
						return
					}
					h.Reset()
					_, err = io.CopyBuffer(h, struct{ io.Reader }{f}, buf)
					f.Close()
					if err != nil {
						errs <- err
						return
					}
					if got := digest.NewDigest(digest.SHA256, h); got != d.Digest {
						errs <- fmt.Errorf("%s hashes to %s", d.Digest, got)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteBlob streams 4 MiB blobs into a layout: hashing, temp file, fsync, rename,
// folder fsync.
func BenchmarkWriteBlob(b *testing.B) {
	s, err := Init(filepath.Join(b.TempDir(), "layout"))
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 4<<20)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < len(data); i += 8 {
		binary.LittleEndian.PutUint64(data[i:], rng.Uint64())
	}
	ctx := context.Background()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var n uint64
	for b.Loop() {
		n++
		binary.LittleEndian.PutUint64(data, n) // a new blob each time
		desc, err := s.WriteBlob(ctx, bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := os.Remove(blobFilePath(s, desc.Digest)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
