package btf

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/therootcompany/xz"
)

// Options configures Generate and GeneratePerObject. The zero value walks the whole archive
// in the current directory with one worker per CPU and writes gzip.
type Options struct {
	// Archive is the root of a btfhub-archive tree. Default ".".
	Archive string
	// Arch selects the arch folders: "x86_64", "arm64" (also spelled "aarch64", "amd64" is
	// x86_64) or "all". Default "all".
	Arch string
	// Jobs is the number of kernels processed at once; memory is bounded by Jobs times one
	// kernel. If <= 0, runtime.NumCPU() is used.
	Jobs int
	// Compress is the output compression: "gzip" (default, what ig reads) or "zstd".
	Compress string
	// Filters select kernels by glob over their archive path (path.Match syntax), whole or
	// by leading elements: "ubuntu/20.04/*". None selects all.
	Filters []string
	// KeepGoing skips kernels that cannot be read or minimised, reports them in the Result and
	// returns an error listing them at the end. Without it the first one stops the run.
	KeepGoing bool
	// Progress, if set, is called after each kernel with the number done (minimised or
	// skipped) and the total. It is called from one goroutine at a time.
	Progress func(done, total int)

	// forceGoXZ lets tests and benchmarks force the pure-Go xz reader even where the xz
	// program is found.
	forceGoXZ bool
}

// Result summarises a run.
type Result struct {
	// Kernels is the number of kernels minimised and written.
	Kernels int
	// Skipped lists the archive paths of the kernels skipped under KeepGoing, sorted.
	Skipped []string
	// Entries is the number of tar entries written (arm64 kernels count twice, see doc.go).
	Entries int
	// Bytes is the number of compressed bytes written, over all outputs.
	Bytes int64
}

// KernelError is the error of one kernel of the archive: Path is its slash path in the archive.
type KernelError struct {
	Path string
	Err  error
}

func (e *KernelError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *KernelError) Unwrap() error { return e.Err }

// Generate minimises every selected kernel of opts.Archive for the union of objects' CO-RE
// relocations (bpftool gen min_core_btf with all objects at once) and writes one compressed,
// reproducible tar to out: entries <ID>/<VERSION_ID>/<arch>/<release>.btf, mode 0644, mtime 0,
// uid/gid 0, in the order doc.go describes. Kernels are decompressed in memory on opts.Jobs
// workers; nothing is written to the archive. out is not closed.
//
// Returns an error wrapping ErrBadOptions for bad options, an object's error (ErrBadObject,
// ErrBadBTF, ErrBadBTFExt), or a *KernelError (wrapping ErrBadArchive, ErrBadBTF,
// ErrRelocation or ErrUnsupported) for the first kernel that fails; under KeepGoing the failed
// kernels are skipped and the error joins all their KernelErrors, with the Result filled.
func Generate(ctx context.Context, opts Options, objects []string, out io.Writer) (*Result, error) {
	objs, err := loadObjects(objects)
	if err != nil {
		return nil, err
	}
	return run(ctx, opts, [][]*Object{objs}, []io.Writer{out})
}

// GeneratePerObject is Generate for each object alone, in one pass over the archive: each
// kernel is decompressed and parsed once, then minimised for every object. It writes
// outDir/<object file name without .o>.tar.gz (.tar.zst with zstd) per object, each the same
// bytes as Generate for that object alone. Object file names must be distinct. outDir is
// created if missing.
func GeneratePerObject(ctx context.Context, opts Options, objects []string, outDir string) (_ *Result, err error) {
	objs, err := loadObjects(objects)
	if err != nil {
		return nil, err
	}
	ext := ".tar.gz"
	if opts.Compress == "zstd" {
		ext = ".tar.zst"
	}
	names := map[string]string{}
	outNames := make([]string, len(objs))
	sets := make([][]*Object, len(objs))
	for i, o := range objs {
		n := strings.TrimSuffix(filepath.Base(objects[i]), ".o") + ext
		if prev, ok := names[n]; ok {
			return nil, fmt.Errorf("objects %s and %s would both write %s: %w", prev, objects[i], n, ErrBadOptions)
		}
		names[n] = objects[i]
		outNames[i] = n
		sets[i] = []*Object{o}
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	files := make([]*os.File, len(objs))
	writers := make([]io.Writer, len(objs))
	defer func() {
		for _, f := range files {
			if f == nil {
				continue
			}
			if cerr := f.Close(); cerr != nil && err == nil {
				err = cerr
			}
			if err != nil {
				_ = os.Remove(f.Name()) // no half-written archive is left behind
			}
		}
	}()
	for i := range objs {
		f, err := os.Create(filepath.Join(outDir, outNames[i]))
		if err != nil {
			return nil, err
		}
		files[i], writers[i] = f, f
	}
	return run(ctx, opts, sets, writers)
}

func loadObjects(paths []string) ([]*Object, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("no objects: %w", ErrBadOptions)
	}
	objs := make([]*Object, len(paths))
	for i, p := range paths {
		o, err := LoadObject(p)
		if err != nil {
			return nil, err
		}
		objs[i] = o
	}
	return objs, nil
}

// archFolders returns the entry folder names one kernel is written under: x86_64, or arm64
// followed by aarch64 (see doc.go).
func archFolders(arch string) []string {
	if arch == "arm64" {
		return []string{"arm64", "aarch64"}
	}
	return []string{arch}
}

func normalizeOptions(opts Options) (Options, error) {
	if opts.Archive == "" {
		opts.Archive = "."
	}
	switch opts.Arch {
	case "", "all":
		opts.Arch = "all"
	case "x86_64", "amd64":
		opts.Arch = "x86_64"
	case "arm64", "aarch64":
		opts.Arch = "arm64"
	default:
		return opts, fmt.Errorf("arch %q (want x86_64, arm64 or all): %w", opts.Arch, ErrBadOptions)
	}
	switch opts.Compress {
	case "":
		opts.Compress = "gzip"
	case "gzip", "zstd":
	default:
		return opts, fmt.Errorf("compression %q (want gzip or zstd): %w", opts.Compress, ErrBadOptions)
	}
	for _, f := range opts.Filters {
		if _, err := path.Match(f, ""); err != nil {
			return opts, fmt.Errorf("filter %q: %v: %w", f, err, ErrBadOptions)
		}
	}
	if opts.Jobs <= 0 {
		opts.Jobs = runtime.NumCPU()
	}
	return opts, nil
}

// kernelResult is what a worker hands to the writer for one kernel.
type kernelResult struct {
	btfs [][]byte // one per output
	err  error
}

func run(ctx context.Context, opts Options, sets [][]*Object, outs []io.Writer) (*Result, error) {
	opts, err := normalizeOptions(opts)
	if err != nil {
		return nil, err
	}
	kernels, err := walkArchive(ctx, opts.Archive, opts.Arch, opts.Filters)
	if err != nil {
		return nil, err
	}
	ws := make([]*archiveWriter, len(outs))
	for i, o := range outs {
		if ws[i], err = newArchiveWriter(o, opts.Compress); err != nil {
			return nil, err
		}
	}
	var all []*Object // every set's objects, for the candidate index of each kernel
	for _, set := range sets {
		all = append(all, set...)
	}
	ctx, cancel := context.WithCancel(ctx)

	// Workers take kernels in archive order; the writer consumes results in the same order, so
	// at most Jobs kernels are in memory at once and only small minimal BTFs wait.
	dec := newDecompressor(!opts.forceGoXZ)
	results := make([]chan kernelResult, len(kernels))
	for i := range results {
		results[i] = make(chan kernelResult, 1)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	sem := make(chan struct{}, opts.Jobs) // a worker may only run ahead of the writer by Jobs
	for w := 0; w < opts.Jobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var scratch workerScratch
			defer scratch.close()
			for i := range next {
				results[i] <- minimizeKernel(ctx, dec, kernels[i], sets, all, &scratch)
			}
		}()
	}
	go func() {
		defer close(next)
		for i := range kernels {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer func() {
		cancel() // unblocks the feeder if the writer stops early
		wg.Wait()
	}()

	res := &Result{}
	var kerrs []error
	for i, k := range kernels {
		var r kernelResult
		select {
		case r = <-results[i]:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		<-sem
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if r.err != nil {
			kerr := &KernelError{Path: k.rel, Err: r.err}
			if !opts.KeepGoing {
				return nil, kerr
			}
			kerrs = append(kerrs, kerr)
			res.Skipped = append(res.Skipped, k.rel)
		} else {
			for j, w := range ws {
				for _, folder := range archFolders(k.arch) {
					name := k.id + "/" + k.version + "/" + folder + "/" + k.release + ".btf"
					if err := w.add(name, r.btfs[j]); err != nil {
						return nil, err
					}
					if j == 0 {
						res.Entries++
					}
				}
			}
			res.Kernels++
		}
		if opts.Progress != nil {
			opts.Progress(i+1, len(kernels))
		}
	}
	for _, w := range ws {
		if err := w.close(); err != nil {
			return nil, err
		}
		res.Bytes += w.cw.n
	}
	slices.Sort(res.Skipped)
	if len(kerrs) > 0 {
		return res, errors.Join(kerrs...)
	}
	return res, nil
}

// workerScratch is what one worker reuses from kernel to kernel: the decompressed BTF and the
// type records, so that a run allocates them once per worker, not once per kernel.
type workerScratch struct {
	data  []byte
	types []rawType
	xz    *xz.Reader

	mem     *os.File // memory file xz writes into (see execXZ), nil until needed
	memMap  []byte   // mem mapped read-only, all memCap bytes
	memCap  int64    // its sealed size
	memUsed int64    // the most any kernel wrote into it
	memErr  error    // why it could not be made
}

// minimizeKernel reads, parses and minimises one kernel for each object set; all is the
// objects of every set. Nothing it returns aliases the scratch buffers.
func minimizeKernel(ctx context.Context, dec *decompressor, k kernelEntry, sets [][]*Object, all []*Object, scratch *workerScratch) kernelResult {
	if err := ctx.Err(); err != nil {
		return kernelResult{err: err}
	}
	data, err := dec.readKernel(ctx, k, scratch) // keeps its buffer in scratch.data
	if err != nil {
		return kernelResult{err: err}
	}
	raw, err := parseRawBTFInto(data, scratch.types)
	if err != nil {
		return kernelResult{err: err}
	}
	scratch.types = raw.types
	kern := &Kernel{raw: raw}
	names := kern.candidateIndex(all) // one scan of the kernel for every output
	out := make([][]byte, len(sets))
	for i, set := range sets {
		if out[i], err = kern.minimize(set, names); err != nil {
			return kernelResult{err: err}
		}
	}
	return kernelResult{btfs: out}
}

// archiveWriter writes a reproducible compressed tar.
type archiveWriter struct {
	cw   *countingWriter
	comp io.WriteCloser
	tw   *tar.Writer
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func newArchiveWriter(out io.Writer, compress string) (*archiveWriter, error) {
	cw := &countingWriter{w: out}
	var comp io.WriteCloser
	switch compress {
	case "zstd":
		z, err := zstd.NewWriter(cw, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		comp = z
	default:
		z, err := gzip.NewWriterLevel(cw, gzip.BestCompression)
		if err != nil {
			return nil, err
		}
		comp = z
	}
	return &archiveWriter{cw: cw, comp: comp, tw: tar.NewWriter(comp)}, nil
}

func (w *archiveWriter) add(name string, data []byte) error {
	h := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)),
		ModTime: time.Unix(0, 0), Format: tar.FormatUSTAR}
	if len(name) > 100 {
		h.Format = tar.FormatPAX
	}
	if err := w.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("tar entry %s: %w", name, err)
	}
	if _, err := w.tw.Write(data); err != nil {
		return fmt.Errorf("tar entry %s: %w", name, err)
	}
	return nil
}

func (w *archiveWriter) close() error {
	if err := w.tw.Close(); err != nil {
		return err
	}
	if err := w.comp.Close(); err != nil {
		return err
	}
	return nil
}
