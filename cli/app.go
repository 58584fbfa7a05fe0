package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"runtime/debug"
	"strings"

	ucli "github.com/urfave/cli/v2"
)

// Exit codes returned by Run.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// version is set at link time (-ldflags "-X github.com/gadgetpack/gadgetpack/cli.version=...");
// otherwise it comes from the module's build information.
var version = ""

// Run runs the command line args (args[0] is the program name) and returns the exit code.
// Errors are printed once, as "gadgetpack: <err>", on stderr.
//
// Unless GOGC is set, the garbage collector runs once the heap has grown by half since the
// last collection (GOGC=50), not doubled: a command over many small blobs keeps a small record
// per blob, and the default let the heap of an export or a verify of 20,000 small images
// reach twice that (peak RSS 155-180 MiB; 127-142 MiB so, for 5-10% more CPU).
func Run(ctx context.Context, args []string) int {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(gcPercent)
	}
	return run(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}

// gcPercent is the GOGC Run sets when the environment sets none.
const gcPercent = 50

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdin, stdout, stderr)
	err := app.RunContext(ctx, args)
	if err == nil {
		return ExitOK
	}
	var quiet *silentError
	if !errors.As(err, &quiet) {
		printError(stderr, err)
	}
	var usage *usageError
	if errors.As(err, &usage) || isMissingRequiredFlag(err) {
		return ExitUsage
	}
	return ExitFailure
}

// isMissingRequiredFlag reports urfave/cli's error for a required flag left out (its type is
// unexported; the message is `Required flag "to" not set` or `Required flags "a, b" not set`).
func isMissingRequiredFlag(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "Required flag") && strings.HasSuffix(msg, " not set")
}

// streams are the standard streams of one run, so that tests run commands in process.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

func streamsOf(cliContext *ucli.Context) streams {
	s, _ := cliContext.App.Metadata["streams"].(streams)
	return s
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *ucli.App {
	app := &ucli.App{
		Name:  "gadgetpack",
		Usage: "build, verify and carry Inspektor Gadget OCI artifacts across an air gap",
		Description: "gadgetpack works on OCI image layouts on disk, offline. Example:\n\n" +
			"   gadgetpack build --layout ./bundle --tag trace_exec ./testdata/gadgets/trace_exec\n" +
			"   gadgetpack verify ./bundle",
		Version:                   versionString(),
		HideHelpCommand:           true,
		DisableSliceFlagSeparator: true,
		Writer:                    stdout,
		ErrWriter:                 stderr,
		Reader:                    stdin,
		Metadata:                  map[string]any{"streams": streams{in: stdin, out: stdout, err: stderr}},
		ExitErrHandler:            func(*ucli.Context, error) {},
		OnUsageError:              onUsageError,
		Action:                    runNoCommand,
		Commands: []*ucli.Command{
			buildCommand(),
			verifyCommand(),
			listCommand(),
			inspectCommand(),
			tagCommand(),
			rmCommand(),
			gcCommand(),
			copyCommand(),
			btfgenCommand(),
			pushCommand(),
			pullCommand(),
			exportCommand(),
			importCommand(),
			keygenCommand(),
			signCommand(),
		},
	}
	for _, c := range app.Commands {
		c.OnUsageError = onUsageError
		if c.Before == nil {
			c.Before = checkFlagsFirst
		}
	}
	return app
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}

// runNoCommand runs when no command matched: help for no argument, a usage error otherwise.
func runNoCommand(cliContext *ucli.Context) error {
	if cliContext.NArg() > 0 {
		return usagef("unknown command %q (see gadgetpack --help)", cliContext.Args().First())
	}
	if err := ucli.ShowAppHelp(cliContext); err != nil {
		return err
	}
	return usagef("missing command")
}
