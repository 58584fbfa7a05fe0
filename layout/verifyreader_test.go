package layout

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestVerifyReader(t *testing.T) {
	data := pseudoRandom("verify", 700000) // over hashio.AsideMin: copyTo hashes aside
	desc := ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}
	flipped := bytes.Clone(data)
	flipped[500000] ^= 0x10
	ioErr := errors.New("disk on fire")
	for _, tc := range []struct {
		name     string
		r        io.Reader
		wantErr  error
		wantDone bool
	}{
		{"good", bytes.NewReader(data), nil, true},
		{"good, one byte at a time", iotest.OneByteReader(bytes.NewReader(data)), nil, true},
		{"good, data with EOF", iotest.DataErrReader(bytes.NewReader(data)), nil, true},
		{"short", bytes.NewReader(data[:len(data)-1]), ErrShortRead, true},
		{"empty", strings.NewReader(""), ErrShortRead, true},
		{"trailing", io.MultiReader(bytes.NewReader(data), strings.NewReader("!")), ErrTrailingData, true},
		{"flipped", bytes.NewReader(flipped), ErrDigestMismatch, true},
		{"flipped, data with EOF", iotest.DataErrReader(bytes.NewReader(flipped)), ErrDigestMismatch, true},
		{"I/O error", io.MultiReader(bytes.NewReader(data[:100]), iotest.ErrReader(ioErr)), ioErr, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var raw bytes.Buffer
			r := io.TeeReader(tc.r, &raw)
			v, err := NewVerifyReader(r, desc)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(v)
			// copyTo, the path storing a blob takes, says the same of the same bytes.
			cv, _ := NewVerifyReader(bytes.NewReader(raw.Bytes()), desc)
			if tc.wantErr == ioErr {
				cv, _ = NewVerifyReader(io.MultiReader(bytes.NewReader(data[:100]), iotest.ErrReader(ioErr)), desc)
			}
			var copied bytes.Buffer
			n, cerr := cv.copyTo(context.Background(), &copied, make([]byte, 300<<10))
			if !errors.Is(cerr, tc.wantErr) || n != int64(copied.Len()) || cerr == nil && !bytes.Equal(copied.Bytes(), data) {
				t.Fatalf("copyTo: %d bytes, %v; want %v", n, cerr, tc.wantErr)
			}
			if cd, cderr := cv.Done(); cd != tc.wantDone || !errors.Is(cderr, tc.wantErr) {
				t.Errorf("Done() after copyTo = %v, %v", cd, cderr)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("ReadAll: %v, want %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), desc.Digest.String()) {
				t.Errorf("error %q does not name the digest", err)
			}
			if err == nil && !bytes.Equal(got, data) {
				t.Error("content differs")
			}
			done, derr := v.Done()
			if done != tc.wantDone || !errors.Is(derr, tc.wantErr) {
				t.Errorf("Done() = %v, %v; want %v, %v", done, derr, tc.wantDone, tc.wantErr)
			}
			// Sticky.
			if _, err2 := v.Read(make([]byte, 10)); !errors.Is(err2, tc.wantErr) && !(tc.wantErr == nil && err2 == io.EOF) {
				t.Errorf("second Read: %v", err2)
			}
		})
	}
	// The three size errors are distinct, and two of them are size mismatches.
	if errors.Is(ErrShortRead, ErrTrailingData) || errors.Is(ErrDigestMismatch, ErrSizeMismatch) ||
		!errors.Is(ErrShortRead, ErrSizeMismatch) || !errors.Is(ErrTrailingData, ErrSizeMismatch) {
		t.Error("sentinel relations broken")
	}
}

// TestVerifyReaderCopyToStops: copyTo stops at a cancelled context and at a failed write,
// naming the digest, and leaves the VerifyReader dead.
func TestVerifyReaderCopyToStops(t *testing.T) {
	data := pseudoRandom("copy", 1<<20)
	desc := ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	v, _ := NewVerifyReader(bytes.NewReader(data), desc)
	if _, err := v.copyTo(ctx, io.Discard, make([]byte, 4096)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	full := errors.New("no space left on device")
	v, _ = NewVerifyReader(bytes.NewReader(data), desc)
	if _, err := v.copyTo(context.Background(), failingWriter{full}, make([]byte, 512<<10)); !errors.Is(err, full) || !strings.Contains(err.Error(), desc.Digest.String()) {
		t.Fatalf("write error: %v", err)
	}
	if done, err := v.Done(); done || !errors.Is(err, full) {
		t.Fatalf("Done() after a write error = %v, %v", done, err)
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestNewVerifyReaderRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		desc    ocispec.Descriptor
		wantErr error
	}{
		{"no digest", ocispec.Descriptor{Size: 1}, ErrInvalidDigest},
		{"upper-case hex", ocispec.Descriptor{Digest: digest.Digest(strings.ToUpper(string(digest.FromString("x")))), Size: 1}, ErrInvalidDigest},
		{"short hex", ocispec.Descriptor{Digest: "sha256:abcd", Size: 1}, ErrInvalidDigest},
		{"negative size", ocispec.Descriptor{Digest: digest.FromString("x"), Size: -2}, ErrSizeMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewVerifyReader(strings.NewReader("x"), tc.desc); !errors.Is(err, tc.wantErr) {
				t.Fatalf("NewVerifyReader: %v, want %v", err, tc.wantErr)
			}
		})
	}
}
