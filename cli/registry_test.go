package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/internal/registrytest"
	"github.com/gadgetpack/gadgetpack/internal/testtool"
	"github.com/gadgetpack/gadgetpack/layout"
	"github.com/gadgetpack/gadgetpack/registry"
)

// gpIn runs gadgetpack in process with stdin.
func gpIn(tb testing.TB, stdin string, args ...string) result {
	tb.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"gadgetpack"}, args...), strings.NewReader(stdin), &out, &errb)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// blobSet maps every blob file of a layout to its content's sha256 (its name, if it is sound).
func blobSet(tb testing.TB, dir string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		out[e.Name()] = digest.FromBytes(data).Encoded()
	}
	return out
}

// contentDigest hashes a layout's index.json and blobs: what a reader sees (a read takes the
// shared index lock, which creates index.json.lock where ig's store had none).
func contentDigest(tb testing.TB, dir string) string {
	tb.Helper()
	index, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return digest.FromBytes(index).Encoded() + " " + treeDigest(tb, filepath.Join(dir, "blobs"))
}

// inspectDigest returns the digest of ref in the layout at dir.
func inspectDigest(tb testing.TB, dir, ref string) string {
	tb.Helper()
	var v struct {
		Digest string `json:"digest"`
	}
	r := mustGP(tb, "inspect", "--layout", dir, "--json", ref)
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		tb.Fatal(err)
	}
	return v.Digest
}

// TestRegistryRoundTrip: build -> push -> skopeo sees our index bytes -> pull into an empty
// layout -> the same blobs, verify clean.
func TestRegistryRoundTrip(t *testing.T) {
	skopeo := testtool.Require(t, "skopeo")
	r := registrytest.Start(t, registrytest.Options{})
	src := buildDemo(t)
	for _, name := range []string{"trace_exec", "trace_params"} {
		dst := r.Ref("gadgets/" + name + ":v1")
		res := mustGP(t, "push", "--layout", src, "--plain-http", name, dst)
		want := inspectDigest(t, src, name)
		if !strings.Contains(res.stdout, want+" ghcr.io/inspektor-gadget/gadget/"+name+":latest -> "+dst) {
			t.Fatalf("push output:\n%s", res.stdout)
		}
		raw, err := exec.Command(skopeo, "inspect", "--raw", "--tls-verify=false", "docker://"+dst).Output()
		if err != nil {
			t.Fatalf("skopeo inspect --raw %s: %v\n%s", dst, err, stderrOf(err))
		}
		ours, err := os.ReadFile(filepath.Join(src, "blobs", "sha256", strings.TrimPrefix(want, "sha256:")))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(raw, ours) {
			t.Fatalf("skopeo got other index bytes for %s:\n%s\nwant\n%s", dst, raw, ours)
		}
	}
	back := filepath.Join(t.TempDir(), "back")
	for _, name := range []string{"trace_exec", "trace_params"} {
		res := mustGP(t, "pull", "--layout", back, "--plain-http", r.Ref("gadgets/"+name+":v1"), name)
		if !strings.Contains(res.stdout, "pulled 1 refs") {
			t.Fatalf("pull output:\n%s", res.stdout)
		}
		if got, want := inspectDigest(t, back, name), inspectDigest(t, src, name); got != want {
			t.Fatalf("%s pulled as %s, want %s", name, got, want)
		}
	}
	srcBlobs, backBlobs := blobSet(t, src), blobSet(t, back)
	if len(srcBlobs) != len(backBlobs) {
		t.Fatalf("%d blobs pulled, %d built", len(backBlobs), len(srcBlobs))
	}
	for name, sum := range srcBlobs {
		if backBlobs[name] != sum {
			t.Fatalf("blob %s differs after the round trip", name)
		}
	}
	rep, res := verifyJSON(t, back)
	if res.code != 0 || !rep.OK || len(rep.Problems) != 0 {
		t.Fatalf("verify of the pulled layout: exit %d, %+v", res.code, rep.Problems)
	}
}

// TestRegistryMirrorIGStore: ig's store mirrored with push --all --to, then its signed gadgets
// pulled back with their signatures: the legacy cosign .sig tag and the OCI 1.1 referrer.
func TestRegistryMirrorIGStore(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{})
	src := filepath.Join(t.TempDir(), "ig-store")
	copyTree(t, sharedPath(t, "interop", "ig-store"), src)
	before := contentDigest(t, src)
	res := mustGP(t, "push", "--layout", src, "--plain-http", "--all", "--to", r.Ref("mirror"))
	for _, want := range []string{
		"-> " + r.Ref("mirror/inspektor-gadget/gadget/unsigned:francis-signature-unit-tests"),
		"-> " + r.Ref("mirror/signed_with_cosign_oci11:latest") + " (1 referrers)",
		"-> " + r.Ref("mirror/signed_with_cosign_legacy:sha256-20296fb8a8c8a97808229625945da73f5f4d5843800317ead8c203081156cc9c.sig"),
		"pushed 9 refs",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("push --all output lacks %q:\n%s", want, res.stdout)
		}
	}
	if !strings.Contains(res.stderr, "warning: skipped sha256-5cf9ca27") {
		t.Errorf("no warning about the notation tag of an image the store lacks:\n%s", res.stderr)
	}
	if contentDigest(t, src) != before {
		t.Error("push changed the layout")
	}

	back := filepath.Join(t.TempDir(), "back")
	for _, name := range []string{"signed_with_cosign_legacy", "signed_with_cosign_oci11"} {
		mustGP(t, "pull", "--layout", back, "--plain-http", r.Ref("mirror/"+name+":latest"), "ttl.sh/"+name+":latest")
	}
	store, err := layout.Open(back)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := store.Refs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range refs {
		names = append(names, d.Annotations[ocispec.AnnotationRefName])
	}
	sort.Strings(names)
	want := []string{
		"sha256-20296fb8a8c8a97808229625945da73f5f4d5843800317ead8c203081156cc9c.sig",
		"sha256-2f096beb75baadce98f52500552f1d7eabf19f4c35007869350d6f496084e992",
		"ttl.sh/signed_with_cosign_legacy:latest",
		"ttl.sh/signed_with_cosign_oci11:latest",
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("refs after pull:\n%v\nwant\n%v", names, want)
	}
	oci11, err := store.Resolve(t.Context(), "ttl.sh/signed_with_cosign_oci11:latest")
	if err != nil {
		t.Fatal(err)
	}
	referrers, err := store.Referrers(t.Context(), oci11)
	if err != nil || len(referrers) != 1 || referrers[0].ArtifactType != "application/vnd.dev.cosign.artifact.sig.v1+json" {
		t.Fatalf("referrers of the OCI 1.1 gadget: %v, %v", referrers, err)
	}
	// Every blob pulled is ig's own, byte for byte.
	srcBlobs := blobSet(t, src)
	for name, sum := range blobSet(t, back) {
		if srcBlobs[name] != sum {
			t.Fatalf("pulled blob %s is not ig's", name)
		}
	}
	rep, vres := verifyJSON(t, "--rules", "ig", back)
	if vres.code != 0 || !rep.OK {
		t.Fatalf("verify --rules ig of the pulled layout: exit %d, %+v", vres.code, rep.Problems)
	}
}

// TestRegistryAuth: a registry behind htpasswd accepts --username with --password-stdin, an
// --authfile and REGISTRY_AUTH_FILE.
func TestRegistryAuth(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{Auth: true})
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("REGISTRY_AUTH_FILE", "")
	src := buildDemo(t)
	res := gpIn(t, r.Password+"\n", "push", "--layout", src, "--plain-http", "--username", r.Username, "--password-stdin", "trace_exec", r.Ref("auth/trace_exec:v1"))
	if res.code != 0 {
		t.Fatalf("push with --password-stdin: exit %d\n%s", res.code, res.stderr)
	}
	authfile := r.AuthFile(t, t.TempDir(), "", "")
	back := filepath.Join(t.TempDir(), "back")
	mustGP(t, "pull", "--layout", back, "--plain-http", "--authfile", authfile, r.Ref("auth/trace_exec:v1"))
	t.Setenv("REGISTRY_AUTH_FILE", authfile)
	mustGP(t, "push", "--layout", src, "--plain-http", "--all", "--to", r.Ref("all"))
	mustGP(t, "pull", "--layout", back, "--plain-http", r.Ref("all/inspektor-gadget/gadget/trace_params:latest"))
	if inspectDigest(t, back, r.Ref("all/inspektor-gadget/gadget/trace_params:latest")) != inspectDigest(t, src, "trace_params") {
		t.Fatal("pulled another image")
	}
}

// TestRegistryErrors: wrong password, registry down, missing ref, TLS mismatch: a clear error
// naming the registry and its answer, exit 1, in bounded time, the layout unchanged (or not
// created).
func TestRegistryErrors(t *testing.T) {
	plainReg := registrytest.Start(t, registrytest.Options{})
	authReg := registrytest.Start(t, registrytest.Options{Auth: true})
	tlsReg := registrytest.Start(t, registrytest.Options{TLS: true})
	down := registrytest.ClosedAddr(t)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("REGISTRY_AUTH_FILE", "")
	src := buildDemo(t)
	mustGP(t, "push", "--layout", src, "--plain-http", "trace_exec", plainReg.Ref("x:v1"))
	mustGP(t, "push", "--layout", src, "--ca-file", tlsReg.CAFile, "trace_exec", tlsReg.Ref("x:v1"))
	gpIn(t, authReg.Password, "push", "--layout", src, "--plain-http", "--username", authReg.Username, "--password-stdin", "trace_exec", authReg.Ref("x:v1"))
	existing := buildDemo(t)

	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		says  []string
	}{
		{"wrong password", "wrong", []string{"--plain-http", "--username", authReg.Username, "--password-stdin", authReg.Ref("x:v1")},
			[]string{authReg.Host + " answered 401 Unauthorized", "check the user name and password"}},
		{"no credentials", "", []string{"--plain-http", authReg.Ref("x:v1")},
			[]string{authReg.Host + " answered 401 Unauthorized", "--username NAME --password-stdin"}},
		{"registry down", "", []string{"--plain-http", down + "/x:v1"}, []string{"registry " + down + ": connection refused"}},
		{"missing ref", "", []string{"--plain-http", plainReg.Ref("x:nope")}, []string{plainReg.Host + " answered 404 Not Found", "x:nope"}},
		{"missing repository", "", []string{"--plain-http", plainReg.Ref("nothing:v1")}, []string{plainReg.Host + " answered 404 Not Found"}},
		{"self-signed without --ca-file", "", []string{tlsReg.Ref("x:v1")},
			[]string{"registry " + tlsReg.Host + ": TLS: x509: certificate signed by unknown authority", "--ca-file FILE", "--insecure"}},
		{"plain HTTP to TLS", "", []string{"--plain-http", tlsReg.Ref("x:v1")}, []string{"400 Bad Request to plain HTTP", "drop --plain-http"}},
		{"HTTPS to plain HTTP", "", []string{plainReg.Ref("x:v1")}, []string{"speaks plain HTTP", "use --plain-http"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, dir := range []string{existing, filepath.Join(t.TempDir(), "absent")} {
				before := treeDigest(t, dir)
				start := time.Now()
				res := gpIn(t, tc.stdin, append([]string{"pull", "--layout", dir}, tc.args...)...)
				if elapsed := time.Since(start); elapsed > 10*time.Second {
					t.Errorf("pull took %v", elapsed)
				}
				if res.code != ExitFailure {
					t.Fatalf("pull: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
				}
				if strings.Count(res.stderr, "gadgetpack: ") != 1 || !strings.HasPrefix(res.stderr, "gadgetpack: pull ") {
					t.Errorf("stderr is not one error line: %q", res.stderr)
				}
				for _, s := range tc.says {
					if !strings.Contains(res.stderr, s) {
						t.Errorf("pull error does not say %q:\n%s", s, res.stderr)
					}
				}
				if after := treeDigest(t, dir); after != before {
					t.Fatalf("the failed pull changed %s", dir)
				}
			}
			// The same registry answers a push alike; the layout pushed from is untouched.
			before := treeDigest(t, src)
			args := append([]string{"push", "--layout", src}, tc.args[:len(tc.args)-1]...)
			res := gpIn(t, tc.stdin, append(args, "trace_exec", strings.Replace(tc.args[len(tc.args)-1], ":nope", ":v2", 1))...)
			if strings.HasPrefix(tc.name, "missing") {
				if res.code != 0 {
					t.Fatalf("push to a new tag or repository: exit %d\n%s", res.code, res.stderr)
				}
			} else if res.code != ExitFailure || !strings.Contains(res.stderr, tc.says[0]) {
				t.Fatalf("push: exit %d, stderr %q", res.code, res.stderr)
			}
			if treeDigest(t, src) != before {
				t.Fatal("push changed the layout it read")
			}
		})
	}

	// What fixes the TLS mismatch: the CA, or no verification.
	for _, flag := range [][]string{{"--ca-file", tlsReg.CAFile}, {"--insecure"}} {
		dir := filepath.Join(t.TempDir(), "tls")
		mustGP(t, append(append([]string{"pull", "--layout", dir}, flag...), tlsReg.Ref("x:v1"))...)
	}
}

// TestRegistryUsage: flag mistakes are usage errors (exit 2) found before any network I/O.
func TestRegistryUsage(t *testing.T) {
	dir := buildDemo(t)
	down := registrytest.ClosedAddr(t) + "/x:v1"
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"push without args", "", []string{"push", "--layout", dir}},
		{"push one arg", "", []string{"push", "--layout", dir, "trace_exec"}},
		{"push --all without --to", "", []string{"push", "--layout", dir, "--all"}},
		{"push --to without --all", "", []string{"push", "--layout", dir, "--to", "r.example/m", "trace_exec", down}},
		{"push --all with args", "", []string{"push", "--layout", dir, "--all", "--to", "r.example/m", "trace_exec"}},
		{"pull without args", "", []string{"pull", "--layout", dir}},
		{"pull three args", "", []string{"pull", "--layout", dir, "a", "b", "c"}},
		{"username without password-stdin", "", []string{"pull", "--layout", dir, "--username", "u", down}},
		{"password-stdin without username", "p", []string{"pull", "--layout", dir, "--password-stdin", down}},
		{"empty password", "\n", []string{"pull", "--layout", dir, "--username", "u", "--password-stdin", down}},
		{"username and authfile", "p", []string{"pull", "--layout", dir, "--username", "u", "--password-stdin", "--authfile", "x.json", down}},
		{"plain-http with insecure", "", []string{"pull", "--layout", dir, "--plain-http", "--insecure", down}},
		{"negative jobs", "", []string{"pull", "--layout", dir, "--jobs", "-1", down}},
		{"bad remote ref", "", []string{"pull", "--layout", dir, "Bad/Ref"}},
		{"bad local ref", "", []string{"pull", "--layout", dir, down, "Bad/Ref"}},
		{"flag after args", "", []string{"pull", "--layout", dir, down, "--plain-http"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := treeDigest(t, dir)
			res := gpIn(t, tc.stdin, tc.args...)
			if res.code != ExitUsage {
				t.Fatalf("exit %d, want 2\nstderr:\n%s", res.code, res.stderr)
			}
			if treeDigest(t, dir) != before {
				t.Fatal("the layout changed")
			}
		})
	}
	// A bad --to is the registry package's refusal (exit 1), before anything is sent.
	if res := gp(t, "push", "--layout", dir, "--all", "--to", "mirror"); res.code != ExitFailure || !strings.Contains(res.stderr, "no registry host") {
		t.Fatalf("push --all --to mirror: exit %d, %q", res.code, res.stderr)
	}
}

// TestTransferProgressLine: the progress of a transfer names the blob and the totals.
func TestTransferProgressLine(t *testing.T) {
	var buf bytes.Buffer
	bar := &progress{w: &buf, label: "push r/x:v1", start: time.Now().Add(-2 * time.Second), enabled: true}
	report := transferProgress(bar)
	report(registry.Progress{
		Blob:     ocispec.Descriptor{Digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Size: 4 << 20},
		BlobDone: 1 << 20, Done: 3 << 20, Total: 10 << 20, Blobs: 2, TotalBlobs: 7,
	})
	got := buf.String()
	for _, want := range []string{"\rpush r/x:v1: sha256:0123456789ab 1.0 MiB/4.0 MiB", "2/7 blobs, 3.0 MiB/10.0 MiB", "MiB/s"} {
		if !strings.Contains(got, want) {
			t.Fatalf("progress line %q lacks %q", got, want)
		}
	}
	buf.Reset()
	report(registry.Progress{Blob: ocispec.Descriptor{Digest: "sha256:ab", Size: 1}, Done: 4 << 20, Total: 10 << 20})
	if buf.Len() != 0 {
		t.Fatalf("drew again within 100 ms: %q", buf.String())
	}
	report(registry.Progress{Blob: ocispec.Descriptor{Digest: "sha256:ab", Size: 1}, Skipped: true, Done: 10 << 20, Total: 10 << 20})
	if !strings.Contains(buf.String(), "already there") {
		t.Fatalf("the last report was not drawn: %q", buf.String())
	}
}
