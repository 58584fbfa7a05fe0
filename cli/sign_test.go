package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gadgetpack/gadgetpack/internal/registrytest"
	"github.com/gadgetpack/gadgetpack/sign"
)

// keygen makes a key pair with gadgetpack keygen under dir and returns the prefix.
func keygen(tb testing.TB, dir, name string) string {
	tb.Helper()
	tb.Setenv(passwordEnv, "test-password")
	prefix := filepath.Join(dir, name)
	mustGP(tb, "keygen", "--output-key-prefix", prefix)
	return prefix
}

// TestKeygen writes cosign's format with the right modes, refuses to overwrite, and refuses a
// wrong password at sign time.
func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	prefix := keygen(t, dir, "k")
	fi, err := os.Stat(prefix + ".key")
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key: %v, mode %v", err, fi.Mode())
	}
	data, _ := os.ReadFile(prefix + ".key")
	if !strings.Contains(string(data), "BEGIN "+sign.PEMSigstoreEncrypted) {
		t.Errorf("private key is not cosign's encrypted PEM:\n%s", data)
	}
	if strings.Contains(string(data), "test-password") {
		t.Errorf("the password is in the key file")
	}
	if r := gp(t, "keygen", "--output-key-prefix", prefix); r.code != ExitFailure || !strings.Contains(r.stderr, "exists") {
		t.Errorf("second keygen: exit %d, %s", r.code, r.stderr)
	}
	layoutDir := buildDemo(t)
	t.Setenv(passwordEnv, "wrong")
	r := gp(t, "sign", "--layout", layoutDir, "--key", prefix+".key", "trace_exec")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "wrong password") || strings.Contains(r.stderr+r.stdout, "wrong\n") {
		t.Errorf("sign with a wrong password: exit %d, %s", r.code, r.stderr)
	}
}

// TestSignVerifyRoundTrip: sign one of the demo's two gadgets; verify with the key finds the
// other unsigned (exit 1, sig/missing naming it), on the layout and on its tarball; sign the
// other, and both verify; another key verifies neither.
func TestSignVerifyRoundTrip(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "site")
	other := keygen(t, dir, "other")
	bundle := buildDemo(t)
	if err := os.Chmod(key+".key", 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustGP(t, "sign", "--layout", bundle, "--key", key+".key", "--recursive", "trace_exec")
	if !strings.Contains(r.stderr, "readable by others") {
		t.Errorf("no warning for a key readable by others: %s", r.stderr)
	}
	if n := strings.Count(r.stdout, "signed "); n != 3 {
		t.Errorf("--recursive signed %d digests, want 3 (index + 2 manifests):\n%s", n, r.stdout)
	}
	tar := filepath.Join(dir, "bundle.tar")
	mustGP(t, "export", "--layout", bundle, "-o", tar)
	for _, target := range []string{bundle, tar} {
		r := gp(t, "verify", "--public-key", key+".pub", target)
		if r.code != ExitFailure || !strings.Contains(r.stdout, "sig/missing") || !strings.Contains(r.stdout, "trace_params") ||
			!strings.Contains(r.stdout, "signature ghcr.io/inspektor-gadget/gadget/trace_exec:latest: signed (legacy") {
			t.Errorf("verify %s with one gadget unsigned: exit %d\n%s%s", target, r.code, r.stdout, r.stderr)
		}
	}
	mustGP(t, "sign", "--layout", bundle, "--key", key+".key", "--format", "bundle", "trace_params")
	mustGP(t, "export", "--layout", bundle, "-o", filepath.Join(dir, "signed.tar"))
	for _, target := range []string{bundle, filepath.Join(dir, "signed.tar")} {
		r := mustGP(t, "verify", "--public-key", other+".pub", "--public-key", key+".pub", target)
		if !strings.Contains(r.stdout, "trace_params:latest: signed (bundle") {
			t.Errorf("verify %s: %s", target, r.stdout)
		}
		rep, res := verifyJSON(t, "--public-key", other+".pub", target)
		if res.code != ExitFailure || rep.OK || !hasRule(rep.Problems, sign.RuleInvalid) {
			t.Errorf("verify %s with another key: exit %d, %+v", target, res.code, rep.Problems)
		}
		if !strings.Contains(res.stdout, `"signatures"`) || !strings.Contains(res.stdout, `"verdict": "invalid"`) {
			t.Errorf("--json has no signatures:\n%s", res.stdout)
		}
	}
	// Without --public-key nothing about signatures is an error.
	mustGP(t, "verify", bundle)
}

// TestVerifyIGSignatures: ig's real store with ig's test key.
func TestVerifyIGSignatures(t *testing.T) {
	store := sharedPath(t, "interop", "ig-store")
	keys := sharedPath(t, "interop", "keys")
	rep, r := verifyJSON(t, "--rules", "ig", "--public-key", filepath.Join(keys, "ig-test.pub"), store)
	counts := map[string]int{}
	for _, p := range rep.Problems {
		counts[p.Rule]++
	}
	if r.code != ExitFailure || counts[sign.RuleMissing] != 1 || counts[sign.RuleUnsupported] != 2 || counts[sign.RuleInvalid] != 0 {
		t.Errorf("ig-store with ig-test.pub: exit %d, %v", r.code, counts)
	}
	rep, _ = verifyJSON(t, "--rules", "ig", "--public-key", filepath.Join(keys, "ig-test-other.pub"), store)
	counts = map[string]int{}
	for _, p := range rep.Problems {
		counts[p.Rule]++
	}
	if counts[sign.RuleInvalid] != 3 {
		t.Errorf("ig-store with ig-test-other.pub: %v, want the 3 cosign-signed images invalid", counts)
	}
}

// TestSignatureGate: a bundle with one signed and one unsigned gadget. import, copy and push
// with --public-key refuse it whole, naming the unsigned ref, and write nothing (the target
// tree, or the registry's storage, unchanged); with only the signed ref selected, copy and push
// go through; once both are signed, import goes through.
func TestSignatureGate(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "site")
	bundle := buildDemo(t)
	mustGP(t, "sign", "--layout", bundle, "--key", key+".key", "trace_exec")
	tar := filepath.Join(dir, "bundle.tar")
	mustGP(t, "export", "--layout", bundle, "-o", tar)
	pub := key + ".pub"

	existing := filepath.Join(dir, "existing")
	mustGP(t, "build", "--layout", existing, "--tag", "other", repoPath("testdata", "gadgets", "trace_params"))
	for _, target := range []string{existing, filepath.Join(dir, "absent")} {
		before := treeDigest(t, target)
		r := gp(t, "import", "--layout", target, "--public-key", pub, tar)
		if r.code != ExitFailure || !strings.Contains(r.stderr, "trace_params:latest") || !strings.Contains(r.stderr, sign.RuleMissing) || strings.Contains(r.stderr, "trace_exec:latest:") {
			t.Errorf("import into %s: exit %d\n%s", target, r.code, r.stderr)
		}
		if treeDigest(t, target) != before {
			t.Errorf("refused import changed %s", target)
		}
	}
	copyTo := filepath.Join(dir, "copy")
	r := gp(t, "copy", "--layout", bundle, "--to", copyTo, "--public-key", pub)
	if r.code != ExitFailure || !strings.Contains(r.stderr, "trace_params:latest") || treeDigest(t, copyTo) != "absent" {
		t.Errorf("copy of everything: exit %d\n%s", r.code, r.stderr)
	}
	mustGP(t, "copy", "--layout", bundle, "--to", copyTo, "--public-key", pub, "trace_exec")

	reg := registrytest.Start(t, registrytest.Options{})
	before := treeDigest(t, reg.Root)
	r = gp(t, "push", "--layout", bundle, "--plain-http", "--public-key", pub, "trace_params", reg.Ref("g/trace_params:v1"))
	if r.code != ExitFailure || !strings.Contains(r.stderr, "trace_params:latest") || treeDigest(t, reg.Root) != before {
		t.Errorf("push of the unsigned gadget: exit %d\n%s", r.code, r.stderr)
	}
	r = gp(t, "push", "--layout", bundle, "--plain-http", "--public-key", pub, "--all", "--to", reg.Ref("mirror"))
	if r.code != ExitFailure || treeDigest(t, reg.Root) != before {
		t.Errorf("push --all with one unsigned gadget: exit %d\n%s", r.code, r.stderr)
	}
	mustGP(t, "push", "--layout", bundle, "--plain-http", "--public-key", pub, "trace_exec", reg.Ref("g/trace_exec:v1"))

	mustGP(t, "sign", "--layout", bundle, "--key", key+".key", "trace_params")
	mustGP(t, "export", "--layout", bundle, "-o", filepath.Join(dir, "signed.tar"))
	mustGP(t, "import", "--layout", existing, "--public-key", pub, filepath.Join(dir, "signed.tar"))
	// The gate looked only at what it imported: the target's own "other" stays unsigned.
	r = mustGP(t, "list", "--layout", existing, "--public-key", pub)
	for _, want := range []string{"trace_params:latest", "signed (legacy, key ", "other:latest"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("list after the gated import lacks %q:\n%s", want, r.stdout)
		}
	}
}
