package spec

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func loadELFInfo(tb testing.TB, rel string) *ELFInfo {
	tb.Helper()
	data := readTestdata(tb, rel)
	info, err := CheckELF(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		tb.Fatal(err)
	}
	return info
}

func loadMetadata(tb testing.TB, rel string) *Metadata {
	tb.Helper()
	m, err := ParseMetadata(readTestdata(tb, rel))
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func TestCheckParams(t *testing.T) {
	for _, arch := range Arches() {
		params := loadELFInfo(t, "gadgets/trace_params/"+arch+".bpf.o")
		exec := loadELFInfo(t, "gadgets/trace_exec/"+arch+".bpf.o")
		for _, tc := range []struct {
			name     string
			metadata string
			info     *ELFInfo
			why      []string // nil: accepted
		}{
			{"current form", "gadgets/trace_params/gadget.yaml", params, nil},
			{"metadata/current.yaml", "metadata/current.yaml", params, nil},
			{"old form", "metadata/old-form.yaml", params, nil},
			{"no params", "gadgets/trace_exec/gadget.yaml", exec, nil},
			{"no such variable", "bad/bad-params.yaml", params, []string{"params.ebpf.targ_comm: no variable targ_comm"}},
			{"pointer to const in .bss", "bad/bad-params-not-const.yaml", params, []string{"params.ebpf.unused_event: variable unused_event is not const"}},
			{"params of another object", "gadgets/trace_params/gadget.yaml", exec, []string{
				"params.ebpf.ignore_failed: no variable", "params.ebpf.targ_pid: no variable", "params.ebpf.targ_uid: no variable",
			}},
		} {
			t.Run(arch+"/"+tc.name, func(t *testing.T) {
				err := CheckParams(loadMetadata(t, tc.metadata), tc.info)
				if tc.why == nil {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				if !errors.Is(err, ErrBadParam) {
					t.Fatalf("CheckParams: %v, want ErrBadParam", err)
				}
				for _, why := range tc.why {
					if !strings.Contains(err.Error(), why) {
						t.Errorf("error %q should say %q", err, why)
					}
				}
			})
		}
	}
}

func TestCheckParamsEdges(t *testing.T) {
	info := &ELFInfo{ConstVolatiles: []string{"a", "c"}, notParam: map[string]string{
		"b": "variable b is const but not volatile",
		"s": "variable s is not a global variable (linkage static)",
	}}
	for _, tc := range []struct {
		name string
		m    *Metadata
		info *ELFInfo
		why  string // "": accepted
	}{
		{"nil metadata", nil, nil, ""},
		{"no params, no object", &Metadata{Name: "x"}, nil, ""},
		{"params, no object", &Metadata{EBPFParams: []string{"a"}}, nil, "no eBPF object"},
		{"all const volatile", &Metadata{EBPFParams: []string{"a", "c"}}, info, ""},
		{"not volatile", &Metadata{EBPFParams: []string{"a", "b"}}, info, "params.ebpf.b: variable b is const but not volatile"},
		{"static", &Metadata{EBPFParams: []string{"s"}}, info, "not a global variable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckParams(tc.m, tc.info)
			if tc.why == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrBadParam) || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("CheckParams: %v, want ErrBadParam saying %q", err, tc.why)
			}
		})
	}
}

// TestCheckParamsIG checks ig's own trace_open: its old-form ebpfParams against both objects.
func TestCheckParamsIG(t *testing.T) {
	set := readLayoutTar(t, interopPath(t, "ig-export/trace_open.tar"))
	m, err := ParseMetadata(set.blobs[digestOf("sha256:4326d8996b54290ca8e8422cf7119ccb7822650ae40837805f5ff867250ca2fe")])
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{
		"sha256:d4797e15f105a82e08912fe7168650ff5d425d8505742e4cbaa6e8a3b0b7a636",
		"sha256:367661ade36159f4c59ec79dfe27c07f23271af91aab8298c1614e13a78dc6ac",
	} {
		data := set.blobs[digestOf(d)]
		info, err := CheckELF(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckParams(m, info); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
}
