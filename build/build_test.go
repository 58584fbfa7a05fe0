package build

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/layout"
	"github.com/gadgetpack/gadgetpack/spec"
)

func testdata(parts ...string) string {
	return filepath.Join(append([]string{"..", "testdata"}, parts...)...)
}

var created = time.Unix(1700000000, 0).UTC()

// verifyClean checks a layout with both rule sets and fails on any problem.
func verifyClean(tb testing.TB, dir string) {
	tb.Helper()
	for _, rules := range []spec.RuleSet{spec.RulesSeed, spec.RulesIG} {
		rep, err := layout.Verify(context.Background(), dir, layout.VerifyOptions{CheckIndex: rules.CheckIndex, CheckManifest: rules.CheckManifest})
		if err != nil {
			tb.Fatal(err)
		}
		if len(rep.Problems) != 0 {
			tb.Fatalf("verify --rules %s: %v", rules, rep.Problems)
		}
	}
}

func TestBuildFromDir(t *testing.T) {
	for _, name := range []string{"trace_exec", "trace_params"} {
		t.Run(name, func(t *testing.T) {
			opts, err := FromDir(testdata("gadgets", name), Options{Ref: "ghcr.io/inspektor-gadget/gadget/" + name + ":latest", Created: created})
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "layout")
			res, err := Build(context.Background(), dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			verifyClean(t, dir)
			if len(res.Manifests) != 2 || res.Manifests[0].Platform.Architecture != "amd64" || res.Manifests[1].Platform.Architecture != "arm64" {
				t.Fatalf("manifests: %+v", res.Manifests)
			}
			store, err := layout.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			got, err := store.Resolve(context.Background(), res.Ref)
			if err != nil || got.Digest != res.Index.Digest {
				t.Fatalf("ref %s resolves to %v, %v; want %s", res.Ref, got.Digest, err, res.Index.Digest)
			}
			// The manifest's layers come in the spec's order, the config is the metadata as is.
			data, err := store.ReadAll(context.Background(), res.Manifests[0], 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			var m ocispec.Manifest
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			want := []string{spec.MediaTypeEBPF}
			if opts.Wasm != "" {
				want = append(want, spec.MediaTypeWasm)
			}
			if opts.Targets[0].BTFGen != "" {
				want = append(want, spec.MediaTypeBTFGen)
			}
			if len(m.Layers) != len(want) {
				t.Fatalf("layers %+v, want media types %v", m.Layers, want)
			}
			for i, l := range m.Layers {
				if l.MediaType != want[i] {
					t.Fatalf("layer %d: %s, want %s", i, l.MediaType, want[i])
				}
			}
			config, err := store.ReadAll(context.Background(), m.Config, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			yaml, err := os.ReadFile(testdata("gadgets", name, "gadget.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if string(config) != string(yaml) || m.Config.MediaType != spec.MediaTypeConfig {
				t.Fatalf("config is not gadget.yaml byte for byte (%s)", m.Config.MediaType)
			}
			if m.Annotations[spec.AnnotationCreated] != "2023-11-14T22:13:20Z" || m.Annotations[spec.AnnotationTitle] != name {
				t.Fatalf("manifest annotations: %v", m.Annotations)
			}
		})
	}
}

func TestBuildWithoutMetadata(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layout")
	res, err := Build(context.Background(), dir, Options{
		Ref:         "example.com/bare:1",
		Targets:     []Target{{Arch: "x86_64", EBPF: testdata("gadgets", "trace_exec", "amd64.bpf.o")}},
		Annotations: map[string]string{"com.example.team": "platform"},
		Created:     created,
	})
	if err != nil {
		t.Fatal(err)
	}
	verifyClean(t, dir)
	want := map[string]string{spec.AnnotationCreated: "2023-11-14T22:13:20Z", "com.example.team": "platform"}
	got := res.Manifests[0].Annotations
	if len(got) != len(want) || got[spec.AnnotationCreated] != want[spec.AnnotationCreated] || got["com.example.team"] != "platform" {
		t.Fatalf("annotations %v, want %v", got, want)
	}
}

func TestBuildRefusesBeforeWriting(t *testing.T) {
	obj := testdata("gadgets", "trace_exec", "amd64.bpf.o")
	for _, tc := range []struct {
		name string
		opts Options
		want error
	}{
		{"no ref", Options{Targets: []Target{{Arch: "amd64", EBPF: obj}}}, nil},
		{"no target", Options{Ref: "x"}, ErrNoProgram},
		{"unknown arch", Options{Ref: "x", Targets: []Target{{Arch: "riscv64", EBPF: obj}}}, spec.ErrUnknownArch},
		{"arch twice", Options{Ref: "x", Targets: []Target{{Arch: "amd64", EBPF: obj}, {Arch: "x86_64", EBPF: obj}}}, ErrDuplicateArch},
		{"btfgen alone", Options{Ref: "x", Targets: []Target{{Arch: "arm64", BTFGen: testdata("gadgets", "trace_exec", "btfs-arm64.tar.gz")}}}, ErrOrphanBTFGen},
		{"empty object", Options{Ref: "x", Targets: []Target{{Arch: "amd64", EBPF: testdata("bad", "empty.o")}}}, ErrEmpty},
		{"a directory as object", Options{Ref: "x", Targets: []Target{{Arch: "amd64", EBPF: testdata("bad")}}}, ErrNotRegular},
		{"not BPF", Options{Ref: "x", Targets: []Target{{Arch: "amd64", EBPF: testdata("bad", "not-bpf.o")}}}, spec.ErrNotBPF},
		{"no BTF", Options{Ref: "x", Targets: []Target{{Arch: "amd64", EBPF: testdata("bad", "no-btf.bpf.o")}}}, spec.ErrNoBTF},
		{"bad params", Options{Ref: "x", Metadata: testdata("bad", "bad-params.yaml"), Targets: []Target{{Arch: "amd64", EBPF: testdata("gadgets", "trace_params", "amd64.bpf.o")}}}, spec.ErrBadParam},
		{"bad wasm", Options{Ref: "x", Wasm: testdata("bad", "truncated.wasm"), Targets: []Target{{Arch: "amd64", EBPF: obj}}}, spec.ErrBadWasm},
		{"btfgen of the other arch", Options{Ref: "x", Targets: []Target{{Arch: "amd64", EBPF: obj, BTFGen: testdata("bad", "btfs-wrong-arch.tar.gz")}}}, spec.ErrBadBTFGen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "layout")
			_, err := Build(context.Background(), dir, tc.opts)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
				t.Fatalf("a refused build created the layout")
			}
		})
	}
}

func TestFromDir(t *testing.T) {
	opts, err := FromDir(testdata("gadgets", "trace_params"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Wasm != "" || opts.Metadata == "" || len(opts.Targets) != 2 || opts.Targets[0].BTFGen != "" {
		t.Fatalf("trace_params: %+v", opts)
	}
	if _, err := FromDir(testdata("bad"), Options{}); !errors.Is(err, ErrNoProgram) {
		t.Fatalf("a folder without objects: %v", err)
	}
	if _, err := FromDir(testdata("gadgets", "trace_exec", "gadget.yaml"), Options{}); err == nil {
		t.Fatal("a file as folder: no error")
	}
}
