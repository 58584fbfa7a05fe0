package layout

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// A blob read ahead of a walk (readahead.go) is looked up by name in its blobs/<alg> folder,
// held open, with raw file descriptors: no path is resolved from the root, and no *os.File is
// made (which costs a poller registration and a finalizer per blob). The checks are openBlob's
// but one: lstat (fstatat without following a symlink) for a regular file of the declared size,
// so that no device or FIFO is ever opened; an open that follows no symlink, does not block and
// takes no terminal; then the content is read to its end and must hash to the digest. openBlob's
// fstat of the open file (the same file lstat saw?) is left out: it would come after the open,
// so it cannot undo one, and what is read is trusted only by its hash (a swap between lstat and
// open gives a short read, an error or bytes that do not hash to the digest). That is a
// syscall less per blob, of five. What it returns is trusted only
// when it returns no error; a reader ahead drops its errors, and the walk reads such a blob
// again through Store.Fetch, whose errors it reports.

// statBlobAt checks that name in the folder dir is a regular file (not a symlink) of size bytes.
func statBlobAt(dir int, name string, size int64) error {
	var st unix.Stat_t
	if err := ignoringEINTR(func() error { return unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return ErrNotFound
		}
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return ErrNotRegular
	}
	if st.Size != size {
		return ErrSizeMismatch
	}
	return nil
}

// readBlobAt reads the whole blob desc names from the folder dir (its blobs/<alg>), verified:
// a regular file of desc.Size bytes, read to its end, hashing to desc.Digest. The digest must be
// valid (it becomes a file name).
func (s *Store) readBlobAt(dir int, desc ocispec.Descriptor) ([]byte, error) {
	if err := checkDigest(desc.Digest); err != nil {
		return nil, err
	}
	name := desc.Digest.Encoded()
	if err := statBlobAt(dir, name, desc.Size); err != nil {
		return nil, err
	}
	if openBlobHook != nil {
		openBlobHook(s, desc)
	}
	var fd int
	err := ignoringEINTR(func() (err error) {
		fd, err = unix.Openat(dir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, err
	}
	defer func() { _ = unix.Close(fd) }()
	// lstat found desc.Size bytes: one read of one byte more ends short at the end of the
	// file, which a regular file's read does only there (a second read, for end of file,
	// would cost a syscall per blob); more bytes are data appended since.
	buf := make([]byte, desc.Size+1)
	off := 0
	for {
		n, err := readFD(fd, buf[off:])
		if err != nil {
			return nil, err
		}
		off += n
		if n == 0 || off < len(buf) && off == int(desc.Size) {
			break
		}
		if off == len(buf) {
			return nil, ErrTrailingData
		}
	}
	if off != int(desc.Size) {
		return nil, ErrShortRead
	}
	data := buf[:off:off]
	if !hashesTo(data, desc.Digest) {
		return nil, ErrDigestMismatch
	}
	return data, nil
}

// hashesTo reports whether data hashes to dg, a valid sha256 digest, without formatting the
// digest of data (go-digest's FromBytes goes through fmt).
func hashesTo(data []byte, dg digest.Digest) bool {
	sum := sha256.Sum256(data)
	var hexSum [2 * sha256.Size]byte
	hex.Encode(hexSum[:], sum[:])
	return dg.Algorithm() == digest.SHA256 && string(hexSum[:]) == dg.Encoded()
}

// readFD is read(2) on fd, retried on EINTR.
func readFD(fd int, p []byte) (n int, err error) {
	err = ignoringEINTR(func() (err error) {
		n, err = unix.Read(fd, p)
		return err
	})
	return n, err
}

// ignoringEINTR calls fn until it returns something else than EINTR.
func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// blobAtAlg is the digest algorithm whose folder a reader ahead holds open: the one layouts use.
const blobAtAlg = digest.SHA256
