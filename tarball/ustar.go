package tarball

import (
	"archive/tar"
	"bytes"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/gadgetpack/gadgetpack/layout"
)

// An export of many small blobs spends much of its writing in archive/tar's WriteHeader, which
// checks and formats every field of every header. The headers of blob entries differ only in
// the digest's hex and the size: blobHeaders has archive/tar write one, for a blob of sha256
// zeros and size 0, and makes the others from it, setting those two fields and the checksum
// as archive/tar does (FuzzBlobHeader holds it to archive/tar's bytes).

// ustarBlock is the size of a tar header and the unit of a tar entry's data.
const ustarBlock = 512

// Offsets of the fields of a USTAR header that differ between blob entries.
const (
	ustarSize     = 124 // 12 bytes: 11 octal digits and a NUL
	ustarChecksum = 148 // 8 bytes: 6 octal digits, a NUL and a space
	blobHexOff    = len(layout.BlobsDir + "/sha256/")
)

// blobHeaders makes the USTAR headers of the blob entries of one export (one mtime).
type blobHeaders struct {
	template [ustarBlock]byte
	ok       bool // archive/tar writes such entries as USTAR headers at this mtime
}

// newBlobHeaders returns the blobHeaders of entries of mtime.
func newBlobHeaders(mtime time.Time) blobHeaders {
	var h blobHeaders
	name := blobEntryName(digest.NewDigestFromEncoded(digest.SHA256, strings.Repeat("0", 64)))
	hdr := header(name, 0, mtime)
	if hdr.Format != tar.FormatUSTAR {
		return h
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(hdr); err != nil || tw.Flush() != nil || buf.Len() != ustarBlock {
		return h
	}
	copy(h.template[:], buf.Bytes())
	h.ok = true
	return h
}

// fill sets blk to the header archive/tar writes for the blob entry of dg and size, and
// reports whether it could (a sha256 digest, a USTAR size); when not, the caller has archive/tar
// write the header.
func (h *blobHeaders) fill(blk *[ustarBlock]byte, dg digest.Digest, size int64) bool {
	hex := dg.Encoded()
	if !h.ok || dg.Algorithm() != digest.SHA256 || len(hex) != 64 || size < 0 || size >= maxUSTARSize {
		return false
	}
	*blk = h.template
	copy(blk[blobHexOff:], hex)
	putOctal(blk[ustarSize:ustarSize+12], size)
	copy(blk[ustarChecksum:ustarChecksum+8], "        ")
	var sum int64
	for _, c := range blk {
		sum += int64(c)
	}
	putOctal(blk[ustarChecksum:ustarChecksum+7], sum)
	blk[ustarChecksum+7] = ' '
	return true
}

// putOctal writes x into field as archive/tar's formatOctal does: octal digits with leading
// zeros and a final NUL, filling the field.
func putOctal(field []byte, x int64) {
	var digits [24]byte
	s := strconv.AppendInt(digits[:0], x, 8)
	n := len(field) - 1 - len(s)
	for i := range n {
		field[i] = '0'
	}
	copy(field[max(n, 0):], s)
	field[len(field)-1] = 0
}

// blobEntryName is the tar entry name of the blob of dg: blobs/<alg>/<hex>.
func blobEntryName(dg digest.Digest) string {
	return path.Join(layout.BlobsDir, dg.Algorithm().String(), dg.Encoded())
}
