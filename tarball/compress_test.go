package tarball

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func TestParseCompression(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Compression
		ok   bool
	}{
		{"", None, true},
		{"none", None, true},
		{"gzip", Gzip, true},
		{"zstd", Zstd, true},
		{"GZIP", "", false},
		{"gz", "", false},
		{"xz", "", false},
		{"zstd ", "", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseCompression(tc.in)
			if tc.ok != (err == nil) || got != tc.want {
				t.Fatalf("ParseCompression(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrBadOptions) {
				t.Fatalf("error %v does not wrap ErrBadOptions", err)
			}
		})
	}
	if _, err := NewCompressor(io.Discard, "lz4"); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("NewCompressor(lz4): %v, want ErrBadOptions", err)
	}
}

// exCompressInput is half random, half repetitive: both paths of the encoders run.
func exCompressInput() []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	in := make([]byte, 3<<20)
	for i := range in[:len(in)/2] {
		in[i] = byte(rng.Uint32())
	}
	for i := len(in) / 2; i < len(in); i++ {
		in[i] = "gadgetpack "[i%11]
	}
	return in
}

// exCompressWith compresses in with c, writing it in pieces of the given sizes (cycled).
func exCompressWith(tb testing.TB, c Compression, in []byte, pieces []int) []byte {
	tb.Helper()
	var out bytes.Buffer
	w, err := NewCompressor(&out, c)
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; len(in) > 0; i++ {
		n := min(pieces[i%len(pieces)], len(in))
		if _, err := w.Write(in[:n]); err != nil {
			tb.Fatal(err)
		}
		in = in[n:]
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

func exDecompress(tb testing.TB, c Compression, data []byte) []byte {
	tb.Helper()
	var r io.Reader
	switch c {
	case Gzip:
		z, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			tb.Fatal(err)
		}
		r = z
	case Zstd:
		z, err := zstd.NewReader(bytes.NewReader(data))
		if err != nil {
			tb.Fatal(err)
		}
		defer z.Close()
		r = z
	default:
		r = bytes.NewReader(data)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestCompressorDeterministic: the output depends on the bytes only, not on how they are
// written, and decompresses to them.
func TestCompressorDeterministic(t *testing.T) {
	in := exCompressInput()
	for _, c := range []Compression{None, Gzip, Zstd} {
		t.Run(string(c), func(t *testing.T) {
			a := exCompressWith(t, c, in, []int{1 << 20})
			b := exCompressWith(t, c, in, []int{1, 512, 7, 100000, 3 << 20})
			if !bytes.Equal(a, b) {
				t.Fatalf("%s: output depends on the write sizes (%d vs %d bytes)", c, len(a), len(b))
			}
			if got := exDecompress(t, c, a); !bytes.Equal(got, in) {
				t.Fatalf("%s: round trip differs", c)
			}
			if c != None && len(a) >= len(in) {
				t.Fatalf("%s: %d bytes from %d: not compressed", c, len(a), len(in))
			}
		})
	}
}

// TestGzipHeader: no name, no time, OS unknown, so that no machine detail gets in.
func TestGzipHeader(t *testing.T) {
	data := exCompressWith(t, Gzip, []byte("x"), []int{1})
	z, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if z.Name != "" || z.Comment != "" || !z.ModTime.IsZero() || z.OS != 255 || z.Extra != nil {
		t.Fatalf("gzip header: name %q comment %q mtime %v os %d extra %v", z.Name, z.Comment, z.ModTime, z.OS, z.Extra)
	}
	if got, want := data[4:8], []byte{0, 0, 0, 0}; !bytes.Equal(got, want) {
		t.Fatalf("gzip MTIME bytes %x, want 0", got)
	}
}

func TestCompressionExt(t *testing.T) {
	for c, want := range map[Compression]string{None: "", "": "", Gzip: ".gz", Zstd: ".zst"} {
		if got := c.Ext(); got != want {
			t.Errorf("%q.Ext() = %q, want %q", c, got, want)
		}
	}
}
