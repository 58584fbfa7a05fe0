package spec

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/cilium/ebpf/btf"
	"github.com/klauspost/compress/gzip"
)

// Caps of CheckBTFGen against gzip bombs and oversized entries.
const (
	// MaxBTFGenEntrySize is the largest BTF file of a btfgen tarball: 64 MiB (a whole
	// kernel's BTF is 5-10 MiB; btfgen's minimized files are a few KiB).
	MaxBTFGenEntrySize = 64 << 20
	// MaxBTFGenSize is the most CheckBTFGen decompresses: 1 GiB (tar headers and padding
	// included). Minimized BTF for every kernel of btfhub-archive is a few tens of MiB.
	MaxBTFGenSize = 1 << 30
)

// CheckBTFGen checks a btfgen layer the way ig reads it (gzip, then tar, then the entry
// <ID>/<VERSION_ID>/<uname -m>/<uname -r>.btf loaded with cilium/ebpf's btf package) and
// returns its entry names, sorted. The tar must hold only regular files and directories (a pax
// global header is skipped); every file must be named exactly ID/VERSION_ID/ARCH/RELEASE.btf,
// relative, without "." or ".." components, once; ARCH must fit arch: x86_64 for amd64, aarch64
// (what ig looks up) or arm64 (btfhub-archive's name) for arm64; arch "" accepts any of them
// (a layer whose platform is unknown). Every file must load as BTF. At least one file is needed.
//
// CheckBTFGen reads r to its end (so a bad gzip checksum is found), holds one entry in memory
// at a time, checks ctx between entries, and stops at MaxBTFGenEntrySize per entry and
// MaxBTFGenSize in all. It returns ErrBadBTFGen (with ErrTooLarge over a cap) naming the entry,
// ErrUnknownArch for an arch NormalizeArch refuses, or ctx's error.
func CheckBTFGen(ctx context.Context, r io.Reader, arch string) ([]string, error) {
	dirs := []string{"x86_64", "aarch64", "arm64"}
	if arch != "" {
		if _, err := NormalizeArch(arch); err != nil {
			return nil, err
		}
		dirs = btfgenArchDirs(arch)
	}
	br := bufio.NewReader(r)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("btfgen: reading: %v: %w", err, ErrBadBTFGen)
	}
	if !bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		if len(magic) == 0 {
			return nil, fmt.Errorf("btfgen: empty, want a gzip-compressed tarball: %w", ErrBadBTFGen)
		}
		return nil, fmt.Errorf("btfgen: not gzip (starts with %q; ig reads the layer as a gzip-compressed tarball): %w", magic, ErrBadBTFGen)
	}
	gz, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("btfgen: gzip: %v: %w", err, ErrBadBTFGen)
	}
	defer gz.Close()
	capped := &capReader{r: gz, left: btfgenTotalCap}
	tr := tar.NewReader(capped)
	var names []string
	seen := map[string]bool{}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, capped.wrap("btfgen: tar: ", err)
		}
		switch hdr.Typeflag {
		case tar.TypeXGlobalHeader:
			continue
		case tar.TypeDir:
			if err := checkBTFGenPath(strings.TrimSuffix(hdr.Name, "/"), hdr.Name); err != nil {
				return nil, err
			}
			continue
		//lint:ignore SA1019 old tar writers mark regular files with TypeRegA
		case tar.TypeReg, tar.TypeRegA:
		default:
			return nil, fmt.Errorf("btfgen: entry %q: type %s, want a regular file or a directory (links, devices and fifos are refused): %w",
				hdr.Name, tarType(hdr.Typeflag), ErrBadBTFGen)
		}
		if err := checkBTFGenPath(hdr.Name, hdr.Name); err != nil {
			return nil, err
		}
		if err := checkBTFGenName(hdr.Name, dirs, arch); err != nil {
			return nil, err
		}
		if seen[hdr.Name] {
			return nil, fmt.Errorf("btfgen: entry %q appears twice: %w", hdr.Name, ErrBadBTFGen)
		}
		seen[hdr.Name] = true
		if hdr.Size > MaxBTFGenEntrySize {
			return nil, fmt.Errorf("btfgen: entry %q: %d bytes, over %d: %w: %w", hdr.Name, hdr.Size, MaxBTFGenEntrySize, ErrBadBTFGen, ErrTooLarge)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, capped.wrap(fmt.Sprintf("btfgen: entry %q: ", hdr.Name), err)
		}
		if err := loadBTF(data); err != nil {
			return nil, fmt.Errorf("btfgen: entry %q: not BTF: %v: %w", hdr.Name, err, ErrBadBTFGen)
		}
		names = append(names, hdr.Name)
	}
	if _, err := io.Copy(io.Discard, capped); err != nil {
		return nil, capped.wrap("btfgen: after the tar archive: ", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("btfgen: no BTF file in the tarball: %w", ErrBadBTFGen)
	}
	slices.Sort(names)
	return names, nil
}

// checkBTFGenPath refuses absolute names, "." and ".." components, and names that are not in
// clean form (ig compares entry names byte for byte).
func checkBTFGenPath(name, raw string) error {
	switch {
	case name == "":
		return fmt.Errorf("btfgen: entry with an empty name: %w", ErrBadBTFGen)
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("btfgen: entry %q: absolute path: %w", raw, ErrBadBTFGen)
	case name == ".":
		return nil // "./", the top directory some tar invocations write
	}
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "..":
			return fmt.Errorf("btfgen: entry %q: \"..\" component: %w", raw, ErrBadBTFGen)
		case ".":
			return fmt.Errorf("btfgen: entry %q: \".\" component (ig matches entry names exactly, write them without ./): %w", raw, ErrBadBTFGen)
		case "":
			return fmt.Errorf("btfgen: entry %q: empty path component: %w", raw, ErrBadBTFGen)
		}
	}
	if path.Clean(name) != name {
		return fmt.Errorf("btfgen: entry %q: not a clean path: %w", raw, ErrBadBTFGen)
	}
	return nil
}

// checkBTFGenName checks the btfhub-archive structure ID/VERSION_ID/ARCH/RELEASE.btf.
func checkBTFGenName(name string, dirs []string, arch string) error {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || !strings.HasSuffix(parts[3], ".btf") || parts[3] == ".btf" {
		return fmt.Errorf("btfgen: entry %q: want ID/VERSION_ID/ARCH/RELEASE.btf (os-release ID and VERSION_ID, uname -m, uname -r): %w", name, ErrBadBTFGen)
	}
	if !slices.Contains(dirs, parts[2]) {
		want := strings.Join(dirs, " or ")
		if arch != "" {
			want += " for " + arch
		}
		return fmt.Errorf("btfgen: entry %q: arch folder %q, want %s: %w", name, parts[2], want, ErrBadBTFGen)
	}
	return nil
}

// loadBTF parses data with cilium/ebpf, as ig's btfgen operator does, turning a panic on
// hostile input into an error.
func loadBTF(data []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("cilium/ebpf panicked: %v", p)
		}
	}()
	_, err = btf.LoadSpecFromReader(bytes.NewReader(data))
	return err
}

func tarType(flag byte) string {
	switch flag {
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeFifo:
		return "fifo"
	case tar.TypeCont:
		return "contiguous file"
	case tar.TypeGNUSparse:
		return "GNU sparse file"
	}
	return fmt.Sprintf("%q", flag)
}

// btfgenTotalCap is MaxBTFGenSize; tests lower it.
var btfgenTotalCap int64 = MaxBTFGenSize

// capReader stops after left bytes with errCapReached.
type capReader struct {
	r    io.Reader
	left int64
}

var errCapReached = errors.New("decompressed size cap reached")

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errCapReached
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// wrap turns a read error into ErrBadBTFGen, with ErrTooLarge when the cap was reached.
func (c *capReader) wrap(prefix string, err error) error {
	if errors.Is(err, errCapReached) {
		return fmt.Errorf("%sover %d bytes decompressed: %w: %w", prefix, btfgenTotalCap, ErrBadBTFGen, ErrTooLarge)
	}
	return fmt.Errorf("%s%v: %w", prefix, err, ErrBadBTFGen)
}
