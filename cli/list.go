package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	ucli "github.com/urfave/cli/v2"
)

func listCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "list",
		Aliases:   []string{"ls"},
		Usage:     "list the references of a layout",
		ArgsUsage: " ",
		Description: "One line per ref in index.json, sorted: name, kind, platforms, digest, size.\n\n" +
			"   gadgetpack list --layout ./bundle",
		Flags:  []ucli.Flag{layoutFlag(), jsonFlag(), quietFlag()},
		Action: runList,
	}
}

type listEntry struct {
	Ref       string   `json:"ref"`
	MediaType string   `json:"mediaType"`
	Digest    string   `json:"digest"`
	Size      int64    `json:"size"`
	Platforms []string `json:"platforms,omitempty"`
}

func runList(cliContext *ucli.Context) error {
	if err := wantArgs(cliContext, 0, 0, "no argument"); err != nil {
		return err
	}
	store, err := openLayout(cliContext)
	if err != nil {
		return err
	}
	ctx := cliContext.Context
	refs, err := store.Refs(ctx)
	if err != nil {
		return err
	}
	entries := make([]listEntry, 0, len(refs))
	platformsOf := map[string][]string{} // by index digest: many refs may name one index
	for _, d := range refs {
		e := listEntry{Ref: d.Annotations[ocispec.AnnotationRefName], MediaType: d.MediaType, Digest: d.Digest.String(), Size: d.Size}
		if d.MediaType == ocispec.MediaTypeImageIndex {
			ps, ok := platformsOf[e.Digest]
			if !ok {
				idx, err := readIndex(ctx, store, d)
				if err != nil {
					return fmt.Errorf("ref %s: %w", e.Ref, err)
				}
				for _, m := range idx.Manifests {
					if p := platform(m); p != "" {
						ps = append(ps, p)
					}
				}
				platformsOf[e.Digest] = ps
			}
			e.Platforms = ps
		} else if p := platform(d); p != "" {
			e.Platforms = []string{p}
		}
		entries = append(entries, e)
	}
	out := streamsOf(cliContext).out
	switch {
	case cliContext.Bool("json"):
		return writeJSON(out, entries)
	case cliContext.Bool("quiet"):
		for _, e := range entries {
			if _, err := fmt.Fprintln(out, e.Ref); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REF\tKIND\tPLATFORMS\tDIGEST\tSIZE")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", e.Ref, kind(e.MediaType), strings.Join(e.Platforms, ","), e.Digest, e.Size)
	}
	return tw.Flush()
}

// kind names a media type in one short word for tables.
func kind(mediaType string) string {
	switch mediaType {
	case ocispec.MediaTypeImageIndex:
		return "index"
	case ocispec.MediaTypeImageManifest:
		return "manifest"
	}
	return mediaType
}
