package spec

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/klauspost/compress/gzip"
)

// tarEntry is one entry of a tarball made by makeTar.
type tarEntry struct {
	name string
	typ  byte
	data []byte
	size int64 // header size when data is nil and size > 0: the data is not written
}

// makeTar returns the (uncompressed) tarball of entries.
func makeTar(tb testing.TB, entries ...tarEntry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.name, Typeflag: typ, Mode: 0o644, Size: int64(len(e.data)), Format: tar.FormatPAX}
		switch typ {
		case tar.TypeSymlink, tar.TypeLink:
			hdr.Linkname = "target"
		case tar.TypeDir, tar.TypeFifo, tar.TypeChar, tar.TypeBlock:
			hdr.Size = 0
		case tar.TypeXGlobalHeader:
			hdr = &tar.Header{Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": "git archive"}}
		}
		if e.size > 0 {
			hdr.Size = e.size
			if err := tw.WriteHeader(hdr); err != nil {
				tb.Fatal(err)
			}
			return buf.Bytes() // the header alone: the reader must stop there
		}
		if err := tw.WriteHeader(hdr); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(tb testing.TB, data []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// minBTF is the minimized BTF of the amd64 testdata tarball.
func minBTF(tb testing.TB) []byte {
	tb.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(readTestdata(tb, "gadgets/trace_exec/btfs-amd64.tar.gz")))
	if err != nil {
		tb.Fatal(err)
	}
	tr := tar.NewReader(zr)
	if _, err := tr.Next(); err != nil {
		tb.Fatal(err)
	}
	data, err := io.ReadAll(tr)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func TestCheckBTFGen(t *testing.T) {
	ctx := context.Background()
	amd64 := []string{"debian/12/x86_64/6.18.44-fc-v669.btf"}
	arm64 := []string{"debian/12/aarch64/6.1.0-56-cloud-arm64.btf", "debian/12/arm64/6.1.0-56-cloud-arm64.btf"}
	small := minBTF(t)
	kernel := readTestdata(t, "kernels/x86_64/6.18.44-fc-v669.btf")
	for _, tc := range []struct {
		name, arch string
		data       []byte
		want       []string
	}{
		{"testdata amd64", "amd64", readTestdata(t, "gadgets/trace_exec/btfs-amd64.tar.gz"), amd64},
		{"testdata amd64 as x86_64", "x86_64", readTestdata(t, "gadgets/trace_exec/btfs-amd64.tar.gz"), amd64},
		{"testdata arm64", "arm64", readTestdata(t, "gadgets/trace_exec/btfs-arm64.tar.gz"), arm64},
		{"testdata arm64 as aarch64", "aarch64", readTestdata(t, "gadgets/trace_exec/btfs-arm64.tar.gz"), arm64},
		{"no platform: any arch folder", "", readTestdata(t, "gadgets/trace_exec/btfs-arm64.tar.gz"), arm64},
		{"uname -m folder, several kernels, directories, sorted", "arm64", gzipBytes(t, makeTar(t,
			tarEntry{name: "ubuntu/", typ: tar.TypeDir},
			tarEntry{name: "ubuntu/22.04/aarch64/", typ: tar.TypeDir},
			tarEntry{name: "ubuntu/22.04/aarch64/5.15.0-91-generic.btf", data: small},
			tarEntry{name: "ubuntu/22.04/arm64/5.15.0-91-generic.btf", data: small},
			tarEntry{name: "centos/8/aarch64/4.18.0-348.el8.aarch64.btf", data: small},
		)), []string{"centos/8/aarch64/4.18.0-348.el8.aarch64.btf", "ubuntu/22.04/aarch64/5.15.0-91-generic.btf", "ubuntu/22.04/arm64/5.15.0-91-generic.btf"}},
		{"a whole kernel's BTF", "amd64", gzipBytes(t, makeTar(t, tarEntry{name: "debian/12/x86_64/6.18.44-fc-v669.btf", data: kernel})), amd64},
		{"pax global header and ./ directory", "amd64", gzipBytes(t, makeTar(t,
			tarEntry{typ: tar.TypeXGlobalHeader},
			tarEntry{name: "./", typ: tar.TypeDir},
			tarEntry{name: amd64[0], data: small},
		)), amd64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CheckBTFGen(ctx, bytes.NewReader(tc.data), tc.arch)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("entries %q, want %q", got, tc.want)
			}
			if _, err := CheckBTFGen(ctx, iotest.HalfReader(bytes.NewReader(tc.data)), tc.arch); err != nil {
				t.Fatalf("short reads: %v", err)
			}
		})
	}
}

func TestCheckBTFGenBad(t *testing.T) {
	ctx := context.Background()
	small := minBTF(t)
	good := gzipBytes(t, makeTar(t, tarEntry{name: "debian/12/x86_64/r.btf", data: small}))
	badCRC := slices.Clone(good)
	badCRC[len(badCRC)-6] ^= 0xff
	entry := func(name string) []byte {
		return gzipBytes(t, makeTar(t, tarEntry{name: name, data: small}))
	}
	for _, tc := range []struct {
		name, arch string
		data       []byte
		why        string
		tooLarge   bool
	}{
		{"bad/btfs-not-gzip.tar", "amd64", readTestdata(t, "bad/btfs-not-gzip.tar"), `not gzip (starts with "de"`, false},
		{"bad/btfs-wrong-arch.tar.gz", "amd64", readTestdata(t, "bad/btfs-wrong-arch.tar.gz"), `arch folder "arm64", want x86_64 for amd64`, false},
		{"bad/btfs-bad-path.tar.gz", "amd64", readTestdata(t, "bad/btfs-bad-path.tar.gz"), `entry "x86_64/6.18.44-fc-v669.btf": want ID/VERSION_ID/ARCH/RELEASE.btf`, false},
		{"bad/not-btf.tar.gz", "amd64", readTestdata(t, "bad/not-btf.tar.gz"), `entry "debian/12/x86_64/6.18.44-fc-v669.btf": not BTF`, false},
		{"amd64 tarball for arm64", "arm64", readTestdata(t, "gadgets/trace_exec/btfs-amd64.tar.gz"), `arch folder "x86_64", want aarch64 or arm64 for arm64`, false},
		{"empty", "amd64", nil, "empty", false},
		{"a BTF file, not a tarball", "amd64", small, "not gzip", false},
		{"gzip of something else", "amd64", gzipBytes(t, []byte("plain text, no tar header here at all")), "tar: ", false},
		{"bad gzip checksum", "amd64", badCRC, "gzip: invalid checksum", false},
		{"trailing junk", "amd64", append(slices.Clone(good), "junk"...), "after the tar", false},
		{"no files", "amd64", gzipBytes(t, makeTar(t, tarEntry{name: "debian/", typ: tar.TypeDir})), "no BTF file", false},
		{"symlink", "amd64", gzipBytes(t, makeTar(t, tarEntry{name: "debian/12/x86_64/r.btf", typ: tar.TypeSymlink})), "type symlink", false},
		{"hard link", "amd64", gzipBytes(t, makeTar(t, tarEntry{name: "debian/12/x86_64/r.btf", typ: tar.TypeLink})), "type hard link", false},
		{"device", "amd64", gzipBytes(t, makeTar(t, tarEntry{name: "debian/12/x86_64/r.btf", typ: tar.TypeChar})), "type character device", false},
		{"fifo", "amd64", gzipBytes(t, makeTar(t, tarEntry{name: "debian/12/x86_64/r.btf", typ: tar.TypeFifo})), "type fifo", false},
		{"absolute", "amd64", entry("/debian/12/x86_64/r.btf"), "absolute path", false},
		{"traversal", "amd64", entry("../12/x86_64/r.btf"), `".." component`, false},
		{"traversal in a directory", "amd64", gzipBytes(t, makeTar(t, tarEntry{name: "a/../../", typ: tar.TypeDir})), `".." component`, false},
		{"./ prefix", "amd64", entry("./debian/12/x86_64/r.btf"), `"." component (ig matches entry names exactly`, false},
		{"double slash", "amd64", entry("debian//12/x86_64/r.btf"), "empty path component", false},
		{"too deep", "amd64", entry("x/debian/12/x86_64/r.btf"), "want ID/VERSION_ID/ARCH/RELEASE.btf", false},
		{"not .btf", "amd64", entry("debian/12/x86_64/r.btf.tar.xz"), "want ID/VERSION_ID/ARCH/RELEASE.btf", false},
		{"no release", "amd64", entry("debian/12/x86_64/.btf"), "want ID/VERSION_ID/ARCH/RELEASE.btf", false},
		{"unknown arch folder", "", entry("debian/12/riscv64/r.btf"), `arch folder "riscv64", want x86_64 or aarch64 or arm64`, false},
		{"duplicate", "amd64", gzipBytes(t, makeTar(t,
			tarEntry{name: "debian/12/x86_64/r.btf", data: small},
			tarEntry{name: "debian/12/x86_64/r.btf", data: small})), "appears twice", false},
		{"empty entry", "amd64", gzipBytes(t, makeTar(t, tarEntry{name: "debian/12/x86_64/r.btf", data: []byte{}})), "not BTF", false},
		{"entry over the cap", "amd64", gzipBytes(t, makeTar(t, tarEntry{name: "debian/12/x86_64/r.btf", size: MaxBTFGenEntrySize + 1})), "over 67108864", true},
		{"cut after a header", "amd64", gzipBytes(t, makeTar(t, tarEntry{name: "debian/12/x86_64/r.btf", size: 1000})), "unexpected EOF", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CheckBTFGen(ctx, bytes.NewReader(tc.data), tc.arch)
			if !errors.Is(err, ErrBadBTFGen) || got != nil || errors.Is(err, ErrTooLarge) != tc.tooLarge {
				t.Fatalf("CheckBTFGen = %q, %v; want ErrBadBTFGen (too large: %v)", got, err, tc.tooLarge)
			}
			if !strings.Contains(err.Error(), tc.why) || !strings.HasPrefix(err.Error(), "btfgen: ") {
				t.Fatalf("error %q should say %q", err, tc.why)
			}
			t.Log(err)
		})
	}
}

func TestCheckBTFGenCaps(t *testing.T) {
	ctx := context.Background()
	if _, err := CheckBTFGen(ctx, bytes.NewReader(nil), "riscv64"); !errors.Is(err, ErrUnknownArch) {
		t.Errorf("unknown arch: %v", err)
	}
	good := readTestdata(t, "gadgets/trace_exec/btfs-amd64.tar.gz")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := CheckBTFGen(cancelled, bytes.NewReader(good), "amd64"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := CheckBTFGen(ctx, iotest.ErrReader(errors.New("disk on fire")), "amd64"); !errors.Is(err, ErrBadBTFGen) || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("read error: %v", err)
	}

	// A gzip bomb: 64 MiB of zeros after a valid entry, with the total cap lowered to 4 MiB.
	defer func(old int64) { btfgenTotalCap = old }(btfgenTotalCap)
	btfgenTotalCap = 4 << 20
	bomb := gzipBytes(t, append(makeTar(t, tarEntry{name: "debian/12/x86_64/r.btf", data: minBTF(t)}), make([]byte, 64<<20)...))
	if len(bomb) > 1<<20 {
		t.Fatalf("bomb is %d bytes", len(bomb))
	}
	_, err := CheckBTFGen(ctx, bytes.NewReader(bomb), "amd64")
	if !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrBadBTFGen) || !strings.Contains(err.Error(), "over 4194304 bytes decompressed") {
		t.Fatalf("gzip bomb: %v", err)
	}
}

func FuzzCheckBTFGen(f *testing.F) {
	for _, pattern := range []string{"gadgets/*/btfs-*.tar.gz", "bad/*.tar.gz", "bad/btfs-not-gzip.tar"} {
		for _, rel := range globTestdata(f, pattern) {
			f.Add(readTestdata(f, rel))
		}
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, arch := range []string{"", "amd64", "arm64"} {
			names, err := CheckBTFGen(ctx, bytes.NewReader(data), arch)
			if err != nil {
				if names != nil || !errors.Is(err, ErrBadBTFGen) {
					t.Fatalf("arch %q: %q, %v", arch, names, err)
				}
				continue
			}
			if len(names) == 0 || !slices.IsSorted(names) {
				t.Fatalf("arch %q: entries %q", arch, names)
			}
			for _, n := range names {
				if strings.Count(n, "/") != 3 || !strings.HasSuffix(n, ".btf") || strings.Contains(n, "..") {
					t.Fatalf("arch %q: accepted entry %q", arch, n)
				}
			}
		}
	})
}

func BenchmarkCheckBTFGen(b *testing.B) {
	kernel := readTestdata(b, "kernels/x86_64/6.18.44-fc-v669.btf")
	data := gzipBytes(b, makeTar(b, tarEntry{name: "debian/12/x86_64/6.18.44-fc-v669.btf", data: kernel}))
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(kernel)))
	for b.Loop() {
		if _, err := CheckBTFGen(ctx, bytes.NewReader(data), "amd64"); err != nil {
			b.Fatal(err)
		}
	}
}

// arm64OnlyBTFGen returns testdata's arm64 btfgen archive with its kernel under arm64/ only, as
// btfhub-archive names the folder and as ig, which looks under uname -m (aarch64), never finds it.
func arm64OnlyBTFGen(tb testing.TB) []byte {
	tb.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(readTestdata(tb, "gadgets/trace_exec/btfs-arm64.tar.gz")))
	if err != nil {
		tb.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var entries []tarEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		if strings.Contains(h.Name, "/arm64/") {
			data, err := io.ReadAll(tr)
			if err != nil {
				tb.Fatal(err)
			}
			entries = append(entries, tarEntry{name: h.Name, data: data})
		}
	}
	if len(entries) != 1 {
		tb.Fatalf("testdata arm64 btfgen: %d entries under arm64/, want 1", len(entries))
	}
	return gzipBytes(tb, makeTar(tb, entries...))
}
