package tarball

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"testing"
)

// aheadTar returns a layout tarball of blobs of the given sizes (names need not match the
// content: the Reader does not hash), between oci-layout and index.json.
func aheadTar(tb testing.TB, sizes []int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			tb.Fatal(err)
		}
	}
	add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	for i, n := range sizes {
		data := bytes.Repeat([]byte{byte(i)}, n)
		add(fmt.Sprintf("blobs/sha256/%064x", i+1), data)
	}
	add("index.json", []byte(`{"schemaVersion":2,"manifests":[]}`))
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// aheadRecord says what a read of one entry gave, for comparison.
func aheadRecord(e *Entry, data []byte, err error) string {
	if e == nil {
		return fmt.Sprintf("end: %v", err)
	}
	if err != nil {
		return fmt.Sprintf("%s: error %v", e.Where(), err)
	}
	return fmt.Sprintf("%s: %d bytes, %x", e.Where(), len(data), sha256.Sum256(data))
}

// readInTurn reads stream with a Reader alone, as Import read it before its read-ahead.
func readInTurn(stream []byte) []string {
	rd, err := NewReader(bytes.NewReader(stream), ReaderOptions{})
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for {
		e, err := rd.Next()
		if err != nil {
			return append(out, aheadRecord(nil, nil, err))
		}
		data := make([]byte, e.Size)
		_, err = io.ReadFull(rd, data)
		out = append(out, aheadRecord(e, data, err))
		if err != nil {
			return out
		}
	}
}

// readWithAhead reads stream as Import does: entries from readAhead, a big blob from the
// Reader itself.
func readWithAhead(ctx context.Context, stream []byte) []string {
	rd, err := NewReader(bytes.NewReader(stream), ReaderOptions{})
	if err != nil {
		return []string{err.Error()}
	}
	a := readAhead(ctx, rd)
	defer a.stop()
	var out []string
	for {
		it := a.entry(ctx)
		if it.err != nil {
			return append(out, aheadRecord(nil, nil, it.err))
		}
		data, err := it.data, it.readErr
		if it.stream {
			data = make([]byte, it.e.Size)
			_, err = io.ReadFull(rd, data)
		}
		out = append(out, aheadRecord(it.e, data, err))
		if err != nil {
			return out
		}
		if it.stream {
			a.resume()
		}
	}
}

// TestReadAhead checks that Import's read-ahead gives the entries, contents and errors a read
// in turn gives, in the same order, for whole and cut streams: small blobs over several batches
// (by count and by bytes), blobs read from the Reader itself between them, a stream that ends
// inside a small blob, a big one, a header.
func TestReadAhead(t *testing.T) {
	var sizes []int
	for i := range 300 {
		sizes = append(sizes, 1+i%7*1000) // 300 entries: three batches by count
	}
	sizes = append(sizes, aheadBlobMax, aheadBlobMax+1, 0, 200<<10, 5)
	for range 10 {
		sizes = append(sizes, aheadBlobMax) // batches full by bytes
	}
	stream := aheadTar(t, sizes)
	header := func(i int) int { // where blob i's header starts: its name is the header's first field
		return bytes.Index(stream, fmt.Appendf(nil, "blobs/sha256/%064x", i+1))
	}
	for _, tc := range []struct {
		name string
		cut  int
	}{
		{"whole", len(stream)},
		{"inside a small blob", header(5) + 512 + 100},
		{"inside a header", header(5) + 200},
		{"inside a big blob", header(301) + 512 + 1000},
		{"inside a late blob", len(stream) - 40000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := readInTurn(stream[:tc.cut])
			got := readWithAhead(t.Context(), stream[:tc.cut])
			if len(got) != len(want) {
				t.Fatalf("%d records, want %d; last %q, want %q", len(got), len(want), got[len(got)-1], want[len(want)-1])
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("record %d: %q, want %q", i, got[i], want[i])
				}
			}
			if last := want[len(want)-1]; (tc.cut < len(stream)) == (last == "end: EOF") {
				t.Fatalf("the stream cut at %d of %d ends with %q", tc.cut, len(stream), last)
			}
		})
	}
}

// TestReadAheadStops checks that a cancelled context ends a read-ahead waiting on a full
// queue, and that stop returns once its goroutine has.
func TestReadAheadStops(t *testing.T) {
	stream := aheadTar(t, make([]int, 2000))
	rd, err := NewReader(bytes.NewReader(stream), ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	a := readAhead(ctx, rd)
	if it := a.entry(ctx); it.err != nil || it.e.Kind != KindLayoutFile {
		t.Fatalf("first entry: %+v", it)
	}
	cancel()
	for i := 0; ; i++ {
		it := a.entry(ctx)
		if errors.Is(it.err, context.Canceled) {
			break
		}
		if it.err != nil || i > aheadBatches*aheadBatchEntries {
			t.Fatalf("entry %d after cancel: %+v", i, it)
		}
	}
	a.stop()
	a.stop()
}
