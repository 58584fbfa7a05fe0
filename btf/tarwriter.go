package btf

import (
	"archive/tar"
	"fmt"
	"io"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// archiveWriter writes a reproducible compressed tar.
type archiveWriter struct {
	cw   *countingWriter
	comp io.WriteCloser
	tw   *tar.Writer
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func newArchiveWriter(out io.Writer, compress string) (*archiveWriter, error) {
	cw := &countingWriter{w: out}
	var comp io.WriteCloser
	switch compress {
	case "zstd":
		z, err := zstd.NewWriter(cw, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		comp = z
	default:
		z, err := gzip.NewWriterLevel(cw, gzip.BestCompression)
		if err != nil {
			return nil, err
		}
		comp = z
	}
	return &archiveWriter{cw: cw, comp: comp, tw: tar.NewWriter(comp)}, nil
}

func (w *archiveWriter) add(name string, data []byte) error {
	h := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)),
		ModTime: time.Unix(0, 0), Format: tar.FormatUSTAR}
	if len(name) > 100 {
		h.Format = tar.FormatPAX
	}
	if err := w.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("tar entry %s: %w", name, err)
	}
	if _, err := w.tw.Write(data); err != nil {
		return fmt.Errorf("tar entry %s: %w", name, err)
	}
	return nil
}

func (w *archiveWriter) close() error {
	if err := w.tw.Close(); err != nil {
		return err
	}
	if err := w.comp.Close(); err != nil {
		return err
	}
	return nil
}
