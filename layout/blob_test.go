package layout

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestWriteBlob(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"small", []byte("hello")},
		{"two buffers and a bit", pseudoRandom("big", 2*bufSize+17)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			desc, err := s.WriteBlob(t.Context(), bytes.NewReader(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			want := ocispec.Descriptor{Digest: digest.FromBytes(tc.data), Size: int64(len(tc.data))}
			if desc.Digest != want.Digest || desc.Size != want.Size || desc.MediaType != "" {
				t.Fatalf("WriteBlob = %+v, want %+v", desc, want)
			}
			path := filepath.Join(s.Path(), "blobs", "sha256", want.Digest.Encoded())
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.data) {
				t.Fatal("blob content differs")
			}
			fi1, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi1.Mode().Perm() != blobPerm {
				t.Errorf("blob mode %v, want %v", fi1.Mode().Perm(), os.FileMode(blobPerm))
			}
			// Idempotent: the second write leaves the file alone.
			time.Sleep(10 * time.Millisecond)
			desc2, err := s.WriteBlob(t.Context(), bytes.NewReader(tc.data))
			if err != nil || desc2.Digest != desc.Digest || desc2.Size != desc.Size {
				t.Fatalf("second WriteBlob = %+v, %v", desc2, err)
			}
			fi2, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if !os.SameFile(fi1, fi2) || !fi1.ModTime().Equal(fi2.ModTime()) {
				t.Errorf("existing blob rewritten: inode %s -> %s, mtime %v -> %v", inode(fi1), inode(fi2), fi1.ModTime(), fi2.ModTime())
			}
			assertNoTemp(t, s)
		})
	}
}

// assertNoTemp fails when a writer temp file is left in the layout.
func assertNoTemp(tb testing.TB, s *Store) {
	tb.Helper()
	ents, _ := os.ReadDir(filepath.Join(s.Path(), TempDir))
	for _, e := range ents {
		tb.Errorf("temp file left: %s", e.Name())
	}
}

func TestPush(t *testing.T) {
	data := []byte(`{"hello":"world"}`)
	good := ocispec.Descriptor{MediaType: "application/json", Digest: digest.FromBytes(data), Size: int64(len(data))}
	for _, tc := range []struct {
		name    string
		desc    ocispec.Descriptor
		r       io.Reader
		wantErr error
	}{
		{"good", good, bytes.NewReader(data), nil},
		{"short", good, bytes.NewReader(data[:5]), ErrShortRead},
		{"trailing", good, bytes.NewReader(append(data, '\n')), ErrTrailingData},
		{"flipped", good, bytes.NewReader(bytes.ToUpper(data)), ErrDigestMismatch},
		{"bad digest", ocispec.Descriptor{Digest: "sha256:XYZ", Size: 1}, strings.NewReader("x"), ErrInvalidDigest},
		{"unknown algorithm", ocispec.Descriptor{Digest: "md5:d41d8cd98f00b204e9800998ecf8427e", Size: 1}, strings.NewReader("x"), ErrInvalidDigest},
		{"negative size", ocispec.Descriptor{Digest: good.Digest, Size: -1}, bytes.NewReader(data), ErrSizeMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			err := s.Push(t.Context(), tc.desc, tc.r)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Push: %v, want %v", err, tc.wantErr)
			}
			ok, xerr := s.Exists(t.Context(), good)
			if xerr != nil {
				t.Fatal(xerr)
			}
			if ok != (tc.wantErr == nil) {
				t.Fatalf("Exists after Push = %v", ok)
			}
			if err != nil && tc.desc.Digest.Validate() == nil && !strings.Contains(err.Error(), string(tc.desc.Digest)) {
				t.Errorf("error %q does not name the digest", err)
			}
			assertNoTemp(t, s)
			if tc.wantErr != nil {
				return
			}
			fi1, _ := os.Stat(filepath.Join(s.Path(), "blobs", "sha256", good.Digest.Encoded()))
			// Already there: ErrAlreadyExists, without reading, file untouched.
			r := &countReader{r: bytes.NewReader(data)}
			if err := s.Push(t.Context(), good, r); !errors.Is(err, ErrAlreadyExists) {
				t.Fatalf("second Push: %v, want ErrAlreadyExists", err)
			}
			if r.n != 0 {
				t.Errorf("second Push read %d bytes", r.n)
			}
			fi2, _ := os.Stat(filepath.Join(s.Path(), "blobs", "sha256", good.Digest.Encoded()))
			if !os.SameFile(fi1, fi2) {
				t.Error("second Push replaced the blob")
			}
		})
	}
}

type countReader struct {
	r io.Reader
	n int
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestPushCancel(t *testing.T) {
	s := newStore(t)
	data := pseudoRandom("cancel", 3*bufSize)
	desc := ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}
	c, cancel := context.WithCancel(t.Context())
	r := readerFunc(func(p []byte) (int, error) { cancel(); return copy(p, data[:10]), nil })
	if err := s.Push(c, desc, r); !errors.Is(err, context.Canceled) {
		t.Fatalf("Push with a cancelled context: %v", err)
	}
	if ok, _ := s.Exists(t.Context(), desc); ok {
		t.Fatal("blob stored after cancel")
	}
	assertNoTemp(t, s)
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestFetch(t *testing.T) {
	data := pseudoRandom("fetch", 5000)
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, path string)
		openErr error // from Fetch itself
		readErr error // from reading to the end
	}{
		{"intact", func(*testing.T, string) {}, nil, nil},
		{"flipped bit", func(t *testing.T, path string) { flipBit(t, path, 2500, 3) }, nil, ErrDigestMismatch},
		{"flipped first bit", func(t *testing.T, path string) { flipBit(t, path, 0, 0) }, nil, ErrDigestMismatch},
		{"truncated", func(t *testing.T, path string) { truncate(t, path, 4000) }, ErrSizeMismatch, nil},
		{"trailing data", func(t *testing.T, path string) { appendTo(t, path, "x") }, ErrSizeMismatch, nil},
		{"missing", func(t *testing.T, path string) { os.Remove(path) }, ErrNotFound, nil},
		{"symlink", func(t *testing.T, path string) {
			other := filepath.Join(t.TempDir(), "x")
			mustWrite(t, other, string(data))
			os.Remove(path)
			if err := os.Symlink(other, path); err != nil {
				t.Fatal(err)
			}
		}, ErrNotRegular, nil},
		{"directory", func(t *testing.T, path string) {
			os.Remove(path)
			os.Mkdir(path, 0o755)
		}, ErrNotRegular, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			desc := writeBlob(t, s, "application/octet-stream", data)
			tc.damage(t, filepath.Join(s.Path(), "blobs", "sha256", desc.Digest.Encoded()))
			rc, err := s.Fetch(t.Context(), desc)
			if !errors.Is(err, tc.openErr) {
				t.Fatalf("Fetch: %v, want %v", err, tc.openErr)
			}
			if err != nil {
				if !strings.Contains(err.Error(), desc.Digest.String()) {
					t.Errorf("error %q does not name the digest", err)
				}
				return
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if !errors.Is(err, tc.readErr) {
				t.Fatalf("reading: %v, want %v", err, tc.readErr)
			}
			if err != nil && !strings.Contains(err.Error(), desc.Digest.String()) {
				t.Errorf("error %q does not name the digest", err)
			}
			if err == nil && !bytes.Equal(got, data) {
				t.Error("content differs")
			}
			// ReadAll agrees.
			if _, err := s.ReadAll(t.Context(), desc, 1<<20); !errors.Is(err, tc.readErr) {
				t.Errorf("ReadAll: %v, want %v", err, tc.readErr)
			}
		})
	}
}

func TestReadAllCap(t *testing.T) {
	s := newStore(t)
	desc := writeBlob(t, s, "application/json", []byte(`{"a":1}`))
	if _, err := s.ReadAll(t.Context(), desc, 3); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadAll over the cap: %v, want ErrTooLarge", err)
	}
	got, err := s.ReadAll(t.Context(), desc, desc.Size)
	if err != nil || string(got) != `{"a":1}` {
		t.Fatalf("ReadAll at the cap = %q, %v", got, err)
	}
}

func TestExists(t *testing.T) {
	s := newStore(t)
	desc := writeBlob(t, s, "application/octet-stream", []byte("abc"))
	for _, tc := range []struct {
		name    string
		desc    ocispec.Descriptor
		want    bool
		wantErr error
	}{
		{"present", desc, true, nil},
		{"absent", ocispec.Descriptor{Digest: digest.FromString("other"), Size: 5}, false, nil},
		{"wrong size", ocispec.Descriptor{Digest: desc.Digest, Size: 4}, false, ErrSizeMismatch},
		{"bad digest", ocispec.Descriptor{Digest: "sha256:abc", Size: 3}, false, ErrInvalidDigest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Exists(t.Context(), tc.desc)
			if got != tc.want || !errors.Is(err, tc.wantErr) {
				t.Fatalf("Exists = %v, %v; want %v, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// flipBit flips bit of the byte at off in the file at path.
func flipBit(tb testing.TB, path string, off int64, bit uint) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrPermission) {
		os.Chmod(path, 0o644)
		f, err = os.OpenFile(path, os.O_RDWR, 0)
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		tb.Fatal(err)
	}
	b[0] ^= 1 << bit
	if _, err := f.WriteAt(b[:], off); err != nil {
		tb.Fatal(err)
	}
}

func truncate(tb testing.TB, path string, size int64) {
	tb.Helper()
	if err := os.Truncate(path, size); err != nil {
		tb.Fatal(err)
	}
}

func appendTo(tb testing.TB, path, s string) {
	tb.Helper()
	os.Chmod(path, 0o644)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		tb.Fatal(err)
	}
}
