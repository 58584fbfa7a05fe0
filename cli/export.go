package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	ucli "github.com/urfave/cli/v2"

	"github.com/gadgetpack/gadgetpack/internal/sourcedate"
	"github.com/gadgetpack/gadgetpack/tarball"
)

func exportCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "export",
		Usage:     "write refs and everything they carry into one tarball, as ig image export does",
		ArgsUsage: "[REF...]",
		Description: "Writes the tar ig image import reads: oci-layout, every blob the refs reach (with their\n" +
			"digest-tag signatures and OCI 1.1 referrers), then index.json; regular files only, mtime\n" +
			"0 (or SOURCE_DATE_EPOCH), the same bytes for the same layout. No REF exports every ref.\n" +
			"Blobs are verified while they are read; a damaged one stops the export and leaves no\n" +
			"output. Referrers are those index.json lists (as ig's store and gadgetpack list them);\n" +
			"--scan-referrers finds unlisted ones too. Writes FILE.sha256 (sha256sum format) beside\n" +
			"FILE and prints the digest (on stderr with -o -). --split writes FILE.000, FILE.001...,\n" +
			"each at most SIZE, listed in FILE.sha256. --exclude-from leaves out the blobs a layout or tarball holds already: an\n" +
			"update bundle that imports on top of that base. FILE may not be inside the layout.\n\n" +
			"   gadgetpack export --layout ./bundle -o /media/usb/bundle.tar\n" +
			"   gadgetpack export --layout ./bundle --split 3900M -o /media/usb/bundle.tar trace_exec\n" +
			"   gadgetpack export --layout ./bundle --exclude-from last-month.tar -o update.tar",
		Flags: []ucli.Flag{
			layoutFlag(),
			scanReferrersFlag(),
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the tarball to `FILE` (- for stdout)", Required: true},
			&ucli.StringFlag{Name: "compress", Usage: "`none` (what ig reads), gzip or zstd", Value: string(tarball.None)},
			&ucli.StringFlag{Name: "split", Usage: "split the output into parts of at most `SIZE` (bytes, or with K, M, G: 3900M)"},
			&ucli.StringFlag{Name: "exclude-from", Usage: "leave out the blobs the layout or tarball `BASE` holds"},
			jsonFlag(),
			quietFlag(),
		},
		Action: runExport,
	}
}

func runExport(cliContext *ucli.Context) error {
	out := cliContext.String("output")
	if out == "" {
		return usagef("export: -o is empty: give a FILE or - for stdout")
	}
	comp, err := tarball.ParseCompression(cliContext.String("compress"))
	if err != nil {
		return usagef("invalid --compress %q: want none, gzip or zstd", cliContext.String("compress"))
	}
	if out == "-" && isTerminal(streamsOf(cliContext).out) {
		return usagef("export: stdout is a terminal: give -o FILE, or redirect stdout")
	}
	opts := tarball.ExportOptions{Compression: comp, ScanReferrers: cliContext.Bool("scan-referrers")}
	if s := cliContext.String("split"); cliContext.IsSet("split") {
		if out == "-" {
			return usagef("export: --split writes files: it does not go with -o -")
		}
		if opts.PartSize, err = tarball.ParseSize(s); err != nil {
			return usagef("invalid --split %q: %v", s, err)
		}
	}
	if os.Getenv(sourcedate.Env) != "" {
		if opts.ModTime, err = sourcedate.Now(); err != nil {
			return err
		}
	}
	store, err := openLayout(cliContext)
	if err != nil {
		return err
	}
	if out == "-" {
		if err := stdoutOutside(store.Path(), streamsOf(cliContext).out); err != nil {
			return err
		}
	}
	ctx := cliContext.Context
	if cliContext.Args().Len() > 0 { // else every ref, from the export's own read of index.json
		if opts.Entries, err = entriesFor(ctx, store, cliContext.Args().Slice()); err != nil {
			return err
		}
	}
	if base := cliContext.String("exclude-from"); base != "" {
		if opts.Exclude, err = tarball.HeldBlobs(ctx, base); err != nil {
			return fmt.Errorf("--exclude-from: %w", err)
		}
	}
	bar := newProgress(cliContext, "export "+out)
	opts.Progress = bar.bytes
	s := streamsOf(cliContext)
	var res *tarball.ExportResult
	if out == "-" {
		res, err = tarball.Export(ctx, store, s.out, opts)
	} else {
		res, err = tarball.ExportFile(ctx, store, out, opts)
	}
	bar.done()
	if err != nil {
		return err
	}
	if !cliContext.Bool("quiet") {
		for _, r := range res.Removed {
			fmt.Fprintf(s.err, "removed %s, left by an export that died\n", esc(r))
		}
	}
	switch {
	case out == "-":
		// stdout holds the tarball: the digest goes to stderr.
		switch {
		case cliContext.Bool("json"):
			err = writeJSON(s.err, res)
		case cliContext.Bool("quiet"):
			_, err = fmt.Fprintf(s.err, "%s\n", res.Digest)
		default:
			err = writeExportResult(s.err, res, "-")
		}
	case cliContext.Bool("json"):
		err = writeJSON(s.out, res)
	case cliContext.Bool("quiet"):
		if res.Digest != "" {
			_, err = fmt.Fprintf(s.out, "%s\n", res.Digest)
			break
		}
		for _, p := range res.Parts {
			if _, err = fmt.Fprintf(s.out, "%s %s\n", p.Digest, esc(p.Path)); err != nil {
				break
			}
		}
	default:
		err = writeExportResult(s.out, res, out)
	}
	return err
}

// stdoutOutside refuses a stdout redirected into a file of the layout being exported
// (> LAYOUT/bundle.tar): the tarball would land inside the layout it reads. The shell has
// created or truncated that file already; at least nothing more is written there.
func stdoutOutside(root string, out io.Writer) error {
	f, ok := out.(*os.File)
	if !ok {
		return nil
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	path, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil || !filepath.IsAbs(path) {
		return nil
	}
	if err := tarball.CheckOutside(root, path); err != nil {
		return fmt.Errorf("-o - (stdout): %w", err)
	}
	return nil
}

// writeExportResult renders what export wrote as text.
func writeExportResult(w io.Writer, r *tarball.ExportResult, out string) error {
	fmt.Fprintf(w, "%s: %d refs, %d entries, %d blobs (%d bytes)", esc(out), len(r.Refs), r.Entries, r.Blobs, r.BlobBytes)
	if r.Excluded > 0 {
		fmt.Fprintf(w, ", %d blobs (%d bytes) left out", r.Excluded, r.ExcludedBytes)
	}
	fmt.Fprintf(w, "; %d bytes", r.Size)
	if r.Compression != tarball.None {
		fmt.Fprintf(w, " %s", r.Compression)
	}
	fmt.Fprintln(w)
	if r.Digest != "" {
		fmt.Fprintf(w, "digest %s\n", r.Digest)
	} else {
		for _, p := range r.Parts { // split: each part has its digest
			fmt.Fprintf(w, "part %s %s %d bytes\n", esc(p.Path), p.Digest, p.Size)
		}
	}
	_, err := fmt.Fprintf(w, "layout digest %s\n", r.LayoutDigest)
	return err
}
