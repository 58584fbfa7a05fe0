package spec

import "errors"

// Sentinel errors. Every error a function of this package returns wraps one of them (some wrap
// two, such as ErrBadWasm and ErrTooLarge), so callers can test with errors.Is; the message
// itself names the element (ELF section, tar entry, descriptor, parameter) and what was wrong.
var (
	// ErrUnknownArch is returned for an architecture other than amd64 (x86_64) or arm64
	// (aarch64).
	ErrUnknownArch = errors.New("unknown architecture")

	// ErrNotELF is returned by CheckELF for input that is not an ELF file: no ELF magic, or a
	// header cut short.
	ErrNotELF = errors.New("not an ELF file")

	// ErrNotBPF is returned by CheckELF for an ELF file that is not a BPF object of the kind
	// a gadget needs: 32-bit, big-endian, or for a machine other than EM_BPF.
	ErrNotBPF = errors.New("not a 64-bit little-endian BPF object")

	// ErrBadELF is returned by CheckELF for a BPF ELF file that cilium/ebpf cannot load as a
	// collection spec (truncated or corrupt sections, bad relocations, bad BTF...).
	ErrBadELF = errors.New("invalid eBPF object")

	// ErrNoBTF is returned by CheckELF for a BPF object without a .BTF section.
	ErrNoBTF = errors.New("no BTF in eBPF object")

	// ErrBadWasm is returned by CheckWasm for a module that does not compile or lacks the
	// gadgetAPIVersion export ig calls.
	ErrBadWasm = errors.New("invalid wasm module")

	// ErrBadBTFGen is returned by CheckBTFGen for a btfgen layer that is not a gzip-compressed
	// tarball of BTF files named <ID>/<VERSION_ID>/<arch>/<release>.btf.
	ErrBadBTFGen = errors.New("invalid btfgen tarball")

	// ErrBadMetadata is returned by ParseMetadata for metadata that is not a YAML mapping of
	// the gadget metadata fields.
	ErrBadMetadata = errors.New("invalid gadget metadata")

	// ErrBadParam is returned by CheckParams when a params.ebpf (or ebpfParams) key does not
	// name a const volatile global variable of the eBPF object.
	ErrBadParam = errors.New("invalid eBPF parameter")

	// ErrBadRef is returned by ExpandRef and RefName for a string that is not a valid image
	// reference.
	ErrBadRef = errors.New("invalid reference")

	// ErrBadDescriptor is returned by Manifest and Index for descriptors that would make an
	// artifact outside the gadget format (bad digest, wrong media type, layers out of order,
	// missing or duplicate platform...).
	ErrBadDescriptor = errors.New("invalid descriptor")

	// ErrTooLarge is returned (besides the check's own sentinel) when an input is over the
	// size cap of its check: MaxMetadataSize, MaxELFSize, MaxWasmSize, MaxBTFGenEntrySize or
	// MaxBTFGenSize.
	ErrTooLarge = errors.New("too large")

	// ErrUnknownRuleSet is carried by the Violation a RuleSet other than RulesSeed and
	// RulesIG returns, and returned by ParseRuleSet.
	ErrUnknownRuleSet = errors.New("unknown rule set")
)
