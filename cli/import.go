package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	ucli "github.com/urfave/cli/v2"

	"github.com/gadgetpack/gadgetpack/sign"
	"github.com/gadgetpack/gadgetpack/tarball"
)

func importCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "import",
		Usage:     "load a tarball (an export, ig image export's, or its split parts) into a layout, all or nothing",
		ArgsUsage: "FILE|- [PART...]",
		Description: "Reads the tarball in one pass (plain, gzip or zstd, told from its bytes; - is stdin; a\n" +
			"split export as FILE.000 FILE.001... or as FILE when FILE.000 exists), hashing every blob\n" +
			"while it is staged inside the layout's .gadgetpack-tmp/. Blobs the layout holds already\n" +
			"are checked, not written again. Then the refs' graphs must be complete over the tarball\n" +
			"and the layout (an update bundle imports only on top of its base), gadget rules pass\n" +
			"(--rules, as verify's), and no ref of the layout would move (unless --force): only then\n" +
			"are the blobs published and the refs merged into index.json, in one locked write.\n" +
			"Hostile input (links, devices, sparse files, .. or absolute names, duplicates, names no\n" +
			"layout has, content that does not match its name, a truncated stream, a decompression\n" +
			"bomb, data after the end) is refused, naming the tar entry and its offset, and leaves the\n" +
			"layout as it was. A FIFO, socket or device given as FILE or a part is refused at once;\n" +
			"a pipe is read as - or <(...). When the FILE.sha256 export writes lies beside the\n" +
			"tarball, its files must match it too (hashed on a second CPU as they are read).\n" +
			"--layout may name a directory that does not exist yet.\n\n" +
			"   gadgetpack import --layout /var/lib/bundle /media/usb/bundle.tar\n" +
			"   gadgetpack import --layout ./far --rules ig trace_open.tar",
		Flags: []ucli.Flag{
			layoutFlag(),
			&ucli.BoolFlag{Name: "force", Usage: "let the tarball's refs replace refs of the layout that point elsewhere"},
			rulesFlag(),
			&ucli.StringFlag{Name: "max-size", Usage: "refuse a tar stream over `SIZE` once decompressed (bytes, or with K, M, G, T)", Value: "64G"},
			jsonFlag(),
			quietFlag(),
			publicKeyFlag(),
		},
		Action: runImport,
	}
}

func runImport(cliContext *ucli.Context) error {
	if err := wantArgs(cliContext, 1, -1, "FILE|- [PART...]"); err != nil {
		return err
	}
	args := cliContext.Args().Slice()
	if args[0] == "-" && len(args) > 1 {
		return usagef("import: - (stdin) takes no parts")
	}
	rules, err := ruleSet(cliContext)
	if err != nil {
		return err
	}
	maxSize, err := tarball.ParseSize(cliContext.String("max-size"))
	if err != nil {
		return usagef("invalid --max-size %q: %v", cliContext.String("max-size"), err)
	}
	dir, err := layoutPath(cliContext)
	if err != nil {
		return err
	}
	keys, err := publicKeys(cliContext)
	if err != nil {
		return err
	}
	s := streamsOf(cliContext)
	var in io.Reader
	var total int64
	name := args[0]
	if name == "-" {
		if inputIsTerminal(s.in) {
			return usagef("import: stdin is a terminal: give FILE, or redirect stdin")
		}
		in = s.in
	} else {
		input, err := tarball.OpenInput(args)
		if err != nil {
			return err
		}
		defer input.Close()
		in, total = input, input.Size()
	}
	bar := newProgress(cliContext, "import "+name)
	opts := tarball.ImportOptions{
		Force:         cliContext.Bool("force"),
		MaxSize:       maxSize,
		CheckIndex:    rules.CheckIndex,
		CheckManifest: rules.CheckManifest,
		Progress:      func(done int64) { bar.bytes(done, total) },
	}
	if len(keys) > 0 {
		sigs := sign.NewCollector()
		opts.CheckIndex, opts.CheckManifest = signatureRules(sigs, opts.CheckIndex, opts.CheckManifest)
		opts.Gate = func(ctx context.Context) error {
			results, err := collectedResults(ctx, sigs, keys)
			if err != nil {
				return err
			}
			return gateError(results, nil)
		}
	}
	res, err := tarball.Import(cliContext.Context, dir, in, opts)
	bar.done()
	if err != nil {
		return verifyHint(forceHint(err))
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(s.err, "warning: %s: %s [%s]\n", escMsg(w.Where), escMsg(w.Message), escMsg(w.Rule))
	}
	switch {
	case cliContext.Bool("json"):
		return writeJSON(s.out, res)
	case cliContext.Bool("quiet"):
		return nil
	}
	for _, r := range res.Refs {
		if _, err := fmt.Fprintln(s.out, esc(r)); err != nil {
			return err
		}
	}
	if res.Checksum != nil {
		if _, err := fmt.Fprintln(s.out, checksumLine(res.Checksum)); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(s.out, "imported %s into %s: %d entries (%d added, %d replaced, %d unchanged), %d blobs of %d bytes (%d written, %d bytes)\ntarball layout digest %s\n",
		esc(name), esc(res.Path), res.Entries, res.Added, res.Replaced, res.Unchanged, res.Blobs, res.BlobBytes, res.Written, res.WrittenBytes, res.LayoutDigest)
	return err
}

// inputIsTerminal reports whether r is a terminal (stdin left unredirected).
func inputIsTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && isTerminal(f)
}
