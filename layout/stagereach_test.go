package layout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// docCall is one call of GraphOptions.OnDocument, or of a reference walk's WalkFunc on a
// document: what it was given.
type docCall struct {
	desc string // digest and platform
	at   string
}

// docCallOf returns the docCall of desc reached at at.
func docCallOf(desc ocispec.Descriptor, at Location) docCall {
	d := string(desc.Digest)
	if p := desc.Platform; p != nil {
		d += " " + p.OS + "/" + p.Architecture
	}
	return docCall{desc: d, at: at.String()}
}

// TestCheckGraphWithDocuments checks that CheckGraphWith hands OnDocument every document the
// entries reach, as a Walker with Revisit over the committed layout reaches them (same order,
// same descriptors, same locations under the labels), and that a rule check run there, which
// reads each document and fetches an index's manifests as spec's CheckIndex does, opens no
// staged file: the check makes the stage forget a document only once it read it itself. The
// staged files opened are the referrer's subject, as in TestStageReadsOnce, and a manifest that
// a second index reaches after the check read it.
func TestCheckGraphWithDocuments(t *testing.T) {
	const n = 200
	ctx := t.Context()
	blobs, entries := smallImages(t, n)
	// A second index of the first manifest, under another platform: a revisit.
	first := blobs[2].desc
	first.Platform = &ocispec.Platform{Architecture: "arm64", OS: "linux"}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{first}}
	idx.SchemaVersion = 2
	data, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	other := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(data), Size: int64(len(data))}
	blobs = append(blobs, smallBlob{desc: other, data: data})
	entries = append(entries, named(other, "example.com/other:v1"))

	st, err := NewStageAt(ctx, filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Discard()
	pushSmall(t, st, blobs)
	label := func(i int) string { return fmt.Sprintf("entry %d", i) }
	var got []docCall
	var readErrs []error
	onDoc := func(ctx context.Context, desc ocispec.Descriptor, at Location, content func() ([]byte, error)) {
		got = append(got, docCallOf(desc, at))
		data, err := content()
		if err != nil {
			readErrs = append(readErrs, err)
			return
		}
		if !IsIndexType(desc.MediaType) {
			return
		}
		var idx ocispec.Index
		if err := json.Unmarshal(data, &idx); err != nil {
			t.Fatal(err)
		}
		for _, m := range idx.Manifests {
			if _, err := ReadAllFrom(ctx, st.Fetch, m, MaxJSONBytes); err != nil {
				readErrs = append(readErrs, err)
			}
		}
	}
	opens, _ := countStage(t, func() {
		err = st.CheckGraphWith(ctx, entries, GraphOptions{OnDocument: onDoc, Label: label})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(readErrs) > 0 {
		t.Fatalf("%d reads failed; the first: %v", len(readErrs), readErrs[0])
	}
	// The first manifest reached again, under arm64, after the check read it: its second index
	// reads it, and so does OnDocument's content.
	if opens != 1+2 {
		t.Errorf("staged files opened %d times, want 3 (the referrer's subject, the manifest reached again twice)", opens)
	}
	if st.docBytes != 2 {
		t.Errorf("the stage holds %d bytes of documents after the check, want 2 (the referrer's config)", st.docBytes)
	}
	if _, err := st.Commit(ctx, entries, AddOptions{}); err != nil {
		t.Fatal(err)
	}

	s, err := Open(st.Path())
	if err != nil {
		t.Fatal(err)
	}
	var want []docCall
	w := NewWalker(s.Fetch, WalkOptions{})
	w.Revisit = true
	for i, e := range entries {
		err := w.Walk(ctx, e, label(i), func(_ context.Context, desc ocispec.Descriptor, at Location) error {
			if IsIndexType(desc.MediaType) || IsManifestType(desc.MediaType) {
				want = append(want, docCallOf(desc, at))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(want) != 2*n+2 {
		t.Fatalf("the reference walk reached %d documents, want %d", len(want), 2*n+2)
	}
	if !slices.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("OnDocument call %d: %+v, want %+v (%d calls, want %d)", i, got[i], want[i], len(got), len(want))
			}
		}
		t.Fatalf("OnDocument was called %d times, want %d", len(got), len(want))
	}
}

// TestReachKeepsLittle checks what a graph check holds per blob: a byte for each staged blob,
// a map entry only for the blobs it reached in the layout (a map entry for every blob before:
// about 5 MB of 80,000 small blobs at the check's peak), and that it lists every blob it found
// for Commit all the same.
func TestReachKeepsLittle(t *testing.T) {
	const n = 100
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "layout")
	blobs, entries := smallImages(t, n)
	// The first image's layer is in the layout already: a blob found that is not staged.
	s, err := Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Push(ctx, blobs[0].desc, bytes.NewReader(blobs[0].data)); err != nil {
		t.Fatal(err)
	}
	st, err := s.NewStage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Discard()
	pushSmall(t, st, blobs)
	r := st.newReach()
	if err := r.checkEntries(ctx, entries, GraphOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(r.other) != 1 || len(r.otherFound) != 1 || r.otherFound[0].d != blobs[0].desc.Digest {
		t.Errorf("the check holds %d map entries and %d other blobs found, want 1 and 1 (the layout's layer)", len(r.other), len(r.otherFound))
	}
	if got, want := len(r.found()), 4*n; got != want {
		t.Errorf("the check found %d blobs, want %d (each image's index, manifest, config and layer)", got, want)
	}
}
