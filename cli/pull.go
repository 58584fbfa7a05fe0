package cli

import (
	ucli "github.com/urfave/cli/v2"

	"github.com/gadgetpack/gadgetpack/registry"
)

func pullCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "pull",
		Usage:     "fetch an image, with its signatures, from a registry into a layout",
		ArgsUsage: "REMOTE_REF [LOCAL_REF]",
		Description: "Copies REMOTE_REF into the layout (created if needed) with its OCI 1.1 referrers and\n" +
			"the digest tags beside it (sha256-<hex>.sig, sha256-<hex>, as ig stores them), and names\n" +
			"it LOCAL_REF, or REMOTE_REF in full. Both are expanded as ig does (trace_exec is\n" +
			"ghcr.io/inspektor-gadget/gadget/trace_exec:latest). Every blob is verified as it is written,\n" +
			"and the refs are written last: a pull that fails changes no ref.\n\n" +
			"   gadgetpack pull --layout ./bundle trace_exec:v0.40.0\n" +
			"   gadgetpack pull --layout ./bundle --ca-file ca.pem registry.local:5000/gadgets/trace_exec:v1 trace_exec",
		Flags: append([]ucli.Flag{
			layoutFlag(),
			jsonFlag(),
			quietFlag(),
		}, registryFlags()...),
		Action: runPull,
	}
}

func runPull(cliContext *ucli.Context) error {
	if err := wantArgs(cliContext, 1, 2, "REMOTE_REF [LOCAL_REF]"); err != nil {
		return err
	}
	opts, err := registryOptions(cliContext)
	if err != nil {
		return err
	}
	remote, err := expandRef("REMOTE_REF", cliContext.Args().First())
	if err != nil {
		return err
	}
	local := remote
	if cliContext.NArg() == 2 {
		if local, err = expandRef("LOCAL_REF", cliContext.Args().Get(1)); err != nil {
			return err
		}
	}
	dir, err := layoutPath(cliContext)
	if err != nil {
		return err
	}
	bar := newProgress(cliContext, "pull "+remote)
	opts.Progress = transferProgress(bar)
	res, err := registry.Pull(cliContext.Context, dir, remote, local, opts)
	bar.done()
	if err != nil {
		return registryHint(err, opts)
	}
	return writeTransfer(streamsOf(cliContext).out, res, "pulled", cliContext.Bool("json"), cliContext.Bool("quiet"))
}
