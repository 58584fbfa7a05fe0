package cli

import (
	"fmt"
	"io"

	ucli "github.com/urfave/cli/v2"

	"github.com/gadgetpack/gadgetpack/registry"
)

func pushCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "push",
		Usage:     "send images of a layout, with their signatures, to a registry",
		ArgsUsage: "SRC_REF DST_REF | --all --to REGISTRY/PREFIX",
		Description: "Sends SRC_REF of the layout to DST_REF with its blobs, its OCI 1.1 referrers (through\n" +
			"the referrers API, or the referrers tag schema when the registry lacks it) and its\n" +
			"digest-tag signatures (sha256-<hex>.sig), tagged in the same repository. Blobs the\n" +
			"registry has are not sent again, so an interrupted push resumes where it stopped.\n" +
			"--all --to mirrors every ref of the layout under a prefix, keeping its path:\n" +
			"ghcr.io/inspektor-gadget/gadget/trace_exec:latest goes to\n" +
			"REGISTRY/PREFIX/inspektor-gadget/gadget/trace_exec:latest, ttl.sh/x:latest to REGISTRY/PREFIX/x:latest.\n\n" +
			"   gadgetpack push --layout ./bundle trace_exec registry.local:5000/gadgets/trace_exec:v1\n" +
			"   echo \"$PASS\" | gadgetpack push --layout ./bundle --username ci --password-stdin \\\n" +
			"       --ca-file ca.pem --all --to registry.local:5000/mirror",
		Flags: append([]ucli.Flag{
			layoutFlag(),
			&ucli.BoolFlag{Name: "all", Usage: "push every ref of the layout (with --to)"},
			&ucli.StringFlag{Name: "to", Usage: "with --all, the `REGISTRY/PREFIX` to mirror the layout's refs under"},
			jsonFlag(),
			quietFlag(),
			publicKeyFlag(),
			scanReferrersFlag(),
		}, registryFlags()...),
		Action: runPush,
	}
}

func runPush(cliContext *ucli.Context) error {
	all := cliContext.Bool("all")
	switch {
	case all && cliContext.String("to") == "":
		return usagef("push: --all needs --to REGISTRY/PREFIX")
	case !all && cliContext.IsSet("to"):
		return usagef("push: --to goes with --all")
	case all:
		if err := wantArgs(cliContext, 0, 0, "no argument with --all"); err != nil {
			return err
		}
	default:
		if err := wantArgs(cliContext, 2, 2, "SRC_REF and DST_REF"); err != nil {
			return err
		}
	}
	opts, err := registryOptions(cliContext)
	if err != nil {
		return err
	}
	var dst string
	if !all {
		if dst, err = expandRef("DST_REF", cliContext.Args().Get(1)); err != nil {
			return err
		}
	}
	store, err := openLayout(cliContext)
	if err != nil {
		return err
	}
	ctx := cliContext.Context
	if err := gatePush(cliContext, store, all); err != nil {
		return err
	}
	label := "push --all"
	if !all {
		label = "push " + dst
	}
	bar := newProgress(cliContext, label)
	opts.Progress = transferProgress(bar)
	opts.ScanReferrers = cliContext.Bool("scan-referrers")
	var res *registry.Result
	if all {
		res, err = registry.PushAll(ctx, store, cliContext.String("to"), opts)
	} else {
		var name string
		if _, name, err = resolveRef(ctx, store, cliContext.Args().First()); err == nil {
			res, err = registry.Push(ctx, store, name, dst, opts)
		}
	}
	bar.done()
	if err != nil {
		return registryHint(err, opts)
	}
	streams := streamsOf(cliContext)
	for _, s := range res.Skipped {
		fmt.Fprintf(streams.err, "gadgetpack: warning: skipped %s\n", escMsg(s))
	}
	return writeTransfer(streams.out, res, "pushed", cliContext.Bool("json"), cliContext.Bool("quiet"))
}

// writeTransfer renders what a push or a pull did: one line per ref written, then the totals;
// with quiet, only "DST DIGEST" lines.
func writeTransfer(w io.Writer, res *registry.Result, verb string, asJSON, quiet bool) error {
	if asJSON {
		return writeJSON(w, res)
	}
	for _, m := range res.Refs {
		var err error
		switch {
		case quiet:
			_, err = fmt.Fprintf(w, "%s %s\n", esc(m.Dst), esc(m.Digest.String()))
		case len(m.Referrers) > 0:
			_, err = fmt.Fprintf(w, "%s %s -> %s (%d referrers)\n", esc(m.Digest.String()), esc(m.Src), esc(m.Dst), len(m.Referrers))
		default:
			_, err = fmt.Fprintf(w, "%s %s -> %s\n", esc(m.Digest.String()), esc(m.Src), esc(m.Dst))
		}
		if err != nil {
			return err
		}
	}
	if quiet {
		return nil
	}
	moved := "sent"
	if verb == "pulled" {
		moved = "fetched"
	}
	_, err := fmt.Fprintf(w, "%s %d refs: %d blobs %s (%d bytes), %d already there (%d bytes)\n",
		verb, len(res.Refs), res.Blobs, moved, res.Bytes, res.BlobsSkipped, res.BytesSkipped)
	return err
}
