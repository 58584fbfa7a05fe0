package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	ucli "github.com/urfave/cli/v2"

	"github.com/gadgetpack/gadgetpack/layout"
)

func copyCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "copy",
		Aliases:   []string{"cp"},
		Usage:     "copy refs, with their signatures and referrers, into another layout or ig's store",
		ArgsUsage: "[REF...]",
		Description: "With no REF every ref is copied. DST is created when missing. Blobs it has are not\n" +
			"   read again; refs are merged into its index.json in one write under index.json.lock, the\n" +
			"   lock ig takes, so copying into ig's store while ig runs is safe. A ref of DST that points\n" +
			"   elsewhere is an error unless --force.\n\n" +
			"   gadgetpack copy --layout ./bundle --to /var/lib/ig/oci-store trace_exec",
		Flags: []ucli.Flag{
			layoutFlag(),
			&ucli.StringFlag{Name: "to", Usage: "the target layout `DIR` (ig's store is /var/lib/ig/oci-store)", Required: true},
			&ucli.BoolFlag{Name: "force", Usage: "move refs of the target that point elsewhere"},
			&ucli.IntFlag{Name: "jobs", Usage: "blobs copied at once", Value: 4},
			jsonFlag(), quietFlag(),
		},
		Action: runCopy,
	}
}

func runCopy(cliContext *ucli.Context) error {
	to := cliContext.String("to")
	if to == "" {
		return usagef("copy: --to is empty")
	}
	if cliContext.Int("jobs") < 1 {
		return usagef("copy: invalid --jobs %d: want at least 1", cliContext.Int("jobs"))
	}
	src, err := openLayout(cliContext)
	if err != nil {
		return err
	}
	ctx := cliContext.Context
	entries, err := entriesFor(ctx, src, cliContext.Args().Slice())
	if err != nil {
		return err
	}
	_, statErr := os.Lstat(to)
	dst, err := layout.Init(to)
	if err != nil {
		return err
	}
	bar := newProgress(cliContext, "copy")
	res, err := layout.Copy(ctx, src, dst, entries, layout.CopyOptions{
		Force:    cliContext.Bool("force"),
		Jobs:     cliContext.Int("jobs"),
		Progress: bar.bytes,
	})
	bar.done()
	if err != nil {
		if errors.Is(statErr, fs.ErrNotExist) {
			_ = os.RemoveAll(to) // made by this run: leave nothing behind
		}
		return err
	}
	out := streamsOf(cliContext).out
	switch {
	case cliContext.Bool("json"):
		return json.NewEncoder(out).Encode(res)
	case cliContext.Bool("quiet"):
		return nil
	}
	_, err = fmt.Fprintf(out, "copied %d refs to %s: %d of %d blobs written (%d of %d bytes); entries %d added, %d moved, %d already there\n",
		len(entries), dst.Path(), res.Copied, res.Blobs, res.Written, res.Bytes, res.Entries.Added, res.Entries.Replaced, res.Entries.Unchanged)
	return err
}
