package btf

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// readTarGz returns the entries of a gzip or zstd tar, in order, checking reproducibility
// fields on the way.
func readArchive(tb testing.TB, data []byte, compress string) (names []string, contents map[string][]byte) {
	tb.Helper()
	var r io.Reader
	if compress == "zstd" {
		z, err := zstd.NewReader(bytes.NewReader(data))
		if err != nil {
			tb.Fatal(err)
		}
		defer z.Close()
		r = z
	} else {
		z, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			tb.Fatal(err)
		}
		r = z
	}
	tr := tar.NewReader(r)
	contents = map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		if h.ModTime.Unix() != 0 || h.Uid != 0 || h.Gid != 0 || h.Typeflag != tar.TypeReg || h.Mode != 0o644 {
			tb.Fatalf("entry %s: mtime %v uid %d gid %d type %c mode %o", h.Name, h.ModTime, h.Uid, h.Gid, h.Typeflag, h.Mode)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			tb.Fatal(err)
		}
		names = append(names, h.Name)
		contents[h.Name] = b
	}
	return names, contents
}

// testArchive builds an archive with the package's kernels plus the arm64 test kernel as a
// plain .btf, and returns its root.
func testArchive(tb testing.TB) string {
	tb.Helper()
	root := tb.TempDir()
	if err := os.CopyFS(root, os.DirFS("testdata/archive")); err != nil {
		tb.Fatal(err)
	}
	arm, _ := filepath.Glob("../testdata/kernels/arm64/*.btf")
	for _, p := range arm {
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		dir := filepath.Join(root, "debian", "12", "arm64")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return root
}

func TestGenerate(t *testing.T) {
	root := testArchive(t)
	paths := testObjectPaths(t)
	objs := loadTestObjects(t, paths)
	kernels := map[string][]byte{}
	for _, k := range testKernels(t) {
		kernels[trimSuffixes(filepath.Base(k.name))] = k.data
	}
	for _, compress := range []string{"gzip", "zstd"} {
		t.Run(compress, func(t *testing.T) {
			var progress []int
			opts := Options{Archive: root, Jobs: 2, Compress: compress, Progress: func(done, total, skipped int) { progress = append(progress, done, total, skipped) }}
			var out, again bytes.Buffer
			res, err := Generate(context.Background(), opts, paths, &out)
			if err != nil {
				t.Fatal(err)
			}
			opts.Progress = nil
			opts.forceGoXZ = true
			if _, err := Generate(context.Background(), opts, paths, &again); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), again.Bytes()) {
				t.Fatal("two runs (xz program, Go xz) give different bytes")
			}
			names, contents := readArchive(t, out.Bytes(), compress)
			want := []string{
				"debian/12/arm64/6.1.0-56-cloud-arm64.btf",
				"debian/12/aarch64/6.1.0-56-cloud-arm64.btf",
				"debian/12/x86_64/6.1.0-56-cloud-amd64.btf",
				"debian/12/x86_64/6.12.117+deb12-cloud-amd64.btf",
				"debian/12/x86_64/6.18.44-fc-v669.btf",
			}
			if !slices.Equal(names, want) {
				t.Fatalf("entries %q, want %q", names, want)
			}
			wantOut := []OutputResult{{Kernels: 4, Entries: 5, Bytes: int64(out.Len())}}
			if res.Selected != 4 || res.Kernels != 4 || res.Pairs != 4 || !slices.Equal(res.Outputs, wantOut) || len(res.Skipped) != 0 {
				t.Fatalf("result %+v, want 4 kernels, 4 pairs, outputs %+v", res, wantOut)
			}
			if len(progress) != 12 || progress[9] != 4 || progress[10] != 4 || progress[11] != 0 {
				t.Fatalf("progress calls %v", progress)
			}
			for _, n := range names {
				kern, err := ParseKernel(kernels[filepath.Base(n)])
				if err != nil {
					t.Fatalf("%s: %v", n, err)
				}
				min, err := Minimize(kern, objs...)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(contents[n], min) {
					t.Fatalf("entry %s is not Minimize's output", n)
				}
			}
		})
	}
}

func TestGenerateOptions(t *testing.T) {
	root := testArchive(t)
	paths := testObjectPaths(t)[:1]
	for _, tc := range []struct {
		name string
		opts Options
		want []string
	}{
		{"arch x86_64", Options{Arch: "x86_64"}, []string{"debian/12/x86_64/6.1.0-56-cloud-amd64.btf", "debian/12/x86_64/6.12.117+deb12-cloud-amd64.btf", "debian/12/x86_64/6.18.44-fc-v669.btf"}},
		{"arch aarch64", Options{Arch: "aarch64"}, []string{"debian/12/arm64/6.1.0-56-cloud-arm64.btf", "debian/12/aarch64/6.1.0-56-cloud-arm64.btf"}},
		{"filter glob", Options{Filters: []string{"debian/12/x86_64/6.1*"}}, []string{"debian/12/x86_64/6.1.0-56-cloud-amd64.btf.tar.xz", "debian/12/x86_64/6.12.117+deb12-cloud-amd64.btf.tar.xz", "debian/12/x86_64/6.18.44-fc-v669.btf.tar.xz"}},
		{"filter prefix", Options{Filters: []string{"debian/12/arm*"}}, []string{"debian/12/arm64/6.1.0-56-cloud-arm64.btf", "debian/12/aarch64/6.1.0-56-cloud-arm64.btf"}},
		{"filter by entry coordinates", Options{Filters: []string{"debian/12/aarch64/*.btf"}}, []string{"debian/12/arm64/6.1.0-56-cloud-arm64.btf", "debian/12/aarch64/6.1.0-56-cloud-arm64.btf"}},
		{"filter by path on disk", Options{Filters: []string{"*/*/*/*.btf.tar.xz"}}, []string{"debian/12/x86_64/6.1.0-56-cloud-amd64.btf", "debian/12/x86_64/6.12.117+deb12-cloud-amd64.btf", "debian/12/x86_64/6.18.44-fc-v669.btf"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Archive = root
			var out bytes.Buffer
			if _, err := Generate(context.Background(), tc.opts, paths, &out); err != nil {
				t.Fatal(err)
			}
			names, _ := readArchive(t, out.Bytes(), "gzip")
			want := tc.want
			for i, w := range want {
				want[i] = trimSuffixes(w)
			}
			if !slices.Equal(names, want) {
				t.Fatalf("entries %q, want %q", names, want)
			}
		})
	}
	for _, bad := range []Options{{Arch: "mips"}, {Compress: "bzip2"}, {Filters: []string{"["}}} {
		bad.Archive = root
		if _, err := Generate(context.Background(), bad, paths, io.Discard); !errors.Is(err, ErrBadOptions) {
			t.Errorf("Generate(%+v) = %v, want ErrBadOptions", bad, err)
		}
	}
	if _, err := Generate(context.Background(), Options{Archive: root}, nil, io.Discard); !errors.Is(err, ErrBadOptions) {
		t.Errorf("Generate without objects = %v, want ErrBadOptions", err)
	}
}

// TestGenerateNoKernel: an archive without kernels, or filters that select none, are an error
// naming the archive (and the filters); kernels of another arch only give an empty archive
// (build warns about it).
func TestGenerateNoKernel(t *testing.T) {
	paths := testObjectPaths(t)[:1]
	empty := t.TempDir()
	if err := os.MkdirAll(filepath.Join(empty, "ubuntu", "20.04", "x86_64"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		opts  Options
		names []string
	}{
		{"empty archive", Options{Archive: empty}, []string{empty}},
		{"filters match nothing", Options{Archive: "testdata/archive", Filters: []string{"ubuntu/*", "debian/11"}}, []string{"testdata/archive", `"ubuntu/*"`, `"debian/11"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			res, err := Generate(context.Background(), tc.opts, paths, &out)
			if !errors.Is(err, ErrNoKernel) || res != nil || out.Len() != 0 {
				t.Fatalf("Generate = %v, %v, %d bytes; want ErrNoKernel, nothing written", res, err, out.Len())
			}
			for _, n := range tc.names {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("%q does not name %s", err, n)
				}
			}
		})
	}
	var out bytes.Buffer
	res, err := Generate(context.Background(), Options{Archive: "testdata/archive", Arch: "arm64"}, paths, &out)
	if err != nil || res.Selected != 0 || res.Kernels != 0 {
		t.Fatalf("no arm64 kernel: %+v, %v; want an empty archive", res, err)
	}
	if names, _ := readArchive(t, out.Bytes(), "gzip"); len(names) != 0 {
		t.Fatalf("entries %q, want none", names)
	}
}

func trimSuffixes(s string) string {
	for _, suf := range archiveSuffixes {
		if len(s) > len(suf) && s[len(s)-len(suf):] == suf {
			return s[:len(s)-len(suf)] + ".btf"
		}
	}
	return s
}

func TestGenerateBrokenKernels(t *testing.T) {
	root := testArchive(t)
	paths := testObjectPaths(t)[:1]
	dir := filepath.Join(root, "ubuntu", "20.04", "x86_64")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// a truncated xz stream and raw bytes that are not BTF
	good, err := os.ReadFile("testdata/archive/debian/12/x86_64/6.1.0-56-cloud-amd64.btf.tar.xz")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "5.4.0-1-broken.btf.tar.xz"), good[:len(good)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "5.4.0-2-garbage.btf"), []byte("not btf at all, really"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Generate(context.Background(), Options{Archive: root, Jobs: 2}, paths, io.Discard)
	var kerr *KernelError
	if !errors.As(err, &kerr) || kerr.Path != "ubuntu/20.04/x86_64/5.4.0-1-broken.btf.tar.xz" || !errors.Is(err, ErrBadArchive) {
		t.Fatalf("Generate = %v, want the broken tarball named", err)
	}
	var out bytes.Buffer
	res, err := Generate(context.Background(), Options{Archive: root, Jobs: 2, KeepGoing: true}, paths, &out)
	if err == nil || !errors.Is(err, ErrBadArchive) || !errors.Is(err, ErrBadBTF) {
		t.Fatalf("Generate with KeepGoing = %v, want both failures joined", err)
	}
	wantSkipped := []string{"ubuntu/20.04/x86_64/5.4.0-1-broken.btf.tar.xz", "ubuntu/20.04/x86_64/5.4.0-2-garbage.btf"}
	var skipped []string
	for _, s := range res.Skipped {
		var kerr *KernelError
		if s.Output != 0 || s.Object != paths[0] || !errors.As(s.Err, &kerr) || kerr.Path != s.Kernel || kerr.Object != "" {
			t.Errorf("skip %+v", s)
		}
		skipped = append(skipped, s.Kernel)
	}
	if res == nil || !slices.Equal(skipped, wantSkipped) || res.Kernels != 4 || res.Selected != 6 || res.Pairs != 4 {
		t.Fatalf("result %+v, want 4 kernels and %q skipped", res, wantSkipped)
	}
	if names, _ := readArchive(t, out.Bytes(), "gzip"); len(names) != 5 {
		t.Fatalf("entries %q, want the 5 good ones", names)
	}
}

func TestGeneratePerObject(t *testing.T) {
	root := testArchive(t)
	paths, err := filepath.Glob("testdata/*.bpf.o")
	if err != nil {
		t.Fatal(err)
	}
	bufs := make([]bytes.Buffer, len(paths))
	outs := make([]io.Writer, len(paths))
	for i := range bufs {
		outs[i] = &bufs[i]
	}
	opts := Options{Archive: root, Jobs: 2}
	res, err := GeneratePerObject(context.Background(), opts, paths, outs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Kernels != 4 || res.Pairs != 4*len(paths) || len(res.Outputs) != len(paths) {
		t.Fatalf("result %+v", res)
	}
	for i, p := range paths {
		var want bytes.Buffer
		if _, err := Generate(context.Background(), opts, []string{p}, &want); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(bufs[i].Bytes(), want.Bytes()) {
			t.Fatalf("%s: per-object archive differs from Generate's", p)
		}
		if o := res.Outputs[i]; o.Kernels != 4 || o.Entries != 5 || o.Bytes != int64(want.Len()) {
			t.Fatalf("%s: output %+v, want 4 kernels, 5 entries, %d bytes", p, o, want.Len())
		}
	}
	if _, err := GeneratePerObject(context.Background(), opts, paths, outs[:1]); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("%d objects, 1 output: %v, want ErrBadOptions", len(paths), err)
	}
}

func TestGenerateBadObject(t *testing.T) {
	root := testArchive(t)
	for _, p := range []string{"../testdata/bad/no-btf.bpf.o", "../testdata/bad/not-bpf.o", "../testdata/bad/big-endian.bpf.o", "../testdata/bad/empty.o"} {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		t.Run(filepath.Base(p), func(t *testing.T) {
			_, err := Generate(context.Background(), Options{Archive: root}, []string{p}, io.Discard)
			if !errors.Is(err, ErrBadObject) && !errors.Is(err, ErrBadBTF) && !errors.Is(err, ErrBadBTFExt) {
				t.Fatalf("Generate(%s) = %v, want a refused object", p, err)
			}
			t.Log(err)
		})
	}
}

func TestGenerateCancelledAndReadOnly(t *testing.T) {
	root := testArchive(t)
	paths := testObjectPaths(t)[:1]
	list := func() []string {
		var names []string
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			names = append(names, p)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	before := list()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, Options{Archive: root}, paths, io.Discard); !errors.Is(err, context.Canceled) {
		t.Fatalf("Generate with a cancelled context = %v", err)
	}
	if _, err := Generate(context.Background(), Options{Archive: root, Jobs: 1}, paths, io.Discard); err != nil {
		t.Fatal(err)
	}
	if after := list(); !slices.Equal(before, after) {
		t.Fatalf("the archive changed: %q -> %q", before, after)
	}
}
