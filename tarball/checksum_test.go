package tarball

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"
)

func TestChecksumFile(t *testing.T) {
	for _, tc := range []struct {
		files []string
		want  string
	}{
		{nil, ""},
		{[]string{"/m/bundle.tar"}, "/m/bundle.tar.sha256"},
		{[]string{"/m/bundle.tar.zst"}, "/m/bundle.tar.zst.sha256"},
		{[]string{"/m/bundle.tar.000"}, "/m/bundle.tar.sha256"},
		{[]string{"/m/b.tar.000", "/m/b.tar.001", "/m/b.tar.002"}, "/m/b.tar.sha256"},
		{[]string{"/m/b.tar.000", "/m/b.tar.002"}, ""},                // a gap
		{[]string{"/m/b.tar.001", "/m/b.tar.002"}, ""},                // not from the first
		{[]string{"/m/b.tar.000", "/m/c.tar.001"}, ""},                // two exports
		{[]string{"/m/one.tar", "/m/two.tar"}, ""},                    // not parts
		{[]string{".000", ".001"}, ""},                                // no prefix
		{[]string{"/m/b.tar.1000", "/m/b.tar.1001"}, ""},              // not PartName's
		{[]string{"/m/b.tar.000", "/m/b.tar.001"}, "/m/b.tar.sha256"}, // two parts
	} {
		if got := ChecksumFile(tc.files); got != tc.want {
			t.Errorf("ChecksumFile(%q) = %q, want %q", tc.files, got, tc.want)
		}
	}
}

func TestReadChecksums(t *testing.T) {
	a := strings.Repeat("ab", 32)
	b := strings.Repeat("0f", 32)
	for _, tc := range []struct {
		name, data string
		want       []string // "name digest-hex"
		err        string   // a part of the error; "" for none
	}{
		{"sha256sum", a + "  bundle.tar\n", []string{"bundle.tar " + a}, ""},
		{"parts", a + "  b.tar.000\n" + b + "  b.tar.001\n", []string{"b.tar.000 " + a, "b.tar.001 " + b}, ""},
		{"binary mode", a + " *bundle.tar\n", []string{"bundle.tar " + a}, ""},
		{"tag", "SHA256 (bundle.tar) = " + a + "\n", []string{"bundle.tar " + a}, ""},
		{"CRLF and blank lines", "\r\n" + a + "  bundle.tar\r\n\n", []string{"bundle.tar " + a}, ""},
		{"uppercase hex", strings.ToUpper(a) + "  bundle.tar", []string{"bundle.tar " + a}, ""},
		{"name with spaces", a + "  my bundle.tar\n", []string{"my bundle.tar " + a}, ""},
		{"one space", a + " bundle.tar\n", nil, "line 1"},
		{"short hex", a[:62] + "  bundle.tar\n", nil, "line 1"},
		{"md5sum", "d41d8cd98f00b204e9800998ecf8427e  bundle.tar\n", nil, "not a sha256sum line"},
		{"garbage on line 2", a + "  x\nhello\n", nil, "line 2"},
		{"twice", a + "  x\n" + b + "  x\n", nil, `line 2: "x" is listed twice (first on line 1)`},
		{"twice, same sum", a + "  x\n\n" + a + " *x\n", nil, `line 3: "x" is listed twice (first on line 1)`},
		{"twice, both forms", "SHA256 (x) = " + b + "\n" + a + "  x\n", nil, `line 2: "x" is listed twice (first on line 1)`},
		{"twice, escape in the name", a + "  x\x1b[2J\n" + b + "  x\x1b[2J\n", nil, `"x\x1b[2J" is listed twice`},
		{"empty", "", nil, "lists no file"},
		{"blank", "\n\n", nil, "lists no file"},
		{"too large", strings.Repeat(a+"  x\n", MaxChecksumFileBytes/67+1), nil, "over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bundle.tar.sha256")
			if err := os.WriteFile(path, []byte(tc.data), 0o644); err != nil {
				t.Fatal(err)
			}
			parts, err := ReadChecksums(path)
			if tc.err != "" {
				if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), path) {
					t.Fatalf("err = %v, want ErrChecksum naming %s and saying %q", err, path, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range parts {
				got = append(got, p.Path+" "+p.Digest.Encoded())
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := ReadChecksums(filepath.Join(t.TempDir(), "none.sha256")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

// ckFiles writes files of the given sizes (random bytes) into dir as PartName(base, i), or
// base itself for one size; it returns their paths and the bytes of all of them in order.
func ckFiles(tb testing.TB, dir, base string, sizes ...int) ([]string, []byte) {
	tb.Helper()
	var paths []string
	var all []byte
	for i, n := range sizes {
		p := filepath.Join(dir, base)
		if len(sizes) > 1 {
			p = PartName(p, i)
		}
		data := exRandom(n, uint64(100+i))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			tb.Fatal(err)
		}
		paths = append(paths, p)
		all = append(all, data...)
	}
	return paths, all
}

func TestInputReadsAndHashes(t *testing.T) {
	defer func(lead int64) { hashLead = lead }(hashLead)
	hashLead = 64 << 10 // so that the hasher waits for the reader here
	const mib = 1 << 20
	for _, sizes := range [][]int{
		{0},
		{1},
		{mib},
		{5*mib + 7},
		{3, 0, mib + 1, 5},
		{mib - 1, mib, mib + 1},
	} {
		t.Run(fmt.Sprint(sizes), func(t *testing.T) {
			dir := t.TempDir()
			paths, all := ckFiles(t, dir, "b.tar", sizes...)
			// Without a checksum file, Check says nothing.
			in, err := OpenInput(paths)
			if err != nil {
				t.Fatal(err)
			}
			if err := iotest.TestReader(in, all); err != nil {
				t.Fatal(err)
			}
			if c, err := in.Check(); c != nil || err != nil {
				t.Fatalf("Check without a checksum file = %v, %v", c, err)
			}
			in.Close()

			// With one, written as ExportFile writes it, Check reads the rest and agrees.
			var sums strings.Builder
			off := 0
			for i, p := range paths {
				fmt.Fprintf(&sums, "%s  %s\n", exSHA256Hex(all[off:off+sizes[i]]), filepath.Base(p))
				off += sizes[i]
			}
			sumFile := ChecksumFile(paths)
			if err := os.WriteFile(sumFile, []byte(sums.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			// Read whole, or only its first bytes: Check hashes every file to its end either way.
			for _, whole := range []bool{true, false} {
				in, err = OpenInput(paths)
				if err != nil {
					t.Fatal(err)
				}
				if in.ChecksumFile() != sumFile || in.Size() != int64(len(all)) {
					t.Fatalf("ChecksumFile %q Size %d, want %q %d", in.ChecksumFile(), in.Size(), sumFile, len(all))
				}
				if whole {
					err = iotest.TestReader(in, all)
				} else {
					_, err = io.ReadFull(in, make([]byte, min(len(all), 10)))
				}
				if err != nil {
					t.Fatal(err)
				}
				c, err := in.Check()
				if err != nil || c == nil || !c.OK || len(c.Files) != len(paths) {
					t.Fatalf("whole %v: Check = %+v, %v", whole, c, err)
				}
				for i, f := range c.Files {
					if f.Path != paths[i] || f.Size != int64(sizes[i]) {
						t.Errorf("file %d: %+v", i, f)
					}
				}
				in.Close()
			}
		})
	}
}

// TestInputNotRegular: a FIFO named as the tarball, a part or a checksum file, a device and a
// socket are refused at once by name (ErrNotRegular), never opened to wait for a writer.
func TestInputNotRegular(t *testing.T) {
	dir := t.TempDir()
	paths, _ := ckFiles(t, dir, "b.tar", 10, 20)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fifoSum := filepath.Join(dir, "c.tar")
	if err := os.WriteFile(fifoSum, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifoSum+ChecksumExt, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		open  func() error
		names string
	}{
		{"fifo as the tarball", func() error { _, err := OpenInput([]string{fifo}); return err }, fifo + ": a FIFO"},
		{"fifo as a part", func() error { _, err := OpenInput([]string{paths[0], fifo}); return err }, fifo + ": a FIFO"},
		{"fifo as a part of OpenParts", func() error { _, err := OpenParts([]string{paths[0], fifo}); return err }, "part " + fifo + ": a FIFO"},
		{"fifo as the checksum file", func() error { _, err := OpenInput([]string{fifoSum}); return err }, fifoSum + ChecksumExt + ": a FIFO"},
		{"fifo read as checksums", func() error { _, err := ReadChecksums(fifo); return err }, fifo + ": a FIFO"},
		{"fifo as --exclude-from", func() error { _, err := HeldBlobs(context.Background(), fifo); return err }, fifo + ": a FIFO"},
		{"fifo as /dev/fd of a named fifo", func() error { _, err := OpenInput([]string{"/dev/fd/../../.." + fifo}); return err }, ": a FIFO"},
		{"socket", func() error { _, err := OpenInput([]string{sock}); return err }, sock + ": a socket"},
		{"device", func() error { _, err := OpenInput([]string{"/dev/null"}); return err }, "/dev/null: a device"},
		{"device read by verify", func() error {
			_, err := VerifyFiles(context.Background(), []string{"/dev/zero"}, VerifyOptions{})
			return err
		}, "/dev/zero: a device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- tc.open() }()
			select {
			case err := <-done:
				if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), tc.names) {
					t.Fatalf("got %v, want %v naming %q", err, ErrNotRegular, tc.names)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("still waiting after 5 s: it blocks on the file")
			}
		})
	}
}

func TestInputErrors(t *testing.T) {
	dir := t.TempDir()
	paths, _ := ckFiles(t, dir, "b.tar", 10, 20)
	if _, err := OpenInput(nil); err == nil {
		t.Fatal("no files: no error")
	}
	if _, err := OpenInput([]string{paths[0], filepath.Join(dir, "gone")}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing part: %v", err)
	}
	if _, err := OpenInput([]string{paths[0], dir}); err == nil {
		t.Fatal("a directory: no error")
	}
	// A pipe handed over as /dev/fd/N or /proc/self/fd/N (process substitution) is read; it
	// has no size.
	for _, prefix := range []string{"/dev/fd/", "/proc/self/fd/"} {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			pw.Write([]byte("through a pipe"))
			pw.Close()
		}()
		pin, err := OpenInput([]string{fmt.Sprint(prefix, pr.Fd())})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(pin); err != nil || string(got) != "through a pipe" || pin.Size() != 0 {
			t.Fatalf("pipe: %q, %v, size %d", got, err, pin.Size())
		}
		pin.Close()
		pr.Close()
	}
	// Read after Close fails.
	in, err := OpenInput(paths)
	if err != nil {
		t.Fatal(err)
	}
	in.Close()
	if _, err := in.Read(make([]byte, 1)); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	// A part removed after OpenInput: the Read that reaches it fails, and so does Check, both
	// naming it.
	sumFile := ChecksumFile(paths)
	if err := os.WriteFile(sumFile, []byte(strings.Repeat("0", 64)+"  b.tar.000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Close stops a hasher that waits for the reader (which read nothing).
	defer func(lead int64) { hashLead = lead }(hashLead)
	hashLead = 1
	in, err = OpenInput(paths)
	if err != nil {
		t.Fatal(err)
	}
	in.Close()
	in, err = OpenInput(paths)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := os.Remove(paths[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(in); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), paths[1]) {
		t.Fatalf("part removed while reading: %v", err)
	}
	if c, err := in.Check(); c != nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), paths[1]) {
		t.Fatalf("Check of a part removed: %v, %v", c, err)
	}
}

// ckExport exports exMakeLayout to dir/name (split into parts of partSize when not 0) and
// returns the files the tarball argument stands for.
func ckExport(tb testing.TB, dir, name string, partSize int64) []string {
	tb.Helper()
	src := exMakeLayout(tb)
	file := filepath.Join(dir, name)
	if _, err := ExportFile(context.Background(), src.s, file, ExportOptions{PartSize: partSize}); err != nil {
		tb.Fatal(err)
	}
	parts, err := Parts([]string{file})
	if err != nil {
		tb.Fatal(err)
	}
	return parts
}

// ckDamage is one way a tarball can arrive changed, with what Verify and Import must say.
type ckDamage struct {
	name     string
	split    bool
	damage   func(tb testing.TB, parts []string)
	problems []string // parts of the checksum findings (rule tar/checksum), in order
	other    bool     // the stream has findings of its own (rule other than tar/checksum)
}

// flipIndexRef renames the first ref of the exported index.json in place, keeping its length:
// a change that the blobs' digests do not see.
func flipIndexRef(tb testing.TB, parts []string) {
	tb.Helper()
	last := parts[len(parts)-1]
	data, err := os.ReadFile(last)
	if err != nil {
		tb.Fatal(err)
	}
	i := bytes.LastIndex(data, []byte(exRefV1))
	if i < 0 {
		tb.Fatalf("%s: no %s in the last part", last, exRefV1)
	}
	data[i+len(exRefV1)-1] = '9' // example.com/app:v9
	if err := os.WriteFile(last, data, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// apply exports exMakeLayout to dir/bundle.tar, split when tc.split, damages it, and returns
// the files the tarball argument stands for.
func (tc ckDamage) apply(tb testing.TB, dir string) []string {
	tb.Helper()
	var size int64
	if tc.split {
		size = MinSplitSize // exMakeLayout is over 3 MiB: four parts
	}
	parts := ckExport(tb, dir, "bundle.tar", size)
	if tc.split && len(parts) < 3 {
		tb.Fatalf("%d parts, want 3 or more", len(parts))
	}
	if tc.damage != nil {
		tc.damage(tb, parts)
	}
	return parts
}

var ckDamages = []ckDamage{
	{name: "intact"},
	{name: "intact split", split: true},
	{name: "ref renamed in index.json", damage: flipIndexRef, problems: []string{"the file changed after export"}},
	{name: "ref renamed in the last part", split: true, damage: flipIndexRef, problems: []string{"its bytes hash to"}},
	{name: "a byte of a blob flipped", damage: func(tb testing.TB, parts []string) {
		data, _ := os.ReadFile(parts[0])
		data[len(data)/2] ^= 1
		os.WriteFile(parts[0], data, 0o644)
	}, problems: []string{"the file changed after export"}, other: true},
	{name: "last part missing", split: true, damage: func(tb testing.TB, parts []string) {
		os.Remove(parts[len(parts)-1])
	}, problems: []string{"which was not read (a missing part?)"}, other: true},
	{name: "stale checksum file", damage: func(tb testing.TB, parts []string) {
		os.WriteFile(parts[0]+ChecksumExt, []byte(strings.Repeat("0", 64)+"  bundle.tar\n"), 0o644)
	}, problems: []string{"bundle.tar: its bytes hash to"}},
	{name: "checksum file of another name", damage: func(tb testing.TB, parts []string) {
		// One line for one file: the bytes count, not the name.
		data, _ := os.ReadFile(parts[0] + ChecksumExt)
		os.WriteFile(parts[0]+ChecksumExt, bytes.Replace(data, []byte("bundle.tar"), []byte("old.tar"), 1), 0o644)
	}},
	{name: "checksum file not one", damage: func(tb testing.TB, parts []string) {
		os.WriteFile(parts[0]+ChecksumExt, []byte("hello\n"), 0o644)
	}, problems: []string{"line 1"}},
	{name: "a part not listed", split: true, damage: func(tb testing.TB, parts []string) {
		sumFile := ChecksumFile(parts)
		data, _ := os.ReadFile(sumFile)
		lines := strings.SplitAfter(string(data), "\n")
		os.WriteFile(sumFile, []byte(lines[0]+strings.Join(lines[2:], "")), 0o644)
	}, problems: []string{"bundle.tar.001: not listed"}},
	{name: "no checksum file", damage: func(tb testing.TB, parts []string) {
		os.Remove(parts[0] + ChecksumExt)
	}},
}

func TestVerifyFilesChecksum(t *testing.T) {
	for _, tc := range ckDamages {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			parts := tc.apply(t, dir)
			rep, err := VerifyFiles(context.Background(), []string{filepath.Join(dir, "bundle.tar")}, VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			other := false
			for _, p := range rep.Problems {
				if p.Rule != RuleChecksum {
					other = other || p.Severity == "error"
					continue
				}
				if !errors.Is(p.Err, ErrChecksum) || p.Where != ChecksumFile(parts) {
					t.Errorf("finding %+v: want ErrChecksum at %s", p, ChecksumFile(parts))
				}
				got = append(got, p.Message)
			}
			if len(got) != len(tc.problems) {
				t.Fatalf("checksum findings %q, want %d like %q", got, len(tc.problems), tc.problems)
			}
			for i := range got {
				if !strings.Contains(got[i], tc.problems[i]) {
					t.Errorf("finding %q does not say %q", got[i], tc.problems[i])
				}
			}
			if other != tc.other {
				t.Errorf("other errors %v, want %v: %v", other, tc.other, rep.Problems)
			}
			wantOK := len(tc.problems) == 0 && !tc.other
			if rep.OK != wantOK {
				t.Errorf("OK = %v, want %v", rep.OK, wantOK)
			}
			switch {
			case tc.name == "no checksum file":
				if rep.Checksum != nil {
					t.Errorf("Checksum = %+v without a checksum file", rep.Checksum)
				}
			case rep.Checksum == nil || rep.Checksum.Path != ChecksumFile(parts) || rep.Checksum.OK != (len(tc.problems) == 0):
				t.Errorf("Checksum = %+v", rep.Checksum)
			}
		})
	}
}

func TestImportChecksum(t *testing.T) {
	for _, tc := range ckDamages {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.apply(t, dir)
			target := imTarget(t)
			before := imTree(t, target)
			in, err := OpenInput([]string{filepath.Join(dir, "bundle.tar")})
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			res, err := Import(context.Background(), target, in, ImportOptions{Force: true})
			if len(tc.problems) == 0 && !tc.other {
				if err != nil {
					t.Fatal(err)
				}
				if (res.Checksum == nil) != (tc.name == "no checksum file") || res.Checksum != nil && !res.Checksum.OK {
					t.Fatalf("Checksum = %+v", res.Checksum)
				}
				imVerify(t, target)
				return
			}
			if err == nil {
				t.Fatal("imported")
			}
			if len(tc.problems) > 0 && (!errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), tc.problems[0])) {
				t.Fatalf("err = %v, want ErrChecksum saying %q", err, tc.problems[0])
			}
			if after := imTree(t, target); after != before {
				t.Fatal("a refused import changed the target")
			}
		})
	}
}

// TestImportChecksumNotOnStdin: a plain reader has no files, so no checksum file is read.
func TestImportChecksumNotOnStdin(t *testing.T) {
	dir := t.TempDir()
	parts := ckExport(t, dir, "bundle.tar", 0)
	flipIndexRef(t, parts)
	data, err := os.ReadFile(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	res, err := Import(context.Background(), filepath.Join(dir, "layout"), bytes.NewReader(data), ImportOptions{})
	if err != nil || res.Checksum != nil {
		t.Fatalf("Import = %+v, %v", res, err)
	}
}

func FuzzParseChecksums(f *testing.F) {
	f.Add([]byte(strings.Repeat("ab", 32) + "  bundle.tar\n"))
	f.Add([]byte("SHA256 (x) = " + strings.Repeat("0", 64) + "\r\n\n"))
	f.Add([]byte("hello"))
	f.Add([]byte(strings.Repeat("ab", 32) + "  x\nSHA256 (x) = " + strings.Repeat("0", 64) + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parts, err := parseChecksums("f.sha256", data)
		if err != nil {
			if !errors.Is(err, ErrChecksum) {
				t.Fatalf("error without ErrChecksum: %v", err)
			}
			return
		}
		// What parses is valid, lists each name once, and parses the same once written as
		// ExportFile writes it.
		var out strings.Builder
		names := map[string]bool{}
		for _, p := range parts {
			if names[p.Path] {
				t.Fatalf("%q accepted twice", p.Path)
			}
			names[p.Path] = true
			if err := p.Digest.Validate(); err != nil {
				t.Fatalf("%q: %v", p.Digest, err)
			}
			if strings.ContainsAny(p.Path, "\n") {
				t.Fatalf("name %q has a newline", p.Path)
			}
			fmt.Fprintf(&out, "%s  %s\n", p.Digest.Encoded(), p.Path)
		}
		again, err := parseChecksums("f.sha256", []byte(out.String()))
		if err != nil || fmt.Sprint(again) != fmt.Sprint(parts) {
			t.Fatalf("re-parse: %v, %v != %v", err, again, parts)
		}
	})
}
