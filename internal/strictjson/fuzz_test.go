package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// FuzzCheck checks Check against encoding/json and a naive reference: no panic; what Check
// accepts (as any Kind) encoding/json accepts, is valid UTF-8, and has no duplicate key at any
// depth when re-decoded; a duplicate key Check reports is one the reference finds; and a
// document that the reference and encoding/json (into any) find clean, with no escape, is
// accepted as Plain unless it nests over MaxDepth.
func FuzzCheck(f *testing.F) {
	for dir := range kindDirs {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*"))
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data, uint8(kindDirs[dir]))
			}
		}
	}
	for _, s := range []string{`{"a":1,"a":2}`, `{"manifests":[],"Manifests":[]}`, `{"manifests":null}`,
		`{"m\u0061nifests":[],"manifests":[]}`, `["\ud800"]`, "\xef\xbb\xbf{}", `{"layers":[{"ſize":1}]}`} {
		f.Add([]byte(s), uint8(Document))
	}
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		k := Kind(kind % 3)
		err := Check(data, k)
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("Check: %v is no *Error", err)
		}
		dups, refErr := refDuplicates(data)
		if err == nil {
			var v any
			if uerr := json.Unmarshal(data, &v); uerr != nil {
				t.Fatalf("Check accepts, encoding/json: %v", uerr)
			}
			if !utf8.Valid(data) {
				t.Fatal("Check accepts invalid UTF-8")
			}
			if refErr != nil || dups != nil {
				t.Fatalf("Check accepts, the reference finds a duplicate (%v)", refErr)
			}
			if k != Plain && Check(data, Plain) != nil {
				t.Fatal("accepted as a document but not as plain JSON")
			}
			return
		}
		if errors.Is(err, ErrDuplicateKey) && dups == nil && refErr == nil {
			t.Fatalf("Check: %v, the reference finds no duplicate", err)
		}
		var v any
		if k == Plain && refErr == nil && dups == nil && json.Unmarshal(data, &v) == nil && utf8.Valid(data) &&
			!bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) && !bytes.Contains(data, []byte(`\u`)) && !errors.Is(err, ErrTooDeep) {
			t.Fatalf("Check: %v, but the document is clean", err)
		}
	})
}

// refDuplicates is the naive reference: it decodes data with encoding/json's tokenizer,
// recursively, and returns the first key found twice in one object, nil for none. It returns an error for
// data that does not decode.
func refDuplicates(data []byte) (*string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var walk func(depth int) (*string, error)
	walk = func(depth int) (*string, error) {
		if depth > 2*MaxDepth {
			return nil, errors.New("too deep for the reference")
		}
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, errors.New("a key that is no string")
				}
				if seen[key] {
					return &key, nil
				}
				seen[key] = true
				if d, err := walk(depth + 1); d != nil || err != nil {
					return d, err
				}
			}
			_, err = dec.Token()
			return nil, err
		case json.Delim('['):
			for dec.More() {
				if d, err := walk(depth + 1); d != nil || err != nil {
					return d, err
				}
			}
			_, err = dec.Token()
			return nil, err
		}
		return nil, nil
	}
	d, err := walk(0)
	if d != nil || err != nil {
		return d, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the document")
	}
	return nil, nil
}
