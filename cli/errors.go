package cli

import (
	"errors"
	"fmt"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/gadgetpack/gadgetpack/layout"
)

// usageError is a mistake in how the command was called: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// silentError ends a run with exit code 1 when everything has already been reported on stdout
// (verify's problems): it is not printed again.
type silentError struct{ err error }

func (e *silentError) Error() string { return e.err.Error() }
func (e *silentError) Unwrap() error { return e.err }

func onUsageError(_ *ucli.Context, err error, _ bool) error {
	return &usageError{msg: err.Error()}
}

// checkFlagsFirst refuses flags after positional arguments: urfave/cli stops parsing flags at
// the first argument, and would otherwise take "--json" for a path.
func checkFlagsFirst(cliContext *ucli.Context) error {
	for _, a := range cliContext.Args().Slice() {
		if strings.HasPrefix(a, "-") && a != "-" {
			return usagef("%s: flag %q after the arguments: put flags before them", cliContext.Command.Name, a)
		}
	}
	return nil
}

// wantArgs checks the number of positional arguments.
func wantArgs(cliContext *ucli.Context, min, max int, names string) error {
	n := cliContext.NArg()
	switch {
	case n < min:
		return usagef("%s: missing %s", cliContext.Command.Name, names)
	case max >= 0 && n > max:
		return usagef("%s: too many arguments (want %s): %q", cliContext.Command.Name, names, cliContext.Args().Slice()[max:])
	}
	return nil
}

// forceHint adds how to move refs to an error about refs that would move (layout.ErrRefExists).
func forceHint(err error) error {
	if errors.Is(err, layout.ErrRefExists) {
		return fmt.Errorf("%w (--force moves them)", err)
	}
	return err
}

// verifyHint adds which layout to verify to an error about a blob file that layout already held
// and that is damaged (layout.DamagedBlobError): the input is not to blame.
func verifyHint(err error) error {
	var de *layout.DamagedBlobError
	if errors.As(err, &de) {
		return fmt.Errorf("%w (the input is not to blame: run gadgetpack verify %s)", err, de.Layout)
	}
	return err
}
