package spec

import ocispec "github.com/opencontainers/image-spec/specs-go/v1"

// Media types of a gadget artifact (SPEC.md, "Layout of one gadget image").
const (
	// MediaTypeArtifact is the artifactType of every gadget manifest.
	MediaTypeArtifact = "application/vnd.gadget.v1+binary"
	// MediaTypeConfig is the media type of the config blob: the gadget metadata YAML.
	MediaTypeConfig = "application/vnd.gadget.config.v1+yaml"
	// MediaTypeEBPF is the media type of the eBPF object layer.
	MediaTypeEBPF = "application/vnd.gadget.ebpf.program.v1+binary"
	// MediaTypeWasm is the media type of the wasm module layer.
	MediaTypeWasm = "application/vnd.gadget.wasm.program.v1+binary"
	// MediaTypeBTFGen is the media type of the btfgen layer (a gzip'd tarball of BTF files).
	MediaTypeBTFGen = "application/vnd.gadget.btfgen.v1+binary"
)

// layerMediaTypes lists the gadget layer media types in the order they appear in a manifest.
var layerMediaTypes = []string{MediaTypeEBPF, MediaTypeWasm, MediaTypeBTFGen}

// layerRank returns the position of a gadget layer media type in a manifest, or -1 for any
// other media type.
func layerRank(mediaType string) int {
	for i, mt := range layerMediaTypes {
		if mt == mediaType {
			return i
		}
	}
	return -1
}

// IsGadgetManifest reports whether m is a gadget manifest: its artifactType is
// MediaTypeArtifact, or its config has media type MediaTypeConfig (ig wrote no artifactType
// before mid-2024, see the trace_open export in interop/).
func IsGadgetManifest(m ocispec.Manifest) bool {
	return m.ArtifactType == MediaTypeArtifact || m.Config.MediaType == MediaTypeConfig
}
