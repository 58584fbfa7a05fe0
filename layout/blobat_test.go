package layout

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// TestReadBlobAt pins the checks of a blob read ahead (readBlobAt): only a regular file that is
// no symlink, of the declared size and hashing to the digest, is read; a FIFO or a device is
// refused before any open, and the read never blocks.
func TestReadBlobAt(t *testing.T) {
	content := []byte(`{"architecture":"amd64","os":"linux"}`)
	other := []byte(`{"architecture":"arm64","os":"linux"}`) // same size, other digest
	for _, tc := range []struct {
		name string
		// put replaces the blob's file (path) with what the case reads; nil keeps it.
		put  func(t *testing.T, s *Store, path string)
		want error // nil: the content comes back
	}{
		{name: "regular file", want: nil},
		{name: "missing", put: func(t *testing.T, _ *Store, path string) { mustRemove(t, path) }, want: ErrNotFound},
		{name: "other content of the same size", put: func(t *testing.T, _ *Store, path string) {
			mustRemove(t, path)
			if err := os.WriteFile(path, other, 0o444); err != nil {
				t.Fatal(err)
			}
		}, want: ErrDigestMismatch},
		{name: "longer file", put: func(t *testing.T, _ *Store, path string) {
			mustRemove(t, path)
			if err := os.WriteFile(path, append(bytes.Clone(content), ' '), 0o444); err != nil {
				t.Fatal(err)
			}
		}, want: ErrSizeMismatch},
		{name: "symlink to a good copy", put: func(t *testing.T, _ *Store, path string) {
			good := path + ".good"
			if err := os.Rename(path, good); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(good, path); err != nil {
				t.Fatal(err)
			}
		}, want: ErrNotRegular},
		{name: "fifo", put: func(t *testing.T, _ *Store, path string) {
			mustRemove(t, path)
			if err := unix.Mkfifo(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}, want: ErrNotRegular},
		{name: "directory", put: func(t *testing.T, _ *Store, path string) {
			mustRemove(t, path)
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		}, want: ErrNotRegular},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			desc := writeBlob(t, s, ocispec.MediaTypeImageConfig, content)
			if tc.put != nil {
				tc.put(t, s, blobFilePath(s, desc.Digest))
			}
			dirs, err := s.openBlobDirs()
			if err != nil {
				t.Fatal(err)
			}
			defer dirs.close()
			dir, err := dirs.get(blobAtAlg)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			var data []byte
			go func() {
				defer close(done)
				data, err = s.readBlobAt(int(dir.Fd()), desc)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("readBlobAt blocked")
			}
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("got %v, want the content", err)
			case tc.want == nil && !bytes.Equal(data, content):
				t.Fatalf("got %q, want %q", data, content)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("got %v (%d bytes), want %v", err, len(data), tc.want)
			}
		})
	}
}

func mustRemove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}
