package layout

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gadgetpack/gadgetpack/internal/atomicfile"
)

// deadWriter starts a child process that begins a blob write in s, kills it with SIGKILL and
// returns the temp file it left, relative to the layout root.
func deadWriter(tb testing.TB, s *Store) string {
	tb.Helper()
	cmd := helper(tb, "writer", "GP_LAYOUT="+s.Path())
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		tb.Fatalf("writer: %v", err)
	}
	if err := cmd.Process.Kill(); err != nil {
		tb.Fatal(err)
	}
	_ = cmd.Wait()
	rel, err := filepath.Rel(s.Path(), strings.TrimSpace(line))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Path(), rel)); err != nil {
		tb.Fatalf("the killed writer left no temp file: %v", err)
	}
	return rel
}

// liveWriter begins a blob write in this process and returns its temp file, relative to the
// layout root; the write stays in progress until the test ends.
func liveWriter(tb testing.TB, s *Store) string {
	tb.Helper()
	f, err := s.createTemp()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { removeTemp(f) })
	if _, err := f.WriteString("in progress"); err != nil {
		tb.Fatal(err)
	}
	rel, _ := filepath.Rel(s.Path(), f.Name())
	return rel
}

func TestCleanTemp(t *testing.T) {
	s := newStore(t)
	dead := deadWriter(t, s)
	live := liveWriter(t, s)
	// A crash between atomicfile's temp write and its rename leaves this in the root.
	rootTemp := ".index.json.tmp-123456"
	mustWrite(t, filepath.Join(s.Path(), rootTemp), "{")
	other := filepath.Join(TempDir, "not-ours")
	if err := os.Mkdir(filepath.Join(s.Path(), other), 0o755); err != nil {
		t.Fatal(err)
	}

	removed, err := s.CleanTemp(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{rootTemp, dead}
	slices.Sort(want)
	if !slices.Equal(removed, want) {
		t.Fatalf("CleanTemp removed %v, want %v", removed, want)
	}
	for _, rel := range []string{live, other} {
		if _, err := os.Stat(filepath.Join(s.Path(), rel)); err != nil {
			t.Errorf("%s removed: %v", rel, err)
		}
	}
	for _, rel := range want {
		if _, err := os.Stat(filepath.Join(s.Path(), rel)); err == nil {
			t.Errorf("%s still there", rel)
		}
	}
}

func TestCleanerSparesLiveWriter(t *testing.T) {
	// The writer's flock is on its own open file: a cleaner's non-blocking flock through
	// another open of the same file fails, in this process as in any other.
	s := newStore(t)
	f, err := s.createTemp()
	if err != nil {
		t.Fatal(err)
	}
	defer removeTemp(f)
	dead, err := atomicfile.RemoveIfDead(f.Name(), true)
	if err != nil {
		t.Fatal(err)
	}
	if dead {
		t.Fatal("a cleaner took the temp file of a live writer")
	}
	if !atomicfile.SameFile(f.File, f.Name()) {
		t.Fatal("the live writer's temp file was removed")
	}
}
