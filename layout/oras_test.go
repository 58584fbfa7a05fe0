package layout

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	oras "oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/errdef"
)

// A Store is what oras-go's copy functions take as a source and as a destination.
var (
	_ content.Storage           = (*Store)(nil)
	_ content.ReadOnlyStorage   = (*Store)(nil)
	_ content.Fetcher           = (*Store)(nil)
	_ content.Pusher            = (*Store)(nil)
	_ content.Resolver          = (*Store)(nil)
	_ content.Tagger            = (*Store)(nil)
	_ content.TagResolver       = (*Store)(nil)
	_ content.PredecessorFinder = (*Store)(nil)
	_ content.GraphStorage      = (*Store)(nil)
	_ oras.Target               = (*Store)(nil)
	_ oras.GraphTarget          = (*Store)(nil)
	_ oras.ReadOnlyGraphTarget  = (*Store)(nil)
	// A Stage is an all-or-nothing copy destination.
	_ content.Storage = (*Stage)(nil)
)

// TestErrdefSentinels: the sentinels of the methods that stand in for oras-go's interfaces are
// errdef's values, and the methods return them where oras-go's callers look for them.
func TestErrdefSentinels(t *testing.T) {
	ctx := t.Context()
	s := newStore(t)
	im := buildImage(t, s, "errdef")
	if err := s.Tag(ctx, im.index, "example.com/errdef:v1"); err != nil {
		t.Fatal(err)
	}
	absent := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromString("absent"), Size: 6}
	big := im.layers[1]
	big.MediaType = ocispec.MediaTypeImageManifest

	for _, tc := range []struct {
		name string
		err  func() error
		want error
	}{
		{"Fetch of an absent blob", func() error { _, err := s.Fetch(ctx, absent); return err }, errdef.ErrNotFound},
		{"Resolve of an unknown ref", func() error { _, err := s.Resolve(ctx, "example.com/errdef:nope"); return err }, errdef.ErrNotFound},
		{"Untag of an unknown ref", func() error { return s.Untag(ctx, "example.com/errdef:nope") }, errdef.ErrNotFound},
		{"Push of a present blob", func() error { return s.Push(ctx, im.layers[0], bytes.NewReader(nil)) }, errdef.ErrAlreadyExists},
		{"Push with a bad digest", func() error {
			return s.Push(ctx, ocispec.Descriptor{Digest: "sha256:abc", Size: 1}, bytes.NewReader([]byte("x")))
		}, errdef.ErrInvalidDigest},
		{"Tag with a bad ref", func() error { return s.Tag(ctx, im.index, "a b") }, errdef.ErrInvalidReference},
		{"Tag with a bad media type", func() error {
			d := im.index
			d.MediaType = "nonsense"
			return s.Tag(ctx, d, "example.com/errdef:v2")
		}, errdef.ErrInvalidMediaType},
		{"ReadAll over its cap", func() error { _, err := s.ReadAll(ctx, big, 100); return err }, errdef.ErrSizeExceedsLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want an error wrapping errdef's %q", err, tc.want)
			}
		})
	}
	for _, pair := range [][2]error{
		{ErrNotFound, errdef.ErrNotFound},
		{ErrAlreadyExists, errdef.ErrAlreadyExists},
		{ErrInvalidDigest, errdef.ErrInvalidDigest},
		{ErrInvalidReference, errdef.ErrInvalidReference},
		{ErrInvalidMediaType, errdef.ErrInvalidMediaType},
	} {
		if pair[0] != pair[1] {
			t.Errorf("%v is not errdef's value", pair[0])
		}
	}
	if !errors.Is(ErrTooLarge, errdef.ErrSizeExceedsLimit) {
		t.Error("ErrTooLarge does not wrap errdef.ErrSizeExceedsLimit")
	}
}

// TestPredecessorsAreReferrers: Predecessors lists the referrers of a node (a signature of the
// index, a signature of that signature for the signature), never the index that holds a
// manifest.
func TestPredecessorsAreReferrers(t *testing.T) {
	ctx := t.Context()
	s := newStore(t)
	im := buildImage(t, s, "pred")
	sig, _ := referrerManifest(t, s, im.index, "sig of index")
	sig2, _ := referrerManifest(t, s, sig, "sig of sig")
	if _, err := s.AddEntries(ctx, []ocispec.Descriptor{sig, sig2}, AddOptions{}); err != nil { // listed, as ig lists them
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		node ocispec.Descriptor
		want []digest.Digest
	}{
		{"index", im.index, []digest.Digest{sig.Digest}},
		{"signature", sig, []digest.Digest{sig2.Digest}},
		{"manifest in the index", im.manifests[0], nil},
		{"layer", im.layers[0], nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Predecessors(ctx, tc.node)
			if err != nil {
				t.Fatal(err)
			}
			var gotDigests []digest.Digest
			for _, d := range got {
				gotDigests = append(gotDigests, d.Digest)
				if d.MediaType != ocispec.MediaTypeImageManifest || d.ArtifactType != "application/vnd.example.signature" {
					t.Errorf("referrer %s: mediaType %q artifactType %q", d.Digest, d.MediaType, d.ArtifactType)
				}
			}
			if !slices.Equal(gotDigests, tc.want) {
				t.Fatalf("Predecessors(%s) = %v, want %v", tc.name, gotDigests, tc.want)
			}
		})
	}
}

// TestOrasExtendedCopyRoundTrip: oras.ExtendedCopy takes ig's signed gadget with its OCI 1.1
// signature out of a layout (a copy of ig's store) into oras-go's memory store, and oras.Copy
// brings each back into a new layout through Push and Tag; the result verifies clean and holds
// the same bytes.
func TestOrasExtendedCopyRoundTrip(t *testing.T) {
	ctx := t.Context()
	src, err := Open(copyDir(t, igStore))
	if err != nil {
		t.Fatal(err)
	}
	const ref = "ttl.sh/signed_with_cosign_oci11:latest"
	root, err := src.Resolve(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	referrers, err := src.Predecessors(ctx, root)
	if err != nil || len(referrers) != 1 {
		t.Fatalf("referrers of %s: %v, %v; want the cosign signature", ref, referrers, err)
	}
	sig := referrers[0]

	mem := memory.New()
	got, err := oras.ExtendedCopy(ctx, src, ref, mem, ref, oras.DefaultExtendedCopyOptions)
	if err != nil {
		t.Fatalf("ExtendedCopy from the layout: %v", err)
	}
	if got.Digest != root.Digest {
		t.Fatalf("ExtendedCopy returned %s, want %s", got.Digest, root.Digest)
	}
	for _, d := range []ocispec.Descriptor{root, sig} {
		if ok, err := mem.Exists(ctx, d); !ok || err != nil {
			t.Fatalf("memory store lacks %s after ExtendedCopy: %v", d.Digest, err)
		}
	}

	dst, err := Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oras.Copy(ctx, mem, ref, dst, ref, oras.DefaultCopyOptions); err != nil {
		t.Fatalf("Copy into a layout: %v", err)
	}
	// The signature is a blob of the new layout, found again as a referrer by a scan; once
	// index.json lists it (as ig's store lists every manifest), Predecessors finds it too.
	if err := oras.CopyGraph(ctx, mem, dst, sig, oras.DefaultCopyGraphOptions); err != nil {
		t.Fatalf("CopyGraph of the signature into a layout: %v", err)
	}
	table, err := dst.ReferrerTable(ctx, true)
	if back := table.Referrers(root.Digest); err != nil || len(back) != 1 || back[0].Digest != sig.Digest {
		t.Fatalf("referrers in the new layout (scan): %v, %v", back, err)
	}
	if back, err := dst.Predecessors(ctx, root); err != nil || len(back) != 0 {
		t.Fatalf("referrers listed in the new layout before it lists any: %v, %v", back, err)
	}
	if _, err := dst.AddEntries(ctx, []ocispec.Descriptor{sig}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	back, err := dst.Predecessors(ctx, root)
	if err != nil || len(back) != 1 || back[0].Digest != sig.Digest {
		t.Fatalf("referrers in the new layout: %v, %v", back, err)
	}
	again, err := dst.Resolve(ctx, ref)
	if err != nil || again.Digest != root.Digest {
		t.Fatalf("Resolve(%s) in the new layout: %v, %v", ref, again, err)
	}
	for _, d := range []ocispec.Descriptor{root, sig} {
		a := fetchAll(t, src, d)
		b := fetchAll(t, dst, d)
		if !bytes.Equal(a, b) {
			t.Fatalf("%s: other bytes after the round trip", d.Digest)
		}
	}
	assertVerifies(t, dst.Path())

	// A second copy finds everything present and pushes nothing.
	opts := oras.DefaultCopyOptions
	opts.PreCopy = func(_ context.Context, d ocispec.Descriptor) error {
		t.Errorf("second copy pushed %s again", d.Digest)
		return nil
	}
	if _, err := oras.Copy(ctx, mem, ref, dst, ref, opts); err != nil {
		t.Fatal(err)
	}
}

// TestOrasExtendedCopyIntoStage: oras.ExtendedCopyGraph, 8 blobs at a time, takes ig's signed
// gadget with its signature from a layout into a Stage of another layout, which shows nothing
// before Commit; Commit publishes and names them. A second copy into a new stage finds every
// blob in the layout (Exists) and pushes nothing.
func TestOrasExtendedCopyIntoStage(t *testing.T) {
	ctx := t.Context()
	src, err := Open(copyDir(t, igStore))
	if err != nil {
		t.Fatal(err)
	}
	const ref = "ttl.sh/signed_with_cosign_oci11:latest"
	root, err := src.Resolve(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	dst := newStore(t)
	before := treeState(t, dst.Path())
	st, err := dst.NewStage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Discard()
	opts := oras.DefaultExtendedCopyGraphOptions
	opts.Concurrency = 8
	if err := oras.ExtendedCopyGraph(ctx, src, st, root, opts); err != nil {
		t.Fatalf("ExtendedCopyGraph into a stage: %v", err)
	}
	referrers, err := src.Predecessors(ctx, root)
	if err != nil || len(referrers) != 1 {
		t.Fatalf("referrers: %v %v", referrers, err)
	}
	sig := referrers[0]
	for _, d := range []ocispec.Descriptor{root, sig} {
		if ok, err := st.Exists(ctx, d); !ok || err != nil {
			t.Fatalf("stage lacks %s: %v", d.Digest, err)
		}
		if ok, _ := dst.Exists(ctx, d); ok {
			t.Fatalf("%s is in the layout before Commit", d.Digest)
		}
	}
	after := treeState(t, dst.Path())
	maps.DeleteFunc(after, func(rel string, _ string) bool { return strings.HasPrefix(rel, TempDir) })
	if !maps.Equal(before, after) {
		// Only the stage folder, in TempDir, is new.
		t.Fatalf("the layout changed before Commit:\nbefore %v\nafter  %v", before, after)
	}
	named := root
	named.Annotations = map[string]string{ocispec.AnnotationRefName: ref}
	if _, err := st.Commit(ctx, []ocispec.Descriptor{named, sig}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fetchAll(t, src, sig), fetchAll(t, dst, sig)) {
		t.Fatal("the signature differs after the copy")
	}
	assertVerifies(t, dst.Path())

	again, err := dst.NewStage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Discard()
	opts.PreCopy = func(_ context.Context, d ocispec.Descriptor) error {
		t.Errorf("second copy pushed %s again", d.Digest)
		return nil
	}
	if err := oras.ExtendedCopyGraph(ctx, src, again, root, opts); err != nil {
		t.Fatal(err)
	}
	if n, _ := again.Staged(); n != 0 {
		t.Fatalf("second copy staged %d blobs", n)
	}
}

// fetchAll reads d's content from s.
func fetchAll(tb testing.TB, s content.Fetcher, d ocispec.Descriptor) []byte {
	tb.Helper()
	rc, err := s.Fetch(tb.Context(), d)
	if err != nil {
		tb.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// TestOpenBlob: the unverified read gives the file's bytes and refuses what Fetch refuses
// before reading.
func TestOpenBlob(t *testing.T) {
	ctx := t.Context()
	s := newStore(t)
	im := buildImage(t, s, "open")
	layer := im.layers[0]
	f, err := s.OpenBlob(ctx, layer)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil || digest.FromBytes(data) != layer.Digest {
		t.Fatalf("OpenBlob read %d bytes (%v), not the blob", len(data), err)
	}
	wrongSize := layer
	wrongSize.Size++
	link := writeBlob(t, s, "application/octet-stream", []byte("link target"))
	linkPath := filepath.Join(s.Path(), "blobs", "sha256", link.Digest.Encoded())
	if err := os.Remove(linkPath); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(s.Path(), "blobs", "sha256", layer.Digest.Encoded()), linkPath); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		desc ocispec.Descriptor
		want error
	}{
		{"absent", ocispec.Descriptor{Digest: digest.FromString("absent"), Size: 6}, ErrNotFound},
		{"another size", wrongSize, ErrSizeMismatch},
		{"a symlink", link, ErrNotRegular},
		{"a bad digest", ocispec.Descriptor{Digest: "sha256:abc", Size: 1}, ErrInvalidDigest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := s.OpenBlob(ctx, tc.desc)
			if !errors.Is(err, tc.want) || f != nil {
				t.Fatalf("OpenBlob = %v, %v; want %v", f, err, tc.want)
			}
		})
	}
}
