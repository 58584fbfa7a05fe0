package registry

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/internal/registrytest"
	"github.com/gadgetpack/gadgetpack/internal/testfs"
	"github.com/gadgetpack/gadgetpack/layout"
)

// TestPullMovesRef: pulling a tag that moved moves the local ref too, keeps every other ref,
// and fetches only the new blobs.
func TestPullMovesRef(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{})
	src := newLayout(t)
	one := writeImage(t, src, "example.com/m:one", "one", 10_000)
	two := writeImage(t, src, "example.com/m:two", "two", 10_000)
	ctx := t.Context()
	if _, err := Push(ctx, src, "example.com/m:one", r.Ref("m:latest"), plain(r)); err != nil {
		t.Fatal(err)
	}
	dst := newLayout(t)
	writeImage(t, dst, "example.com/other:v1", "other", 1000)
	if _, err := Pull(ctx, dst.Path(), r.Ref("m:latest"), "example.com/m:latest", plain(r)); err != nil {
		t.Fatal(err)
	}
	if _, err := Push(ctx, src, "example.com/m:two", r.Ref("m:latest"), plain(r)); err != nil {
		t.Fatal(err)
	}
	res, err := Pull(ctx, dst.Path(), r.Ref("m:latest"), "example.com/m:latest", plain(r))
	if err != nil {
		t.Fatal(err)
	}
	refs := refsOf(t, dst)
	if refs["example.com/m:latest"] != two.index.Digest || refs["example.com/other:v1"] == "" || len(refs) != 2 {
		t.Fatalf("refs after the second pull: %v (one is %s)", refs, one.index.Digest)
	}
	if res.Blobs != len(two.blobs) {
		t.Fatalf("second pull fetched %d blobs, want the %d of the new image", res.Blobs, len(two.blobs))
	}
	mustVerify(t, dst)
}

// TestPullByDigest: a ref by digest is pulled and named as given.
func TestPullByDigest(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{})
	src := newLayout(t)
	im := writeImage(t, src, "example.com/d:v1", "digest", 1000)
	if _, err := Push(t.Context(), src, "example.com/d:v1", r.Ref("d:v1"), plain(r)); err != nil {
		t.Fatal(err)
	}
	remote := r.Ref("d@" + string(im.index.Digest))
	dir := filepath.Join(t.TempDir(), "l")
	res, err := Pull(t.Context(), dir, remote, "", plain(r))
	if err != nil {
		t.Fatal(err)
	}
	if res.Refs[0].Digest != im.index.Digest || res.Refs[0].MediaType != ocispec.MediaTypeImageIndex {
		t.Fatalf("pulled %+v", res.Refs)
	}
	got, err := layout.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if refsOf(t, got)[remote] != im.index.Digest {
		t.Fatalf("refs %v", refsOf(t, got))
	}
}

// TestPullRefuses: a bad ref or a destination that is no layout is refused; nothing is written.
func TestPullRefuses(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{})
	src := newLayout(t)
	writeImage(t, src, "example.com/x:v1", "x", 1000)
	if _, err := Push(t.Context(), src, "example.com/x:v1", r.Ref("x:v1"), plain(r)); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "l")
	for _, ref := range []string{"x:v1", r.Ref("x"), r.Ref("X:v1"), ""} {
		if _, err := Pull(t.Context(), dir, ref, "", plain(r)); !errors.Is(err, ErrInvalidReference) {
			t.Errorf("pull %q: %v, want ErrInvalidReference", ref, err)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the layout was created: %v", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("not a layout"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Pull(t.Context(), file, r.Ref("x:v1"), "", plain(r)); !errors.Is(err, layout.ErrNotLayout) {
		t.Fatalf("pull into a file: %v, want ErrNotLayout", err)
	}
	if _, err := Pull(t.Context(), dir, r.Ref("x:v1"), "bad ref name!", plain(r)); !errors.Is(err, layout.ErrInvalidReference) {
		t.Fatalf("pull to a bad local ref: %v", err)
	}
}

// TestPullFailsMidwayLeavesNothing: a pull that fails after some blobs have arrived (a layer
// served corrupt, or the registry killed while a layer is asked for) publishes none of them:
// the layout's tree is byte-identical to what it was, with no stage left in its temp dir.
func TestPullFailsMidwayLeavesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		want error // nil: any error
		// proxy returns the host to pull from, which fails on the victim blob.
		proxy func(t *testing.T, r *registrytest.Registry, victim digest.Digest) string
	}{{
		name: "corrupt layer",
		want: layout.ErrDigestMismatch,
		proxy: func(t *testing.T, r *registrytest.Registry, victim digest.Digest) string {
			return newFaultProxy(t, r, nil, func(resp *http.Response) error {
				if strings.HasSuffix(resp.Request.URL.Path, "/blobs/"+string(victim)) && resp.StatusCode == http.StatusOK {
					resp.Body = flipper{resp.Body}
				}
				return nil
			}).host
		},
	}, {
		// The registry dies while the client asks for the victim, whose connection is reset;
		// the retry finds no registry behind the proxy.
		name: "registry killed",
		proxy: func(t *testing.T, r *registrytest.Registry, victim digest.Digest) string {
			return newFaultProxy(t, r, func(w http.ResponseWriter, req *http.Request) bool {
				if !strings.HasSuffix(req.URL.Path, "/blobs/"+string(victim)) {
					return false
				}
				r.Stop()
				resetConn(w)
				return true
			}, nil).host
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := registrytest.Start(t, registrytest.Options{})
			src := newLayout(t)
			im := writeImage(t, src, "example.com/mid:v1", "midway", 200_000)
			if _, err := Push(t.Context(), src, "example.com/mid:v1", r.Ref("mid:v1"), plain(r)); err != nil {
				t.Fatal(err)
			}
			// One blob at a time, depth first: the first manifest, its config and layer and the
			// second config are staged when the second layer fails.
			victim := im.layers[1].Digest
			host := tc.proxy(t, r, victim)

			dst := newLayout(t)
			writeImage(t, dst, "example.com/mid:v1", "older", 1000)
			before := testfs.TreeDigest(t, dst.Path())
			opts := Options{PlainHTTP: true, Retries: 1, Concurrency: 1}
			_, err := Pull(t.Context(), dst.Path(), host+"/mid:v1", "example.com/mid:v1", opts)
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want an error wrapping %v", err, tc.want)
			}
			if after := testfs.TreeDigest(t, dst.Path()); after != before {
				t.Fatal("a failed pull changed the layout's tree")
			}
			if ents, err := os.ReadDir(filepath.Join(dst.Path(), layout.TempDir)); len(ents) != 0 || err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("left in %s: %v %v", layout.TempDir, ents, err)
			}
			for _, b := range im.blobs {
				if ok, _ := dst.Exists(t.Context(), b); ok {
					t.Fatalf("blob %s of the failed pull was published", b.Digest)
				}
			}
			mustVerify(t, dst)

			// Into a path that does not exist: it still does not after the failure.
			missing := filepath.Join(t.TempDir(), "new", "layout")
			if _, err := Pull(t.Context(), missing, host+"/mid:v1", "", opts); err == nil {
				t.Fatal("pull into a new path succeeded through the faulty registry")
			}
			if _, err := os.Lstat(filepath.Dir(missing)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a failed pull left %s behind: %v", filepath.Dir(missing), err)
			}
		})
	}
}
