package cli

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gadgetpack/gadgetpack/internal/testtool"
	"github.com/gadgetpack/gadgetpack/layout"
)

const traceExecRef = "ghcr.io/inspektor-gadget/gadget/trace_exec:latest"

// refsOf returns the refs `list --quiet` prints for a layout.
func refsOf(tb testing.TB, dir string) []string {
	tb.Helper()
	return strings.Fields(mustGP(tb, "list", "--quiet", "--layout", dir).stdout)
}

func TestCopyIntoIGStore(t *testing.T) {
	bundle := buildDemo(t)
	store := filepath.Join(t.TempDir(), "oci-store")
	copyTree(t, sharedPath(t, "interop", "ig-store"), store)
	before := refsOf(t, store)

	r := mustGP(t, "copy", "--json", "--layout", bundle, "--to", store, "trace_exec")
	var res layout.CopyResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("copy --json: %v\n%s", err, r.stdout)
	}
	if res.Entries.Added != 1 || res.Copied == 0 || res.Copied != res.Blobs {
		t.Fatalf("copy result %+v, want one ref added and every blob written", res)
	}
	after := refsOf(t, store)
	for _, ref := range append(before, traceExecRef) {
		if !strings.Contains(strings.Join(after, " "), ref) {
			t.Errorf("ref %s missing after copy: %v", ref, after)
		}
	}
	if rep, vr := verifyJSON(t, "--rules", "ig", store); !rep.OK {
		t.Fatalf("ig store after copy does not verify: %s", vr.stdout)
	}
	// ig's store keeps no folder of ours.
	if _, err := os.Lstat(filepath.Join(store, layout.TempDir)); !os.IsNotExist(err) {
		t.Errorf("copy left %s in ig's store: %v", layout.TempDir, err)
	}
	// The same bytes on both sides.
	want := mustGP(t, "inspect", "--layout", bundle, "trace_exec").stdout
	if got := mustGP(t, "inspect", "--layout", store, "trace_exec").stdout; got != want {
		t.Errorf("inspect differs across the copy:\n%s\nvs\n%s", got, want)
	}

	// Every ref (no REF): trace_params lands, trace_exec is there already.
	r = mustGP(t, "copy", "--layout", bundle, "--to", store)
	if !strings.Contains(r.stdout, "1 added, 0 moved, 1 already there") {
		t.Errorf("second copy printed %q, want trace_params added", r.stdout)
	}
	// Again: nothing to write.
	snapshot := treeDigest(t, store)
	r = mustGP(t, "copy", "--layout", bundle, "--to", store)
	if !strings.Contains(r.stdout, ": 0 of 15 blobs written") || treeDigest(t, store) != snapshot {
		t.Errorf("third copy printed %q or changed the store, want nothing written", r.stdout)
	}
}

func TestCopyRefusals(t *testing.T) {
	bundle := buildDemo(t)
	other := filepath.Join(t.TempDir(), "other")
	mustGP(t, "build", "--layout", other, "--tag", "trace_exec", repoPath("testdata", "gadgets", "trace_params"))
	missing := filepath.Join(t.TempDir(), "missing")

	for _, tc := range []struct {
		name string
		args []string
		dst  string
		code int
		want string
	}{
		{"no --to", []string{"copy", "--layout", bundle}, missing, 2, "to"},
		{"unknown ref", []string{"copy", "--layout", bundle, "--to", missing, "nope"}, missing, 1, "nope"},
		{"ref elsewhere", []string{"copy", "--layout", bundle, "--to", other, "trace_exec"}, other, 1, traceExecRef + " is sha256:"},
		{"bad jobs", []string{"copy", "--layout", bundle, "--to", other, "--jobs", "0"}, other, 2, "--jobs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := treeDigest(t, tc.dst)
			r := gp(t, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d naming %q", r.code, r.stderr, tc.code, tc.want)
			}
			if after := treeDigest(t, tc.dst); after != before {
				t.Errorf("%s changed", tc.dst)
			}
		})
	}
	mustGP(t, "copy", "--layout", bundle, "--to", other, "--force", "trace_exec")
	if rep, vr := verifyJSON(t, other); !rep.OK {
		t.Fatal(vr.stdout)
	}
}

// TestCopyWaitsForIGLock: another process (flock(1), as ig's gofrs/flock would) holds the
// target's index.json.lock; copy waits for it, then lands.
func TestCopyWaitsForIGLock(t *testing.T) {
	flockPath := testtool.Require(t, "flock")
	bundle := buildDemo(t)
	store := filepath.Join(t.TempDir(), "oci-store")
	copyTree(t, sharedPath(t, "interop", "ig-store"), store)
	const hold = 1500 * time.Millisecond
	holder := exec.Command(flockPath, "--exclusive", filepath.Join(store, layout.LockFile),
		"sh", "-c", "echo locked; sleep "+strings.TrimSuffix(hold.String(), "s"))
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Wait()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "locked\n" {
		t.Fatalf("lock holder said %q, %v", line, err)
	}
	start := time.Now()
	mustGP(t, "copy", "--layout", bundle, "--to", store, "trace_exec")
	if waited := time.Since(start); waited < hold/2 {
		t.Fatalf("copy returned after %v while the lock was held for %v", waited, hold)
	}
	if err := holder.Wait(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(refsOf(t, store), " "), traceExecRef) {
		t.Fatal("trace_exec not in the store after the lock was released")
	}
	if rep, vr := verifyJSON(t, "--rules", "ig", store); !rep.OK {
		t.Fatal(vr.stdout)
	}
}
