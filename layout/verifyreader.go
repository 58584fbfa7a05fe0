package layout

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/internal/hashio"
)

// VerifyReader reads exactly desc.Size bytes of an underlying reader, hashing them as they pass,
// and at the end checks that nothing follows and that the bytes hash to desc.Digest. Its errors
// are distinct and name the digest: ErrShortRead when the content ends early, ErrTrailingData
// when it goes on past the size, ErrDigestMismatch when it hashes to another digest. An error
// is sticky; io.EOF comes only after a successful check.
//
// A VerifyReader is not safe for concurrent use. It does not close the underlying reader.
type VerifyReader struct {
	r    io.Reader
	desc ocispec.Descriptor
	h    hash.Hash
	left int64
	err  error
}

// NewVerifyReader returns a VerifyReader of r for desc. It returns ErrInvalidDigest for a
// digest it cannot check and ErrSizeMismatch for a negative size.
func NewVerifyReader(r io.Reader, desc ocispec.Descriptor) (*VerifyReader, error) {
	if err := checkDigest(desc.Digest); err != nil {
		return nil, err
	}
	if desc.Size < 0 {
		return nil, fmt.Errorf("blob %s: size %d: %w", desc.Digest, desc.Size, ErrSizeMismatch)
	}
	return &VerifyReader{r: r, desc: desc, h: desc.Digest.Algorithm().Hash(), left: desc.Size}, nil
}

// Read reads up to len(p) bytes of the content. After the last byte it returns io.EOF if the
// content checks out, or the error that says why not.
func (v *VerifyReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if v.left == 0 {
		v.err = v.finish()
		return 0, v.err
	}
	if int64(len(p)) > v.left {
		p = p[:v.left]
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	return v.advance(n, err)
}

// advance records that n bytes of the content were read (and hashed), with the error of the
// underlying reader, and returns what Read returns.
func (v *VerifyReader) advance(n int, err error) (int, error) {
	v.left -= int64(n)
	switch {
	case err == io.EOF && v.left > 0:
		v.err = fmt.Errorf("blob %s: %d of %d bytes: %w", v.desc.Digest, v.desc.Size-v.left, v.desc.Size, ErrShortRead)
		return n, v.err
	case err == io.EOF:
		v.err = v.finish()
		if v.err == io.EOF && n > 0 {
			return n, nil
		}
		return n, v.err
	case err != nil:
		v.err = fmt.Errorf("blob %s: %w", v.desc.Digest, err)
		return n, v.err
	}
	return n, nil
}

// copyTo copies the content into w through buf, with the checks Read makes, and returns the
// bytes written and nil once the content checked out. Each chunk is hashed on another
// goroutine while w writes it (hashio.WriteHashed), so that storing a blob keeps two CPUs busy
// instead of hashing and writing in turn. ctx is checked between chunks. An error writing to w
// is returned naming the digest; the VerifyReader is then dead.
func (v *VerifyReader) copyTo(ctx context.Context, w io.Writer, buf []byte) (int64, error) {
	var total int64
	for v.err == nil {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		if v.left == 0 {
			v.err = v.finish()
			break
		}
		p := buf
		if int64(len(p)) > v.left {
			p = p[:v.left]
		}
		n, rerr := v.r.Read(p)
		if n > 0 {
			wn, werr := hashio.WriteHashed(w, v.h, p[:n])
			total += int64(wn)
			if werr != nil {
				v.err = fmt.Errorf("blob %s: writing: %w", v.desc.Digest, werr)
				return total, v.err
			}
		}
		v.advance(n, rerr)
	}
	if v.err == io.EOF {
		return total, nil
	}
	return total, v.err
}

// finish checks for trailing data and the digest once desc.Size bytes have passed.
func (v *VerifyReader) finish() error {
	var one [1]byte
	switch n, err := io.ReadFull(v.r, one[:]); {
	case n > 0:
		return fmt.Errorf("blob %s: more than %d bytes: %w", v.desc.Digest, v.desc.Size, ErrTrailingData)
	case err != nil && !errors.Is(err, io.EOF):
		return fmt.Errorf("blob %s: %w", v.desc.Digest, err)
	}
	got := digest.NewDigest(v.desc.Digest.Algorithm(), v.h)
	if got != v.desc.Digest {
		return fmt.Errorf("blob %s: content hashes to %s: %w", v.desc.Digest, got, ErrDigestMismatch)
	}
	return io.EOF
}

// Done reports whether the content has been read to its end and checked, and the result:
// nil when it checked out.
func (v *VerifyReader) Done() (bool, error) {
	switch {
	case v.err == nil:
		return false, nil
	case v.err == io.EOF:
		return true, nil
	case errors.Is(v.err, ErrShortRead), errors.Is(v.err, ErrTrailingData), errors.Is(v.err, ErrDigestMismatch):
		return true, v.err
	}
	// An I/O error of the underlying reader: the content was not checked.
	return false, v.err
}
