package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gadgetpack/gadgetpack/layout"
)

// TestScanReferrers: in a copy of ig's store whose index.json no longer lists one notation
// signature (a referrer kept as a bare blob, as some tools leave them), verify warns about it,
// export and copy of its image leave it behind, and with --scan-referrers carry it and list it
// in what they write, so that what they wrote needs no scan.
func TestScanReferrers(t *testing.T) {
	const (
		ref = "ttl.sh/signed_with_notation_config_media_type_empty:latest"
		sig = "sha256:698ea4c298a5365a4542ef288f13dd290ff8691848351fabc9c7cd9730e11dd7" // its notation signature
	)
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	copyTree(t, sharedPath(t, "interop", "ig-store"), store)
	var idx map[string]any
	data, err := os.ReadFile(filepath.Join(store, layout.IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatal(err)
	}
	ms := idx["manifests"].([]any)
	idx["manifests"] = slices.DeleteFunc(ms, func(m any) bool { return m.(map[string]any)["digest"] == sig })
	if len(idx["manifests"].([]any)) != len(ms)-1 {
		t.Fatalf("ig's store does not list %s", sig)
	}
	if data, err = json.Marshal(idx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(store, layout.IndexFile), data, 0o644); err != nil {
		t.Fatal(err)
	}

	if r := gp(t, "verify", store); !strings.Contains(r.stdout, "layout/unlisted-referrer") || !strings.Contains(r.stdout, strings.TrimPrefix(sig, "sha256:")) {
		t.Errorf("verify does not warn about the unlisted referrer:\n%s", r.stdout)
	}
	for _, scan := range []bool{false, true} {
		args := []string{"--layout", store}
		if scan {
			args = append(args, "--scan-referrers")
		}
		out := filepath.Join(t.TempDir(), "out.tar")
		mustGP(t, append(append([]string{"export"}, args...), "-o", out, ref)...)
		blob, listed := tarHolds(t, out, sig)
		if blob != scan || listed != scan {
			t.Errorf("export, scan %v: the referrer is in the tar: %v, listed in its index.json: %v", scan, blob, listed)
		}
		to := filepath.Join(t.TempDir(), "copy")
		mustGP(t, append(append([]string{"copy"}, args...), "--to", to, ref)...)
		_, err := os.Stat(filepath.Join(to, "blobs", "sha256", strings.TrimPrefix(sig, "sha256:")))
		if err == nil != scan {
			t.Errorf("copy, scan %v: the referrer is in the target: %v", scan, err == nil)
		}
		if scan {
			if r := mustGP(t, "verify", "--rules", "ig", to); strings.Contains(r.stdout, "unlisted-referrer") {
				t.Errorf("the copy does not list the referrer it carried:\n%s", r.stdout)
			}
		}
	}
}

// tarHolds reports whether the tarball at path holds the blob dg and whether its index.json
// lists dg.
func tarHolds(tb testing.TB, path, dg string) (blob, listed bool) {
	tb.Helper()
	dir := tb.TempDir()
	untar(tb, path, dir)
	_, err := os.Stat(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(dg, "sha256:")))
	idx, rerr := os.ReadFile(filepath.Join(dir, layout.IndexFile))
	if rerr != nil {
		tb.Fatal(rerr)
	}
	return err == nil, strings.Contains(string(idx), `"`+dg+`"`)
}
