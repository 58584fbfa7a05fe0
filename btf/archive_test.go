package btf

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gadgetpack/gadgetpack/internal/testtool"
)

func tarOf(tb testing.TB, entries ...string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i+1 < len(entries); i += 2 {
		if err := tw.WriteHeader(&tar.Header{Name: entries[i], Mode: 0o644, Size: int64(len(entries[i+1])), Typeflag: tar.TypeReg}); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write([]byte(entries[i+1])); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestKernelFromTar(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tar     []byte
		want    string
		wantErr error
	}{
		{"own entry", tarOf(t, "5.4.0-1.btf", "own"), "own", nil},
		{"own among modules", tarOf(t, "./5.4.0-1/modules/ext4.btf", "mod", "./5.4.0-1.btf", "own"), "own", nil},
		{"vmlinux and modules", tarOf(t, "vmlinux", "vm", "modules/xfs.btf", "mod"), "vm", nil},
		{"single other btf", tarOf(t, "renamed.btf", "x"), "x", nil},
		{"two unknown btf", tarOf(t, "a.btf", "a", "b.btf", "b"), "", ErrBadArchive},
		{"no btf", tarOf(t, "README", "hi"), "", ErrBadArchive},
		{"not a tar", []byte("garbage that is not a tar header at all............"), "", ErrBadArchive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, read := range []struct {
				how string
				f   func([]byte, string) ([]byte, error)
			}{
				{"stream", func(b []byte, r string) ([]byte, error) { return kernelFromTarBuf(bytes.NewReader(b), r, nil) }},
				{"in memory", kernelFromTarBytes},
			} {
				got, err := read.f(tc.tar, "5.4.0-1")
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) || got != nil {
						t.Fatalf("%s: got %q, %v; want %v", read.how, got, err, tc.wantErr)
					}
					continue
				}
				if err != nil || string(got) != tc.want {
					t.Fatalf("%s: got %q, %v; want %q", read.how, got, err, tc.want)
				}
			}
		})
	}
}

func TestReadKernelVmlinuxELF(t *testing.T) {
	// a vmlinux entry that is an ELF: its .BTF section is the kernel's BTF. A BPF object
	// stands in for it (it has a .BTF section too).
	obj, err := os.ReadFile("testdata/core_types.bpf.o")
	if err != nil {
		t.Fatal(err)
	}
	got, err := kernelFromTarBuf(bytes.NewReader(tarOf(t, "vmlinux", string(obj))), "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseKernel(got); err != nil {
		t.Fatalf("BTF from vmlinux ELF: %v", err)
	}
}

func FuzzArchiveEntry(f *testing.F) {
	f.Add(tarOf(f, "5.4.0-1.btf", "own"))
	f.Add(tarOf(f, "vmlinux", "\x7fELF"))
	f.Add(tarOf(f, "a.btf", "a", "b.btf", "b"))
	if e, err := listArchive(context.Background(), "testdata/archive"); err == nil && len(e) > 0 {
		if data, err := readKernelAlone(context.Background(), newDecompressor(false), e[0]); err == nil {
			f.Add(tarOf(f, "5.4.0-1.btf", string(data[:4096])))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := kernelFromTarBuf(bytes.NewReader(data), "5.4.0-1", nil)
		if err != nil && got != nil {
			t.Fatal("error with a result")
		}
		inMem, merr := kernelFromTarBytes(data, "5.4.0-1")
		if (merr == nil) != (err == nil) || !bytes.Equal(inMem, got) {
			t.Fatalf("in memory: %d bytes, %v; streamed: %d bytes, %v", len(inMem), merr, len(got), err)
		}
		if err == nil {
			if _, err := ParseKernel(got); err != nil && !errors.Is(err, ErrBadBTF) {
				t.Fatalf("ParseKernel: %v is not ErrBadBTF", err)
			}
		}
	})
}

// TestReadKernelXZ reads every testdata tarball the three ways: xz into the worker's memory
// file (with a scratch, and without: a copy), xz through a pipe (a tarball over memTarCap), and the pure-Go reader; and a
// truncated tarball is refused by the memory-file path, not taken for one too large.
func TestReadKernelXZ(t *testing.T) {
	testtool.Require(t, "xz")
	ctx := context.Background()
	entries, err := listArchive(ctx, "testdata/archive")
	if err != nil || len(entries) < 3 {
		t.Fatal(len(entries), err)
	}
	var mem, small workerScratch
	defer mem.close()
	defer small.close()
	exec, goxz := newDecompressor(true), newDecompressor(false)
	if !exec.memOK {
		t.Fatalf("xz %s does not take --no-sparse", exec.xzPath)
	}
	for _, e := range entries {
		t.Run(e.release, func(t *testing.T) {
			want, err := readKernelAlone(ctx, goxz, e)
			if err != nil {
				t.Fatal(err)
			}
			got, err := exec.readKernel(ctx, e, &mem)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("memory file: %d bytes, %v; want %d bytes", len(got), err, len(want))
			}
			if _, err := ParseKernel(got); err != nil {
				t.Fatal(err)
			}
			// without scratch, the result outlives the memory file
			if own, err := readKernelAlone(ctx, exec, e); err != nil || !bytes.Equal(own, want) {
				t.Fatalf("without scratch: %d bytes, %v; want %d bytes", len(own), err, len(want))
			}
			defer func(c int64) { memTarCap = c }(memTarCap)
			memTarCap = 64 << 10
			got, err = exec.readKernel(ctx, e, &small)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("over memTarCap: %d bytes, %v; want %d bytes", len(got), err, len(want))
			}
			if small.memCap != 64<<10 {
				t.Fatalf("memory file of %d bytes, want %d", small.memCap, 64<<10)
			}
		})
	}
	whole, err := os.ReadFile(entries[0].path)
	if err != nil {
		t.Fatal(err)
	}
	bad := entries[0]
	bad.path = filepath.Join(t.TempDir(), "cut.btf.tar.xz")
	if err := os.WriteFile(bad.path, whole[:len(whole)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if data, err := exec.readKernel(ctx, bad, &mem); !errors.Is(err, ErrBadArchive) || data != nil {
		t.Fatalf("truncated tarball: %d bytes, %v; want ErrBadArchive", len(data), err)
	}
}

// TestReadKernelXZWithoutNoSparse: an xz that refuses --no-sparse (BusyBox's) is still used,
// every tarball streamed through a pipe.
func TestReadKernelXZWithoutNoSparse(t *testing.T) {
	realXZ := testtool.Require(t, "xz")
	dir := t.TempDir()
	script := "#!/bin/sh\nfor a; do [ \"$a\" = --no-sparse ] && { echo \"xz: unrecognized option '$a'\" >&2; exit 1; }; done\nexec " + realXZ + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "xz"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	d := newDecompressor(true)
	if d.xzPath != filepath.Join(dir, "xz") || d.memOK {
		t.Fatalf("xz %s, memory file %v; want the fake xz without memory file", d.xzPath, d.memOK)
	}
	entries, err := listArchive(context.Background(), "testdata/archive")
	if err != nil || len(entries) == 0 {
		t.Fatal(len(entries), err)
	}
	want, err := readKernelAlone(context.Background(), newDecompressor(false), entries[0])
	if err != nil {
		t.Fatal(err)
	}
	var s workerScratch
	defer s.close()
	got, err := d.readKernel(context.Background(), entries[0], &s)
	if err != nil || !bytes.Equal(got, want) || s.mem != nil {
		t.Fatalf("%d bytes, %v, memory file %v; want %d bytes streamed", len(got), err, s.mem != nil, len(want))
	}
}

// BenchmarkXZ compares the xz program with the pure-Go reader on one real kernel tarball.
func BenchmarkXZ(b *testing.B) {
	entries, err := listArchive(context.Background(), "testdata/archive")
	if err != nil || len(entries) == 0 {
		b.Fatal(err)
	}
	e := entries[len(entries)-1]
	for _, tc := range []struct {
		name string
		exec bool
	}{{"exec", true}, {"go", false}} {
		b.Run(tc.name, func(b *testing.B) {
			d := newDecompressor(tc.exec)
			if tc.exec && d.xzPath == "" {
				b.Skip("xz not installed")
			}
			var s workerScratch
			data, err := d.readKernel(context.Background(), e, &s)
			if err != nil {
				b.Fatal(err)
			}
			s.data = data
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := d.readKernel(context.Background(), e, &s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
