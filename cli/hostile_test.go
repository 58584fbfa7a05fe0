package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetpack/gadgetpack/internal/termsafe"
)

// This file is the harness of issue 10's cross-command corpus: each hostile case is made on the
// fly by a generator function in a temp folder (big cases too, never committed), then every
// command it applies to runs as a child process under a timeout. A run must exit as the case
// says, name what and where in its output, leave the whole tree below the case's folder as it
// was (the target and its siblings: nothing written outside), and stay under a peak RSS.
// The cases live beside the code they exercise, in files named hostile_*_test.go.

// hostileRun is one command of a hostile case.
type hostileRun struct {
	// args of gadgetpack; "$DIR" in an argument is replaced by the case's folder.
	args []string
	// ok wants exit 0; otherwise the run must exit 1 (refused, not a usage error).
	ok bool
	// says are substrings the combined output (stdout and stderr) must hold: what was wrong
	// and where.
	says []string
	// changes lets the run change the tree below the case's folder (an import that must
	// succeed); by default the tree must be byte for byte as before, as must every sibling.
	changes bool
	// stdin, when not empty, is fed to the command.
	stdin string
	// check, when set, checks the combined output further (what it must not hold, its JSON).
	check func(tb testing.TB, output string)
}

// hostileCase is one crafted input and the commands to run against it.
type hostileCase struct {
	name string
	// make builds the input inside dir (a fresh folder per case).
	make func(tb testing.TB, dir string)
	runs []hostileRun
	// timeout bounds each run (default 60 s): a hang is a failure, not a stuck test.
	timeout time.Duration
	// maxRSS bounds each run's peak resident memory in bytes (default 256 MiB).
	maxRSS int64
	// slow cases are skipped under -short.
	slow bool
}

// hostileOutcome is what one child run did.
type hostileOutcome struct {
	code   int
	output string
	rss    int64 // peak RSS in bytes
	wall   time.Duration
}

// runChild runs gadgetpack (this test binary) with args as a child process under timeout and
// reports its exit code, output and peak RSS. A run still going at the timeout is killed, and
// the outcome's code is -1.
func runChild(tb testing.TB, timeout time.Duration, stdin string, args ...string) hostileOutcome {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := gadgetpackCmd(tb, args...)
	cmd = withContext(ctx, cmd)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	peak := filepath.Join(tb.TempDir(), "peak-rss")
	cmd.Env = append(cmd.Env, peakRSSEnv+"="+peak)
	start := time.Now()
	err := cmd.Run()
	o := hostileOutcome{output: out.String(), wall: time.Since(start)}
	if data, rerr := os.ReadFile(peak); rerr == nil {
		o.rss, _ = strconv.ParseInt(string(data), 10, 64)
	} else if cmd.ProcessState != nil {
		// No report (killed): rusage, which counts the peak of this process too.
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			o.rss = ru.Maxrss * 1024
		}
	}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		o.code = -1
	case errors.As(err, &exit):
		o.code = exit.ExitCode()
	case err != nil:
		tb.Fatalf("gadgetpack %s: %v", strings.Join(args, " "), err)
	}
	return o
}

// peakRSSEnv names the file where a child run as gadgetpack writes its peak RSS in bytes at
// exit: the VmHWM of its own memory. The rusage of a child does not tell it: Linux starts the
// peak of a process that execs at the peak of the one that started it (this test binary,
// which may have built a big case in memory).
const peakRSSEnv = "GADGETPACK_TEST_PEAK_RSS"

// writePeakRSS writes this process's VmHWM, in bytes, to path (if not empty).
func writePeakRSS(path string) {
	if path == "" {
		return
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" && f[2] == "kB" {
			if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				_ = os.WriteFile(path, []byte(strconv.FormatInt(kb*1024, 10)), 0o644)
			}
		}
	}
}

// withContext returns cmd bound to ctx: killed (with its process group) when ctx ends.
func withContext(ctx context.Context, cmd *exec.Cmd) *exec.Cmd {
	c := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	c.Env = cmd.Env
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 5 * time.Second
	return c
}

// runHostile makes each case in its own folder and runs its commands, checking exit code,
// output, the tree, time and memory.
func runHostile(t *testing.T, cases []hostileCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.slow && testing.Short() {
				t.Skip("slow case; -short")
			}
			timeout, maxRSS := c.timeout, c.maxRSS
			if timeout == 0 {
				timeout = 60 * time.Second
			}
			if maxRSS == 0 {
				maxRSS = 256 << 20
			}
			// parent holds the case's folder and an untouched sibling: a write outside the
			// case's folder that lands beside it shows up in the sibling's or parent's digest.
			parent := t.TempDir()
			dir := filepath.Join(parent, "case")
			sibling := filepath.Join(parent, "sibling")
			for _, d := range []string{dir, sibling} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(sibling, "keep"), []byte("keep"), 0o644); err != nil {
				t.Fatal(err)
			}
			c.make(t, dir)
			for _, r := range c.runs {
				args := make([]string, len(r.args))
				for i, a := range r.args {
					args[i] = strings.ReplaceAll(a, "$DIR", dir)
				}
				before := treeDigest(t, parent)
				o := runChild(t, timeout, r.stdin, args...)
				name := "gadgetpack " + termsafe.Escape(strings.Join(r.args, " ")) // args may hold ESC
				want := ExitFailure
				if r.ok {
					want = ExitOK
				}
				switch {
				case o.code == -1:
					t.Errorf("%s: still running after %v (a hang); output so far:\n%s", name, timeout, clip(o.output))
				case o.code != want:
					t.Errorf("%s: exit %d, want %d\n%s", name, o.code, want, clip(o.output))
				}
				for _, s := range r.says {
					if !strings.Contains(o.output, s) {
						t.Errorf("%s: output does not say %q:\n%s", name, s, clip(o.output))
					}
				}
				if r.check != nil {
					r.check(t, o.output)
				}
				if o.rss > maxRSS {
					t.Errorf("%s: peak RSS %d MiB, over %d MiB", name, o.rss>>20, maxRSS>>20)
				}
				if !r.changes {
					if after := treeDigest(t, parent); after != before {
						t.Errorf("%s: changed the tree (target or outside it)", name)
					}
				}
				t.Logf("%s: exit %d in %v, peak RSS %d MiB", name, o.code, o.wall.Round(time.Millisecond), o.rss>>20)
			}
		})
	}
}

// clip shortens long output for a test message.
func clip(s string) string {
	if len(s) > 4000 {
		return s[:2000] + "\n...\n" + s[len(s)-2000:]
	}
	return s
}

// TestHostileHarness checks the harness itself: a refusal that changes nothing passes, and a
// hang, a wrong exit code, a missing message and a change to the tree are each caught.
func TestHostileHarness(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := runChild(t, 30*time.Second, "", "verify", dir)
	if o.code != ExitFailure || !strings.Contains(o.output, "oci-layout") || o.rss == 0 {
		t.Errorf("verify of a bad oci-layout: exit %d, rss %d, output:\n%s", o.code, o.rss, o.output)
	}
	cmd := exec.Command("sleep", "30")
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	c := withContext(ctx, cmd)
	_ = c.Run()
	if time.Since(start) > 10*time.Second || ctx.Err() == nil {
		t.Errorf("withContext did not kill a sleeping child in time")
	}
}
