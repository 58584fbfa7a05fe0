package build

import "errors"

var (
	// ErrNoProgram is returned when a build names no eBPF object for any architecture.
	ErrNoProgram = errors.New("no eBPF program")
	// ErrDuplicateArch is returned when two inputs claim the same architecture slot.
	ErrDuplicateArch = errors.New("architecture given twice")
	// ErrNotRegular is returned when an input path is not a regular file.
	ErrNotRegular = errors.New("not a regular file")
	// ErrEmpty is returned for an input file of zero bytes.
	ErrEmpty = errors.New("empty file")
	// ErrChanged is returned when an input file changed between its check and its write.
	ErrChanged = errors.New("file changed while building")
	// ErrOrphanBTFGen is returned when a btfgen archive is given for an architecture without an
	// eBPF object.
	ErrOrphanBTFGen = errors.New("btfgen archive without an eBPF object for its architecture")
)
