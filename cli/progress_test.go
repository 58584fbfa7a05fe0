package cli

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal and returns its follower side, a real terminal.
func openPTY(tb testing.TB) *os.File {
	tb.Helper()
	leader, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("no pseudo-terminals in CI: %v", err)
		}
		tb.Skipf("no pseudo-terminals here: %v", err)
	}
	tb.Cleanup(func() { leader.Close() })
	if err := unix.IoctlSetPointerInt(int(leader.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		tb.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(leader.Fd()), unix.TIOCGPTN)
	if err != nil {
		tb.Fatal(err)
	}
	follower, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { follower.Close() })
	return follower
}

func TestIsTerminal(t *testing.T) {
	if !isTerminal(openPTY(t)) {
		t.Fatal("a pty is not taken for a terminal")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(w) || isTerminal(&bytes.Buffer{}) {
		t.Fatal("a pipe or a buffer is taken for a terminal")
	}
}

func TestProgressLine(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, label: "verify x", start: time.Now(), enabled: true}
	p.bytes(10<<20, 100<<20)
	if buf.Len() != 0 {
		t.Fatalf("drew before a second had passed: %q", buf.String())
	}
	p.start = time.Now().Add(-2 * time.Second)
	p.bytes(50<<20, 100<<20)
	if got := buf.String(); !strings.HasPrefix(got, "\rverify x:  50.0% of 100 MiB, ") {
		t.Fatalf("progress line %q", got)
	}
	p.done()
	if !strings.HasSuffix(buf.String(), "\r\033[K") {
		t.Fatalf("done did not clear the line: %q", buf.String())
	}
	buf.Reset()
	off := &progress{w: &buf, label: "x", start: time.Now().Add(-time.Hour)}
	off.bytes(1, 2)
	off.count(1, 2)
	off.done()
	if buf.Len() != 0 {
		t.Fatalf("a disabled progress drew %q", buf.String())
	}
}
