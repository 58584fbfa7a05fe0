package cli

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
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
