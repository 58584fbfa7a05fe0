package layout

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// TestStageFileCalls counts the system calls a staged blob's file costs besides its writes: an
// open and a close, plus one fstat per stage (the first file tells whether files get blobPerm at
// their creation), and an fchmod per file only when the umask takes bits from blobPerm (an
// *os.File and an fchmod each cost an fcntl, the fchmod and a finalizer more). Every file ends
// with mode blobPerm either way.
func TestStageFileCalls(t *testing.T) {
	src := newStore(t)
	var descs []ocispec.Descriptor
	for i := range 3 {
		descs = append(descs, buildImage(t, src, fmt.Sprintf("img%d", i)).all()...)
	}
	for _, tc := range []struct {
		name    string
		umask   int
		perBlob int64
	}{
		{"umask 022", 0o022, 2},
		{"umask 044", 0o044, 3}, // files are created 0400: each gets its fchmod
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := unix.Umask(tc.umask)
			defer unix.Umask(old)
			path := filepath.Join(t.TempDir(), "layout")
			st, err := NewStageAt(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Discard()
			var n atomic.Int64
			stageCalls = &n
			pushAll(t, st, src, descs)
			stageCalls = nil
			if want := tc.perBlob*int64(len(descs)) + 1; n.Load() != want {
				t.Errorf("%d calls on the files of %d staged blobs, want %d", n.Load(), len(descs), want)
			}
			st.mu.Lock()
			dir := st.lock.Name()
			st.mu.Unlock()
			for _, d := range descs {
				fi, err := os.Lstat(filepath.Join(dir, stagedName(d.Digest)))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode() != blobPerm {
					t.Errorf("staged %s: mode %v, want %v", d.Digest, fi.Mode(), os.FileMode(blobPerm))
				}
			}
		})
	}
}
