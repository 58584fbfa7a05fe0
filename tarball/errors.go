package tarball

import (
	"errors"
	"fmt"

	"github.com/gadgetpack/gadgetpack/layout"
)

// Sentinel errors of reading a tarball (NewReader, Import, Verify). Every error of import and
// verify wraps one of them or one of package layout's (ErrDigestMismatch, ErrShortRead,
// ErrNotLayout, ErrGraphIncomplete, ErrRefExists...), with a message naming the tar entry,
// digest or ref; test with errors.Is.
var (
	// ErrUnsafeEntry is returned for a tar entry that no layout holds and an import refuses: a
	// name that is absolute or has a ".." element, a symlink, a hard link, a device, a FIFO, a
	// sparse file (of any format) or another type that is not a regular file or a directory, a name that is not one of a
	// layout's (oci-layout, index.json, blobs/<alg>/<encoded> of a known algorithm in lowercase
	// hex, the directories blobs/ and blobs/<alg>/), or a name seen twice.
	ErrUnsafeEntry = errors.New("unsafe tar entry")

	// ErrCorrupt is returned for a stream that is not a tar (plain, gzip or zstd), whose
	// compression is damaged, that holds data after the end of the archive, or that lacks a
	// layout's oci-layout or index.json.
	ErrCorrupt = errors.New("corrupt tarball")

	// ErrTruncated is returned for a stream that ends inside an entry or before the end of the
	// archive. It wraps ErrCorrupt.
	ErrTruncated = fmt.Errorf("truncated: %w", ErrCorrupt)

	// ErrTooLarge is returned for a stream over ReaderOptions.MaxSize, a compressed stream that
	// expands more than ReaderOptions.MaxRatio times (a decompression bomb), and a JSON file over
	// its cap (layout.MaxIndexBytes, layout.MaxJSONBytes). It is layout.ErrTooLarge.
	ErrTooLarge = layout.ErrTooLarge

	// ErrChecksum is returned when a tarball's files do not match the checksum file beside
	// them (FILE.sha256, as export writes it): a file with other bytes than the ones listed,
	// one not listed, one listed and missing, or a checksum file that does not parse.
	ErrChecksum = errors.New("checksum mismatch")

	// ErrNotRegular is returned for a tarball, a part or a checksum file that is not a
	// regular file: a directory, a device, a socket, or a FIFO other than a pipe handed over as
	// /dev/fd/N (process substitution). It is returned at once, without opening a FIFO.
	ErrNotRegular = errors.New("not a regular file")

	// ErrRuleViolation is returned by Import when a gadget rule func reports an error about
	// what the tarball carries; nothing is imported.
	ErrRuleViolation = errors.New("gadget rules broken")

	// ErrChanged is returned by Verify for a blob read again after it passed in the stream (in
	// place from the tarball file, or from the temporary file it keeps blobs in) whose content
	// no longer hashes to its digest: the file changed since. The report names the blob where
	// it was needed.
	ErrChanged = errors.New("changed since it was read")
)

// Sentinel errors of writing a tarball (Export, ExportFile, FileWriter, ParseSize,
// ParseCompression, HeldBlobs). Export's other errors are package layout's (ErrNotFound,
// ErrDigestMismatch, ErrGraphIncomplete...), naming the ref or digest.
var (
	// ErrBadOptions is returned for an invalid option: an unknown compression, a split size
	// that does not parse or is below MinSplitSize, an output that needs more than MaxParts
	// parts.
	ErrBadOptions = errors.New("invalid options")
)
