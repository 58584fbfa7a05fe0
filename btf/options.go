package btf

import (
	"fmt"
	"path"
	"runtime"
)

// Options configures Generate and GeneratePerObject. The zero value walks the whole archive
// in the current directory with one worker per CPU and writes gzip.
type Options struct {
	// Archive is the root of a btfhub-archive tree (a symbolic link to one is followed).
	// Default ".".
	Archive string
	// Arch selects the arch folders: "x86_64", "arm64" (also spelled "aarch64", "amd64" is
	// x86_64) or "all". Default "all".
	Arch string
	// Jobs is the number of kernels processed at once; memory is bounded by Jobs times one
	// kernel. If <= 0, runtime.NumCPU() is used.
	Jobs int
	// Compress is the output compression: "gzip" (default, what ig reads) or "zstd".
	Compress string
	// Filters select kernels by glob (path.Match syntax), whole or by leading elements
	// ("ubuntu/20.04/*"), over their path in the archive and over the coordinates of their tar
	// entries (ID/VERSION_ID/arm64/<release>.btf where the folder on disk is aarch64). None
	// selects all; filters that select no kernel are an error wrapping ErrNoKernel.
	Filters []string
	// KeepGoing skips the kernel x output pairs that fail (a kernel that cannot be read costs
	// all its pairs, a relocation only its output's), writes every other pair, records the
	// skipped ones in the Result and returns an error joining their KernelErrors at the end.
	// Without it the first failure stops the run and nothing is complete.
	KeepGoing bool
	// Progress, if set, is called after each kernel with the number of kernels done (written
	// or skipped), the total, and the number of kernel x output pairs skipped so far. It is
	// called from one goroutine at a time.
	Progress func(done, total, skipped int)

	// forceGoXZ lets tests and benchmarks force the pure-Go xz reader even where the xz
	// program is found.
	forceGoXZ bool
}

func normalizeOptions(opts Options) (Options, error) {
	if opts.Archive == "" {
		opts.Archive = "."
	}
	switch opts.Arch {
	case "", "all":
		opts.Arch = "all"
	case "x86_64", "amd64":
		opts.Arch = "x86_64"
	case "arm64", "aarch64":
		opts.Arch = "arm64"
	default:
		return opts, fmt.Errorf("arch %q (want x86_64, arm64 or all): %w", opts.Arch, ErrBadOptions)
	}
	switch opts.Compress {
	case "":
		opts.Compress = "gzip"
	case "gzip", "zstd":
	default:
		return opts, fmt.Errorf("compression %q (want gzip or zstd): %w", opts.Compress, ErrBadOptions)
	}
	for _, f := range opts.Filters {
		if _, err := path.Match(f, ""); err != nil {
			return opts, fmt.Errorf("filter %q: %v: %w", f, err, ErrBadOptions)
		}
	}
	if opts.Jobs <= 0 {
		opts.Jobs = runtime.NumCPU()
	}
	return opts, nil
}

// archFolders returns the entry folder names one kernel is written under: x86_64, or arm64
// followed by aarch64 (see doc.go).
func archFolders(arch string) []string {
	if arch == "arm64" {
		return []string{"arm64", "aarch64"}
	}
	return []string{arch}
}
