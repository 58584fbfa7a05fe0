// Command benchcmd runs btf.Generate or btf.GeneratePerObject for btf/bench.sh, so that the
// benchmark times the package the way the CLI will call it, beside bpftool in a shell loop.
//
//	benchcmd -archive DIR [-jobs N] [-compress gzip|zstd] (-o FILE | -per-object DIR) OBJ...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/gadgetpack/gadgetpack/btf"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchcmd:", err)
		os.Exit(1)
	}
}

func run() (err error) {
	archive := flag.String("archive", ".", "btfhub-archive root")
	jobs := flag.Int("jobs", 0, "kernels at once (0: number of CPUs)")
	compress := flag.String("compress", "gzip", "gzip or zstd")
	out := flag.String("o", "", "output archive")
	perObject := flag.String("per-object", "", "output directory, one archive per object")
	flag.Parse()
	opts := btf.Options{Archive: *archive, Jobs: *jobs, Compress: *compress}
	ctx := context.Background()
	var res *btf.Result
	switch {
	case *perObject != "":
		res, err = btf.GeneratePerObject(ctx, opts, flag.Args(), *perObject)
	case *out != "":
		f, ferr := os.Create(*out)
		if ferr != nil {
			return ferr
		}
		defer func() {
			if cerr := f.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}()
		res, err = btf.Generate(ctx, opts, flag.Args(), f)
	default:
		return fmt.Errorf("-o or -per-object is required")
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%d kernels, %d entries, %d bytes\n", res.Kernels, res.Entries, res.Bytes)
	return nil
}
