package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/gadgetpack/gadgetpack/internal/termsafe"
)

// What reaches the terminal: every field that comes from input (a ref name, an annotation, a
// media type or digest read from a document, a file or tar entry name, a path argument) is
// printed through esc, and every message composed elsewhere (verify's findings, the errors of
// layout, tarball and registry) through escMsg, so that a crafted bundle cannot move the
// cursor, clear the screen or print a line of its own. JSON output keeps the exact strings:
// encoding/json escapes control characters, U+2028 and U+2029 itself.

// maxErrorLines is how many errors of an errors.Join the final error message lists, one per
// line, before it says how many more there were.
const maxErrorLines = 20

// esc escapes one field that comes from input for a line of text output (termsafe.Escape).
func esc(s string) string { return termsafe.Escape(s) }

// escMsg makes a message composed from input fields one safe line of at most
// termsafe.MaxLine bytes: control and format characters escaped (termsafe.Sanitize, which
// leaves the escapes %q made as they are), and the middle of an overlong line cut.
func escMsg(s string) string { return termsafe.Clip(termsafe.Sanitize(s), termsafe.MaxLine) }

// printError prints err as "gadgetpack: <err>" lines on w: one line per error it joins
// (errors.Join; at most maxErrorLines, then how many more), each made safe by escMsg, so an
// error is never more than one line each and never carries a control character from input.
func printError(w io.Writer, err error) {
	errs := []error{err}
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) && err.Error() == joinedText(joined.Unwrap()) {
		errs = joined.Unwrap()
	}
	for i, e := range errs {
		if i == maxErrorLines {
			fmt.Fprintf(w, "gadgetpack: ... and %d more errors\n", len(errs)-i)
			break
		}
		fmt.Fprintf(w, "gadgetpack: %s\n", escMsg(e.Error()))
	}
}

// joinedText is the message errors.Join gives errs: their messages, one per line (nil ones left
// out), so that printError splits only an error that is a join as a whole, not one that wraps
// a join inside a longer message.
func joinedText(errs []error) string {
	var s string
	for _, e := range errs {
		if e == nil {
			continue
		}
		if s != "" {
			s += "\n"
		}
		s += e.Error()
	}
	return s
}
