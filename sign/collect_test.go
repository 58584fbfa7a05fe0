package sign

import (
	"bytes"
	"context"
	"reflect"
	"testing"

	"github.com/gadgetpack/gadgetpack/layout"
	"github.com/gadgetpack/gadgetpack/tarball"
)

// collectOpts returns verify options whose rule funcs feed c.
func collectOpts(c *Collector) layout.VerifyOptions {
	return layout.VerifyOptions{CheckIndex: c.CheckIndex, CheckManifest: c.CheckManifest}
}

// TestCollectorMatchesLayout: what a Collector gathers in one verify pass, of the layout and
// of its exported tarball (export's order and a stream), gives the same verdicts as reading
// the layout itself.
func TestCollectorMatchesLayout(t *testing.T) {
	ctx := context.Background()
	s, g := igStoreGraph(t)
	keys := []PublicKey{igKey(t, "ig-test.pub")}
	want, err := CheckRefs(ctx, g, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 6 {
		t.Fatalf("%d refs, want ig-store's 6", len(want))
	}
	var tar bytes.Buffer
	if _, err := tarball.Export(ctx, s, &tar, tarball.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	passes := map[string]func(c *Collector) error{
		"layout": func(c *Collector) error {
			_, err := layout.Verify(ctx, s.Path(), collectOpts(c))
			return err
		},
		"tarball stream": func(c *Collector) error {
			_, err := tarball.Verify(ctx, bytes.NewReader(tar.Bytes()), tarball.VerifyOptions{VerifyOptions: collectOpts(c), Path: "-"})
			return err
		},
	}
	for name, pass := range passes {
		t.Run(name, func(t *testing.T) {
			c := NewCollector()
			if err := pass(c); err != nil {
				t.Fatal(err)
			}
			cg, err := c.Graph()
			if err != nil {
				t.Fatal(err)
			}
			got, err := CheckRefs(ctx, cg, keys)
			if err != nil {
				t.Fatal(err)
			}
			// A signature both listed by a referrers-tag index and a referrer is found first as
			// the referrer here (verify reads every manifest's subject): Via may differ.
			if !reflect.DeepEqual(withoutVia(got), withoutVia(want)) {
				t.Errorf("collected:\n%+v\nlayout:\n%+v", got, want)
			}
			probs := Problems(got)
			rules := map[string]int{}
			for _, p := range probs {
				rules[p.Rule]++
			}
			if len(probs) != 3 || rules[RuleMissing] != 1 || rules[RuleUnsupported] != 2 {
				t.Errorf("problems %v, want 1 missing (unsigned) and 2 unsupported (notation)", probs)
			}
		})
	}
}

// withoutVia returns results with every signature's Via cleared.
func withoutVia(rs []RefResult) []RefResult {
	out := make([]RefResult, len(rs))
	for i, r := range rs {
		out[i] = r
		out[i].Signatures = append([]Signature(nil), r.Signatures...)
		for j := range out[i].Signatures {
			out[i].Signatures[j].Via = ""
		}
	}
	return out
}
