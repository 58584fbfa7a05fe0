package registry

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/internal/registrytest"
	"github.com/gadgetpack/gadgetpack/layout"
)

// TestPushRefusesWhatVerifyFails: a layout whose image breaks a rule verify reports (a layer
// descriptor whose data field is not the layer, a manifest behind an index descriptor) is not
// pushed: Push refuses it before sending anything, as export and copy do.
func TestPushRefusesWhatVerifyFails(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{})
	for _, tc := range []struct {
		name  string
		entry func(s *layout.Store, im testImage) string // index.json's one entry, raw
		want  error
	}{
		{name: "layer data not the blob", want: layout.ErrDigestMismatch, entry: func(s *layout.Store, im testImage) string {
			m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":%s,"layers":[{"mediaType":%q,"digest":%q,"size":%d,"data":"e30="}]}`,
				ocispec.MediaTypeImageManifest, descJSON(im.blobs[2]), im.layers[0].MediaType, im.layers[0].Digest, im.layers[0].Size)
			md := writeBlob(t, s, ocispec.MediaTypeImageManifest, []byte(m))
			return fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d,"annotations":{"org.opencontainers.image.ref.name":"example.com/bad:v1"}}`, md.MediaType, md.Digest, md.Size)
		}},
		{name: "manifest behind an index descriptor", want: layout.ErrBadManifest, entry: func(s *layout.Store, im testImage) string {
			md := im.blobs[1]
			return fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d,"annotations":{"org.opencontainers.image.ref.name":"example.com/bad:v1"}}`, ocispec.MediaTypeImageIndex, md.Digest, md.Size)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newLayout(t)
			im := writeImage(t, s, "example.com/good:v1", "agree", 1000)
			raw := `{"schemaVersion":2,"manifests":[` + tc.entry(s, im) + `]}`
			if err := os.WriteFile(filepath.Join(s.Path(), layout.IndexFile), []byte(raw), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := Push(t.Context(), s, "example.com/bad:v1", r.Ref("bad:v1"), plain(r))
			if !errors.Is(err, tc.want) || !errors.Is(err, layout.ErrGraphIncomplete) || res != nil {
				t.Fatalf("push: %v, want %v", err, tc.want)
			}
			if _, err := Pull(t.Context(), filepath.Join(t.TempDir(), "pulled"), r.Ref("bad:v1"), "bad:v1", plain(r)); err == nil {
				t.Fatal("the registry has what push refused")
			}
		})
	}
}

// descJSON is desc as JSON.
func descJSON(desc ocispec.Descriptor) string {
	return fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d}`, desc.MediaType, desc.Digest, desc.Size)
}
