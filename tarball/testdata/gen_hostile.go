//go:build ignore

// gen_hostile writes the hostile tarball corpus of hostile/ and the good tarballs of good/
// (see README.md). Run it from this folder: go run gen_hostile.go. The output is the same
// bytes every time.
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// entry is one tar entry to write.
type entry struct {
	name     string
	typeflag byte
	data     []byte
	size     int64 // header size when data is nil (a content not given: zeros, for bombs)
	linkname string
	mode     int64
	raw      []byte // written as it is, blocks already made (a header the tar package cannot write)
}

func file(name string, data []byte) entry {
	return entry{name: name, typeflag: tar.TypeReg, data: data}
}

func digestOf(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

func blob(data []byte) entry { return file("blobs/sha256/"+digestOf(data), data) }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// The small valid image every tarball starts from: a config, one layer, a manifest, and an
// index.json naming the manifest "hostile:1".
var (
	layoutFile = []byte(`{"imageLayoutVersion":"1.0.0"}`)
	config     = []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layer      = []byte("a layer of the hostile corpus\n")
	manifest   = mustJSON(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        desc("application/vnd.oci.image.config.v1+json", config),
		"layers":        []any{desc("application/vnd.oci.image.layer.v1.tar", layer)},
	})
	index = indexOf(entryDesc("application/vnd.oci.image.manifest.v1+json", manifest, "hostile:1"))
)

func desc(mt string, data []byte) map[string]any {
	return map[string]any{"mediaType": mt, "digest": "sha256:" + digestOf(data), "size": len(data)}
}

func entryDesc(mt string, data []byte, ref string) map[string]any {
	d := desc(mt, data)
	d["annotations"] = map[string]string{"org.opencontainers.image.ref.name": ref}
	return d
}

func indexOf(entries ...map[string]any) []byte {
	return mustJSON(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries})
}

// good returns the entries of the valid tarball, in export order, index.json last.
func good() []entry {
	return []entry{file("oci-layout", layoutFile), blob(manifest), blob(config), blob(layer), file("index.json", index)}
}

// with returns good() with the entries at index.json's place replaced: extra entries go before
// index.json.
func with(extra ...entry) []entry {
	g := good()
	return append(append(g[:len(g)-1:len(g)-1], extra...), g[len(g)-1])
}

func tarOf(entries []entry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		if e.raw != nil {
			if err := tw.Flush(); err != nil {
				panic(err)
			}
			buf.Write(e.raw)
			continue
		}
		size := e.size
		if e.data != nil {
			size = int64(len(e.data))
		}
		if e.typeflag != tar.TypeReg {
			size = 0
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Name: e.name, Typeflag: e.typeflag, Size: size, Linkname: e.linkname, Mode: mode,
			ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if e.typeflag == tar.TypeChar {
			h.Devmajor, h.Devminor = 1, 3
		}
		if err := tw.WriteHeader(h); err != nil {
			panic(fmt.Sprintf("%s: %v", e.name, err))
		}
		if e.typeflag == tar.TypeReg {
			var r io.Reader = bytes.NewReader(e.data)
			if e.data == nil {
				r = io.LimitReader(zeros{}, size)
			}
			if _, err := io.Copy(tw, r); err != nil {
				panic(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func gzipOf(data []byte) []byte {
	var buf bytes.Buffer
	z, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	z.OS = 255
	z.Write(data)
	z.Close()
	return buf.Bytes()
}

// zstdOf returns data as one zstd frame, with a checksum.
func zstdOf(data []byte) []byte {
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20), zstd.WithEncoderCRC(true))
	zw.Write(data)
	zw.Close()
	return buf.Bytes()
}

// skippable returns a zstd skippable frame of magic 0x184D2A00|low holding data.
func skippable(low byte, data []byte) []byte {
	b := []byte{low, 0x2a, 0x4d, 0x18, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(b[4:], uint32(len(data)))
	return append(b, data...)
}

// zerosDigest returns the sha256 of n zero bytes.
func zerosDigest(n int64) string {
	h := sha256.New()
	io.Copy(h, io.LimitReader(zeros{}, n))
	return hex.EncodeToString(h.Sum(nil))
}

// numeric writes n into a header field: octal when it fits, else GNU's base-256 (a first byte
// 0x80, then big-endian), which tar readers accept for sizes of 8 GiB and more.
func numeric(field []byte, n int64) {
	if s := fmt.Sprintf("%0*o", len(field)-1, n); len(s) == len(field)-1 {
		copy(field, s)
		field[len(field)-1] = 0
		return
	}
	clear(field)
	field[0] = 0x80
	for i := len(field) - 1; i > 0 && n > 0; i-- {
		field[i] = byte(n)
		n >>= 8
	}
}

// header returns one 512-byte header block: USTAR, or GNU's old format for gnu.
func header(name string, typeflag byte, size int64, gnu bool, fill func(b []byte)) []byte {
	b := make([]byte, 512)
	copy(b[0:100], name)
	numeric(b[100:108], 0o644)
	numeric(b[108:116], 0)
	numeric(b[116:124], 0)
	numeric(b[124:136], size)
	numeric(b[136:148], 0)
	b[156] = typeflag
	if gnu {
		copy(b[257:265], "ustar  \x00")
	} else {
		copy(b[257:265], "ustar\x0000")
	}
	if fill != nil {
		fill(b)
	}
	copy(b[148:156], "        ")
	var sum int64
	for _, c := range b {
		sum += int64(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// padded returns data padded with zeros to a multiple of 512 bytes.
func padded(data []byte) []byte {
	return append(data, make([]byte, (512-len(data)%512)%512)...)
}

// paxRecords returns the data of a PAX extended header: "LEN key=value\n" records in order.
func paxRecords(kv ...string) []byte {
	var out []byte
	for i := 0; i < len(kv); i += 2 {
		rec := " " + kv[i] + "=" + kv[i+1] + "\n"
		n := len(rec) + 1
		for len(fmt.Sprint(n))+len(rec) != n {
			n++
		}
		out = append(out, fmt.Sprint(n)+rec...)
	}
	return out
}

// sparseSize is the logical size of the sparse entries: 60 GiB, of which 512 bytes are stored
// (at the end; the rest is a hole). A tar reader that expands them yields 60 GiB of zeros.
const sparseSize = 60 << 30

// sparse returns a sparse entry named name, of sparseSize bytes, in one of the formats tar
// programs write: "gnu" (the old GNU type 'S'), "pax-0.0", "pax-0.1" or "pax-1.0".
func sparse(format, name string) entry {
	data := bytes.Repeat([]byte("sparse data\n"), 512/12+1)[:512]
	off := fmt.Sprint(int64(sparseSize - 512))
	var raw []byte
	switch format {
	case "gnu":
		raw = header(name, 'S', 512, true, func(b []byte) {
			numeric(b[386:398], sparseSize-512) // sparse[0].offset
			numeric(b[398:410], 512)            // sparse[0].numbytes
			numeric(b[483:495], sparseSize)     // realsize
		})
		raw = append(raw, data...)
	case "pax-0.0", "pax-0.1":
		recs := paxRecords("GNU.sparse.size", fmt.Sprint(int64(sparseSize)), "GNU.sparse.numblocks", "1",
			"GNU.sparse.offset", off, "GNU.sparse.numbytes", "512")
		if format == "pax-0.1" {
			recs = paxRecords("GNU.sparse.size", fmt.Sprint(int64(sparseSize)), "GNU.sparse.numblocks", "1",
				"GNU.sparse.map", off+",512")
		}
		raw = append(header("PaxHeaders/"+name[len(name)-20:], 'x', int64(len(recs)), false, nil), padded(recs)...)
		raw = append(append(raw, header(name, '0', 512, false, nil)...), data...)
	case "pax-1.0":
		recs := paxRecords("GNU.sparse.major", "1", "GNU.sparse.minor", "0", "GNU.sparse.name", name,
			"GNU.sparse.realsize", fmt.Sprint(int64(sparseSize)))
		sparseMap := padded([]byte("1\n" + off + "\n512\n"))
		raw = append(header("PaxHeaders/"+name[len(name)-20:], 'x', int64(len(recs)), false, nil), padded(recs)...)
		raw = append(raw, header("GNUSparseFile.0/"+name[len(name)-20:], '0', int64(len(sparseMap)+512), false, nil)...)
		raw = append(append(raw, sparseMap...), data...)
	default:
		panic(format)
	}
	return entry{name: name, raw: raw}
}

func main() {
	must(os.MkdirAll("hostile", 0o755))
	must(os.MkdirAll("good", 0o755))
	goodTar := tarOf(good())
	write("good/small.tar", goodTar)
	write("good/small.tar.gz", gzipOf(goodTar))
	var zbuf bytes.Buffer
	zw, _ := zstd.NewWriter(&zbuf, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20))
	zw.Write(goodTar)
	zw.Close()
	write("good/small.tar.zst", zbuf.Bytes())
	// The same tar in three gzip members (as pigz or cat a.gz b.gz c.gz make it) followed by
	// zero padding; and in two zstd frames with skippable frames before, between and after
	// them, and zero padding.
	third := len(goodTar) / 3
	members := append(append(gzipOf(goodTar[:third]), gzipOf(goodTar[third:2*third])...), gzipOf(goodTar[2*third:])...)
	write("good/members.tar.gz", append(members, make([]byte, 1000)...))
	half := len(goodTar) / 2
	frames := append(skippable(0x50, []byte("a skippable frame first")), zstdOf(goodTar[:half])...)
	frames = append(append(frames, skippable(0x5e, nil)...), zstdOf(goodTar[half:])...)
	frames = append(append(frames, skippable(0x5f, []byte("and one last"))...), make([]byte, 700)...)
	write("good/skippable.tar.zst", frames)
	// A layout tarred with directory entries and a "./" prefix, as tar -C DIR . makes it.
	var dotted []entry
	dotted = append(dotted, entry{name: "./", typeflag: tar.TypeDir, mode: 0o755},
		entry{name: "./blobs/", typeflag: tar.TypeDir, mode: 0o755}, entry{name: "./blobs/sha256/", typeflag: tar.TypeDir, mode: 0o755})
	for _, e := range good() {
		e.name = "./" + e.name
		dotted = append(dotted, e)
	}
	dotted = append(dotted, file("./index.json.lock", nil))
	dotted[len(dotted)-1].data = []byte{}
	write("good/dirs.tar", tarOf(dotted))

	layerName := "blobs/sha256/" + digestOf(layer)
	hostile := map[string][]byte{
		"dotdot.tar":            tarOf(with(file("blobs/../../evil", []byte("x")))),
		"absolute.tar":          tarOf(with(file("/tmp/gadgetpack-evil", []byte("x")))),
		"symlink.tar":           tarOf(with(entry{name: "blobs/sha256/" + strings.Repeat("ab", 32), typeflag: tar.TypeSymlink, linkname: "/etc/passwd"})),
		"hardlink.tar":          tarOf(with(entry{name: "blobs/sha256/" + strings.Repeat("cd", 32), typeflag: tar.TypeLink, linkname: layerName})),
		"device.tar":            tarOf(with(entry{name: "blobs/sha256/" + strings.Repeat("ef", 32), typeflag: tar.TypeChar})),
		"fifo.tar":              tarOf(with(entry{name: "blobs/sha256/" + strings.Repeat("01", 32), typeflag: tar.TypeFifo})),
		"duplicate.tar":         tarOf(with(blob(layer))),
		"unknown-name.tar":      tarOf(with(file("etc/passwd", []byte("root::0:0::/:/bin/sh\n")))),
		"temp-dir.tar":          tarOf(with(file(".gadgetpack-tmp/blob-123", []byte("half")))),
		"bad-blob-name.tar":     tarOf(with(file("blobs/sha256/not-a-digest", []byte("x")))),
		"uppercase-digest.tar":  tarOf(with(file("blobs/sha256/"+strings.ToUpper(digestOf([]byte("up"))), []byte("up")))),
		"content-mismatch.tar":  tarOf(with(file("blobs/sha256/"+digestOf([]byte("what the name says")), []byte("what the content is")))),
		"layout-version.tar":    tarOf(append([]entry{file("oci-layout", []byte(`{"imageLayoutVersion":"2.0.0"}`))}, good()[1:]...)),
		"index-not-json.tar":    tarOf(append(good()[:4], file("index.json", []byte("manifests: [not json]\n")))),
		"index-path-digest.tar": tarOf(append(good()[:4], file("index.json", indexOf(map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:../../../../etc/passwd", "size": 10, "annotations": map[string]string{"org.opencontainers.image.ref.name": "evil:1"}})))),
		"missing-base.tar":      tarOf(append(good()[:2], file("index.json", index))), // a delta whose base (config, layer) is nowhere
		"trailing-data.tar":     append(tarOf(good()), []byte("garbage after the end of the archive")...),
		"not-a-tar.tar":         bytes.Repeat([]byte("this is not a tar stream. "), 100),
	}
	// Truncated in the middle of the layer's content (the layer is the fourth entry).
	full := tarOf(good())
	cut := bytes.Index(full, layer)
	hostile["truncated.tar"] = full[:cut+5]

	// A manifest over layout.MaxJSONBytes (4 MiB): JSON padded with spaces, gzipped.
	big := append(bytes.Repeat([]byte(" "), 4<<20), manifest...)
	hostile["manifest-too-large.tar.gz"] = gzipOf(tarOf(append(good()[:1], blob(big), blob(config), blob(layer),
		file("index.json", indexOf(entryDesc("application/vnd.oci.image.manifest.v1+json", big, "hostile:1"))))))

	// A blob of 3 MiB for a --max-size 1M import.
	three := bytes.Repeat([]byte("0123456789abcdef"), 3<<16)
	hostile["over-max-size.tar.gz"] = gzipOf(tarOf(with(blob(three))))

	// A gzip bomb: 256 MiB of zeros, named by their true digest, in about 250 KiB.
	const bombSize = 256 << 20
	hostile["gzip-bomb.tar.gz"] = gzipOf(tarOf(with(entry{name: "blobs/sha256/" + zerosDigest(bombSize), typeflag: tar.TypeReg, size: bombSize})))

	// A zstd frame whose header asks for a 1 GiB window (Window_Descriptor 0xa0: 2^(10+20)),
	// its content made with a small one.
	var wbuf bytes.Buffer
	zw, _ = zstd.NewWriter(&wbuf, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20), zstd.WithSingleSegment(false))
	zw.Write(tarOf(good()))
	zw.Close()
	frame := wbuf.Bytes()
	if frame[4]&0x20 != 0 {
		panic("zstd frame is single-segment: no window descriptor to patch")
	}
	frame[5] = 0xa0
	hostile["zstd-window.tar.zst"] = frame

	// Sparse entries of 60 GiB (512 bytes stored) in each format, named as a blob; the PAX 1.0
	// one also gzipped (a few hundred bytes).
	sparseName := "blobs/sha256/" + digestOf([]byte("a sparse entry"))
	for _, f := range []string{"gnu", "pax-0.0", "pax-0.1", "pax-1.0"} {
		hostile["sparse-"+f+".tar"] = tarOf(with(sparse(f, sparseName)))
	}
	hostile["sparse-pax-1.0.tar.gz"] = gzipOf(hostile["sparse-pax-1.0.tar"])

	// A header whose checksum does not match (the layer's, the fourth entry): the error names
	// the entry and where its header starts.
	badSum := tarOf(good())
	at := bytes.Index(badSum, []byte(layerName)) / 512 * 512
	if at <= 0 || string(badSum[at:at+len(layerName)]) != layerName {
		panic("layer header not found")
	}
	badSum[at+148] ^= 0x01
	hostile["bad-header-checksum.tar"] = badSum

	// Data after the end of a compressed stream, after zero padding: not a member, not a frame.
	hostile["gzip-trailing-data.tar.gz"] = append(append(gzipOf(goodTar), make([]byte, 100)...), "not gzip"...)
	hostile["zstd-trailing-data.tar.zst"] = append(append(zstdOf(goodTar), skippable(0x50, []byte("skip"))...), "not a zstd frame"...)

	for name, data := range hostile {
		write(filepath.Join("hostile", name), data)
	}
}

func write(path string, data []byte) {
	must(os.WriteFile(path, data, 0o644))
	fmt.Printf("%s\t%d bytes\n", path, len(data))
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
