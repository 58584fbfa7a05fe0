package cli

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestCrashAtRandomInstants SIGKILLs build and tag processes at random instants and checks
// after each kill that the layout verifies and that every ref that existed before still
// resolves to what it did.
func TestCrashAtRandomInstants(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dozens of processes")
	}
	base := buildDemo(t)
	refsBefore := mustGP(t, "list", "--layout", base, "--json").stdout

	// How long a build and a tag take here: kills are spread over that span.
	span := func(args ...string) time.Duration {
		dir := filepath.Join(t.TempDir(), "probe")
		copyTree(t, base, dir)
		start := time.Now()
		cmd := gadgetpackCmd(t, append([]string{args[0], "--layout", dir}, args[1:]...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return time.Since(start)
	}
	src := repoPath("testdata", "gadgets", "trace_exec")
	buildArgs := []string{"build", "--tag", "crash_build", src}
	tagArgs := []string{"tag", "trace_params", "crash_tag"}
	spans := map[string]time.Duration{"build": span(buildArgs...), "tag": span(tagArgs...)}

	seed := time.Now().UnixNano()
	t.Logf("seed %d, build takes %v, tag %v", seed, spans["build"], spans["tag"])
	rng := rand.New(rand.NewSource(seed))
	// Rounds go on until wantKilled processes were killed mid-run. A process that finished
	// before its kill shows that the probe overestimated its span (a loaded machine runs the
	// probe slower than later rounds), so that span shrinks.
	const wantKilled, maxRounds = 12, 80
	killed, rounds := 0, 0
	defer func() {
		t.Logf("%d of %d rounds killed before the command finished", killed, rounds)
		if !t.Failed() && killed < wantKilled {
			t.Errorf("only %d of %d rounds were killed mid-run: the test crashed too little", killed, rounds)
		}
	}()
	for i := 0; killed < wantKilled && i < maxRounds; i++ {
		rounds++
		args := buildArgs
		if i%2 == 1 {
			args = tagArgs
		}
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("round%d", i))
		copyTree(t, base, dir)
		delay := time.Duration(rng.Int63n(int64(spans[args[0]]) * 12 / 10))
		cmd := gadgetpackCmd(t, append([]string{args[0], "--layout", dir}, args[1:]...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed++
		} else {
			spans[args[0]] = spans[args[0]] * 7 / 10
		}

		rep, r := verifyJSON(t, dir)
		if r.code != 0 || !rep.OK {
			t.Fatalf("round %d (%s killed after %v): layout broken: %+v", i, args[0], delay, rep.Problems)
		}
		list := mustGP(t, "list", "--layout", dir, "--json").stdout
		for _, line := range strings.Split(refsBefore, "\n") {
			if !strings.Contains(list, line) {
				t.Fatalf("round %d (%s killed after %v): lost %q\nnow:\n%s", i, args[0], delay, line, list)
			}
		}
		// The next writer clears what the dead one left behind, and gc leaves nothing dirty.
		mustGP(t, "gc", "--layout", dir)
		rep, _ = verifyJSON(t, dir)
		if len(rep.Problems) != 0 {
			t.Fatalf("round %d: after gc: %+v", i, rep.Problems)
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
