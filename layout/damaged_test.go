package layout

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestDamagedTarget damages a blob of a layout that an import (a stage) or a copy writes into,
// while the input carries a good copy of it: the error must name the target layout's blob file
// and digest (DamagedBlobError), not blame the input, and nothing must change.
func TestDamagedTarget(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dst *Store, im testImage) ocispec.Descriptor // returns the blob damaged
		via    string                                                          // "stage" or "copy"
		stream bool                                                            // the error is the stream's, not the target's
		want   error
	}{
		{name: "flipped manifest, import", via: "stage", want: ErrDigestMismatch, damage: func(t *testing.T, dst *Store, im testImage) ocispec.Descriptor {
			flipBit(t, blobFilePath(dst, im.manifests[1].Digest), 40, 3)
			return im.manifests[1]
		}},
		{name: "flipped index, import", via: "stage", want: ErrDigestMismatch, damage: func(t *testing.T, dst *Store, im testImage) ocispec.Descriptor {
			flipBit(t, blobFilePath(dst, im.index.Digest), 7, 0)
			return im.index
		}},
		{name: "truncated layer, import", via: "stage", want: ErrSizeMismatch, damage: func(t *testing.T, dst *Store, im testImage) ocispec.Descriptor {
			truncate(t, blobFilePath(dst, im.layers[1].Digest), 10)
			return im.layers[1]
		}},
		{name: "truncated layer the stream lacks, import", via: "stage-delta", want: ErrDigestMismatch, damage: func(t *testing.T, dst *Store, im testImage) ocispec.Descriptor {
			truncate(t, blobFilePath(dst, im.layers[2].Digest), 100)
			return im.layers[2]
		}},
		{name: "flipped manifest, copy", via: "copy", want: ErrDigestMismatch, damage: func(t *testing.T, dst *Store, im testImage) ocispec.Descriptor {
			flipBit(t, blobFilePath(dst, im.manifests[0].Digest), 20, 5)
			return im.manifests[0]
		}},
		{name: "truncated layer, copy", via: "copy", want: ErrSizeMismatch, damage: func(t *testing.T, dst *Store, im testImage) ocispec.Descriptor {
			truncate(t, blobFilePath(dst, im.layers[1].Digest), 10)
			return im.layers[1]
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newStore(t)
			im := buildImage(t, src, "x")
			if err := src.Tag(t.Context(), im.index, "example.com/x:1"); err != nil {
				t.Fatal(err)
			}
			dst := newStore(t)
			if im2 := buildImage(t, dst, "x"); im2.index.Digest != im.index.Digest {
				t.Fatal("the two layouts differ")
			}
			bad := tc.damage(t, dst, im)
			before := treeState(t, dst.Path())
			var err error
			switch tc.via {
			case "stage", "stage-delta":
				st, serr := dst.NewStage(t.Context())
				if serr != nil {
					t.Fatal(serr)
				}
				defer st.Discard()
				for _, d := range im.all() {
					if tc.via == "stage-delta" && d.Digest == bad.Digest {
						continue // a delta: the base is the layout's
					}
					data := blobBytes(t, src, d)
					if err = st.Push(t.Context(), d, bytes.NewReader(data)); err != nil {
						break
					}
				}
				if err == nil {
					_, err = st.Commit(t.Context(), []ocispec.Descriptor{refDesc(im.index, "example.com/x:1")}, AddOptions{})
				}
			case "copy":
				_, err = Copy(t.Context(), src, dst, []ocispec.Descriptor{refDesc(im.index, "example.com/x:1")}, CopyOptions{})
			}
			var de *DamagedBlobError
			if !errors.As(err, &de) || !errors.Is(err, tc.want) {
				t.Fatalf("%v, want a DamagedBlobError wrapping %v", err, tc.want)
			}
			if de.Layout != dst.Path() || de.Path != blobFilePath(dst, bad.Digest) || de.Digest != bad.Digest {
				t.Errorf("names %s %s %s, want the target's %s", de.Layout, de.Path, de.Digest, blobFilePath(dst, bad.Digest))
			}
			if msg := err.Error(); !strings.Contains(msg, blobFilePath(dst, bad.Digest)) || !strings.Contains(msg, "damaged") {
				t.Errorf("message does not name the damaged file: %s", msg)
			}
			t.Log(err)
			if after := treeState(t, dst.Path()); !mapsEqual(before, after) {
				t.Error("the target changed")
			}
		})
	}
}

// TestDamagedStreamNotTarget checks the other way round: a stream's entry that is shorter than
// the target's good blob is the stream's fault, not a DamagedBlobError.
func TestDamagedStreamNotTarget(t *testing.T) {
	dst := newStore(t)
	im := buildImage(t, dst, "x")
	st, err := dst.NewStage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Discard()
	l := im.layers[0]
	data, err := os.ReadFile(blobFilePath(dst, l.Digest))
	if err != nil {
		t.Fatal(err)
	}
	short := l
	short.Size -= 5
	err = st.Push(t.Context(), short, bytes.NewReader(data[:len(data)-5]))
	var de *DamagedBlobError
	if err == nil || errors.As(err, &de) || !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("%v, want the stream's ErrDigestMismatch", err)
	}
}

// TestDamagedOrWrongDescriptor: the layout holds a good blob and a stream's manifest gives it
// another size: the descriptor is wrong, not the layout (no DamagedBlobError).
func TestDamagedOrWrongDescriptor(t *testing.T) {
	dst := newStore(t)
	im := buildImage(t, dst, "x")
	l := im.layers[0]
	l.Size++
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: im.configs[0], Layers: []ocispec.Descriptor{l}}
	m.SchemaVersion = 2
	src := newStore(t)
	md := writeJSON(t, src, ocispec.MediaTypeImageManifest, m)
	st, err := dst.NewStage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Discard()
	if err := st.Push(t.Context(), md, bytes.NewReader(blobBytes(t, src, md))); err != nil {
		t.Fatal(err)
	}
	err = st.CheckGraph(t.Context(), []ocispec.Descriptor{refDesc(md, "y:1")})
	var de *DamagedBlobError
	if !errors.Is(err, ErrSizeMismatch) || errors.As(err, &de) {
		t.Fatalf("%v, want the descriptor's ErrSizeMismatch, not a damaged layout", err)
	}
}

// refDesc returns desc named ref.
func refDesc(desc ocispec.Descriptor, ref string) ocispec.Descriptor {
	desc.Annotations = map[string]string{ocispec.AnnotationRefName: ref}
	return desc
}
