package layout

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DamagedBlobError is returned when a blob file that a layout being written into already holds
// does not hold its digest's content, found while an import, copy or tag reads it (to check a
// graph, or beside the good copy a stream carries): the layout is damaged, not the input. The
// command that gets it can name the layout to verify. It wraps the error of the read
// (ErrDigestMismatch, ErrShortRead, ErrTrailingData, ErrSizeMismatch).
type DamagedBlobError struct {
	Layout string        // the layout's root
	Path   string        // the blob file
	Digest digest.Digest // the blob's digest
	Err    error
}

// Error names the layout's blob file and its digest.
func (e *DamagedBlobError) Error() string {
	return fmt.Sprintf("the layout's own blob file %s is damaged: %v", e.Path, e.Err)
}

// Unwrap returns the error of the read.
func (e *DamagedBlobError) Unwrap() error { return e.Err }

// damaged returns err as a DamagedBlobError of s's blob dg.
func (s *Store) damaged(dg digest.Digest, err error) error {
	path, perr := s.blobPath(dg)
	if perr != nil {
		return err
	}
	return &DamagedBlobError{Layout: s.root, Path: path, Digest: dg, Err: err}
}

// isContentError reports whether err says that content is not what its digest names.
func isContentError(err error) bool {
	return errors.Is(err, ErrDigestMismatch) || errors.Is(err, ErrSizeMismatch)
}

// fetchOwn is Fetch for reads of blobs the layout already holds, by a writer that put into it
// (or found in it) what it reads: content that does not hash to its digest is a
// DamagedBlobError of this layout.
func (s *Store) fetchOwn(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	rc, err := s.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	return &damagedReader{ReadCloser: rc, s: s, dg: desc.Digest}, nil
}

// damagedReader turns a verified read's content errors into DamagedBlobErrors of its layout.
type damagedReader struct {
	io.ReadCloser
	s  *Store
	dg digest.Digest
}

func (r *damagedReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF && isContentError(err) {
		err = r.s.damaged(r.dg, err)
	}
	return n, err
}

// damagedOrStream is what Stage.Push returns when the layout holds desc's blob with another
// size than the stream's entry: the stream's content v is read through; when it verifies, the
// layout's file is the damaged one (DamagedBlobError), else the stream's error stands.
func (st *Stage) damagedOrStream(ctx context.Context, v io.Reader, desc ocispec.Descriptor, have error) error {
	if err := drain(ctx, v); err != nil {
		return err
	}
	return st.s.damaged(desc.Digest, have)
}
