package cli

import (
	"fmt"

	ucli "github.com/urfave/cli/v2"
)

func rmCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "rm",
		Usage:     "remove a reference from the layout (its blobs stay until gc)",
		ArgsUsage: "REF",
		Description: "Removes the ref from index.json under the layout's lock; run gc to free the blobs.\n\n" +
			"   gadgetpack rm --layout ./bundle trace_exec:v0.39.0",
		Flags:  []ucli.Flag{layoutFlag(), quietFlag()},
		Action: runRm,
	}
}

func runRm(cliContext *ucli.Context) error {
	if err := wantArgs(cliContext, 1, 1, "REF"); err != nil {
		return err
	}
	store, err := openLayout(cliContext)
	if err != nil {
		return err
	}
	ctx := cliContext.Context
	_, name, err := resolveRef(ctx, store, cliContext.Args().First())
	if err != nil {
		return err
	}
	if err := store.Untag(ctx, name); err != nil {
		return err
	}
	if !cliContext.Bool("quiet") {
		_, err = fmt.Fprintf(streamsOf(cliContext).out, "removed %s\n", esc(name))
	}
	return err
}
