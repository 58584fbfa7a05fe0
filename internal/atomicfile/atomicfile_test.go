package atomicfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gadgetpack/gadgetpack/internal/testfs"
)

// errReader yields some bytes, then fails.
type errReader struct{ n int }

var errBroken = errors.New("broken reader")

func (r *errReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errBroken
	}
	n := min(len(p), r.n)
	for i := range n {
		p[i] = 'x'
	}
	r.n -= n
	return n, nil
}

// listDir lists a folder's names, sorted.
var listDir = testfs.DirNames

func TestWrite(t *testing.T) {
	for _, tc := range []struct {
		name    string
		old     string // "" means no file before
		r       io.Reader
		perm    fs.FileMode
		want    string // content afterwards
		wantErr error
	}{
		{name: "new file", r: strings.NewReader("hello"), perm: 0o644, want: "hello"},
		{name: "replace", old: "old content", r: strings.NewReader("new"), perm: 0o600, want: "new"},
		{name: "empty", old: "x", r: strings.NewReader(""), perm: 0o644, want: ""},
		{name: "reader fails, no file", r: &errReader{n: 3 << 20}, perm: 0o644, wantErr: errBroken},
		{name: "reader fails, old kept", old: "keep me", r: &errReader{n: 10}, perm: 0o644, want: "keep me", wantErr: errBroken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "index.json")
			if tc.old != "" {
				if err := os.WriteFile(path, []byte(tc.old), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := Write(path, tc.r, tc.perm)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Write: err %v, want %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			got, rerr := os.ReadFile(path)
			switch {
			case tc.old == "" && tc.wantErr != nil:
				if !errors.Is(rerr, fs.ErrNotExist) {
					t.Errorf("file exists after a failed Write: %v", rerr)
				}
			case rerr != nil:
				t.Fatal(rerr)
			case string(got) != tc.want:
				t.Errorf("content %q, want %q", got, tc.want)
			}
			if tc.wantErr == nil {
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != tc.perm {
					t.Errorf("mode %v, want %v", fi.Mode().Perm(), tc.perm)
				}
			}
			// Never a temp file left behind, success or not.
			names := listDir(t, dir)
			if tc.old == "" && tc.wantErr != nil {
				if len(names) != 0 {
					t.Errorf("directory holds %v, want nothing", names)
				}
			} else if len(names) != 1 || names[0] != "index.json" {
				t.Errorf("directory holds %v, want [index.json]", names)
			}
		})
	}
}

func TestWriteTempName(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "index.json")
	// A reader that looks at the directory while Write is running sees the temp file.
	var seen []string
	r := readerFunc(func(p []byte) (int, error) {
		if seen == nil {
			seen = listDir(t, dir)
			return copy(p, "{}"), nil
		}
		return 0, io.EOF
	})
	if err := Write(path, r, 0o644); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || !strings.HasPrefix(seen[0], ".index.json.tmp-") {
		t.Fatalf("during Write the directory held %v, want one .index.json.tmp-<random>", seen)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestWriteFileMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "file")
	if err := WriteFile(path, []byte("x"), 0o644); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("WriteFile into a missing directory: %v, want fs.ErrNotExist", err)
	}
}

func TestSyncDir(t *testing.T) {
	dir := t.TempDir()
	if err := SyncDir(dir); err != nil {
		t.Fatalf("SyncDir(%s): %v", dir, err)
	}
	if err := SyncDir(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("SyncDir(missing): %v, want fs.ErrNotExist", err)
	}
}

func TestPublish(t *testing.T) {
	for _, tc := range []struct {
		name    string
		old     string
		replace bool
		want    string
		wantErr error
	}{
		{name: "new", want: "new"},
		{name: "new, replace", replace: true, want: "new"},
		{name: "exists, kept", old: "old", want: "old", wantErr: fs.ErrExist},
		{name: "exists, replaced", old: "old", replace: true, want: "new"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tmp := filepath.Join(dir, "tmp")
			dst := filepath.Join(dir, "blob")
			if err := os.WriteFile(tmp, []byte("new"), 0o444); err != nil {
				t.Fatal(err)
			}
			var oldInfo fs.FileInfo
			if tc.old != "" {
				if err := os.WriteFile(dst, []byte(tc.old), 0o444); err != nil {
					t.Fatal(err)
				}
				var err error
				if oldInfo, err = os.Stat(dst); err != nil {
					t.Fatal(err)
				}
			}
			err := Publish(tmp, dst, tc.replace)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Publish: %v, want %v", err, tc.wantErr)
			}
			got, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("content %q, want %q", got, tc.want)
			}
			_, tmpErr := os.Stat(tmp)
			if tc.wantErr != nil {
				// The existing file is the same inode, and the temp file is the caller's.
				fi, err := os.Stat(dst)
				if err != nil {
					t.Fatal(err)
				}
				if !os.SameFile(fi, oldInfo) {
					t.Errorf("existing file was replaced")
				}
				if tmpErr != nil {
					t.Errorf("temp file gone after a refused Publish: %v", tmpErr)
				}
			} else if !errors.Is(tmpErr, fs.ErrNotExist) {
				t.Errorf("temp file still there after Publish: %v", tmpErr)
			}
		})
	}
}

func TestWriteNew(t *testing.T) {
	for _, tc := range []struct {
		name    string
		old     string
		want    string
		wantErr error
	}{
		{name: "absent", want: "new"},
		{name: "present", old: "old", want: "old", wantErr: fs.ErrExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "oci-layout")
			if tc.old != "" {
				if err := os.WriteFile(path, []byte(tc.old), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := WriteNew(path, strings.NewReader("new"), 0o644); !errors.Is(err, tc.wantErr) {
				t.Fatalf("WriteNew: %v, want %v", err, tc.wantErr)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("content %q, want %q", got, tc.want)
			}
			if names := listDir(t, dir); len(names) != 1 {
				t.Errorf("directory holds %v, want only oci-layout", names)
			}
		})
	}
}

func TestWriteNewRace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	const n = 16
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- WriteNew(path, strings.NewReader(strings.Repeat("x", i+1)), 0o644) }()
	}
	wins := 0
	for range n {
		err := <-errs
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, fs.ErrExist):
			t.Errorf("WriteNew: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d WriteNew calls succeeded, want exactly 1", wins)
	}
	if names := listDir(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v, want only f", names)
	}
}
