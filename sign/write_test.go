package sign

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/internal/testfs"
	"github.com/gadgetpack/gadgetpack/layout"
)

const unsignedRef = "ghcr.io/inspektor-gadget/gadget/unsigned:francis-signature-unit-tests"

// signedCopy copies ig's store into a temp dir and returns it with a fresh key pair.
func signedCopy(tb testing.TB) (*layout.Store, *Signer, PublicKey) {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "store")
	testfs.CopyTree(tb, testfs.SharedPath(tb, "interop", "ig-store"), dir)
	s, err := layout.Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	priv, _, err := GenerateKeyPair([]byte("pw"))
	if err != nil {
		tb.Fatal(err)
	}
	signer, err := ParsePrivateKey(priv, fixedPassword("pw"))
	if err != nil {
		tb.Fatal(err)
	}
	return s, signer, signer.Public
}

// check runs a Checker over the layout for ref with keys.
func check(tb testing.TB, s *layout.Store, ref string, keys ...PublicKey) *Result {
	tb.Helper()
	ctx := context.Background()
	desc, err := s.Resolve(ctx, ref)
	if err != nil {
		tb.Fatal(err)
	}
	g, err := LayoutGraph(ctx, s)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := NewChecker(g, keys).Check(ctx, desc.Digest)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// TestSignRoundTrip signs the unsigned gadget of ig's store in each format: it verifies with
// the signer's key (and the format is the one written), not with ig's test key, and the
// layout still verifies.
func TestSignRoundTrip(t *testing.T) {
	for _, f := range []Format{FormatLegacy, FormatBundle} {
		t.Run(string(f), func(t *testing.T) {
			ctx := context.Background()
			s, signer, pub := signedCopy(t)
			desc, err := s.Resolve(ctx, unsignedRef)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Sign(ctx, s, desc, "ghcr.io/inspektor-gadget/gadget/unsigned", signer, Options{Format: f}); err != nil {
				t.Fatal(err)
			}
			res := check(t, s, unsignedRef, pub)
			if !res.Signed || res.Best().Format != f {
				t.Fatalf("after Sign: %s, %+v", res.Summary(), res.Signatures)
			}
			if res := check(t, s, unsignedRef, igKey(t, "ig-test.pub")); res.Signed {
				t.Errorf("verifies with ig's key: %s", res.Summary())
			}
			// Signing again replaces the legacy signature (one tag, one layer).
			if _, err := Sign(ctx, s, desc, "ghcr.io/inspektor-gadget/gadget/unsigned", signer, Options{Format: f}); err != nil {
				t.Fatal(err)
			}
			if res := check(t, s, unsignedRef, pub); !res.Signed {
				t.Errorf("after signing twice: %s", res.Summary())
			}
			rep, err := layout.Verify(ctx, s.Path(), layout.VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK {
				t.Errorf("layout does not verify after Sign: %+v", rep.Problems)
			}
		})
	}
}

// tamper rewrites the legacy signature manifest of ref through edit (which may change the
// layers and write new blobs) and retags it.
func tamper(tb testing.TB, s *layout.Store, ref string, edit func(m *ocispec.Manifest)) {
	tb.Helper()
	ctx := context.Background()
	desc, err := s.Resolve(ctx, ref)
	if err != nil {
		tb.Fatal(err)
	}
	tag := tagOf(desc.Digest, ".sig")
	sigDesc, err := s.Resolve(ctx, tag)
	if err != nil {
		tb.Fatal(err)
	}
	data, err := s.ReadAll(ctx, sigDesc, 1<<20)
	if err != nil {
		tb.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		tb.Fatal(err)
	}
	edit(&m)
	md, err := writeJSON(ctx, s, ocispec.MediaTypeImageManifest, m)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Tag(ctx, md, tag); err != nil {
		tb.Fatal(err)
	}
}

// writeLayer stores data as a simple-signing layer with the signature annotation sig.
func writeLayer(tb testing.TB, s *layout.Store, data []byte, sig string) ocispec.Descriptor {
	tb.Helper()
	d, err := writeJSON(context.Background(), s, MediaTypeSimpleSigning, data)
	if err != nil {
		tb.Fatal(err)
	}
	d.Annotations = map[string]string{AnnotationSignature: sig}
	return d
}

// TestTamperedSignatures: each tampering is caught and named.
func TestTamperedSignatures(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		tamper func(t *testing.T, s *layout.Store, signer *Signer)
		reason string
	}{
		{"payload byte flipped", func(t *testing.T, s *layout.Store, _ *Signer) {
			tamper(t, s, unsignedRef, func(m *ocispec.Manifest) {
				data, _ := s.ReadAll(ctx, m.Layers[0], 1<<20)
				data = bytes.Replace(data, []byte("unsigned"), []byte("unsignee"), 1)
				m.Layers[0] = writeLayer(t, s, data, m.Layers[0].Annotations[AnnotationSignature])
			})
		}, "does not verify"},
		{"signature of another image", func(t *testing.T, s *layout.Store, signer *Signer) {
			other, _ := s.Resolve(ctx, "ttl.sh/signed_with_cosign_legacy:latest")
			payload, _ := simpleSigningPayload("x", other.Digest)
			sig, _ := signer.Sign(payload)
			tamper(t, s, unsignedRef, func(m *ocispec.Manifest) {
				m.Layers[0].Annotations[AnnotationSignature] = base64.StdEncoding.EncodeToString(sig)
			})
		}, "does not verify"},
		{"payload names another digest", func(t *testing.T, s *layout.Store, signer *Signer) {
			other, _ := s.Resolve(ctx, "ttl.sh/signed_with_cosign_legacy:latest")
			payload, _ := simpleSigningPayload("ghcr.io/inspektor-gadget/gadget/unsigned", other.Digest)
			sig, _ := signer.Sign(payload)
			tamper(t, s, unsignedRef, func(m *ocispec.Manifest) {
				m.Layers[0] = writeLayer(t, s, payload, base64.StdEncoding.EncodeToString(sig))
			})
		}, "payload names digest " + "sha256:20296fb8"},
		{"second layer", func(t *testing.T, s *layout.Store, _ *Signer) {
			tamper(t, s, unsignedRef, func(m *ocispec.Manifest) { m.Layers = append(m.Layers, m.Layers[0]) })
		}, "2 layers, want 1"},
		{"signed by another key only", func(t *testing.T, s *layout.Store, _ *Signer) {
			priv, _, _ := GenerateKeyPair([]byte("x"))
			other, _ := ParsePrivateKey(priv, fixedPassword("x"))
			desc, _ := s.Resolve(ctx, unsignedRef)
			if _, err := Sign(ctx, s, desc, "ghcr.io/inspektor-gadget/gadget/unsigned", other, Options{}); err != nil {
				t.Fatal(err)
			}
		}, "does not verify with any given key"},
		{"signature not base64", func(t *testing.T, s *layout.Store, _ *Signer) {
			tamper(t, s, unsignedRef, func(m *ocispec.Manifest) { m.Layers[0].Annotations[AnnotationSignature] = "!!" })
		}, "not base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, signer, pub := signedCopy(t)
			desc, err := s.Resolve(ctx, unsignedRef)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Sign(ctx, s, desc, "ghcr.io/inspektor-gadget/gadget/unsigned", signer, Options{}); err != nil {
				t.Fatal(err)
			}
			tt.tamper(t, s, signer)
			res := check(t, s, unsignedRef, pub)
			b := res.Best()
			if res.Signed || b == nil || b.Verdict != VerdictInvalid || !strings.Contains(b.Reason, tt.reason) {
				t.Fatalf("got %s (%+v), want invalid: %q", res.Summary(), res.Signatures, tt.reason)
			}
		})
	}
}

// TestIGOrderDecides: ig verifies the first signature whose form reads whole (legacy before
// bundle before OCI 1.1) and stops there. An image with a legacy signature by one key and a
// bundle signature by another is signed for the first key only, as ig would run it.
func TestIGOrderDecides(t *testing.T) {
	ctx := context.Background()
	s, legacyKey, legacyPub := signedCopy(t)
	priv, _, err := GenerateKeyPair([]byte("b"))
	if err != nil {
		t.Fatal(err)
	}
	bundleKey, err := ParsePrivateKey(priv, fixedPassword("b"))
	if err != nil {
		t.Fatal(err)
	}
	desc, err := s.Resolve(ctx, unsignedRef)
	if err != nil {
		t.Fatal(err)
	}
	for _, sg := range []struct {
		k *Signer
		f Format
	}{{legacyKey, FormatLegacy}, {bundleKey, FormatBundle}} {
		if _, err := Sign(ctx, s, desc, "ghcr.io/inspektor-gadget/gadget/unsigned", sg.k, Options{Format: sg.f}); err != nil {
			t.Fatal(err)
		}
	}
	if res := check(t, s, unsignedRef, legacyPub); !res.Signed || res.Best().Format != FormatLegacy {
		t.Errorf("with the legacy key: %s", res.Summary())
	}
	if res := check(t, s, unsignedRef, legacyPub, bundleKey.Public); !res.Signed {
		t.Errorf("with both keys: %s", res.Summary())
	}
	res := check(t, s, unsignedRef, bundleKey.Public)
	if res.Signed || !strings.Contains(res.Best().Reason, "ig reads this legacy signature first") {
		t.Errorf("with the bundle key only: %s (%+v), want not signed: ig stops at the legacy one", res.Summary(), res.Signatures)
	}
	if len(Problems([]RefResult{{Ref: unsignedRef, Result: *res}})) != 1 {
		t.Errorf("no finding for it")
	}
}

// TestBundleReplaced: signing again in the bundle format with the same key replaces the
// bundle index.json lists for the image (as a legacy signature replaces its tag); a bundle by
// another key stays beside it.
func TestBundleReplaced(t *testing.T) {
	ctx := context.Background()
	s, signer, _ := signedCopy(t)
	desc, err := s.Resolve(ctx, unsignedRef)
	if err != nil {
		t.Fatal(err)
	}
	bundles := func() []string {
		g, err := LayoutGraph(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range g.Referrers(desc.Digest) {
			out = append(out, string(r.Digest))
		}
		return out
	}
	sign := func(k *Signer) ocispec.Descriptor {
		md, err := Sign(ctx, s, desc, "ghcr.io/inspektor-gadget/gadget/unsigned", k, Options{Format: FormatBundle})
		if err != nil {
			t.Fatal(err)
		}
		return md
	}
	sign(signer)
	second := sign(signer)
	if got := bundles(); len(got) != 1 || got[0] != string(second.Digest) {
		t.Fatalf("after signing twice with one key: %v, want only %s", got, second.Digest)
	}
	priv, _, err := GenerateKeyPair([]byte("o"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := ParsePrivateKey(priv, fixedPassword("o"))
	if err != nil {
		t.Fatal(err)
	}
	sign(other)
	if got := bundles(); len(got) != 2 {
		t.Fatalf("a bundle by another key: %v, want both", got)
	}
	rep, err := layout.Verify(ctx, s.Path(), layout.VerifyOptions{})
	if err != nil || !rep.OK {
		t.Fatalf("verify after replacing: %v %+v", err, rep)
	}
}
