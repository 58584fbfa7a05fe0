package cli

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"

	ucli "github.com/urfave/cli/v2"

	"github.com/gadgetpack/gadgetpack/internal/atomicfile"
	"github.com/gadgetpack/gadgetpack/sign"
)

func keygenCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "keygen",
		Usage:     "make a cosign key pair: NAME.key (encrypted, 0600) and NAME.pub",
		ArgsUsage: " ",
		Description: "An ECDSA P-256 key pair in cosign's own format (cosign generate-key-pair makes\n" +
			"the same kind): the private key encrypted with a password from $COSIGN_PASSWORD or\n" +
			"typed at a prompt. Neither file is overwritten.\n\n" +
			"   gadgetpack keygen --output-key-prefix site-a",
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "output-key-prefix", Usage: "write `NAME`.key and NAME.pub", Value: "cosign"},
		},
		Action: runKeygen,
	}
}

func runKeygen(cliContext *ucli.Context) error {
	if err := wantArgs(cliContext, 0, 0, "no argument"); err != nil {
		return err
	}
	prefix := cliContext.String("output-key-prefix")
	if prefix == "" {
		return usagef("invalid --output-key-prefix: empty")
	}
	for _, f := range []string{prefix + ".key", prefix + ".pub"} {
		if _, err := os.Lstat(f); err == nil {
			return fmt.Errorf("keygen: %s exists: %w", f, fs.ErrExist)
		}
	}
	pass, err := readPassword(cliContext, "the new private key", true)
	if err != nil {
		return err
	}
	priv, pub, err := sign.GenerateKeyPair(pass)
	if err != nil {
		return err
	}
	// The public key first: a failure leaves no private key without its public half.
	if err := atomicfile.WriteNew(prefix+".pub", bytes.NewReader(pub), 0o644); err != nil {
		return fmt.Errorf("public key: %w", err)
	}
	if err := atomicfile.WriteNew(prefix+".key", bytes.NewReader(priv), 0o600); err != nil {
		return fmt.Errorf("private key: %w", err)
	}
	k, err := sign.ParsePublicKey(pub)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(streamsOf(cliContext).out, "Private key written to %s.key\nPublic key written to %s.pub (key %s)\n", esc(prefix), esc(prefix), k.ShortID())
	return err
}
