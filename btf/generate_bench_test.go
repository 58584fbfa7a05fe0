package btf

import (
	"context"
	"io"
	"path/filepath"
	"testing"
)

// BenchmarkGenerate runs Generate over testdata/archive (three real kernels, xz) for one
// object and for ten (the eight test objects, two of them twice), the way a gadget build uses
// it. Bytes are the kernels' uncompressed BTF.
func BenchmarkGenerate(b *testing.B) {
	objs := testObjectPaths(b)
	ten := append(append([]string(nil), objs...), objs[:10-len(objs)]...)
	var kernelBytes int64
	for _, k := range testKernels(b)[:3] { // the archive's own three
		kernelBytes += int64(len(k.data))
	}
	one := []string{filepath.Join("testdata", "core_fields.bpf.o")}
	for _, tc := range []struct {
		name string
		objs []string
	}{{"one", one}, {"ten", ten}} {
		b.Run(tc.name, func(b *testing.B) {
			opts := Options{Archive: "testdata/archive"}
			b.SetBytes(kernelBytes)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				res, err := Generate(context.Background(), opts, tc.objs, io.Discard)
				if err != nil {
					b.Fatal(err)
				}
				n += res.Kernels
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "kernels/s")
		})
	}
}

// BenchmarkMinimize is the in-memory part alone: one parsed kernel, all test objects.
func BenchmarkMinimize(b *testing.B) {
	k := testKernels(b)[0]
	objs := loadTestObjects(b, testObjectPaths(b))
	b.SetBytes(int64(len(k.data)))
	b.ReportAllocs()
	for b.Loop() {
		kern, err := ParseKernel(k.data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Minimize(kern, objs...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGeneratePerObject is GeneratePerObject for ten objects over testdata/archive.
func BenchmarkGeneratePerObject(b *testing.B) {
	src := testObjectPaths(b)
	var objs []string
	outs := make([]io.Writer, 10)
	for i := range outs {
		objs = append(objs, src[i%len(src)])
		outs[i] = io.Discard
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		res, err := GeneratePerObject(context.Background(), Options{Archive: "testdata/archive"}, objs, outs)
		if err != nil {
			b.Fatal(err)
		}
		n += res.Kernels
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "kernels/s")
}
