package tarball

import (
	"bufio"
	"bytes"
	stdgzip "compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// frData is what the frame tests compress: text, zeros (RLE blocks) and random bytes (raw
// blocks), over 1 MiB so that frames have several blocks.
func frData() []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 300<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	data := bytes.Repeat([]byte("gadgetpack reads zstd frames; "), 20000)
	data = append(data, make([]byte, 400<<10)...)
	return append(data, random...)
}

func frZstd(tb testing.TB, data []byte, opts ...zstd.EOption) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, append([]zstd.EOption{zstd.WithEncoderConcurrency(1)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := zw.Write(data); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func frGzip(tb testing.TB, data []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// frSkip is a skippable frame holding data.
func frSkip(low byte, data []byte) []byte {
	n := len(data)
	return append([]byte{0x50 | low&0x0f, 0x2a, 0x4d, 0x18, byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}, data...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// frReadZstd decodes in through zstdFrames, as NewReader does.
func frReadZstd(in []byte) ([]byte, error) {
	d, err := zstd.NewReader(newZstdFrames(bufio.NewReaderSize(bytes.NewReader(in), readBufSize)),
		zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(64<<20))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return io.ReadAll(d)
}

// frReadGzip decodes in through gzipMembers, as NewReader does.
func frReadGzip(in []byte) ([]byte, error) {
	br := bufio.NewReaderSize(bytes.NewReader(in), readBufSize)
	g, err := newGzipMembers(br, func() int64 { return int64(len(in) - br.Buffered()) })
	if err != nil {
		return nil, err
	}
	return io.ReadAll(g)
}

func TestZstdFrames(t *testing.T) {
	data := frData()
	one := frZstd(t, data, zstd.WithEncoderCRC(true))
	for _, tc := range []struct {
		name string
		in   []byte
		want []byte // nil: an error naming says
		says string
	}{
		{"one frame", one, data, ""},
		{"no checksum", frZstd(t, data, zstd.WithEncoderCRC(false)), data, ""},
		{"single segment", frZstd(t, data[:100<<10], zstd.WithSingleSegment(true)), data[:100<<10], ""},
		{"small window", frZstd(t, data, zstd.WithWindowSize(1<<10)), data, ""},
		{"best compression", frZstd(t, data, zstd.WithEncoderLevel(zstd.SpeedBestCompression)), data, ""},
		{"empty frame", frZstd(t, nil, zstd.WithZeroFrames(true)), []byte{}, ""},
		{"skippable first", cat(frSkip(0, []byte("pzstd")), one), data, ""},
		{"skippable between and last", cat(one, frSkip(0xe, nil), one, frSkip(0xf, []byte("seek table"))), cat(data, data), ""},
		{"zero padding", cat(one, make([]byte, 5000)), data, ""},
		{"skippable then zeros", cat(one, frSkip(3, []byte("x")), make([]byte, 3)), data, ""},
		{"one zero byte", cat(one, []byte{0}), data, ""},
		{"data after", cat(one, []byte("junk")), nil, "data after the end of the zstd stream, at byte " + strconv.Itoa(len(one))},
		{"data after zeros", cat(one, make([]byte, 10), []byte("junk")), nil, "after 10 zero bytes"},
		{"three bytes after", cat(one, []byte("abc")), nil, "data after the end of the zstd stream"},
		{"skippable cut", cat(one, frSkip(0, []byte("a long skippable frame"))[:15]), nil, "zstd stream ends early"},
		{"frame cut", one[:len(one)/2], nil, "zstd stream ends early"},
		{"frame header cut", cat(one, one[:5]), nil, "zstd stream ends early"},
		{"reserved block type", cat([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00}, []byte{0x07, 0, 0}), nil, "reserved block type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := frReadZstd(tc.in)
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), tc.says) {
					t.Fatalf("got %v, want an error saying %q", err, tc.says)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("got %d bytes, %v; want %d bytes", len(got), err, len(tc.want))
			}
		})
	}
}

func TestGzipMembers(t *testing.T) {
	data := frData()
	third := len(data) / 3
	one := frGzip(t, data)
	members := cat(frGzip(t, data[:third]), frGzip(t, data[third:2*third]), frGzip(t, data[2*third:]))
	for _, tc := range []struct {
		name string
		in   []byte
		want []byte
		says string
	}{
		{"one member", one, data, ""},
		{"three members", members, data, ""},
		{"empty member between", cat(frGzip(t, data[:third]), frGzip(t, nil), frGzip(t, data[third:])), data, ""},
		{"zero padding", cat(members, make([]byte, 70000)), data, ""},
		{"one zero byte", cat(one, []byte{0}), data, ""},
		{"data after", cat(one, []byte("junk")), nil, "data after the end of the gzip stream, at byte " + strconv.Itoa(len(one)) + " of the input (not a gzip member)"},
		{"data after zeros", cat(one, make([]byte, 70000), []byte{1}), nil, "after 70000 zero bytes"},
		{"half a magic", cat(one, []byte{0x1f}), nil, "data after the end of the gzip stream"},
		{"second member damaged", cat(one, one[:10], []byte("not deflate at all")), nil, ""},
		{"member cut", members[:len(members)-5], nil, "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := frReadGzip(tc.in)
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), tc.says) {
					t.Fatalf("got %v, want an error saying %q", err, tc.says)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("got %d bytes, %v; want %d bytes", len(got), err, len(tc.want))
			}
		})
	}
}

// FuzzZstdFrames is differential: whatever the zstd decoder reads on its own (it skips
// skippable frames too), it reads the same through zstdFrames; and zstdFrames never panics.
func FuzzZstdFrames(f *testing.F) {
	data := frData()[:50<<10]
	one := frZstd(f, data)
	for _, seed := range [][]byte{one, cat(frSkip(0, []byte("x")), one, frSkip(1, nil)), cat(one, make([]byte, 9)),
		frZstd(f, data, zstd.WithSingleSegment(true)), frZstd(f, nil, zstd.WithZeroFrames(true)), cat(one, one)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ours, oerr := frReadZstd(in)
		d, err := zstd.NewReader(bytes.NewReader(in), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(64<<20))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		plain, perr := io.ReadAll(d)
		if perr == nil && (oerr != nil || !bytes.Equal(ours, plain)) {
			t.Fatalf("the decoder reads %d bytes; through zstdFrames %d bytes, %v", len(plain), len(ours), oerr)
		}
		if oerr != nil && errors.Is(oerr, ErrCorrupt) && !strings.Contains(oerr.Error(), "zstd") {
			t.Fatalf("an error that does not say zstd: %v", oerr)
		}
	})
}

// FuzzGzipMembers is differential: whatever the standard library's gzip reader (multistream)
// reads, gzipMembers reads the same.
func FuzzGzipMembers(f *testing.F) {
	data := frData()[:50<<10]
	one := frGzip(f, data)
	for _, seed := range [][]byte{one, cat(one, one), cat(one, make([]byte, 9)), cat(one, []byte("x"))} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ours, oerr := frReadGzip(in)
		z, err := stdgzip.NewReader(bytes.NewReader(in))
		if err != nil {
			return
		}
		plain, perr := io.ReadAll(io.LimitReader(z, 64<<20))
		if perr == nil && (oerr != nil || !bytes.Equal(ours, plain)) {
			t.Fatalf("compress/gzip reads %d bytes; gzipMembers %d bytes, %v", len(plain), len(ours), oerr)
		}
	})
}
