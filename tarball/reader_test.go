package tarball

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// readEntries reads a whole stream with a Reader and returns the paths of its entries and the
// first error (nil at a clean end). Blob contents are hashed against their names.
func readEntries(tb testing.TB, data []byte, opts ReaderOptions) ([]string, error) {
	tb.Helper()
	r, err := NewReader(bytes.NewReader(data), opts)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var paths []string
	for {
		e, err := r.Next()
		if err == io.EOF {
			return paths, nil
		}
		if err != nil {
			return paths, err
		}
		paths = append(paths, e.Path)
		h := digest.SHA256.Digester()
		n, err := io.Copy(h.Hash(), r)
		if err != nil {
			return paths, err
		}
		if n != e.Size {
			tb.Fatalf("%s: read %d bytes, header says %d", e.Name, n, e.Size)
		}
		if e.Kind == KindBlob && h.Digest() != e.Digest {
			paths[len(paths)-1] += " (mismatch)"
		}
	}
}

func testdata(tb testing.TB, parts ...string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, parts...)...))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func TestReaderGood(t *testing.T) {
	want := "oci-layout blobs/sha256/ blobs/sha256/ blobs/sha256/ index.json"
	for _, tc := range []struct {
		file string
		comp Compression
	}{{"small.tar", None}, {"small.tar.gz", Gzip}, {"small.tar.zst", Zstd}, {"dirs.tar", None},
		{"members.tar.gz", Gzip}, {"skippable.tar.zst", Zstd}} {
		t.Run(tc.file, func(t *testing.T) {
			data := testdata(t, "good", tc.file)
			r, err := NewReader(bytes.NewReader(data), ReaderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Compression() != tc.comp {
				t.Fatalf("compression %q, want %q", r.Compression(), tc.comp)
			}
			paths, err := readEntries(t, data, ReaderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var short []string
			for _, p := range paths {
				if strings.HasPrefix(p, "blobs/sha256/") {
					p = "blobs/sha256/"
				}
				short = append(short, p)
			}
			if got := strings.Join(short, " "); got != want {
				t.Fatalf("entries %q, want %q", got, want)
			}
		})
	}
}

// TestReaderHostile reads every file of the hostile corpus: the reader refuses the cases of the
// tar level, naming the entry, and passes the others on (import and verify refuse them).
func TestReaderHostile(t *testing.T) {
	cases := map[string]struct {
		want  error  // nil: the tar level is sound
		names string // in the message
		opts  ReaderOptions
	}{
		"dotdot.tar":                 {ErrUnsafeEntry, `"blobs/../../evil"`, ReaderOptions{}},
		"absolute.tar":               {ErrUnsafeEntry, `"/tmp/gadgetpack-evil"`, ReaderOptions{}},
		"symlink.tar":                {ErrUnsafeEntry, "symlink", ReaderOptions{}},
		"hardlink.tar":               {ErrUnsafeEntry, "hard link", ReaderOptions{}},
		"device.tar":                 {ErrUnsafeEntry, "device", ReaderOptions{}},
		"fifo.tar":                   {ErrUnsafeEntry, "FIFO", ReaderOptions{}},
		"duplicate.tar":              {ErrUnsafeEntry, "second entry", ReaderOptions{}},
		"unknown-name.tar":           {ErrUnsafeEntry, `"etc/passwd"`, ReaderOptions{}},
		"temp-dir.tar":               {ErrUnsafeEntry, `".gadgetpack-tmp/blob-123"`, ReaderOptions{}},
		"bad-blob-name.tar":          {ErrUnsafeEntry, `"blobs/sha256/not-a-digest"`, ReaderOptions{}},
		"uppercase-digest.tar":       {ErrUnsafeEntry, "lowercase hex", ReaderOptions{}},
		"truncated.tar":              {ErrTruncated, "tar entry", ReaderOptions{}},
		"trailing-data.tar":          {ErrCorrupt, "after the end", ReaderOptions{}},
		"not-a-tar.tar":              {ErrCorrupt, "not a valid tar", ReaderOptions{}},
		"gzip-bomb.tar.gz":           {ErrTooLarge, `tar entry "blobs/sha256/`, ReaderOptions{}},
		"zstd-window.tar.zst":        {ErrTooLarge, "zstd stream asks for a window", ReaderOptions{}},
		"over-max-size.tar.gz":       {ErrTooLarge, "1 MiB cap", ReaderOptions{MaxSize: 1 << 20}},
		"sparse-gnu.tar":             {ErrUnsafeEntry, `"blobs/sha256/36787edc411f6ae7b702a6e5b9d3b77ea3dba58dc520ebc252d115b9ee5e8729" at byte 4096: a sparse file (old GNU format) of 64424509440 bytes`, ReaderOptions{}},
		"sparse-pax-0.0.tar":         {ErrUnsafeEntry, "a sparse file (GNU PAX format 0.x) of 64424509440 bytes", ReaderOptions{}},
		"sparse-pax-0.1.tar":         {ErrUnsafeEntry, "a sparse file (GNU PAX format 0.x)", ReaderOptions{}},
		"sparse-pax-1.0.tar":         {ErrUnsafeEntry, "a sparse file (GNU PAX format 1.0)", ReaderOptions{}},
		"sparse-pax-1.0.tar.gz":      {ErrUnsafeEntry, "a sparse file (GNU PAX format 1.0)", ReaderOptions{}},
		"bad-header-checksum.tar":    {ErrCorrupt, `tar entry "blobs/sha256/a8a4631676633f8b42dd613a42eb5500f5ad9c823eab1342548632ad746ff959" at byte 3072: not a valid tar header`, ReaderOptions{}},
		"gzip-trailing-data.tar.gz":  {ErrCorrupt, "tarball: data after the end of the gzip stream, at byte 699 of the input (after 100 zero bytes)", ReaderOptions{}},
		"zstd-trailing-data.tar.zst": {ErrCorrupt, "tarball: data after the end of the zstd stream, at byte 624 of the input (not a zstd frame)", ReaderOptions{}},
		"content-mismatch.tar":       {nil, "", ReaderOptions{}},
		"layout-version.tar":         {nil, "", ReaderOptions{}},
		"index-not-json.tar":         {nil, "", ReaderOptions{}},
		"index-path-digest.tar":      {nil, "", ReaderOptions{}},
		"missing-base.tar":           {nil, "", ReaderOptions{}},
		"manifest-too-large.tar.gz":  {nil, "", ReaderOptions{}},
	}
	files, err := filepath.Glob(filepath.Join("testdata", "hostile", "*"))
	if err != nil || len(files) < 15 {
		t.Fatalf("hostile corpus: %d files, %v", len(files), err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			tc, ok := cases[name]
			if !ok {
				t.Fatalf("no case for %s", name)
			}
			_, err := readEntries(t, testdata(t, "hostile", name), tc.opts)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("tar level refused it: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.names) {
				t.Fatalf("got %v, want %v naming %s", err, tc.want, tc.names)
			}
		})
	}
}

// tarBytes writes headers (with content for regular files) into a tar without its end blocks
// when end is false.
func tarBytes(tb testing.TB, end bool, hdrs ...*tar.Header) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			tb.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(bytes.Repeat([]byte("x"), int(h.Size))); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		tb.Fatal(err)
	}
	if end {
		if err := tw.Close(); err != nil {
			tb.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestReaderEdges(t *testing.T) {
	reg := func(name string, size int64) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeReg, Size: size, Mode: 0o644}
	}
	dir := func(name string) *tar.Header { return &tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755} }
	blobName := "blobs/sha256/" + strings.Repeat("0", 64)
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty stream", nil, ErrCorrupt},
		{"no end blocks", tarBytes(t, false, reg("oci-layout", 3)), ErrTruncated},
		{"only end blocks", tarBytes(t, true), nil},
		{"blobs dirs", tarBytes(t, true, dir("blobs/"), dir("blobs/sha256/"), dir("blobs/sha512/")), nil},
		{"unknown dir", tarBytes(t, true, dir("blobs/md5/")), ErrUnsafeEntry},
		{"nested blob", tarBytes(t, true, reg(blobName+"/x", 1)), ErrUnsafeEntry},
		{"unclean name", tarBytes(t, true, reg("blobs//sha256/"+strings.Repeat("0", 64), 1)), ErrUnsafeEntry},
		{"big lock file", tarBytes(t, true, reg("index.json.lock", 5000)), ErrUnsafeEntry},
		{"oci-layout over cap", tarBytes(t, true, reg("oci-layout", 65<<10)), ErrTooLarge},
		{"pax global header", tarBytes(t, true, &tar.Header{Name: "g", Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": "x"}}), ErrUnsafeEntry},
		{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0, 1, 2}, ErrCorrupt},
		{"gzip cut", testdata(t, "good", "small.tar.gz")[:300], ErrTruncated},
		{"zstd cut", testdata(t, "good", "small.tar.zst")[:300], ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readEntries(t, tc.data, ReaderOptions{})
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestReaderMaxRefused: MaxRefused entries are refused one by one, and the next one ends the
// stream (ErrCorrupt, final), so that a stream of empty entries costs no more than that.
func TestReaderMaxRefused(t *testing.T) {
	for _, tc := range []struct {
		entries int
		final   bool
	}{{MaxRefused, false}, {MaxRefused + 1, true}, {20 * MaxRefused, true}} {
		t.Run(strconv.Itoa(tc.entries), func(t *testing.T) {
			var hdrs []*tar.Header
			for i := range tc.entries {
				hdrs = append(hdrs, &tar.Header{Name: fmt.Sprintf("etc/x%d", i), Typeflag: tar.TypeReg, Mode: 0o644})
			}
			r, err := NewReader(bytes.NewReader(tarBytes(t, true, hdrs...)), ReaderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			refused := 0
			for {
				_, err := r.Next()
				if errors.Is(err, ErrUnsafeEntry) {
					refused++
					continue
				}
				if refused != MaxRefused && refused != tc.entries {
					t.Fatalf("%d refused, then %v", refused, err)
				}
				if !tc.final {
					if err != io.EOF {
						t.Fatalf("after %d refused: %v, want io.EOF", refused, err)
					}
					return
				}
				want := fmt.Sprintf(`tar entry "etc/x%d" at byte %d: over %d entries refused`, MaxRefused, MaxRefused*512, MaxRefused)
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
					t.Fatalf("after %d refused: %v, want %v saying %s", refused, err, ErrCorrupt, want)
				}
				if _, again := r.Next(); again != err {
					t.Fatalf("then %v", again)
				}
				return
			}
		})
	}
}

// TestReaderGoesOn checks that an unsafe entry is skipped and the stream read on.
func TestReaderGoesOn(t *testing.T) {
	r, err := NewReader(bytes.NewReader(testdata(t, "hostile", "unknown-name.tar")), ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var refused, blobs int
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, ErrUnsafeEntry) {
			refused++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind == KindBlob {
			blobs++
		}
	}
	if refused != 1 || blobs != 3 {
		t.Fatalf("refused %d, blobs %d; want 1 and 3", refused, blobs)
	}
	if r.InputBytes() != int64(len(testdata(t, "hostile", "unknown-name.tar"))) {
		t.Fatalf("InputBytes %d", r.InputBytes())
	}
}

// FuzzLowerHex is differential: lowerHex accepts exactly the encoded parts that go-digest's
// Algorithm.Validate accepts, for each available algorithm.
func FuzzLowerHex(f *testing.F) {
	hex64 := strings.Repeat("0123456789abcdef", 4)
	for _, s := range []string{hex64, hex64 + hex64, hex64[:63] + "\n", strings.ToUpper(hex64), hex64[:63] + "g", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, a := range []digest.Algorithm{digest.SHA256, digest.SHA384, digest.SHA512} {
			if got, want := lowerHex(s, a.Size()*2), a.Validate(s) == nil; got != want {
				t.Fatalf("lowerHex(%q, %d) = %v, %s's Validate %v", s, a.Size()*2, got, a, want)
			}
		}
	})
}
