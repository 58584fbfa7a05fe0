package layout

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestStageCommitRenames counts the renames a Commit makes to publish its staged blobs: one,
// of the whole stage folder, for many blobs into a layout without blobs/sha256 (a new one);
// one per blob into a layout that has that folder, and for a few blobs (fsynced one by one,
// which does not make the stage folder durable). The result is the same layout either way,
// blobs/sha256 with the mode of blobs/, each blob with blobPerm, and no stage left behind.
func TestStageCommitRenames(t *testing.T) {
	src := newStore(t)
	var images []testImage
	for i := range 3 {
		images = append(images, buildImage(t, src, fmt.Sprintf("img%d", i)))
	}
	for _, tc := range []struct {
		name    string
		images  int  // of 9 blobs each
		exists  bool // the target is a layout already (Init: blobs/sha256 is there)
		renames int64
	}{
		{"new layout", 3, false, 1},
		{"new layout, one image", 1, false, 9},
		{"layout", 3, true, 27},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			path := filepath.Join(t.TempDir(), "layout")
			if tc.exists {
				if _, err := Init(path); err != nil {
					t.Fatal(err)
				}
			}
			st, err := NewStageAt(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Discard()
			var entries []ocispec.Descriptor
			for i, im := range images[:tc.images] {
				pushAll(t, st, src, im.all())
				entries = append(entries, named(im.index, fmt.Sprintf("img:%d", i)))
			}
			var n atomic.Int64
			publishRenames = &n
			_, err = st.Commit(ctx, entries, AddOptions{})
			publishRenames = nil
			if err != nil {
				t.Fatal(err)
			}
			if n.Load() != tc.renames {
				t.Errorf("%d renames to publish %d blobs, want %d", n.Load(), 9*tc.images, tc.renames)
			}
			mustVerify(t, path)
			blobs, err := os.Stat(filepath.Join(path, BlobsDir))
			if err != nil {
				t.Fatal(err)
			}
			algDir := filepath.Join(path, BlobsDir, "sha256")
			if fi, err := os.Lstat(algDir); err != nil || fi.Mode() != blobs.Mode() {
				t.Errorf("%s: %v (%v), want the mode of blobs/, %v", algDir, fi.Mode(), err, blobs.Mode())
			}
			ents, err := os.ReadDir(algDir)
			if err != nil {
				t.Fatal(err)
			}
			if len(ents) != 9*tc.images {
				t.Errorf("%d blobs in %s, want %d", len(ents), algDir, 9*tc.images)
			}
			for _, e := range ents {
				if fi, err := e.Info(); err != nil || fi.Mode() != blobPerm {
					t.Errorf("blob %s: mode %v (%v), want %v", e.Name(), fi.Mode(), err, os.FileMode(blobPerm))
				}
			}
			if _, err := os.Lstat(filepath.Join(path, TempDir)); !os.IsNotExist(err) {
				t.Errorf("%s left after Commit: %v", TempDir, err)
			}
		})
	}
}
