package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/gadgetpack/gadgetpack/spec"
)

// Target is what one architecture of a gadget is built from.
type Target struct {
	// Arch is "amd64" or "arm64" ("x86_64" and "aarch64" are accepted).
	Arch string
	// EBPF is the path of the CO-RE eBPF object.
	EBPF string
	// BTFGen is the path of a gzip'd btfgen archive for this architecture; empty for none.
	BTFGen string
}

// Options says what to build. The zero value builds nothing (it has no Ref).
type Options struct {
	// Ref is the full reference the index is tagged with (see spec.ExpandRef).
	Ref string
	// Metadata is the path of gadget.yaml; empty for no metadata (the config is then the OCI
	// empty descriptor).
	Metadata string
	// Targets lists one entry per architecture; the index lists amd64 first whatever the order.
	Targets []Target
	// Wasm is the path of a wasm module added to every architecture's manifest; empty for none.
	Wasm string
	// Annotations are added to the index, its entries, the manifests and the config descriptors,
	// after (and over) those derived from the metadata.
	Annotations map[string]string
	// Created is stamped as org.opencontainers.image.created.
	Created time.Time
	// BTFHubArchive, when set, is a btfhub-archive tree: each target without a BTFGen gets one
	// made from its object over the archive's kernels of its architecture (package btf).
	BTFHubArchive string
	// BTFGenJobs is the number of kernels minimised at once for BTFHubArchive; if <= 0, one
	// per CPU.
	BTFGenJobs int
}

// Names of the files FromDir looks for in a gadget source folder.
const (
	MetadataFile = "gadget.yaml"
	WasmFile     = "program.wasm"
)

// ObjectFile returns the name of the eBPF object FromDir looks for, e.g. "amd64.bpf.o".
func ObjectFile(arch string) string { return arch + ".bpf.o" }

// BTFGenFile returns the name of the btfgen archive FromDir looks for, e.g. "btfs-amd64.tar.gz".
func BTFGenFile(arch string) string { return "btfs-" + arch + ".tar.gz" }

// FromDir fills opts' inputs from a gadget source folder: gadget.yaml, amd64.bpf.o,
// arm64.bpf.o, program.wasm, btfs-amd64.tar.gz and btfs-arm64.tar.gz, each optional. It only
// looks for the files; Build checks them.
func FromDir(dir string, opts Options) (Options, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return opts, fmt.Errorf("source folder: %w", err)
	}
	if !st.IsDir() {
		return opts, fmt.Errorf("source folder %s: not a directory", dir)
	}
	present := func(name string) (string, error) {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", nil
			}
			return "", err
		}
		return p, nil
	}
	if opts.Metadata, err = present(MetadataFile); err != nil {
		return opts, err
	}
	if opts.Wasm, err = present(WasmFile); err != nil {
		return opts, err
	}
	for _, arch := range []string{"amd64", "arm64"} {
		obj, err := present(ObjectFile(arch))
		if err != nil {
			return opts, err
		}
		btfgen, err := present(BTFGenFile(arch))
		if err != nil {
			return opts, err
		}
		if obj == "" && btfgen == "" {
			continue
		}
		opts.Targets = append(opts.Targets, Target{Arch: arch, EBPF: obj, BTFGen: btfgen})
	}
	if len(opts.Targets) == 0 {
		return opts, fmt.Errorf("source folder %s: no %s or %s: %w", dir, ObjectFile("amd64"), ObjectFile("arm64"), ErrNoProgram)
	}
	return opts, nil
}

// normalizeTargets checks the architecture names and returns the targets amd64 first.
func normalizeTargets(targets []Target) ([]Target, error) {
	if len(targets) == 0 {
		return nil, ErrNoProgram
	}
	byArch := map[string]Target{}
	for _, t := range targets {
		arch, err := spec.NormalizeArch(t.Arch)
		if err != nil {
			return nil, err
		}
		if _, dup := byArch[arch]; dup {
			return nil, fmt.Errorf("%s: %w", arch, ErrDuplicateArch)
		}
		if t.EBPF == "" {
			if t.BTFGen != "" {
				return nil, fmt.Errorf("%s: %s: %w", arch, t.BTFGen, ErrOrphanBTFGen)
			}
			return nil, fmt.Errorf("%s: %w", arch, ErrNoProgram)
		}
		t.Arch = arch
		byArch[arch] = t
	}
	var out []Target
	for _, arch := range []string{"amd64", "arm64"} {
		if t, ok := byArch[arch]; ok {
			out = append(out, t)
		}
	}
	return out, nil
}
