package tarball

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gadgetpack/gadgetpack/internal/atomicfile"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64 // 0: an error
	}{
		{"3900M", 3900 << 20},
		{"3900m", 3900 << 20},
		{"1M", 1 << 20},
		{"1MiB", 1 << 20},
		{"1048576", 1 << 20},
		{"1048576B", 1 << 20},
		{"1024K", 1 << 20},
		{"4G", 4 << 30},
		{"4gib", 4 << 30},
		{"2T", 2 << 40},
		{"1048575", 0}, // below the minimum
		{"1023K", 0},
		{"1K", 0},
		{"0", 0},
		{"-5M", 0},
		{"+5M", 0},
		{"1.5G", 0},
		{"M", 0},
		{"", 0},
		{"abc", 0},
		{"5 M", 0},
		{"5MB", 0},
		{"99999999999T", 0},
		{"9223372036854775807", 0},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSize(tc.in)
			if tc.want == 0 {
				if err == nil || !errors.Is(err, ErrBadOptions) || got != 0 {
					t.Fatalf("ParseSize(%q) = %d, %v; want an ErrBadOptions", tc.in, got, err)
				}
				if !strings.Contains(err.Error(), strconv.Quote(tc.in)) {
					t.Fatalf("error %q does not quote the value", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

// FuzzParseSize: an error gives 0; a result is at least MinSplitSize and parses again from its
// decimal form to itself.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"3900M", "1K", "1048576", "4GiB", "-1", "1.5G", "", "9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			if n != 0 || !errors.Is(err, ErrBadOptions) {
				t.Fatalf("ParseSize(%q) = %d, %v", s, n, err)
			}
			return
		}
		if n < MinSplitSize {
			t.Fatalf("ParseSize(%q) = %d, below the minimum", s, n)
		}
		if again, err := ParseSize(strconv.FormatInt(n, 10)); err != nil || again != n {
			t.Fatalf("ParseSize(%q) = %d, but %d parses to %d, %v", s, n, n, again, err)
		}
	})
}

// exRandom returns n bytes of a fixed seed.
func exRandom(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// exWritePieces writes data to w in pieces of the given sizes (cycled).
func exWritePieces(tb testing.TB, w io.Writer, data []byte, pieces []int) {
	tb.Helper()
	for i := 0; len(data) > 0; i++ {
		n := min(pieces[i%len(pieces)], len(data))
		m, err := w.Write(data[:n])
		if err != nil || m != n {
			tb.Fatalf("write %d bytes: %d, %v", n, m, err)
		}
		data = data[n:]
	}
}

func exSHA256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestFileWriterSplit(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name  string
		size  int
		parts []int // sizes of the parts
	}{
		{"three and a half", 3*mib + mib/2, []int{mib, mib, mib, mib / 2}},
		{"exact multiple", 2 * mib, []int{mib, mib}},
		{"one byte", 1, []int{1}},
		{"empty", 0, []int{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "bundle.tar")
			data := exRandom(tc.size, 1)
			w, err := NewFileWriter(out, mib)
			if err != nil {
				t.Fatal(err)
			}
			exWritePieces(t, w, data, []int{1, 4095, 300000, 2 * mib, 511})
			if names := exDirNames(t, dir); len(names) != len(tc.parts) && tc.size > 0 {
				t.Fatalf("before Commit: %v, want only %d temp files", names, len(tc.parts))
			}
			for _, n := range exDirNames(t, dir) {
				if !strings.HasPrefix(n, ".bundle.tar.") || !strings.Contains(n, ".tmp-") {
					t.Fatalf("before Commit, %s is visible", n)
				}
			}
			parts, err := w.Commit()
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			var sums strings.Builder
			off := 0
			for i, size := range tc.parts {
				name := fmt.Sprintf("bundle.tar.%03d", i)
				want = append(want, name)
				p := parts[i]
				got, err := os.ReadFile(p.Path)
				if err != nil {
					t.Fatal(err)
				}
				if p.Path != filepath.Join(dir, name) || p.Size != int64(size) || len(got) != size ||
					!bytes.Equal(got, data[off:off+size]) || p.Digest.Encoded() != exSHA256Hex(got) {
					t.Fatalf("part %d: %+v, %d bytes, want %s of %d bytes", i, p, len(got), name, size)
				}
				if fi, _ := os.Stat(p.Path); fi.Mode().Perm() != 0o644 {
					t.Fatalf("%s: mode %v, want 0644", name, fi.Mode())
				}
				fmt.Fprintf(&sums, "%s  %s\n", exSHA256Hex(got), name)
				off += size
			}
			if len(parts) != len(tc.parts) {
				t.Fatalf("%d parts, want %d", len(parts), len(tc.parts))
			}
			want = append(want, "bundle.tar.sha256")
			if got := exDirNames(t, dir); !slices.Equal(got, want) {
				t.Fatalf("files %v, want %v", got, want)
			}
			if got, _ := os.ReadFile(out + ".sha256"); string(got) != sums.String() {
				t.Fatalf("bundle.tar.sha256:\n%s\nwant:\n%s", got, sums.String())
			}
			var paths []string
			for _, p := range parts {
				paths = append(paths, p.Path)
			}
			r, err := OpenParts(paths)
			if err != nil {
				t.Fatal(err)
			}
			back, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(back, data) {
				t.Fatalf("OpenParts read %d bytes (%v), want the %d written", len(back), err, len(data))
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestFileWriterOneFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "bundle.tar")
	if err := os.WriteFile(out, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	data := exRandom(3<<20, 2)
	w, err := NewFileWriter(out, 0)
	if err != nil {
		t.Fatal(err)
	}
	exWritePieces(t, w, data, []int{1 << 20, 3})
	if got, _ := os.ReadFile(out); string(got) != "old" {
		t.Fatal("the output changed before Commit")
	}
	parts, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if len(parts) != 1 || parts[0].Path != out || !bytes.Equal(got, data) || parts[0].Digest.Encoded() != exSHA256Hex(data) {
		t.Fatalf("parts %+v, file of %d bytes", parts, len(got))
	}
	if sums, _ := os.ReadFile(out + ".sha256"); string(sums) != exSHA256Hex(data)+"  bundle.tar\n" {
		t.Fatalf("bundle.tar.sha256: %q", sums)
	}
	if got := exDirNames(t, dir); !slices.Equal(got, []string{"bundle.tar", "bundle.tar.sha256"}) {
		t.Fatalf("files %v", got)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("Write after Commit: %v", err)
	}
	w.Abort() // a no-op after Commit
	if _, err := os.Stat(out); err != nil {
		t.Fatal("Abort after Commit removed the output")
	}
}

// TestFileWriterAbort: nothing is left, old files stay as they were.
func TestFileWriterAbort(t *testing.T) {
	for _, partSize := range []int64{0, 1 << 20} {
		t.Run(fmt.Sprint(partSize), func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "bundle.tar")
			old := map[string]string{"bundle.tar": "old", "bundle.tar.000": "old part", "bundle.tar.sha256": "old sums"}
			for n, c := range old {
				if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			w, err := NewFileWriter(out, partSize)
			if err != nil {
				t.Fatal(err)
			}
			exWritePieces(t, w, exRandom(5<<20/2, 3), []int{1 << 20})
			w.Abort()
			if _, err := w.Commit(); err == nil {
				t.Fatal("Commit after Abort succeeded")
			}
			if got := exDirNames(t, dir); len(got) != len(old) {
				t.Fatalf("files after Abort: %v", got)
			}
			for n, c := range old {
				if got, _ := os.ReadFile(filepath.Join(dir, n)); string(got) != c {
					t.Fatalf("%s changed to %q", n, got)
				}
			}
		})
	}
}

// TestFileWriterStaleParts: a new export with fewer parts removes the old ones that follow its
// last, so that bundle.tar.* is exactly this export.
func TestFileWriterStaleParts(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "b.tar")
	for i := range 5 {
		if err := os.WriteFile(PartName(out, i), []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(PartName(out, 7), []byte("not contiguous"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := NewFileWriter(out, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	exWritePieces(t, w, exRandom(1<<20+1, 4), []int{1 << 20})
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	want := []string{"b.tar.000", "b.tar.001", "b.tar.007", "b.tar.sha256"}
	if got := exDirNames(t, dir); !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
}

func TestFileWriterTooManyParts(t *testing.T) {
	dir := t.TempDir()
	w, err := NewFileWriter(filepath.Join(dir, "b.tar"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	w.maxParts = 2
	_, err = w.Write(exRandom(2<<20+1, 5))
	if !errors.Is(err, ErrBadOptions) || !strings.Contains(err.Error(), "more than 2 parts") {
		t.Fatalf("write of a third part: %v", err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("Write after an error succeeded")
	}
	w.Abort()
	if got := exDirNames(t, dir); len(got) != 0 {
		t.Fatalf("files left: %v", got)
	}
}

func TestNewFileWriterRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name     string
		path     string
		partSize int64
	}{
		{"small part", filepath.Join(dir, "b.tar"), 1<<20 - 1},
		{"no directory", filepath.Join(dir, "missing", "b.tar"), 0},
		{"empty", "", 0},
		{"trailing slash", dir + "/", 0},
		{"a directory", dir, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewFileWriter(tc.path, tc.partSize); err == nil {
				t.Fatalf("NewFileWriter(%q, %d) succeeded", tc.path, tc.partSize)
			}
		})
	}
	if got := exDirNames(t, dir); len(got) != 0 {
		t.Fatalf("files left: %v", got)
	}
}

func TestOpenParts(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	var all []byte
	for i, size := range []int{100, 0, 70000, 1} {
		p := PartName(filepath.Join(dir, "b.tar"), i)
		data := exRandom(size, uint64(i))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		all = append(all, data...)
	}
	t.Run("read", func(t *testing.T) {
		r, err := OpenParts(paths)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var got []byte
		buf := make([]byte, 333)
		for {
			n, err := r.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, all) {
			t.Fatalf("read %d bytes, want %d in order", len(got), len(all))
		}
	})
	t.Run("copy to file", func(t *testing.T) {
		r, err := OpenParts(paths)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		f, err := os.Create(filepath.Join(t.TempDir(), "all"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if n, err := io.Copy(f, r); err != nil || n != int64(len(all)) {
			t.Fatalf("io.Copy: %d, %v", n, err)
		}
		got, _ := os.ReadFile(f.Name())
		if !bytes.Equal(got, all) {
			t.Fatal("copied bytes differ")
		}
	})
	t.Run("close mid-way", func(t *testing.T) {
		r, err := OpenParts(paths)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Read(make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Read(make([]byte, 10)); err == nil {
			t.Fatal("Read after Close succeeded")
		}
	})
	t.Run("vanished part", func(t *testing.T) {
		tmp := t.TempDir()
		a, b := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
		os.WriteFile(a, []byte("aa"), 0o644)
		os.WriteFile(b, []byte("bb"), 0o644)
		r, err := OpenParts([]string{a, b})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		os.Remove(b)
		_, err = io.ReadAll(r)
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), b) {
			t.Fatalf("read past a removed part: %v", err)
		}
	})
	for _, tc := range []struct {
		name  string
		paths []string
	}{
		{"none", nil},
		{"missing", []string{paths[0], filepath.Join(dir, "b.tar.009")}},
		{"directory", []string{paths[0], dir}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := OpenParts(tc.paths)
			if err == nil {
				r.Close()
				t.Fatalf("OpenParts(%v) succeeded", tc.paths)
			}
			if len(tc.paths) > 0 && !strings.Contains(err.Error(), tc.paths[len(tc.paths)-1]) {
				t.Fatalf("error %q does not name the part", err)
			}
		})
	}
}

func TestIsExportTemp(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{".b.tar.tmp-123", true},
		{".b.tar.000.tmp-123", true},
		{".b.tar.999.tmp-", true},
		{".b.tar.sha256.tmp-1", false}, // atomicfile's, short-lived and not flocked
		{"b.tar.tmp-1", false},
		{".b.tar", false},
		{".b.tar.tmpx", false},
		{".b.tar.00.tmp-1", false},
		{".b.tar.abc.tmp-1", false},
		{".b.tarx.tmp-1", false},
		{".other.tar.tmp-1", false},
	} {
		if got := isExportTemp(tc.name, "b.tar"); got != tc.want {
			t.Errorf("isExportTemp(%q, b.tar) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestFileWriterRemovesDeadTemps: the temp files of exports to the same path that died (no
// flock held) go before the first write; a live writer's, and other files, stay.
func TestFileWriterRemovesDeadTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b.tar")
	for _, name := range []string{".b.tar.tmp-dead1", ".b.tar.003.tmp-dead2", ".other.tar.tmp-1", ".b.tar.sha256.tmp-1", "b.tar.tmp-1"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("left behind"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	live, err := atomicfile.CreateLocked(dir, atomicfile.TempPrefix("b.tar")+"*")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	w, err := NewFileWriter(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(exDirNames(t, dir)) != 6 {
		t.Fatalf("NewFileWriter removed something: %v", exDirNames(t, dir))
	}
	if _, err := w.Write([]byte("new export")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, ".b.tar.003.tmp-dead2"), filepath.Join(dir, ".b.tar.tmp-dead1")}
	if fmt.Sprint(w.Removed()) != fmt.Sprint(want) {
		t.Fatalf("Removed() = %v, want %v", w.Removed(), want)
	}
	got := exDirNames(t, dir)
	wantNames := []string{".b.tar.sha256.tmp-1", filepath.Base(live.Name()), ".other.tar.tmp-1", "b.tar", "b.tar.sha256", "b.tar.tmp-1"}
	slices.Sort(wantNames)
	if fmt.Sprint(got) != fmt.Sprint(wantNames) {
		t.Fatalf("left %v, want %v", got, wantNames)
	}
}
