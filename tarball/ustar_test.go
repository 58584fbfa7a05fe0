package tarball

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// tarHeader returns the header block archive/tar writes for the blob entry of dg and size.
func tarHeader(tb testing.TB, dg digest.Digest, size int64, mtime time.Time) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(header(blobEntryName(dg), size, mtime)); err != nil {
		tb.Fatal(err)
	}
	if err := tw.Flush(); err != nil && size == 0 {
		tb.Fatal(err)
	}
	return buf.Bytes()[:ustarBlock]
}

// FuzzBlobHeader is differential: a header blobHeaders makes is the one archive/tar writes.
func FuzzBlobHeader(f *testing.F) {
	for _, tc := range []struct {
		seed  string
		size  int64
		mtime int64
	}{
		{"a", 0, 0}, {"b", 1, 0}, {"c", 1024, 1700000000}, {"d", 1<<33 - 1, 0}, {"e", 1 << 33, 0},
		{"f", 511, -1}, {"g", 512, 1<<33 - 1}, {"h", 123456789, 1 << 33}, {"i", -1, 0},
	} {
		f.Add(tc.seed, tc.size, tc.mtime)
	}
	f.Fuzz(func(t *testing.T, seed string, size, mtime int64) {
		sum := sha256.Sum256([]byte(seed))
		dg := digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(sum[:]))
		mt := time.Unix(mtime, 0)
		h := newBlobHeaders(mt)
		var blk [ustarBlock]byte
		if !h.fill(&blk, dg, size) {
			if hdr := header(blobEntryName(dg), size, mt); hdr.Format == tar.FormatUSTAR && size >= 0 {
				t.Fatalf("size %d, mtime %d: archive/tar writes a USTAR header, blobHeaders makes none", size, mtime)
			}
			return
		}
		if want := tarHeader(t, dg, size, mt); !bytes.Equal(blk[:], want) {
			t.Fatalf("size %d, mtime %d:\n got %q\nwant %q", size, mtime, blk[:], want)
		}
	})
}
