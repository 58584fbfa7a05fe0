package spec

import (
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestLayerRank(t *testing.T) {
	for _, tc := range []struct {
		mediaType string
		want      int
	}{
		{MediaTypeEBPF, 0},
		{MediaTypeWasm, 1},
		{MediaTypeBTFGen, 2},
		{MediaTypeConfig, -1},
		{ocispec.MediaTypeImageLayerGzip, -1},
		{"", -1},
	} {
		t.Run(tc.mediaType, func(t *testing.T) {
			if got := layerRank(tc.mediaType); got != tc.want {
				t.Fatalf("layerRank(%q) = %d, want %d", tc.mediaType, got, tc.want)
			}
		})
	}
}

func TestIsGadgetManifest(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    ocispec.Manifest
		want bool
	}{
		{"artifactType", ocispec.Manifest{ArtifactType: MediaTypeArtifact, Config: ocispec.DescriptorEmptyJSON}, true},
		{"config media type (ig before artifactType)", ocispec.Manifest{Config: ocispec.Descriptor{MediaType: MediaTypeConfig}}, true},
		{"both", ocispec.Manifest{ArtifactType: MediaTypeArtifact, Config: ocispec.Descriptor{MediaType: MediaTypeConfig}}, true},
		{"cosign signature", ocispec.Manifest{Config: ocispec.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json"}}, false},
		{"notary signature", ocispec.Manifest{ArtifactType: "application/vnd.cncf.notary.signature", Config: ocispec.DescriptorEmptyJSON}, false},
		{"container image", ocispec.Manifest{Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsGadgetManifest(tc.m); got != tc.want {
				t.Fatalf("IsGadgetManifest = %v, want %v", got, tc.want)
			}
		})
	}
}
