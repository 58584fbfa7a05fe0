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
		Description: "Copies the refs (every ref without REF) with everything they reach, their digest-tag\n" +
			"signatures and OCI 1.1 referrers into the layout --to names, created when missing. Blobs\n" +
			"it holds are not read again; the others are verified as they are written into a stage in\n" +
			"its .gadgetpack-tmp/, made durable together and published only when all are there (a\n" +
			"failed copy leaves none; a killed one's stage goes at the next gc). The refs are\n" +
			"merged into its index.json last, in one write under index.json.lock, the lock ig takes,\n" +
			"so copying into ig's store while ig runs is safe: copy waits for ig to let go. A ref of\n" +
			"the target that points elsewhere is an error, found before anything is written, unless\n" +
			"--force. Referrers are those index.json lists; --scan-referrers finds unlisted ones too.\n\n" +
			"   gadgetpack copy --layout ./bundle --to /var/lib/ig/oci-store trace_exec\n" +
			"   gadgetpack copy --layout /media/usb/bundle --to ./mirror",
		Flags: []ucli.Flag{
			layoutFlag(),
			&ucli.StringFlag{Name: "to", Usage: "the target layout `DIR` (ig's store is /var/lib/ig/oci-store)", Required: true},
			&ucli.BoolFlag{Name: "force", Usage: "move refs of the target that point elsewhere"},
			&ucli.IntFlag{Name: "jobs", Usage: "`N` blobs copied at once", Value: 4},
			jsonFlag(), quietFlag(), publicKeyFlag(), scanReferrersFlag(),
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
	keys, err := publicKeys(cliContext)
	if err != nil {
		return err
	}
	if err := gateLayout(ctx, src, entries, keys); err != nil {
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

		ScanReferrers: cliContext.Bool("scan-referrers"),
	})
	bar.done()
	if err != nil {
		if errors.Is(statErr, fs.ErrNotExist) {
			_ = os.RemoveAll(to) // made by this run: leave nothing behind
		}
		return verifyHint(forceHint(err))
	}
	out := streamsOf(cliContext).out
	switch {
	case cliContext.Bool("json"):
		return json.NewEncoder(out).Encode(res)
	case cliContext.Bool("quiet"):
		return nil
	}
	_, err = fmt.Fprintf(out, "copied %d refs to %s: %d of %d blobs written (%d of %d bytes); entries %d added, %d moved, %d already there\n",
		len(entries), esc(dst.Path()), res.Copied, res.Blobs, res.Written, res.Bytes, res.Entries.Added, res.Entries.Replaced, res.Entries.Unchanged)
	return err
}
