package cli

import (
	"fmt"

	ucli "github.com/urfave/cli/v2"
)

func tagCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "tag",
		Usage:     "give an image in the layout another reference",
		ArgsUsage: "SRC DST",
		Description: "DST is expanded as ig does and replaces any ref of that name.\n\n" +
			"   gadgetpack tag --layout ./bundle trace_exec trace_exec:v0.40.0",
		Flags:  []ucli.Flag{layoutFlag(), quietFlag()},
		Action: runTag,
	}
}

func runTag(cliContext *ucli.Context) error {
	if err := wantArgs(cliContext, 2, 2, "SRC and DST"); err != nil {
		return err
	}
	dst, err := expandRef("DST", cliContext.Args().Get(1))
	if err != nil {
		return err
	}
	store, err := openLayout(cliContext)
	if err != nil {
		return err
	}
	ctx := cliContext.Context
	desc, _, err := resolveRef(ctx, store, cliContext.Args().First())
	if err != nil {
		return err
	}
	if err := store.Tag(ctx, desc, dst); err != nil {
		return err
	}
	if !cliContext.Bool("quiet") {
		_, err = fmt.Fprintf(streamsOf(cliContext).out, "%s %s\n", esc(dst), esc(desc.Digest.String()))
	}
	return err
}
