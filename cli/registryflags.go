package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/gadgetpack/gadgetpack/registry"
)

// registryFlags are the auth, TLS and transfer flags of push and pull, declared once.
func registryFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "authfile", Usage: "Docker/Podman auth `FILE` (default: $REGISTRY_AUTH_FILE, else ${XDG_RUNTIME_DIR}/containers/auth.json, ~/.config/containers/auth.json, ~/.docker/config.json)"},
		&ucli.StringFlag{Name: "username", Usage: "registry user `NAME`, with the password on stdin (--password-stdin)"},
		&ucli.BoolFlag{Name: "password-stdin", Usage: "read the password of --username from stdin"},
		&ucli.BoolFlag{Name: "plain-http", Usage: "talk plain HTTP to the registry, not HTTPS"},
		&ucli.BoolFlag{Name: "insecure", Usage: "do not verify the registry's TLS certificate"},
		&ucli.StringFlag{Name: "ca-file", Usage: "PEM `FILE` of CA certificates to trust besides the system's"},
		&ucli.IntFlag{Name: "jobs", Usage: "`N` blobs transferred at once", Value: registry.DefaultConcurrency},
	}
}

// maxPasswordBytes caps what --password-stdin reads.
const maxPasswordBytes = 64 << 10

// registryOptions reads the registry flags. A password comes only from stdin, never from a
// flag (it would show in ps and in shell history).
func registryOptions(cliContext *ucli.Context) (registry.Options, error) {
	name := cliContext.Command.Name
	opts := registry.Options{
		AuthFile:    cliContext.String("authfile"),
		Username:    cliContext.String("username"),
		PlainHTTP:   cliContext.Bool("plain-http"),
		Insecure:    cliContext.Bool("insecure"),
		CAFile:      cliContext.String("ca-file"),
		Concurrency: cliContext.Int("jobs"),
		UserAgent:   "gadgetpack/" + versionString(),
	}
	switch {
	case cliContext.IsSet("username") && opts.Username == "":
		return opts, usagef("%s: --username is empty", name)
	case opts.Username != "" && !cliContext.Bool("password-stdin"):
		return opts, usagef("%s: --username needs --password-stdin (the password is read from stdin)", name)
	case opts.Username == "" && cliContext.Bool("password-stdin"):
		return opts, usagef("%s: --password-stdin needs --username", name)
	case opts.Username != "" && opts.AuthFile != "":
		return opts, usagef("%s: give either --username or --authfile, not both", name)
	case opts.PlainHTTP && (opts.Insecure || opts.CAFile != ""):
		return opts, usagef("%s: --plain-http uses no TLS: --insecure and --ca-file do not apply", name)
	case opts.Concurrency < 0:
		return opts, usagef("%s: invalid --jobs %d: want a positive number", name, opts.Concurrency)
	}
	if cliContext.Bool("password-stdin") {
		data, err := io.ReadAll(io.LimitReader(streamsOf(cliContext).in, maxPasswordBytes+1))
		if err != nil {
			return opts, fmt.Errorf("%s: reading the password from stdin: %w", name, err)
		}
		if len(data) > maxPasswordBytes {
			return opts, usagef("%s: --password-stdin: over %d bytes on stdin", name, maxPasswordBytes)
		}
		data = bytes.TrimRight(data, "\r\n")
		if len(data) == 0 {
			return opts, usagef("%s: --password-stdin: stdin is empty", name)
		}
		opts.Password = string(data)
	}
	return opts, nil
}

// registryHint adds what to do about a registry error the user can fix with a flag.
func registryHint(err error, opts registry.Options) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, registry.ErrHTTPMismatch) && opts.PlainHTTP:
		return fmt.Errorf("%w (drop --plain-http if the registry wants HTTPS)", err)
	case errors.Is(err, registry.ErrHTTPMismatch):
		return fmt.Errorf("%w (use --plain-http for a registry without TLS)", err)
	case errors.Is(err, registry.ErrTLS):
		return fmt.Errorf("%w (trust a private CA with --ca-file FILE, or skip verification with --insecure)", err)
	case errors.Is(err, registry.ErrUnauthorized) && opts.Username == "":
		return fmt.Errorf("%w (log in with --username NAME --password-stdin, or give --authfile FILE)", err)
	case errors.Is(err, registry.ErrUnauthorized):
		return fmt.Errorf("%w (check the user name and password)", err)
	}
	return err
}

// transferProgress draws the progress of a push or a pull on the command's progress line: the
// blob that last moved and the total, at most ten times a second.
func transferProgress(bar *progress) func(registry.Progress) {
	var (
		mu   sync.Mutex
		last time.Time
	)
	return func(p registry.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if now := time.Now(); now.Sub(last) >= 100*time.Millisecond || p.Done == p.Total {
			last = now
			bar.draw(func(elapsed float64) string {
				blob := string(p.Blob.Digest)
				if len(blob) > 19 {
					blob = blob[:19]
				}
				state := fmt.Sprintf("%s %s/%s", blob, mib(p.BlobDone), mib(p.Blob.Size))
				if p.Skipped {
					state = blob + " already there"
				}
				return fmt.Sprintf("%s | %d/%d blobs, %s/%s, %.0f MiB/s", state, p.Blobs, p.TotalBlobs, mib(p.Done), mib(p.Total), float64(p.Done)/elapsed/(1<<20))
			})
		}
	}
}

// mib renders n bytes in MiB with one decimal.
func mib(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
