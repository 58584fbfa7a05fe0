package spec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// walkLayout checks a whole layout the way a verifier would: index.json as a ref list (zero
// descriptor), then every index and manifest reachable from it, each (digest, platform) once.
// Blobs that are missing are skipped: the layout's own checks report those.
func walkLayout(tb testing.TB, set *blobSet, r RuleSet) []*Violation {
	tb.Helper()
	ctx := context.Background()
	var out []error
	out = append(out, r.CheckIndex(ctx, ocispec.Descriptor{}, set.index, set.fetch)...)
	seen := map[string]bool{}
	queue := slices.Clone(set.index.Manifests)
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		key := d.Digest.String()
		if d.Platform != nil {
			key += " " + d.Platform.Architecture
		}
		data, ok := set.blobs[d.Digest]
		if seen[key] || !ok {
			continue
		}
		seen[key] = true
		switch d.MediaType {
		case ocispec.MediaTypeImageIndex:
			var idx ocispec.Index
			if err := json.Unmarshal(data, &idx); err != nil {
				tb.Fatal(err)
			}
			out = append(out, r.CheckIndex(ctx, d, idx, set.fetch)...)
			queue = append(queue, idx.Manifests...)
		case ocispec.MediaTypeImageManifest:
			var m ocispec.Manifest
			if err := json.Unmarshal(data, &m); err != nil {
				tb.Fatal(err)
			}
			out = append(out, r.CheckManifest(ctx, d, m, set.fetch)...)
		}
	}
	return violations(tb, out)
}

func violations(tb testing.TB, errs []error) []*Violation {
	tb.Helper()
	var vs []*Violation
	for _, err := range errs {
		var v *Violation
		if !errors.As(err, &v) || error(v) != err {
			tb.Fatalf("%v is not a *Violation", err)
		}
		if !strings.HasPrefix(v.Rule, "gadget/") && !strings.HasPrefix(v.Rule, "seed/") && !strings.HasPrefix(v.Rule, "ig/") {
			tb.Fatalf("rule name %q", v.Rule)
		}
		vs = append(vs, v)
	}
	return vs
}

func TestRulesIGStore(t *testing.T) {
	set := readLayoutDir(t, interopPath(t, "ig-store"))
	if vs := walkLayout(t, set, RulesIG); len(vs) != 0 {
		t.Fatalf("ig-store under ig rules: %v", vs)
	}
	vs := walkLayout(t, set, RulesSeed)
	manifests := map[string]bool{}
	for _, v := range vs {
		if v.Rule != RuleEBPFLayer || v.Warning {
			t.Errorf("under seed rules ig-store should only break %s: %v", RuleEBPFLayer, v)
		}
		manifests[strings.Fields(v.Where)[1]] = true
	}
	want := []string{
		"sha256:323117b9d839ec7b1ef937ba5f32c5cda448405a0fd6cd0439b2d3324ccf32d3",
		"sha256:6bde71ca5eb6c2a358f73deb52389039bb3fe2c6960bd37466ef79bd7264a430",
		"sha256:8017de022814e046535cadfd7d4314619b7ad47c7dcb44a7fbe9d9f1b1bc51ef",
		"sha256:f04a4a04a15fef85a1438a2b7079c2bbc81a822acee2fb9c4827ae1709f3101f",
		"sha256:f131c96de42f93238ee94ca9e5bd65d723aeebd1f61ed3cf88c9e34ddc65b1ce",
		"sha256:f84cf5fdcd2d900633996bcbb93536efd3669f318586a20951c8e74a344f1ffd",
	}
	got := slices.Sorted(func(yield func(string) bool) {
		for m := range manifests {
			if !yield(m) {
				return
			}
		}
	})
	if !slices.Equal(got, want) {
		t.Fatalf("manifests without eBPF layer: %q\nwant %q", got, want)
	}
}

func TestRulesIGExport(t *testing.T) {
	set := readLayoutTar(t, interopPath(t, "ig-export/trace_open.tar"))
	for _, r := range []RuleSet{RulesSeed, RulesIG} {
		t.Run(string(r), func(t *testing.T) {
			if vs := walkLayout(t, set, r); len(vs) != 0 {
				t.Fatalf("trace_open export: %v", vs)
			}
		})
	}
}

// store builds gadget layouts in memory for the rule tests.
type store struct {
	tb testing.TB
	*blobSet
}

func newStore(tb testing.TB) *store {
	return &store{tb: tb, blobSet: &blobSet{blobs: map[digest.Digest][]byte{}}}
}

func (s *store) put(mediaType string, data []byte) ocispec.Descriptor {
	d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
	s.blobs[d.Digest] = data
	return d
}

func (s *store) file(mediaType, rel string) ocispec.Descriptor {
	return s.put(mediaType, readTestdata(s.tb, rel))
}

// manifest stores a manifest and returns its descriptor with platform arch (none if "").
func (s *store) manifest(arch string, config ocispec.Descriptor, layers ...ocispec.Descriptor) (ocispec.Descriptor, ocispec.Manifest) {
	s.tb.Helper()
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: MediaTypeArtifact, Config: config, Layers: layers}
	m.SchemaVersion = 2
	data, err := json.Marshal(m)
	if err != nil {
		s.tb.Fatal(err)
	}
	d := s.put(ocispec.MediaTypeImageManifest, data)
	if arch != "" {
		d.Platform = &ocispec.Platform{Architecture: arch, OS: "linux"}
	}
	return d, m
}

func (s *store) index(entries ...ocispec.Descriptor) (ocispec.Descriptor, ocispec.Index) {
	s.tb.Helper()
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: entries}
	idx.SchemaVersion = 2
	data, err := json.Marshal(idx)
	if err != nil {
		s.tb.Fatal(err)
	}
	return s.put(ocispec.MediaTypeImageIndex, data), idx
}

// gadget stores trace_exec for amd64 and arm64 (eBPF, wasm, btfgen) under ref and returns the
// layout's index.json.
func (s *store) gadget(ref string) ocispec.Index {
	s.tb.Helper()
	config := s.file(MediaTypeConfig, "gadgets/trace_exec/gadget.yaml")
	wasm := s.file(MediaTypeWasm, "gadgets/trace_exec/program.wasm")
	var entries []ocispec.Descriptor
	for _, arch := range Arches() {
		d, _ := s.manifest(arch, config,
			s.file(MediaTypeEBPF, "gadgets/trace_exec/"+arch+".bpf.o"),
			wasm,
			s.file(MediaTypeBTFGen, "gadgets/trace_exec/btfs-"+arch+".tar.gz"))
		entries = append(entries, d)
	}
	d, _ := s.index(entries...)
	d.Annotations = map[string]string{AnnotationRefName: ref}
	s.blobSet.index = ocispec.Index{Manifests: []ocispec.Descriptor{d}}
	return s.blobSet.index
}

// summary renders violations as "severity rule" lines, sorted, for comparisons.
func summary(vs []*Violation) []string {
	var out []string
	for _, v := range vs {
		sev, rule, _, _ := v.Finding()
		out = append(out, sev+" "+rule)
	}
	slices.Sort(out)
	return out
}

func TestRulesTestdataGadget(t *testing.T) {
	for _, tc := range []struct {
		rules RuleSet
		want  []string
	}{
		{RulesSeed, nil},
		// testdata's arm64 btfgen tarball holds its kernel under arm64 and aarch64 both.
		{RulesIG, nil},
	} {
		t.Run(string(tc.rules), func(t *testing.T) {
			s := newStore(t)
			s.gadget("ghcr.io/inspektor-gadget/gadget/trace_exec:latest")
			vs := walkLayout(t, s.blobSet, tc.rules)
			if got := summary(vs); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v: %v", got, tc.want, vs)
			}
			for _, v := range vs {
				if !strings.Contains(v.Where, "(linux/arm64)") || !strings.Contains(v.Message, "debian/12/arm64/6.1.0-56-cloud-arm64.btf") {
					t.Errorf("warning should name the arm64 manifest and the entry: %v", v)
				}
			}
		})
	}
}

func TestCheckManifestRules(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	config := s.file(MediaTypeConfig, "gadgets/trace_params/gadget.yaml")
	ebpf := s.file(MediaTypeEBPF, "gadgets/trace_params/amd64.bpf.o")
	execEBPF := s.file(MediaTypeEBPF, "gadgets/trace_exec/amd64.bpf.o")
	wasm := s.file(MediaTypeWasm, "gadgets/trace_exec/program.wasm")
	btfAMD := s.file(MediaTypeBTFGen, "gadgets/trace_exec/btfs-amd64.tar.gz")
	btfARM := s.put(MediaTypeBTFGen, arm64OnlyBTFGen(t))
	emptyEBPF := s.put(MediaTypeEBPF, []byte{})
	missing := ocispec.Descriptor{MediaType: MediaTypeEBPF, Digest: digest.FromString("missing"), Size: 7}
	unknown := s.put("application/vnd.example.readme+md", []byte("# readme"))
	for _, tc := range []struct {
		name       string
		arch       string
		config     ocispec.Descriptor
		layers     []ocispec.Descriptor
		seed, ig   []string
		errIs      error
		whereMatch string
	}{
		{"eBPF, wasm, btfgen", "amd64", config, []ocispec.Descriptor{ebpf, wasm, btfAMD}, nil, nil, nil, ""},
		{"no platform: btfgen of any arch", "", config, []ocispec.Descriptor{ebpf, btfARM}, nil, []string{"warning " + RuleBTFGenArchDir}, nil, ""},
		{"no metadata", "amd64", EmptyConfig(), []ocispec.Descriptor{ebpf}, nil, nil, nil, ""},
		{"metadata only", "amd64", config, nil, []string{"error " + RuleEBPFLayer}, nil, nil, ""},
		{"wasm only", "amd64", EmptyConfig(), []ocispec.Descriptor{wasm}, []string{"error " + RuleEBPFLayer}, nil, nil, ""},
		{"two eBPF layers", "amd64", config, []ocispec.Descriptor{ebpf, ebpf}, []string{"error " + RuleLayerUnique}, []string{"error " + RuleLayerUnique}, nil, "layers[1]"},
		{"unknown layer", "amd64", config, []ocispec.Descriptor{ebpf, unknown}, []string{"warning " + RuleLayerMediaType}, []string{"warning " + RuleLayerMediaType}, nil, unknown.Digest.String()},
		{"empty eBPF layer", "amd64", config, []ocispec.Descriptor{emptyEBPF}, []string{"error " + RuleEBPFNotEmpty}, []string{"error " + RuleEBPFNotEmpty}, nil, emptyEBPF.Digest.String()},
		{"not BPF", "amd64", config, []ocispec.Descriptor{s.file(MediaTypeEBPF, "bad/not-bpf.o")}, []string{"error " + RuleEBPFELF}, []string{"error " + RuleEBPFELF}, ErrNotBPF, "layers[0]"},
		{"no BTF", "amd64", config, []ocispec.Descriptor{s.file(MediaTypeEBPF, "bad/no-btf.bpf.o")}, []string{"error " + RuleEBPFELF}, []string{"error " + RuleEBPFELF}, ErrNoBTF, ""},
		{"wasm as eBPF", "amd64", config, []ocispec.Descriptor{s.file(MediaTypeEBPF, "bad/wasm-as-ebpf.o")}, []string{"error " + RuleEBPFELF}, []string{"error " + RuleEBPFELF}, ErrNotELF, ""},
		{"missing eBPF blob", "amd64", config, []ocispec.Descriptor{missing}, []string{"error " + RuleEBPFELF}, []string{"error " + RuleEBPFELF}, nil, missing.Digest.String()},
		{"truncated wasm", "amd64", config, []ocispec.Descriptor{ebpf, s.file(MediaTypeWasm, "bad/truncated.wasm")}, []string{"error " + RuleWasmValid}, []string{"error " + RuleWasmValid}, ErrBadWasm, ""},
		{"wasm without gadgetAPIVersion", "amd64", config, []ocispec.Descriptor{ebpf, s.file(MediaTypeWasm, "bad/no-api-version.wasm")}, []string{"error " + RuleWasmValid}, []string{"error " + RuleWasmValid}, ErrBadWasm, ""},
		{"arm64 btfgen in the amd64 manifest", "amd64", config, []ocispec.Descriptor{ebpf, btfARM}, []string{"error " + RuleBTFGenValid}, []string{"error " + RuleBTFGenValid}, ErrBadBTFGen, "(linux/amd64)"},
		{"btfgen not gzip", "amd64", config, []ocispec.Descriptor{ebpf, s.file(MediaTypeBTFGen, "bad/btfs-not-gzip.tar")}, []string{"error " + RuleBTFGenValid}, []string{"error " + RuleBTFGenValid}, ErrBadBTFGen, ""},
		{"btfgen bad path", "amd64", config, []ocispec.Descriptor{ebpf, s.file(MediaTypeBTFGen, "bad/btfs-bad-path.tar.gz")}, []string{"error " + RuleBTFGenValid}, []string{"error " + RuleBTFGenValid}, ErrBadBTFGen, ""},
		{"btfgen not BTF", "amd64", config, []ocispec.Descriptor{ebpf, s.file(MediaTypeBTFGen, "bad/not-btf.tar.gz")}, []string{"error " + RuleBTFGenValid}, []string{"error " + RuleBTFGenValid}, ErrBadBTFGen, ""},
		{"config not YAML", "amd64", s.put(MediaTypeConfig, []byte("name: [x\n")), []ocispec.Descriptor{ebpf}, []string{"error " + RuleConfigYAML}, []string{"error " + RuleConfigYAML}, ErrBadMetadata, "config sha256:"},
		{"param without variable", "amd64", s.file(MediaTypeConfig, "bad/bad-params.yaml"), []ocispec.Descriptor{ebpf}, []string{"warning " + RuleParams}, []string{"warning " + RuleParams}, ErrBadParam, ""},
		{"param not const", "amd64", s.file(MediaTypeConfig, "bad/bad-params-not-const.yaml"), []ocispec.Descriptor{ebpf}, []string{"warning " + RuleParams}, []string{"warning " + RuleParams}, ErrBadParam, ""},
		{"params of another object", "amd64", config, []ocispec.Descriptor{execEBPF}, []string{"warning " + RuleParams}, []string{"warning " + RuleParams}, ErrBadParam, ""},
		{"several at once", "amd64", s.put(MediaTypeConfig, []byte("- x\n")), []ocispec.Descriptor{emptyEBPF, wasm, wasm, unknown},
			[]string{"error " + RuleConfigYAML, "error " + RuleEBPFNotEmpty, "error " + RuleLayerUnique, "warning " + RuleLayerMediaType},
			[]string{"error " + RuleConfigYAML, "error " + RuleEBPFNotEmpty, "error " + RuleLayerUnique, "warning " + RuleLayerMediaType}, nil, ""},
	} {
		for _, r := range []RuleSet{RulesSeed, RulesIG} {
			t.Run(tc.name+"/"+string(r), func(t *testing.T) {
				desc, m := s.manifest(tc.arch, tc.config, tc.layers...)
				vs := violations(t, r.CheckManifest(ctx, desc, m, s.fetch))
				want := tc.seed
				if r == RulesIG {
					want = tc.ig
				}
				if got := summary(vs); !slices.Equal(got, want) {
					t.Fatalf("got %v, want %v: %v", got, want, vs)
				}
				for _, v := range vs {
					if !strings.HasPrefix(v.Where, "manifest "+desc.Digest.String()) || !strings.Contains(v.Where, tc.whereMatch) {
						t.Errorf("where %q should name the manifest and %q", v.Where, tc.whereMatch)
					}
					if tc.errIs != nil && !errors.Is(v, tc.errIs) {
						t.Errorf("%v should wrap %v", v, tc.errIs)
					}
				}
			})
		}
	}
}

func TestCheckManifestNotGadget(t *testing.T) {
	s := newStore(t)
	for _, m := range []ocispec.Manifest{
		{Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig}, Layers: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayerGzip}}},
		{ArtifactType: "application/vnd.cncf.notary.signature", Config: EmptyConfig()},
	} {
		for _, r := range []RuleSet{RulesSeed, RulesIG} {
			if vs := r.CheckManifest(context.Background(), ocispec.Descriptor{}, m, s.fetch); vs != nil {
				t.Errorf("%s on a non-gadget manifest: %v", r, vs)
			}
		}
	}
}

func TestCheckManifestCancelled(t *testing.T) {
	s := newStore(t)
	desc, m := s.manifest("amd64", s.file(MediaTypeConfig, "bad/bad-params.yaml"),
		s.file(MediaTypeEBPF, "bad/not-bpf.o"), s.file(MediaTypeWasm, "bad/truncated.wasm"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if vs := RulesIG.CheckManifest(ctx, desc, m, s.fetch); len(vs) != 0 {
		t.Fatalf("a cancelled check went on: %v", vs)
	}
}

func TestCheckIndexRules(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	config := s.file(MediaTypeConfig, "gadgets/trace_exec/gadget.yaml")
	amd, _ := s.manifest("amd64", config, s.file(MediaTypeEBPF, "gadgets/trace_exec/amd64.bpf.o"))
	arm, _ := s.manifest("arm64", config, s.file(MediaTypeEBPF, "gadgets/trace_exec/arm64.bpf.o"))
	bare, _ := s.manifest("", config, s.file(MediaTypeEBPF, "gadgets/trace_exec/amd64.bpf.o"))
	sigData, _ := json.Marshal(ocispec.Manifest{ArtifactType: "application/vnd.cncf.notary.signature", Config: EmptyConfig()})
	sig := s.put(ocispec.MediaTypeImageManifest, sigData)
	withPlatform := func(d ocispec.Descriptor, os, arch string) ocispec.Descriptor {
		d.Platform = &ocispec.Platform{OS: os, Architecture: arch}
		return d
	}
	noType := amd
	noType.MediaType = "" // a descriptor without mediaType: fetched to tell
	for _, tc := range []struct {
		name     string
		entries  []ocispec.Descriptor
		seed, ig []string
		where    string
	}{
		{"amd64, arm64", []ocispec.Descriptor{amd, arm}, nil, nil, ""},
		{"one arch", []ocispec.Descriptor{arm}, nil, nil, ""},
		{"arm64 first", []ocispec.Descriptor{arm, amd}, []string{"error " + RulePlatformOrder}, nil, "manifests[1]"},
		{"two amd64", []ocispec.Descriptor{amd, arm, amd}, []string{"error " + RulePlatformUnique}, nil, "manifests[2]"},
		{"gadget without platform first", []ocispec.Descriptor{bare, amd, arm},
			[]string{"error " + RulePlatformRequired}, []string{"error " + RuleIGPlatformOrder}, "manifests[0]"},
		{"signature without platform first", []ocispec.Descriptor{sig, amd, arm}, nil, []string{"error " + RuleIGPlatformOrder}, "manifests[0]"},
		{"signature without platform last", []ocispec.Descriptor{amd, arm, sig}, nil, nil, ""},
		{"signature last, arm64 missing", []ocispec.Descriptor{amd, sig}, nil, []string{"warning " + RuleIGPlatformOrder}, "manifests[1]"},
		{"windows", []ocispec.Descriptor{withPlatform(amd, "windows", "amd64"), arm},
			[]string{"error " + RulePlatform}, []string{"error " + RulePlatform}, "manifests[0]"},
		{"x86_64 (uname name)", []ocispec.Descriptor{withPlatform(amd, "linux", "x86_64")},
			[]string{"error " + RulePlatform}, []string{"error " + RulePlatform}, "manifests[0]"},
		{"entry without mediaType", []ocispec.Descriptor{noType, withPlatform(bare, "linux", "riscv64")},
			[]string{"error " + RulePlatform}, []string{"error " + RulePlatform}, "manifests[1]"},
		{"not a gadget index", []ocispec.Descriptor{sig, withPlatform(sig, "linux", "s390x")}, nil, nil, ""},
		{"missing entry blob is not judged", []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("gone"), Size: 4}, amd, arm},
			nil, []string{"error " + RuleIGPlatformOrder}, "manifests[0]"},
	} {
		for _, r := range []RuleSet{RulesSeed, RulesIG} {
			t.Run(tc.name+"/"+string(r), func(t *testing.T) {
				desc, idx := s.index(tc.entries...)
				vs := violations(t, r.CheckIndex(ctx, desc, idx, s.fetch))
				want := tc.seed
				if r == RulesIG {
					want = tc.ig
				}
				if got := summary(vs); !slices.Equal(got, want) {
					t.Fatalf("got %v, want %v: %v", got, want, vs)
				}
				for _, v := range vs {
					if !strings.HasPrefix(v.Where, "index "+desc.Digest.String()+" "+tc.where) {
						t.Errorf("where %q should name the index and %s", v.Where, tc.where)
					}
				}
			})
		}
	}
}

func TestCheckRefs(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	root := s.gadget("ghcr.io/inspektor-gadget/gadget/trace_exec:latest")
	gadgetIndex := root.Manifests[0]
	lone, _ := s.manifest("", s.file(MediaTypeConfig, "gadgets/trace_exec/gadget.yaml"), s.file(MediaTypeEBPF, "gadgets/trace_exec/amd64.bpf.o"))
	sigData, _ := json.Marshal(ocispec.Manifest{Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig}})
	sig := s.put(ocispec.MediaTypeImageManifest, sigData)
	sigIndex, _ := s.index(sig)
	named := func(d ocispec.Descriptor, name string) ocispec.Descriptor {
		d.Annotations = map[string]string{AnnotationRefName: name}
		return d
	}
	for _, tc := range []struct {
		name     string
		entry    ocispec.Descriptor
		seed, ig []string
		why      string
	}{
		{"full ref to a gadget index", named(gadgetIndex, "ghcr.io/inspektor-gadget/gadget/trace_exec:latest"), nil, nil, ""},
		{"bare tag", named(gadgetIndex, "latest"), nil, []string{"warning " + RuleRefName}, "ig expands it to ghcr.io/inspektor-gadget/gadget/latest:latest"},
		{"short name", named(gadgetIndex, "trace_open:latest"), nil, []string{"warning " + RuleRefName}, "not a full reference"},
		{"no reference at all", named(gadgetIndex, "Trace Exec"), nil, []string{"warning " + RuleRefName}, "no image reference"},
		{"lone gadget manifest", named(lone, "ghcr.io/x/y:latest"), nil, []string{"error " + RuleIndexMediaType}, "ig run refuses it"},
		{"digest tag of a signature", named(sig, "sha256-"+strings.Repeat("a", 64)+".sig"), nil, nil, ""},
		{"digest tag of a referrers index", named(sigIndex, "sha256-"+strings.Repeat("b", 64)), nil, nil, ""},
	} {
		for _, r := range []RuleSet{RulesSeed, RulesIG} {
			t.Run(tc.name+"/"+string(r), func(t *testing.T) {
				want := tc.seed
				if r == RulesIG {
					want = tc.ig
				}
				direct := violations(t, r.CheckRefTarget(ctx, tc.entry, s.fetch))
				viaRoot := violations(t, r.CheckIndex(ctx, ocispec.Descriptor{}, ocispec.Index{Manifests: []ocispec.Descriptor{tc.entry}}, s.fetch))
				for _, vs := range [][]*Violation{direct, viaRoot} {
					if got := summary(vs); !slices.Equal(got, want) {
						t.Fatalf("got %v, want %v: %v", got, want, vs)
					}
					for _, v := range vs {
						if !strings.Contains(v.Message, tc.why) || !strings.Contains(v.Where, fmt.Sprintf("ref %q", tc.entry.Annotations[AnnotationRefName])) {
							t.Errorf("%v should name the ref and say %q", v, tc.why)
						}
					}
				}
			})
		}
	}
	// A ref list found by its ref names, even with a digest in desc.
	desc := s.put(ocispec.MediaTypeImageIndex, []byte("{}"))
	idx := ocispec.Index{Manifests: []ocispec.Descriptor{named(lone, "ghcr.io/x/y:latest")}}
	if got := summary(violations(t, RulesIG.CheckIndex(ctx, desc, idx, s.fetch))); !slices.Equal(got, []string{"error " + RuleIndexMediaType}) {
		t.Fatalf("ref list with a digest: %v", got)
	}
}

func TestUnknownRuleSet(t *testing.T) {
	ctx := context.Background()
	r := RuleSet("strict")
	s := newStore(t)
	_, m := s.manifest("amd64", EmptyConfig())
	for _, errs := range [][]error{
		r.CheckManifest(ctx, ocispec.Descriptor{}, m, s.fetch),
		r.CheckIndex(ctx, ocispec.Descriptor{}, ocispec.Index{}, s.fetch),
		r.CheckRefTarget(ctx, ocispec.Descriptor{}, s.fetch),
	} {
		vs := violations(t, errs)
		if len(vs) != 1 || !errors.Is(vs[0], ErrUnknownRuleSet) || vs[0].Warning {
			t.Fatalf("unknown rule set: %v", errs)
		}
	}
	if _, err := ParseRuleSet("strict"); !errors.Is(err, ErrUnknownRuleSet) {
		t.Fatalf("ParseRuleSet: %v", err)
	}
	for _, name := range []string{"seed", "ig"} {
		if r, err := ParseRuleSet(name); err != nil || string(r) != name {
			t.Fatalf("ParseRuleSet(%q) = %q, %v", name, r, err)
		}
	}
	if r.Rules() != nil {
		t.Fatal("an unknown rule set has rules")
	}
}

func TestRuleNames(t *testing.T) {
	for _, r := range []RuleSet{RulesSeed, RulesIG} {
		rules := r.Rules()
		if !slices.IsSorted(rules) || len(rules) < 10 {
			t.Fatalf("%s rules %q", r, rules)
		}
		for _, name := range rules {
			set, _, ok := strings.Cut(name, "/")
			if !ok || (set != "gadget" && set != string(r)) {
				t.Errorf("%s lists %q", r, name)
			}
		}
	}
	if slices.Contains(RulesIG.Rules(), RuleEBPFLayer) || !slices.Contains(RulesSeed.Rules(), RuleEBPFLayer) {
		t.Error("seed/ebpf-layer belongs to the seed only")
	}
}

func TestViolation(t *testing.T) {
	cause := fmt.Errorf("eBPF object: no .BTF section: %w", ErrNoBTF)
	v := &Violation{Rule: RuleEBPFELF, Where: "manifest sha256:ab layers[0]", Message: cause.Error(), Err: cause}
	if got := v.Error(); got != "manifest sha256:ab layers[0]: eBPF object: no .BTF section: no BTF in eBPF object [gadget/ebpf-elf]" {
		t.Errorf("Error() = %q", got)
	}
	if sev, rule, where, msg := v.Finding(); sev != "error" || rule != RuleEBPFELF || where != v.Where || msg != v.Message {
		t.Errorf("Finding() = %q %q %q %q", sev, rule, where, msg)
	}
	if !errors.Is(v, ErrNoBTF) {
		t.Error("errors.Is does not reach the cause")
	}
	w := &Violation{Rule: RuleRefName, Where: "index.json", Message: "m", Warning: true}
	if sev, _, _, _ := w.Finding(); sev != "warning" || !strings.HasPrefix(w.Error(), "warning: ") {
		t.Errorf("warning: %q %q", sev, w.Error())
	}
}

func BenchmarkCheckManifest(b *testing.B) {
	s := newStore(b)
	s.gadget("ghcr.io/inspektor-gadget/gadget/trace_exec:latest")
	var idx ocispec.Index
	if err := json.Unmarshal(s.blobs[s.blobSet.index.Manifests[0].Digest], &idx); err != nil {
		b.Fatal(err)
	}
	desc := idx.Manifests[0]
	var m ocispec.Manifest
	if err := json.Unmarshal(s.blobs[desc.Digest], &m); err != nil {
		b.Fatal(err)
	}
	size := int64(0)
	for _, l := range m.Layers {
		size += l.Size
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(size)
	for b.Loop() {
		if vs := RulesSeed.CheckManifest(ctx, desc, m, s.fetch); len(vs) != 0 {
			b.Fatal(vs)
		}
	}
}
