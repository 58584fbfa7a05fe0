package spec

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseMetadataFixtures(t *testing.T) {
	trace := &Metadata{
		Name:             "trace_params",
		Description:      "Reports openat results, filtered by load-time parameters",
		HomepageURL:      "https://github.com/gadgetpack/gadgetpack",
		DocumentationURL: "https://github.com/gadgetpack/gadgetpack/tree/main/testdata",
		SourceURL:        "https://github.com/gadgetpack/gadgetpack/tree/main/testdata/gadgets/trace_params",
		Annotations:      map[string]string{"io.gadgetpack.testdata": "true"},
		EBPFParams:       []string{"ignore_failed", "targ_pid", "targ_uid"},
	}
	current := *trace
	current.Annotations = map[string]string{"io.gadgetpack.testdata": "true", "org.opencontainers.image.vendor": "gadgetpack"}
	old := &Metadata{
		Name:        "trace_params",
		Description: "Reports openat results, filtered by load-time parameters",
		EBPFParams:  []string{"ignore_failed", "targ_pid", "targ_uid"},
	}
	for _, tc := range []struct {
		file string
		want *Metadata
	}{
		{"metadata/current.yaml", &current},
		{"metadata/old-form.yaml", old},
		{"gadgets/trace_params/gadget.yaml", trace},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := ParseMetadata(readTestdata(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	t.Run("gadgets/trace_exec/gadget.yaml", func(t *testing.T) {
		got, err := ParseMetadata(readTestdata(t, "gadgets/trace_exec/gadget.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "trace_exec" || got.EBPFParams != nil {
			t.Fatalf("got %+v, want name trace_exec and no eBPF params (params.ebpf is {})", got)
		}
	})
}

// TestParseMetadataIG parses the config blobs ig wrote: the old form (tracers, structs,
// ebpfParams) of the trace_open export and the name-only metadata of ig-store.
func TestParseMetadataIG(t *testing.T) {
	export := readLayoutTar(t, interopPath(t, "ig-export/trace_open.tar"))
	store := readLayoutDir(t, interopPath(t, "ig-store"))
	for _, tc := range []struct {
		name   string
		set    *blobSet
		digest string
		want   *Metadata
	}{
		{"trace_open", export, "sha256:4326d8996b54290ca8e8422cf7119ccb7822650ae40837805f5ff867250ca2fe", &Metadata{
			Name:             "trace open",
			Description:      "trace open files",
			HomepageURL:      "https://inspektor-gadget.io/",
			DocumentationURL: "https://inspektor-gadget.io/docs",
			SourceURL:        "https://github.com/inspektor-gadget/inspektor-gadget/",
			EBPFParams:       []string{"targ_failed", "targ_tgid", "targ_uid"},
		}},
		{"unsigned", store, "sha256:6af71c416a18d670ca32e5d8685945df788d298de940088548597a81f8ea5897", &Metadata{Name: "unsigned"}},
		{"cosign_legacy", store, "sha256:759252a758ba3b6ed9a30cd5509b788061e5633716d84389c0977e2749e17210", &Metadata{Name: "signed_with_cosign_legacy"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, ok := tc.set.blobs[digestOf(tc.digest)]
			if !ok {
				t.Fatalf("blob %s missing", tc.digest)
			}
			got, err := ParseMetadata(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseMetadataForms(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		params   []string
	}{
		{"both forms, merged and deduplicated", "name: x\nparams:\n  ebpf:\n    b: {key: b}\n    a: {}\nebpfParams:\n  a: {key: a}\n  c: {key: c}\n", []string{"a", "b", "c"}},
		{"other operators' params are not eBPF params", "name: x\nparams:\n  wasm:\n    w: {key: w}\n  ebpf:\n    v: {}\n", []string{"v"}},
		{"null param descriptions", "params:\n  ebpf:\n    v:\n", []string{"v"}},
		{"no name is fine (ig's build validation wants one, its runtime does not)", "description: d\n", nil},
		{"unknown fields kept out of the way", "name: x\nx-new-field: {deep: [1, 2]}\ntracers: {open: {mapName: events}}\nsnapshotters: {}\nstructs: {event: {fields: [{name: a}]}}\ngadgetParams: {iface: {key: iface}}\n", nil},
		{"first document only, as ig's decoder", "name: x\n---\nname: [not, read]\n", nil},
		{"comments and document marker", "# a gadget\n---\nname: x # trailing\n", nil},
		{"integer annotation value read as text", "annotations:\n  n: 3\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMetadata([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(m.EBPFParams, tc.params) {
				t.Fatalf("EBPFParams = %q, want %q", m.EBPFParams, tc.params)
			}
		})
	}
}

func TestParseMetadataBad(t *testing.T) {
	big := "name: x\n" + strings.Repeat("# padding\n", MaxMetadataSize/10+1)
	for _, tc := range []struct {
		name, in, why string
		tooLarge      bool
	}{
		{"empty", "", "empty document", false},
		{"comment only", "# nothing\n", "empty document", false},
		{"null document", "~\n", "top level is null", false},
		{"sequence", "- name: x\n", "top level is a sequence", false},
		{"scalar", "trace_exec\n", "top level is a scalar", false},
		{"not yaml", "name: [x\n", "line", false},
		{"tab indentation", "name: x\n\tdescription: y\n", "line", false},
		{"duplicate key", "name: x\nname: y\n", "already defined", false},
		{"name is a list", "name: [a, b]\n", "cannot unmarshal", false},
		{"annotations is a list", "annotations: [a, b]\n", "cannot unmarshal", false},
		{"annotation value is a map", "annotations: {a: {b: c}}\n", "cannot unmarshal", false},
		{"params.ebpf is a list", "params:\n  ebpf: [a]\n", "cannot unmarshal", false},
		{"a param is a list", "params:\n  ebpf:\n    a: [1]\n", "cannot unmarshal", false},
		{"param key is a map", "params:\n  ebpf:\n    a: {key: {x: y}}\n", "cannot unmarshal", false},
		{"ebpfParams is a scalar", "ebpfParams: 3\n", "cannot unmarshal", false},
		{"datasource fields is a list", "datasources:\n  open:\n    fields: [a]\n", "cannot unmarshal", false},
		{"over the cap", big, "over", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMetadata([]byte(tc.in))
			if !errors.Is(err, ErrBadMetadata) || m != nil {
				t.Fatalf("ParseMetadata = %+v, %v; want ErrBadMetadata", m, err)
			}
			if errors.Is(err, ErrTooLarge) != tc.tooLarge {
				t.Errorf("errors.Is(err, ErrTooLarge) = %v, want %v", !tc.tooLarge, tc.tooLarge)
			}
			if !strings.Contains(err.Error(), tc.why) || !strings.HasPrefix(err.Error(), "metadata: ") {
				t.Errorf("error %q should start with metadata: and say %q", err, tc.why)
			}
		})
	}
}

func metadataSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	var seeds [][]byte
	for _, pattern := range []string{"metadata/*.yaml", "gadgets/*/gadget.yaml", "bad/*.yaml"} {
		for _, rel := range globTestdata(tb, pattern) {
			seeds = append(seeds, readTestdata(tb, rel))
		}
	}
	return seeds
}

func FuzzParseMetadata(f *testing.F) {
	for _, s := range metadataSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte("a: &a [*a, *a]\nb: *a\n"))
	f.Add([]byte("params: {ebpf: {x: {key: y}}}\nebpfParams: {x: {}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMetadata(data)
		if err != nil {
			if m != nil {
				t.Fatalf("error %v with a result %+v", err, m)
			}
			if !errors.Is(err, ErrBadMetadata) {
				t.Fatalf("error %v does not wrap ErrBadMetadata", err)
			}
			return
		}
		if !slices.IsSorted(m.EBPFParams) || len(slices.Compact(slices.Clone(m.EBPFParams))) != len(m.EBPFParams) {
			t.Fatalf("EBPFParams %q not sorted and unique", m.EBPFParams)
		}
	})
}

func BenchmarkParseMetadata(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "metadata", "current.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseMetadata(data); err != nil {
			b.Fatal(err)
		}
	}
}
