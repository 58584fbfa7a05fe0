package layout

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// named returns desc with the ref name set.
func named(desc ocispec.Descriptor, ref string) ocispec.Descriptor {
	desc.Annotations = map[string]string{ocispec.AnnotationRefName: ref}
	return desc
}

// readIndexBytes returns index.json's bytes.
func readIndexBytes(tb testing.TB, s *Store) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(s.Path(), IndexFile))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func TestAddEntries(t *testing.T) {
	s := newStore(t)
	c := t.Context()
	a := buildImage(t, s, "a")
	b := buildImage(t, s, "b")
	if err := s.Tag(c, b.index, "keep"); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name    string
		entries []ocispec.Descriptor
		force   bool
		want    AddResult
		err     error
		refs    map[string]ocispec.Descriptor // after the step
	}{
		{"new refs and an unnamed entry", []ocispec.Descriptor{named(a.index, "x"), named(a.index, "y"), a.manifests[0]}, false,
			AddResult{Added: 3}, nil, map[string]ocispec.Descriptor{"keep": b.index, "x": a.index, "y": a.index}},
		{"the same again changes nothing", []ocispec.Descriptor{named(a.index, "x"), a.manifests[0]}, false,
			AddResult{Unchanged: 2}, nil, map[string]ocispec.Descriptor{"keep": b.index, "x": a.index, "y": a.index}},
		{"a ref elsewhere is refused whole", []ocispec.Descriptor{named(b.index, "z"), named(b.index, "x")}, false,
			AddResult{}, ErrRefExists, map[string]ocispec.Descriptor{"keep": b.index, "x": a.index, "y": a.index}},
		{"force moves it", []ocispec.Descriptor{named(b.index, "x")}, true,
			AddResult{Replaced: 1}, nil, map[string]ocispec.Descriptor{"keep": b.index, "x": b.index, "y": a.index}},
	}
	for _, st := range steps {
		before := readIndexBytes(t, s)
		res, err := s.AddEntries(c, st.entries, AddOptions{Force: st.force})
		if !errors.Is(err, st.err) {
			t.Fatalf("%s: err = %v, want %v", st.name, err, st.err)
		}
		if err != nil {
			if !strings.Contains(err.Error(), "x is "+string(a.index.Digest)) {
				t.Errorf("%s: error %q does not name the ref and its digest", st.name, err)
			}
			if !slices.Equal(before, readIndexBytes(t, s)) {
				t.Errorf("%s: index.json changed on error", st.name)
			}
		} else if *res != st.want {
			t.Errorf("%s: result %+v, want %+v", st.name, *res, st.want)
		}
		for ref, want := range st.refs {
			got, err := s.Resolve(c, ref)
			if err != nil || got.Digest != want.Digest {
				t.Errorf("%s: %s -> %v %v, want %s", st.name, ref, got.Digest, err, want.Digest)
			}
		}
	}
	// force kept x where it stood: keep, x, y, then the unnamed manifest.
	idx, err := s.Index(c)
	if err != nil {
		t.Fatal(err)
	}
	if got := entryNames(idx.Manifests); !slices.Equal(got, []string{"keep", "x", "y", string(a.manifests[0].Digest)}) {
		t.Errorf("order %v", got)
	}
	rep, err := Verify(c, s.Path(), VerifyOptions{})
	if err != nil || !rep.OK {
		t.Fatalf("verify: %v %v", err, rep.Problems)
	}
}

func TestAddEntriesRefusesIncompleteGraph(t *testing.T) {
	s := newStore(t)
	c := t.Context()
	a := buildImage(t, s, "a")
	if err := os.Remove(filepath.Join(s.Path(), "blobs", "sha256", a.configs[1].Digest.Encoded())); err != nil {
		t.Fatal(err)
	}
	before := readIndexBytes(t, s)
	_, err := s.AddEntries(c, []ocispec.Descriptor{named(a.index, "a")}, AddOptions{})
	if !errors.Is(err, ErrGraphIncomplete) || !strings.Contains(err.Error(), string(a.configs[1].Digest)) ||
		!strings.Contains(err.Error(), "ref a") {
		t.Fatalf("err = %v, want ErrGraphIncomplete naming ref a and %s", err, a.configs[1].Digest)
	}
	if !slices.Equal(before, readIndexBytes(t, s)) {
		t.Error("index.json changed")
	}
}

func TestAddEntriesBadArguments(t *testing.T) {
	s := newStore(t)
	a := buildImage(t, s, "a")
	noType := a.index
	noType.MediaType = ""
	for _, tc := range []struct {
		name string
		e    ocispec.Descriptor
		want error
	}{
		{"bad ref", named(a.index, "a b"), ErrInvalidReference},
		{"digest as ref", named(a.index, string(a.index.Digest)), ErrInvalidReference},
		{"bad digest", ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: "sha256:../../x"}, ErrInvalidDigest},
		{"no media type", noType, ErrInvalidMediaType},
	} {
		if _, err := s.AddEntries(t.Context(), []ocispec.Descriptor{tc.e}, AddOptions{}); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestAddEntriesManyConflicts: refusing thousands of refs names the first few and says how many
// more, instead of one line as long as index.json.
func TestAddEntriesManyConflicts(t *testing.T) {
	s := newStore(t)
	c := t.Context()
	a := buildImage(t, s, "a")
	b := buildImage(t, s, "b")
	var have, entries []ocispec.Descriptor
	for i := range 3000 {
		ref := "r" + strconv.Itoa(i)
		have = append(have, named(a.index, ref))
		entries = append(entries, named(b.index, ref))
	}
	if _, err := s.AddEntries(c, have, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := s.AddEntries(c, entries, AddOptions{})
	msg := fmt.Sprint(err)
	if !errors.Is(err, ErrRefExists) || !strings.Contains(msg, "r9 is "+string(a.index.Digest)+", not "+string(b.index.Digest)+"; ... and 2990 more") || len(msg) > 4096 {
		t.Fatalf("3000 conflicts: %d bytes: %.400s", len(msg), msg)
	}
}
