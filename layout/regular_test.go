package layout

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fileKind is one kind of file put where a layout's regular file belongs.
type fileKind struct {
	name string // as kindOf says it
	make func(tb testing.TB, path, outside string)
}

// nonRegularKinds are the files a crafted layout may hold instead of a regular file: each
// must be refused at once, by name, never opened in a way that blocks or follows it.
var nonRegularKinds = []fileKind{
	{"FIFO", func(tb testing.TB, path, _ string) {
		if err := unix.Mkfifo(path, 0o644); err != nil {
			tb.Fatal(err)
		}
	}},
	{"socket", func(tb testing.TB, path, _ string) {
		if err := unix.Mknod(path, unix.S_IFSOCK|0o644, 0); err != nil {
			tb.Fatal(err)
		}
	}},
	{"character device", func(tb testing.TB, path, _ string) {
		// /dev/null's numbers: harmless if it were ever opened.
		if err := unix.Mknod(path, unix.S_IFCHR|0o644, int(unix.Mkdev(1, 3))); err != nil {
			if errors.Is(err, unix.EPERM) {
				tb.Skip("mknod of a character device needs root (CI runs as root)")
			}
			tb.Fatal(err)
		}
	}},
	{"symlink", func(tb testing.TB, path, outside string) { // to a file outside the layout
		target := filepath.Join(outside, filepath.Base(path))
		data, err := os.ReadFile(path + ".orig")
		if err != nil {
			data = nil
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			tb.Fatal(err)
		}
		if err := os.Symlink(target, path); err != nil {
			tb.Fatal(err)
		}
	}},
	{"symlink", func(tb testing.TB, path, _ string) { // to a file inside the layout
		if err := os.Rename(path+".orig", filepath.Join(filepath.Dir(path), "inside")); err != nil {
			tb.Fatal(err)
		}
		if err := os.Symlink("inside", path); err != nil {
			tb.Fatal(err)
		}
	}},
}

// replaceFile moves the layout file name aside (as name.orig, for the symlink kinds) and puts
// a file of kind k in its place.
func replaceFile(tb testing.TB, root, name string, k fileKind) string {
	tb.Helper()
	path := filepath.Join(root, name)
	if err := os.Rename(path, path+".orig"); err != nil && !errors.Is(err, os.ErrNotExist) {
		tb.Fatal(err)
	}
	outside := filepath.Join(filepath.Dir(root), "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		tb.Fatal(err)
	}
	k.make(tb, path, outside)
	_ = os.Remove(path + ".orig")
	return path
}

// within runs f, failing the test if it has not returned after a few seconds (a blocked open).
func within(tb testing.TB, what string, f func() error) error {
	tb.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		tb.Fatalf("%s: still running after 5 s (blocked on the file)", what)
		return nil
	}
}

func TestLayoutFilesNotRegular(t *testing.T) {
	ops := []struct {
		name  string
		files []string // the files the op reads or locks
		run   func(ctx context.Context, root string) error
	}{
		{"Open", []string{LayoutFile}, func(ctx context.Context, root string) error {
			_, err := Open(root)
			return err
		}},
		{"Init", []string{LayoutFile, LockFile}, func(ctx context.Context, root string) error {
			_, err := Init(root)
			return err
		}},
		{"Index", []string{IndexFile, LockFile}, func(ctx context.Context, root string) error {
			_, err := (&Store{root: root}).Index(ctx)
			return err
		}},
		{"Untag", []string{IndexFile, LockFile}, func(ctx context.Context, root string) error {
			return (&Store{root: root}).Untag(ctx, "a")
		}},
		{"PlanGC", []string{IndexFile, LockFile}, func(ctx context.Context, root string) error {
			_, err := (&Store{root: root}).PlanGC(ctx)
			return err
		}},
		{"CleanTemp", []string{LockFile}, func(ctx context.Context, root string) error {
			_, err := (&Store{root: root}).CleanTemp(ctx)
			return err
		}},
		{"Verify", []string{LayoutFile, IndexFile, LockFile}, func(ctx context.Context, root string) error {
			rep, err := Verify(ctx, root, VerifyOptions{})
			if err != nil {
				return err
			}
			for _, p := range rep.Problems {
				if p.Severity == SeverityError {
					return errors.New(p.Where + ": " + p.Message)
				}
			}
			return nil
		}},
	}
	src := newStore(t)
	im := buildImage(t, src, "a")
	if err := src.Tag(t.Context(), im.index, "a"); err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		for _, file := range op.files {
			for _, k := range nonRegularKinds {
				t.Run(op.name+"/"+file+"/"+k.name, func(t *testing.T) {
					root := copyDir(t, src.Path())
					replaceFile(t, root, file, k)
					before := treeState(t, filepath.Dir(root))
					err := within(t, op.name, func() error { return op.run(t.Context(), root) })
					if err == nil {
						t.Fatalf("%s with %s as a %s: no error", op.name, file, k.name)
					}
					if msg := err.Error(); !strings.Contains(msg, file+" is a "+k.name) {
						t.Errorf("error %q does not say %q", msg, file+" is a "+k.name)
					}
					if op.name != "Verify" && !errors.Is(err, ErrNotRegular) {
						t.Errorf("error %v does not wrap ErrNotRegular", err)
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
