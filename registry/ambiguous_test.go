package registry

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/internal/registrytest"
	"github.com/gadgetpack/gadgetpack/internal/testfs"
	"github.com/gadgetpack/gadgetpack/layout"
)

// TestPullRefusesAmbiguous: a registry that serves a document another parser reads otherwise
// (a duplicate key, a key in another case, a null where OCI wants a value; the registry itself
// accepts them) gets nothing into the layout: the pull fails naming the key and where, and the
// layout's tree is as it was.
func TestPullRefusesAmbiguous(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{})
	src := newLayout(t)
	im := writeImage(t, src, "example.com/amb:v1", "ambiguous", 1000)
	if _, err := Push(t.Context(), src, "example.com/amb:v1", r.Ref("amb:v1"), plain(r)); err != nil {
		t.Fatal(err)
	}
	index := string(readBlob(t, src, im.index.Digest))
	manifest := string(readBlob(t, src, im.blobs[1].Digest))
	for _, tc := range []struct {
		tag, mediaType, old, new, says string
	}{
		{"dup-manifests", ocispec.MediaTypeImageIndex, `"manifests":[`, `"manifests":[],"manifests":[`, `duplicate key "manifests" at $`},
		{"case-manifests", ocispec.MediaTypeImageIndex, `"manifests":[`, `"Manifests":[],"manifests":[`, `key "Manifests" differs only in case from "manifests" at $`},
		{"dup-layers", ocispec.MediaTypeImageManifest, `"layers":[`, `"layers":[],"layers":[`, `duplicate key "layers" at $`},
		{"dup-digest", ocispec.MediaTypeImageManifest, `"digest":`, `"digest":"sha256:` + strings.Repeat("0", 64) + `","digest":`, `duplicate key "digest" at $.config`},
	} {
		t.Run(tc.tag, func(t *testing.T) {
			doc := index
			if tc.mediaType == ocispec.MediaTypeImageManifest {
				doc = manifest
			}
			if !strings.Contains(doc, tc.old) {
				t.Fatalf("no %q in %s", tc.old, doc)
			}
			putManifest(t, r, "amb", tc.tag, tc.mediaType, strings.Replace(doc, tc.old, tc.new, 1))
			dst := newLayout(t)
			writeImage(t, dst, "example.com/other:v1", "other", 1000)
			before := testfs.TreeDigest(t, dst.Path())
			_, err := Pull(t.Context(), dst.Path(), r.Ref("amb:"+tc.tag), "example.com/amb:"+tc.tag, plain(r))
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("pull: %v, want an error saying %q", err, tc.says)
			}
			if testing.Verbose() {
				t.Log(err)
			}
			if after := testfs.TreeDigest(t, dst.Path()); after != before {
				t.Fatal("a refused pull changed the layout's tree")
			}
		})
	}
}

// putManifest uploads a manifest's bytes as they are under repo:tag, bypassing Push's checks.
func putManifest(tb testing.TB, r *registrytest.Registry, repo, tag, mediaType, body string) {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), http.MethodPut, "http://"+r.Host+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader([]byte(body)))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", mediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusCreated {
		tb.Fatalf("PUT %s:%s: %s", repo, tag, resp.Status)
	}
}

// TestPushRefusesAmbiguous: a layout whose index.json or image index has a duplicate key is
// not pushed: the error names the key and where, and the registry gets no manifest.
func TestPushRefusesAmbiguous(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{})
	for _, tc := range []struct {
		name, says string
		damage     func(t *testing.T, s *layout.Store, im testImage)
	}{
		{"index.json", `duplicate key "manifests" at $`, func(t *testing.T, s *layout.Store, im testImage) {
			path := filepath.Join(s.Path(), layout.IndexFile)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(strings.Replace(string(data), `"manifests":[`, `"manifests":[],"manifests":[`, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"image index", `duplicate key "digest" at $.manifests[0]`, func(t *testing.T, s *layout.Store, im testImage) {
			path := filepath.Join(s.Path(), "blobs", "sha256", im.index.Digest.Encoded())
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			bad := writeBlob(t, s, ocispec.MediaTypeImageIndex, []byte(strings.Replace(string(data), `"digest":`, `"digest":"sha256:`+strings.Repeat("0", 64)+`","digest":`, 1)))
			// Tag checks the graph, and would refuse it: name it in index.json by hand.
			idx := filepath.Join(s.Path(), layout.IndexFile)
			raw, err := os.ReadFile(idx)
			if err != nil {
				t.Fatal(err)
			}
			fixed := strings.Replace(string(raw), string(im.index.Digest)+`","size":`+strconv.FormatInt(im.index.Size, 10),
				string(bad.Digest)+`","size":`+strconv.FormatInt(bad.Size, 10), 1)
			if fixed == string(raw) {
				t.Fatal("index.json does not name the index")
			}
			if err := os.WriteFile(idx, []byte(fixed), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newLayout(t)
			im := writeImage(t, src, "example.com/amb:v1", "push-"+tc.name, 1000)
			tc.damage(t, src, im)
			_, err := Push(t.Context(), src, "example.com/amb:v1", r.Ref("push:"+strings.ReplaceAll(tc.name, " ", "-")), plain(r))
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("push: %v, want an error saying %q", err, tc.says)
			}
			resp, err := http.Head("http://" + r.Host + "/v2/push/manifests/" + strings.ReplaceAll(tc.name, " ", "-"))
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("the registry has the manifest: %s", resp.Status)
			}
		})
	}
}
