package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gadgetpack/gadgetpack/internal/testfs"
)

// Issue 10, the files and folders of a layout on disk: a FIFO, a socket, a device or a symlink
// where a layout's file belongs (oci-layout, index.json, its lock, a blob), and a symlink where
// one of its folders belongs (blobs, blobs/sha256, .gadgetpack-tmp). Every command that reads
// or writes the layout refuses it at once, by name, and writes nothing: the symlinks point into
// the case's own outside/ folder, so a write through them changes the tree the harness checks.

// layoutfsFixture is what every case starts from: a built 2-gadget layout and a tarball of it.
type layoutfsFixture struct {
	demo string // a layout
	tar  string // an export of it
}

// setup copies the demo layout into dir/L, a second copy into dir/good (a copy's source) and
// the tarball into dir/good.tar, and makes dir/outside.
func (fx layoutfsFixture) setup(tb testing.TB, dir string) string {
	tb.Helper()
	l := filepath.Join(dir, "L")
	testfs.CopyTree(tb, fx.demo, l)
	testfs.CopyTree(tb, fx.demo, filepath.Join(dir, "good"))
	data, err := os.ReadFile(fx.tar)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "good.tar"), data, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "outside"), 0o755); err != nil {
		tb.Fatal(err)
	}
	return l
}

// layoutfsRuns are the commands run against a crafted layout dir/L: as the layout read,
// changed, exported, copied from, copied into and imported into. Each must fail saying says.
func layoutfsRuns(says ...string) []hostileRun {
	var runs []hostileRun
	for _, args := range [][]string{
		{"verify", "$DIR/L"},
		{"list", "--layout", "$DIR/L"},
		{"inspect", "--layout", "$DIR/L", "trace_exec"},
		{"gc", "--dry-run", "--layout", "$DIR/L"},
		{"gc", "--layout", "$DIR/L"},
		{"tag", "--layout", "$DIR/L", "trace_exec", "copy_of_trace_exec"},
		{"rm", "--layout", "$DIR/L", "trace_exec"},
		{"export", "--layout", "$DIR/L", "-o", "$DIR/out.tar"},
		{"copy", "--layout", "$DIR/L", "--to", "$DIR/new"},
		{"copy", "--layout", "$DIR/good", "--to", "$DIR/L"},
		{"import", "--layout", "$DIR/L", "$DIR/good.tar"},
	} {
		runs = append(runs, hostileRun{args: args, says: says})
	}
	return runs
}

// replaceWith moves dir/L/rel to dir/outside/<base> (so that a reader or writer following a
// symlink to it finds the real thing) and lets put make what takes its place.
func replaceWith(tb testing.TB, dir, rel string, put func(path, moved string) error) {
	tb.Helper()
	path := filepath.Join(dir, "L", rel)
	moved := filepath.Join(dir, "outside", filepath.Base(rel))
	if err := os.Rename(path, moved); err != nil && !errors.Is(err, os.ErrNotExist) {
		tb.Fatal(err)
	}
	if err := put(path, moved); err != nil {
		if errors.Is(err, unix.EPERM) {
			tb.Skipf("%s: %v (needs root; CI runs as root)", rel, err)
		}
		tb.Fatal(err)
	}
}

func fifo(path, _ string) error { return unix.Mkfifo(path, 0o644) }

func socket(path, _ string) error { return unix.Mknod(path, unix.S_IFSOCK|0o644, 0) }

// charDevice makes a character device of /dev/null's numbers (harmless if it were opened).
func charDevice(path, _ string) error {
	return unix.Mknod(path, unix.S_IFCHR|0o644, int(unix.Mkdev(1, 3)))
}

// linkOut makes path a symlink to what was moved outside.
func linkOut(path, moved string) error { return os.Symlink(moved, path) }

func TestHostileLayoutfs(t *testing.T) {
	fx := layoutfsFixture{demo: buildDemo(t)}
	fx.tar = filepath.Join(t.TempDir(), "good.tar")
	mustGP(t, "export", "--layout", fx.demo, "-o", fx.tar)
	var cases []hostileCase
	// A file of the layout that is no regular file.
	for _, f := range []struct {
		rel  string
		kind string
		put  func(path, moved string) error
	}{
		{"index.json", "FIFO", fifo},
		{"oci-layout", "FIFO", fifo},
		{"index.json.lock", "FIFO", fifo},
		{"index.json", "socket", socket},
		{"oci-layout", "character device", charDevice},
		{"index.json.lock", "symlink", linkOut},
		{"index.json", "symlink", linkOut},
	} {
		cases = append(cases, hostileCase{
			name: f.rel + " a " + f.kind,
			make: func(tb testing.TB, dir string) {
				fx.setup(tb, dir)
				replaceWith(tb, dir, f.rel, f.put)
			},
			runs: layoutfsRuns(f.rel + " is a " + f.kind + ": not a regular file"),
		})
	}
	// A folder of the layout that is a symlink to a folder outside it.
	for _, rel := range []string{"blobs", "blobs/sha256", ".gadgetpack-tmp"} {
		cases = append(cases, hostileCase{
			name: rel + " a symlink",
			make: func(tb testing.TB, dir string) {
				fx.setup(tb, dir)
				// A dead writer's temp file: bait for gc's cleaner.
				if err := os.WriteFile(filepath.Join(dir, "L", ".gadgetpack-tmp", "blob-1"), []byte("x"), 0o644); err != nil {
					tb.Fatal(err)
				}
				replaceWith(tb, dir, rel, linkOut)
			},
			runs: layoutfsRuns(rel + " is a symlink, not a folder"),
		})
	}
	// A blob that is a FIFO: the commands that read it, or must know whether the layout holds
	// it (copy into the layout, import into it), refuse it by digest; list and gc, which do not
	// read it, work.
	cases = append(cases, hostileCase{
		name: "a layer blob a FIFO",
		make: func(tb testing.TB, dir string) {
			fx.setup(tb, dir)
			layer := bigBlob(tb, filepath.Join(dir, "L"))
			replaceWith(tb, dir, filepath.Join("blobs", "sha256", layer), fifo)
		},
		runs: blobFIFORuns(),
	})
	runHostile(t, cases)
}

// blobFIFORuns are the runs of the "a layer blob a FIFO" case.
func blobFIFORuns() []hostileRun {
	says := "is a FIFO"
	return []hostileRun{
		{args: []string{"verify", "$DIR/L"}, says: []string{says}},
		{args: []string{"export", "--layout", "$DIR/L", "-o", "$DIR/out.tar"}, says: []string{says}},
		{args: []string{"copy", "--layout", "$DIR/L", "--to", "$DIR/new"}, says: []string{says}},
		{args: []string{"copy", "--layout", "$DIR/good", "--to", "$DIR/L"}, says: []string{says}},
		{args: []string{"import", "--layout", "$DIR/L", "$DIR/good.tar"}, says: []string{says}},
		{args: []string{"list", "--layout", "$DIR/L"}, ok: true},
		{args: []string{"gc", "--dry-run", "--layout", "$DIR/L"}, ok: true},
	}
}

// bigBlob returns the file name of the largest blob of the layout at root (a layer).
func bigBlob(tb testing.TB, root string) string {
	tb.Helper()
	dir := filepath.Join(root, "blobs", "sha256")
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var best string
	var size int64
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			tb.Fatal(err)
		}
		if fi.Size() > size && !strings.HasPrefix(e.Name(), ".") {
			best, size = e.Name(), fi.Size()
		}
	}
	return best
}
