package spec

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestBadTestdata runs every input of testdata/bad through the check it was made for and wants
// that check's sentinel. A file added there without an entry here fails the test, so a new bad
// input cannot go unchecked.
func TestBadTestdata(t *testing.T) {
	ctx := context.Background()
	elf := func(data []byte) error {
		_, err := CheckELF(bytes.NewReader(data), int64(len(data)))
		return err
	}
	wasm := func(data []byte) error { return CheckWasm(ctx, bytes.NewReader(data), int64(len(data))) }
	btfgen := func(arch string) func([]byte) error {
		return func(data []byte) error {
			_, err := CheckBTFGen(ctx, bytes.NewReader(data), arch)
			return err
		}
	}
	paramsInfo := loadELFInfo(t, "gadgets/trace_params/amd64.bpf.o")
	params := func(data []byte) error {
		m, err := ParseMetadata(data)
		if err != nil {
			return err
		}
		return CheckParams(m, paramsInfo)
	}
	type check struct {
		run  func([]byte) error
		want error
	}
	checks := map[string][]check{
		"bad-params-not-const.yaml": {{params, ErrBadParam}},
		"bad-params.yaml":           {{params, ErrBadParam}},
		"big-endian.bpf.o":          {{elf, ErrNotBPF}},
		"btfs-bad-path.tar.gz":      {{btfgen("amd64"), ErrBadBTFGen}},
		"btfs-not-gzip.tar":         {{btfgen("amd64"), ErrBadBTFGen}},
		"btfs-wrong-arch.tar.gz":    {{btfgen("amd64"), ErrBadBTFGen}},
		"empty.o":                   {{elf, ErrNotELF}, {wasm, ErrBadWasm}, {btfgen("amd64"), ErrBadBTFGen}},
		"invalid.wasm":              {{wasm, ErrBadWasm}, {elf, ErrNotELF}},
		"no-api-version.wasm":       {{wasm, ErrBadWasm}},
		"no-btf.bpf.o":              {{elf, ErrNoBTF}},
		"not-bpf.o":                 {{elf, ErrNotBPF}},
		"not-btf.tar.gz":            {{btfgen("amd64"), ErrBadBTFGen}},
		"not-btf.txt":               {{elf, ErrNotELF}, {wasm, ErrBadWasm}},
		"truncated.wasm":            {{wasm, ErrBadWasm}},
		"wasm-as-ebpf.o":            {{elf, ErrNotELF}},
		// Sources of the objects above, not inputs.
		"minimal.bpf.c": nil, "not-bpf.c": nil, "no-api-version.wat": nil,
	}
	entries, err := os.ReadDir(testdataPath("bad"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("testdata/bad is empty")
	}
	for _, e := range entries {
		t.Run(e.Name(), func(t *testing.T) {
			cs, ok := checks[e.Name()]
			if !ok {
				t.Fatalf("testdata/bad/%s has no check in this test", e.Name())
			}
			data, err := os.ReadFile(filepath.Join(testdataPath("bad"), e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cs {
				if err := c.run(data); !errors.Is(err, c.want) {
					t.Errorf("got %v, want %v", err, c.want)
				}
			}
		})
	}
}
