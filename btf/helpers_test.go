package btf

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
)

// testKernel is one real kernel of the test data: btf/testdata/archive and testdata/kernels.
type testKernel struct {
	name string // archive path or file name
	data []byte
}

var loadTestKernels = sync.OnceValues(func() ([]testKernel, error) {
	ctx := context.Background()
	entries, err := listArchive(ctx, "testdata/archive")
	if err != nil {
		return nil, err
	}
	d := newDecompressor(false)
	var out []testKernel
	for _, e := range entries {
		data, err := readKernelAlone(ctx, d, e)
		if err != nil {
			return nil, err
		}
		out = append(out, testKernel{name: e.rel, data: data})
	}
	// the other testdata kernels (the arm64 one is not in this package's archive)
	more, _ := filepath.Glob("../testdata/kernels/arm64/*.btf")
	for _, p := range more {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, testKernel{name: filepath.ToSlash(p), data: data})
	}
	return out, nil
})

// testKernels returns the test kernels, decompressed once per test binary.
func testKernels(tb testing.TB) []testKernel {
	tb.Helper()
	ks, err := loadTestKernels()
	if err != nil {
		tb.Fatal(err)
	}
	if len(ks) < 3 {
		tb.Fatalf("%d test kernels, want at least 3", len(ks))
	}
	return ks
}

// testObjectPaths returns this package's CO-RE objects and the project's gadget objects.
func testObjectPaths(tb testing.TB) []string {
	tb.Helper()
	own, err := filepath.Glob("testdata/*.bpf.o")
	if err != nil {
		tb.Fatal(err)
	}
	gadgets, err := filepath.Glob("../testdata/gadgets/*/*.bpf.o")
	if err != nil {
		tb.Fatal(err)
	}
	paths := append(own, gadgets...)
	sort.Strings(paths)
	if len(own) < 5 {
		tb.Fatalf("%d CO-RE test objects in testdata, want 5", len(own))
	}
	return paths
}

// loadTestObjects loads paths with loadObjects.
func loadTestObjects(tb testing.TB, paths []string) []*Object {
	tb.Helper()
	objs, err := loadObjects(paths)
	if err != nil {
		tb.Fatal(err)
	}
	return objs
}

// readKernelAlone is d.readKernel with a scratch of its own, released before it returns: the
// result is the caller's own (copied out of the memory file's mapping when it was used).
func readKernelAlone(ctx context.Context, d *decompressor, e kernelEntry) (data []byte, err error) {
	s := &workerScratch{}
	defer func() {
		if s.memMap != nil {
			data = bytes.Clone(data)
		}
		s.close()
	}()
	return d.readKernel(ctx, e, s)
}

// listArchive returns every kernel of the archive at root.
func listArchive(ctx context.Context, root string) ([]kernelEntry, error) {
	w, err := walkArchive(ctx, root, "all", nil)
	return w.kernels, err
}
