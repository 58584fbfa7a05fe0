package spec

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// EmptyConfig returns the config descriptor of a gadget without metadata: the OCI empty
// descriptor (application/vnd.oci.empty.v1+json, "{}", with its data embedded), as ig writes
// it. The caller may set its annotations.
func EmptyConfig() ocispec.Descriptor {
	d := ocispec.DescriptorEmptyJSON
	d.Data = slices.Clone(d.Data)
	return d
}

// Manifest returns the JSON of one architecture's gadget manifest: schemaVersion 2, mediaType
// set (ig leaves it out), artifactType MediaTypeArtifact, config, layers (an empty list if there
// are none) and annotations (omitted when empty). The bytes depend only on the arguments:
// encoding/json writes struct fields in their order and map keys sorted.
//
// It returns ErrBadDescriptor when the result would not be a gadget manifest: config not of
// media type MediaTypeConfig or the OCI empty type (then it must be the empty descriptor), a
// layer media type other than the three gadget ones, layers not in the order eBPF, wasm, btfgen
// or one of them twice, an invalid digest, or a size below 1. It checks descriptors, not the
// blobs they point at.
func Manifest(config ocispec.Descriptor, layers []ocispec.Descriptor, annotations map[string]string) ([]byte, error) {
	switch config.MediaType {
	case MediaTypeConfig:
		if err := checkDescriptor("config", config); err != nil {
			return nil, err
		}
	case ocispec.MediaTypeEmptyJSON:
		if config.Digest != ocispec.DescriptorEmptyJSON.Digest || config.Size != ocispec.DescriptorEmptyJSON.Size {
			return nil, fmt.Errorf("config: %s %s, size %d: the empty descriptor is %s, size %d: %w",
				config.MediaType, config.Digest, config.Size, ocispec.DescriptorEmptyJSON.Digest, ocispec.DescriptorEmptyJSON.Size, ErrBadDescriptor)
		}
	default:
		return nil, fmt.Errorf("config: media type %q, want %s or %s: %w", config.MediaType, MediaTypeConfig, ocispec.MediaTypeEmptyJSON, ErrBadDescriptor)
	}
	last := -1
	for i, l := range layers {
		where := fmt.Sprintf("layers[%d]", i)
		rank := layerRank(l.MediaType)
		switch {
		case rank < 0:
			return nil, fmt.Errorf("%s: media type %q is not a gadget layer: %w", where, l.MediaType, ErrBadDescriptor)
		case rank == last:
			return nil, fmt.Errorf("%s: a second %s layer: %w", where, l.MediaType, ErrBadDescriptor)
		case rank < last:
			return nil, fmt.Errorf("%s: %s after %s, want the order eBPF, wasm, btfgen: %w", where, l.MediaType, layerMediaTypes[last], ErrBadDescriptor)
		}
		last = rank
		if err := checkDescriptor(where, l); err != nil {
			return nil, err
		}
	}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: MediaTypeArtifact,
		Config:       config,
		Layers:       layers,
		Annotations:  annotations,
	}
	if m.Layers == nil {
		m.Layers = []ocispec.Descriptor{}
	}
	return json.Marshal(m)
}

// Index returns the JSON of a gadget image index over per-architecture manifest descriptors:
// schemaVersion 2, mediaType set, the entries sorted amd64 first (the order of Arches), and
// annotations (omitted when empty). The bytes depend only on the arguments.
//
// It returns ErrBadDescriptor when there is no entry, an entry is not an OCI manifest, has an
// invalid digest or a size below 1, has an artifactType other than MediaTypeArtifact, has no
// platform, a platform other than linux/amd64 or linux/arm64 (OCI names: amd64, not x86_64),
// or repeats an architecture.
func Index(entries []ocispec.Descriptor, annotations map[string]string) ([]byte, error) {
	if len(entries) == 0 {
		return nil, fmt.Errorf("index: no manifest: %w", ErrBadDescriptor)
	}
	seen := map[string]bool{}
	for i, e := range entries {
		where := fmt.Sprintf("manifests[%d]", i)
		if e.MediaType != ocispec.MediaTypeImageManifest {
			return nil, fmt.Errorf("%s: media type %q, want %s: %w", where, e.MediaType, ocispec.MediaTypeImageManifest, ErrBadDescriptor)
		}
		if err := checkDescriptor(where, e); err != nil {
			return nil, err
		}
		if e.ArtifactType != "" && e.ArtifactType != MediaTypeArtifact {
			return nil, fmt.Errorf("%s: artifactType %q, want %s: %w", where, e.ArtifactType, MediaTypeArtifact, ErrBadDescriptor)
		}
		if e.Platform == nil {
			return nil, fmt.Errorf("%s: no platform: %w", where, ErrBadDescriptor)
		}
		arch := e.Platform.Architecture
		if !gadgetPlatform(e.Platform) {
			return nil, fmt.Errorf("%s: platform %s/%s, want linux/amd64 or linux/arm64: %w", where, e.Platform.OS, arch, ErrBadDescriptor)
		}
		if seen[arch] {
			return nil, fmt.Errorf("%s: a second %s manifest: %w", where, arch, ErrBadDescriptor)
		}
		seen[arch] = true
	}
	sorted := slices.Clone(entries)
	slices.SortStableFunc(sorted, func(a, b ocispec.Descriptor) int {
		return archRank(a.Platform.Architecture) - archRank(b.Platform.Architecture)
	})
	return json.Marshal(ocispec.Index{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   ocispec.MediaTypeImageIndex,
		Manifests:   sorted,
		Annotations: annotations,
	})
}

// checkDescriptor checks the digest and size of a descriptor Manifest or Index writes.
func checkDescriptor(where string, d ocispec.Descriptor) error {
	if err := d.Digest.Validate(); err != nil {
		return fmt.Errorf("%s: digest %q: %v: %w", where, d.Digest, err, ErrBadDescriptor)
	}
	if d.Size < 1 {
		return fmt.Errorf("%s: %s: size %d, want at least 1: %w", where, d.Digest, d.Size, ErrBadDescriptor)
	}
	return nil
}
