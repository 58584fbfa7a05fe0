package termsafe

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"plain", "trace_exec:v1.2", "trace_exec:v1.2"},
		{"printable unicode", "café ガジェット ℤ 🙂", "café ガジェット ℤ 🙂"},
		{"double quote kept", `a"b'c`, `a"b'c`},
		{"backslash doubled", `a\x1bb`, `a\\x1bb`},
		{"clear screen", "\x1b[2J\x1b[H", `\x1b[2J\x1b[H`},
		{"cr", "evil\rok", `evil\rok`},
		{"fake line", "x\nok: 0 errors", `x\nok: 0 errors`},
		{"tab", "a\tb", `a\tb`},
		{"named c0", "\a\b\f\v", `\a\b\f\v`},
		{"nul and others", "\x00\x01\x1f", `\x00\x01\x1f`},
		{"del", "a\x7fb", `a\x7fb`},
		{"c1 csi", "a\u009b2Jb", `a\u009b2Jb`},
		{"c1 nel", "\u0085", `\u0085`},
		{"rlo", "exe.\u202egnp", `exe.\u202egnp`},
		{"bidi embeddings", "\u202a\u202b\u202c\u202d", `\u202a\u202b\u202c\u202d`},
		{"isolates", "\u2066\u2067\u2068\u2069", `\u2066\u2067\u2068\u2069`},
		{"arabic letter mark", "\u061c", `\u061c`},
		{"zero width", "\u200b\u200c\u200d\u200e\u200f", `\u200b\u200c\u200d\u200e\u200f`},
		{"word joiner etc", "\u2060\u2061\u2062\u2063\u2064\u2065", `\u2060\u2061\u2062\u2063\u2064\u2065`},
		{"bom", "\ufeffref", `\ufeffref`},
		{"line separators", "\u2028\u2029", `\u2028\u2029`},
		{"tag character", "\U000e0041", `\U000e0041`},
		{"invalid utf8", "a\xffb\xc3", `a\xffb\xc3`},
		{"lone c1 byte", "\x9b", `\x9b`},
		{"overlong", "\xc0\x80", `\xc0\x80`},
		{"surrogate half", "\xed\xa0\x80", `\xed\xa0\x80`},
		{"replacement char kept", "\ufffd", "\ufffd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Escape(tc.in)
			if got != tc.want {
				t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
			}
			checkSafe(t, got)
			if back := unescape(t, got); back != tc.in {
				t.Errorf("Escape(%q) = %q does not unquote back: %q", tc.in, got, back)
			}
		})
	}
}

func TestSanitize(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"plain", "gadgetpack: ref x: not found", "gadgetpack: ref x: not found"},
		{"backslash kept", `ref a\x1bb: not found`, `ref a\x1bb: not found`},
		{"escapes", "ref \x1b[2J\r\n\u202e\xff", `ref \x1b[2J\r\n\u202e\xff`},
		{"already escaped field", "ref " + Escape("a\\\x1b") + ": x", `ref a\\\x1b: x`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Sanitize(tc.in)
			if got != tc.want {
				t.Errorf("Sanitize(%q) = %q, want %q", tc.in, got, tc.want)
			}
			checkSafe(t, got)
		})
	}
}

func TestClip(t *testing.T) {
	long := strings.Repeat("é", 3000) // 6000 bytes, 2 each
	for _, tc := range []struct {
		name string
		in   string
		max  int
	}{
		{"short", "abc", 64},
		{"exact", strings.Repeat("a", 64), 64},
		{"ascii", strings.Repeat("a", 10000), 4096},
		{"runes", long, 4096},
		{"runes odd", long, 4097},
		{"tiny max", strings.Repeat("a", 1000), 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Clip(tc.in, tc.max)
			switch {
			case len(tc.in) <= tc.max:
				if got != tc.in {
					t.Errorf("Clip changed a string within max: %q", got)
				}
				return
			case len(got) > tc.max:
				t.Errorf("Clip: %d bytes, over max %d", len(got), tc.max)
			case !utf8.ValidString(got):
				t.Errorf("Clip cut inside a rune: %q", got)
			case !strings.Contains(got, strconv.Itoa(len(tc.in))+" bytes"):
				t.Errorf("Clip does not say the length it cut: %q", got)
			}
			if tc.max >= 1024 && (!strings.HasPrefix(got, tc.in[:100]) || !strings.HasSuffix(got, tc.in[len(tc.in)-100:])) {
				t.Errorf("Clip does not keep the start and the end")
			}
		})
	}
}

// checkSafe fails unless s is valid UTF-8 without a control, format or other non-printable
// character.
func checkSafe(tb testing.TB, s string) {
	tb.Helper()
	if !utf8.ValidString(s) {
		tb.Fatalf("not valid UTF-8: %q", s)
	}
	for i, r := range s {
		if r < 0x20 || r == 0x7f || 0x80 <= r && r <= 0x9f || isFormat(r) || !strconv.IsPrint(r) {
			tb.Fatalf("unsafe rune %U at %d in %q", r, i, s)
		}
	}
}

// unescape inverts Escape through Go's own unquoting: Escape leaves '"' as is, so escape it
// (an Escape output has no '"' inside an escape sequence) and quote the whole.
func unescape(tb testing.TB, s string) string {
	tb.Helper()
	back, err := strconv.Unquote(`"` + strings.ReplaceAll(s, `"`, `\"`) + `"`)
	if err != nil {
		tb.Fatalf("strconv.Unquote of %q: %v", s, err)
	}
	return back
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b[2J\r\nok: 0 errors", "exe.\u202egnp", "\xff\xfe", `a\b"c`,
		"café \u0085\u2028\ufeff", "\U000e0041\u200d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Escape(s)
		checkSafe(t, out)
		if back := unescape(t, out); back != s {
			t.Fatalf("Escape(%q) = %q, unquotes to %q", s, out, back)
		}
		san := Sanitize(s)
		checkSafe(t, san)
		if !strings.Contains(s, `\`) && san != out {
			t.Fatalf("Sanitize(%q) = %q, Escape gives %q", s, san, out)
		}
		if Sanitize(san) != san {
			t.Fatalf("Sanitize(%q) = %q is not stable", s, san)
		}
		js, err := json.Marshal(map[string]string{s: s})
		if err != nil {
			t.Fatal(err)
		}
		safeJS := EscapeJSON(js)
		checkSafe(t, string(safeJS))
		var a, b map[string]string
		if err := json.Unmarshal(js, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(safeJS, &b); err != nil || len(b) != 1 || b[s] != a[s] {
			t.Fatalf("EscapeJSON(%s) = %s decodes to %q (%v), want %q", js, safeJS, b, err, a)
		}
	})
}

func TestEscapeJSON(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"plain", `{"ref":"café"}`, `{"ref":"café"}`},
		{"already escaped by encoding/json", `{"ref":"\u001b[2J\u2028"}`, `{"ref":"\u001b[2J\u2028"}`},
		{"bidi", "{\"ref\":\"exe.\u202egnp\"}", `{"ref":"exe.\u202egnp"}`},
		{"del", "[\"a\x7fb\"]", `["a\u007fb"]`},
		{"c1 and bom", "[\"\u009b2J\ufeff\"]", `["\u009b2J\ufeff"]`},
		{"tag character", "[\"\U000e0041\"]", `["\udb40\udc41"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(EscapeJSON([]byte(tc.in))); got != tc.want {
				t.Errorf("EscapeJSON(%s) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestJoin(t *testing.T) {
	items := func(n int) []string {
		s := make([]string, n)
		for i := range s {
			s[i] = "e" + strconv.Itoa(i)
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		items []string
		max   int
		want  string
	}{
		{"none", nil, 3, ""},
		{"under", items(2), 3, "e0; e1"},
		{"at", items(3), 3, "e0; e1; e2"},
		{"over", items(27000), 3, "e0; e1; e2; ... and 26997 more"},
		{"default max", items(MaxListed + 1), 0, strings.Join(items(MaxListed), "; ") + "; ... and 1 more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Join(tc.items, "; ", tc.max); got != tc.want {
				t.Errorf("Join = %q, want %q", got, tc.want)
			}
		})
	}
}
