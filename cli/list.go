package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	ucli "github.com/urfave/cli/v2"

	"github.com/gadgetpack/gadgetpack/sign"
)

func listCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "list",
		Aliases:   []string{"ls"},
		Usage:     "list the references of a layout",
		ArgsUsage: " ",
		Description: "One line per ref in index.json, sorted: name, kind, platforms, digest, size, and\n" +
			"the image's signature as ig would find it: signed (format, key), unsigned, or present but\n" +
			"not checked; with --public-key, checked against those keys.\n\n" +
			"   gadgetpack list --layout ./bundle --public-key site-a.pub",
		Flags:  []ucli.Flag{layoutFlag(), jsonFlag(), quietFlag(), publicKeyFlag()},
		Action: runList,
	}
}

type listEntry struct {
	Ref       string   `json:"ref"`
	MediaType string   `json:"mediaType"`
	Digest    string   `json:"digest"`
	Size      int64    `json:"size"`
	Platforms []string `json:"platforms,omitempty"`
	// Signature is the one-line verdict on the image's signatures ("" for a signature tag).
	Signature string `json:"signature,omitempty"`
	// Signatures are every signature found, with its verdict.
	Signatures []sign.Signature `json:"signatures,omitempty"`
}

func runList(cliContext *ucli.Context) error {
	if err := wantArgs(cliContext, 0, 0, "no argument"); err != nil {
		return err
	}
	store, err := openLayout(cliContext)
	if err != nil {
		return err
	}
	keys, err := publicKeys(cliContext)
	if err != nil {
		return err
	}
	ctx := cliContext.Context
	refs, err := store.Refs(ctx)
	if err != nil {
		return err
	}
	sigs, err := layoutSignatures(ctx, store, keys)
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
		if r, ok := sigs[e.Ref]; ok {
			e.Signature, e.Signatures = r.Summary(), r.Signatures
		}
		entries = append(entries, e)
	}
	out := streamsOf(cliContext).out
	switch {
	case cliContext.Bool("json"):
		return writeJSON(out, entries)
	case cliContext.Bool("quiet"):
		for _, e := range entries {
			if _, err := fmt.Fprintln(out, esc(e.Ref)); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REF\tKIND\tPLATFORMS\tDIGEST\tSIZE\tSIGNATURE")
	for _, e := range entries {
		platforms := make([]string, len(e.Platforms))
		for i, p := range e.Platforms {
			platforms[i] = esc(p)
		}
		signature := e.Signature
		if signature == "" {
			signature = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", esc(e.Ref), esc(kind(e.MediaType)), strings.Join(platforms, ","), esc(e.Digest), e.Size, escMsg(signature))
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
