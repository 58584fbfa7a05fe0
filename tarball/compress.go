package tarball

import (
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression is the compression of an exported tarball.
type Compression string

// The compressions export writes. The zero value is None.
const (
	None Compression = "none" // a plain tar, what ig image export writes and ig image import reads
	Gzip Compression = "gzip" // gzip (RFC 1952) at the default level
	Zstd Compression = "zstd" // one zstd frame at the default level
)

// ParseCompression parses the value of export's --compress: "none" (or ""), "gzip" or "zstd".
// It returns ErrBadOptions for anything else.
func ParseCompression(s string) (Compression, error) {
	switch c := Compression(s); c {
	case "", None:
		return None, nil
	case Gzip, Zstd:
		return c, nil
	}
	return "", fmt.Errorf("compression %q (want none, gzip or zstd): %w", s, ErrBadOptions)
}

// Ext returns the usual file name extension of c: "", ".gz" or ".zst".
func (c Compression) Ext() string {
	switch c {
	case Gzip:
		return ".gz"
	case Zstd:
		return ".zst"
	}
	return ""
}

// zstdWindow is the zstd window: the default level's, stated so that the output does not
// change with the library's defaults, and small enough that memory stays flat.
const zstdWindow = 8 << 20

// NewCompressor returns a writer that compresses into w with c. Its Close flushes the
// compressed stream's end into w and does not close w. The output depends only on the bytes
// written, not on how they are split into Write calls, nor on the time or the machine: gzip's
// header carries no name, no time and OS 255 (unknown); zstd runs one encoder goroutine with a
// fixed window and level. For None (or "") it returns w with a Close that does nothing. It
// returns ErrBadOptions for an unknown compression.
func NewCompressor(w io.Writer, c Compression) (io.WriteCloser, error) {
	switch c {
	case "", None:
		return nopCloser{w}, nil
	case Gzip:
		z, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
		if err != nil {
			return nil, err
		}
		z.OS = 255
		return z, nil
	case Zstd:
		return zstd.NewWriter(w,
			zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(zstdWindow),
			zstd.WithEncoderCRC(true),
			zstd.WithZeroFrames(true))
	}
	return nil, fmt.Errorf("compression %q (want none, gzip or zstd): %w", string(c), ErrBadOptions)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
