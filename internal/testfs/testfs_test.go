package testfs

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestTreeDigestSeesEveryChange(t *testing.T) {
	src := SharedPath(t, "interop", "ig-store")
	dir := filepath.Join(t.TempDir(), "copy")
	CopyTree(t, src, dir)
	if TreeDigest(t, filepath.Join(t.TempDir(), "none")) != "absent" {
		t.Fatal("a missing dir does not hash to absent")
	}
	index := filepath.Join(dir, "index.json")
	for _, change := range []struct {
		name string
		do   func() error
	}{
		{"content", func() error { return os.WriteFile(index, []byte("{}"), 0o644) }},
		{"mode", func() error { return os.Chmod(index, 0o600) }},
		{"mtime", func() error { return os.Chtimes(index, time.Unix(1, 0), time.Unix(1, 0)) }},
		{"new dir", func() error { return os.Mkdir(filepath.Join(dir, "x"), 0o755) }},
		{"removal", func() error { return os.Remove(filepath.Join(dir, "oci-layout")) }},
	} {
		before, stamp := TreeDigest(t, dir), TreeStamp(t, dir)
		if err := change.do(); err != nil {
			t.Fatal(err)
		}
		if TreeStamp(t, dir) == stamp {
			t.Errorf("%s: stamp unchanged", change.name)
		}
		if (TreeDigest(t, dir) == before) != (change.name == "mtime") {
			t.Errorf("%s: digest changed %v, want %v", change.name, TreeDigest(t, dir) != before, change.name != "mtime")
		}
	}
}
