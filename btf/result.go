package btf

// Result summarises a run. Under KeepGoing, a Result returned with an error means that every
// output is complete: it holds every pair that worked, and only the pairs in Skipped are
// missing.
type Result struct {
	// Selected is the number of kernels the archive, Arch and Filters selected.
	Selected int
	// Kernels is the number of kernels read and parsed (minimised for at least one output,
	// or refused by a relocation).
	Kernels int
	// Pairs is the number of kernel x output pairs written.
	Pairs int
	// Skipped lists the kernel x output pairs skipped under KeepGoing, in archive order, then
	// output order.
	Skipped []Skip
	// Outputs has one entry per output, in the order of the writers.
	Outputs []OutputResult
}

// OutputResult is what was written to one output.
type OutputResult struct {
	// Kernels is the number of kernels written (arm64 ones under two entries, see doc.go).
	Kernels int
	// Entries is the number of tar entries written.
	Entries int
	// Bytes is the number of compressed bytes written.
	Bytes int64
}

// Skip is one kernel x output pair that was skipped under KeepGoing.
type Skip struct {
	// Kernel is the kernel's slash path in the archive.
	Kernel string
	// Output is the index of the output (the object set) that lacks the kernel.
	Output int
	// Object is the object whose CO-RE relocation failed, empty when the kernel itself could
	// not be read or the minimal BTF of the set could not be encoded.
	Object string
	// Err is the reason, a *KernelError.
	Err error
}

// KernelError is the error of one kernel of the archive, for one output or all of them.
type KernelError struct {
	// Path is the kernel's slash path in the archive.
	Path string
	// Object is the object whose relocation failed on this kernel; empty when the kernel
	// itself could not be read.
	Object string
	// Err is the cause.
	Err error
}

func (e *KernelError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *KernelError) Unwrap() error { return e.Err }

// objectError is the error of one object's relocation: minimize returns it so that run can
// name the object in a KernelError.
type objectError struct {
	name string
	err  error
}

func (e *objectError) Error() string { return "object " + e.name + ": " + e.err.Error() }

func (e *objectError) Unwrap() error { return e.err }
