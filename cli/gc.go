package cli

import (
	"fmt"

	ucli "github.com/urfave/cli/v2"
)

func gcCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "gc",
		Usage:     "remove blobs no ref reaches, and temp files of dead writers",
		ArgsUsage: " ",
		Description: "Marks everything reachable from index.json, with referrers (manifests whose subject\n" +
			"is kept) and digest-tag signatures, and removes the rest under the layout's lock.\n\n" +
			"   gadgetpack gc --layout ./bundle --dry-run",
		Flags: []ucli.Flag{
			layoutFlag(),
			&ucli.BoolFlag{Name: "dry-run", Usage: "print what would be removed, remove nothing"},
			quietFlag(),
		},
		Action: runGC,
	}
}

func runGC(cliContext *ucli.Context) error {
	if err := wantArgs(cliContext, 0, 0, "no argument"); err != nil {
		return err
	}
	store, err := openLayout(cliContext)
	if err != nil {
		return err
	}
	ctx := cliContext.Context
	plan, err := store.PlanGC(ctx)
	if err != nil {
		return err
	}
	dry := cliContext.Bool("dry-run")
	verb := "removed"
	if dry {
		verb = "would remove"
	} else if err := store.ApplyGC(ctx, plan); err != nil {
		return err
	}
	if cliContext.Bool("quiet") {
		return nil
	}
	out := streamsOf(cliContext).out
	var bytes int64
	for _, b := range plan.Blobs {
		bytes += b.Size
		if _, err := fmt.Fprintf(out, "%s blob %s %d bytes\n", verb, esc(b.Digest.String()), b.Size); err != nil {
			return err
		}
	}
	for _, p := range plan.Temp {
		if _, err := fmt.Fprintf(out, "%s temp file %s\n", verb, esc(p)); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(out, "%s %d blobs (%d bytes), %d temp files\n", verb, len(plan.Blobs), bytes, len(plan.Temp))
	return err
}
