package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	ucli "github.com/urfave/cli/v2"

	"github.com/gadgetpack/gadgetpack/btf"
	"github.com/gadgetpack/gadgetpack/internal/atomicfile"
)

func btfgenCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "btfgen",
		Usage:     "make minimal-BTF archives for CO-RE objects over a btfhub-archive",
		ArgsUsage: "OBJ...",
		Description: "For every kernel of the archive (<ID>/<VERSION_ID>/<x86_64|arm64>/<release>.btf.tar.xz,\n" +
			"or plain .btf), keeps only the BTF the objects' CO-RE relocations need, as bpftool gen\n" +
			"min_core_btf does, byte for byte, and writes one reproducible tar of\n" +
			"<ID>/<VERSION_ID>/<arch>/<release>.btf entries (arm64 kernels also under aarch64, where ig\n" +
			"looks). Kernels are decompressed in memory on --jobs workers; nothing is extracted.\n\n" +
			"   gadgetpack btfgen --archive ./btfhub-archive -o btfs.tar.gz amd64.bpf.o\n" +
			"   gadgetpack btfgen --archive ./btfhub-archive --arch x86_64 --per-object out/ gadgets/*.bpf.o",
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "archive", Usage: "the btfhub-archive `DIR`", Required: true},
			&ucli.StringFlag{Name: "arch", Usage: "kernels of `ARCH`: x86_64, arm64 or all", Value: "all"},
			&ucli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Usage: "kernels minimised at once (default: the number of CPUs)"},
			&ucli.StringFlag{Name: "compress", Usage: "`gzip` (what ig reads) or zstd", Value: "gzip"},
			&ucli.StringSliceFlag{Name: "filter", Usage: "only kernels whose archive path matches `GLOB` (ubuntu/20.04/*)"},
			&ucli.BoolFlag{Name: "keep-going", Usage: "skip kernels that cannot be read, and fail at the end"},
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write one archive for all objects to `FILE` (- for stdout)"},
			&ucli.StringFlag{Name: "per-object", Usage: "write one archive per object into `OUTDIR` (<object>.tar.gz)"},
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
	bar := newProgress(cliContext, "btfgen")
	opts := btf.Options{
		Archive:   cliContext.String("archive"),
		Arch:      cliContext.String("arch"),
		Jobs:      cliContext.Int("jobs"),
		Compress:  cliContext.String("compress"),
		Filters:   cliContext.StringSlice("filter"),
		KeepGoing: cliContext.Bool("keep-going"),
		Progress:  bar.count,
	}
	if st, err := os.Stat(opts.Archive); err != nil {
		return fmt.Errorf("archive: %w", err)
	} else if !st.IsDir() {
		return fmt.Errorf("archive %s: not a directory", opts.Archive)
	}
	ctx := cliContext.Context
	objects := cliContext.Args().Slice()
	s := streamsOf(cliContext)
	var res *btf.Result
	var err error
	switch {
	case perObject != "":
		if err := os.MkdirAll(perObject, 0o755); err != nil {
			return err
		}
		res, err = btf.GeneratePerObject(ctx, opts, objects, perObject)
	case out == "-":
		res, err = btf.Generate(ctx, opts, objects, s.out)
	default:
		// Through a pipe into an atomic file: a failed run leaves no partial archive behind.
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() { done <- atomicfile.Write(out, pr, 0o644) }()
		res, err = btf.Generate(ctx, opts, objects, pw)
		pw.CloseWithError(err)
		if werr := <-done; err == nil && werr != nil {
			err = fmt.Errorf("%s: %w", out, werr)
		}
	}
	bar.done()
	if res != nil && !cliContext.Bool("quiet") && out != "-" {
		dest := out
		if perObject != "" {
			dest = perObject
		}
		fmt.Fprintf(s.out, "%d kernels, %d entries, %d bytes -> %s\n", res.Kernels, res.Entries, res.Bytes, esc(dest))
		for _, p := range res.Skipped {
			fmt.Fprintf(s.err, "skipped %s\n", escMsg(p))
		}
	}
	if err != nil {
		var ke *btf.KernelError
		if errors.As(err, &ke) && !opts.KeepGoing {
			return fmt.Errorf("%w (--keep-going skips such kernels)", err)
		}
		return err
	}
	return nil
}
