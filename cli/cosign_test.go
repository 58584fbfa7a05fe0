package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gadgetpack/gadgetpack/internal/registrytest"
	"github.com/gadgetpack/gadgetpack/internal/testtool"
)

// cosignRun runs the real cosign CLI with COSIGN_PASSWORD set and returns its combined output.
func cosignRun(tb testing.TB, cosign string, args ...string) (string, error) {
	tb.Helper()
	cmd := exec.Command(cosign, args...)
	cmd.Env = append(os.Environ(), passwordEnv+"=test-password")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// emptyTrustedRoot writes a sigstore trusted root with no authority: cosign verify of a
// key-signed bundle wants one, and none of its CAs or logs is used with --key and
// --insecure-ignore-tlog.
func emptyTrustedRoot(tb testing.TB, dir string) string {
	tb.Helper()
	p := filepath.Join(dir, "trusted_root.json")
	if err := os.WriteFile(p, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestCosignInterop checks our keys and signatures against the real cosign CLI, both ways, over
// a registry on 127.0.0.1: keys of cosign generate-key-pair sign with gadgetpack and keys of
// gadgetpack keygen sign with cosign; cosign verify accepts our legacy and bundle signatures
// after a push; cosign's own signatures (legacy, and its new bundle format), pulled, verify with
// gadgetpack.
func TestCosignInterop(t *testing.T) {
	cosign := testtool.Require(t, "cosign")
	dir := t.TempDir()
	ours := keygen(t, dir, "ours")
	theirs := filepath.Join(dir, "theirs")
	if out, err := cosignRun(t, cosign, "generate-key-pair", "--output-key-prefix", theirs); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	root := emptyTrustedRoot(t, dir)
	reg := registrytest.Start(t, registrytest.Options{})
	bundle := buildDemo(t)

	// gadgetpack signs with cosign's key (legacy) and with its own (bundle); cosign verifies both.
	mustGP(t, "sign", "--layout", bundle, "--key", theirs+".key", "trace_exec")
	mustGP(t, "sign", "--layout", bundle, "--key", ours+".key", "--format", "bundle", "trace_params")
	for _, c := range []struct{ name, pub string }{{"trace_exec", theirs + ".pub"}, {"trace_params", ours + ".pub"}} {
		dst := reg.Ref("ours/" + c.name + ":v1")
		mustGP(t, "push", "--layout", bundle, "--plain-http", c.name, dst)
		args := []string{"verify", "--offline", "--key", c.pub, "--insecure-ignore-tlog", "--allow-insecure-registry"}
		if c.name == "trace_params" {
			args = append(args, "--new-bundle-format", "--trusted-root", root)
		}
		if out, err := cosignRun(t, cosign, append(args, dst)...); err != nil {
			t.Errorf("cosign verify of our %s signature: %v\n%s", c.name, err, out)
		}
		// The other key must not verify: cosign really checked.
		other := ours + ".pub"
		if c.pub == other {
			other = theirs + ".pub"
		}
		if out, err := cosignRun(t, cosign, append(append([]string{}, args[:2]...), append([]string{"--key", other}, append(args[4:], dst)...)...)...); err == nil {
			t.Errorf("cosign verify of our %s signature with the other key passed:\n%s", c.name, out)
		}
	}

	// cosign signs, with gadgetpack's key (legacy) and its own (new bundle format); gadgetpack
	// pulls and verifies.
	plain := filepath.Join(t.TempDir(), "plain")
	mustGP(t, "build", "--layout", plain, "--tag", "trace_exec", repoPath("testdata", "gadgets", "trace_exec"))
	mustGP(t, "build", "--layout", plain, "--tag", "trace_params", repoPath("testdata", "gadgets", "trace_params"))
	legacy, newBundle := reg.Ref("theirs/legacy:v1"), reg.Ref("theirs/bundle:v1")
	mustGP(t, "push", "--layout", plain, "--plain-http", "trace_exec", legacy)
	mustGP(t, "push", "--layout", plain, "--plain-http", "trace_params", newBundle)
	if out, err := cosignRun(t, cosign, "sign", "--yes", "--key", ours+".key", "--tlog-upload=false", "--allow-insecure-registry", legacy); err != nil {
		t.Fatalf("cosign sign (legacy): %v\n%s", err, out)
	}
	if out, err := cosignRun(t, cosign, "sign", "--yes", "--key", theirs+".key", "--new-bundle-format", "--tlog-upload=false", "--allow-insecure-registry", newBundle); err != nil {
		t.Fatalf("cosign sign --new-bundle-format: %v\n%s", err, out)
	}
	pulled := filepath.Join(t.TempDir(), "pulled")
	mustGP(t, "pull", "--layout", pulled, "--plain-http", legacy)
	mustGP(t, "pull", "--layout", pulled, "--plain-http", newBundle)
	r := mustGP(t, "verify", "--rules", "ig", "--public-key", ours+".pub", "--public-key", theirs+".pub", pulled)
	for _, want := range []string{legacy + ": signed (legacy, key ", newBundle + ": signed (bundle, key "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("verify of what cosign signed lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := gp(t, "verify", "--public-key", ours+".pub", pulled); r.code != ExitFailure || !strings.Contains(r.stdout, "sig/invalid") {
		t.Errorf("cosign's bundle verified with the wrong key: exit %d\n%s", r.code, r.stdout)
	}
}
