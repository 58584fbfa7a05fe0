package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/gadgetpack/gadgetpack/tarball"
)

func sha256File(tb testing.TB, path string) string {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// TestExportCommand: export writes the tarball and FILE.sha256, prints the digest, and the
// tarball extracts into a layout that verifies with the source's layout digest; -o - writes
// the same bytes to stdout and the digest to stderr.
func TestExportCommand(t *testing.T) {
	src := buildDemo(t)
	srcRep, _ := verifyJSON(t, src)
	dir := t.TempDir()
	out := filepath.Join(dir, "bundle.tar")
	r := mustGP(t, "export", "--layout", src, "-o", out)
	hexSum := sha256File(t, out)
	if !strings.Contains(r.stdout, "digest sha256:"+hexSum+"\n") || !strings.Contains(r.stdout, "layout digest "+srcRep.LayoutDigest.String()) {
		t.Fatalf("export output:\n%s\nwant digest %s and layout digest %s", r.stdout, hexSum, srcRep.LayoutDigest)
	}
	if sums, _ := os.ReadFile(out + ".sha256"); string(sums) != hexSum+"  bundle.tar\n" {
		t.Fatalf("bundle.tar.sha256: %q", sums)
	}
	far := filepath.Join(dir, "far")
	untar(t, out, far)
	farRep, fr := verifyJSON(t, far)
	if fr.code != 0 || farRep.LayoutDigest != srcRep.LayoutDigest || farRep.Blobs != srcRep.Blobs {
		t.Fatalf("far side: exit %d, %+v; source %+v", fr.code, farRep, srcRep)
	}

	// Stdout: the same bytes; the digest goes to stderr.
	std := mustGP(t, "export", "--layout", src, "-o", "-")
	data, _ := os.ReadFile(out)
	if !bytes.Equal([]byte(std.stdout), data) {
		t.Fatalf("-o - wrote %d bytes, the file has %d", len(std.stdout), len(data))
	}
	if !strings.Contains(std.stderr, "digest sha256:"+hexSum) {
		t.Fatalf("-o - stderr:\n%s", std.stderr)
	}
	if q := mustGP(t, "export", "--quiet", "--layout", src, "-o", "-"); q.stderr != "sha256:"+hexSum+"\n" {
		t.Fatalf("-o - --quiet stderr %q", q.stderr)
	}
	var sres tarball.ExportResult
	if j := mustGP(t, "export", "--json", "--layout", src, "-o", "-"); json.Unmarshal([]byte(j.stderr), &sres) != nil || sres.Digest.Encoded() != hexSum {
		t.Fatalf("-o - --json stderr %q", j.stderr)
	}

	// Again, under --quiet: the same bytes, bare digest.
	q := mustGP(t, "export", "--quiet", "--layout", src, "-o", out)
	if q.stdout != "sha256:"+hexSum+"\n" || sha256File(t, out) != hexSum {
		t.Fatalf("--quiet: %q, file %s", q.stdout, sha256File(t, out))
	}

	// --json: the result, one ref named.
	j := mustGP(t, "export", "--json", "--layout", src, "-o", out, "trace_exec")
	var res tarball.ExportResult
	if err := json.Unmarshal([]byte(j.stdout), &res); err != nil {
		t.Fatalf("--json: %v\n%s", err, j.stdout)
	}
	if !slices.Equal(res.Refs, []string{"ghcr.io/inspektor-gadget/gadget/trace_exec:latest"}) || res.Path != out ||
		len(res.Parts) != 1 || res.Digest.Encoded() != sha256File(t, out) {
		t.Fatalf("--json result %+v", res)
	}
}

// TestExportCommandSplitCompressed: --split and --compress write parts of at most SIZE listed
// in FILE.sha256, which together decompress to the plain export.
func TestExportCommandSplitCompressed(t *testing.T) {
	src := buildDemo(t)
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.tar")
	mustGP(t, "export", "--quiet", "--layout", src, "-o", plain)
	want, _ := os.ReadFile(plain)
	for _, comp := range []string{"none", "gzip", "zstd"} {
		t.Run(comp, func(t *testing.T) {
			out := filepath.Join(dir, "split-"+comp+".tar")
			r := mustGP(t, "export", "--layout", src, "--compress", comp, "--split", "1M", "-o", out)
			sums, err := os.ReadFile(out + ".sha256")
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(sums), "\n"), "\n")
			var paths []string
			for i, line := range lines {
				sum, name, _ := strings.Cut(line, "  ")
				p := filepath.Join(dir, name)
				if name != filepath.Base(tarball.PartName(out, i)) || sha256File(t, p) != sum {
					t.Fatalf("line %q of the checksum file", line)
				}
				if fi, _ := os.Stat(p); fi.Size() > 1<<20 {
					t.Fatalf("%s: %d bytes, over --split 1M", name, fi.Size())
				}
				if !strings.Contains(r.stdout, "part "+p+" sha256:"+sum) {
					t.Fatalf("output does not list part %s:\n%s", p, r.stdout)
				}
				paths = append(paths, p)
			}
			if comp == "none" && len(paths) < 2 {
				t.Fatalf("%d parts of a %d-byte tarball", len(paths), len(want))
			}
			rd, err := tarball.OpenParts(paths)
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			got := exDecompressed(t, comp, rd)
			if !bytes.Equal(got, want) {
				t.Fatalf("parts decompress to %d bytes, not the plain export's %d", len(got), len(want))
			}
		})
	}
}

// exDecompressed reads a stream of compression comp whole, decompressed.
func exDecompressed(tb testing.TB, comp string, r io.Reader) []byte {
	tb.Helper()
	switch comp {
	case "gzip":
		z, err := gzip.NewReader(r)
		if err != nil {
			tb.Fatal(err)
		}
		r = z
	case "zstd":
		z, err := zstd.NewReader(r)
		if err != nil {
			tb.Fatal(err)
		}
		defer z.Close()
		r = z
	}
	data, err := io.ReadAll(r)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// TestExportCommandRefusals: usage errors exit 2, failures exit 1, and neither leaves a file.
func TestExportCommandRefusals(t *testing.T) {
	src := buildDemo(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "b.tar")
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no -o", []string{"export", "--layout", src}, 2, "output"},
		{"empty -o", []string{"export", "--layout", src, "-o", ""}, 2, "-o"},
		{"bad compress", []string{"export", "--layout", src, "--compress", "xz", "-o", out}, 2, `"xz"`},
		{"split unparsable", []string{"export", "--layout", src, "--split", "lots", "-o", out}, 2, `"lots"`},
		{"split too small", []string{"export", "--layout", src, "--split", "512K", "-o", out}, 2, "minimum"},
		{"split stdout", []string{"export", "--layout", src, "--split", "10M", "-o", "-"}, 2, "--split"},
		{"flag after args", []string{"export", "--layout", src, "-o", out, "trace_exec", "--json"}, 2, "after the arguments"},
		{"unknown ref", []string{"export", "--layout", src, "-o", out, "nosuch"}, 1, "nosuch"},
		{"not a layout", []string{"export", "--layout", dir, "-o", out}, 1, "not an OCI image layout"},
		{"bad base", []string{"export", "--layout", src, "--exclude-from", filepath.Join(dir, "missing"), "-o", out}, 1, "--exclude-from"},
		{"no directory", []string{"export", "--layout", src, "-o", filepath.Join(dir, "no", "b.tar")}, 1, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := gp(t, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) || strings.Count(r.stderr, "gadgetpack: ") != 1 {
				t.Fatalf("exit %d, want %d; stderr:\n%s\nwant it to contain %q", r.code, tc.code, r.stderr, tc.msg)
			}
			if names := dirNamesOf(t, dir); len(names) != 0 {
				t.Fatalf("files left: %v", names)
			}
		})
	}
}

// TestExportCommandCorrupt: a damaged blob fails the export naming its digest, exit 1, and no
// output file (nor checksum file, nor temp file) is left.
func TestExportCommandCorrupt(t *testing.T) {
	src := buildDemo(t)
	blobs := filepath.Join(src, "blobs", "sha256")
	ents, err := os.ReadDir(blobs)
	if err != nil {
		t.Fatal(err)
	}
	// The largest blob is an eBPF layer (not JSON: export is the first to read it whole).
	var victim string
	var size int64
	for _, e := range ents {
		fi, _ := e.Info()
		if fi.Size() > size {
			victim, size = e.Name(), fi.Size()
		}
	}
	p := filepath.Join(blobs, victim)
	data, _ := os.ReadFile(p)
	data[len(data)/2] ^= 1
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-o", filepath.Join(dir, "b.tar")},
		{"--split", "1M", "-o", filepath.Join(dir, "b.tar")},
		{"--compress", "zstd", "-o", filepath.Join(dir, "b.tar.zst")},
	} {
		r := gp(t, append([]string{"export", "--layout", src}, args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, "sha256:"+victim) || !strings.Contains(r.stderr, "digest mismatch") {
			t.Fatalf("export %v of a corrupt layout: exit %d, stderr:\n%s", args, r.code, r.stderr)
		}
		if names := dirNamesOf(t, dir); len(names) != 0 {
			t.Fatalf("export %v left %v", args, names)
		}
	}
}

// TestExportCommandExcludeFrom: a delta against last month's tarball leaves out what it
// holds, and on top of it makes the whole layout.
func TestExportCommandExcludeFrom(t *testing.T) {
	src := buildDemo(t)
	dir := t.TempDir()
	base := filepath.Join(dir, "base.tar.gz")
	mustGP(t, "export", "--quiet", "--layout", src, "--compress", "gzip", "-o", base, "trace_exec")
	delta := filepath.Join(dir, "delta.tar")
	r := mustGP(t, "export", "--layout", src, "--exclude-from", base, "-o", delta)
	if !strings.Contains(r.stdout, "left out") {
		t.Fatalf("export --exclude-from output:\n%s", r.stdout)
	}
	j := mustGP(t, "export", "--json", "--layout", src, "--exclude-from", base, "-o", delta)
	var res tarball.ExportResult
	if err := json.Unmarshal([]byte(j.stdout), &res); err != nil {
		t.Fatal(err)
	}
	if res.Excluded == 0 || res.Blobs == 0 || len(res.Refs) != 2 {
		t.Fatalf("delta result %+v", res)
	}
	// The far side: the base, then the delta over it.
	far := filepath.Join(dir, "far")
	plainBase := filepath.Join(dir, "base.tar")
	mustGP(t, "export", "--quiet", "--layout", src, "-o", plainBase, "trace_exec")
	untar(t, plainBase, far)
	os.Remove(filepath.Join(far, "index.json"))
	os.Remove(filepath.Join(far, "oci-layout"))
	untar(t, delta, far)
	srcRep, _ := verifyJSON(t, src)
	farRep, fr := verifyJSON(t, far)
	if fr.code != 0 || farRep.LayoutDigest != srcRep.LayoutDigest || farRep.Blobs != srcRep.Blobs {
		t.Fatalf("base + delta: exit %d, %+v", fr.code, farRep)
	}
}

// TestExportKilledLeavesNoLitter SIGKILLs an export while it writes: its hidden temp file stays
// (on a USB stick, as large as a part), and no output appears. The next export to the same path
// removes it, says so, and leaves only its own output.
func TestExportKilledLeavesNoLitter(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	big := filepath.Join(t.TempDir(), "big")
	writeBigLayout(t, big, 128<<20, "example.com/big:1")
	dir := t.TempDir()
	out := filepath.Join(dir, "bundle.tar")
	var temps []string
	for attempt := 0; len(temps) == 0 && attempt < 5; attempt++ {
		cmd := gadgetpackCmd(t, "export", "--layout", big, "--split", "64M", "-o", out)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill it once a temp file holds a few MiB.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			names, _ := filepath.Glob(filepath.Join(dir, ".bundle.tar.*.tmp-*"))
			if len(names) > 0 {
				if fi, err := os.Stat(names[0]); err == nil && fi.Size() > 4<<20 {
					break
				}
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ws.Signaled() {
			// It finished first: start again from nothing.
			for _, n := range dirNamesOf(t, dir) {
				_ = os.Remove(filepath.Join(dir, n))
			}
			continue
		}
		temps, _ = filepath.Glob(filepath.Join(dir, ".bundle.tar.*.tmp-*"))
	}
	if len(temps) == 0 {
		t.Fatal("no export was killed while writing in 5 attempts")
	}
	for _, n := range dirNamesOf(t, dir) {
		if !strings.HasPrefix(n, ".bundle.tar.") {
			t.Fatalf("a killed export left %s beside its temp files", n)
		}
	}
	r := mustGP(t, "export", "--layout", big, "--split", "64M", "-o", out)
	for _, tmp := range temps {
		if !strings.Contains(r.stderr, "removed "+tmp+", left by an export that died") {
			t.Errorf("export did not say it removed %s:\n%s", tmp, r.stderr)
		}
	}
	want := []string{"bundle.tar.000", "bundle.tar.001", "bundle.tar.002", "bundle.tar.sha256"}
	if got := dirNamesOf(t, dir); !slices.Equal(got, want) {
		t.Fatalf("left %v, want %v", got, want)
	}
	mustGP(t, "verify", out)
}
