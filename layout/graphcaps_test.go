package layout

import (
	"errors"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// deepLayout writes nestedIndexes of depth documents into a new layout and names the outermost
// "deep" in index.json, without the graph check Tag makes (which refuses it).
func deepLayout(tb testing.TB, depth int) (*Store, []ocispec.Descriptor) {
	tb.Helper()
	s := newStore(tb)
	m := memBlobs{}
	docs := nestedIndexes(tb, m, depth)
	for _, data := range m {
		writeBlob(tb, s, "", data)
	}
	top := docs[0]
	top.Annotations = map[string]string{ocispec.AnnotationRefName: "deep"}
	err := s.update(tb.Context(), func(d *indexDoc) error {
		d.entries = append(d.entries, indexEntry{desc: top})
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return s, docs
}

// TestGraphTooDeep runs every walk of a layout over indexes nested 100 deep: each stops at the
// cap with ErrTooDeep, naming a shortened path, and changes nothing.
func TestGraphTooDeep(t *testing.T) {
	s, docs := deepLayout(t, 100)
	tooDeep := docs[DefaultMaxNesting] // the 65th document from the top
	before := treeState(t, s.Path())
	check := func(t *testing.T, err error, also error) {
		t.Helper()
		if !errors.Is(err, ErrTooDeep) || (also != nil && !errors.Is(err, also)) {
			t.Fatalf("err = %v, want ErrTooDeep (and %v)", err, also)
		}
		msg := err.Error()
		if !strings.Contains(msg, string(tooDeep.Digest)) || !strings.Contains(msg, "more levels") || len(msg) > 1500 {
			t.Fatalf("error does not name %s on a shortened path: %s", tooDeep.Digest, msg)
		}
	}
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		run  func() error
		also error
	}{
		{"Closure", func() error { _, err := s.Closure(ctx, []ocispec.Descriptor{docs[0]}); return err }, ErrGraphIncomplete},
		{"PlanGC", func() error { _, err := s.PlanGC(ctx); return err }, nil},
		{"ApplyGC", func() error { return s.ApplyGC(ctx, &GCPlan{}) }, nil},
		{"Tag", func() error { return s.Tag(ctx, docs[0], "again") }, ErrGraphIncomplete},
		{"AddEntries", func() error {
			_, err := s.AddEntries(ctx, []ocispec.Descriptor{docs[0]}, AddOptions{})
			return err
		}, ErrGraphIncomplete},
		{"Copy", func() error {
			_, err := Copy(ctx, s, newStore(t), []ocispec.Descriptor{docs[0]}, CopyOptions{})
			return err
		}, ErrGraphIncomplete},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check(t, tc.run(), tc.also)
			if after := treeState(t, s.Path()); !equalState(before, after) {
				t.Fatal("the layout changed")
			}
		})
	}
	t.Run("Verify", func(t *testing.T) {
		rep, err := Verify(ctx, s.Path(), VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var deep []Problem
		for _, p := range rep.Problems {
			switch p.Rule {
			case RuleTooDeep:
				deep = append(deep, p)
			case RuleUnreferenced:
				t.Errorf("a walk cut short calls blobs unreferenced: %v", p)
			}
		}
		if rep.OK || len(deep) != 1 || !errors.Is(deep[0].Err, ErrTooDeep) {
			t.Fatalf("want one error %s, got %v", RuleTooDeep, rep.Problems)
		}
		p := deep[0]
		if !strings.HasPrefix(p.Where, "index.json[0](ref deep) > manifests[0]") || !strings.Contains(p.Where, "... 57 more levels ...") ||
			!strings.HasSuffix(p.Where, "manifests[0]("+short(tooDeep.Digest)+")") || !strings.Contains(p.Message, string(tooDeep.Digest)) {
			t.Fatalf("finding %v does not name the path to %s", p, tooDeep.Digest)
		}
	})
}

func TestVerifyMaxDescriptors(t *testing.T) {
	s := newStore(t)
	im := buildImage(t, s, "x")
	if err := s.Tag(t.Context(), im.index, "x"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		max  int
		ok   bool
	}{
		{"default", 0, true},
		{"exactly", len(im.all()), true},
		{"one short", len(im.all()) - 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Verify(t.Context(), s.Path(), VerifyOptions{Walk: WalkOptions{MaxDescriptors: tc.max}})
			if err != nil {
				t.Fatal(err)
			}
			var found []Problem
			for _, p := range rep.Problems {
				if p.Rule == RuleTooMany {
					found = append(found, p)
				}
				if p.Rule == RuleUnreferenced {
					t.Errorf("a walk cut short calls blobs unreferenced: %v", p)
				}
			}
			if tc.ok != rep.OK || tc.ok != (len(found) == 0) {
				t.Fatalf("OK %v, want %v: %v", rep.OK, tc.ok, rep.Problems)
			}
			if !tc.ok && (!errors.Is(found[0].Err, ErrTooManyDescriptors) || !strings.Contains(found[0].Message, "over 8 descriptors")) {
				t.Fatalf("finding %v does not name the cap", found[0])
			}
		})
	}
}

// equalState compares two treeState results.
func equalState(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
