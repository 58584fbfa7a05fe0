package cli

import (
	"bytes"
	"encoding/json"
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

// TestWriteJSONKeepsStrings: --json output holds input strings exactly once decoded, with
// nothing a terminal acts on in its bytes: encoding/json escapes C0 controls and U+2028/U+2029
// (which end a line in JavaScript) itself, writeJSON the bidi and other format characters and
// C1 controls it leaves raw, and its HTML escaping of <, > and & decodes back to them.
func TestWriteJSONKeepsStrings(t *testing.T) {
	for _, s := range []string{evil, "a\u2028b\u2029c", "<script>&amp;</script>", "café ガジェット", "\u0085\u009b\u200b\ufeff\x7f", "tab\there"} {
		t.Run(s, func(t *testing.T) {
			var b bytes.Buffer
			if err := writeJSON(&b, map[string]string{"ref": s}); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			checkTerminalSafe(t, out)
			var back map[string]string
			if err := json.Unmarshal(b.Bytes(), &back); err != nil || back["ref"] != s {
				t.Errorf("decoded %q (%v), want %q", back["ref"], err, s)
			}
		})
	}
}
