package tarball

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
)

// The ends of compressed streams. A compressed tarball may carry what its decompressor does
// not: zstd skippable frames (at the start, between frames, at the end: pzstd and seekable
// zstd write them), several gzip members (pigz, cat a.gz b.gz), and zero bytes after the last
// frame or member (padding of a tape block, a dd to a device). These readers sit between the
// input and the decompressor: they pass the frames and members on, drop the skippable frames,
// and end the stream at the last frame when only zeros follow it. Anything else after the end
// is refused (ErrCorrupt, naming its offset in the input).

// Magic numbers of zstd frames (RFC 8878, 3.1.1 and 3.1.2), little-endian.
const (
	zstdFrameMagic     = 0xFD2FB528
	zstdSkippableMagic = 0x184D2A50 // the low 4 bits are free
	zstdSkippableMask  = 0xFFFFFFF0
)

// isZstd reports whether head starts a zstd stream: a frame, or a skippable frame.
func isZstd(head []byte) bool {
	if len(head) < 4 {
		return false
	}
	m := binary.LittleEndian.Uint32(head)
	return m == zstdFrameMagic || m&zstdSkippableMask == zstdSkippableMagic
}

// What zstdFrames parses when the bytes it passes on run out.
const (
	zstdAtFrame = iota
	zstdAtBlock
	zstdAtChecksum
)

// zstdFrames is the stream the zstd decoder reads: the input's frames as they are, without its
// skippable frames, ending after the last frame when only zeros follow. It parses frame and
// block headers only (RFC 8878, 3.1.1.1 and 3.1.1.2), to know where each frame ends; the
// decoder checks the rest. Errors are final.
type zstdFrames struct {
	br       *bufio.Reader
	pos      int64 // bytes taken from br
	pass     int64 // bytes of the current frame still to pass on
	state    int   // what follows them
	checksum bool  // the current frame ends with a 4-byte checksum
	err      error
}

func newZstdFrames(br *bufio.Reader) *zstdFrames { return &zstdFrames{br: br} }

func (z *zstdFrames) Read(p []byte) (int, error) {
	for z.err == nil {
		if z.pass > 0 {
			if int64(len(p)) > z.pass {
				p = p[:z.pass]
			}
			n, err := z.br.Read(p)
			z.pass -= int64(n)
			z.pos += int64(n)
			if err == io.EOF && z.pass > 0 {
				err = z.truncated()
			}
			if err != nil && err != io.EOF {
				z.err = err
			}
			if n > 0 || z.err != nil {
				return n, z.err
			}
			continue
		}
		z.err = z.next()
	}
	return 0, z.err
}

// next parses what comes after the bytes passed on: a frame (or a skippable frame, dropped, or
// the end), a block header, or a checksum, and sets how many bytes to pass on.
func (z *zstdFrames) next() error {
	switch z.state {
	case zstdAtBlock:
		b, err := z.peek(3)
		if err != nil {
			return err
		}
		hdr := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
		size := int64(hdr >> 3)
		switch (hdr >> 1) & 3 {
		case 1: // RLE: one byte, repeated
			size = 1
		case 3:
			return fmt.Errorf("zstd stream damaged (reserved block type at byte %d of the input): %w", z.pos, ErrCorrupt)
		}
		z.pass = 3 + size
		if hdr&1 != 0 { // the frame's last block
			z.state = zstdAtFrame
			if z.checksum {
				z.state = zstdAtChecksum
			}
		}
		return nil
	case zstdAtChecksum:
		z.pass, z.state = 4, zstdAtFrame
		return nil
	}
	for {
		b, err := z.br.Peek(4)
		switch {
		case len(b) == 0 && err == io.EOF:
			return io.EOF
		case len(b) > 0 && b[0] == 0:
			return z.zeros()
		case len(b) < 4 && err == io.EOF:
			return z.after()
		case err != nil:
			return err
		}
		m := binary.LittleEndian.Uint32(b)
		if m&zstdSkippableMask == zstdSkippableMagic {
			b, err := z.peek(8)
			if err != nil {
				return err
			}
			skip := 8 + int64(binary.LittleEndian.Uint32(b[4:]))
			n, err := z.br.Discard(int(min(skip, 1<<62)))
			z.pos += int64(n)
			if int64(n) < skip {
				if err == nil || err == io.EOF {
					err = z.truncated()
				}
				return err
			}
			continue
		}
		if m != zstdFrameMagic {
			return z.after()
		}
		b, err = z.peek(6)
		if err != nil {
			return err
		}
		fhd := b[4]
		single := fhd&0x20 != 0
		size := int64(5)
		if !single {
			size++ // Window_Descriptor
		}
		size += []int64{0, 1, 2, 4}[fhd&3] // Dictionary_ID
		switch fcs := fhd >> 6; {
		case fcs == 0 && single:
			size++
		case fcs > 0:
			size += []int64{0, 2, 4, 8}[fcs]
		}
		z.pass, z.state, z.checksum = size, zstdAtBlock, fhd&0x04 != 0
		return nil
	}
}

// peek returns the next n bytes without taking them; a stream that ends before them is
// truncated.
func (z *zstdFrames) peek(n int) ([]byte, error) {
	b, err := z.br.Peek(n)
	if len(b) < n {
		if err == nil || err == io.EOF {
			err = z.truncated()
		}
		return nil, err
	}
	return b, nil
}

// truncated is the error of a stream that ends inside a frame. It is not io.ErrUnexpectedEOF,
// which the decoder takes for the end of the stream between frames.
func (z *zstdFrames) truncated() error {
	return fmt.Errorf("zstd stream ends early, inside a frame, at byte %d of the input: %w", z.pos, ErrTruncated)
}

// zeros takes the zeros after the last frame: io.EOF when only zeros follow.
func (z *zstdFrames) zeros() error {
	n, err := zeroRest(z.br, z.pos, "zstd")
	z.pos += n
	return err
}

// after is the error for bytes after a frame that start no frame.
func (z *zstdFrames) after() error {
	return fmt.Errorf("data after the end of the zstd stream, at byte %d of the input (not a zstd frame): %w", z.pos, ErrCorrupt)
}

// zeroRest reads br to its end: io.EOF, and how many bytes it read, when they are all zeros;
// else ErrCorrupt naming the offset (pos is where br starts in the input) of the first other
// byte.
func zeroRest(br *bufio.Reader, pos int64, what string) (int64, error) {
	var read int64
	for {
		b, err := br.Peek(br.Size())
		for i, c := range b {
			if c != 0 {
				return read + int64(i), fmt.Errorf("data after the end of the %s stream, at byte %d of the input (after %d zero bytes): %w",
					what, pos+read+int64(i), read+int64(i), ErrCorrupt)
			}
		}
		n, _ := br.Discard(len(b))
		read += int64(n)
		if err == io.EOF {
			return read, io.EOF
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return read, err
		}
	}
}

// gzipMembers is the decompressed stream of every gzip member of the input, one after the
// other (RFC 1952, 2.2), ending after the last member when only zeros follow it. Errors are
// final.
type gzipMembers struct {
	br  *bufio.Reader
	z   *gzip.Reader
	pos func() int64 // where br is in the input
	err error
}

// newGzipMembers reads the first member's header.
func newGzipMembers(br *bufio.Reader, pos func() int64) (*gzipMembers, error) {
	z, err := gzip.NewReader(br)
	if err != nil {
		return nil, err
	}
	z.Multistream(false)
	return &gzipMembers{br: br, z: z, pos: pos}, nil
}

func (g *gzipMembers) Read(p []byte) (int, error) {
	for g.err == nil {
		n, err := g.z.Read(p)
		if err == io.EOF {
			err = g.nextMember()
		}
		if err != nil {
			g.err = err
		}
		if n > 0 || g.err != nil {
			return n, g.err
		}
	}
	return 0, g.err
}

// nextMember starts the member that follows the one that ended: nil when there is one, io.EOF
// at the end of the input or when only zeros follow, ErrCorrupt for other bytes.
func (g *gzipMembers) nextMember() error {
	b, err := g.br.Peek(2)
	switch {
	case len(b) == 0 && err == io.EOF:
		return io.EOF
	case len(b) > 0 && b[0] == 0:
		_, err := zeroRest(g.br, g.pos(), "gzip")
		return err
	case len(b) == 2 && b[0] == magicGzip[0] && b[1] == magicGzip[1]:
		if err := g.z.Reset(g.br); err != nil {
			return streamError(Gzip, err)
		}
		g.z.Multistream(false)
		return nil
	case err != nil && err != io.EOF:
		return err
	}
	return fmt.Errorf("data after the end of the gzip stream, at byte %d of the input (not a gzip member): %w", g.pos(), ErrCorrupt)
}
