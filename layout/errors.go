package layout

import (
	"errors"
	"fmt"

	"oras.land/oras-go/v2/errdef"
)

// Sentinel errors. Every error of this package that comes from the content of a layout or from
// an argument wraps one of them, with a message naming the file, ref or digest; test with
// errors.Is. Where the layout stands in for oras-go's content interfaces (content.Storage,
// content.TagResolver), the sentinel is errdef's own value, so that oras.Copy and its callers
// recognize it.
var (
	// ErrNotFound is returned when a blob, a ref or an index.json entry is absent.
	ErrNotFound = errdef.ErrNotFound

	// ErrAlreadyExists is returned by Push when the blob is already in the layout.
	ErrAlreadyExists = errdef.ErrAlreadyExists

	// ErrInvalidDigest is returned for a digest that does not parse, names an algorithm this
	// package cannot compute, or has a malformed encoded part.
	ErrInvalidDigest = errdef.ErrInvalidDigest

	// ErrInvalidReference is returned for a ref that is empty, looks like a digest, or breaks
	// the image-layout grammar of org.opencontainers.image.ref.name.
	ErrInvalidReference = errdef.ErrInvalidReference

	// ErrInvalidMediaType is returned for a descriptor whose media type is empty or not of the
	// RFC 6838 form type/subtype.
	ErrInvalidMediaType = errdef.ErrInvalidMediaType

	// ErrSizeMismatch is returned when content is longer or shorter than its descriptor says.
	// ErrShortRead and ErrTrailingData wrap it.
	ErrSizeMismatch = errors.New("size mismatch")

	// ErrShortRead is returned when content ends before the size of its descriptor. It wraps
	// ErrSizeMismatch.
	ErrShortRead = fmt.Errorf("short read: %w", ErrSizeMismatch)

	// ErrTrailingData is returned when content goes on past the size of its descriptor. It
	// wraps ErrSizeMismatch.
	ErrTrailingData = fmt.Errorf("trailing data: %w", ErrSizeMismatch)

	// ErrDigestMismatch is returned when content of the right size hashes to another digest.
	ErrDigestMismatch = errors.New("digest mismatch")

	// ErrNotRegular is returned when a blob path is a symlink, a directory or another
	// non-regular file, or was replaced while being opened.
	ErrNotRegular = errors.New("not a regular file")

	// ErrNotLayout is returned when a directory is not an OCI image layout that this package
	// reads: no oci-layout file, an imageLayoutVersion other than 1.0.0, or no blobs directory.
	ErrNotLayout = errors.New("not an OCI image layout")

	// ErrBadIndex is returned when index.json does not parse or does not have the shape of an
	// image index.
	ErrBadIndex = errors.New("invalid index.json")

	// ErrBadManifest is returned when a manifest or an index blob does not parse as its media
	// type says.
	ErrBadManifest = errors.New("invalid manifest")

	// ErrTooLarge is returned when a JSON document is over its size cap. It wraps oras-go's
	// errdef.ErrSizeExceedsLimit.
	ErrTooLarge = fmt.Errorf("too large: %w", errdef.ErrSizeExceedsLimit)

	// ErrRefExists is returned by AddEntries when a ref is already in index.json for another
	// digest and AddOptions.Force is not set.
	ErrRefExists = errors.New("ref exists")

	// ErrGraphIncomplete is returned by Tag when a blob of the graph to tag is absent or
	// damaged, so that no ref ever points at an incomplete graph.
	ErrGraphIncomplete = errors.New("graph incomplete")
)

// Sentinels of graph walks over crafted input (WalkOptions).
var (
	// ErrTooDeep is returned when a manifest or an index is nested deeper than
	// WalkOptions.MaxNesting.
	ErrTooDeep = errors.New("graph too deep")

	// ErrTooManyDescriptors is returned when a graph walk visits more descriptors than
	// WalkOptions.MaxDescriptors.
	ErrTooManyDescriptors = errors.New("too many descriptors")
)
