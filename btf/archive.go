package btf

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"strings"

	"github.com/therootcompany/xz"
	"golang.org/x/sys/unix"
)

// maxKernelBTF caps one kernel's BTF read from an archive entry (real ones are 2-10 MB).
const maxKernelBTF = 256 << 20

// decompressor turns an xz stream into its content. The xz program is used when found (about
// 1.5-2x faster than the pure-Go reader here, see doc.go), the pure-Go reader otherwise.
type decompressor struct {
	xzPath string
	// memOK: the xz program takes --no-sparse (XZ Utils does, BusyBox's xz does not), which
	// the memory-file path needs (see execXZ); without it every tarball is streamed.
	memOK bool
}

// emptyXZ is an xz stream of no bytes (printf ” | xz), to probe the xz program's options.
var emptyXZ = []byte{0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04, 0xe6, 0xd6, 0xb4, 0x46,
	0x00, 0x00, 0x00, 0x00, 0x1c, 0xdf, 0x44, 0x21, 0x1f, 0xb6, 0xf3, 0x7d, 0x01, 0x00, 0x00, 0x00,
	0x00, 0x04, 0x59, 0x5a}

func newDecompressor(preferExec bool) *decompressor {
	d := &decompressor{}
	if preferExec {
		if p, err := exec.LookPath("xz"); err == nil {
			d.xzPath = p
			probe := exec.Command(p, "-dc", "--no-sparse")
			probe.Stdin = bytes.NewReader(emptyXZ)
			d.memOK = probe.Run() == nil
		}
	}
	return d
}

// readKernel reads the kernel BTF of one archive entry, decompressed in memory. s holds
// buffers reused from kernel to kernel; the result may alias them (s.data, or the memory
// file's mapping), so it is valid until the next call with s or s.close().
func (d *decompressor) readKernel(ctx context.Context, e kernelEntry, s *workerScratch) ([]byte, error) {
	buf := s.data
	f, err := os.Open(e.path)
	if err != nil {
		return nil, fmt.Errorf("archive entry %s: %w", e.rel, err)
	}
	defer f.Close()
	if strings.HasSuffix(e.path, ".btf") {
		st, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("archive entry %s: %w", e.rel, err)
		}
		if st.Size() > maxKernelBTF {
			return nil, fmt.Errorf("archive entry %s: larger than %d bytes: %w", e.rel, maxKernelBTF, ErrBadArchive)
		}
		data := grow(buf, int(st.Size()))
		if _, err := io.ReadFull(f, data); err != nil {
			return nil, fmt.Errorf("archive entry %s: %v: %w", e.rel, err, ErrBadArchive)
		}
		s.data = data
		return data, nil
	}
	if d.xzPath == "" {
		// The reader is reused: its dictionary (up to 64 MiB for xz -9) is allocated once per
		// worker.
		var err error
		if s.xz == nil {
			s.xz, err = xz.NewReader(f, 0)
		} else {
			err = s.xz.Reset(f)
		}
		if err != nil {
			return nil, fmt.Errorf("archive entry %s: xz: %v: %w", e.rel, err, ErrBadArchive)
		}
		data, err := kernelFromTarBuf(s.xz, e.release, buf)
		if err != nil {
			return nil, fmt.Errorf("archive entry %s: %w", e.rel, err)
		}
		// the rest of the stream is checked too, as xz -d does
		if _, err := io.Copy(io.Discard, s.xz); err != nil {
			return nil, fmt.Errorf("archive entry %s: xz: %v: %w", e.rel, err, ErrBadArchive)
		}
		s.data = data
		return data, nil
	}
	return d.execXZ(ctx, f, e, s)
}

// memTarCap caps the decompressed tarball that execXZ has xz write into memory; a larger one
// (a tarball with a vmlinux ELF and many modules, or a hostile one) is decompressed again and
// streamed. A variable so that tests can make every tarball too large.
var memTarCap int64 = 64 << 20

// execXZ runs xz -dc on f and reads the kernel from its output.
//
// xz writes into a memory file of the worker (memfd, sized to memTarCap and sealed against
// growing, so that a write beyond it fails), which the worker keeps mapped read-only: the
// kernel's entry is used in place, neither read nor copied. Through a pipe instead, each of xz's 8 KiB
// writes would wake the reader, which is faster than xz: about a thousand wake-ups and
// context switches per kernel, which cost more CPU than the reading itself. A tarball that
// does not fit is streamed through a pipe (execXZStream); so is every tarball when the
// memory file cannot be made, or when xz lacks --no-sparse: in sparse mode it would seek over
// runs of zeros, leaving the previous kernel's bytes there.
func (d *decompressor) execXZ(ctx context.Context, f *os.File, e kernelEntry, s *workerScratch) ([]byte, error) {
	stream := func() ([]byte, error) {
		data, err := d.execXZStream(ctx, f, e, s.data)
		if err == nil {
			s.data = data
		}
		return data, err
	}
	if !d.memOK {
		return stream()
	}
	mem, err := s.memFile()
	if err != nil {
		return stream()
	}
	if _, err := mem.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("archive entry %s: xz output: %w", e.rel, err)
	}
	cmd := exec.CommandContext(ctx, d.xzPath, "-dc", "--no-sparse")
	cmd.Stdin, cmd.Stdout = f, mem
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	werr := cmd.Run()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// xz's stdout shares mem's file offset: it ends where xz's output ends.
	n, err := mem.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("archive entry %s: xz output: %w", e.rel, err)
	}
	if werr != nil && n >= s.memCap {
		// too large for memory: stream it
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("archive entry %s: %w", e.rel, err)
		}
		return stream()
	}
	if werr != nil {
		msg := strings.TrimSpace(stderr.String())
		return nil, fmt.Errorf("archive entry %s: xz: %v: %s: %w", e.rel, werr, msg, ErrBadArchive)
	}
	// Pages beyond this tarball, left by a larger one, are given back: the memory file holds
	// one kernel at a time.
	if keep := (n + 4095) &^ 4095; s.memUsed > keep {
		_ = unix.Fallocate(int(mem.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, keep, s.memUsed-keep)
	}
	s.memUsed = n
	tarData := s.memMap[:n:n]
	data, err := kernelFromTarBytes(tarData, e.release)
	if err != nil {
		return nil, fmt.Errorf("archive entry %s: %w", e.rel, err)
	}
	return data, nil
}

// memFile returns the worker's memory file for xz's output: a memfd of memTarCap bytes,
// sealed against growing and shrinking (so the mapping never points past its end), mapped
// read-only once, made on first use. Its pages are reused by the next kernel.
func (s *workerScratch) memFile() (*os.File, error) {
	if s.mem != nil || s.memErr != nil {
		return s.mem, s.memErr
	}
	fd, err := unix.MemfdCreate("btfgen-xz", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	var m []byte
	if err == nil {
		if err = unix.Ftruncate(fd, memTarCap); err == nil {
			_, err = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL)
		}
		if err == nil {
			m, err = unix.Mmap(fd, 0, int(memTarCap), unix.PROT_READ, unix.MAP_SHARED)
		}
		if err != nil {
			_ = unix.Close(fd)
		}
	}
	if err != nil {
		s.memErr = err
		return nil, err
	}
	s.mem, s.memMap, s.memCap = os.NewFile(uintptr(fd), "btfgen-xz"), m, memTarCap
	return s.mem, nil
}

// close releases the memory file. Nothing may use a kernel read through it afterwards.
func (s *workerScratch) close() {
	if s.memMap != nil {
		_ = unix.Munmap(s.memMap)
		s.memMap = nil
	}
	if s.mem != nil {
		_ = s.mem.Close()
		s.mem = nil
	}
}

// execXZStream runs xz -dc on r and reads the kernel from its output through a pipe. The tar
// reader stops at the kernel's own entry; the rest is drained so that xz checks the whole
// stream.
func (d *decompressor) execXZStream(ctx context.Context, r io.Reader, e kernelEntry, buf []byte) ([]byte, error) {
	cmd := exec.CommandContext(ctx, d.xzPath, "-dc")
	cmd.Stdin = r
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("archive entry %s: xz: %w", e.rel, err)
	}
	if f, ok := out.(*os.File); ok {
		// A larger pipe lets xz run ahead in its 8 KiB writes without waking us for each.
		if rc, err := f.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) { _, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, 1<<20) })
		}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("archive entry %s: xz: %w", e.rel, err)
	}
	data, rerr := kernelFromTarBuf(out, e.release, buf)
	if rerr == nil {
		// Drain what is left (tar padding, or entries after the kernel's own) so that xz
		// checks the whole stream, as xz -d alone does.
		_, rerr = io.Copy(io.Discard, out)
	} else {
		_ = cmd.Process.Kill()
	}
	werr := cmd.Wait()
	if werr != nil && ctx.Err() == nil {
		msg := strings.TrimSpace(stderr.String())
		return nil, fmt.Errorf("archive entry %s: xz: %v: %s: %w", e.rel, werr, msg, ErrBadArchive)
	}
	if rerr != nil {
		return nil, fmt.Errorf("archive entry %s: %w", e.rel, rerr)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return data, nil
}

// grow returns buf resized to n, reallocated only when too small.
func grow(buf []byte, n int) []byte {
	if cap(buf) >= n {
		return buf[:n]
	}
	return make([]byte, n)
}

// kernelFromTarBuf picks the kernel's own BTF from a btfhub tarball read from r: the entry
// <release>.btf; else an entry named vmlinux (raw BTF, or an ELF whose .BTF section is taken);
// else the only entry ending in .btf. Module BTF entries are ignored. The kernel's own entry is
// read into buf when it fits (buf may be nil), and it returns as soon as that entry is read.
// Returns an error wrapping ErrBadArchive when the tar is broken or holds no kernel BTF.
func kernelFromTarBuf(r io.Reader, release string, buf []byte) ([]byte, error) {
	return kernelFromTarSrc(r, nil, release, buf)
}

// kernelFromTarBytes is kernelFromTarBuf over a whole tarball in memory: the entry returned is
// a slice of data, not a copy.
func kernelFromTarBytes(data []byte, release string) ([]byte, error) {
	return kernelFromTarSrc(nil, data, release, nil)
}

// kernelFromTarSrc reads the tar from stream, or when stream is nil from whole in memory:
// then entries are sliced from whole where the tar reader left off, at the start of their
// data, instead of being copied.
func kernelFromTarSrc(stream io.Reader, whole []byte, release string, buf []byte) ([]byte, error) {
	r := stream
	var br *bytes.Reader // over whole, when reading from memory
	if r == nil {
		br = bytes.NewReader(whole)
		r = br
	}
	tr := tar.NewReader(r)
	var vmlinux, single []byte
	btfEntries := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("tar: %v: %w", err, ErrBadArchive)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		base := path.Base(strings.TrimPrefix(h.Name, "./"))
		isOwn := base == release+".btf"
		isVmlinux := base == "vmlinux"
		isBTF := strings.HasSuffix(base, ".btf")
		if !isOwn && !isVmlinux && !isBTF {
			continue
		}
		if h.Size > maxKernelBTF {
			return nil, fmt.Errorf("tar entry %s: %d bytes: %w", h.Name, h.Size, ErrBadArchive)
		}
		var data []byte
		if br != nil && !isSparse(h) {
			pos := int64(len(whole)) - int64(br.Len())
			if h.Size > int64(len(whole))-pos {
				return nil, fmt.Errorf("tar entry %s: %v: %w", h.Name, io.ErrUnexpectedEOF, ErrBadArchive)
			}
			data = whole[pos : pos+h.Size : pos+h.Size]
		} else {
			if isOwn {
				data = grow(buf, int(h.Size))
			} else {
				data = make([]byte, h.Size)
			}
			if _, err := io.ReadFull(tr, data); err != nil {
				return nil, fmt.Errorf("tar entry %s: %v: %w", h.Name, err, ErrBadArchive)
			}
		}
		switch {
		case isOwn:
			return data, nil
		case isVmlinux:
			vmlinux = data
		default:
			btfEntries++
			single = data
		}
	}
	switch {
	case vmlinux != nil:
		if bytes.HasPrefix(vmlinux, []byte(elf.ELFMAG)) {
			return btfFromELF(vmlinux)
		}
		return vmlinux, nil
	case btfEntries == 1:
		return single, nil
	}
	return nil, fmt.Errorf("no kernel BTF (%s.btf or vmlinux) in the tarball: %w", release, ErrBadArchive)
}

// isSparse reports whether h is a PAX sparse file, whose data in the tar is not its content.
// (Old GNU sparse entries are not TypeReg and are skipped before.)
func isSparse(h *tar.Header) bool {
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

func btfFromELF(data []byte) (_ []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("vmlinux: %v: %w", p, ErrBadArchive)
		}
	}()
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("vmlinux: %v: %w", err, ErrBadArchive)
	}
	s := f.Section(".BTF")
	if s == nil || s.Type == elf.SHT_NOBITS {
		return nil, fmt.Errorf("vmlinux: no .BTF section: %w", ErrBadArchive)
	}
	out, err := s.Data()
	if err != nil {
		return nil, fmt.Errorf("vmlinux: section .BTF: %v: %w", err, ErrBadArchive)
	}
	return out, nil
}
