package strictjson

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kindDirs maps each folder of testdata to the Kind of its documents.
var kindDirs = map[string]Kind{"document": Document, "plain": Plain, "layout": LayoutFile}

func TestCheckTestdata(t *testing.T) {
	for dir, k := range kindDirs {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
		if err != nil || len(files) == 0 {
			t.Fatalf("testdata/%s: no files (%v)", dir, err)
		}
		for _, f := range files {
			t.Run(dir+"/"+filepath.Base(f), func(t *testing.T) {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := Check(data, k); err != nil {
					t.Fatalf("Check: %v", err)
				}
				// Every real document is also a plain one.
				if err := Check(data, Plain); err != nil {
					t.Fatalf("Check as Plain: %v", err)
				}
			})
		}
	}
}

func TestCheck(t *testing.T) {
	const d = `"sha256:0000000000000000000000000000000000000000000000000000000000000000"`
	desc := `{"mediaType":"a/b","digest":` + d + `,"size":1}`
	for _, tc := range []struct {
		name string
		kind Kind
		json string
		want error  // nil: accepted
		msg  string // in the message, with the path
	}{
		// Accepted.
		{"empty object", Plain, `{}`, nil, ""},
		{"scalars", Plain, ` [1, -0, 0.5, 1e3, -2.5E-7, true, false, null, "", "\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"] `, nil, ""},
		{"top-level null (plain)", Plain, `null`, nil, ""},
		{"index", Document, `{"schemaVersion":2,"manifests":[` + desc + `,` + desc + `]}`, nil, ""},
		{"same key in two objects", Document, `{"manifests":[` + desc + `],"annotations":{"digest":"x"}}`, nil, ""},
		{"annotation keys differing in case", Document, `{"annotations":{"a":"1","A":"2"}}`, nil, ""},
		{"unknown field null", Document, `{"x-vendor":null,"layers":[{"x":null}]}`, nil, ""},
		{"case variant of an unknown field", Document, `{"foo":1,"Foo":2}`, nil, ""},
		{"case variant in a config", Plain, `{"config":{"Env":[],"env":[]}}`, nil, ""},
		{"many keys", Plain, `{` + manyKeys(100, "") + `}`, nil, ""},

		// Duplicate keys.
		{"duplicate manifests", Document, `{"schemaVersion":2,"manifests":[],"manifests":[` + desc + `]}`, ErrDuplicateKey, `duplicate key "manifests" at $ `},
		{"duplicate digest", Document, `{"manifests":[` + desc + `,{"digest":` + d + `,"size":1,"digest":"sha256:1"}]}`, ErrDuplicateKey, `duplicate key "digest" at $.manifests[1]`},
		{"duplicate ref name", Document, `{"manifests":[{"annotations":{"org.opencontainers.image.ref.name":"a","org.opencontainers.image.ref.name":"b"}}]}`, ErrDuplicateKey, `duplicate key "org.opencontainers.image.ref.name" at $.manifests[0].annotations`},
		{"duplicate imageLayoutVersion", LayoutFile, `{"imageLayoutVersion":"1.0.0","imageLayoutVersion":"2.0.0"}`, ErrDuplicateKey, `duplicate key "imageLayoutVersion" at $`},
		{"duplicate deep in a config", Plain, `{"a":[{"b":{"c":1,"c":1}}]}`, ErrDuplicateKey, `duplicate key "c" at $.a[0].b`},
		{"duplicate after unescaping", Document, `{"m\u0061nifests":[],"manifests":[]}`, ErrDuplicateKey, `duplicate key "manifests" at $`},
		{"duplicate in a large object", Plain, `{` + manyKeys(100, `"k7":0,`) + `}`, ErrDuplicateKey, `duplicate key "k7" at $`},
		{"duplicate key with odd bytes", Plain, `{"a\u001b[2J":1,"a\u001b[2J":2}`, ErrDuplicateKey, `duplicate key "a\x1b[2J" at $`},

		// Case variants of known fields.
		{"Manifests beside manifests", Document, `{"manifests":[],"Manifests":[]}`, ErrCaseVariant, `key "Manifests" differs only in case from "manifests" at $`},
		{"Manifests alone", Document, `{"Manifests":[]}`, ErrCaseVariant, `"Manifests"`},
		{"DIGEST in a descriptor", Document, `{"layers":[{"DIGEST":` + d + `}]}`, ErrCaseVariant, `at $.layers[0]`},
		{"long s folds to S", Document, `{"ſchemaVersion":2}`, ErrCaseVariant, `"schemaVersion"`},
		{"OS in a platform", Document, `{"manifests":[{"platform":{"os.version":"","architecture":"","OS":"x"}}]}`, ErrCaseVariant, `at $.manifests[0].platform`},
		{"long s in a descriptor", Document, `{"layers":[{"ſize":1}]}`, ErrCaseVariant, `"size" at $.layers[0]`},
		{"ImageLayoutVersion", LayoutFile, `{"ImageLayoutVersion":"1.0.0"}`, ErrCaseVariant, `"imageLayoutVersion"`},

		// Null where a value is wanted.
		{"null manifests", Document, `{"schemaVersion":2,"manifests":null}`, ErrNull, `null "manifests" at $ `},
		{"null layers", Document, `{"config":` + desc + `,"layers":null}`, ErrNull, `null "layers" at $`},
		{"null config", Document, `{"config":null}`, ErrNull, `null "config"`},
		{"null subject", Document, `{"subject":null}`, ErrNull, `null "subject"`},
		{"null annotations", Document, `{"annotations":null}`, ErrNull, `null "annotations"`},
		{"null annotation value", Document, `{"manifests":[{"annotations":{"org.opencontainers.image.ref.name":null}}]}`, ErrNull, `at $.manifests[0].annotations`},
		{"null digest", Document, `{"layers":[{"digest":null}]}`, ErrNull, `null "digest" at $.layers[0]`},
		{"null platform", Document, `{"manifests":[{"platform":null}]}`, ErrNull, `null "platform"`},
		{"null element", Document, `{"manifests":[` + desc + `,null]}`, ErrNull, `null element [1] at $.manifests`},
		{"null url", Document, `{"layers":[{"urls":[null]}]}`, ErrNull, `at $.layers[0].urls`},
		{"null document", Document, `null`, ErrNull, `null document`},
		{"null imageLayoutVersion", LayoutFile, `{"imageLayoutVersion":null}`, ErrNull, `null "imageLayoutVersion"`},

		// Numbers.
		{"huge exponent", Document, `{"manifests":[{"size":1e700}]}`, ErrNumberRange, `number 1e700 is beyond float64's range at $.manifests[0]`},
		{"huge negative", Plain, `[-1.5E+309]`, ErrNumberRange, `number -1.5E+309`},
		{"400 digits", Plain, `[` + strings.Repeat("9", 400) + `]`, ErrNumberRange, `beyond float64's range`},
		{"tiny is zero", Plain, `[1e-700, 1.7976931348623157e308, 300e-2]`, nil, ""},

		// Bytes.
		{"BOM", Document, "\xef\xbb\xbf{\"manifests\":[]}", ErrBOM, `byte order mark at $ (byte 0)`},
		{"BOM plain", Plain, "\xef\xbb\xbf{}", ErrBOM, `byte order mark`},
		{"invalid UTF-8", Document, "{\"annotations\":{\"a\":\"x\xffy\"}}", ErrInvalidUTF8, `byte 0xff is not UTF-8 at $.annotations (byte 22)`},
		{"invalid UTF-8 in a key", Plain, "{\"a\xc0\":1}", ErrInvalidUTF8, `byte 0xc0`},
		{"UTF-8 surrogate", Plain, "[\"\xed\xa0\x80\"]", ErrInvalidUTF8, `byte 0xed`},
		{"lone high surrogate", Plain, `["\ud800"]`, ErrInvalidUTF8, `\ud800 is a lone surrogate`},
		{"lone low surrogate", Plain, `["\udc00x"]`, ErrInvalidUTF8, `\udc00`},
		{"high then no low", Plain, `["\ud800\u0041"]`, ErrInvalidUTF8, `\ud800`},

		// Syntax.
		{"trailing data", Document, `{"manifests":[]} {}`, ErrSyntax, `data after the document at $ (byte 17)`},
		{"trailing garbage", Plain, `{}x`, ErrSyntax, `data after the document`},
		{"empty", Plain, ``, ErrSyntax, `unexpected end of input`},
		{"only space", Plain, " \n", ErrSyntax, `unexpected end of input`},
		{"truncated", Document, `{"manifests":[`, ErrSyntax, `unexpected end of input, want a value at $.manifests`},
		{"truncated string", Plain, `["abc`, ErrSyntax, `unexpected end of input`},
		{"trailing comma", Plain, `{"a":1,}`, ErrSyntax, `want a key`},
		{"trailing comma in array", Plain, `[1,]`, ErrSyntax, `want a value`},
		{"no colon", Plain, `{"a" 1}`, ErrSyntax, `want ':'`},
		{"single quotes", Plain, `{'a':1}`, ErrSyntax, `want a key`},
		{"leading zero", Plain, `[01]`, ErrSyntax, `want ',' or ']'`},
		{"bare minus", Plain, `[-]`, ErrSyntax, `want a digit`},
		{"dot without digits", Plain, `[1.]`, ErrSyntax, `want a digit`},
		{"exponent without digits", Plain, `[1e+]`, ErrSyntax, `want a digit`},
		{"plus sign", Plain, `[+1]`, ErrSyntax, `want a value`},
		{"NaN", Plain, `[NaN]`, ErrSyntax, `want a value`},
		{"tru", Plain, `[tru]`, ErrSyntax, `want true`},
		{"control character", Plain, "[\"a\tb\"]", ErrSyntax, `control character '\t' in a string`},
		{"unknown escape", Plain, `["\x41"]`, ErrSyntax, `unknown escape`},
		{"short \\u", Plain, `["\u12"]`, ErrSyntax, `\u without 4 hex digits`},
		{"mismatched brackets", Plain, `[}`, ErrSyntax, `want a value`},
		{"mismatched close", Plain, `{"a":[1}`, ErrSyntax, `want ',' or ']' at $.a`},
		{"comment", Plain, `{} // x`, ErrSyntax, `data after the document`},
		{"vertical tab is no space", Plain, "\v{}", ErrSyntax, `want a value`},

		// Depth.
		{"deep arrays", Plain, strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), nil, ""},
		{"too deep arrays", Plain, strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), ErrTooDeep, `over 1000 levels of nesting`},
		{"100,000 deep", Plain, strings.Repeat(`{"a":`, 100000), ErrTooDeep, `over 1000 levels`},
		{"deep path shortened", Plain, `{"x":` + strings.Repeat(`[`, 2000), ErrTooDeep, `at $.x[0][0][0][0][0][0][0]...(983 levels)...[0][0][0][0][0][0][0][0] (byte 1004)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check([]byte(tc.json), tc.kind)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if !json.Valid([]byte(tc.json)) {
					t.Fatal("accepted, but encoding/json does not")
				}
				return
			}
			var e *Error
			if !errors.Is(err, tc.want) || !errors.As(err, &e) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Check: %v, want %v naming %q", err, tc.want, tc.msg)
			}
			if e.Offset < 0 || e.Offset > len(tc.json) {
				t.Fatalf("offset %d outside the %d bytes", e.Offset, len(tc.json))
			}
		})
	}
}

// manyKeys returns n members "k0":0,"k1":0... after extra.
func manyKeys(n int, extra string) string {
	var b strings.Builder
	b.WriteString(extra)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + itoa(i) + `":0`)
	}
	return b.String()
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestErrorsWrapAmbiguous(t *testing.T) {
	for _, err := range []error{ErrDuplicateKey, ErrCaseVariant, ErrNull, ErrBOM, ErrInvalidUTF8, ErrNumberRange} {
		if !errors.Is(err, ErrAmbiguous) {
			t.Errorf("%v does not wrap ErrAmbiguous", err)
		}
	}
	for _, err := range []error{ErrSyntax, ErrTooDeep} {
		if errors.Is(err, ErrAmbiguous) {
			t.Errorf("%v wraps ErrAmbiguous", err)
		}
	}
}

// TestCheckReusesItsStacks pins that Check allocates nothing for a document without escaped
// keys or wide objects once its stacks are warm: a walk checks tens of thousands of them.
func TestCheckReusesItsStacks(t *testing.T) {
	manifest, err := os.ReadFile("testdata/document/ig-gadget-manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"gadget manifest", manifest},
		{"index.json of 100 refs", wideIndex(100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Check(tc.data, Document); err != nil {
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(100, func() { _ = Check(tc.data, Document) }); n != 0 {
				t.Errorf("Check made %v allocations a run, want 0", n)
			}
		})
	}
}
