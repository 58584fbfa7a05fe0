package sign

import "errors"

// Sentinel errors. Every error of this package wraps one of them, with a message naming the
// key file, ref, digest or signature manifest; test with errors.Is.
var (
	// ErrBadKey is returned for a key file that is not a PEM key of a supported kind.
	ErrBadKey = errors.New("not a usable key")

	// ErrBadPassword is returned when an encrypted private key does not open with the password.
	ErrBadPassword = errors.New("wrong password for the private key")

	// ErrUnsupportedKey is returned for a key of an algorithm or curve that cosign keys do not use.
	ErrUnsupportedKey = errors.New("unsupported key type")

	// ErrBadSignature is returned when a signature does not verify, or its manifest or payload
	// is malformed, or the payload names another digest.
	ErrBadSignature = errors.New("invalid signature")

	// ErrUnsigned is returned when an image has no signature that verifies with the given keys.
	ErrUnsigned = errors.New("not signed by the given keys")
)
