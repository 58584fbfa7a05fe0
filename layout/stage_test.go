package layout

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// pushAll pushes every blob of im from src into st.
func pushAll(tb testing.TB, st *Stage, src *Store, descs []ocispec.Descriptor) {
	tb.Helper()
	for _, d := range descs {
		rc, err := src.Fetch(tb.Context(), d)
		if err != nil {
			tb.Fatal(err)
		}
		err = st.Push(tb.Context(), d, rc)
		rc.Close()
		if err != nil {
			tb.Fatalf("push %s: %v", d.Digest, err)
		}
	}
}

// mustVerify fails the test unless the layout at path verifies without any problem.
func mustVerify(tb testing.TB, path string) {
	tb.Helper()
	rep, err := Verify(tb.Context(), path, VerifyOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	if len(rep.Problems) != 0 {
		tb.Fatalf("verify %s: %v", path, rep.Problems)
	}
}

func TestStageCommit(t *testing.T) {
	ctx := t.Context()
	src := newStore(t)
	im := buildImage(t, src, "one")
	dst := newStore(t)
	other := buildImage(t, dst, "other")
	if err := dst.Tag(ctx, other.index, "other:1"); err != nil {
		t.Fatal(err)
	}
	// A blob the target holds already is read, not written again.
	shared := im.layers[0]
	if err := dst.Push(ctx, shared, bytes.NewReader(pseudoRandom("one"+"amd64"+"1", 3000))); err != nil {
		t.Fatal(err)
	}
	sharedPath, _ := dst.blobPath(shared.Digest)
	before, _ := os.Stat(sharedPath)

	st, err := dst.NewStage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dst.Path(), TempDir)); len(ents) != 0 {
		t.Fatalf("NewStage wrote before any Push: %v", ents)
	}
	pushAll(t, st, src, im.all())
	if !st.Has(shared) || !st.Has(im.index) {
		t.Fatal("Has: pushed blobs missing")
	}
	if n, _ := st.Staged(); n != len(im.all())-1 {
		t.Fatalf("staged %d blobs, want %d (one was present)", n, len(im.all())-1)
	}
	// Nothing is visible in the layout before Commit.
	if ok, _ := dst.Exists(ctx, im.index); ok {
		t.Fatal("a staged blob is in blobs/ before Commit")
	}
	if err := st.Push(ctx, im.index, strings.NewReader("")); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("second push: %v, want ErrAlreadyExists", err)
	}
	res, err := st.Commit(ctx, []ocispec.Descriptor{named(im.index, "one:1")}, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 1 {
		t.Fatalf("AddResult %+v", res)
	}
	got, err := dst.Resolve(ctx, "one:1")
	if err != nil || got.Digest != im.index.Digest {
		t.Fatalf("resolve one:1: %v %v", got, err)
	}
	if _, err := dst.Resolve(ctx, "other:1"); err != nil {
		t.Fatalf("old ref lost: %v", err)
	}
	after, _ := os.Stat(sharedPath)
	if !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime()) {
		t.Fatal("a blob the layout held was rewritten")
	}
	if ents, _ := os.ReadDir(filepath.Join(dst.Path(), TempDir)); len(ents) != 0 {
		t.Fatalf("stage left behind: %v", ents)
	}
	mustVerify(t, dst.Path())
	if err := st.Push(ctx, im.index, strings.NewReader("")); err == nil {
		t.Fatal("Push after Commit worked")
	}
}

func TestStageRefused(t *testing.T) {
	ctx := t.Context()
	src := newStore(t)
	im := buildImage(t, src, "one")
	cases := []struct {
		name  string
		setup func(tb testing.TB, dst *Store)
		run   func(st *Stage) error
		want  error
		names string
	}{{
		name: "content does not match",
		run: func(st *Stage) error {
			pushAll(t, st, src, im.all()[1:])
			bad := im.index
			return st.Push(ctx, bad, bytes.NewReader(bytes.Repeat([]byte("x"), int(bad.Size))))
		},
		want: ErrDigestMismatch, names: string(im.index.Digest),
	}, {
		name: "short content",
		run: func(st *Stage) error {
			return st.Push(ctx, im.layers[1], bytes.NewReader(make([]byte, 10)))
		},
		want: ErrShortRead, names: string(im.layers[1].Digest),
	}, {
		name: "a layer missing",
		run: func(st *Stage) error {
			var some []ocispec.Descriptor
			for _, d := range im.all() {
				if d.Digest != im.layers[3].Digest {
					some = append(some, d)
				}
			}
			pushAll(t, st, src, some)
			_, err := st.Commit(ctx, []ocispec.Descriptor{named(im.index, "one:1")}, AddOptions{})
			return err
		},
		want: ErrGraphIncomplete, names: string(im.layers[3].Digest),
	}, {
		name: "ref exists",
		setup: func(tb testing.TB, dst *Store) {
			o := buildImage(tb, dst, "other")
			if err := dst.Tag(tb.Context(), o.index, "one:1"); err != nil {
				tb.Fatal(err)
			}
		},
		run: func(st *Stage) error {
			pushAll(t, st, src, im.all())
			_, err := st.Commit(ctx, []ocispec.Descriptor{named(im.index, "one:1")}, AddOptions{})
			return err
		},
		want: ErrRefExists, names: "one:1",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := newStore(t)
			if tc.setup != nil {
				tc.setup(t, dst)
			}
			before := treeState(t, dst.Path())
			st, err := dst.NewStage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			err = tc.run(st)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.names) {
				t.Fatalf("got %v, want %v naming %s", err, tc.want, tc.names)
			}
			st.Discard()
			after := treeState(t, dst.Path())
			if tc.want == ErrRefExists {
				// AddEntries refuses after publishing: only unreferenced blobs were added.
				for k := range before {
					if before[k] != after[k] {
						t.Errorf("%s changed", k)
					}
				}
				return
			}
			if !maps.Equal(before, after) {
				t.Fatalf("tree changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

func TestStageAtNewPath(t *testing.T) {
	ctx := t.Context()
	src := newStore(t)
	im := buildImage(t, src, "one")

	// Discarded: nothing is left, not even the folder.
	path := filepath.Join(t.TempDir(), "new", "layout")
	st, err := NewStageAt(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	pushAll(t, st, src, im.all())
	if _, err := os.Stat(filepath.Join(path, TempDir)); err != nil {
		t.Fatalf("no stage folder while staging: %v", err)
	}
	st.Discard()
	if _, err := os.Lstat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Discard left %s: %v", filepath.Dir(path), err)
	}

	// Committed: a layout.
	st, err = NewStageAt(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	pushAll(t, st, src, im.all())
	if _, err := st.Commit(ctx, []ocispec.Descriptor{named(im.index, "one:1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, path)

	// A folder with something else in it is no target.
	junk := t.TempDir()
	if err := os.WriteFile(filepath.Join(junk, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewStageAt(ctx, junk); !errors.Is(err, ErrNotLayout) {
		t.Fatalf("non-empty folder: %v, want ErrNotLayout", err)
	}
	// An empty folder is one, and stays as it was on Discard.
	empty := t.TempDir()
	st, err = NewStageAt(ctx, empty)
	if err != nil {
		t.Fatal(err)
	}
	pushAll(t, st, src, im.all()[:1])
	st.Discard()
	if ents, err := os.ReadDir(empty); err != nil || len(ents) != 0 {
		t.Fatalf("empty folder after Discard: %v %v", ents, err)
	}
}

func TestStageFetch(t *testing.T) {
	ctx := t.Context()
	src := newStore(t)
	im := buildImage(t, src, "one")
	dst := newStore(t)
	st, err := dst.NewStage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Discard()
	pushAll(t, st, src, []ocispec.Descriptor{im.index})
	data, err := ReadAllFrom(ctx, st.Fetch, im.index, MaxJSONBytes)
	if err != nil {
		t.Fatal(err)
	}
	if digest.FromBytes(data) != im.index.Digest {
		t.Fatal("staged content differs")
	}
	if _, err := st.Fetch(ctx, im.layers[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent blob: %v, want ErrNotFound", err)
	}
	wrong := im.index
	wrong.Size++
	if _, err := st.Fetch(ctx, wrong); !errors.Is(err, ErrSizeMismatch) {
		t.Fatalf("wrong size: %v, want ErrSizeMismatch", err)
	}
	if err := st.CheckGraph(ctx, []ocispec.Descriptor{im.index}); !errors.Is(err, ErrGraphIncomplete) || !strings.Contains(err.Error(), string(im.manifests[0].Digest)) {
		t.Fatalf("CheckGraph: %v", err)
	}
}

// stageHelperEnv makes this test binary a process that stages a blob and waits to be killed.
const stageHelperEnv = "GADGETPACK_STAGE_HELPER"

// TestStageHelperProcess is not a test: it is the body of the child processes of
// TestStageCleanTemp. It stages one blob in the layout $GADGETPACK_STAGE_HELPER, prints the
// stage folder and waits to be killed.
func TestStageHelperProcess(t *testing.T) {
	root := os.Getenv(stageHelperEnv)
	if root == "" {
		return
	}
	err := func() error {
		s, err := Open(root)
		if err != nil {
			return err
		}
		st, err := s.NewStage(context.Background())
		if err != nil {
			return err
		}
		data := []byte("half an import")
		if err := st.Push(context.Background(), ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}, bytes.NewReader(data)); err != nil {
			return err
		}
		fmt.Println(st.dir)
		time.Sleep(time.Minute)
		return nil
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, "stage helper:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// deadStage starts a child that stages a blob in s, kills it and returns its stage folder,
// relative to the layout root.
func deadStage(tb testing.TB, s *Store) string {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestStageHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), stageHelperEnv+"="+s.Path())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		tb.Fatalf("stage helper: %v", err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	rel, err := filepath.Rel(s.Path(), strings.TrimSpace(line))
	if err != nil {
		tb.Fatal(err)
	}
	return rel
}

func TestStageCleanTemp(t *testing.T) {
	ctx := t.Context()
	s := newStore(t)
	dead := deadStage(t, s)
	live, err := s.NewStage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Discard()
	data := []byte("in progress")
	if err := live.Push(ctx, ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	liveRel, _ := filepath.Rel(s.Path(), live.dir)

	plan, err := s.PlanGC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Temp) != 1 || plan.Temp[0] != dead {
		t.Fatalf("PlanGC temps %v, want [%s]", plan.Temp, dead)
	}
	removed, err := s.CleanTemp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != dead {
		t.Fatalf("CleanTemp removed %v, want [%s]", removed, dead)
	}
	if _, err := os.Stat(filepath.Join(s.Path(), dead)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dead stage still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.Path(), liveRel)); err != nil {
		t.Fatalf("live stage removed: %v", err)
	}
}

// gatedReader is a blob's content that signals its first Read on started and then waits for
// gate to close before it yields anything.
type gatedReader struct {
	r       io.Reader
	started chan struct{}
	gate    chan struct{}
	once    sync.Once
	reads   atomic.Int32
}

func newGatedReader(data []byte, gate chan struct{}) *gatedReader {
	return &gatedReader{r: bytes.NewReader(data), started: make(chan struct{}), gate: gate}
}

func (g *gatedReader) Read(p []byte) (int, error) {
	g.reads.Add(1)
	g.once.Do(func() { close(g.started) })
	<-g.gate
	return g.r.Read(p)
}

// blobBytes returns the content of desc in s.
func blobBytes(tb testing.TB, s *Store, desc ocispec.Descriptor) []byte {
	tb.Helper()
	data, err := ReadAllFrom(tb.Context(), s.Fetch, desc, desc.Size)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// TestStageConcurrentPush: 8 goroutines push into one stage at once, as an oras-go copy does:
// six push every blob of an image twice over (so pushes of one digest meet) and read back what
// they pushed (Exists, Has, Fetch), while two push the same layer at the same instant, the
// second one starting while the first is inside its Push. Each blob is staged once, the second
// push of the layer returns ErrAlreadyExists without reading its stream, and Commit publishes a
// sound layout. Meant to run under -race.
func TestStageConcurrentPush(t *testing.T) {
	ctx := t.Context()
	src := newStore(t)
	im := buildImage(t, src, "concurrent")
	dst := newStore(t)
	st, err := dst.NewStage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Discard()

	dup := im.layers[0]
	var jobs []ocispec.Descriptor
	for range 2 {
		for _, d := range im.all() {
			if d.Digest != dup.Digest {
				jobs = append(jobs, d)
			}
		}
	}
	work := make(chan ocispec.Descriptor)
	errs := make(chan error, 8+len(jobs))
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for d := range work {
				rc, err := src.Fetch(ctx, d)
				if err != nil {
					errs <- err
					continue
				}
				err = st.Push(ctx, d, rc)
				rc.Close()
				if err != nil && !errors.Is(err, ErrAlreadyExists) {
					errs <- fmt.Errorf("push %s: %w", d.Digest, err)
					continue
				}
				if ok, err := st.Exists(ctx, d); !ok || err != nil {
					errs <- fmt.Errorf("exists %s after push: %v %v", d.Digest, ok, err)
				}
				if !st.Has(d) {
					errs <- fmt.Errorf("has %s after push: false", d.Digest)
				}
				if _, err := ReadAllFrom(ctx, st.Fetch, d, d.Size); err != nil {
					errs <- fmt.Errorf("fetch %s after push: %w", d.Digest, err)
				}
			}
		})
	}

	gate := make(chan struct{})
	data := blobBytes(t, src, dup)
	first, second := newGatedReader(data, gate), newGatedReader(data, gate)
	var firstErr, secondErr error
	wg.Go(func() { firstErr = st.Push(ctx, dup, first) })
	<-first.started // the first push holds the digest
	secondIn := make(chan struct{})
	wg.Go(func() {
		close(secondIn)
		secondErr = st.Push(ctx, dup, second)
	})
	<-secondIn
	for _, d := range jobs {
		work <- d
	}
	close(work)
	time.Sleep(50 * time.Millisecond) // the second push is waiting for the first
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if firstErr != nil {
		t.Fatalf("first push of %s: %v", dup.Digest, firstErr)
	}
	if !errors.Is(secondErr, ErrAlreadyExists) {
		t.Fatalf("second push of %s at once: %v, want ErrAlreadyExists", dup.Digest, secondErr)
	}
	if n := second.reads.Load(); n != 0 {
		t.Fatalf("the second push of %s read its stream %d times", dup.Digest, n)
	}
	if n, _ := st.Staged(); n != len(im.all()) {
		t.Fatalf("staged %d blobs, want %d", n, len(im.all()))
	}
	ents, err := os.ReadDir(st.dir)
	if err != nil || len(ents) != len(im.all()) {
		t.Fatalf("stage folder holds %d files, want %d: %v", len(ents), len(im.all()), err)
	}
	if _, err := st.Commit(ctx, []ocispec.Descriptor{named(im.index, "concurrent:1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, dst.Path())
}

// TestStageConcurrentPushFails: when the first of two pushes of one digest at once fails, the
// second, which waited for it, writes the blob itself.
func TestStageConcurrentPushFails(t *testing.T) {
	ctx := t.Context()
	src := newStore(t)
	im := buildImage(t, src, "fails")
	st, err := newStore(t).NewStage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Discard()
	d := im.layers[1]
	good := blobBytes(t, src, d)
	bad := bytes.Clone(good)
	bad[0] ^= 0xff
	gate := make(chan struct{})
	first, second := newGatedReader(bad, gate), newGatedReader(good, gate)
	var firstErr, secondErr error
	var wg sync.WaitGroup
	wg.Go(func() { firstErr = st.Push(ctx, d, first) })
	<-first.started
	wg.Go(func() { secondErr = st.Push(ctx, d, second) })
	time.Sleep(50 * time.Millisecond)
	close(gate)
	wg.Wait()
	if !errors.Is(firstErr, ErrDigestMismatch) {
		t.Fatalf("first push: %v, want ErrDigestMismatch", firstErr)
	}
	if secondErr != nil {
		t.Fatalf("second push after the first failed: %v", secondErr)
	}
	if !st.Has(d) {
		t.Fatal("the blob is not staged")
	}
	if _, err := ReadAllFrom(ctx, st.Fetch, d, d.Size); err != nil {
		t.Fatal(err)
	}
}

// TestStageSyncEach: the fsync-per-file path of syncStaged (kernels without syncfs) syncs every
// staged file, and a staged file that vanished is an error naming it.
func TestStageSyncEach(t *testing.T) {
	src, im := verifyLayout(t)
	st, err := newStore(t).NewStage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Discard()
	pushAll(t, st, src, []ocispec.Descriptor{im.layers[0], im.layers[1]})
	st.mu.Lock()
	dir, order := st.lock, append([]digest.Digest(nil), st.order...)
	st.mu.Unlock()
	if err := st.syncEach(t.Context(), dir, order); err != nil {
		t.Fatalf("syncEach: %v", err)
	}
	if err := os.Remove(filepath.Join(dir.Name(), stagedName(order[0]))); err != nil {
		t.Fatal(err)
	}
	if err := st.syncEach(t.Context(), dir, order); err == nil || !strings.Contains(err.Error(), stagedName(order[0])) {
		t.Fatalf("syncEach with a staged file gone: %v", err)
	}
}
