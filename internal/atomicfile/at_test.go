package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestOpenDirAt(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	mustMkdir(t, filepath.Join(root, "real"))
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(root, "inner-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, tc := range []struct {
		name string
		want error
	}{
		{"real", nil},
		{"link", unix.ENOTDIR},
		{"inner-link", unix.ENOTDIR},
		{"file", unix.ENOTDIR},
		{"fifo", unix.ENOTDIR},
		{"missing", fs.ErrNotExist},
		{"..", fs.ErrInvalid},
		{"real/..", fs.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := OpenDirAt(d, tc.name)
			if !errors.Is(err, tc.want) {
				t.Fatalf("OpenDirAt(%q): %v, want %v", tc.name, err, tc.want)
			}
			if err == nil {
				if f.Name() != filepath.Join(root, tc.name) {
					t.Errorf("Name %q", f.Name())
				}
				f.Close()
			}
		})
	}
}

// TestPublishAtHeldFolder swaps the path of a held folder for a symlink to another folder
// before publishing: the file lands in the held folder, never where the symlink points.
func TestPublishAtHeldFolder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		replace bool
	}{
		{"no replace", false},
		{"replace", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			outside := t.TempDir()
			mustMkdir(t, filepath.Join(root, "tmp"))
			mustMkdir(t, filepath.Join(root, "blobs"))
			d, err := OpenDir(root)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			tmp, err := OpenDirAt(d, "tmp")
			if err != nil {
				t.Fatal(err)
			}
			defer tmp.Close()
			blobs, err := OpenDirAt(d, "blobs")
			if err != nil {
				t.Fatal(err)
			}
			defer blobs.Close()
			f, name, err := CreateLockedAt(tmp, "blob-*")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(name, "blob-") || f.Name() != filepath.Join(root, "tmp", name) {
				t.Fatalf("CreateLockedAt: name %q, path %q", name, f.Name())
			}
			if _, err := f.WriteString("content"); err != nil {
				t.Fatal(err)
			}
			f.Close()
			// The path swapped: blobs/ moved away, a symlink to outside in its place.
			if err := os.Rename(filepath.Join(root, "blobs"), filepath.Join(root, "moved")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, filepath.Join(root, "blobs")); err != nil {
				t.Fatal(err)
			}
			if err := PublishAt(tmp, name, blobs, "x", tc.replace); err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(filepath.Join(root, "moved", "x")); err != nil || string(got) != "content" {
				t.Errorf("published file: %q, %v", got, err)
			}
			if names := listDir(t, outside); len(names) != 0 {
				t.Errorf("the symlink's target holds %v", names)
			}
			// No replace: an existing name stays, and the temp file is the caller's.
			if err := os.WriteFile(filepath.Join(root, "tmp", "again"), []byte("other"), 0o644); err != nil {
				t.Fatal(err)
			}
			err = PublishAt(tmp, "again", blobs, "x", tc.replace)
			want := "other"
			if !tc.replace {
				want = "content"
				if !errors.Is(err, fs.ErrExist) {
					t.Fatalf("PublishAt onto an existing name: %v, want fs.ErrExist", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(filepath.Join(root, "moved", "x")); string(got) != want {
				t.Errorf("after a second publish: %q, want %q", got, want)
			}
		})
	}
}

func TestRemoveAllAtFollowsNothing(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "keep"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustMkdir(t, filepath.Join(root, "stage", "sub"))
	if err := os.Symlink(outside, filepath.Join(root, "stage", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "stage", "sub", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "stage", "sub", "f"), nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "top-link")); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, name := range []string{"stage", "top-link", "missing"} {
		if err := RemoveAllAt(d, name); err != nil {
			t.Fatalf("RemoveAllAt(%s): %v", name, err)
		}
	}
	if names := listDir(t, root); len(names) != 0 {
		t.Errorf("left %v", names)
	}
	if names := listDir(t, outside); len(names) != 1 {
		t.Errorf("outside holds %v, want [keep]", names)
	}
}

func TestRemoveIfDeadAt(t *testing.T) {
	dir := t.TempDir()
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	live, liveName, err := CreateLockedAt(d, "blob-*")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	dead, deadName, err := CreateLockedAt(d, "blob-*")
	if err != nil {
		t.Fatal(err)
	}
	dead.Close()
	liveDir, liveDirName, err := MkdirLockedAt(d, "stage-*")
	if err != nil {
		t.Fatal(err)
	}
	defer liveDir.Close()
	deadDir, deadDirName, err := MkdirLockedAt(d, "stage-*")
	if err != nil {
		t.Fatal(err)
	}
	deadDir.Close()
	if err := unix.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		dead bool
	}{
		{liveName, false},
		{liveDirName, false},
		{"fifo", false},
		{"missing", false},
		{deadName, true},
		{deadDirName, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RemoveIfDeadAt(d, tc.name, true)
			if err != nil || got != tc.dead {
				t.Fatalf("RemoveIfDeadAt = %v, %v; want %v", got, err, tc.dead)
			}
			_, err = os.Lstat(filepath.Join(dir, tc.name))
			if gone := errors.Is(err, fs.ErrNotExist); gone != (tc.dead || tc.name == "missing") {
				t.Fatalf("after: %v", err)
			}
		})
	}
}

func mustMkdir(tb testing.TB, path string) {
	tb.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		tb.Fatal(err)
	}
}

func TestCreateFDAt(t *testing.T) {
	root := t.TempDir()
	outside := filepath.Join(t.TempDir(), "target")
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "file"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, tc := range []struct {
		name string
		want error
	}{
		{"new", nil},
		{"file", fs.ErrExist},
		{"link", fs.ErrExist}, // O_EXCL: not even a dangling symlink's target is created
		{"..", fs.ErrInvalid},
		{"a/b", fs.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fd, err := CreateFDAt(d, tc.name, 0o444)
			if !errors.Is(err, tc.want) {
				t.Fatalf("CreateFDAt(%q): %v, want %v", tc.name, err, tc.want)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tc.name) {
					t.Errorf("error %q does not name %q", err, tc.name)
				}
				return
			}
			if _, err := unix.Write(fd, []byte("data")); err != nil {
				t.Fatalf("write to a file created read-only: %v", err)
			}
			if err := unix.Close(fd); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(filepath.Join(root, tc.name))
			if err != nil || !fi.Mode().IsRegular() || fi.Size() != 4 {
				t.Fatalf("created: %v, %v", fi, err)
			}
		})
	}
	if _, err := os.Lstat(outside); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the symlink's target was created: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "file")); string(data) != "old" {
		t.Errorf("the existing file changed: %q", data)
	}
}
