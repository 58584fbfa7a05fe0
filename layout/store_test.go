package layout

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

func TestInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "layout")
	s, err := Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Path() != dir {
		t.Errorf("Path() = %q, want %q", s.Path(), dir)
	}
	for _, tc := range []struct{ file, want string }{
		{LayoutFile, `{"imageLayoutVersion":"1.0.0"}`},
		{IndexFile, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`},
	} {
		got, err := os.ReadFile(filepath.Join(dir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("%s = %s, want %s", tc.file, got, tc.want)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "blobs", "sha256")); err != nil || !fi.IsDir() {
		t.Fatalf("blobs/sha256: %v", err)
	}

	// Init again keeps what is there, byte for byte and inode for inode.
	im := buildImage(t, s, "x")
	if err := s.Tag(t.Context(), im.index, "example.com/x:1"); err != nil {
		t.Fatal(err)
	}
	before := treeState(t, dir)
	if _, err := Init(dir); err != nil {
		t.Fatal(err)
	}
	after := treeState(t, dir)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("Init changed %s: %s -> %s", k, v, after[k])
		}
	}
	if _, err := Open(dir); err != nil {
		t.Fatalf("Open after Init: %v", err)
	}
	rep, err := Verify(t.Context(), dir, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || len(rep.Problems) != 0 {
		t.Fatalf("Verify after Init: %+v", rep)
	}
}

func TestInitRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
	}{
		{"other version", func(t *testing.T, dir string) {
			mustWrite(t, filepath.Join(dir, LayoutFile), `{"imageLayoutVersion":"2.0.0"}`)
		}},
		{"file in the way", func(t *testing.T, dir string) {
			if err := os.Remove(dir); err != nil {
				t.Fatal(err)
			}
			mustWrite(t, dir, "not a directory")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "l")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			tc.setup(t, dir)
			if _, err := Init(dir); !errors.Is(err, ErrNotLayout) {
				t.Fatalf("Init: %v, want ErrNotLayout", err)
			}
		})
	}
}

func mustWrite(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}

func TestOpen(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T, dir string)
		wantErr error
	}{
		{"layout", func(t *testing.T, dir string) {}, nil},
		{"compact version with spaces", func(t *testing.T, dir string) {
			mustWrite(t, filepath.Join(dir, LayoutFile), " { \"imageLayoutVersion\" : \"1.0.0\" }\n")
		}, nil},
		{"no oci-layout", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, LayoutFile))
		}, ErrNotLayout},
		{"version 1.1.0", func(t *testing.T, dir string) {
			mustWrite(t, filepath.Join(dir, LayoutFile), `{"imageLayoutVersion":"1.1.0"}`)
		}, ErrNotLayout},
		{"no version", func(t *testing.T, dir string) {
			mustWrite(t, filepath.Join(dir, LayoutFile), `{}`)
		}, ErrNotLayout},
		{"not JSON", func(t *testing.T, dir string) {
			mustWrite(t, filepath.Join(dir, LayoutFile), `imageLayoutVersion: 1.0.0`)
		}, ErrNotLayout},
		{"oci-layout symlink", func(t *testing.T, dir string) {
			other := filepath.Join(t.TempDir(), "x")
			mustWrite(t, other, `{"imageLayoutVersion":"1.0.0"}`)
			os.Remove(filepath.Join(dir, LayoutFile))
			if err := os.Symlink(other, filepath.Join(dir, LayoutFile)); err != nil {
				t.Fatal(err)
			}
		}, ErrNotLayout},
		{"no blobs", func(t *testing.T, dir string) {
			os.RemoveAll(filepath.Join(dir, BlobsDir))
		}, ErrNotLayout},
		{"missing dir", func(t *testing.T, dir string) {
			os.RemoveAll(dir)
		}, ErrNotLayout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			tc.setup(t, s.Path())
			before := treeState(t, filepath.Dir(s.Path()))
			_, err := Open(s.Path())
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Open: %v, want %v", err, tc.wantErr)
			}
			if after := treeState(t, filepath.Dir(s.Path())); len(after) != len(before) {
				t.Errorf("Open wrote something: %v -> %v", before, after)
			}
		})
	}
}

// readOnlyMount bind-mounts a copy of src read-only and returns the mount point; it skips the
// test where mounting is not permitted.
func readOnlyMount(tb testing.TB, src string) string {
	tb.Helper()
	dir := copyDir(tb, src)
	mnt := filepath.Join(tb.TempDir(), "ro")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := unix.Mount(dir, mnt, "", unix.MS_BIND, ""); err != nil {
		tb.Skipf("bind mount not permitted here: %v", err)
	}
	tb.Cleanup(func() {
		if err := unix.Unmount(mnt, 0); err != nil {
			tb.Errorf("unmount %s: %v", mnt, err)
		}
	})
	if err := unix.Mount("", mnt, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		tb.Skipf("read-only remount not permitted here: %v", err)
	}
	return mnt
}

func TestReadOnlyMedia(t *testing.T) {
	dir := readOnlyMount(t, igStore)
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := s.Refs(t.Context())
	if err != nil {
		t.Fatalf("Refs on read-only media: %v", err)
	}
	if len(refs) == 0 {
		t.Fatal("no refs in ig-store")
	}
	desc, err := s.Resolve(t.Context(), "ttl.sh/signed_with_cosign_oci11:latest")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadAll(t.Context(), desc, MaxJSONBytes); err != nil {
		t.Fatalf("ReadAll on read-only media: %v", err)
	}
	if _, err := Verify(t.Context(), dir, VerifyOptions{}); err != nil {
		t.Fatalf("Verify on read-only media: %v", err)
	}
	if err := s.Tag(t.Context(), desc, "example.com/x:1"); !errors.Is(err, unix.EROFS) {
		t.Fatalf("Tag on read-only media: %v, want EROFS", err)
	}
}

func TestInitConcurrent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layout")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Init(dir)
			if err == nil {
				_, err = s.WriteBlob(t.Context(), strings.NewReader("same"))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rep := assertVerifies2(t, dir)
	if rep.Blobs != 1 {
		t.Fatalf("%d blobs, want 1", rep.Blobs)
	}
}

// assertVerifies2 is assertVerifies that accepts unreferenced blobs.
func assertVerifies2(tb testing.TB, path string) *Report {
	tb.Helper()
	rep, err := Verify(tb.Context(), path, VerifyOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	for _, p := range rep.Problems {
		if p.Rule != RuleUnreferenced {
			tb.Error(p.String())
		}
	}
	return rep
}
