package layout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestTagResolveUntag(t *testing.T) {
	s := newStore(t)
	a := buildImage(t, s, "a")
	b := buildImage(t, s, "b")
	c := t.Context()
	for _, tc := range []struct {
		desc ocispec.Descriptor
		ref  string
	}{
		{a.index, "ghcr.io/inspektor-gadget/gadget/a:latest"},
		{b.index, "ghcr.io/inspektor-gadget/gadget/b:latest"},
		{a.index, "ghcr.io/inspektor-gadget/gadget/a:v1"},
	} {
		if err := s.Tag(c, tc.desc, tc.ref); err != nil {
			t.Fatalf("Tag %s: %v", tc.ref, err)
		}
	}
	for _, tc := range []struct {
		ref     string
		want    digest.Digest
		wantErr error
	}{
		{"ghcr.io/inspektor-gadget/gadget/a:latest", a.index.Digest, nil},
		{"ghcr.io/inspektor-gadget/gadget/b:latest", b.index.Digest, nil},
		{"ghcr.io/inspektor-gadget/gadget/a:v1", a.index.Digest, nil},
		{"a:latest", "", ErrNotFound},
		{string(b.index.Digest), b.index.Digest, nil},
		{string(a.manifests[1].Digest), a.manifests[1].Digest, nil}, // a blob, not an entry
		{string(digest.FromString("nothing")), "", ErrNotFound},
		{"", "", ErrInvalidReference},
	} {
		t.Run("resolve "+tc.ref, func(t *testing.T) {
			got, err := s.Resolve(c, tc.ref)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Resolve: %v, want %v", err, tc.wantErr)
			}
			if got.Digest != tc.want {
				t.Fatalf("Resolve = %s, want %s", got.Digest, tc.want)
			}
			if err == nil && (got.MediaType == "" || got.Size <= 0) {
				t.Errorf("Resolve = %+v: no media type or size", got)
			}
		})
	}

	// Re-tagging a name replaces its entry in place.
	if err := s.Tag(c, b.index, "ghcr.io/inspektor-gadget/gadget/a:latest"); err != nil {
		t.Fatal(err)
	}
	idx, err := s.Index(c)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range idx.Manifests {
		names = append(names, refName(m)+"="+short(m.Digest))
	}
	want := []string{
		"ghcr.io/inspektor-gadget/gadget/a:latest=" + short(b.index.Digest),
		"ghcr.io/inspektor-gadget/gadget/b:latest=" + short(b.index.Digest),
		"ghcr.io/inspektor-gadget/gadget/a:v1=" + short(a.index.Digest),
	}
	if !slices.Equal(names, want) {
		t.Fatalf("index.json entries %v, want %v", names, want)
	}

	refs, err := s.Refs(c)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range refs {
		got = append(got, refName(r))
	}
	if !slices.IsSorted(got) || len(got) != 3 {
		t.Errorf("Refs = %v, want 3 sorted names", got)
	}

	if err := s.Untag(c, "ghcr.io/inspektor-gadget/gadget/a:v1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Untag(c, "ghcr.io/inspektor-gadget/gadget/a:v1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Untag twice: %v, want ErrNotFound", err)
	}
	if _, err := s.Resolve(c, "ghcr.io/inspektor-gadget/gadget/a:v1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Resolve after Untag: %v", err)
	}
	// Nothing names image a now: its blobs are unreferenced until it is tagged again.
	rep, err := Verify(c, s.Path(), VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || len(rep.Problems) != len(a.all()) {
		t.Fatalf("Verify: ok=%v, %d problems, want %d unreferenced-blob warnings", rep.OK, len(rep.Problems), len(a.all()))
	}
	if err := s.Tag(c, a.index, "ghcr.io/inspektor-gadget/gadget/a:v2"); err != nil {
		t.Fatal(err)
	}
	assertVerifies(t, s.Path())
}

// assertVerifies fails unless Verify finds nothing at all in the layout.
func assertVerifies(tb testing.TB, path string) *Report {
	tb.Helper()
	rep, err := Verify(tb.Context(), path, VerifyOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	if !rep.OK || len(rep.Problems) != 0 {
		for _, p := range rep.Problems {
			tb.Error(p.String())
		}
		tb.FailNow()
	}
	return rep
}

func TestTagRefuses(t *testing.T) {
	s := newStore(t)
	im := buildImage(t, s, "x")
	noBlob := im.index
	noBlob.Digest = digest.FromString("absent")
	for _, tc := range []struct {
		name    string
		desc    ocispec.Descriptor
		ref     string
		damage  func(t *testing.T)
		wantErr error
		naming  string // the error must contain it
	}{
		{"empty ref", im.index, "", nil, ErrInvalidReference, ""},
		{"digest as ref", im.index, string(im.index.Digest), nil, ErrInvalidReference, ""},
		{"bad ref", im.index, "a//b", nil, ErrInvalidReference, "a//b"},
		{"bad digest", ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: "sha256:zz"}, "x:1", nil, ErrInvalidDigest, ""},
		{"no media type", ocispec.Descriptor{Digest: im.index.Digest, Size: im.index.Size}, "x:1", nil, ErrInvalidMediaType, ""},
		{"absent root", noBlob, "x:1", nil, ErrGraphIncomplete, string(noBlob.Digest)},
		{"missing layer", im.index, "x:1", func(t *testing.T) {
			os.Remove(filepath.Join(s.Path(), "blobs", "sha256", im.layers[3].Digest.Encoded()))
		}, ErrGraphIncomplete, string(im.layers[3].Digest)},
		{"damaged manifest", im.index, "x:1", func(t *testing.T) {
			flipBit(t, filepath.Join(s.Path(), "blobs", "sha256", im.manifests[0].Digest.Encoded()), 10, 1)
		}, ErrDigestMismatch, string(im.manifests[0].Digest)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.damage != nil {
				tc.damage(t)
			}
			before, err := os.ReadFile(filepath.Join(s.Path(), IndexFile))
			if err != nil {
				t.Fatal(err)
			}
			err = s.Tag(t.Context(), tc.desc, tc.ref)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Tag: %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.naming) {
				t.Errorf("error %q does not name %s", err, tc.naming)
			}
			after, _ := os.ReadFile(filepath.Join(s.Path(), IndexFile))
			if string(before) != string(after) {
				t.Error("a refused Tag changed index.json")
			}
		})
	}
}

func TestIndexKeepsForeignContent(t *testing.T) {
	s := newStore(t)
	im := buildImage(t, s, "x")
	// index.json as another tool may write it: unknown fields at both levels, annotations, an
	// unnamed entry, pretty-printed.
	foreign := `{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "zzz": {"b": 1, "a": [1, 2]},
  "manifests": [
    {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "` + string(im.index.Digest) + `", "size": ` + itoa(im.index.Size) + `, "x-vendor": true},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "` + string(im.manifests[0].Digest) + `", "size": ` + itoa(im.manifests[0].Size) + `, "annotations": {"org.opencontainers.image.ref.name": "old"}}
  ],
  "annotations": {"com.example": "kept"}
}`
	mustWrite(t, filepath.Join(s.Path(), IndexFile), foreign)
	if err := s.Tag(t.Context(), im.index, "example.com/new:1"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(s.Path(), IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` +
		`{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"` + string(im.index.Digest) + `","size":` + itoa(im.index.Size) + `,"x-vendor":true},` +
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + string(im.manifests[0].Digest) + `","size":` + itoa(im.manifests[0].Size) + `,"annotations":{"org.opencontainers.image.ref.name":"old"}},` +
		`{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"` + string(im.index.Digest) + `","size":` + itoa(im.index.Size) + `,"annotations":{"org.opencontainers.image.ref.name":"example.com/new:1"}}` +
		`],"annotations":{"com.example":"kept"},"zzz":{"b":1,"a":[1,2]}}`
	if string(data) != want {
		t.Fatalf("index.json after Tag:\n%s\nwant\n%s", data, want)
	}
	if err := s.Untag(t.Context(), "old"); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(filepath.Join(s.Path(), IndexFile))
	if strings.Contains(string(data), `"old"`) || !strings.Contains(string(data), `"x-vendor":true`) || !strings.Contains(string(data), `"zzz"`) {
		t.Fatalf("index.json after Untag: %s", data)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestParseIndexJSON(t *testing.T) {
	d := digest.FromString("x")
	entry := `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + string(d) + `","size":1}`
	for _, tc := range []struct {
		name    string
		json    string
		entries int
		wantErr string // "" for no error
	}{
		{"empty", `{"schemaVersion":2,"manifests":[]}`, 0, ""},
		{"one", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` + entry + `]}`, 1, ""},
		{"null manifests (oras-go writes it, other parsers refuse it)", `{"schemaVersion":2,"manifests":null}`, 0, `null "manifests" at $`},
		{"not an object", `[]`, 0, "not a JSON object"},
		{"not JSON", `{"schemaVersion":2,`, 0, "index.json"},
		{"no schemaVersion", `{"manifests":[]}`, 0, "no schemaVersion"},
		{"schemaVersion 1", `{"schemaVersion":1,"manifests":[]}`, 0, "schemaVersion 1"},
		{"wrong mediaType", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","manifests":[]}`, 0, "mediaType"},
		{"no manifests", `{"schemaVersion":2}`, 0, "no manifests"},
		{"manifests not an array", `{"schemaVersion":2,"manifests":{}}`, 0, "manifests"},
		{"entry not an object", `{"schemaVersion":2,"manifests":[1]}`, 0, "manifests[0]"},
		{"entry bad digest", `{"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":"sha256:abc","size":1}]}`, 0, "manifests[0]"},
		{"entry negative size", `{"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":"` + string(d) + `","size":-1}]}`, 0, "size -1"},
		{"annotations of the wrong type", `{"schemaVersion":2,"manifests":[],"annotations":[]}`, 0, "index.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := parseIndexJSON([]byte(tc.json))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(doc.entries) != tc.entries {
					t.Fatalf("%d entries, want %d", len(doc.entries), tc.entries)
				}
				return
			}
			if !errors.Is(err, ErrBadIndex) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("parseIndexJSON: %v, want ErrBadIndex naming %q", err, tc.wantErr)
			}
			if doc != nil {
				t.Fatal("a result with an error")
			}
		})
	}
}

// FuzzIndexJSON parses index.json as Open, Index, the edits and Verify do: no panic, no result
// with an error, and what parses writes back to bytes that parse to the same entries.
func FuzzIndexJSON(f *testing.F) {
	for _, path := range []string{igStore + "/index.json", "testdata/index-foreign.json"} {
		if data, err := os.ReadFile(path); err == nil {
			f.Add(data)
		}
	}
	f.Add(emptyIndexContent)
	f.Add([]byte(`{"schemaVersion":2,"manifests":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Verify's reading: decode leniently, check the shape, never panic.
		if vd, err := decodeDoc(data); err == nil {
			v := newVerifier("/nonexistent", VerifyOptions{})
			v.checkIndexShape(vd, labelLocation(IndexFile), "", true)
			v.walkIndex(t.Context(), vd) // no blobs: every entry is missing or dangling
		} else if vd != nil {
			t.Fatal("a result with an error")
		}
		d, err := parseIndexJSON(data)
		if err != nil {
			if d != nil {
				t.Fatal("a result with an error")
			}
			return
		}
		if err := d.keepFields(data); err != nil {
			t.Fatalf("top-level fields of a parsed index: %v", err)
		}
		out, err := d.marshal()
		if err != nil {
			t.Fatalf("marshal of a parsed index: %v", err)
		}
		d2, err := parseIndexJSON(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if err := d2.keepFields(out); err != nil {
			t.Fatal(err)
		}
		if len(d2.entries) != len(d.entries) {
			t.Fatalf("%d entries after a round trip, want %d", len(d2.entries), len(d.entries))
		}
		for i := range d.entries {
			if d.entries[i].desc.Digest != d2.entries[i].desc.Digest || refName(d.entries[i].desc) != refName(d2.entries[i].desc) {
				t.Fatalf("entry %d changed in a round trip", i)
			}
		}
		out2, err := d2.marshal()
		if err != nil || string(out2) != string(out) {
			t.Fatalf("marshal not stable: %s vs %s (%v)", out, out2, err)
		}
		_ = d.index()
	})
}

func TestTagSurvivesSIGKILL(t *testing.T) {
	s, im := verifyLayout(t)
	desc, _ := json.Marshal(im.index)
	rng := rand.New(rand.NewPCG(7, 8))
	before := refsOf(t, s)
	for i := range 20 {
		cmd := helper(t, "tag", "GP_LAYOUT="+s.Path(), "GP_DESC="+string(desc), "GP_N=100000", fmt.Sprintf("GP_PREFIX=example.com/k%d", i))
		cmd.Stderr = nil
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20+rng.IntN(150)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		rep, err := Verify(t.Context(), s.Path(), VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range rep.Problems {
			if p.Rule != RuleTempLeftover {
				t.Errorf("kill %d: %s", i, p)
			}
		}
		after := refsOf(t, s)
		for ref := range before {
			if !after[ref] {
				t.Fatalf("kill %d: ref %s lost", i, ref)
			}
		}
		before = after
	}
	t.Logf("%d refs written across 20 killed taggers", len(before)-1)
	if _, err := s.CleanTemp(t.Context()); err != nil {
		t.Fatal(err)
	}
	assertVerifies(t, s.Path())
}

// TestIndexSnapshotFollowsTheFile: a Store reuses the index.json it parsed only while the file
// is unchanged, and only one that had settled: a rewrite in place (as oras-go writes it) and a
// rename over it (as gadgetpack and atomic writers replace it) are both seen by the next reader.
func TestIndexSnapshotFollowsTheFile(t *testing.T) {
	s := newStore(t)
	c := t.Context()
	im := buildImage(t, s, "snap")
	if err := s.Tag(c, im.index, "a"); err != nil {
		t.Fatal(err)
	}
	refs := func() []string {
		t.Helper()
		got, err := s.Refs(c)
		if err != nil {
			t.Fatal(err)
		}
		return entryNames(got)
	}
	if got := refs(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("refs %v", got)
	}
	if s.index.Load() != nil {
		t.Fatal("an index.json changed just now was kept: the next version may look the same")
	}
	time.Sleep(settleTime + 100*time.Millisecond)
	if got := refs(); !slices.Equal(got, []string{"a"}) || s.index.Load() == nil {
		t.Fatalf("refs %v, kept %v: a settled index.json is kept", got, s.index.Load() != nil)
	}
	kept := s.index.Load()
	if got := refs(); !slices.Equal(got, []string{"a"}) || s.index.Load() != kept {
		t.Fatalf("refs again %v: not from the kept document", got)
	}
	path := filepath.Join(s.Path(), IndexFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// In place, same inode: "a" becomes "bb".
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(bytes.Replace(data, []byte(`"a"`), []byte(`"bb"`), 1)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got := refs(); !slices.Equal(got, []string{"bb"}) {
		t.Fatalf("after a rewrite in place: refs %v, want [bb]", got)
	}
	// Renamed over: "bb" becomes "cc" (same size).
	tmp := path + ".new"
	if err := os.WriteFile(tmp, bytes.Replace(data, []byte(`"a"`), []byte(`"cc"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if got := refs(); !slices.Equal(got, []string{"cc"}) {
		t.Fatalf("after a rename over it: refs %v, want [cc]", got)
	}
	// An edit reads the file itself, and the next reader sees the edit.
	if err := s.Tag(c, im.index, "d"); err != nil {
		t.Fatal(err)
	}
	if got := refs(); !slices.Equal(got, []string{"cc", "d"}) {
		t.Fatalf("after a tag: refs %v, want [cc d]", got)
	}
}
