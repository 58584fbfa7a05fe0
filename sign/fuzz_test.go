package sign

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/internal/testfs"
)

// FuzzCheck feeds a crafted signature manifest and layer to the Checker, as a legacy tag and as
// a referrer: it must not panic, and must never call a signature OK that does not verify with
// the key (the fuzzer cannot forge one).
func FuzzCheck(f *testing.F) {
	store := testfs.SharedPath(f, "interop", "ig-store", "blobs", "sha256")
	for _, hex := range []string{
		"e0c60c886b1ce163e6495fbbbd715343ea2ec86b240c4284f726abea6556f038", // legacy manifest
		"3dd951802bf189790e9a5cff9b269fd295896dbd3938f5518ec8f2e93c05fb57", // bundle manifest
	} {
		m, err := os.ReadFile(filepath.Join(store, hex))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m, []byte(`{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"sha256:00"},"type":"cosign container image signature"},"optional":null}`))
	}
	bundle, err := os.ReadFile(filepath.Join(store, "47b7ebef46fb8de5bdd1d911867e916c421871b9ebc694c31cbe3e8a74ee7a33"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"layers":[{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","digest":"sha256:x","size":1}]}`), bundle)
	key := igKey(f, "ig-test.pub")
	f.Fuzz(func(t *testing.T, manifest, layer []byte) {
		image := digest.FromString("image")
		md := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(manifest), Size: int64(len(manifest))}
		blobs := map[digest.Digest][]byte{md.Digest: manifest, digest.FromBytes(layer): layer}
		g := Graph{
			Entries: []ocispec.Descriptor{{MediaType: md.MediaType, Digest: md.Digest, Size: md.Size,
				Annotations: map[string]string{ocispec.AnnotationRefName: tagOf(image, ".sig")}}},
			ReadJSON: func(_ context.Context, d ocispec.Descriptor, _ int64) ([]byte, error) {
				if b, ok := blobs[d.Digest]; ok {
					return b, nil
				}
				return nil, ErrBadSignature
			},
			Referrers: func(digest.Digest) []ocispec.Descriptor { return []ocispec.Descriptor{md} },
		}
		res, err := NewChecker(g, []PublicKey{key}).Check(context.Background(), image)
		if err != nil {
			t.Fatal(err)
		}
		if res.Signed {
			t.Fatalf("a crafted signature verified: %+v", res.Signatures)
		}
		_, _ = ParsePublicKey(layer)
		_, _ = ParsePrivateKey(layer, fixedPassword("x"))
	})
}
