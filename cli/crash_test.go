package cli

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetpack/gadgetpack/layout"
)

// TestCrashAtRandomInstants SIGKILLs build, tag and copy processes at random instants and
// checks after each kill that the layout written into verifies and that every ref that existed
// in it before still resolves to what it did.
func TestCrashAtRandomInstants(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dozens of processes")
	}
	base := buildDemo(t)
	// copy writes into a layout of its own refs: trace_exec's blobs are new to it.
	target := filepath.Join(t.TempDir(), "target")
	mustGP(t, "build", "--layout", target, "--tag", "crash_target", repoPath("testdata", "gadgets", "trace_params"))
	src := repoPath("testdata", "gadgets", "trace_exec")
	cmds := []struct {
		name string
		into string                    // the layout the command writes into, copied for each round
		args func(dir string) []string // the command line writing into dir
	}{
		{"build", base, func(dir string) []string { return []string{"build", "--layout", dir, "--tag", "crash_build", src} }},
		{"tag", base, func(dir string) []string { return []string{"tag", "--layout", dir, "trace_params", "crash_tag"} }},
		{"copy", target, func(dir string) []string { return []string{"copy", "--layout", base, "--to", dir} }},
	}
	refsBefore := map[string]string{}
	for _, l := range []string{base, target} {
		refsBefore[l] = mustGP(t, "list", "--layout", l, "--json").stdout
	}

	// How long each command takes here: kills are spread over that span.
	spans := map[string]time.Duration{}
	for _, c := range cmds {
		dir := filepath.Join(t.TempDir(), "probe-"+c.name)
		copyTree(t, c.into, dir)
		start := time.Now()
		if out, err := gadgetpackCmd(t, c.args(dir)...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c.args(dir), err, out)
		}
		spans[c.name] = time.Since(start)
	}

	seed := time.Now().UnixNano()
	t.Logf("seed %d, build takes %v, tag %v, copy %v", seed, spans["build"], spans["tag"], spans["copy"])
	rng := rand.New(rand.NewSource(seed))
	// Rounds go on until each command was killed mid-run wantKilled times. A process that
	// finished before its kill shows that the probe overestimated its span (a loaded machine
	// runs the probe slower than later rounds), so that span shrinks.
	const wantKilled, maxRounds = 6, 120
	killed, rounds, leftTemp := map[string]int{}, 0, 0
	enough := func() bool {
		for _, c := range cmds {
			if killed[c.name] < wantKilled {
				return false
			}
		}
		return true
	}
	defer func() {
		t.Logf("killed before the command finished, in %d rounds: %v; %d left temp files for gc", rounds, killed, leftTemp)
		if !t.Failed() && !enough() {
			t.Errorf("killed mid-run %v in %d rounds, want %d of each: the test crashed too little", killed, rounds, wantKilled)
		}
	}()
	for i := 0; !enough() && i < maxRounds; i++ {
		c := cmds[i%len(cmds)]
		if killed[c.name] >= wantKilled {
			continue
		}
		rounds++
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("round%d", i))
		copyTree(t, c.into, dir)
		delay := time.Duration(rng.Int63n(int64(spans[c.name]) * 12 / 10))
		cmd := gadgetpackCmd(t, c.args(dir)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed[c.name]++
		} else {
			spans[c.name] = spans[c.name] * 7 / 10
		}

		rep, r := verifyJSON(t, dir)
		if r.code != 0 || !rep.OK {
			t.Fatalf("round %d (%s killed after %v): layout broken: %+v", i, c.name, delay, rep.Problems)
		}
		list := mustGP(t, "list", "--layout", dir, "--json").stdout
		for _, line := range strings.Split(refsBefore[c.into], "\n") {
			if !strings.Contains(list, line) {
				t.Fatalf("round %d (%s killed after %v): lost %q\nnow:\n%s", i, c.name, delay, line, list)
			}
		}
		// The next writer clears what the dead one left behind (a copy's stage too), and gc
		// leaves nothing dirty.
		if ents, _ := os.ReadDir(filepath.Join(dir, layout.TempDir)); len(ents) != 0 {
			leftTemp++
		}
		mustGP(t, "gc", "--layout", dir)
		rep, _ = verifyJSON(t, dir)
		if len(rep.Problems) != 0 {
			t.Fatalf("round %d: after gc: %+v", i, rep.Problems)
		}
		if ents, _ := os.ReadDir(filepath.Join(dir, layout.TempDir)); len(ents) != 0 {
			t.Fatalf("round %d (%s killed after %v): gc left %s/%s", i, c.name, delay, layout.TempDir, ents[0].Name())
		}
	}
}

// TestManyWriters runs 8 processes that build and tag into one layout at once: no ref is lost.
func TestManyWriters(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dozens of processes")
	}
	dir := buildDemo(t)
	src := repoPath("testdata", "gadgets", "trace_params")
	const writers, each = 8, 4
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for k := 0; k < each; k++ {
				var args []string
				if k == 0 {
					args = []string{"build", "--layout", dir, "--tag", fmt.Sprintf("built_%d", w), src}
				} else {
					args = []string{"tag", "--layout", dir, "trace_exec", fmt.Sprintf("tagged_%d_%d", w, k)}
				}
				if out, err := gadgetpackCmd(t, args...).CombinedOutput(); err != nil {
					errs <- fmt.Errorf("%v: %v\n%s", args, err, out)
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	list := mustGP(t, "list", "--layout", dir, "--quiet").stdout
	want := 2 + writers*each
	if got := strings.Count(list, "\n"); got != want {
		t.Fatalf("%d refs after %d writers, want %d:\n%s", got, writers, want, list)
	}
	rep, r := verifyJSON(t, dir)
	if r.code != 0 || len(rep.Problems) != 0 {
		t.Fatalf("verify: %+v", rep.Problems)
	}
}
