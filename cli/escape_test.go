package cli

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestPrintError(t *testing.T) {
	many := make([]error, 1000)
	for i := range many {
		many[i] = fmt.Errorf("file%d\x1b[2J: checksum mismatch", i)
	}
	for _, tc := range []struct {
		name  string
		err   error
		lines []string // want, in order; "" skips a line's check
	}{
		{"plain", errors.New("ref x: not found"), []string{"gadgetpack: ref x: not found"}},
		{"control characters", fmt.Errorf("ref %s: %w", evil, errors.New("invalid reference")),
			[]string{"gadgetpack: ref " + evilShown + ": invalid reference"}},
		{"quoted by %q stays as it is", fmt.Errorf("tar entry %q: unsafe", "a\x1bb"), []string{`gadgetpack: tar entry "a\x1bb": unsafe`}},
		{"joined, one line each", errors.Join(errors.New("a\rb"), nil, errors.New("c")), []string{`gadgetpack: a\rb`, "gadgetpack: c"}},
		{"wrapped join is one line", fmt.Errorf("import: %w", errors.Join(errors.New("a"), errors.New("b"))), []string{`gadgetpack: import: a\nb`}},
		{"many joined", errors.Join(many...), append(make([]string, maxErrorLines), fmt.Sprintf("gadgetpack: ... and %d more errors", 1000-maxErrorLines))},
		{"long", errors.New(strings.Repeat("sha256:abc; ", 700000)), []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			printError(&b, tc.err)
			out := b.String()
			checkTerminalSafe(t, out)
			got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(got) != len(tc.lines) {
				t.Fatalf("%d lines, want %d:\n%s", len(got), len(tc.lines), clip(out))
			}
			for i, want := range tc.lines {
				if want != "" && got[i] != want {
					t.Errorf("line %d: %q, want %q", i, got[i], want)
				}
				if !strings.HasPrefix(got[i], "gadgetpack: ") {
					t.Errorf("line %d does not start with gadgetpack: %q", i, got[i])
				}
			}
		})
	}
}
