package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tar part of issue 10's corpus: sparse entries, tar header errors, the ends of compressed
// streams, FIFOs, sockets and devices given as a tarball, a part, a checksum file or a base,
// and an export into the layout it reads. Tarballs come from tarball/testdata (made by its
// gen_hostile.go); FIFOs and layouts are made on the fly.

// hostileTarball copies the corpus file name into dir as the file to, beside a copy of the demo
// layout as dir/layout.
func hostileTarball(demo, name, to string) func(tb testing.TB, dir string) {
	return func(tb testing.TB, dir string) {
		tb.Helper()
		data, err := os.ReadFile(repoPath("tarball", "testdata", name))
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, to), data, 0o644); err != nil {
			tb.Fatal(err)
		}
		copyTree(tb, demo, filepath.Join(dir, "layout"))
	}
}

// tarballRuns are the commands that read a tarball: verify, import into a layout and into a
// path that does not exist, and export's --exclude-from. Each must exit 1 and say says.
func tarballRuns(args []string, says ...string) []hostileRun {
	return []hostileRun{
		{args: append([]string{"verify"}, args...), says: says},
		{args: append([]string{"import", "--layout", "$DIR/layout"}, args...), says: says},
		{args: append([]string{"import", "--layout", "$DIR/new"}, args...), says: says},
	}
}

// mkfifo makes a FIFO nobody writes to.
func mkfifo(tb testing.TB, path string) {
	tb.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		tb.Fatal(err)
	}
}

func TestHostileTar(t *testing.T) {
	demo := buildDemo(t)
	sparseName := `tar entry "blobs/sha256/36787edc411f6ae7b702a6e5b9d3b77ea3dba58dc520ebc252d115b9ee5e8729" at byte `
	var cases []hostileCase
	for _, f := range []struct{ file, says string }{
		{"sparse-gnu.tar", sparseName + "4096: a sparse file (old GNU format) of 64424509440 bytes"},
		{"sparse-pax-0.0.tar", sparseName + "5120: a sparse file (GNU PAX format 0.x) of 64424509440 bytes"},
		{"sparse-pax-0.1.tar", sparseName + "5120: a sparse file (GNU PAX format 0.x) of 64424509440 bytes"},
		{"sparse-pax-1.0.tar", "a sparse file (GNU PAX format 1.0) of 64424509440 bytes"},
		{"sparse-pax-1.0.tar.gz", "a sparse file (GNU PAX format 1.0) of 64424509440 bytes"},
		{"bad-header-checksum.tar", `tar entry "blobs/sha256/a8a4631676633f8b42dd613a42eb5500f5ad9c823eab1342548632ad746ff959" at byte 3072: not a valid tar header`},
		{"gzip-trailing-data.tar.gz", "data after the end of the gzip stream, at byte 699 of the input (after 100 zero bytes)"},
		{"zstd-trailing-data.tar.zst", "data after the end of the zstd stream, at byte 624 of the input (not a zstd frame)"},
	} {
		runs := tarballRuns([]string{"$DIR/" + f.file}, f.says)
		runs = append(runs, hostileRun{args: []string{"export", "--layout", "$DIR/layout", "--exclude-from", "$DIR/" + f.file, "-o", "$DIR/out.tar"}, says: []string{f.says}})
		cases = append(cases, hostileCase{name: f.file, make: hostileTarball(demo, "hostile/"+f.file, f.file), runs: runs, timeout: 30 * time.Second})
	}
	// The ends of compressed streams that are sound: several gzip members, zstd skippable
	// frames, zero padding.
	for _, f := range []string{"members.tar.gz", "skippable.tar.zst"} {
		cases = append(cases, hostileCase{name: f, make: hostileTarball(demo, "good/"+f, f), runs: []hostileRun{
			{args: []string{"verify", "$DIR/" + f}, ok: true, says: []string{"ok"}},
			{args: []string{"import", "--layout", "$DIR/new", "$DIR/" + f}, ok: true, changes: true, says: []string{"hostile:1"}},
			{args: []string{"import", "--layout", "$DIR/layout", "$DIR/" + f}, ok: true, changes: true, says: []string{"hostile:1"}},
		}})
	}
	fifoSays := []string{"a FIFO (named pipe), not a regular file"}
	cases = append(cases,
		hostileCase{name: "fifo as the tarball", timeout: 10 * time.Second,
			make: func(tb testing.TB, dir string) {
				mkfifo(tb, filepath.Join(dir, "b.tar"))
				copyTree(tb, demo, filepath.Join(dir, "layout"))
			},
			runs: append(tarballRuns([]string{"$DIR/b.tar"}, append(fifoSays, "/b.tar: a FIFO")...),
				hostileRun{args: []string{"export", "--layout", "$DIR/layout", "--exclude-from", "$DIR/b.tar", "-o", "$DIR/out.tar"}, says: fifoSays}),
		},
		hostileCase{name: "fifo as a split part", timeout: 10 * time.Second,
			make: func(tb testing.TB, dir string) {
				hostileTarball(demo, "good/small.tar", "b.tar.000")(tb, dir)
				mkfifo(tb, filepath.Join(dir, "b.tar.001"))
			},
			runs: append(tarballRuns([]string{"$DIR/b.tar"}, append(fifoSays, "/b.tar.001: a FIFO")...),
				tarballRuns([]string{"$DIR/b.tar.000", "$DIR/b.tar.001"}, append(fifoSays, "/b.tar.001: a FIFO")...)...),
		},
		hostileCase{name: "fifo as the checksum file", timeout: 10 * time.Second,
			make: func(tb testing.TB, dir string) {
				hostileTarball(demo, "good/small.tar", "b.tar")(tb, dir)
				mkfifo(tb, filepath.Join(dir, "b.tar.sha256"))
			},
			runs: tarballRuns([]string{"$DIR/b.tar"}, append(fifoSays, "/b.tar.sha256: a FIFO")...),
		},
		hostileCase{name: "device as the tarball", timeout: 10 * time.Second,
			make: func(tb testing.TB, dir string) { copyTree(tb, demo, filepath.Join(dir, "layout")) },
			runs: append(tarballRuns([]string{"/dev/zero"}, "/dev/zero: a device, not a regular file"),
				hostileRun{args: []string{"export", "--layout", "$DIR/layout", "--exclude-from", "/dev/zero", "-o", "$DIR/out.tar"}, says: []string{"/dev/zero: a device"}}),
		},
		// 20,000 empty entries no layout has, 100 KB of gzip: each would be a finding of verify
		// (1,000,000 took 61 s and 1 GB).
		hostileCase{name: "a flood of refused entries", timeout: 20 * time.Second, maxRSS: 100 << 20,
			make: func(tb testing.TB, dir string) {
				copyTree(tb, demo, filepath.Join(dir, "layout"))
				f, err := os.Create(filepath.Join(dir, "flood.tar.gz"))
				if err != nil {
					tb.Fatal(err)
				}
				z := gzip.NewWriter(f)
				tw := tar.NewWriter(z)
				for i := range 20000 {
					if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("etc/x%06d", i), Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
						tb.Fatal(err)
					}
				}
				for _, c := range []io.Closer{tw, z, f} {
					if err := c.Close(); err != nil {
						tb.Fatal(err)
					}
				}
			},
			runs: append(tarballRuns([]string{"$DIR/flood.tar.gz"}, `tar entry "etc/x000000" at byte 0: not a file of an OCI image layout`),
				hostileRun{args: []string{"verify", "$DIR/flood.tar.gz"}, says: []string{`tar entry "etc/x001000" at byte 512000: over 1000 entries refused`}},
				hostileRun{args: []string{"export", "--layout", "$DIR/layout", "--exclude-from", "$DIR/flood.tar.gz", "-o", "$DIR/out.tar"}, says: []string{`tar entry "etc/x000000"`}}),
		},
		hostileCase{name: "export onto itself",
			make: func(tb testing.TB, dir string) {
				copyTree(tb, demo, filepath.Join(dir, "layout"))
				if err := os.Symlink("layout", filepath.Join(dir, "link")); err != nil {
					tb.Fatal(err)
				}
			},
			runs: []hostileRun{
				{args: []string{"export", "--layout", "$DIR/layout", "-o", "$DIR/layout/index.json"}, says: []string{"output $DIR/layout/index.json: inside the layout"}},
				{args: []string{"export", "--layout", "$DIR/layout", "-o", "$DIR/layout/oci-layout", "--compress", "zstd"}, says: []string{"inside the layout"}},
				{args: []string{"export", "--layout", "$DIR/layout", "-o", "$DIR/layout/blobs/sha256/b.tar"}, says: []string{"inside the layout"}},
				{args: []string{"export", "--layout", "$DIR/layout", "--split", "1M", "-o", "$DIR/layout/b.tar"}, says: []string{"inside the layout"}},
				{args: []string{"export", "--layout", "$DIR/layout", "-o", "$DIR/link/index.json"}, says: []string{"output $DIR/link/index.json: inside the layout"}},
				{args: []string{"export", "--layout", "$DIR/link", "-o", "$DIR/layout/blobs/../index.json"}, says: []string{"inside the layout"}},
				{args: []string{"export", "--layout", "$DIR/layout", "-o", "$DIR/b.tar"}, ok: true, changes: true, says: []string{"layout digest"}},
			},
		},
	)
	runHostile(t, fixSays(cases))
}

// fixSays returns cases with every "$DIR" in says cut with what comes before it: the harness
// puts the case's folder in args only, so a message is checked from the part after it.
func fixSays(cases []hostileCase) []hostileCase {
	for i := range cases {
		for j := range cases[i].runs {
			for k, s := range cases[i].runs[j].says {
				if _, after, ok := strings.Cut(s, "$DIR"); ok {
					cases[i].runs[j].says[k] = after
				}
			}
		}
	}
	return cases
}

// TestHostileTarPipes: what the FIFO refusals must not break. A pipe handed over as /dev/fd/N
// (what import <(zstdcat x.tar.zst) gives) and stdin are read by import and verify, with a
// writer that starts late; and export refuses a stdout redirected into the layout it exports.
func TestHostileTarPipes(t *testing.T) {
	demo := buildDemo(t)
	dir := t.TempDir()
	tarball := filepath.Join(dir, "b.tar.zst")
	mustGP(t, "export", "--layout", demo, "--compress", "zstd", "-o", tarball)
	data, err := os.ReadFile(tarball)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		fd   bool // the tarball comes on fd 3, else on stdin
	}{
		{"import /dev/fd/3", []string{"import", "--layout", filepath.Join(dir, "via-fd"), "/dev/fd/3"}, true},
		{"import /proc/self/fd/3", []string{"import", "--layout", filepath.Join(dir, "via-proc"), "/proc/self/fd/3"}, true},
		{"verify /dev/fd/3", []string{"verify", "/dev/fd/3"}, true},
		{"import -", []string{"import", "--layout", filepath.Join(dir, "via-stdin"), "-"}, false},
		{"verify -", []string{"verify", "-"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := withContext(ctx, gadgetpackCmd(t, tc.args...))
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			if tc.fd {
				cmd.ExtraFiles = []*os.File{pr}
			} else {
				cmd.Stdin = pr
			}
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pr.Close()
			time.Sleep(200 * time.Millisecond) // the writer starts late, as zstdcat may
			_, werr := pw.Write(data)
			pw.Close()
			err = cmd.Wait()
			if werr != nil || err != nil || ctx.Err() != nil {
				t.Fatalf("%v, %v, %v:\n%s", werr, err, ctx.Err(), out.String())
			}
		})
	}
	// export -o - > LAYOUT/b.tar: the shell made the file; nothing is written into it.
	out := filepath.Join(demo, "b.tar")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := gadgetpackCmd(t, "export", "--layout", demo, "-o", "-")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = f, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if fi, _ := os.Stat(out); !errors.As(err, &exit) || exit.ExitCode() != ExitFailure || fi.Size() != 0 ||
		!strings.Contains(stderr.String(), "-o - (stdout): output "+out+": inside the layout") {
		t.Fatalf("export into the layout through stdout: %v, %d bytes written:\n%s", err, fi.Size(), stderr.String())
	}
}
