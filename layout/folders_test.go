package layout

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// folderKinds are what a crafted layout may hold where a folder belongs. Each makes it at
// root/rel, moving the real folder (kept whole, so that a reader following the link would find
// the layout's content) to where the link points.
var folderKinds = []struct {
	name string // as checkFolder says it
	make func(tb testing.TB, root, rel, outside string)
}{
	{"symlink", func(tb testing.TB, root, rel, outside string) { // to a folder outside the layout
		target := filepath.Join(outside, filepath.Base(rel))
		moveAside(tb, filepath.Join(root, rel), target)
		if err := os.Symlink(target, filepath.Join(root, rel)); err != nil {
			tb.Fatal(err)
		}
	}},
	{"symlink", func(tb testing.TB, root, rel, _ string) { // to a folder inside the layout
		target := filepath.Join(root, "inside")
		moveAside(tb, filepath.Join(root, rel), target)
		link, err := filepath.Rel(filepath.Dir(filepath.Join(root, rel)), target)
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.Symlink(link, filepath.Join(root, rel)); err != nil {
			tb.Fatal(err)
		}
	}},
	{"FIFO", func(tb testing.TB, root, rel, outside string) {
		moveAside(tb, filepath.Join(root, rel), filepath.Join(outside, filepath.Base(rel)))
		if err := unix.Mkfifo(filepath.Join(root, rel), 0o644); err != nil {
			tb.Fatal(err)
		}
	}},
}

// moveAside moves the folder at path to target, making an empty one there when path is
// missing.
func moveAside(tb testing.TB, path, target string) {
	tb.Helper()
	if err := os.Rename(path, target); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			tb.Fatal(err)
		}
		if err := os.Mkdir(target, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
}

// reportErr returns Verify's errors as one error, or nil.
func reportErr(rep *Report) error {
	var msgs []string
	for _, p := range rep.Problems {
		if p.Severity == SeverityError {
			msgs = append(msgs, p.Where+": "+p.Message)
		}
	}
	if msgs == nil {
		return nil
	}
	return errors.New(strings.Join(msgs, "\n"))
}

func TestLayoutFoldersNotReal(t *testing.T) {
	src := newStore(t)
	im := buildImage(t, src, "a")
	if err := src.Tag(t.Context(), im.index, "a"); err != nil {
		t.Fatal(err)
	}
	writeBlob(t, src, "application/octet-stream", []byte("garbage for gc"))
	ctx := t.Context()
	newBlob := []byte("a blob the layout does not have")
	// Ops on a Store made without Open stand for a folder swapped after Open checked it.
	ops := []struct {
		name string
		run  func(ctx context.Context, root string) error
	}{
		{"Open", func(ctx context.Context, root string) error { _, err := Open(root); return err }},
		{"Init", func(ctx context.Context, root string) error { _, err := Init(root); return err }},
		{"NewStageAt", func(ctx context.Context, root string) error { _, err := NewStageAt(ctx, root); return err }},
		{"WriteBlob", func(ctx context.Context, root string) error {
			_, err := (&Store{root: root}).WriteBlob(ctx, bytes.NewReader(newBlob))
			return err
		}},
		{"Stage", func(ctx context.Context, root string) error {
			st, err := (&Store{root: root}).NewStage(ctx)
			if err != nil {
				return err
			}
			desc := writeDesc(newBlob)
			if err := st.Push(ctx, desc, bytes.NewReader(newBlob)); err != nil {
				st.Discard()
				return err
			}
			_, err = st.Commit(ctx, nil, AddOptions{})
			return err
		}},
		{"CleanTemp", func(ctx context.Context, root string) error {
			_, err := (&Store{root: root}).CleanTemp(ctx)
			return err
		}},
		{"ApplyGC", func(ctx context.Context, root string) error {
			s := &Store{root: root}
			plan := &GCPlan{Blobs: []GCBlob{{Digest: writeDesc([]byte("garbage for gc")).Digest, Size: 14}}}
			return s.ApplyGC(ctx, plan)
		}},
		{"Verify", func(ctx context.Context, root string) error {
			rep, err := Verify(ctx, root, VerifyOptions{})
			if err != nil {
				return err
			}
			return reportErr(rep)
		}},
	}
	// Which ops touch which folder: CleanTemp only TempDir; the rest all three.
	touches := func(op, rel string) bool {
		switch op {
		case "CleanTemp":
			return rel == TempDir
		case "ApplyGC":
			return rel != TempDir
		}
		return true
	}
	for _, rel := range []string{BlobsDir, filepath.Join(BlobsDir, "sha256"), TempDir} {
		for _, op := range ops {
			if !touches(op.name, rel) {
				continue
			}
			for _, k := range folderKinds {
				t.Run(op.name+"/"+rel+"/"+k.name, func(t *testing.T) {
					root := copyDir(t, src.Path())
					// A dead writer's temp file, for CleanTemp to find.
					mustWrite(t, filepath.Join(root, TempDir, tempPrefix+"dead"), "half")
					outside := filepath.Join(filepath.Dir(root), "outside")
					if err := os.Mkdir(outside, 0o755); err != nil {
						t.Fatal(err)
					}
					k.make(t, root, rel, outside)
					before := treeState(t, filepath.Dir(root))
					err := within(t, op.name, func() error { return op.run(ctx, root) })
					if err == nil {
						t.Fatalf("%s with %s as a %s: no error", op.name, rel, k.name)
					}
					// A FIFO swapped in after Open fails the first read through it, before any
					// write: refused all the same, in the words of that read.
					named := k.name != "FIFO" || (op.name != "Stage" && op.name != "ApplyGC")
					if want := rel + " is a " + k.name + ", not a folder"; named && !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
					if named && op.name != "Verify" && !errors.Is(err, ErrNotLayout) {
						t.Errorf("error %v does not wrap ErrNotLayout", err)
					}
					after := treeState(t, filepath.Dir(root))
					for p, v := range before {
						if after[p] != v {
							t.Errorf("%s changed: %q, was %q", p, after[p], v)
						}
					}
					for p := range after {
						if _, ok := before[p]; !ok {
							t.Errorf("%s appeared", p)
						}
					}
				})
			}
		}
	}
}

// TestLayoutRootSymlink: the root given as a symlink to a folder is a layout like any other.
func TestLayoutRootSymlink(t *testing.T) {
	src := newStore(t)
	im := buildImage(t, src, "a")
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(src.Path(), link); err != nil {
		t.Fatal(err)
	}
	s, err := Open(link)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(t.Context(), im.index, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteBlob(t.Context(), strings.NewReader("more")); err != nil {
		t.Fatal(err)
	}
	st, err := NewStageAt(t.Context(), link)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("staged through a linked root")
	if err := st.Push(t.Context(), writeDesc(data), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(t.Context(), nil, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Init(link); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Exists(t.Context(), writeDesc(data)); !ok || err != nil {
		t.Fatalf("staged blob: %v, %v", ok, err)
	}
	rep, err := Verify(t.Context(), link, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := reportErr(rep); err != nil {
		t.Fatalf("verify through a linked root: %v", err)
	}
}

// writeDesc returns the descriptor of data as a blob.
func writeDesc(data []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(data), Size: int64(len(data))}
}

// TestStageSwapMidRun swaps .gadgetpack-tmp for a symlink to a folder outside while a stage is
// running: the stage goes on writing in the folder it holds, nothing lands outside, and Commit
// publishes into the real blobs/sha256; a swap of blobs/sha256 before Commit is refused.
func TestStageSwapMidRun(t *testing.T) {
	for _, tc := range []struct {
		name    string
		swap    string // the folder swapped for a symlink after the first Push
		wantErr bool
	}{
		{"temp folder", TempDir, false},
		{"blob folder", filepath.Join(BlobsDir, "sha256"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			ctx := t.Context()
			st, err := s.NewStage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Discard()
			one, two := []byte("first blob"), []byte("second blob")
			if err := st.Push(ctx, writeDesc(one), bytes.NewReader(one)); err != nil {
				t.Fatal(err)
			}
			outside := filepath.Join(filepath.Dir(s.Path()), "outside")
			if err := os.Mkdir(outside, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(filepath.Join(s.Path(), tc.swap), filepath.Join(s.Path(), "moved")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, filepath.Join(s.Path(), tc.swap)); err != nil {
				t.Fatal(err)
			}
			if err := st.Push(ctx, writeDesc(two), bytes.NewReader(two)); err != nil {
				t.Fatal(err)
			}
			_, err = st.Commit(ctx, nil, AddOptions{})
			if tc.wantErr != (err != nil) {
				t.Fatalf("Commit: %v, want an error: %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tc.swap+" is a symlink, not a folder") {
				t.Errorf("Commit: %v does not name %s", err, tc.swap)
			}
			if names := listNames(t, outside); len(names) != 0 {
				t.Errorf("written outside the layout: %v", names)
			}
			if !tc.wantErr {
				for _, data := range [][]byte{one, two} {
					if _, err := os.Stat(filepath.Join(s.Path(), BlobsDir, "sha256", digest.FromBytes(data).Encoded())); err != nil {
						t.Errorf("blob not published: %v", err)
					}
				}
			}
		})
	}
}

// listNames lists the names in dir.
func listNames(tb testing.TB, dir string) []string {
	tb.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}
