package layout

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestVerifyReader(t *testing.T) {
	data := pseudoRandom("verify", 10000)
	desc := ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}
	flipped := bytes.Clone(data)
	flipped[5000] ^= 0x10
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
		{"short", bytes.NewReader(data[:9999]), ErrShortRead, true},
		{"empty", strings.NewReader(""), ErrShortRead, true},
		{"trailing", io.MultiReader(bytes.NewReader(data), strings.NewReader("!")), ErrTrailingData, true},
		{"flipped", bytes.NewReader(flipped), ErrDigestMismatch, true},
		{"flipped, data with EOF", iotest.DataErrReader(bytes.NewReader(flipped)), ErrDigestMismatch, true},
		{"I/O error", io.MultiReader(bytes.NewReader(data[:100]), iotest.ErrReader(ioErr)), ioErr, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewVerifyReader(tc.r, desc)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(v)
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
