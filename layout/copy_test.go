package layout

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

func TestCopy(t *testing.T) {
	src := newStore(t)
	c := t.Context()
	a := buildImage(t, src, "a")
	b := buildImage(t, src, "b")
	if err := src.Tag(c, a.index, "a"); err != nil {
		t.Fatal(err)
	}
	if err := src.Tag(c, b.index, "b"); err != nil {
		t.Fatal(err)
	}
	sig := referrerOf(t, src, a.index, "sig")
	if _, err := src.AddEntries(c, []ocispec.Descriptor{sig}, AddOptions{}); err != nil { // listed, as ig and gadgetpack list referrers
		t.Fatal(err)
	}
	ra, err := src.Resolve(c, "a")
	if err != nil {
		t.Fatal(err)
	}

	dst := newStore(t)
	var last, total int64
	res, err := Copy(c, src, dst, []ocispec.Descriptor{ra}, CopyOptions{Jobs: 3, Progress: func(d, t int64) { last, total = d, t }})
	if err != nil {
		t.Fatal(err)
	}
	want := len(a.all()) + 3 // the referrer, its empty config and its layer
	if res.Blobs != want || res.Copied != want || res.Entries.Added != 2 || res.Written != res.Bytes || last != total || total != res.Bytes {
		t.Fatalf("result %+v (progress %d/%d), want %d blobs copied and 2 entries added (the ref and its listed referrer)", res, last, total, want)
	}
	if got, err := dst.Resolve(c, "a"); err != nil || got.Digest != a.index.Digest {
		t.Fatalf("a in target: %v %v", got.Digest, err)
	}
	if _, err := dst.Resolve(c, "b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("b was not asked for, but Resolve says %v", err)
	}
	if refs, _ := dst.Referrers(c, a.index); len(refs) != 1 || refs[0].Digest != sig.Digest {
		t.Fatalf("referrer not carried: %v", refs)
	}
	verifyClean(t, dst)

	// Again: nothing written.
	res, err = Copy(c, src, dst, []ocispec.Descriptor{ra}, CopyOptions{})
	if err != nil || res.Copied != 0 || res.Entries.Unchanged != 2 {
		t.Fatalf("second copy: %+v %v", res, err)
	}

	// A ref of the target pointing elsewhere: refused whole, then forced.
	rb, _ := src.Resolve(c, "b")
	moved := rb
	moved.Annotations = map[string]string{ocispec.AnnotationRefName: "a"}
	before := readIndexBytes(t, dst)
	if _, err := Copy(c, src, dst, []ocispec.Descriptor{moved}, CopyOptions{}); !errors.Is(err, ErrRefExists) {
		t.Fatalf("conflict: err = %v, want ErrRefExists", err)
	}
	if !slices.Equal(before, readIndexBytes(t, dst)) {
		t.Fatal("index.json changed by a refused copy")
	}
	if res, err := Copy(c, src, dst, []ocispec.Descriptor{moved}, CopyOptions{Force: true}); err != nil || res.Entries.Replaced != 1 {
		t.Fatalf("forced: %+v %v", res, err)
	}
	// a's old blobs are garbage now (its signature stays: index.json lists it, as ig's store
	// lists referrers); once collected, the target is clean.
	plan, err := dst.PlanGC(c)
	if err != nil || len(plan.Blobs) != len(a.all()) {
		t.Fatalf("gc plan after the move: %v %v, want %d blobs", plan, err, len(a.all()))
	}
	if err := dst.ApplyGC(c, plan); err != nil {
		t.Fatal(err)
	}
	verifyClean(t, dst)
}

// verifyClean fails unless s verifies with no finding at all.
func verifyClean(tb testing.TB, s *Store) {
	tb.Helper()
	rep, err := Verify(tb.Context(), s.Path(), VerifyOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	if !rep.OK || len(rep.Problems) > 0 {
		tb.Fatalf("verify %s: %v", s.Path(), rep.Problems)
	}
}

func TestCopyDamagedSource(t *testing.T) {
	src := newStore(t)
	c := t.Context()
	a := buildImage(t, src, "a")
	if err := src.Tag(c, a.index, "a"); err != nil {
		t.Fatal(err)
	}
	ra, _ := src.Resolve(c, "a")
	bad := a.layers[1]
	path := filepath.Join(src.Path(), "blobs", "sha256", bad.Digest.Encoded())
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[100] ^= 1
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	dst := newStore(t)
	before := treeState(t, dst.Path())
	_, err = Copy(c, src, dst, []ocispec.Descriptor{ra}, CopyOptions{Jobs: 1})
	if !errors.Is(err, ErrDigestMismatch) || !strings.Contains(err.Error(), string(bad.Digest)) {
		t.Fatalf("err = %v, want ErrDigestMismatch naming %s", err, bad.Digest)
	}
	if ok, _ := dst.Exists(c, bad); ok {
		t.Fatal("the damaged blob was published")
	}
	// Nothing else either: the blobs staged before the damaged one went with the stage.
	if after := treeState(t, dst.Path()); !mapsEqual(before, after) {
		t.Fatalf("the target changed:\nbefore %v\nafter  %v", before, after)
	}
}

// countSyncs counts the fsync (files) and syncfs (fs) calls that make blobs durable while fn
// runs.
func countSyncs(tb testing.TB, fn func()) (files, fs int64) {
	tb.Helper()
	var n syncCounts
	syncCalls = &n
	defer func() { syncCalls = nil }()
	fn()
	return n.files.Load(), n.fs.Load()
}

// TestCopySyncsBounded checks that a copy makes its blobs durable with a bounded number of
// fsync and syncfs calls, however many blobs it writes: one syncfs of the target's file system
// and one fsync of blobs/sha256 (Store.Push made two per blob: the file and its folder). A copy
// of a few blobs (one ref) fsyncs each instead, and waits for no other program's writes.
func TestCopySyncsBounded(t *testing.T) {
	if err := unix.Syncfs(int(mustOpen(t, t.TempDir()).Fd())); errors.Is(err, unix.ENOSYS) {
		t.Skip("no syncfs here: the stage fsyncs each file")
	}
	for _, tc := range []struct {
		name          string
		images        int // of 9 blobs each
		files, syncfs int64
	}{
		{"1 image", 1, 9 + 1, 0}, // its 9 blobs and blobs/sha256
		{"2 images", 2, 1, 1},
		{"25 images", 25, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := t.Context()
			src := newStore(t)
			for i := range tc.images {
				im := buildImage(t, src, fmt.Sprintf("img%d", i))
				if err := src.Tag(c, im.index, fmt.Sprintf("img%d", i)); err != nil {
					t.Fatal(err)
				}
			}
			refs, err := src.Refs(c)
			if err != nil {
				t.Fatal(err)
			}
			dst := newStore(t)
			var res *CopyResult
			files, fs := countSyncs(t, func() { res, err = Copy(c, src, dst, refs, CopyOptions{}) })
			if err != nil {
				t.Fatal(err)
			}
			if res.Copied != tc.images*9 || res.Entries.Added != tc.images {
				t.Fatalf("result %+v, want %d blobs copied", res, tc.images*9)
			}
			if files != tc.files || fs != tc.syncfs {
				t.Errorf("%d fsyncs and %d syncfs for %d blobs, want %d and %d", files, fs, res.Copied, tc.files, tc.syncfs)
			}
			verifyClean(t, dst)
		})
	}
}

// mustOpen opens path for reading.
func mustOpen(tb testing.TB, path string) *os.File {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = f.Close() })
	return f
}

func TestCopyIGStore(t *testing.T) {
	src, err := Open(copyDir(t, igStore))
	if err != nil {
		t.Fatal(err)
	}
	c := t.Context()
	refs, err := src.Refs(c)
	if err != nil {
		t.Fatal(err)
	}
	dst := newStore(t)
	if _, err := Copy(c, src, dst, refs, CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	verifyClean(t, dst) // no dangling entry, no garbage blob: only what the refs carry
	got, err := dst.Refs(c)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(entryNames(got), entryNames(refs)) {
		t.Fatalf("refs\n got %v\nwant %v", entryNames(got), entryNames(refs))
	}
}

// TestCopyWaitsForIndexLock holds the target's index.json.lock as ig would (flock on another
// open file) and checks that Copy waits for it, then lands.
func TestCopyWaitsForIndexLock(t *testing.T) {
	src := newStore(t)
	c := t.Context()
	a := buildImage(t, src, "a")
	if err := src.Tag(c, a.index, "a"); err != nil {
		t.Fatal(err)
	}
	ra, _ := src.Resolve(c, "a")
	dst := newStore(t)
	f, err := os.OpenFile(filepath.Join(dst.Path(), LockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := Copy(c, src, dst, []ocispec.Descriptor{ra}, CopyOptions{})
		errc <- err
	}()
	select {
	case err := <-errc:
		t.Fatalf("Copy returned (%v) while the index lock was held", err)
	case <-time.After(300 * time.Millisecond):
	}
	if strings.Contains(string(readIndexBytes(t, dst)), `"a"`) {
		t.Fatal("ref written before the lock was released")
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	verifyClean(t, dst)
}

// TestCopyScanReferrers: a referrer kept as a bare blob stays behind, unless the copy scans
// for referrers; then the target lists it in index.json, so its next copy needs no scan.
func TestCopyScanReferrers(t *testing.T) {
	c := t.Context()
	src := newStore(t)
	im := buildImage(t, src, "bare")
	if err := src.Tag(c, im.index, "bare"); err != nil {
		t.Fatal(err)
	}
	sig := referrerOf(t, src, im.index, "sig")
	ref, err := src.Resolve(c, "bare")
	if err != nil {
		t.Fatal(err)
	}
	for _, scan := range []bool{false, true} {
		dst := newStore(t)
		if _, err := Copy(c, src, dst, []ocispec.Descriptor{ref}, CopyOptions{ScanReferrers: scan}); err != nil {
			t.Fatal(err)
		}
		refs, err := dst.Referrers(c, im.index)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(refs) == 1 && refs[0].Digest == sig.Digest; got != scan {
			t.Errorf("scan %v: referrer listed in the target: %v (%v)", scan, got, refs)
		}
		if ok, _ := dst.Exists(c, sig); ok != scan {
			t.Errorf("scan %v: referrer blob in the target: %v", scan, ok)
		}
	}
}
