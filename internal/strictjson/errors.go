package strictjson

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. Check returns an *Error that wraps exactly one of them; test with errors.Is.
var (
	// ErrSyntax is returned for bytes that are not one JSON document: a grammar error, a
	// control character in a string, an unknown escape, or data after the document.
	ErrSyntax = errors.New("invalid JSON")

	// ErrTooDeep is returned for a document nested deeper than MaxDepth arrays and objects.
	ErrTooDeep = errors.New("nested too deep")

	// ErrAmbiguous is what the errors below wrap: the document parses, but another parser
	// may read another document from it.
	ErrAmbiguous = errors.New("ambiguous JSON")

	// ErrDuplicateKey is returned for an object that has a key twice (keys compared after
	// unescaping, case-sensitively). It wraps ErrAmbiguous.
	ErrDuplicateKey = fmt.Errorf("duplicate key: %w", ErrAmbiguous)

	// ErrCaseVariant is returned for a key that encoding/json would match to a known OCI field
	// of its object but that is spelled otherwise ("Manifests", "DIGEST", "ſize"). It wraps
	// ErrAmbiguous.
	ErrCaseVariant = fmt.Errorf("key differs only in case from a field: %w", ErrAmbiguous)

	// ErrNull is returned for a null where the OCI document wants a value: a known field of a
	// manifest, an index, a descriptor, a platform or oci-layout, an annotation value, an
	// element of manifests, layers or a string list. It wraps ErrAmbiguous.
	ErrNull = fmt.Errorf("null value: %w", ErrAmbiguous)

	// ErrBOM is returned for a document that starts with a UTF-8 byte order mark. It wraps
	// ErrAmbiguous.
	ErrBOM = fmt.Errorf("byte order mark: %w", ErrAmbiguous)

	// ErrNumberRange is returned for a number beyond float64's range (1e400): encoding/json
	// refuses it, other parsers read infinity or a big number. It wraps ErrAmbiguous.
	ErrNumberRange = fmt.Errorf("number out of range: %w", ErrAmbiguous)

	// ErrInvalidUTF8 is returned for a string with bytes that are not UTF-8 or with a \u
	// escape of a lone surrogate (encoding/json reads both as U+FFFD). It wraps ErrAmbiguous.
	ErrInvalidUTF8 = fmt.Errorf("invalid UTF-8: %w", ErrAmbiguous)
)

// Error is the error Check returns: what is wrong, where, and the sentinel it wraps.
type Error struct {
	// Msg says what is wrong: `duplicate key "manifests"`, `null "layers"`.
	Msg string
	// Path is the JSONPath of the object or array where it is: "$", "$.manifests[2]".
	Path string
	// Offset is the byte offset in the document.
	Offset int
	// Err is the sentinel.
	Err error
}

// Error renders e as `duplicate key "manifests" at $ (byte 57)`.
func (e *Error) Error() string {
	return e.Msg + " at " + e.Path + " (byte " + strconv.Itoa(e.Offset) + ")"
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }
