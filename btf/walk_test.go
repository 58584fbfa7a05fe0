package btf

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// symlinkArchive makes an archive whose kernels are reached through symbolic links: a linked
// kernel file, a linked VERSION_ID folder, a link loop, and the root itself a link. It
// returns the link to the root and the kernels' slash paths, sorted.
func symlinkArchive(tb testing.TB) (string, []string) {
	tb.Helper()
	dir := tb.TempDir()
	store := filepath.Join(dir, "store")
	real := filepath.Join(dir, "real")
	kernels, err := filepath.Glob("testdata/archive/debian/12/x86_64/*.btf.tar.xz")
	if err != nil || len(kernels) < 3 {
		tb.Fatal(len(kernels), err)
	}
	mk := func(p string) {
		if err := os.MkdirAll(p, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	link := func(target, p string) {
		mk(filepath.Dir(p))
		if err := os.Symlink(target, p); err != nil {
			tb.Fatal(err)
		}
	}
	cp := func(src, dst string) {
		data, err := os.ReadFile(src)
		if err != nil {
			tb.Fatal(err)
		}
		mk(filepath.Dir(dst))
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	// a kernel file that is a link (to a file outside the archive)
	cp(kernels[0], filepath.Join(store, "k0.btf.tar.xz"))
	link(filepath.Join(store, "k0.btf.tar.xz"), filepath.Join(real, "debian", "12", "x86_64", filepath.Base(kernels[0])))
	// a VERSION_ID folder that is a link (to a folder outside the archive)
	cp(kernels[1], filepath.Join(store, "ubuntu-20.04", "x86_64", filepath.Base(kernels[1])))
	link(filepath.Join(store, "ubuntu-20.04"), filepath.Join(real, "ubuntu", "20.04"))
	// a loop: an arch folder that links back to the archive's root
	link(real, filepath.Join(real, "ubuntu", "22.04", "x86_64"))
	// a plain file
	cp(kernels[2], filepath.Join(real, "fedora", "38", "x86_64", filepath.Base(kernels[2])))
	root := filepath.Join(dir, "archive")
	link(real, root)
	want := []string{
		"debian/12/x86_64/" + filepath.Base(kernels[0]),
		"fedora/38/x86_64/" + filepath.Base(kernels[2]),
		"ubuntu/20.04/x86_64/" + filepath.Base(kernels[1]),
	}
	return root, want
}

func TestWalkArchiveSymlinks(t *testing.T) {
	root, want := symlinkArchive(t)
	w, err := walkArchive(context.Background(), root, "all", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range w.kernels {
		got = append(got, e.rel)
		if _, err := os.Stat(e.path); err != nil {
			t.Errorf("%s: %v", e.rel, err)
		}
	}
	if !slices.Equal(got, want) || w.found != 3 {
		t.Fatalf("kernels %q (%d found), want %q", got, w.found, want)
	}

	// a dangling link where a kernel would be is listed (its read fails with its name); one
	// where a folder would be is an error naming it
	dangling := filepath.Join(root, "debian", "12", "x86_64", "9.9.9-gone.btf.tar.xz")
	if err := os.Symlink("/nonexistent/gone", dangling); err != nil {
		t.Fatal(err)
	}
	w, err = walkArchive(context.Background(), root, "all", nil)
	if err != nil || len(w.kernels) != 4 || w.kernels[1].rel != "debian/12/x86_64/9.9.9-gone.btf.tar.xz" {
		t.Fatalf("with a dangling kernel link: %v, %v", w.kernels, err)
	}
	if err := os.Remove(dangling); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nonexistent/gone", filepath.Join(root, "centos")); err != nil {
		t.Fatal(err)
	}
	_, err = walkArchive(context.Background(), root, "all", nil)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "centos") {
		t.Fatalf("dangling folder link: %v, want it named", err)
	}
}

func TestMatchFilters(t *testing.T) {
	arm := kernelEntry{rel: "kylin/V10/aarch64/4.19.90-52.22.v2207.ky10.aarch64.btf.tar.xz", id: "kylin", version: "V10", arch: "arm64", release: "4.19.90-52.22.v2207.ky10.aarch64"}
	x86 := kernelEntry{rel: "ubuntu/20.04/x86_64/5.4.0-1.btf.tar.xz", id: "ubuntu", version: "20.04", arch: "x86_64", release: "5.4.0-1"}
	for _, tc := range []struct {
		filter   string
		arm, x86 bool
	}{
		{"kylin/V10/arm64/*", true, false},   // the output's coordinates
		{"kylin/V10/aarch64/*", true, false}, // the folder on disk, and ig's entry
		{"kylin/*/arm64", true, false},
		{"*/*/arm64/*.btf", true, false},
		{"*/*/*/*.btf.tar.xz", true, true},
		{"ubuntu/20.04/*", false, true},
		{"ubuntu/20.04/x86_64/5.4.0-1.btf", false, true},
		{"ubuntu", false, true},
		{"/ubuntu/", false, true},
		{"kylin/V10/x86_64/*", false, false},
		{"centos/*", false, false},
		{"*/*/*/*/*", false, false},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			if got := matchFilters([]string{tc.filter}, arm); got != tc.arm {
				t.Errorf("%s: %v, want %v", arm.rel, got, tc.arm)
			}
			if got := matchFilters([]string{tc.filter}, x86); got != tc.x86 {
				t.Errorf("%s: %v, want %v", x86.rel, got, tc.x86)
			}
		})
	}
	if !matchFilters(nil, arm) || !matchFilters([]string{"centos/*", "kylin"}, arm) {
		t.Error("no filter, or one of two, must match")
	}
}
