package cli

import (
	"fmt"
	"io"
	"strings"

	ucli "github.com/urfave/cli/v2"
)

func inspectCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "inspect",
		Usage:     "show an image as a tree: index, manifests, config, layers and their sizes",
		ArgsUsage: "REF",
		Description: "   gadgetpack inspect --layout ./bundle trace_exec\n" +
			"   gadgetpack inspect --layout ./bundle --json sha256:4f1c...",
		Flags:  []ucli.Flag{layoutFlag(), jsonFlag(), publicKeyFlag()},
		Action: runInspect,
	}
}

func runInspect(cliContext *ucli.Context) error {
	if err := wantArgs(cliContext, 1, 1, "REF"); err != nil {
		return err
	}
	store, err := openLayout(cliContext)
	if err != nil {
		return err
	}
	ctx := cliContext.Context
	desc, name, err := resolveRef(ctx, store, cliContext.Args().First())
	if err != nil {
		return err
	}
	keys, err := publicKeys(cliContext)
	if err != nil {
		return err
	}
	sigs, err := layoutSignatures(ctx, store, keys)
	if err != nil {
		return err
	}
	signature, hasSig := sigs[name]
	role := kind(desc.MediaType)
	root, err := loadGraph(ctx, store, role, desc)
	if err != nil {
		return fmt.Errorf("ref %s: %w", name, err)
	}
	out := streamsOf(cliContext).out
	if cliContext.Bool("json") {
		v := struct {
			Ref        string      `json:"ref"`
			Signature  string      `json:"signature,omitempty"`
			Signatures interface{} `json:"signatures,omitempty"`
			*node
		}{Ref: name, node: root}
		if hasSig {
			v.Signature, v.Signatures = signature.Summary(), signature.Signatures
		}
		return writeJSON(out, v)
	}
	if _, err := fmt.Fprintln(out, esc(name)); err != nil {
		return err
	}
	if hasSig {
		if _, err := fmt.Fprintf(out, "signature: %s\n", escMsg(signature.Summary())); err != nil {
			return err
		}
		for _, s := range signature.Signatures {
			line := fmt.Sprintf("  %s %s via %s: %s", s.Format, s.Manifest, s.Via, s.Verdict)
			if s.Reason != "" {
				line += " (" + s.Reason + ")"
			}
			if _, err := fmt.Fprintln(out, escMsg(line)); err != nil {
				return err
			}
		}
	}
	return writeTree(out, root, "", "")
}

// writeTree prints n and its children with box-drawing branches.
func writeTree(w io.Writer, n *node, first, rest string) error {
	line := []string{esc(n.Role)} // a media type when it is neither an index's nor a manifest's
	if n.Platform != nil {
		line = append(line, esc(n.Platform.OS+"/"+n.Platform.Architecture))
	}
	line = append(line, esc(n.MediaType))
	if n.ArtifactType != "" && n.Role != "layer" && n.Role != "config" {
		line = append(line, "("+esc(n.ArtifactType)+")")
	}
	line = append(line, esc(n.Digest), fmt.Sprintf("%d B", n.Size))
	if t := n.Annotations["org.opencontainers.image.title"]; t != "" && n.Role != "manifest" {
		line = append(line, "title="+esc(t))
	}
	if _, err := fmt.Fprintf(w, "%s%s\n", first, strings.Join(line, " ")); err != nil {
		return err
	}
	for i, c := range n.Children {
		branch, next := "├── ", "│   "
		if i == len(n.Children)-1 {
			branch, next = "└── ", "    "
		}
		if err := writeTree(w, c, rest+branch, rest+next); err != nil {
			return err
		}
	}
	return nil
}
