package atomicfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRemoveIfDead(t *testing.T) {
	dir := t.TempDir()
	// A live writer: its flock is on its own open file, so a cleaner's flock through another
	// open fails, in this process as in any other.
	live, err := CreateLocked(dir, ".out.tmp-*")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	// A dead writer's file: created, and its descriptor (with the flock) closed.
	dead, err := CreateLocked(dir, ".out.tmp-*")
	if err != nil {
		t.Fatal(err)
	}
	dead.Close()
	// A dead stage folder, and a live one.
	deadDir := filepath.Join(dir, "stage-dead")
	liveDir := filepath.Join(dir, "stage-live")
	for _, d := range []string{deadDir, liveDir} {
		if err := os.MkdirAll(filepath.Join(d, "blobs"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	lf, err := os.Open(liveDir)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if err := Flock(lf, unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(dead.Name(), link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		path string
		dead bool
	}{
		{"live writer", live.Name(), false},
		{"live stage", liveDir, false},
		{"symlink", link, false},
		{"fifo", fifo, false},
		{"missing", filepath.Join(dir, "none"), false},
		{"dead writer", dead.Name(), true},
		{"dead stage", deadDir, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RemoveIfDead(tc.path, false)
			if err != nil || got != tc.dead {
				t.Fatalf("RemoveIfDead(remove=false) = %v, %v; want %v", got, err, tc.dead)
			}
			if _, err := os.Lstat(tc.path); err != nil && tc.name != "missing" {
				t.Fatalf("a look removed it: %v", err)
			}
			got, err = RemoveIfDead(tc.path, true)
			if err != nil || got != tc.dead {
				t.Fatalf("RemoveIfDead(remove=true) = %v, %v; want %v", got, err, tc.dead)
			}
			_, err = os.Lstat(tc.path)
			if gone := os.IsNotExist(err); gone != (tc.dead || tc.name == "missing") {
				t.Fatalf("after removal: %v", err)
			}
		})
	}
	if !SameFile(live, live.Name()) {
		t.Fatal("the live writer's file was removed")
	}
}

func TestCreateLockedHoldsTheLock(t *testing.T) {
	f, err := CreateLocked(t.TempDir(), "x-*")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	other, err := os.Open(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := unix.Flock(int(other.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != unix.EWOULDBLOCK {
		t.Fatalf("flock of a CreateLocked file from another open: %v, want EWOULDBLOCK", err)
	}
	d, err := MkdirLocked(t.TempDir(), "stage-*")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if fi, err := os.Stat(d.Name()); err != nil || !fi.IsDir() {
		t.Fatalf("MkdirLocked made %v, %v", fi, err)
	}
	if dead, err := RemoveIfDead(d.Name(), true); dead || err != nil {
		t.Fatalf("RemoveIfDead of a held folder: %v, %v", dead, err)
	}
	if _, err := CreateLocked(filepath.Join(t.TempDir(), "missing"), "x-*"); err == nil {
		t.Fatal("CreateLocked in a missing folder: no error")
	}
}
