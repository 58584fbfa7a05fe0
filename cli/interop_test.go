package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/internal/testtool"
)

// TestSkopeoReadsOurLayout: skopeo's oci: transport finds each of our full refs and returns
// the index bytes we wrote.
func TestSkopeoReadsOurLayout(t *testing.T) {
	skopeo := testtool.Require(t, "skopeo")
	dir := buildDemo(t)
	for _, name := range []string{"trace_exec", "trace_params"} {
		ref := "ghcr.io/inspektor-gadget/gadget/" + name + ":latest"
		out, err := exec.Command(skopeo, "inspect", "--raw", "oci:"+dir+":"+ref).Output()
		if err != nil {
			t.Fatalf("skopeo inspect --raw %s: %v\n%s", ref, err, stderrOf(err))
		}
		var inspected struct {
			Digest string `json:"digest"`
		}
		r := mustGP(t, "inspect", "--layout", dir, "--json", name)
		if err := json.Unmarshal([]byte(r.stdout), &inspected); err != nil {
			t.Fatal(err)
		}
		blob, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(inspected.Digest, "sha256:")))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, blob) {
			t.Fatalf("skopeo returned other bytes than the index blob of %s", ref)
		}
		var idx ocispec.Index
		if err := json.Unmarshal(out, &idx); err != nil || len(idx.Manifests) != 2 {
			t.Fatalf("index of %s: %d manifests, %v", ref, len(idx.Manifests), err)
		}
	}
}

// TestUmociListsOurLayout: umoci ls opens our layout and lists our refs.
func TestUmociListsOurLayout(t *testing.T) {
	umoci := testtool.Require(t, "umoci")
	dir := buildDemo(t)
	out, err := exec.Command(umoci, "ls", "--layout", dir).Output()
	if err != nil {
		t.Fatalf("umoci ls: %v\n%s", err, stderrOf(err))
	}
	for _, want := range []string{"ghcr.io/inspektor-gadget/gadget/trace_exec:latest", "ghcr.io/inspektor-gadget/gadget/trace_params:latest"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("umoci ls does not list %s:\n%s", want, out)
		}
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
