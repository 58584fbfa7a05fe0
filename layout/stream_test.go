package layout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// streamOf reads the layout at root as a stream reader would: every blob hashed, JSON
// documents kept (with keepDocs; else only those that do not hash to their names, the others
// flagged MaySubject); Fetch reads the files.
func streamOf(tb testing.TB, root string, keepDocs bool) StreamLayout {
	tb.Helper()
	in := StreamLayout{Path: root}
	in.LayoutFile, _ = os.ReadFile(filepath.Join(root, LayoutFile))
	in.Index, _ = os.ReadFile(filepath.Join(root, IndexFile))
	files, err := filepath.Glob(filepath.Join(root, BlobsDir, "sha256", "*"))
	if err != nil {
		tb.Fatal(err)
	}
	slices.Sort(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		b := StreamBlob{Name: rel, Digest: digest.NewDigestFromEncoded(digest.SHA256, filepath.Base(f)), Size: int64(len(data))}
		if got := digest.FromBytes(data); got != b.Digest {
			b.Err = fmt.Errorf("blob %s: content hashes to %s: %w", b.Digest, got, ErrDigestMismatch)
		}
		if len(data) <= MaxJSONBytes && isJSONObject(data) {
			if keepDocs || b.Err != nil {
				b.Data = data
			} else {
				b.MaySubject = true
			}
		}
		in.Blobs = append(in.Blobs, b)
	}
	s := &Store{root: root}
	in.Fetch = s.Fetch
	return in
}

// TestVerifyStreamAgrees checks that VerifyStream reports what Verify reports, layout or not,
// with the documents handed over or read through Fetch.
func TestVerifyStreamAgrees(t *testing.T) {
	ctx := t.Context()
	cases := []struct {
		name string
		brk  func(tb testing.TB, s *Store, im testImage)
		rule string // a rule the report must have; "" for a clean report
	}{
		{"clean", nil, ""},
		{"missing layer", func(tb testing.TB, s *Store, im testImage) {
			p, _ := s.blobPath(im.layers[2].Digest)
			must(tb, os.Remove(p))
		}, RuleMissingBlob},
		{"corrupt manifest", func(tb testing.TB, s *Store, im testImage) {
			p, _ := s.blobPath(im.manifests[1].Digest)
			must(tb, os.Chmod(p, 0o644))
			data, _ := os.ReadFile(p)
			must(tb, os.WriteFile(p, bytes.Replace(data, []byte(`"layers"`), []byte(`"Layers"`), 1), 0o644))
		}, RuleBlobDigest},
		{"unreferenced blob", func(tb testing.TB, s *Store, im testImage) {
			writeBlob(tb, s, "", []byte("nobody points at me"))
		}, RuleUnreferenced},
		{"bad oci-layout", func(tb testing.TB, s *Store, im testImage) {
			must(tb, os.WriteFile(filepath.Join(s.Path(), LayoutFile), []byte(`{"imageLayoutVersion":"2.0.0"}`), 0o644))
		}, RuleLayoutFile},
		{"referrer", func(tb testing.TB, s *Store, im testImage) {
			m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: ocispec.DescriptorEmptyJSON,
				Layers: []ocispec.Descriptor{}, Subject: &im.manifests[0], ArtifactType: "application/vnd.example.sig"}
			m.SchemaVersion = 2
			writeBlob(tb, s, "", []byte("{}"))
			writeJSON(tb, s, ocispec.MediaTypeImageManifest, m)
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			im := buildImage(t, s, "one")
			if err := s.Tag(ctx, im.index, "one:1"); err != nil {
				t.Fatal(err)
			}
			if tc.brk != nil {
				tc.brk(t, s, im)
			}
			var calls atomic.Int32
			opts := VerifyOptions{
				CheckManifest: func(ctx context.Context, desc ocispec.Descriptor, m ocispec.Manifest, fetch FetchFunc) []error {
					calls.Add(1)
					for _, l := range m.Layers {
						if _, err := ReadAllFrom(ctx, fetch, l, 1<<20); err != nil {
							return []error{err}
						}
					}
					return []error{fmt.Errorf("manifest %s for %s seen", desc.Digest, desc.Platform.Architecture)}
				},
			}
			want, err := Verify(ctx, s.Path(), opts)
			if err != nil {
				t.Fatal(err)
			}
			wantCalls := calls.Swap(0)
			for _, keepDocs := range []bool{true, false} {
				t.Run(fmt.Sprintf("documents kept %v", keepDocs), func(t *testing.T) {
					got, err := VerifyStream(ctx, streamOf(t, s.Path(), keepDocs), opts)
					if err != nil {
						t.Fatal(err)
					}
					if n := calls.Swap(0); n != wantCalls {
						t.Errorf("rule calls: stream %d, layout %d", n, wantCalls)
					}
					streamAgrees(t, got, want, tc.rule)
				})
			}
		})
	}
}

// streamAgrees fails unless a stream's report says what the layout's does and has a problem of
// rule (unless it is "").
func streamAgrees(t *testing.T, got, want *Report, rule string) {
	t.Helper()
	strip := func(ps []Problem) []string {
		var out []string
		for _, p := range ps {
			if p.Rule == RuleTempLeftover || p.Rule == RuleUnknownFile {
				continue // files of a layout's folder: the stream reader's to report
			}
			out = append(out, p.String())
		}
		return out
	}
	if !slices.Equal(strip(got.Problems), strip(want.Problems)) {
		t.Fatalf("problems differ:\nstream %s\nlayout %s", strings.Join(strip(got.Problems), "\n"), strings.Join(strip(want.Problems), "\n"))
	}
	if got.OK != want.OK || got.Blobs != want.Blobs || got.Bytes != want.Bytes || got.LayoutDigest != want.LayoutDigest {
		t.Fatalf("report differs: stream %+v, layout %+v", got, want)
	}
	if rule != "" && !slices.ContainsFunc(got.Problems, func(p Problem) bool { return p.Rule == rule }) {
		t.Fatalf("no %s problem: %v", rule, got.Problems)
	}
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// TestVerifyStreamConfigGone checks that a config the stream's Fetch can no longer read (its
// copy changed, or is gone) is an error where the config is reached, not a config left
// unchecked without a word.
func TestVerifyStreamConfigGone(t *testing.T) {
	s := newStore(t)
	cfg := writeJSON(t, s, ocispec.MediaTypeImageConfig, ocispec.Image{Platform: ocispec.Platform{Architecture: "amd64", OS: "linux"}})
	layer := writeBlob(t, s, ocispec.MediaTypeImageLayer, pseudoRandom("config-gone", 1024))
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}}
	m.SchemaVersion = 2
	if err := s.Tag(t.Context(), writeJSON(t, s, ocispec.MediaTypeImageManifest, m), "x:1"); err != nil {
		t.Fatal(err)
	}
	gone := cfg.Digest
	in := streamOf(t, s.Path(), false)
	fetch := in.Fetch
	in.Fetch = func(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
		if desc.Digest == gone {
			return nil, fmt.Errorf("blob %s: read again: %w", desc.Digest, os.ErrNotExist)
		}
		return fetch(ctx, desc)
	}
	rep, err := VerifyStream(t.Context(), in, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range rep.Problems {
		if p.Rule == RuleBlobRead && strings.Contains(p.Message, "config "+string(gone)+" cannot be read") && strings.Contains(p.Where, "config") {
			found = true
		}
	}
	if rep.OK || !found {
		t.Fatalf("ok %v, problems %+v: want an error for config %s at its place", rep.OK, rep.Problems, gone)
	}
}

func TestVerifyStreamMissing(t *testing.T) {
	rep, err := VerifyStream(t.Context(), StreamLayout{Path: "x.tar", Problems: []Problem{{Severity: SeverityError, Rule: "tar/entry", Where: IndexFile, Message: "over its cap"}}}, VerifyOptions{Expect: digest.FromString("x")})
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, p := range rep.Problems {
		rules = append(rules, p.Rule+" "+p.Where)
	}
	want := []string{"tar/entry index.json", "layout/expect index.json", "layout/oci-layout oci-layout"}
	slices.Sort(rules)
	slices.Sort(want)
	if rep.OK || !slices.Equal(rules, want) {
		t.Fatalf("problems %v, want %v", rules, want)
	}
}

func TestParseIndex(t *testing.T) {
	good := `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","size":3,"annotations":{"org.opencontainers.image.ref.name":"x:1"}}]}`
	idx, err := ParseIndex([]byte(good))
	if err != nil || len(idx.Manifests) != 1 || refName(idx.Manifests[0]) != "x:1" {
		t.Fatalf("good: %v %v", idx, err)
	}
	for _, tc := range []struct {
		name, data string
		want       error
	}{
		{"not JSON", "manifests: []", ErrBadIndex},
		{"path digest", strings.Replace(good, "sha256:"+strings.Repeat("a", 64), "sha256:../../etc/passwd", 1), ErrInvalidDigest},
		{"bad ref", strings.Replace(good, `"x:1"`, `"../x"`, 1), ErrInvalidReference},
		{"bad media type", strings.Replace(good, "application/vnd.oci.image.index.v1+json", "index", 1), ErrInvalidMediaType},
		{"schema 1", strings.Replace(good, `"schemaVersion":2`, `"schemaVersion":1`, 1), ErrBadIndex},
		{"too large", good + strings.Repeat(" ", MaxIndexBytes), ErrTooLarge},
	} {
		if _, err := ParseIndex([]byte(tc.data)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	for _, tc := range []struct {
		data string
		ok   bool
	}{{`{"imageLayoutVersion":"1.0.0"}`, true}, {`{"imageLayoutVersion":"2.0.0"}`, false}, {`{}`, false}, {`[]`, false}, {`x`, false}} {
		err := CheckLayoutFile([]byte(tc.data))
		if (err == nil) != tc.ok || (err != nil && (!errors.Is(err, ErrNotLayout) || strings.HasPrefix(err.Error(), "layout"))) {
			t.Errorf("CheckLayoutFile(%s): %v", tc.data, err)
		}
	}
}
