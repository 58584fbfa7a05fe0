package sign

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/layout"
)

// Options tunes Sign. The zero value signs in the legacy format.
type Options struct {
	// Format is FormatLegacy (the default, what ig's official gadgets use) or FormatBundle.
	Format Format
}

// Sign signs the image desc of repository repo (the docker-reference of the payload, e.g.
// "ghcr.io/inspektor-gadget/gadget/trace_exec") in the layout s with signer, offline, and
// returns the descriptor of the signature manifest. Legacy: a manifest with one simple-signing
// layer, tagged `sha256-<hex>.sig` (bare, as ig and cosign name it in a layout), replacing an
// earlier signature of that tag (ig refuses a `.sig` manifest with two layers). Bundle: a
// sigstore bundle v0.3 referrer of desc, listed in index.json without a name (as ig's store
// lists referrers, so that ig finds it), replacing in the same write the bundles of the same
// key that index.json lists for desc. Blobs are written first, index.json last, through the
// layout's lock protocol.
func Sign(ctx context.Context, s *layout.Store, desc ocispec.Descriptor, repo string, signer *Signer, opts Options) (ocispec.Descriptor, error) {
	switch opts.Format {
	case "", FormatLegacy:
		return signLegacy(ctx, s, desc, repo, signer)
	case FormatBundle:
		return signBundle(ctx, s, desc, signer)
	}
	return ocispec.Descriptor{}, fmt.Errorf("signature format %q: want legacy or bundle: %w", opts.Format, ErrBadSignature)
}

// writeJSON stores v as a blob of media type mt.
func writeJSON(ctx context.Context, s *layout.Store, mt string, v any) (ocispec.Descriptor, error) {
	data, ok := v.([]byte)
	if !ok {
		var err error
		if data, err = json.Marshal(v); err != nil {
			return ocispec.Descriptor{}, err
		}
	}
	d, err := s.WriteBlob(ctx, bytes.NewReader(data))
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	d.MediaType = mt
	return d, nil
}

// cosignConfig is the config cosign writes for a legacy signature manifest.
func cosignConfig(payload digest.Digest) []byte {
	return []byte(`{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["` +
		payload.String() + `"]},"config":{}}`)
}

func signLegacy(ctx context.Context, s *layout.Store, desc ocispec.Descriptor, repo string, signer *Signer) (ocispec.Descriptor, error) {
	payload, err := simpleSigningPayload(repo, desc.Digest)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	sig, err := signer.Sign(payload)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("signing %s: %w", desc.Digest, err)
	}
	layer, err := writeJSON(ctx, s, MediaTypeSimpleSigning, payload)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	layer.Annotations = map[string]string{AnnotationSignature: base64.StdEncoding.EncodeToString(sig)}
	config, err := writeJSON(ctx, s, ocispec.MediaTypeImageConfig, cosignConfig(layer.Digest))
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: config, Layers: []ocispec.Descriptor{layer}}
	m.SchemaVersion = 2
	md, err := writeJSON(ctx, s, ocispec.MediaTypeImageManifest, m)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	entry := md
	entry.Annotations = map[string]string{ocispec.AnnotationRefName: tagOf(desc.Digest, ".sig")}
	if _, err := s.AddEntries(ctx, []ocispec.Descriptor{entry}, layout.AddOptions{Force: true}); err != nil {
		return ocispec.Descriptor{}, err
	}
	return md, nil
}

// inTotoStatement is the statement cosign's bundle signs: the image as subject, cosign's
// sign predicate.
func inTotoStatement(desc ocispec.Descriptor) ([]byte, error) {
	st := map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": "", "digest": map[string]string{desc.Digest.Algorithm().String(): desc.Digest.Encoded()}}},
		"predicateType": predicateTypeCosignSign,
		"predicate":     map[string]any{},
	}
	return json.Marshal(st)
}

func signBundle(ctx context.Context, s *layout.Store, desc ocispec.Descriptor, signer *Signer) (ocispec.Descriptor, error) {
	payload, err := inTotoStatement(desc)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	sig, err := signer.Sign(pae(payloadTypeInToto, payload))
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("signing %s: %w", desc.Digest, err)
	}
	hint, err := keyHint(signer.Public)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	b := map[string]any{
		"mediaType": MediaTypeBundle,
		"verificationMaterial": map[string]any{
			"publicKey": map[string]string{"hint": hint},
		},
		"dsseEnvelope": map[string]any{
			"payload":     payload,
			"payloadType": payloadTypeInToto,
			"signatures":  []any{map[string]any{"sig": sig}},
		},
	}
	layer, err := writeJSON(ctx, s, MediaTypeBundle, b)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	empty, err := writeJSON(ctx, s, ocispec.MediaTypeEmptyJSON, []byte("{}"))
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	empty.ArtifactType = MediaTypeBundle
	subject := ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}
	m := ocispec.Manifest{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: MediaTypeBundle,
		Config:       empty,
		Layers:       []ocispec.Descriptor{layer},
		Subject:      &subject,
		Annotations: map[string]string{
			"dev.sigstore.bundle.content":       "dsse-envelope",
			"dev.sigstore.bundle.predicateType": predicateTypeCosignSign,
		},
	}
	m.SchemaVersion = 2
	md, err := writeJSON(ctx, s, ocispec.MediaTypeImageManifest, m)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	md.ArtifactType = MediaTypeBundle
	old, err := earlierBundles(ctx, s, desc.Digest, hint)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if _, err := s.AddEntries(ctx, []ocispec.Descriptor{md}, layout.AddOptions{Drop: old}); err != nil {
		return ocispec.Descriptor{}, err
	}
	return md, nil
}

// earlierBundles returns the bundle signatures of the image dg by the key of hint that
// index.json lists: a new one replaces them in the same write (their blobs stay until gc).
func earlierBundles(ctx context.Context, s *layout.Store, dg digest.Digest, hint string) ([]digest.Digest, error) {
	g, err := LayoutGraph(ctx, s)
	if err != nil {
		return nil, err
	}
	var out []digest.Digest
	for _, r := range g.Referrers(dg) {
		data, err := s.ReadAll(ctx, r, maxSignatureJSON)
		if err != nil {
			continue
		}
		var m ocispec.Manifest
		if decodeStrict(data, &m) != nil {
			continue
		}
		if f, _ := formatOf(&m, false); f != FormatBundle {
			continue
		}
		for _, l := range m.Layers {
			if l.MediaType != MediaTypeBundle {
				continue
			}
			data, err := s.ReadAll(ctx, l, maxSignatureJSON)
			if err != nil {
				continue
			}
			var b struct {
				VerificationMaterial struct {
					PublicKey struct {
						Hint string `json:"hint"`
					} `json:"publicKey"`
				} `json:"verificationMaterial"`
			}
			if json.Unmarshal(data, &b) == nil && b.VerificationMaterial.PublicKey.Hint == hint {
				out = append(out, r.Digest)
			}
		}
	}
	return out, nil
}

// keyHint is the bundle's public key hint as cosign writes it: base64 of the SHA-256 of the
// key's PKIX DER.
func keyHint(k PublicKey) (string, error) {
	raw, err := hexDecode(k.ID)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}
