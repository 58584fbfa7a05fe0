package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/internal/testtool"
)

// indexBlob reads the image index that ref names in the layout dir (its index.json entry of
// that org.opencontainers.image.ref.name), and returns its digest and its manifests' digests.
func indexBlob(tb testing.TB, dir, ref string) (string, []string) {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var top ocispec.Index
	if err := json.Unmarshal(data, &top); err != nil {
		tb.Fatal(err)
	}
	for _, e := range top.Manifests {
		if e.Annotations[ocispec.AnnotationRefName] != ref {
			continue
		}
		blob, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", e.Digest.Encoded()))
		if err != nil {
			tb.Fatal(err)
		}
		var idx ocispec.Index
		if err := json.Unmarshal(blob, &idx); err != nil {
			tb.Fatal(err)
		}
		var ms []string
		for _, m := range idx.Manifests {
			ms = append(ms, m.Digest.String())
		}
		return e.Digest.String(), ms
	}
	tb.Fatalf("%s: no entry named %s in:\n%s", dir, ref, data)
	return "", nil
}

// TestSkopeoReadsOurTarball: skopeo's oci-archive: transport reads our export (ref as in
// index.json's org.opencontainers.image.ref.name) and copies each gadget into a layout that
// verifies, with every per-arch manifest under its digest. skopeo 1.9 rewrites the index
// itself (it drops the descriptors' artifactType), so its digest is not compared.
func TestSkopeoReadsOurTarball(t *testing.T) {
	skopeo := testtool.Require(t, "skopeo")
	src := buildDemo(t)
	dir := t.TempDir()
	for _, comp := range []string{"none", "gzip"} {
		bundle := filepath.Join(dir, "bundle-"+comp+".tar")
		mustGP(t, "export", "--quiet", "--layout", src, "--compress", comp, "-o", bundle)
		for _, name := range []string{"trace_exec", "trace_params"} {
			ref := "ghcr.io/inspektor-gadget/gadget/" + name + ":latest"
			dst := filepath.Join(dir, "skopeo-"+comp+"-"+name)
			cmd := exec.Command(skopeo, "copy", "--all", "oci-archive:"+bundle+":"+ref, "oci:"+dst+":"+ref)
			cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("skopeo copy --all oci-archive:%s:%s: %v\n%s", filepath.Base(bundle), ref, err, out)
			}
			if rep, r := verifyJSON(t, "--rules", "ig", dst); r.code != 0 || !rep.OK {
				t.Fatalf("skopeo's copy of %s does not verify: %+v", ref, rep.Problems)
			}
			_, want := indexBlob(t, src, ref)
			_, got := indexBlob(t, dst, ref)
			if !slices.Equal(got, want) {
				t.Fatalf("skopeo's copy of %s: manifests %v, want %v", ref, got, want)
			}
		}
	}
}

// TestRegctlImportsOurTarball: regctl image import reads our export into an OCI layout (its
// ocidir:// target needs no registry), byte for byte: the index keeps its digest.
func TestRegctlImportsOurTarball(t *testing.T) {
	regctl := testtool.Require(t, "regctl")
	src := buildDemo(t)
	dir := t.TempDir()
	bundle := filepath.Join(dir, "bundle.tar")
	mustGP(t, "export", "--quiet", "--layout", src, "-o", bundle)
	for _, name := range []string{"trace_exec", "trace_params"} {
		ref := "ghcr.io/inspektor-gadget/gadget/" + name + ":latest"
		dst := filepath.Join(dir, "regctl")
		cmd := exec.Command(regctl, "image", "import", "ocidir://"+dst+":"+name, bundle, "--name", ref)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("regctl image import ocidir://%s:%s %s --name %s: %v\n%s", dst, name, bundle, ref, err, out)
		}
		if rep, r := verifyJSON(t, "--rules", "ig", dst); r.code != 0 || !rep.OK {
			t.Fatalf("regctl's import of %s does not verify: %+v", ref, rep.Problems)
		}
		wantDigest, want := indexBlob(t, src, ref)
		gotDigest, got := indexBlob(t, dst, name)
		if gotDigest != wantDigest || !slices.Equal(got, want) {
			t.Fatalf("regctl's import of %s: index %s %v, want %s %v", ref, gotDigest, got, wantDigest, want)
		}
	}
	// And the re-export of what regctl wrote carries the same gadget.
	out := mustGP(t, "export", "--json", "--layout", filepath.Join(dir, "regctl"), "-o", filepath.Join(dir, "again.tar"), "trace_exec")
	if !strings.Contains(out.stdout, `"trace_exec"`) {
		t.Fatalf("re-export of regctl's layout:\n%s", out.stdout)
	}
}
