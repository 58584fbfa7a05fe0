package btf

import "errors"

// Sentinel errors. Every error returned by this package that is caused by bad input wraps one
// of them, with the file, archive entry, ELF section or type that was wrong in the message.
var (
	// ErrBadBTF is returned when raw BTF (a kernel's, or an object's .BTF section) cannot be
	// parsed: bad magic, version or header, truncated type or string sections, a type that
	// refers to a type ID that does not exist.
	ErrBadBTF = errors.New("invalid BTF")

	// ErrBadBTFExt is returned when an object's .BTF.ext section cannot be parsed, or when one
	// of its CO-RE records refers to a type or string that does not exist.
	ErrBadBTFExt = errors.New("invalid BTF.ext")

	// ErrBadObject is returned for an eBPF object that is not a little-endian ELF file or that
	// lacks a .BTF or .BTF.ext section (bpftool refuses those too).
	ErrBadObject = errors.New("invalid eBPF object")

	// ErrRelocation is returned when a CO-RE relocation cannot be resolved against a kernel the
	// way libbpf would refuse it: an unparsable access string, an anonymous local type, an
	// ambiguous choice between candidates, a bitfield that no load can reach, or a kind that
	// bpftool's marking does not support. bpftool gen min_core_btf fails for that kernel too.
	ErrRelocation = errors.New("CO-RE relocation")

	// ErrUnsupported is returned when the minimal BTF would contain a type that the cilium/ebpf
	// encoder cannot write bit for bit as libbpf does (a legacy int bitfield, an enum whose
	// size does not match its kind).
	ErrUnsupported = errors.New("unsupported BTF")

	// ErrBadArchive is returned for an archive entry that cannot be read: a broken tarball, an
	// xz stream that does not decompress, a tarball holding no kernel BTF.
	ErrBadArchive = errors.New("invalid archive entry")

	// ErrNoKernel is returned by Generate and GeneratePerObject when the archive holds no
	// kernel at all, or when Filters select none of its kernels. (An archive whose kernels are
	// all of another arch than Options.Arch is not an error: the outputs are empty archives and
	// Result.Selected is 0.)
	ErrNoKernel = errors.New("no kernel selected")

	// ErrBadOptions is returned by Generate and GeneratePerObject for options out of range
	// (unknown arch or compression, a malformed filter glob, no objects).
	ErrBadOptions = errors.New("invalid options")
)
