package layout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/gadgetpack/gadgetpack/internal/atomicfile"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// bufSize is the copy buffer of blob reads and writes: large enough that disk I/O and syscalls
// stay a small part of hashing.
const bufSize = 1 << 20

// bufPool holds *[]byte of bufSize.
var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// blobPerm is the mode of a blob file: content-addressed files are never changed in place.
const blobPerm = 0o444

// blobRel returns the path of d's blob relative to the layout root, or ErrInvalidDigest.
func blobRel(d digest.Digest) (string, error) {
	if err := checkDigest(d); err != nil {
		return "", err
	}
	return filepath.Join(BlobsDir, d.Algorithm().String(), d.Encoded()), nil
}

// blobPath returns the absolute path of d's blob, or ErrInvalidDigest.
func (s *Store) blobPath(d digest.Digest) (string, error) {
	rel, err := blobRel(d)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.root, rel), nil
}

// openBlobHook, when set (by tests only), is called for each blob openBlob opens: the tests
// that pin how much a command reads count with it.
var openBlobHook func(s *Store, desc ocispec.Descriptor)

// openBlob opens desc's blob for reading: it refuses a symlink or a non-regular file
// (ErrNotRegular), re-checks after opening that the open file is the one it looked at, and
// returns ErrNotFound when it is absent and ErrSizeMismatch when its size is not desc.Size.
func (s *Store) openBlob(desc ocispec.Descriptor) (*os.File, error) {
	if openBlobHook != nil {
		openBlobHook(s, desc)
	}
	path, err := s.blobPath(desc.Digest)
	if err != nil {
		return nil, err
	}
	fi, err := lstatRegular(path)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	f, err := openNoFollow(path, fi)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	if fi.Size() != desc.Size {
		_ = f.Close()
		return nil, fmt.Errorf("blob %s: file has %d bytes, descriptor says %d: %w", desc.Digest, fi.Size(), desc.Size, ErrSizeMismatch)
	}
	return f, nil
}

// Exists reports whether desc's blob is in the layout. A blob file of another size than
// desc.Size is reported as absent with an error wrapping ErrSizeMismatch, and a symlink or a
// non-regular file with ErrNotRegular. It does not read the content.
func (s *Store) Exists(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	path, err := s.blobPath(desc.Digest)
	if err != nil {
		return false, err
	}
	fi, err := lstatRegular(path)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("blob %s: %w", desc.Digest, err)
	case fi.Size() != desc.Size:
		return false, fmt.Errorf("blob %s: file has %d bytes, descriptor says %d: %w", desc.Digest, fi.Size(), desc.Size, ErrSizeMismatch)
	}
	return true, nil
}

// blobReader is a verified blob read: the file behind a VerifyReader, checking ctx on each Read.
type blobReader struct {
	ctx context.Context
	f   *os.File
	v   *VerifyReader
}

func (r *blobReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.v.Read(p)
}

func (r *blobReader) Close() error { return r.f.Close() }

// Fetch opens desc's blob for a verified read: the reader yields exactly desc.Size bytes and
// returns io.EOF only if they hash to desc.Digest; otherwise its last Read returns
// ErrShortRead, ErrTrailingData or ErrDigestMismatch. Fetch returns ErrNotFound for an absent
// blob, ErrSizeMismatch when the file's size differs from desc.Size, ErrNotRegular for a
// symlink or a special file, ErrInvalidDigest for a bad digest. The caller closes the reader;
// content is trustworthy only once Read has returned io.EOF.
func (s *Store) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := s.openBlob(desc)
	if err != nil {
		return nil, err
	}
	v, err := NewVerifyReader(f, desc)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &blobReader{ctx: ctx, f: f, v: v}, nil
}

// ReadAll returns desc's whole verified content, for JSON documents. It refuses a descriptor
// larger than max bytes with ErrTooLarge before reading anything, and returns Fetch's errors.
func (s *Store) ReadAll(ctx context.Context, desc ocispec.Descriptor, max int64) ([]byte, error) {
	return ReadAllFrom(ctx, s.Fetch, desc, max)
}

// ReadAllFrom reads desc's whole content through fetch, for JSON documents: it refuses a
// descriptor over max bytes with ErrTooLarge before reading, and returns ErrShortRead or
// ErrTrailingData when the content is shorter or longer than desc.Size, and fetch's errors (a
// verifying fetch such as Store.Fetch reports a wrong digest on the last read).
func ReadAllFrom(ctx context.Context, fetch FetchFunc, desc ocispec.Descriptor, max int64) (data []byte, err error) {
	if desc.Size > max {
		return nil, fmt.Errorf("blob %s: %d bytes, cap %d: %w", desc.Digest, desc.Size, max, ErrTooLarge)
	}
	if desc.Size < 0 {
		return nil, fmt.Errorf("blob %s: size %d: %w", desc.Digest, desc.Size, ErrSizeMismatch)
	}
	rc, err := fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := rc.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	data = make([]byte, desc.Size)
	if _, err := io.ReadFull(rc, data); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = fmt.Errorf("blob %s: %w", desc.Digest, ErrShortRead)
		}
		return nil, err
	}
	// The verdict comes with the read after the last byte.
	var probe [1]byte
	for {
		n, err := rc.Read(probe[:])
		if n > 0 {
			return nil, fmt.Errorf("blob %s: more than %d bytes: %w", desc.Digest, desc.Size, ErrTrailingData)
		}
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// Push stores the content r yields as the blob expected describes, verifying it while writing:
// it returns ErrShortRead, ErrTrailingData or ErrDigestMismatch (and stores nothing) when the
// content does not match. It returns ErrAlreadyExists without reading r when the blob is
// already present (oras-go's content.Pusher semantics), and ErrInvalidDigest for a bad
// digest. The blob is durable when Push returns nil: temp file in TempDir, fsync, rename into
// blobs/, folder fsynced. Push never rewrites an existing blob, even when another writer
// publishes the same digest at the same instant. Push does not touch index.json.
func (s *Store) Push(ctx context.Context, expected ocispec.Descriptor, r io.Reader) error {
	path, err := s.blobPath(expected.Digest)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("blob %s: %w", expected.Digest, ErrAlreadyExists)
	}
	v, err := NewVerifyReader(r, expected)
	if err != nil {
		return err
	}
	f, err := s.createTemp()
	if err != nil {
		return err
	}
	if _, err := s.copyToTemp(ctx, f.File, v); err != nil {
		removeTemp(f)
		return err
	}
	err = s.publish(f, expected.Digest)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("blob %s: %w", expected.Digest, ErrAlreadyExists)
	}
	return err
}

// WriteBlob stores the content r yields as a sha256 blob and returns its descriptor (digest
// and size; MediaType is left empty for the caller to set). The digest is computed while
// writing. When the blob is already present it is not rewritten (its file, inode and mtime stay
// as they are) and WriteBlob returns the descriptor with no error. Durable as Push. WriteBlob
// does not touch index.json.
func (s *Store) WriteBlob(ctx context.Context, r io.Reader) (ocispec.Descriptor, error) {
	f, err := s.createTemp()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	dg := digest.SHA256.Digester()
	n, err := s.copyToTemp(ctx, f.File, io.TeeReader(r, dg.Hash()))
	if err != nil {
		removeTemp(f)
		return ocispec.Descriptor{}, err
	}
	desc := ocispec.Descriptor{Digest: dg.Digest(), Size: n}
	if err := s.publish(f, desc.Digest); err != nil && !errors.Is(err, fs.ErrExist) {
		return ocispec.Descriptor{}, err
	}
	return desc, nil
}

// copyToTemp copies r into the writer's temp file f with a pooled buffer, checking ctx between
// chunks, makes it read-only and fsyncs f.
func (s *Store) copyToTemp(ctx context.Context, f *os.File, r io.Reader) (int64, error) {
	total, err := s.copyData(ctx, f, r)
	if err != nil {
		return total, err
	}
	if err := f.Chmod(blobPerm); err != nil {
		return total, fmt.Errorf("layout %s: %w", s.root, err)
	}
	if err := syncFile(f); err != nil {
		return total, fmt.Errorf("layout %s: %w", s.root, err)
	}
	return total, nil
}

// copyData copies r into f with a pooled buffer, checking ctx between chunks. A VerifyReader
// hashes each chunk while f writes it (VerifyReader.copyTo).
func (s *Store) copyData(ctx context.Context, f *os.File, r io.Reader) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	if v, ok := r.(*VerifyReader); ok {
		return v.copyTo(ctx, f, buf)
	}
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				return total, fmt.Errorf("layout %s: writing blob: %w", s.root, err)
			}
			total += int64(n)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return total, rerr
		}
	}
	return total, nil
}

// publish moves the writer's synced temp file t to the blob path of dg (blobs/<alg>/<hex>,
// its folder made when missing, never through a symlink), never replacing an existing blob
// (then it returns an error wrapping fs.ErrExist), fsyncs the blob folder, and releases the
// temp file. The rename is between the folders t holds, so a folder swapped for a symlink
// meanwhile cannot redirect it. The temp file is gone afterwards in every case.
func (s *Store) publish(t *blobTemp, dg digest.Digest) (err error) {
	defer removeTemp(t) // a no-op once renamed; closing releases the writer's flock
	if err := checkDigest(dg); err != nil {
		return err
	}
	dir, _, err := openFolder(t.root, filepath.Join(BlobsDir, dg.Algorithm().String()), true)
	if err != nil {
		return err
	}
	defer func() { _ = dir.Close() }()
	if err := atomicfile.MoveAt(t.dir, t.name, dir, dg.Encoded(), false); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("layout %s: %w", s.root, err)
	}
	t.name = "" // renamed away: removeTemp must not remove another writer's file of that name
	// The rename made durable, as PublishAt does, through the counted syncFile.
	if err := syncFile(dir); err != nil {
		return fmt.Errorf("layout %s: %w", s.root, err)
	}
	return nil
}

// sniffBytes is how much of a blob mayBeJSONObject reads.
const sniffBytes = 4096

// mayBeJSONObject reports whether desc's blob may hold a JSON object: the first byte of it that
// is not JSON white space, within its first sniffBytes, is '{' (or there is none there in a
// longer blob). It reads that much only, unverified: callers read a candidate again, verified.
// A blob that cannot be opened is reported as false.
func (s *Store) mayBeJSONObject(desc ocispec.Descriptor) bool {
	f, err := s.openBlob(desc)
	if err != nil {
		return false
	}
	defer f.Close()
	return sniffJSONObject(f) >= 0
}

// sniffJSONObject reads the first sniffBytes of r and tells whether they start, after JSON white
// space, with '{' (1), with something else (-1), or hold white space alone in a longer blob (0:
// it may still be an object).
func sniffJSONObject(r io.Reader) int {
	var buf [sniffBytes]byte
	n, _ := io.ReadFull(r, buf[:])
	switch i := firstNonSpace(buf[:n]); {
	case i >= 0 && buf[i] == '{':
		return 1
	case i >= 0 || n < len(buf):
		return -1
	}
	return 0
}
