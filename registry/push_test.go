package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/gadgetpack/gadgetpack/internal/registrytest"
	"github.com/gadgetpack/gadgetpack/layout"
)

// signedLayout is a layout with one image, an OCI 1.1 signature of it, a signature of that
// signature, and a cosign-style digest-tag signature (a bare sha256-<hex>.sig entry).
type signedLayout struct {
	store          *layout.Store
	image          testImage
	sig, sigOfSig  ocispec.Descriptor
	legacy         ocispec.Descriptor
	legacyTag, ref string
}

func newSignedLayout(tb testing.TB) signedLayout {
	tb.Helper()
	s := newLayout(tb)
	l := signedLayout{store: s, ref: "example.com/gadgets/signed:v1"}
	l.image = writeImage(tb, s, l.ref, "signed", 100_000)
	l.sig = writeReferrer(tb, s, l.image.index, "signature of the index")
	l.sigOfSig = writeReferrer(tb, s, l.sig, "signature of the signature")
	// A legacy cosign signature: a manifest without subject, named after the image's digest.
	layer := writeBlob(tb, s, "application/vnd.dev.cosign.simplesigning.v1+json", []byte(`{"critical":{}}`))
	cfg := writeBlob(tb, s, "application/vnd.oci.image.config.v1+json", []byte(`{"architecture":"","os":""}`))
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}}
	m.SchemaVersion = 2
	l.legacy = writeJSON(tb, s, ocispec.MediaTypeImageManifest, m)
	l.legacyTag = "sha256-" + l.image.index.Digest.Encoded() + ".sig"
	if err := s.Tag(tb.Context(), l.legacy, l.legacyTag); err != nil {
		tb.Fatal(err)
	}
	return l
}

// TestPushPullRoundTrip: an image with its referrers and its digest-tag signature goes to the
// registry and comes back into an empty layout with the same bytes. docker-registry has no
// referrers API, so the referrers travel through the referrers tag schema (a sha256-<hex> tag
// holding an index of them), which the test checks.
func TestPushPullRoundTrip(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{})
	l := newSignedLayout(t)
	ctx := t.Context()
	dstRef := r.Ref("gadgets/signed:v1")

	var events atomic.Int64
	opts := plain(r)
	opts.Progress = func(p Progress) {
		events.Add(1)
		if p.Done > p.Total || p.Blobs > p.TotalBlobs {
			t.Errorf("progress past its total: %+v", p)
		}
	}
	res, err := Push(ctx, l.store, l.ref, dstRef, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Refs) != 2 || res.Refs[0].Dst != dstRef || res.Refs[1].Dst != r.Ref("gadgets/signed:"+l.legacyTag) {
		t.Fatalf("pushed refs %+v", res.Refs)
	}
	if !slices.Contains(res.Refs[0].Referrers, l.sig.Digest) || !slices.Contains(res.Refs[0].Referrers, l.sigOfSig.Digest) {
		t.Fatalf("referrers pushed %v, want %s and %s", res.Refs[0].Referrers, l.sig.Digest, l.sigOfSig.Digest)
	}
	if res.BlobsSkipped != 0 || res.Blobs == 0 || events.Load() < int64(res.Blobs) {
		t.Fatalf("result %+v after %d progress events", res, events.Load())
	}

	// The referrers tag schema: sha256-<hex> names an index listing the signature.
	cl, err := newClient(r.Host, plain(r))
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := parseRemote(dstRef)
	repo := cl.repository(ref)
	tagIndex := fetchIndex(t, repo, "sha256-"+l.image.index.Digest.Encoded())
	if len(tagIndex.Manifests) != 1 || tagIndex.Manifests[0].Digest != l.sig.Digest {
		t.Fatalf("referrers tag index lists %v, want %s", tagIndex.Manifests, l.sig.Digest)
	}

	back := filepath.Join(t.TempDir(), "back")
	pres, err := Pull(ctx, back, dstRef, "", plain(r))
	if err != nil {
		t.Fatal(err)
	}
	if len(pres.Refs) < 2 || pres.Refs[0].Digest != l.image.index.Digest {
		t.Fatalf("pulled %+v", pres.Refs)
	}
	got, err := layout.Open(back)
	if err != nil {
		t.Fatal(err)
	}
	refs := refsOf(t, got)
	if refs[dstRef] != l.image.index.Digest || refs[l.legacyTag] != l.legacy.Digest {
		t.Fatalf("refs after pull: %v", refs)
	}
	for _, d := range append(slices.Clone(l.image.blobs), l.sig, l.sigOfSig, l.legacy) {
		if !bytes.Equal(readBlob(t, got, d.Digest), readBlob(t, l.store, d.Digest)) {
			t.Fatalf("blob %s differs after the round trip", d.Digest)
		}
	}
	idx, err := got.Index(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(idx.Manifests, func(d ocispec.Descriptor) bool {
		return d.Digest == l.sig.Digest && d.Annotations[ocispec.AnnotationRefName] == ""
	}) {
		t.Fatalf("the signature is no unnamed index.json entry: %v", idx.Manifests)
	}
	mustVerify(t, got)

	// Pulling again fetches nothing and changes nothing.
	before := indexBytes(t, got)
	pres, err = Pull(ctx, back, dstRef, "", plain(r))
	if err != nil {
		t.Fatal(err)
	}
	if pres.Blobs != 0 || !bytes.Equal(before, indexBytes(t, got)) {
		t.Fatalf("second pull fetched %d blobs or changed index.json", pres.Blobs)
	}
}

// fetchIndex reads the image index tag names in repo.
func fetchIndex(tb testing.TB, repo *remote.Repository, tag string) ocispec.Index {
	tb.Helper()
	_, rc, err := repo.FetchReference(tb.Context(), tag)
	if err != nil {
		tb.Fatalf("fetch %s: %v", tag, err)
	}
	defer rc.Close()
	var idx ocispec.Index
	if err := json.NewDecoder(rc).Decode(&idx); err != nil {
		tb.Fatal(err)
	}
	return idx
}

// TestPushResumes: a push cut short (its context cancelled after the first blob) leaves what it
// sent; the next push sends only the rest, and a third sends nothing.
func TestPushResumes(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{})
	s := newLayout(t)
	im := writeImage(t, s, "example.com/resume:v1", "resume", 300_000)
	dst := r.Ref("resume:v1")

	ctx, cancel := context.WithCancel(t.Context())
	opts := plain(r)
	opts.Concurrency = 1
	opts.Progress = func(p Progress) {
		if p.Blobs >= 2 {
			cancel()
		}
	}
	if _, err := Push(ctx, s, "example.com/resume:v1", dst, opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("cut push: %v, want context.Canceled", err)
	}
	res, err := Push(t.Context(), s, "example.com/resume:v1", dst, plain(r))
	if err != nil {
		t.Fatal(err)
	}
	if res.BlobsSkipped < 2 || res.Blobs+res.BlobsSkipped != len(im.blobs) {
		t.Fatalf("resumed push sent %d and skipped %d of %d blobs", res.Blobs, res.BlobsSkipped, len(im.blobs))
	}
	res, err = Push(t.Context(), s, "example.com/resume:v1", dst, plain(r))
	if err != nil {
		t.Fatal(err)
	}
	if res.Blobs != 0 || res.BlobsSkipped != len(im.blobs) {
		t.Fatalf("third push sent %d blobs, skipped %d", res.Blobs, res.BlobsSkipped)
	}
}

// TestPushAllIGStore mirrors ig's store under a prefix, then pulls its signed gadgets back:
// the legacy cosign one with its sha256-<hex>.sig tag, the OCI 1.1 one with its referrer, both
// byte for byte as ig stored them.
func TestPushAllIGStore(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{})
	src := igLayout(t)
	ctx := t.Context()
	res, err := PushAll(ctx, src, r.Ref("mirror"), plain(r))
	if err != nil {
		t.Fatal(err)
	}
	dsts := map[string]digest.Digest{}
	for _, m := range res.Refs {
		dsts[m.Dst] = m.Digest
	}
	const (
		legacy    = "sha256:20296fb8a8c8a97808229625945da73f5f4d5843800317ead8c203081156cc9c"
		oci11     = "sha256:2f096beb75baadce98f52500552f1d7eabf19f4c35007869350d6f496084e992"
		oci11Sig  = "sha256:597cc6be74829b950036142f8b8ac8f14469658185ca3fb17e51eabcdb74c977"
		legacySig = "sha256:e0c60c886b1ce163e6495fbbbd715343ea2ec86b240c4284f726abea6556f038"
	)
	for dst, want := range map[string]digest.Digest{
		r.Ref("mirror/inspektor-gadget/gadget/unsigned:francis-signature-unit-tests"):                                     "sha256:f34a362f177727ed3f12eadc1f255ffe6a19190ab82d48df98c19f1bddc3b86a",
		r.Ref("mirror/signed_with_cosign_legacy:latest"):                                                                  legacy,
		r.Ref("mirror/signed_with_cosign_legacy:sha256-" + digest.Digest(legacy).Encoded() + ".sig"):                      legacySig,
		r.Ref("mirror/signed_with_cosign_oci11:latest"):                                                                   oci11,
		r.Ref("mirror/signed_with_cosign_oci11:sha256-" + digest.Digest(oci11).Encoded()):                                 "sha256:0ad1c44edb5a1ef0c65010f2fb2c8450932fb331f05a4c0de4531e4a5475ae3c",
		r.Ref("mirror/signed_with_notation_config_media_type_signature:latest"):                                           "sha256:5dfde5fef803ccd1087cd3453d7c5825f51ed768274ba5d512539f6dfbbfd9b6",
		r.Ref("mirror/signed_with_cosign_bundle:sha256-d217fb2d81d4314d48ade41ad3cad13324861d296e4e786e6498f3123951709c"): "sha256:9eaf592a23b84a809ba68b7d37f1b8e9b7eef7c398cc4599b5137048348271eb",
	} {
		if dsts[dst] != want {
			t.Errorf("pushed %s = %q, want %s", dst, dsts[dst], want)
		}
	}
	if len(res.Skipped) != 1 || !strings.HasPrefix(res.Skipped[0], "sha256-5cf9ca27") {
		t.Errorf("skipped %v, want the notation tag of an image the store does not hold", res.Skipped)
	}
	if t.Failed() {
		t.FailNow()
	}

	back := filepath.Join(t.TempDir(), "back")
	for _, name := range []string{"signed_with_cosign_legacy", "signed_with_cosign_oci11"} {
		if _, err := Pull(ctx, back, r.Ref("mirror/"+name+":latest"), "ttl.sh/"+name+":latest", plain(r)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := layout.Open(back)
	if err != nil {
		t.Fatal(err)
	}
	refs := refsOf(t, got)
	if refs["ttl.sh/signed_with_cosign_legacy:latest"] != legacy || refs["sha256-"+digest.Digest(legacy).Encoded()+".sig"] != legacySig ||
		refs["ttl.sh/signed_with_cosign_oci11:latest"] != oci11 {
		t.Fatalf("refs after pull: %v", refs)
	}
	referrers, err := got.Referrers(ctx, ocispec.Descriptor{Digest: oci11})
	if err != nil || len(referrers) != 1 || referrers[0].Digest != oci11Sig {
		t.Fatalf("referrers of the OCI 1.1 gadget after pull: %v, %v", referrers, err)
	}
	for _, d := range []digest.Digest{legacy, legacySig, oci11, oci11Sig} {
		if !bytes.Equal(readBlob(t, got, d), readBlob(t, src, d)) {
			t.Fatalf("blob %s differs from ig's", d)
		}
	}
	mustVerify(t, got)
}

// TestPushAllRefusesUnmappable: a bare tag has no repository to mirror under; nothing is sent.
func TestPushAllRefusesUnmappable(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{})
	s := newLayout(t)
	writeImage(t, s, "example.com/ok:v1", "ok", 1000)
	writeImage(t, s, "latest", "bare", 1000)
	_, err := PushAll(t.Context(), s, r.Ref("mirror"), plain(r))
	if !errors.Is(err, ErrInvalidReference) || !strings.Contains(err.Error(), "latest") {
		t.Fatalf("got %v, want ErrInvalidReference naming the bare tag", err)
	}
	if _, err := os.Stat(filepath.Join(r.Root, "docker")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the registry got something: %v", err)
	}
}

// TestPushAllMounts: two refs that share their layers go to two repositories; the second gets
// the shared blobs by a cross-repository mount, not by sending them again.
func TestPushAllMounts(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{})
	s := newLayout(t)
	im := writeImage(t, s, "example.com/a/one:v1", "shared", 200_000)
	if err := s.Tag(t.Context(), im.index, "example.com/b/two:v1"); err != nil {
		t.Fatal(err)
	}
	res, err := PushAll(t.Context(), s, r.Host, plain(r))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Refs) != 2 {
		t.Fatalf("pushed %+v", res.Refs)
	}
	// Blobs go once; the second repository gets its layers and configs by mount, its
	// manifests (which cannot be mounted) are sent again.
	var layerBytes int64
	for _, l := range im.layers {
		layerBytes += l.Size
	}
	if res.Bytes > int64(len(im.blobs))*1000+layerBytes || res.BlobsSkipped < len(im.layers) {
		t.Fatalf("sent %d bytes (%d blobs), skipped %d: the shared layers went twice", res.Bytes, res.Blobs, res.BlobsSkipped)
	}
}

// TestPushChecksGraph: an image whose layer is missing from the layout is refused before
// anything is sent.
func TestPushChecksGraph(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{})
	s := newLayout(t)
	im := writeImage(t, s, "example.com/broken:v1", "broken", 1000)
	if err := os.Remove(filepath.Join(s.Path(), "blobs", "sha256", im.layers[0].Digest.Encoded())); err != nil {
		t.Fatal(err)
	}
	_, err := Push(t.Context(), s, "example.com/broken:v1", r.Ref("broken:v1"), plain(r))
	if !errors.Is(err, layout.ErrGraphIncomplete) || !strings.Contains(err.Error(), string(im.layers[0].Digest)) {
		t.Fatalf("got %v, want ErrGraphIncomplete naming the missing layer", err)
	}
	if _, err := os.Stat(filepath.Join(r.Root, "docker")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the registry got something: %v", err)
	}
}

// TestPushDigestRef: DST_REF may name the image by digest (no tag is written), and only its
// own digest.
func TestPushDigestRef(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{})
	s := newLayout(t)
	im := writeImage(t, s, "example.com/d:v1", "d", 1000)
	if _, err := Push(t.Context(), s, "example.com/d:v1", r.Ref("d@"+string(im.index.Digest)), plain(r)); err != nil {
		t.Fatal(err)
	}
	other := digest.FromString("other")
	if _, err := Push(t.Context(), s, "example.com/d:v1", r.Ref("d@"+string(other)), plain(r)); !errors.Is(err, ErrInvalidReference) {
		t.Fatalf("push to another digest: %v, want ErrInvalidReference", err)
	}
	if _, err := Push(t.Context(), s, "example.com/d:v1", "no-registry", plain(r)); !errors.Is(err, ErrInvalidReference) {
		t.Fatalf("push to a ref without registry: %v", err)
	}
	if _, err := Push(t.Context(), s, "example.com/nope:v1", r.Ref("d:v2"), plain(r)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("push of an absent ref: %v", err)
	}
}

// TestPushCorruptBlob: a layer whose bytes changed on disk (same size) is sent unhashed, and
// the registry refuses it: the push fails naming the digest, with or without progress.
func TestPushCorruptBlob(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{})
	s := newLayout(t)
	im := writeImage(t, s, "example.com/rot:v1", "rot", 50_000)
	path := filepath.Join(s.Path(), "blobs", "sha256", im.layers[0].Digest.Encoded())
	data := readBlob(t, s, im.layers[0].Digest)
	data[100] ^= 1
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o444); err != nil {
		t.Fatal(err)
	}
	for _, progress := range []func(Progress){nil, func(Progress) {}} {
		opts := plain(r)
		opts.Progress = progress
		_, err := Push(t.Context(), s, "example.com/rot:v1", r.Ref("rot:v1"), opts)
		if !errors.Is(err, ErrRegistry) || !strings.Contains(err.Error(), "DIGEST_INVALID") && !strings.Contains(err.Error(), "digest invalid") {
			t.Fatalf("push of a rotten layer: %v, want the registry's refusal", err)
		}
		t.Log(err)
	}
}

// TestPushScanReferrers: a referrer kept as a bare blob (index.json does not list it, as some
// tools leave them) goes with its image only when the push scans for referrers.
func TestPushScanReferrers(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{})
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		scan bool
	}{{"listed only", false}, {"scan", true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newLayout(t)
			const ref = "example.com/gadgets/bare:v1"
			im := writeImage(t, s, ref, "bare "+tc.name, 1000)
			sig := writeBareReferrer(t, s, im.index, "bare signature "+tc.name)
			opts := plain(r)
			opts.ScanReferrers = tc.scan
			res, err := Push(ctx, s, ref, r.Ref("gadgets/bare:"+strings.ReplaceAll(tc.name, " ", "-")), opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(res.Refs[0].Referrers, sig.Digest); got != tc.scan {
				t.Fatalf("referrer pushed: %v, want %v (referrers %v)", got, tc.scan, res.Refs[0].Referrers)
			}
		})
	}
}
