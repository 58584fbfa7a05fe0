package tarball

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/layout"
)

// TestSpill adds blobs to spills of several buffer sizes and reads every one back by its
// offset, and all of them at once: from memory, from the file, across both; nothing is seen in
// the temp dir.
func TestSpill(t *testing.T) {
	for _, tc := range []struct {
		name   string
		buffer int
		sizes  []int
		file   bool // the spill reaches its file
	}{
		{"in memory", 1 << 20, []int{10, 300, 0, 4000}, false},
		{"file and buffer", 100, []int{30, 30, 30, 30, 30, 30, 30}, true},
		{"larger than the buffer first", 100, []int{250, 10, 20, 250, 5}, true},
		{"one byte of buffer", 1, []int{1, 2, 1, 3, 0, 7}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func(n int) { spillBuffer = n }(spillBuffer)
			spillBuffer = tc.buffer
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			s := &spill{}
			defer s.Close()
			var all []byte
			var offs []int64
			for i, n := range tc.sizes {
				data := exRandom(n, uint64(i))
				off, ok := s.add(data)
				if !ok || off != int64(len(all)) {
					t.Fatalf("add %d: offset %d %v, want %d true", i, off, ok, len(all))
				}
				offs = append(offs, off)
				all = append(all, data...)
			}
			for i, off := range offs {
				want := all[off : off+int64(tc.sizes[i])]
				got := make([]byte, len(want))
				if n, err := s.ReadAt(got, off); n != len(want) || err != nil || !bytes.Equal(got, want) {
					t.Fatalf("blob %d at %d: %d bytes, %v, equal %v", i, off, n, err, bytes.Equal(got, want))
				}
			}
			got := make([]byte, len(all)+1)
			if n, err := s.ReadAt(got, 0); n != len(all) || err != io.EOF || !bytes.Equal(got[:n], all) {
				t.Fatalf("read of everything and one byte more: %d of %d bytes, %v", n, len(all), err)
			}
			if _, err := s.ReadAt(got[:1], -1); err == nil {
				t.Fatal("a negative offset read")
			}
			if (s.f != nil) != tc.file {
				t.Fatalf("the spill made a file: %v, want %v", s.f != nil, tc.file)
			}
			if ents, err := os.ReadDir(tmp); err != nil || len(ents) > 0 {
				t.Fatalf("the temp dir holds %v (%v), want nothing", ents, err)
			}
		})
	}
}

// TestSpillBroken makes spills whose file cannot be made: the first add that needs it is
// refused, every later one too, and what was added before stays readable.
func TestSpillBroken(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, tmpdir string }{
		{"no temp dir", filepath.Join(t.TempDir(), "none")},
		{"temp dir a file", notDir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func(n int) { spillBuffer = n }(spillBuffer)
			spillBuffer = 100
			t.Setenv("TMPDIR", tc.tmpdir)
			s := &spill{}
			defer s.Close()
			first := exRandom(60, 1)
			if off, ok := s.add(first); !ok || off != 0 {
				t.Fatalf("first add: %d %v", off, ok)
			}
			if _, ok := s.add(exRandom(60, 2)); ok || !s.broken {
				t.Fatalf("an add past the buffer was taken: broken %v", s.broken)
			}
			if _, ok := s.add([]byte("x")); ok {
				t.Fatal("a broken spill took an add")
			}
			got := make([]byte, len(first))
			if n, err := s.ReadAt(got, 0); n != len(first) || err != nil || !bytes.Equal(got, first) {
				t.Fatalf("read back after the break: %d bytes, %v", n, err)
			}
		})
	}
}

// vfImported returns the report of layout.Verify, with vfRules, of the layout that the
// tarball data imports into.
func vfImported(tb testing.TB, data []byte) *layout.Report {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "imported")
	if _, err := imImport(tb, dir, data, ImportOptions{}); err != nil {
		tb.Fatal(err)
	}
	lopts, _ := vfRules()
	want, err := layout.Verify(context.Background(), dir, lopts)
	if err != nil {
		tb.Fatal(err)
	}
	return want
}

// TestVerifySpillFallsBack verifies a gzip export with a temp dir that cannot hold the spill:
// the report is the layout's, with no error, and the documents are kept in memory as they were
// before the spill.
func TestVerifySpillFallsBack(t *testing.T) {
	defer func(n int) { spillBuffer = n }(spillBuffer)
	spillBuffer = 1
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "none"))
	src := exMakeLayout(t)
	data, _ := exportBytes(t, src.s, ExportOptions{Compression: Gzip})
	want := vfImported(t, data)
	var v *streamVerifier
	verifierMade = func(sv *streamVerifier) { v = sv }
	defer func() { verifierMade = nil }()
	opts, _ := vfRules()
	got, err := Verify(t.Context(), bytes.NewReader(data), VerifyOptions{VerifyOptions: opts, Path: src.s.Path()})
	if err != nil {
		t.Fatal(err)
	}
	vfSame(t, got.Report, want, true)
	if !v.spill.broken || v.spilledDocs > 0 || len(v.json) == 0 {
		t.Fatalf("spill broken %v, %d bytes of documents spilled, %d documents in memory: want a broken spill and every document in memory", v.spill.broken, v.spilledDocs, len(v.json))
	}
}

// TestVerifyReadAgainChanged overwrites, while a verify runs, the blobs that passed where
// verify reads them again, as another process could: the spill's file of a gzip stream, the
// tarball file read in place. What is read back does not pass as the blobs it stood for: the
// report has errors of ErrChanged naming them.
func TestVerifyReadAgainChanged(t *testing.T) {
	defer func(n int) { spillBuffer = n }(spillBuffer)
	spillBuffer = 1
	src := exMakeLayout(t)
	for _, tc := range []struct {
		name string
		comp Compression
	}{
		{"temporary file", Gzip},
		{"tarball in place", None},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, _ := exportBytes(t, src.s, ExportOptions{Compression: tc.comp})
			file := filepath.Join(t.TempDir(), "t.tar")
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			var v *streamVerifier
			verifierMade = func(sv *streamVerifier) { v = sv }
			defer func() { verifierMade = nil }()
			opts, _ := vfRules()
			rule := opts.CheckManifest
			changed := 0
			opts.CheckManifest = func(ctx context.Context, desc ocispec.Descriptor, m ocispec.Manifest, fetch layout.FetchFunc) []error {
				if changed == 0 {
					f, err := os.OpenFile(file, os.O_WRONLY, 0)
					if err != nil {
						t.Fatal(err)
					}
					defer f.Close()
					var w io.WriterAt = f
					if !v.rereadable() {
						w = v.spill.f
					}
					for _, at := range v.passed {
						if at.off >= 0 && at.size > 0 {
							if _, err := w.WriteAt(bytes.Repeat([]byte(" "), int(at.size)), at.off); err != nil {
								t.Fatal(err)
							}
							changed++
						}
					}
				}
				return rule(ctx, desc, m, fetch)
			}
			rep, err := VerifyFiles(t.Context(), []string{file}, VerifyOptions{VerifyOptions: opts, Path: src.s.Path()})
			if err != nil {
				t.Fatal(err)
			}
			if changed == 0 {
				t.Fatal("no blob changed")
			}
			if rep.OK || !slices.ContainsFunc(rep.Problems, func(p layout.Problem) bool {
				return p.Severity == layout.SeverityError && errors.Is(p.Err, ErrChanged) && strings.Contains(p.Message, "sha256:")
			}) {
				t.Fatalf("want an error of ErrChanged naming a digest, got %v", rep.Problems)
			}
		})
	}
}
