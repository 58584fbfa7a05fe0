package layout

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// helperEnv selects the role of a re-executed test binary (see TestHelperProcess).
const helperEnv = "GADGETPACK_LAYOUT_HELPER"

// helper returns a command that re-runs this test binary as TestHelperProcess in role, with the
// extra environment env.
func helper(tb testing.TB, role string, env ...string) *exec.Cmd {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + role}, env...)...)
	cmd.Stderr = os.Stderr
	return cmd
}

// TestHelperProcess is not a test: it is the body of child processes started by other tests.
//
//	tag:    tag GP_N refs "<GP_PREFIX>/<i>:t" to the descriptor GP_DESC in layout GP_LAYOUT
//	hold:   take the index lock of GP_LAYOUT as ig does (flock LOCK_EX), print "locked", wait
//	        for stdin to close
//	writer: start a blob write in GP_LAYOUT, print its temp file, wait to be killed
func TestHelperProcess(t *testing.T) {
	role := os.Getenv(helperEnv)
	if role == "" {
		return // the body of a child process started by other tests; nothing to do here
	}
	root := os.Getenv("GP_LAYOUT")
	err := func() error {
		switch role {
		case "tag":
			s, err := Open(root)
			if err != nil {
				return err
			}
			var desc ocispec.Descriptor
			if err := json.Unmarshal([]byte(os.Getenv("GP_DESC")), &desc); err != nil {
				return err
			}
			n, _ := strconv.Atoi(os.Getenv("GP_N"))
			for i := range n {
				if err := s.Tag(context.Background(), desc, fmt.Sprintf("%s/%d:t", os.Getenv("GP_PREFIX"), i)); err != nil {
					return err
				}
			}
			return nil
		case "hold":
			f, err := os.OpenFile(filepath.Join(root, LockFile), os.O_CREATE|os.O_RDONLY, 0o600)
			if err != nil {
				return err
			}
			if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
				return err
			}
			fmt.Println("locked")
			_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until stdin closes
			return nil
		case "writer":
			s, err := Open(root)
			if err != nil {
				return err
			}
			f, err := s.createTemp()
			if err != nil {
				return err
			}
			if _, err := f.WriteString("half a blob"); err != nil {
				return err
			}
			fmt.Println(f.Name())
			time.Sleep(time.Minute)
			return nil
		}
		return fmt.Errorf("unknown role %q", role)
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// refsOf returns the set of ref names in the layout.
func refsOf(tb testing.TB, s *Store) map[string]bool {
	tb.Helper()
	refs, err := s.Refs(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]bool{}
	for _, r := range refs {
		out[refName(r)] = true
	}
	return out
}

func TestTagConcurrentGoroutines(t *testing.T) {
	s := newStore(t)
	im := buildImage(t, s, "x")
	const writers, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each goroutine has its own Store value, as separate commands would.
			s, err := Open(s.Path())
			if err != nil {
				errs <- err
				return
			}
			for i := range each {
				if err := s.Tag(t.Context(), im.index, fmt.Sprintf("example.com/g%d/%d:t", w, i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := refsOf(t, s)
	for w := range writers {
		for i := range each {
			if ref := fmt.Sprintf("example.com/g%d/%d:t", w, i); !got[ref] {
				t.Errorf("ref %s lost", ref)
			}
		}
	}
	if len(got) != writers*each {
		t.Errorf("%d refs, want %d", len(got), writers*each)
	}
	assertVerifies(t, s.Path())
}

func TestTagConcurrentProcesses(t *testing.T) {
	s := newStore(t)
	im := buildImage(t, s, "x")
	desc, _ := json.Marshal(im.index)
	const procs, each = 8, 50
	var cmds []*exec.Cmd
	for p := range procs {
		cmd := helper(t, "tag", "GP_LAYOUT="+s.Path(), "GP_DESC="+string(desc), "GP_N="+strconv.Itoa(each), fmt.Sprintf("GP_PREFIX=example.com/p%d", p))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("tagging process: %v", err)
		}
	}
	got := refsOf(t, s)
	for p := range procs {
		for i := range each {
			if ref := fmt.Sprintf("example.com/p%d/%d:t", p, i); !got[ref] {
				t.Errorf("ref %s lost", ref)
			}
		}
	}
	if len(got) != procs*each {
		t.Errorf("%d refs, want %d", len(got), procs*each)
	}
	assertVerifies(t, s.Path())
}

func TestTagWaitsForLock(t *testing.T) {
	s := newStore(t)
	im := buildImage(t, s, "x")
	holder := helper(t, "hold", "GP_LAYOUT="+s.Path())
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Wait()
	defer stdin.Close()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "locked\n" {
		t.Fatalf("holder said %q, %v", line, err)
	}

	done := make(chan error, 1)
	go func() { done <- s.Tag(context.Background(), im.index, "example.com/waited:1") }()
	select {
	case err := <-done:
		t.Fatalf("Tag returned while another process held the lock: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if d, _, err := s.readIndexFile(false); err != nil || len(d.entries) != 0 {
		t.Fatalf("index.json changed while another process held the lock (%v)", err)
	}
	stdin.Close() // the holder exits, the kernel drops its flock
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Tag after the lock was released: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Tag did not land after the lock was released")
	}
	if !refsOf(t, s)["example.com/waited:1"] {
		t.Fatal("ref missing after Tag")
	}
}

func TestLockCancel(t *testing.T) {
	s := newStore(t)
	l, err := s.lock(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, exclusive := range []bool{true, false} {
		c, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		_, err := s.lock(c, exclusive)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("lock(exclusive=%v) under a held lock: %v, want DeadlineExceeded", exclusive, err)
		}
	}
	// Shared locks share.
	if err := l.unlock(); err != nil {
		t.Fatal(err)
	}
	r1, err := s.lock(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer r1.unlock()
	c, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	r2, err := s.lock(c, false)
	if err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	r2.unlock()
}
