package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/distribution/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	ucli "github.com/urfave/cli/v2"

	"github.com/gadgetpack/gadgetpack/layout"
	"github.com/gadgetpack/gadgetpack/sign"
)

func signCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "sign",
		Usage:     "sign images of a layout offline with a cosign key, as ig verifies them",
		ArgsUsage: "REF... | --all",
		Description: "Writes a cosign signature of each REF's digest (for a gadget: its index) into the\n" +
			"layout, through its lock protocol: the legacy format (a manifest tagged sha256-<hex>.sig,\n" +
			"what ig's official gadgets carry and what ig reads first) or a sigstore bundle (an OCI 1.1\n" +
			"referrer). A new legacy signature replaces the one before. --recursive also signs each\n" +
			"platform's manifest of an index. No registry, no transparency log. The key is cosign's\n" +
			"(encrypted, password from $COSIGN_PASSWORD or a prompt), PKCS#8 or SEC1 PEM.\n\n" +
			"   gadgetpack sign --layout ./bundle --key site-a.key trace_exec\n" +
			"   gadgetpack sign --layout ./bundle --key site-a.key --all",
		Flags: []ucli.Flag{
			layoutFlag(),
			&ucli.StringFlag{Name: "key", Usage: "the private key `FILE`", Required: true},
			&ucli.StringFlag{Name: "format", Usage: "signature format: `legacy` or bundle", Value: string(sign.FormatLegacy)},
			&ucli.BoolFlag{Name: "recursive", Usage: "also sign each platform's manifest of an index"},
			&ucli.BoolFlag{Name: "all", Usage: "sign every image of the layout (every ref but signature tags)"},
		},
		Action: runSign,
	}
}

func runSign(cliContext *ucli.Context) error {
	all := cliContext.Bool("all")
	if all {
		if err := wantArgs(cliContext, 0, 0, "no REF with --all"); err != nil {
			return err
		}
	} else if err := wantArgs(cliContext, 1, -1, "REF... or --all"); err != nil {
		return err
	}
	format := sign.Format(cliContext.String("format"))
	if format != sign.FormatLegacy && format != sign.FormatBundle {
		return usagef("invalid --format %q: want legacy or bundle", format)
	}
	keyPath := cliContext.String("key")
	if fi, err := os.Stat(keyPath); err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(streamsOf(cliContext).err, "gadgetpack: warning: private key %s is readable by others (mode %04o); chmod 600 it\n", esc(keyPath), fi.Mode().Perm())
	}
	signer, err := sign.LoadPrivateKey(keyPath, func() ([]byte, error) { return readPassword(cliContext, keyPath, false) })
	if err != nil {
		return err
	}
	store, err := openLayout(cliContext)
	if err != nil {
		return err
	}
	ctx := cliContext.Context
	type target struct {
		desc ocispec.Descriptor
		name string
	}
	var targets []target
	if all {
		refs, err := store.Refs(ctx)
		if err != nil {
			return err
		}
		for _, d := range refs {
			if name := d.Annotations[ocispec.AnnotationRefName]; !sign.IsSignatureTag(name) {
				targets = append(targets, target{d, name})
			}
		}
		if len(targets) == 0 {
			return fmt.Errorf("layout %s holds no image to sign: %w", store.Path(), layout.ErrNotFound)
		}
	} else {
		// Every REF resolves before anything is written.
		for _, r := range cliContext.Args().Slice() {
			desc, name, err := resolveRef(ctx, store, r)
			if err != nil {
				return err
			}
			targets = append(targets, target{desc, name})
		}
	}
	out := streamsOf(cliContext).out
	for _, t := range targets {
		descs := []ocispec.Descriptor{t.desc}
		if cliContext.Bool("recursive") && layout.IsIndexType(t.desc.MediaType) {
			idx, err := readIndex(ctx, store, t.desc)
			if err != nil {
				return fmt.Errorf("ref %s: %w", t.name, err)
			}
			descs = append(descs, idx.Manifests...)
		}
		repo := repository(t.name)
		for _, d := range descs {
			sd, err := sign.Sign(ctx, store, d, repo, signer, sign.Options{Format: format})
			if err != nil {
				return fmt.Errorf("ref %s: %s: %w", t.name, d.Digest, err)
			}
			if _, err := fmt.Fprintf(out, "signed %s %s (%s, key %s): signature %s\n", esc(t.name), d.Digest, format, signer.Public.ShortID(), sd.Digest); err != nil {
				return err
			}
		}
	}
	return nil
}

// repository is the docker-reference a signature names: the ref's repository (what ig and
// cosign put there), or the ref as it is when it does not parse as an image reference.
func repository(ref string) string {
	if named, err := reference.ParseNormalizedNamed(ref); err == nil {
		return named.Name()
	}
	if i := strings.LastIndexAny(ref, ":@"); i > 0 {
		return ref[:i]
	}
	return ref
}
