package cli

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The ambiguous-JSON row of issue 10: documents that encoding/json reads one way (the last of
// two keys wins, a key in another case maps to a field, null reads as empty) and another
// parser another way. Each case damages a copy of the demo layout, tars it by hand (export
// refuses it), and every command that reads it must refuse it, naming the key and where, and
// change nothing.

// jsonCase makes the folder of one case: src, a copy of demo damaged by damage; bundle.tar, src
// tarred by hand; target, an intact copy of the demo to import and copy into.
func jsonCase(demo string, damage func(tb testing.TB, src string)) func(tb testing.TB, dir string) {
	return func(tb testing.TB, dir string) {
		tb.Helper()
		src := filepath.Join(dir, "src")
		copyTree(tb, demo, src)
		damage(tb, src)
		tarLayout(tb, src, filepath.Join(dir, "bundle.tar"))
		copyTree(tb, demo, filepath.Join(dir, "target"))
	}
}

// jsonRuns are the commands a case runs, each of which must exit 1 saying says: verify of the
// layout and of the tarball, list, inspect, gc, export, copy, and import into an existing
// layout and into a missing path. skip leaves out commands that do not read what is damaged.
func jsonRuns(says []string, skip ...string) []hostileRun {
	all := []struct {
		name string
		args []string
	}{
		{"verify", []string{"verify", "$DIR/src"}},
		{"verify-tar", []string{"verify", "$DIR/bundle.tar"}},
		{"list", []string{"list", "--layout", "$DIR/src"}},
		{"inspect", []string{"inspect", "--layout", "$DIR/src", "ghcr.io/inspektor-gadget/gadget/trace_exec:latest"}},
		{"gc", []string{"gc", "--layout", "$DIR/src"}},
		{"export", []string{"export", "--layout", "$DIR/src", "-o", "$DIR/out.tar"}},
		{"copy", []string{"copy", "--layout", "$DIR/src", "--to", "$DIR/target"}},
		{"import", []string{"import", "--layout", "$DIR/target", "$DIR/bundle.tar"}},
		{"import-missing", []string{"import", "--layout", "$DIR/missing", "$DIR/bundle.tar"}},
	}
	var runs []hostileRun
	for _, r := range all {
		if !slices.Contains(skip, r.name) {
			runs = append(runs, hostileRun{args: r.args, says: says})
		}
	}
	return runs
}

func TestHostileJSON(t *testing.T) {
	const exec = "ghcr.io/inspektor-gadget/gadget/trace_exec:latest"
	demo := buildDemo(t)
	runHostile(t, []hostileCase{
		{
			name: "duplicate manifests in index.json",
			make: jsonCase(demo, func(tb testing.TB, src string) {
				replaceIn(tb, filepath.Join(src, "index.json"), `"manifests":[`, `"manifests":[],"manifests":[`)
			}),
			runs: jsonRuns([]string{`duplicate key "manifests" at $`, "index.json"}),
		},
		{
			name: "duplicate digest in an index.json entry",
			make: jsonCase(demo, func(tb testing.TB, src string) {
				replaceIn(tb, filepath.Join(src, "index.json"), `"digest":`, `"digest":"sha256:`+strings.Repeat("0", 64)+`","digest":`)
			}),
			runs: jsonRuns([]string{`duplicate key "digest" at $.manifests[0]`, "index.json"}),
		},
		{
			name: "duplicate ref name",
			make: jsonCase(demo, func(tb testing.TB, src string) {
				replaceIn(tb, filepath.Join(src, "index.json"), `"org.opencontainers.image.ref.name":`, `"org.opencontainers.image.ref.name":"evil:1","org.opencontainers.image.ref.name":`)
			}),
			runs: jsonRuns([]string{`duplicate key "org.opencontainers.image.ref.name" at $.manifests[0].annotations`}),
		},
		{
			name: "duplicate imageLayoutVersion",
			make: jsonCase(demo, func(tb testing.TB, src string) {
				replaceIn(tb, filepath.Join(src, "oci-layout"), `{`, `{"imageLayoutVersion":"9.9.9",`)
			}),
			runs: jsonRuns([]string{`duplicate key "imageLayoutVersion" at $`, "oci-layout"}),
		},
		{
			name: "null manifests",
			make: jsonCase(demo, func(tb testing.TB, src string) {
				writeFile(tb, filepath.Join(src, "index.json"), `{"schemaVersion":2,"manifests":null}`)
			}),
			runs: jsonRuns([]string{`null "manifests" at $`, "index.json"}),
		},
		{
			name: "BOM before index.json",
			make: jsonCase(demo, func(tb testing.TB, src string) {
				replaceIn(tb, filepath.Join(src, "index.json"), `{`, "\xef\xbb\xbf{")
			}),
			runs: jsonRuns([]string{`byte order mark`, "index.json"}),
		},
		{
			name: "case variant of manifests",
			make: jsonCase(demo, func(tb testing.TB, src string) {
				replaceIn(tb, filepath.Join(src, "index.json"), `"manifests":[`, `"Manifests":[],"manifests":[`)
			}),
			runs: jsonRuns([]string{`key "Manifests" differs only in case from "manifests" at $`, "index.json"}),
		},
		{
			name: "index.json nested 100,000 deep",
			make: jsonCase(demo, func(tb testing.TB, src string) {
				replaceIn(tb, filepath.Join(src, "index.json"), `{`, `{"x-deep":`+strings.Repeat(`[`, 100000)+strings.Repeat(`]`, 100000)+`,`)
			}),
			runs: jsonRuns([]string{`over 1000 levels of nesting at $["x-deep"][0][0]`, "index.json"}),
		},
		{
			name: "duplicate digest in a nested index",
			make: jsonCase(demo, func(tb testing.TB, src string) {
				rewriteBlob(tb, src, exec, `"digest":`, `"digest":"sha256:`+strings.Repeat("0", 64)+`","digest":`)
			}),
			runs: jsonRuns([]string{`duplicate key "digest" at $.manifests[0]`}),
		},
	})
}

// replaceIn replaces the first old in the file at path by new.
func replaceIn(tb testing.TB, path, old, new string) {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		tb.Fatalf("%s has no %q", path, old)
	}
	writeFile(tb, path, strings.Replace(string(data), old, new, 1))
}

// writeFile replaces the file at path with content.
func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// rewriteBlob replaces old by new in the index.json entry ref's blob, stores the result as a
// new blob and points the entry at it (digest and size).
func rewriteBlob(tb testing.TB, layoutDir, ref, old, new string) {
	tb.Helper()
	idxPath := filepath.Join(layoutDir, "index.json")
	idx, err := os.ReadFile(idxPath)
	if err != nil {
		tb.Fatal(err)
	}
	// The demo's entries are {"mediaType":...,"digest":"sha256:HEX","size":N,"annotations":{ref}}.
	entryEnd := strings.Index(string(idx), `"`+ref+`"`)
	start := strings.LastIndex(string(idx[:entryEnd]), `"digest":"sha256:`)
	if entryEnd < 0 || start < 0 {
		tb.Fatalf("index.json has no entry %s", ref)
	}
	hexStart := start + len(`"digest":"sha256:`)
	oldHex := string(idx[hexStart : hexStart+64])
	data, err := os.ReadFile(filepath.Join(layoutDir, "blobs", "sha256", oldHex))
	if err != nil {
		tb.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		tb.Fatalf("blob %s has no %q", oldHex, old)
	}
	blob := []byte(strings.Replace(string(data), old, new, 1))
	sum := sha256.Sum256(blob)
	newHex := hex.EncodeToString(sum[:])
	if err := os.WriteFile(filepath.Join(layoutDir, "blobs", "sha256", newHex), blob, 0o444); err != nil {
		tb.Fatal(err)
	}
	s := strings.Replace(string(idx), oldHex+`","size":`+strconv.Itoa(len(data)), newHex+`","size":`+strconv.Itoa(len(blob)), 1)
	if s == string(idx) {
		tb.Fatalf("index.json: entry %s not of size %d", ref, len(data))
	}
	writeFile(tb, idxPath, s)
}

// tarLayout writes the layout at dir as a plain tar, as export lays it out (oci-layout, the
// blobs, index.json last), without any of export's checks.
func tarLayout(tb testing.TB, dir, out string) {
	tb.Helper()
	var names []string
	err := filepath.WalkDir(filepath.Join(dir, "blobs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, rel)
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	slices.Sort(names)
	names = append(append([]string{"oci-layout"}, names...), "index.json")
	f, err := os.Create(out)
	if err != nil {
		tb.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			tb.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}
