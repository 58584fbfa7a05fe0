package tarball

import "errors"

// Sentinel errors of export. Every error of export wraps one of them or one of package
// layout's (ErrNotFound, ErrDigestMismatch, ErrGraphIncomplete...), with a message naming the
// ref, digest, file or option; test with errors.Is.
var (
	// ErrBadOptions is returned for an invalid option: an unknown compression, a split size
	// that does not parse or is below MinSplitSize, an output that needs more than MaxParts
	// parts.
	ErrBadOptions = errors.New("invalid options")
)
