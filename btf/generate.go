package btf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/therootcompany/xz"
)

// Generate minimises every selected kernel of opts.Archive for the union of objects' CO-RE
// relocations (bpftool gen min_core_btf with all objects at once) and writes one compressed,
// reproducible tar to out: entries <ID>/<VERSION_ID>/<arch>/<release>.btf, mode 0644, mtime 0,
// uid/gid 0, in the order doc.go describes. Kernels are decompressed in memory on opts.Jobs
// workers; nothing is written to the archive. out is not closed.
//
// Where one object's relocation fails on a kernel, bpftool refuses the objects as a whole for
// that kernel, and so does Generate: the kernel is missing from the output, and the
// KernelError names the object.
//
// Returns an error wrapping ErrBadOptions for bad options, ErrNoKernel when the archive or
// the filters select no kernel, an object's error (ErrBadObject, ErrBadBTF, ErrBadBTFExt), or
// a *KernelError (wrapping ErrBadArchive, ErrBadBTF, ErrRelocation or ErrUnsupported) for the
// first kernel that fails; under KeepGoing the failed kernels are skipped, and the error joins
// all their KernelErrors, with the Result filled and out complete without them.
func Generate(ctx context.Context, opts Options, objects []string, out io.Writer) (*Result, error) {
	objs, err := loadObjects(objects)
	if err != nil {
		return nil, err
	}
	return run(ctx, opts, [][]*Object{objs}, []io.Writer{out})
}

// GeneratePerObject is Generate for each object alone, in one pass over the archive: each
// kernel is decompressed and parsed once, then minimised for every object, and the archive of
// objects[i] is written to outs[i], the same bytes as Generate for that object alone. A
// relocation that fails costs only its own object's pair: under KeepGoing the other objects
// keep the kernel. outs are not closed; len(outs) must be len(objects).
//
// Returns the errors Generate returns; a *KernelError names the object whose relocation
// failed.
func GeneratePerObject(ctx context.Context, opts Options, objects []string, outs []io.Writer) (*Result, error) {
	if len(outs) != len(objects) {
		return nil, fmt.Errorf("%d objects, %d outputs: %w", len(objects), len(outs), ErrBadOptions)
	}
	objs, err := loadObjects(objects)
	if err != nil {
		return nil, err
	}
	sets := make([][]*Object, len(objs))
	for i, o := range objs {
		sets[i] = []*Object{o}
	}
	return run(ctx, opts, sets, outs)
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

// kernelResult is what a worker hands to the writer for one kernel: the error of the kernel
// itself, or one minimal BTF or error per output.
type kernelResult struct {
	err  error
	btfs [][]byte
	errs []error
}

// selectKernels walks the archive and refuses a selection that is empty because the archive
// holds no kernel or the filters match none.
func selectKernels(ctx context.Context, opts Options) ([]kernelEntry, error) {
	w, err := walkArchive(ctx, opts.Archive, opts.Arch, opts.Filters)
	if err != nil {
		return nil, err
	}
	switch {
	case w.found == 0:
		return nil, fmt.Errorf("archive %s: no kernel (<ID>/<VERSION_ID>/<x86_64|arm64|aarch64>/<release>.btf.tar.xz or .btf): %w", opts.Archive, ErrNoKernel)
	case len(w.kernels) == 0 && len(opts.Filters) > 0:
		return nil, fmt.Errorf("archive %s: no kernel of arch %s matches the filters %q (%d kernels in the archive): %w",
			opts.Archive, opts.Arch, opts.Filters, w.found, ErrNoKernel)
	}
	return w.kernels, nil
}

// run minimises every selected kernel for each object set and writes set i's archive to
// outs[i]; a failure costs the kernel x set pairs it belongs to (see Options.KeepGoing).
func run(ctx context.Context, opts Options, sets [][]*Object, outs []io.Writer) (*Result, error) {
	opts, err := normalizeOptions(opts)
	if err != nil {
		return nil, err
	}
	kernels, err := selectKernels(ctx, opts)
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
				results[i] <- minimizeKernel(ctx, dec, kernels[i], sets, all, &scratch, !opts.KeepGoing)
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

	res := &Result{Selected: len(kernels), Outputs: make([]OutputResult, len(outs))}
	var kerrs []error
	// skip records one failed pair, or stops the run without KeepGoing.
	skip := func(k kernelEntry, j int, err error) error {
		kerr := &KernelError{Path: k.rel, Err: err}
		var oerr *objectError
		if errors.As(err, &oerr) {
			kerr.Object = oerr.name
			if len(sets[j]) > 1 {
				kerr.Err = fmt.Errorf("%w (bpftool gen min_core_btf refuses the %d objects together on this kernel)", err, len(sets[j]))
			}
		}
		if !opts.KeepGoing {
			return kerr
		}
		kerrs = append(kerrs, kerr)
		s := Skip{Kernel: k.rel, Output: j, Object: kerr.Object, Err: kerr}
		if len(sets[j]) == 1 {
			s.Object = sets[j][0].name
		}
		res.Skipped = append(res.Skipped, s)
		return nil
	}
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
			for j := range sets {
				s := Skip{Kernel: k.rel, Output: j, Err: kerr}
				if len(sets[j]) == 1 {
					s.Object = sets[j][0].name
				}
				res.Skipped = append(res.Skipped, s)
			}
		} else {
			res.Kernels++
			for j, w := range ws {
				if r.errs[j] != nil {
					if err := skip(k, j, r.errs[j]); err != nil {
						return nil, err
					}
					continue
				}
				for _, name := range k.entryNames() {
					if err := w.add(name, r.btfs[j]); err != nil {
						return nil, err
					}
					res.Outputs[j].Entries++
				}
				res.Outputs[j].Kernels++
				res.Pairs++
			}
		}
		if opts.Progress != nil {
			opts.Progress(i+1, len(kernels), len(res.Skipped))
		}
	}
	for j, w := range ws {
		if err := w.close(); err != nil {
			return nil, err
		}
		res.Outputs[j].Bytes = w.cw.n
	}
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
// objects of every set. An error reading or parsing the kernel is the result's err; a set's
// own failure is its entry in errs, and the other sets are still minimised unless
// stopEarly. Nothing it returns aliases the scratch buffers.
func minimizeKernel(ctx context.Context, dec *decompressor, k kernelEntry, sets [][]*Object, all []*Object, scratch *workerScratch, stopEarly bool) kernelResult {
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
	r := kernelResult{btfs: make([][]byte, len(sets)), errs: make([]error, len(sets))}
	for i, set := range sets {
		if r.btfs[i], r.errs[i] = kern.minimize(set, names); r.errs[i] != nil && stopEarly {
			break
		}
	}
	return r
}
