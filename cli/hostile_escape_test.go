package cli

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gadgetpack/gadgetpack/spec"
)

// rawFile is one file of a layout written byte for byte, as a crafted bundle holds it.
type rawFile struct {
	name string
	data []byte
}

// rawBlob returns the file of blob data under blobs/sha256/.
func rawBlob(data []byte) rawFile {
	return rawFile{"blobs/sha256/" + sha256Hex(data), data}
}

func sha256Hex(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// rawDesc is a descriptor of data as a map, so a test can put any field in it.
func rawDesc(mediaType string, data []byte) map[string]any {
	return map[string]any{"mediaType": mediaType, "digest": "sha256:" + sha256Hex(data), "size": len(data)}
}

func mustMarshal(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// rawIndex is an index.json (or image index) holding entries.
func rawIndex(tb testing.TB, entries ...map[string]any) []byte {
	tb.Helper()
	return mustMarshal(tb, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries})
}

// rawLayout returns the files of a layout with index.json idx and blobs, oci-layout first,
// index.json last (the order export writes).
func rawLayout(idx []byte, blobs ...[]byte) []rawFile {
	files := []rawFile{{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)}}
	for _, b := range blobs {
		files = append(files, rawBlob(b))
	}
	return append(files, rawFile{"index.json", idx})
}

// writeRaw writes files below dir.
func writeRaw(tb testing.TB, dir string, files []rawFile) {
	tb.Helper()
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// writeRawTar writes files as the tar at path, in their order.
func writeRawTar(tb testing.TB, path string, files []rawFile) {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Typeflag: tar.TypeReg, Size: int64(len(f.data)), Mode: 0o644, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// evil is what a crafted bundle puts in a string it knows gadgetpack prints: clear the screen,
// go home, return to the start of the line, print a line of its own, and reverse what follows.
const evil = "\x1b[2J\x1b[H\r\ngadgetpack: ok: 0 errors\u202e"

// evilShown is evil as gadgetpack must print it in text output.
const evilShown = `\x1b[2J\x1b[H\r\ngadgetpack: ok: 0 errors\u202e`

// escImage describes a small image (config, one layer, a manifest, index.json naming it) whose
// strings a test sets; empty fields get the ordinary value.
type escImage struct {
	ref, title, os, arch, variant, layerType, entryType string
	// index puts an image index between index.json and the manifest, so that the manifest's
	// platform is shown by list too.
	index bool
}

// files returns the image's files, oci-layout first, index.json last.
func (im escImage) files(tb testing.TB) []rawFile {
	tb.Helper()
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layer := []byte("a layer of the escape corpus\n")
	ld := rawDesc(or(im.layerType, "application/vnd.oci.image.layer.v1.tar"), layer)
	if im.title != "" {
		ld["annotations"] = map[string]string{"org.opencontainers.image.title": im.title}
	}
	manifest := mustMarshal(tb, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": rawDesc("application/vnd.oci.image.config.v1+json", config), "layers": []any{ld}})
	md := rawDesc(or(im.entryType, "application/vnd.oci.image.manifest.v1+json"), manifest)
	platform := map[string]string{"os": or(im.os, "linux"), "architecture": or(im.arch, "amd64")}
	if im.variant != "" {
		platform["variant"] = im.variant
	}
	md["platform"] = platform
	blobs := [][]byte{config, layer, manifest}
	entry := md
	if im.index {
		idx := rawIndex(tb, md)
		entry = rawDesc("application/vnd.oci.image.index.v1+json", idx)
		blobs = append(blobs, idx)
	}
	entry["annotations"] = map[string]string{"org.opencontainers.image.ref.name": or(im.ref, "esc:1")}
	return rawLayout(rawIndex(tb, entry), blobs...)
}

// maxOutputLine bounds each line gadgetpack prints: termsafe.MaxLine and a prefix.
const maxOutputLine = 4096 + 64

// checkTerminalSafe fails unless output is valid UTF-8 with no control character but the
// newlines and tabs gadgetpack writes itself, no C1 control, no bidi or other invisible format
// character, and no line over maxOutputLine bytes.
func checkTerminalSafe(tb testing.TB, output string) {
	tb.Helper()
	if !utf8.ValidString(output) {
		tb.Errorf("output is not valid UTF-8:\n%q", clip(output))
		return
	}
	for i, r := range output {
		if r == '\n' || r == '\t' {
			continue
		}
		if r < 0x20 || r == 0x7f || 0x80 <= r && r <= 0x9f || unicode.Is(unicode.Cf, r) || r == 0x2028 || r == 0x2029 {
			tb.Errorf("output holds %U at byte %d:\n%q", r, i, clip(output))
			return
		}
	}
	for n, line := range strings.Split(output, "\n") {
		if len(line) > maxOutputLine {
			tb.Errorf("output line %d is %d bytes, over %d: %q", n+1, len(line), maxOutputLine, clip(line))
			return
		}
	}
}

// jsonHolds returns a check that the output is one JSON document with a string holding want
// exactly (as decoded), and with nothing a terminal acts on in its bytes: --json keeps what
// the input said, escaped.
func jsonHolds(want string) func(testing.TB, string) {
	return func(tb testing.TB, output string) {
		tb.Helper()
		checkTerminalSafe(tb, output)
		var v any
		if err := json.Unmarshal([]byte(output), &v); err != nil {
			tb.Errorf("output is not one JSON document: %v\n%s", err, clip(output))
			return
		}
		if !holds(v, want) {
			tb.Errorf("no string of the JSON output holds %q:\n%s", want, clip(output))
		}
	}
}

// holds reports whether a decoded JSON value has a string that contains want.
func holds(v any, want string) bool {
	switch v := v.(type) {
	case string:
		return strings.Contains(v, want)
	case []any:
		for _, e := range v {
			if holds(e, want) {
				return true
			}
		}
	case map[string]any:
		for k, e := range v {
			if strings.Contains(k, want) || holds(e, want) {
				return true
			}
		}
	}
	return false
}

// safeText checks text output: nothing a terminal acts on, no overlong line.
func safeText(tb testing.TB, output string) { checkTerminalSafe(tb, output) }

// escLayout writes the image's layout at dir/l, its tarball at dir/b.tar and a layout with a
// ref of its own at dir/t (the existing target of imports).
func escLayout(im escImage, leave ...string) func(testing.TB, string) {
	return func(tb testing.TB, dir string) {
		files := im.files(tb)
		var kept []rawFile
		for _, f := range files {
			if !slices.Contains(leave, f.name) {
				kept = append(kept, f)
			}
		}
		writeRaw(tb, filepath.Join(dir, "l"), append(kept, lockFile))
		writeRawTar(tb, filepath.Join(dir, "b.tar"), files)
		writeRaw(tb, filepath.Join(dir, "t"), append(escImage{ref: "base:1"}.files(tb), lockFile))
	}
}

// lockFile is the empty index.json.lock every layout gadgetpack or ig wrote has (a reader
// creates it when it is missing, which would change the tree).
var lockFile = rawFile{"index.json.lock", []byte{}}

// escConfig is the config blob's name in every escImage layout (its content never changes).
var escConfig = rawBlob([]byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)).name

// TestHostileEscape is issue 10's "control characters" row and the 27k-layer "messages" item:
// ref names, titles, platform fields, media types, stray file names, tar entry names and
// checksum file lines that hold ESC sequences, CR, LF and U+202E reach the terminal escaped
// (\x1b[2J...) from every command that prints them, --json keeps them exact, and no line of
// output is over 4 KiB.
func TestHostileEscape(t *testing.T) {
	l, tg, nw, tb := "$DIR/l", "$DIR/t", "$DIR/new", "$DIR/b.tar"
	runHostile(t, []hostileCase{
		{
			// The config is missing, so that every reader stops on the same finding whatever
			// it thinks of the name itself.
			name: "ref name",
			make: escLayout(escImage{ref: evil}, escConfig),
			runs: []hostileRun{
				{args: []string{"list", "--layout", l}, ok: true, says: []string{evilShown}, check: safeText},
				{args: []string{"list", "--layout", l, "--quiet"}, ok: true, says: []string{evilShown}, check: safeText},
				{args: []string{"list", "--layout", l, "--json"}, ok: true, check: jsonHolds(evil)},
				{args: []string{"inspect", "--layout", l, evil}, ok: true, says: []string{evilShown}, check: safeText},
				{args: []string{"verify", l}, says: []string{"(ref " + evilShown + ")", "missing"}, check: safeText},
				{args: []string{"verify", "--json", l}, check: jsonHolds("(ref " + evil + ")")},
				{args: []string{"gc", "--dry-run", "--layout", l}, ok: true, check: safeText},
				{args: []string{"export", "--layout", l, "-o", "$DIR/o.tar"}, says: []string{evilShown}, check: safeText},
				{args: []string{"copy", "--layout", l, "--to", "$DIR/c"}, says: []string{evilShown}, check: safeText},
				{args: []string{"import", "--layout", tg, tb}, says: []string{evilShown}, check: safeText},
				{args: []string{"import", "--layout", nw, tb}, says: []string{evilShown}, check: safeText},
				{args: []string{"tag", "--layout", l, evil, "x:1"}, says: []string{"graph incomplete"}, check: safeText},
				{args: []string{"rm", "--layout", l, evil + "x"}, says: []string{evilShown}, check: safeText},
			},
		},
		{
			name: "title annotation",
			make: escLayout(escImage{title: evil}),
			runs: []hostileRun{
				{args: []string{"inspect", "--layout", l, "esc:1"}, ok: true, says: []string{"title=" + evilShown}, check: safeText},
				{args: []string{"inspect", "--layout", l, "--json", "esc:1"}, ok: true, check: jsonHolds(evil)},
				{args: []string{"list", "--layout", l}, ok: true, check: safeText},
				{args: []string{"verify", l}, ok: true, check: safeText},
				{args: []string{"verify", tb}, ok: true, check: safeText},
				{args: []string{"export", "--layout", l, "-o", "$DIR/o.tar"}, ok: true, changes: true, check: safeText},
				{args: []string{"copy", "--layout", l, "--to", "$DIR/c"}, ok: true, changes: true, check: safeText},
				{args: []string{"import", "--layout", tg, tb}, ok: true, changes: true, check: safeText},
				{args: []string{"import", "--layout", nw, tb}, ok: true, changes: true, check: safeText},
				{args: []string{"inspect", "--layout", nw, "esc:1"}, ok: true, says: []string{"title=" + evilShown}, check: safeText},
			},
		},
		{
			name: "platform fields",
			make: escLayout(escImage{os: evil, arch: "\u202eamd64", variant: "v8\r\n", index: true}),
			runs: []hostileRun{
				{args: []string{"list", "--layout", l}, ok: true, says: []string{evilShown + `/\u202eamd64`}, check: safeText},
				{args: []string{"list", "--layout", l, "--json"}, ok: true, check: jsonHolds(evil + "/\u202eamd64")},
				{args: []string{"inspect", "--layout", l, "esc:1"}, ok: true, says: []string{evilShown + `/\u202eamd64`}, check: safeText},
				{args: []string{"inspect", "--layout", l, "--json", "esc:1"}, ok: true, check: jsonHolds("v8\r\n")},
				{args: []string{"verify", l}, ok: true, check: safeText},
				{args: []string{"import", "--layout", nw, tb}, ok: true, changes: true, check: safeText},
				{args: []string{"list", "--layout", nw}, ok: true, says: []string{evilShown}, check: safeText},
			},
		},
		{
			name: "layer media type",
			make: escLayout(escImage{layerType: evil}),
			runs: []hostileRun{
				{args: []string{"inspect", "--layout", l, "esc:1"}, ok: true, says: []string{"layer " + evilShown}, check: safeText},
				{args: []string{"inspect", "--layout", l, "--json", "esc:1"}, ok: true, check: jsonHolds(evil)},
				{args: []string{"verify", l}, says: []string{evilShown}, check: safeText},
				// The finding's message quotes the media type itself (%q): JSON holds that.
				{args: []string{"verify", "--json", l}, check: jsonHolds(strconv.Quote(evil))},
				{args: []string{"verify", tb}, says: []string{evilShown}, check: safeText},
				{args: []string{"gc", "--dry-run", "--layout", l}, check: safeText}, // refused: verify calls the media type an error
			},
		},
		{
			name: "entry media type",
			make: escLayout(escImage{entryType: "application/vnd.oci.image.manifest.v1+json" + evil}),
			runs: []hostileRun{
				{args: []string{"list", "--layout", l}, ok: true, says: []string{"json" + evilShown}, check: safeText},
				{args: []string{"inspect", "--layout", l, "esc:1"}, ok: true, says: []string{"json" + evilShown}, check: safeText},
				{args: []string{"verify", l}, says: []string{evilShown}, check: safeText},
				{args: []string{"verify", tb}, says: []string{evilShown}, check: safeText},
				{args: []string{"copy", "--layout", l, "--to", "$DIR/c"}, says: []string{evilShown}, check: safeText},
				{args: []string{"import", "--layout", tg, tb}, says: []string{evilShown}, check: safeText},
				{args: []string{"import", "--layout", nw, tb}, says: []string{evilShown}, check: safeText},
			},
		},
		{
			name: "stray file names",
			make: func(tb testing.TB, dir string) {
				escLayout(escImage{})(tb, dir)
				writeRaw(tb, filepath.Join(dir, "l"), []rawFile{{"blobs/sha256/" + evil, []byte("x")}, {".gadgetpack-tmp/blob-" + evil, []byte{}}})
			},
			runs: []hostileRun{
				{args: []string{"verify", l}, says: []string{"blobs/sha256/" + evilShown, ".gadgetpack-tmp/blob-" + evilShown}, check: safeText},
				{args: []string{"verify", "--json", l}, check: jsonHolds("blobs/sha256/" + evil)},
				{args: []string{"gc", "--dry-run", "--layout", l}, ok: true, says: []string{"temp file .gadgetpack-tmp/blob-" + evilShown}, check: safeText},
				{args: []string{"list", "--layout", l}, ok: true, check: safeText},
				{args: []string{"export", "--layout", l, "-o", "$DIR/o.tar"}, ok: true, changes: true, check: safeText},
				{args: []string{"copy", "--layout", l, "--to", "$DIR/c"}, ok: true, changes: true, check: safeText},
				{args: []string{"gc", "--layout", l}, ok: true, changes: true, says: []string{"removed temp file .gadgetpack-tmp/blob-" + evilShown}, check: safeText},
			},
		},
		{
			name: "tar entry names",
			make: func(tb testing.TB, dir string) {
				escLayout(escImage{})(tb, dir)
				files := escImage{}.files(tb)
				last := len(files) - 1
				writeRawTar(tb, filepath.Join(dir, "b.tar"), append(files[:last:last], rawFile{"blobs/sha256/" + evil, []byte("x")}, files[last]))
				writeRawTar(tb, filepath.Join(dir, "u.tar"), append(files[:last:last], rawFile{evil, []byte("x")}, files[last]))
			},
			runs: []hostileRun{
				{args: []string{"verify", tb}, says: []string{`tar entry "blobs/sha256/` + evilShown}, check: safeText},
				{args: []string{"verify", "--json", tb}, check: jsonHolds("blobs/sha256/" + evil)},
				{args: []string{"import", "--layout", tg, tb}, says: []string{`tar entry "blobs/sha256/` + evilShown}, check: safeText},
				{args: []string{"import", "--layout", nw, tb}, says: []string{`tar entry "blobs/sha256/` + evilShown}, check: safeText},
				{args: []string{"verify", "$DIR/u.tar"}, says: []string{`tar entry "` + evilShown}, check: safeText},
				{args: []string{"import", "--layout", tg, "$DIR/u.tar"}, says: []string{`tar entry "` + evilShown}, check: safeText},
				{args: []string{"import", "--layout", nw, "$DIR/u.tar"}, says: []string{`tar entry "` + evilShown}, check: safeText},
			},
		},
		{
			// A checksum file line cannot hold LF: the rest of evil is there.
			name: "checksum file line",
			make: func(tb testing.TB, dir string) {
				escLayout(escImage{})(tb, dir)
				data, err := os.ReadFile(filepath.Join(dir, "b.tar"))
				if err != nil {
					tb.Fatal(err)
				}
				sums := sha256Hex(data) + "  b.tar\n" + sha256Hex(nil) + "  \x1b[2J\x1b[H\rgadgetpack: ok: 0 errors\u202e\n"
				if err := os.WriteFile(filepath.Join(dir, "b.tar.sha256"), []byte(sums), 0o644); err != nil {
					tb.Fatal(err)
				}
			},
			runs: []hostileRun{
				{args: []string{"verify", tb}, says: []string{`lists \x1b[2J\x1b[H\rgadgetpack: ok: 0 errors\u202e, which was not read`}, check: safeText},
				{args: []string{"import", "--layout", tg, tb}, says: []string{`lists \x1b[2J\x1b[H\rgadgetpack: ok: 0 errors\u202e, which was not read`}, check: safeText},
				{args: []string{"import", "--layout", nw, tb}, says: []string{`lists \x1b[2J\x1b[H\rgadgetpack: ok: 0 errors\u202e, which was not read`}, check: safeText},
			},
		},
		{
			// A btfhub-archive file name: btfgen names the kernel it could not read.
			name: "btfhub archive file name",
			make: func(tb testing.TB, dir string) {
				archive := filepath.Join(dir, "archive")
				copyTree(tb, btfArchive(), archive)
				writeRaw(tb, archive, []rawFile{{"ubuntu/22.04/x86_64/5.15" + evil + ".btf.tar.xz", []byte("not xz at all")}})
			},
			runs: []hostileRun{
				{args: []string{"btfgen", "--archive", "$DIR/archive", "-o", "$DIR/out.tar.gz", repoPath("testdata", "gadgets", "trace_exec", "amd64.bpf.o")},
					says: []string{"5.15" + evilShown + ".btf.tar.xz"}, check: safeText},
				{args: []string{"btfgen", "--archive", "$DIR/archive", "--keep-going", "-o", "$DIR/out.tar.gz", repoPath("testdata", "gadgets", "trace_exec", "amd64.bpf.o")},
					changes: true, says: []string{"skipped ubuntu/22.04/x86_64/5.15" + evilShown + ".btf.tar.xz"}, check: safeText},
			},
		},
		{
			// A gadget whose manifest's platform os is evil: the gadget rules' findings name it,
			// in verify's report and in import's error.
			name: "gadget rule findings",
			make: func(tb testing.TB, dir string) {
				config, layer := []byte("name: evil platform\n"), []byte("x")
				manifest := mustMarshal(tb, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
					"artifactType": spec.MediaTypeArtifact, "config": rawDesc(spec.MediaTypeConfig, config), "layers": []any{rawDesc("application/x-other", layer)}})
				m := rawDesc("application/vnd.oci.image.manifest.v1+json", manifest)
				m["platform"] = map[string]string{"os": evil, "architecture": "amd64"}
				idx := rawIndex(tb, m)
				e := rawDesc("application/vnd.oci.image.index.v1+json", idx)
				e["annotations"] = map[string]string{"org.opencontainers.image.ref.name": "ghcr.io/inspektor-gadget/gadget/evil:1"}
				files := rawLayout(rawIndex(tb, e), config, layer, manifest, idx)
				writeRaw(tb, filepath.Join(dir, "l"), append(files, lockFile))
				writeRawTar(tb, filepath.Join(dir, "b.tar"), files)
				writeRaw(tb, filepath.Join(dir, "t"), append(escImage{ref: "base:1"}.files(tb), lockFile))
			},
			runs: []hostileRun{
				{args: []string{"verify", "--rules", "ig", l}, says: []string{"platform " + evilShown + "/amd64"}, check: safeText},
				{args: []string{"verify", tb}, says: []string{"platform " + evilShown + "/amd64", "(" + evilShown + "/amd64) layers[0]"}, check: safeText},
				{args: []string{"import", "--rules", "ig", "--layout", tg, tb}, says: []string{"platform " + evilShown + "/amd64"}, check: safeText},
				{args: []string{"import", "--layout", nw, tb}, says: []string{"platform " + evilShown + "/amd64"}, check: safeText},
			},
		},
		{
			// 27,000 empty eBPF layers: one rule error each; import's message used to list all
			// of them on one 7.9 MB line.
			name: "27k rule errors",
			slow: true, // 5 to 10 s on a busy machine
			make: func(tb testing.TB, dir string) {
				config := []byte("name: many layers\n")
				layers := make([]any, 27000)
				for i := range layers {
					layers[i] = rawDesc(spec.MediaTypeEBPF, nil)
				}
				manifest := mustMarshal(tb, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
					"artifactType": spec.MediaTypeArtifact, "config": rawDesc(spec.MediaTypeConfig, config), "layers": layers})
				e := rawDesc("application/vnd.oci.image.manifest.v1+json", manifest)
				e["annotations"] = map[string]string{"org.opencontainers.image.ref.name": "many:1"}
				e["platform"] = map[string]string{"os": "linux", "architecture": "amd64"}
				files := rawLayout(rawIndex(tb, e), config, []byte{}, manifest)
				writeRaw(tb, filepath.Join(dir, "l"), append(files, lockFile))
				writeRawTar(tb, filepath.Join(dir, "b.tar"), files)
				writeRaw(tb, filepath.Join(dir, "t"), append(escImage{ref: "base:1"}.files(tb), lockFile))
			},
			runs: []hostileRun{
				{args: []string{"import", "--layout", tg, tb}, says: []string{"the eBPF layer is empty", "; ... and 2699"}, check: safeText},
				{args: []string{"import", "--layout", nw, tb}, says: []string{"the eBPF layer is empty", "; ... and 2699"}, check: safeText},
				{args: []string{"verify", l}, says: []string{"layers[26999]", "the eBPF layer is empty"}, check: safeText},
				{args: []string{"verify", tb}, says: []string{"layers[26999]", "the eBPF layer is empty"}, check: safeText},
			},
		},
	})
}
