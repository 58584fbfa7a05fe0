package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	ucli "github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/gadgetpack/gadgetpack/layout"
	"github.com/gadgetpack/gadgetpack/sign"
	"github.com/gadgetpack/gadgetpack/tarball"
)

// passwordEnv holds the password of an encrypted private key, as for cosign.
const passwordEnv = "COSIGN_PASSWORD"

func publicKeyFlag() *ucli.StringSliceFlag {
	return &ucli.StringSliceFlag{
		Name:  "public-key",
		Usage: "a PEM public `FILE` (cosign's NAME.pub); every image must carry a signature that verifies with one of them (repeatable)",
	}
}

// publicKeys loads the keys of --public-key; nil when none is given.
func publicKeys(cliContext *ucli.Context) ([]sign.PublicKey, error) {
	var keys []sign.PublicKey
	for _, path := range cliContext.StringSlice("public-key") {
		k, err := sign.LoadPublicKey(path)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// signatureRules wraps rule funcs so that a sign.Collector sees every index and manifest of
// the pass as well: the signatures are then checked from what the pass read, without a
// second read of the layout or the stream.
func signatureRules(c *sign.Collector, index func(context.Context, ocispec.Descriptor, ocispec.Index, layout.FetchFunc) []error,
	manifest func(context.Context, ocispec.Descriptor, ocispec.Manifest, layout.FetchFunc) []error) (
	func(context.Context, ocispec.Descriptor, ocispec.Index, layout.FetchFunc) []error,
	func(context.Context, ocispec.Descriptor, ocispec.Manifest, layout.FetchFunc) []error) {
	return func(ctx context.Context, desc ocispec.Descriptor, idx ocispec.Index, fetch layout.FetchFunc) []error {
			c.CheckIndex(ctx, desc, idx, fetch)
			if index == nil {
				return nil
			}
			return index(ctx, desc, idx, fetch)
		}, func(ctx context.Context, desc ocispec.Descriptor, m ocispec.Manifest, fetch layout.FetchFunc) []error {
			c.CheckManifest(ctx, desc, m, fetch)
			if manifest == nil {
				return nil
			}
			return manifest(ctx, desc, m, fetch)
		}
}

// collectedResults checks the signatures c gathered against keys.
func collectedResults(ctx context.Context, c *sign.Collector, keys []sign.PublicKey) ([]sign.RefResult, error) {
	g, err := c.Graph()
	if err != nil {
		return nil, err
	}
	return sign.CheckRefs(ctx, g, keys)
}

// readPassword returns the password of an encrypted key: $COSIGN_PASSWORD when set (even
// empty, as cosign), else typed on the terminal without echo; twice when confirm is set.
func readPassword(cliContext *ucli.Context, what string, confirm bool) ([]byte, error) {
	if p, ok := os.LookupEnv(passwordEnv); ok {
		return []byte(p), nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: no terminal to ask for the password and %s is not set", what, passwordEnv)
	}
	defer tty.Close()
	ask := func(prompt string) ([]byte, error) {
		fmt.Fprint(tty, prompt)
		defer fmt.Fprintln(tty)
		return readNoEcho(tty)
	}
	p, err := ask("Enter password for " + what + ": ")
	if err != nil || !confirm {
		return p, err
	}
	again, err := ask("Enter password for " + what + " again: ")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p, again) {
		return nil, usagef("%s: the passwords differ", what)
	}
	return p, nil
}

// readNoEcho reads one line from the terminal tty with echo turned off.
func readNoEcho(tty *os.File) ([]byte, error) {
	fd := int(tty.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	raw := *old
	raw.Lflag &^= unix.ECHO
	raw.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return nil, err
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	line, err := bufio.NewReader(tty).ReadBytes('\n')
	if err != nil && err != io.EOF {
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

// verifyOutput is verify's JSON report: the layout's or tarball's, and with --public-key the
// signatures of every image.
type verifyOutput struct {
	*tarball.Report
	Signatures []sign.RefResult `json:"signatures,omitempty"`
}

// addProblems adds findings to a report, errors before warnings, and updates its verdict.
func addProblems(r *layout.Report, probs []layout.Problem) {
	if len(probs) == 0 {
		return
	}
	r.Problems = append(r.Problems, probs...)
	slices.SortStableFunc(r.Problems, func(a, b layout.Problem) int {
		return boolRank(a.Severity != layout.SeverityError) - boolRank(b.Severity != layout.SeverityError)
	})
	for _, p := range probs {
		r.OK = r.OK && p.Severity != layout.SeverityError
	}
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// writeSignatureLines prints one line per image: "signature REF: signed (legacy, key 3f2a1b0c)".
func writeSignatureLines(w io.Writer, results []sign.RefResult) error {
	for _, r := range results {
		if _, err := fmt.Fprintf(w, "signature %s: %s\n", esc(r.Ref), escMsg(r.Summary())); err != nil {
			return err
		}
	}
	return nil
}

// layoutSignatures checks the signature of every image of store (as ig would find them)
// against keys, by ref.
func layoutSignatures(ctx context.Context, store *layout.Store, keys []sign.PublicKey) (map[string]sign.RefResult, error) {
	g, err := sign.LayoutGraph(ctx, store)
	if err != nil {
		return nil, err
	}
	results, err := sign.CheckRefs(ctx, g, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string]sign.RefResult, len(results))
	for _, r := range results {
		out[r.Ref] = r
	}
	return out, nil
}

// gateError is the refusal of the gate (import, copy, push with --public-key): every image
// not signed by one of the keys, named with why; nil when all are.
func gateError(results []sign.RefResult, only map[string]bool) error {
	var bad []string
	for _, p := range sign.Problems(results) {
		ref := strings.TrimPrefix(p.Where, "ref ")
		if only != nil && !only[ref] {
			continue
		}
		bad = append(bad, fmt.Sprintf("%s: %s [%s]", ref, p.Message, p.Rule))
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("refused: %d images not signed by the given keys (nothing was written):\n  %s: %w", len(bad), strings.Join(bad, "\n  "), sign.ErrUnsigned)
}

// gateLayout checks, before a copy or a push writes anything, that every image among entries
// (signature tags aside) carries a signature of one of keys in store.
func gateLayout(ctx context.Context, store *layout.Store, entries []ocispec.Descriptor, keys []sign.PublicKey) error {
	if len(keys) == 0 {
		return nil
	}
	results, err := layoutSignatures(ctx, store, keys)
	if err != nil {
		return err
	}
	only := map[string]bool{}
	var list []sign.RefResult
	for _, e := range entries {
		name := e.Annotations[ocispec.AnnotationRefName]
		if r, ok := results[name]; ok && !only[name] {
			only[name] = true
			list = append(list, r)
		}
	}
	return gateError(list, nil)
}

// gatePush is the gate of push with --public-key: the ref pushed (or, with --all, every ref)
// must be signed by one of the keys before anything is sent.
func gatePush(cliContext *ucli.Context, store *layout.Store, all bool) error {
	keys, err := publicKeys(cliContext)
	if err != nil || len(keys) == 0 {
		return err
	}
	ctx := cliContext.Context
	var refs []string
	if !all {
		refs = []string{cliContext.Args().First()}
	}
	entries, err := entriesFor(ctx, store, refs)
	if err != nil {
		return err
	}
	return gateLayout(ctx, store, entries, keys)
}
