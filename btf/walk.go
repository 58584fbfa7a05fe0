package btf

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// kernelEntry is one kernel found in a btfhub-archive: the file and the btfhub coordinates
// <ID>/<VERSION_ID>/<arch>/<release>.
type kernelEntry struct {
	path    string // file path
	rel     string // slash path inside the archive
	id      string
	version string
	arch    string // "x86_64" or "arm64" (an aarch64 folder counts as arm64)
	release string
}

func (e kernelEntry) key() string { return e.id + "/" + e.version + "/" + e.arch + "/" + e.release }

// entryNames returns the tar entry names the kernel is written under (see doc.go).
func (e kernelEntry) entryNames() []string {
	folders := archFolders(e.arch)
	names := make([]string, len(folders))
	for i, f := range folders {
		names[i] = e.id + "/" + e.version + "/" + f + "/" + e.release + ".btf"
	}
	return names
}

// archiveSuffixes are the file names a kernel can have in an archive, longest first.
var archiveSuffixes = []string{".btf.tar.xz", ".tar.xz", ".btf"}

// archiveWalk is what walkArchive found.
type archiveWalk struct {
	kernels []kernelEntry // the selected kernels, sorted, one per output coordinate
	found   int           // kernel files of any arch, before arch and filters
}

// walkArchive lists the kernels of a btfhub-archive tree: files
// <ID>/<VERSION_ID>/<arch>/<release>.btf.tar.xz (or .tar.xz, or plain .btf) whose arch folder
// is selected by arch ("x86_64", "arm64", "aarch64" counts as arm64, "all") and that match one
// of filters (see matchFilters; none: all). Other files are ignored.
//
// Symbolic links are followed, the root's too: a linked kernel file, a linked folder at any
// level. A link to a folder that is its own ancestor (a loop) is not entered again. A dangling
// link where a kernel file would be is listed, so that reading it fails with its name; one
// where a folder would be is an error. Kernels come sorted by output coordinates (an aarch64
// folder counts as arm64), then by path; a kernel found twice (x.btf.tar.xz and x.btf, arm64
// and aarch64 folders, two links to one file) is kept once, the first in path order, so that
// no tar entry is written twice.
func walkArchive(ctx context.Context, root, arch string, filters []string) (archiveWalk, error) {
	var w archiveWalk
	st, err := os.Stat(root)
	if err != nil {
		return w, fmt.Errorf("archive %s: %w", root, err)
	}
	if !st.IsDir() {
		return w, fmt.Errorf("archive %s: not a directory: %w", root, ErrBadOptions)
	}
	var out []kernelEntry
	var walk func(dir string, parts []string, ancestors []fileID) error
	walk = func(dir string, parts []string, ancestors []fileID) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("archive %s: %w", root, err)
		}
		for _, d := range ents {
			p := filepath.Join(dir, d.Name())
			rel := append(slices.Clip(parts), d.Name())
			if len(rel) == 4 {
				e, ok := kernelFile(p, rel, d)
				if !ok {
					continue
				}
				w.found++
				if (arch == "all" || arch == e.arch) && matchFilters(filters, e) {
					out = append(out, e)
				}
				continue
			}
			st, err := os.Stat(p) // follows links
			if err != nil {
				if d.Type()&fs.ModeSymlink != 0 && errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("archive %s: %s: dangling symbolic link: %w", root, strings.Join(rel, "/"), err)
				}
				return fmt.Errorf("archive %s: %w", root, err)
			}
			if !st.IsDir() {
				continue
			}
			id, ok := idOf(st)
			if ok && slices.Contains(ancestors, id) {
				continue // a link back up the tree
			}
			if err := walk(p, rel, append(slices.Clip(ancestors), id)); err != nil {
				return err
			}
		}
		return nil
	}
	rootID, _ := idOf(st)
	if err := walk(root, nil, []fileID{rootID}); err != nil {
		return w, err
	}
	slices.SortFunc(out, func(a, b kernelEntry) int {
		if c := strings.Compare(a.key(), b.key()); c != 0 {
			return c
		}
		return strings.Compare(a.rel, b.rel)
	})
	seen := map[string]bool{}
	for _, e := range out {
		if key := e.key(); !seen[key] {
			seen[key] = true
			w.kernels = append(w.kernels, e)
		}
	}
	return w, nil
}

// kernelFile returns the kernel entry of the file at p, whose path in the archive is rel (four
// elements): false when its name or arch folder is not a kernel's, or when it is not a regular
// file (after links). A dangling link is returned, for its read to fail with its name.
func kernelFile(p string, rel []string, d fs.DirEntry) (kernelEntry, bool) {
	release := ""
	for _, s := range archiveSuffixes {
		if r, ok := strings.CutSuffix(rel[3], s); ok {
			release = r
			break
		}
	}
	a := rel[2]
	if a == "aarch64" {
		a = "arm64"
	}
	if release == "" || (a != "x86_64" && a != "arm64") {
		return kernelEntry{}, false
	}
	if !d.Type().IsRegular() {
		st, err := os.Stat(p)
		if err == nil && !st.Mode().IsRegular() {
			return kernelEntry{}, false
		}
		if err != nil && d.Type()&fs.ModeSymlink == 0 {
			return kernelEntry{}, false
		}
	}
	return kernelEntry{path: p, rel: strings.Join(rel, "/"), id: rel[0], version: rel[1], arch: a, release: release}, true
}

// fileID identifies a folder, to tell a link loop.
type fileID struct{ dev, ino uint64 }

func idOf(st fs.FileInfo) (fileID, bool) {
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{dev: uint64(s.Dev), ino: s.Ino}, true
}

// matchFilters reports whether kernel e matches a filter. A filter is a path.Match glob
// matched against the kernel's path on disk (kylin/V10/aarch64/<release>.btf.tar.xz) and
// against the coordinates of each tar entry it is written under
// (kylin/V10/arm64/<release>.btf and kylin/V10/aarch64/<release>.btf): against the whole
// path, or against as many leading path elements as the glob has ("ubuntu/20.04/*" selects
// every kernel below ubuntu/20.04/x86_64 and arm64).
func matchFilters(filters []string, e kernelEntry) bool {
	if len(filters) == 0 {
		return true
	}
	paths := append([]string{e.rel}, e.entryNames()...)
	for _, f := range filters {
		f = strings.Trim(f, "/")
		n := strings.Count(f, "/") + 1
		for _, p := range paths {
			parts := strings.Split(p, "/")
			if n > len(parts) {
				continue
			}
			if ok, _ := path.Match(f, strings.Join(parts[:n], "/")); ok {
				return true
			}
		}
	}
	return false
}
