package build

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/layout"
	"github.com/gadgetpack/gadgetpack/spec"
)

// maxMetadataBytes caps how much of gadget.yaml is read; spec.ParseMetadata has its own cap.
const maxMetadataBytes = 4 << 20

// Result describes what Build wrote.
type Result struct {
	// Ref is the reference the index was tagged with.
	Ref string
	// Index is the descriptor of the image index.
	Index ocispec.Descriptor
	// Manifests are the index's entries, amd64 first.
	Manifests []ocispec.Descriptor
	// Warnings are things the user should know that did not stop the build.
	Warnings []string
}

// input is one file as it was checked: what a later write must find again.
type input struct {
	path      string
	mediaType string
	digest    digest.Digest
	size      int64
}

type checkedTarget struct {
	arch   string
	ebpf   input
	btfgen *input
}

// plan is a build whose every input has passed its checks.
type plan struct {
	ref      string
	metadata *spec.Metadata
	config   []byte // the metadata bytes as read; nil for none
	wasm     *input
	targets  []checkedTarget
	annots   map[string]string
}

// Build checks every input named by opts, then writes the gadget into the layout at
// layoutPath (created if absent) and tags its index with opts.Ref.
//
// Nothing is written before every check has passed: bad input leaves the layout, and whether
// it exists, as it was. A failure while writing leaves at most unreferenced blobs (gc removes
// them) and every ref as it was. Errors name the file and what was wrong.
//
// With opts.BTFHubArchive set, the btfgen archives are made once the inputs have passed (into
// temp files outside the layout, removed afterwards) and then checked like given ones.
func Build(ctx context.Context, layoutPath string, opts Options) (*Result, error) {
	p, err := check(ctx, opts)
	if err != nil {
		return nil, err
	}
	var warnings []string
	if opts.BTFHubArchive != "" {
		cleanup, warns, err := p.generateBTFGen(ctx, opts.BTFHubArchive, opts.BTFGenJobs)
		defer cleanup()
		if err != nil {
			return nil, err
		}
		warnings = warns
	}
	store, err := layout.Init(layoutPath)
	if err != nil {
		return nil, err
	}
	res, err := p.write(ctx, store)
	if err != nil {
		return nil, err
	}
	res.Warnings = warnings
	return res, nil
}

// check runs every check of every input, in the order a user reads the command line.
func check(ctx context.Context, opts Options) (*plan, error) {
	if opts.Ref == "" {
		return nil, fmt.Errorf("no reference to tag")
	}
	targets, err := normalizeTargets(opts.Targets)
	if err != nil {
		return nil, err
	}
	p := &plan{ref: opts.Ref}
	if opts.Metadata != "" {
		if p.config, p.metadata, err = readMetadata(opts.Metadata); err != nil {
			return nil, err
		}
	}
	for _, t := range targets {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ct := checkedTarget{arch: t.Arch}
		var info *spec.ELFInfo
		ct.ebpf, info, err = checkELF(t.EBPF)
		if err != nil {
			return nil, err
		}
		if p.metadata != nil {
			if err := spec.CheckParams(p.metadata, info); err != nil {
				return nil, fmt.Errorf("%s against %s: %w", opts.Metadata, t.EBPF, err)
			}
		}
		if t.BTFGen != "" {
			in, err := checkBTFGen(ctx, t.BTFGen, t.Arch)
			if err != nil {
				return nil, err
			}
			ct.btfgen = &in
		}
		p.targets = append(p.targets, ct)
	}
	if opts.Wasm != "" {
		in, err := checkStream(opts.Wasm, spec.MediaTypeWasm, func(r io.Reader, size int64) error {
			return spec.CheckWasm(ctx, r, size)
		})
		if err != nil {
			return nil, err
		}
		p.wasm = &in
	}
	// Without metadata only created and the user's annotations are set, as ig does.
	p.annots = spec.Annotations(p.metadata, opts.Created, opts.Annotations)
	return p, nil
}

// openRegular opens path and checks that it is a non-empty regular file.
func openRegular(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: %w", path, ErrNotRegular)
	}
	if st.Size() == 0 {
		f.Close()
		return nil, 0, fmt.Errorf("%s: %w", path, ErrEmpty)
	}
	return f, st.Size(), nil
}

func readMetadata(path string) ([]byte, *spec.Metadata, error) {
	f, _, err := openRegular(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMetadataBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxMetadataBytes {
		return nil, nil, fmt.Errorf("%s: over %d bytes: %w", path, maxMetadataBytes, spec.ErrTooLarge)
	}
	m, err := spec.ParseMetadata(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, m, nil
}

// checkELF hashes the object and checks it with spec.CheckELF.
func checkELF(path string) (input, *spec.ELFInfo, error) {
	f, size, err := openRegular(path)
	if err != nil {
		return input{}, nil, err
	}
	defer f.Close()
	d := digest.Canonical.Digester()
	if _, err := io.Copy(d.Hash(), io.NewSectionReader(f, 0, size)); err != nil {
		return input{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	info, err := spec.CheckELF(f, size)
	if err != nil {
		return input{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	return input{path: path, mediaType: spec.MediaTypeEBPF, digest: d.Digest(), size: size}, info, nil
}

// checkStream runs a streaming check over path while hashing every byte of it once.
func checkStream(path, mediaType string, fn func(io.Reader, int64) error) (input, error) {
	f, size, err := openRegular(path)
	if err != nil {
		return input{}, err
	}
	defer f.Close()
	d := digest.Canonical.Digester()
	tee := io.TeeReader(f, d.Hash())
	if err := fn(tee, size); err != nil {
		return input{}, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return input{}, fmt.Errorf("%s: %w", path, err)
	}
	return input{path: path, mediaType: mediaType, digest: d.Digest(), size: size}, nil
}

// checkBTFGen hashes a btfgen archive and checks it with spec.CheckBTFGen for arch.
func checkBTFGen(ctx context.Context, path, arch string) (input, error) {
	return checkStream(path, spec.MediaTypeBTFGen, func(r io.Reader, _ int64) error {
		_, err := spec.CheckBTFGen(ctx, r, arch)
		return err
	})
}

// writeFile streams a checked input into the store and confirms it is what was checked.
func writeFile(ctx context.Context, store *layout.Store, in input) (ocispec.Descriptor, error) {
	f, err := os.Open(in.path)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer f.Close()
	desc, err := store.WriteBlob(ctx, f)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", in.path, err)
	}
	if desc.Digest != in.digest || desc.Size != in.size {
		return ocispec.Descriptor{}, fmt.Errorf("%s: checked %s (%d bytes), wrote %s (%d bytes): %w",
			in.path, in.digest, in.size, desc.Digest, desc.Size, ErrChanged)
	}
	desc.MediaType = in.mediaType
	return desc, nil
}

func writeBytes(ctx context.Context, store *layout.Store, mediaType string, data []byte) (ocispec.Descriptor, error) {
	desc, err := store.WriteBlob(ctx, bytes.NewReader(data))
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", mediaType, err)
	}
	desc.MediaType = mediaType
	return desc, nil
}

// write puts the checked plan into the store: blobs first, then manifests, the index, and
// last the ref, so that a failure at any point leaves every ref as it was.
func (p *plan) write(ctx context.Context, store *layout.Store) (*Result, error) {
	var config ocispec.Descriptor
	var err error
	if p.config != nil {
		config, err = writeBytes(ctx, store, spec.MediaTypeConfig, p.config)
	} else {
		config = spec.EmptyConfig()
		_, err = writeBytes(ctx, store, config.MediaType, config.Data)
	}
	if err != nil {
		return nil, err
	}
	config.Annotations = p.annots

	var wasm *ocispec.Descriptor
	if p.wasm != nil {
		d, err := writeFile(ctx, store, *p.wasm)
		if err != nil {
			return nil, err
		}
		wasm = &d
	}

	res := &Result{Ref: p.ref}
	for _, t := range p.targets {
		layers := make([]ocispec.Descriptor, 0, 3)
		ebpf, err := writeFile(ctx, store, t.ebpf)
		if err != nil {
			return nil, err
		}
		layers = append(layers, ebpf)
		if wasm != nil {
			layers = append(layers, *wasm)
		}
		if t.btfgen != nil {
			d, err := writeFile(ctx, store, *t.btfgen)
			if err != nil {
				return nil, err
			}
			layers = append(layers, d)
		}
		manifest, err := spec.Manifest(config, layers, p.annots)
		if err != nil {
			return nil, err
		}
		desc, err := writeBytes(ctx, store, ocispec.MediaTypeImageManifest, manifest)
		if err != nil {
			return nil, err
		}
		desc.ArtifactType = spec.MediaTypeArtifact
		desc.Platform = &ocispec.Platform{Architecture: t.arch, OS: "linux"}
		desc.Annotations = p.annots
		res.Manifests = append(res.Manifests, desc)
	}
	index, err := spec.Index(res.Manifests, p.annots)
	if err != nil {
		return nil, err
	}
	if res.Index, err = writeBytes(ctx, store, ocispec.MediaTypeImageIndex, index); err != nil {
		return nil, err
	}
	if err := store.Tag(ctx, res.Index, p.ref); err != nil {
		return nil, err
	}
	return res, nil
}
