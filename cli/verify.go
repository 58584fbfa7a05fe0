package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/opencontainers/go-digest"
	ucli "github.com/urfave/cli/v2"

	"github.com/gadgetpack/gadgetpack/internal/termsafe"
	"github.com/gadgetpack/gadgetpack/layout"
	"github.com/gadgetpack/gadgetpack/sign"
	"github.com/gadgetpack/gadgetpack/tarball"
)

func verifyCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "verify",
		Usage:     "check a layout, or a tarball without extracting it, byte by byte and report every problem",
		ArgsUsage: "LAYOUT|TARBALL|- [PART...]",
		Description: "Hashes every blob, resolves every descriptor reachable from index.json, parses\n" +
			"manifests, indexes and configs, and checks gadget artifacts against the seed's rules\n" +
			"(--rules seed, the default) or what ig accepts today (--rules ig). It prints the layout\n" +
			"digest (sha256 of index.json); --expect makes a different one an error. Exit code 1 when\n" +
			"any error is found; warnings alone exit 0. A tarball (plain, gzip or zstd; - is stdin;\n" +
			"the parts of a split export as FILE.000 FILE.001... or as FILE) gets the same checks in\n" +
			"one streaming pass, plus its tar entries as import would take them, and, when the\n" +
			"FILE.sha256 export writes lies beside it, every file's bytes against that file: what\n" +
			"vouches for index.json's refs, which no digest covers, after a USB stick or rsync.\n\n" +
			"   gadgetpack verify --expect sha256:4f1c... /media/usb/bundle\n" +
			"   gadgetpack verify /media/usb/bundle.tar",
		Flags: []ucli.Flag{
			rulesFlag(),
			jsonFlag(),
			&ucli.StringFlag{Name: "expect", Usage: "the layout digest `sha256:HEX` the layout must have"},
			&ucli.IntFlag{Name: "jobs", Usage: "blobs hashed at once (default: the number of CPUs)"},
			quietFlag(),
			publicKeyFlag(),
		},
		Action: runVerify,
	}
}

func runVerify(cliContext *ucli.Context) error {
	if err := wantArgs(cliContext, 1, -1, "LAYOUT|TARBALL|- [PART...]"); err != nil {
		return err
	}
	rules, err := ruleSet(cliContext)
	if err != nil {
		return err
	}
	opts := layout.VerifyOptions{
		Jobs:          cliContext.Int("jobs"),
		CheckIndex:    rules.CheckIndex,
		CheckManifest: rules.CheckManifest,
	}
	if e := cliContext.String("expect"); e != "" {
		d, err := digest.Parse(e)
		if err != nil {
			return usagef("invalid --expect %q: %v", e, err)
		}
		opts.Expect = d
	}
	if opts.Jobs < 0 {
		return usagef("invalid --jobs %d: want a positive number", opts.Jobs)
	}
	keys, err := publicKeys(cliContext)
	if err != nil {
		return err
	}
	var sigs *sign.Collector
	if len(keys) > 0 {
		sigs = sign.NewCollector()
		opts.CheckIndex, opts.CheckManifest = signatureRules(sigs, opts.CheckIndex, opts.CheckManifest)
	}
	path := cliContext.Args().First()
	bar := newProgress(cliContext, "verify "+path)
	opts.Progress = bar.bytes
	report, err := verifyPath(cliContext, opts)
	bar.done()
	if err != nil {
		return err
	}
	var signatures []sign.RefResult
	if sigs != nil {
		if signatures, err = collectedResults(cliContext.Context, sigs, keys); err != nil {
			return err
		}
		addProblems(report.Report, sign.Problems(signatures))
	}
	out := streamsOf(cliContext).out
	if cliContext.Bool("json") {
		err = writeJSON(out, verifyOutput{report, signatures})
	} else {
		if !cliContext.Bool("quiet") {
			if err := writeSignatureLines(out, signatures); err != nil {
				return err
			}
		}
		err = writeReport(out, report, cliContext.Bool("quiet"))
	}
	if err != nil {
		return err
	}
	if !report.OK {
		return &silentError{fmt.Errorf("%s: %d errors", esc(path), countSeverity(report.Report, layout.SeverityError))}
	}
	return nil
}

// verifyPath verifies what the arguments name: a layout directory, a tarball file or its
// parts, or - for a tarball on stdin.
func verifyPath(cliContext *ucli.Context, opts layout.VerifyOptions) (*tarball.Report, error) {
	args := cliContext.Args().Slice()
	topts := tarball.VerifyOptions{VerifyOptions: opts, Path: args[0]}
	if args[0] == "-" {
		if len(args) > 1 {
			return nil, usagef("verify: - (stdin) takes no parts")
		}
		in := streamsOf(cliContext).in
		if inputIsTerminal(in) {
			return nil, usagef("verify: stdin is a terminal: give a LAYOUT or TARBALL, or redirect stdin")
		}
		return tarball.Verify(cliContext.Context, in, topts)
	}
	fi, err := os.Stat(args[0])
	if len(args) > 1 {
		// Several arguments are the parts of one tarball.
		switch {
		case err != nil:
			return nil, usagef("verify: %s: %v (several arguments are the parts of one tarball)", args[0], err)
		case fi.IsDir():
			return nil, usagef("verify: a LAYOUT takes no other argument (several arguments are the parts of one tarball)")
		}
	}
	if len(args) == 1 && (err == nil && fi.IsDir() || err != nil && !tarballParts(args[0])) {
		r, err := layout.Verify(cliContext.Context, args[0], opts)
		if err != nil {
			return nil, err
		}
		return &tarball.Report{Report: r}, nil
	}
	return tarball.VerifyFiles(cliContext.Context, args, topts)
}

// tarballParts reports whether path is missing but the first part of a split export of it
// exists.
func tarballParts(path string) bool {
	_, err := os.Stat(tarball.PartName(path, 0))
	return err == nil
}

// checksumLine says what the checksum file said of the files read.
func checksumLine(c *tarball.ChecksumCheck) string {
	verdict := "ok"
	if !c.OK {
		verdict = "FAILED"
	}
	var size int64
	for _, f := range c.Files {
		size += f.Size
	}
	files := "file"
	if len(c.Files) != 1 {
		files = "files"
	}
	return fmt.Sprintf("checksum %s: %s: %d %s, %d bytes", esc(c.Path), verdict, len(c.Files), files, size)
}

func countSeverity(r *layout.Report, severity string) int {
	n := 0
	for _, p := range r.Problems {
		if p.Severity == severity {
			n++
		}
	}
	return n
}

// writeJSON writes v as indented JSON, the runes a terminal acts on that encoding/json leaves
// raw (DEL, C1 controls, bidi and other format characters) written as \u escapes: the same
// document once decoded (termsafe.EscapeJSON).
func writeJSON(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(termsafe.EscapeJSON(b.Bytes()))
	return err
}

// writeReport renders a verify report as text: one line per problem, what the checksum file
// said, then the summary.
func writeReport(w io.Writer, tr *tarball.Report, quiet bool) error {
	r := tr.Report
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, p := range r.Problems {
		if quiet && p.Severity != layout.SeverityError {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", escMsg(p.Severity), escMsg(p.Rule), escMsg(p.Where), escMsg(p.Message))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	errs, warns := countSeverity(r, layout.SeverityError), countSeverity(r, layout.SeverityWarning)
	verdict := "ok"
	if !r.OK {
		verdict = "FAILED"
	}
	if quiet {
		_, err := fmt.Fprintf(w, "%s %s\n", verdict, r.LayoutDigest)
		return err
	}
	if c := tr.Checksum; c != nil {
		if _, err := fmt.Fprintln(w, checksumLine(c)); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "%s: %s: %d blobs, %d bytes, %d errors, %d warnings\nlayout digest %s\n",
		esc(r.Path), verdict, r.Blobs, r.Bytes, errs, warns, r.LayoutDigest)
	return err
}
