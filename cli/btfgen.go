package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/gadgetpack/gadgetpack/btf"
)

func btfgenCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "btfgen",
		Usage:     "make minimal-BTF archives for CO-RE objects over a btfhub-archive",
		ArgsUsage: "OBJ...",
		Description: "For every kernel of the archive (<ID>/<VERSION_ID>/<x86_64|arm64>/<release>.btf.tar.xz,\n" +
			"or plain .btf; symbolic links are followed), keeps only the BTF the objects' CO-RE relocations\n" +
			"need, as bpftool gen min_core_btf does, byte for byte, and writes one reproducible tar of\n" +
			"<ID>/<VERSION_ID>/<arch>/<release>.btf entries (arm64 kernels also under aarch64, where ig\n" +
			"looks). Kernels are decompressed in memory on --jobs workers; nothing is extracted.\n\n" +
			"With --keep-going, a kernel x object pair that fails is skipped and listed on stderr (and in\n" +
			"--json), every other pair is written, and the exit code is 1. Without it the first failure\n" +
			"stops the run and nothing is written.\n\n" +
			"   gadgetpack btfgen --archive ./btfhub-archive -o btfs.tar.gz amd64.bpf.o\n" +
			"   gadgetpack btfgen --archive ./btfhub-archive --arch x86_64 --per-object out/ gadgets/*.bpf.o",
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "archive", Usage: "the btfhub-archive `DIR`", Required: true},
			&ucli.StringFlag{Name: "arch", Usage: "kernels of `ARCH`: x86_64, arm64 or all", Value: "all"},
			&ucli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Usage: "kernels minimised at once (default: the number of CPUs)"},
			&ucli.StringFlag{Name: "compress", Usage: "`gzip` (what ig reads) or zstd", Value: "gzip"},
			&ucli.StringSliceFlag{Name: "filter", Usage: "only kernels whose archive path or entry name matches `GLOB` (ubuntu/20.04/*, kylin/V10/arm64/*)"},
			&ucli.BoolFlag{Name: "keep-going", Usage: "skip the kernel x object pairs that fail, write the others, and fail at the end"},
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write one archive for all objects to `FILE` (- for stdout)"},
			&ucli.StringFlag{Name: "per-object", Usage: "write one archive per object into `OUTDIR` (<object>.tar.gz)"},
			jsonFlag(),
			quietFlag(),
		},
		Action: runBTFGen,
	}
}

func runBTFGen(cliContext *ucli.Context) error {
	if err := wantArgs(cliContext, 1, -1, "OBJ"); err != nil {
		return err
	}
	out, perObject := cliContext.String("output"), cliContext.String("per-object")
	if (out == "") == (perObject == "") {
		return usagef("btfgen: give one of -o FILE and --per-object OUTDIR")
	}
	if out == "-" && cliContext.Bool("json") {
		return usagef("btfgen: --json prints on stdout, where -o - writes the archive")
	}
	switch a := cliContext.String("arch"); a {
	case "x86_64", "amd64", "arm64", "aarch64", "all":
	default:
		return usagef("invalid --arch %q: want x86_64, arm64 or all", a)
	}
	switch c := cliContext.String("compress"); c {
	case "gzip", "zstd":
	default:
		return usagef("invalid --compress %q: want gzip or zstd", c)
	}
	if cliContext.Int("jobs") < 0 {
		return usagef("invalid --jobs %d: want a positive number", cliContext.Int("jobs"))
	}
	objects := cliContext.Args().Slice()
	s := streamsOf(cliContext)
	var paths []string // the output files
	switch {
	case perObject != "":
		var err error
		if paths, err = perObjectPaths(perObject, objects, cliContext.String("compress")); err != nil {
			return err
		}
	case out != "-":
		paths = []string{out}
	}
	bar := newProgress(cliContext, "btfgen")
	opts := btf.Options{
		Archive:   cliContext.String("archive"),
		Arch:      cliContext.String("arch"),
		Jobs:      cliContext.Int("jobs"),
		Compress:  cliContext.String("compress"),
		Filters:   cliContext.StringSlice("filter"),
		KeepGoing: cliContext.Bool("keep-going"),
		Progress:  func(done, total, skipped int) { bar.draw(btfgenStatus(done, total, skipped)) },
	}
	if st, err := os.Stat(opts.Archive); err != nil {
		return fmt.Errorf("archive: %w", err)
	} else if !st.IsDir() {
		return fmt.Errorf("archive %s: not a directory", opts.Archive)
	}

	sinks, err := openSinks(paths, perObject)
	if err != nil {
		return err
	}
	var res *btf.Result
	switch {
	case perObject != "":
		res, err = btf.GeneratePerObject(cliContext.Context, opts, objects, sinks.writers())
	case out == "-":
		res, err = btf.Generate(cliContext.Context, opts, objects, s.out)
	default:
		res, err = btf.Generate(cliContext.Context, opts, objects, sinks.writers()[0])
	}
	bar.done()
	// Under --keep-going a Result with an error means complete outputs without the skipped
	// pairs: they are written. Any other error, or no kernel at all, writes nothing.
	complete := err == nil || (res != nil && opts.KeepGoing)
	if complete && res.Selected == 0 {
		complete = false
		err = fmt.Errorf("archive %s: no kernel of arch %s (filters %q): %w", opts.Archive, cliContext.String("arch"), opts.Filters, btf.ErrNoKernel)
	}
	if ferr := sinks.finish(complete); ferr != nil && complete {
		return ferr
	}
	if !complete {
		var ke *btf.KernelError
		if errors.As(err, &ke) && !opts.KeepGoing {
			return fmt.Errorf("%w (--keep-going skips such kernels and writes the others)", err)
		}
		return err
	}
	rep := newBTFGenReport(opts.Archive, objects, perObject != "", paths, res)
	for _, sk := range rep.Skipped {
		fmt.Fprintf(s.err, "skipped %s for %s: %s\n", esc(sk.Kernel), esc(sk.Object), escMsg(sk.Reason))
	}
	switch {
	case cliContext.Bool("json"):
		if err := rep.writeJSON(s.out); err != nil {
			return err
		}
	case !cliContext.Bool("quiet") && out != "-":
		rep.writeText(s.out)
	}
	if len(rep.Skipped) > 0 {
		return fmt.Errorf("%d of %d kernel x object pairs skipped (listed above); the others are written", len(rep.Skipped), len(rep.Skipped)+res.Pairs)
	}
	return nil
}

// perObjectPaths returns the archive path of each object in dir: <object name without .o>.tar.gz
// (.tar.zst). Two objects that would write one file are a usage error.
func perObjectPaths(dir string, objects []string, compress string) ([]string, error) {
	ext := ".tar.gz"
	if compress == "zstd" {
		ext = ".tar.zst"
	}
	seen := map[string]string{}
	paths := make([]string, len(objects))
	for i, o := range objects {
		n := strings.TrimSuffix(filepath.Base(o), ".o") + ext
		if prev, ok := seen[n]; ok {
			return nil, usagef("btfgen: objects %s and %s would both write %s", prev, o, filepath.Join(dir, n))
		}
		seen[n] = o
		paths[i] = filepath.Join(dir, n)
	}
	return paths, nil
}

// btfgenStatus is the progress line of a run.
func btfgenStatus(done, total, skipped int) func(elapsed float64) string {
	return func(elapsed float64) string {
		return fmt.Sprintf("%d/%d kernels, %d pairs skipped, %.1f kernels/s", done, total, skipped, float64(done)/elapsed)
	}
}
