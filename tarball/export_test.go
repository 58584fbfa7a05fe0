package tarball

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/layout"
)

// exRawEntry is one entry of a tar as its raw USTAR header says.
type exRawEntry struct {
	name  string
	size  int64
	mtime int64
	data  []byte
}

// exCheckShape checks the rules of the tar ig image export writes and ig image import reads
// on the raw bytes of a plain tar, and returns its entries: USTAR headers only (no PAX or GNU
// extension records), regular files only, no directory, no "./" or "/" prefix, mode 0644, uid
// and gid 0, empty user and group names, mtime as given, no device numbers; oci-layout first,
// index.json last, blobs/sha256/<hex> between, each once, each hashing to its name; the
// archive's end (two zero blocks) and nothing but zeros after it.
func exCheckShape(tb testing.TB, data []byte, mtime int64) []exRawEntry {
	tb.Helper()
	octal := func(b []byte) int64 {
		s := strings.TrimRight(string(b), "\x00 ")
		n, err := strconv.ParseInt(s, 8, 64)
		if err != nil {
			tb.Fatalf("octal field %q: %v", b, err)
		}
		return n
	}
	zero := func(b []byte) bool { return bytes.Count(b, []byte{0}) == len(b) }
	var out []exRawEntry
	seen := map[string]bool{}
	off := 0
	for {
		if off+512 > len(data) {
			tb.Fatalf("tar ends at %d without its end blocks", off)
		}
		h := data[off : off+512]
		if zero(h) {
			if !zero(data[off:]) || len(data)-off < 1024 {
				tb.Fatalf("after the end block at %d: %d bytes, not two zero blocks", off, len(data)-off)
			}
			break
		}
		name := string(bytes.TrimRight(h[0:100], "\x00"))
		where := fmt.Sprintf("tar entry %d (%q at %d)", len(out), name, off)
		if got := string(h[257:265]); got != "ustar\x0000" {
			tb.Fatalf("%s: magic %q, want USTAR", where, got)
		}
		if h[156] != '0' {
			tb.Fatalf("%s: type %q, want a regular file ('0')", where, h[156])
		}
		if !zero(h[345:500]) {
			tb.Fatalf("%s: a USTAR prefix field %q", where, h[345:500])
		}
		if got := octal(h[100:108]); got != 0o644 {
			tb.Fatalf("%s: mode %o, want 644", where, got)
		}
		if octal(h[108:116]) != 0 || octal(h[116:124]) != 0 {
			tb.Fatalf("%s: uid %q gid %q, want 0", where, h[108:116], h[116:124])
		}
		if !zero(h[265:297]) || !zero(h[297:329]) {
			tb.Fatalf("%s: uname %q gname %q, want empty", where, h[265:297], h[297:329])
		}
		if !zero(h[157:257]) {
			tb.Fatalf("%s: a link name %q", where, h[157:257])
		}
		if octal(h[329:337]) != 0 || octal(h[337:345]) != 0 {
			tb.Fatalf("%s: device numbers %q %q", where, h[329:337], h[337:345])
		}
		if got := octal(h[136:148]); got != mtime {
			tb.Fatalf("%s: mtime %d, want %d", where, got, mtime)
		}
		var sum int64
		for i, c := range h {
			if i >= 148 && i < 156 {
				c = ' '
			}
			sum += int64(c)
		}
		if got := octal(h[148:156]); got != sum {
			tb.Fatalf("%s: checksum %o, want %o", where, got, sum)
		}
		if name == "" || strings.HasPrefix(name, "./") || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || path.Clean(name) != name {
			tb.Fatalf("%s: name not clean and relative", where)
		}
		if seen[name] {
			tb.Fatalf("%s: twice in the tar", where)
		}
		seen[name] = true
		size := octal(h[124:136])
		off += 512
		content := data[off : off+int(size)]
		if !zero(data[off+int(size) : off+int((size+511)/512*512)]) {
			tb.Fatalf("%s: padding is not zeros", where)
		}
		off += int((size + 511) / 512 * 512)
		switch {
		case len(out) == 0:
			if name != layout.LayoutFile || string(content) != `{"imageLayoutVersion":"1.0.0"}` {
				tb.Fatalf("%s: first entry is not oci-layout 1.0.0: %q", where, content)
			}
		case name == layout.IndexFile:
		default:
			hex, ok := strings.CutPrefix(name, "blobs/sha256/")
			d := digest.NewDigestFromEncoded(digest.SHA256, hex)
			if !ok || d.Validate() != nil {
				tb.Fatalf("%s: not blobs/sha256/<hex>", where)
			}
			if got := digest.FromBytes(content); got != d {
				tb.Fatalf("%s: content hashes to %s", where, got)
			}
		}
		out = append(out, exRawEntry{name: name, size: size, mtime: octal(h[136:148]), data: content})
	}
	if len(out) < 2 || out[len(out)-1].name != layout.IndexFile {
		tb.Fatalf("the last of %d entries is not index.json", len(out))
	}
	return out
}

// exIndexOf parses the index.json of a tar's entries.
func exIndexOf(tb testing.TB, entries []exRawEntry) ocispec.Index {
	tb.Helper()
	var idx ocispec.Index
	if err := json.Unmarshal(entries[len(entries)-1].data, &idx); err != nil {
		tb.Fatal(err)
	}
	if idx.SchemaVersion != 2 || idx.MediaType != ocispec.MediaTypeImageIndex {
		tb.Fatalf("index.json: schemaVersion %d mediaType %q", idx.SchemaVersion, idx.MediaType)
	}
	return idx
}

// exBlobNames returns the blob entries' digests, in tar order.
func exBlobNames(entries []exRawEntry) []digest.Digest {
	var ds []digest.Digest
	for _, e := range entries[1 : len(entries)-1] {
		ds = append(ds, digest.Digest("sha256:"+strings.TrimPrefix(e.name, "blobs/sha256/")))
	}
	return ds
}

// exClosure returns what an export of entries (all refs when nil) must carry.
func exClosure(tb testing.TB, s *layout.Store, entries []ocispec.Descriptor) *layout.Closure {
	tb.Helper()
	ctx := context.Background()
	if entries == nil {
		var err error
		if entries, err = s.Refs(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	cl, err := s.Closure(ctx, entries)
	if err != nil {
		tb.Fatal(err)
	}
	return cl
}

func exportBytes(tb testing.TB, s *layout.Store, opts ExportOptions) ([]byte, *ExportResult) {
	tb.Helper()
	var buf bytes.Buffer
	res, err := Export(context.Background(), s, &buf, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes(), res
}

// TestExportShape: every entry of what export writes follows the rules ig's reader needs, and
// the tar carries exactly the closure, in its order, with its entries in index.json.
func TestExportShape(t *testing.T) {
	igStore := exIGStore(t)
	mine := exMakeLayout(t)
	igExport, _ := exIGExport(t)
	for _, tc := range []struct {
		name string
		s    *layout.Store
	}{
		{"ig-store", igStore},
		{"made", mine.s},
		{"ig-export", igExport},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, res := exportBytes(t, tc.s, ExportOptions{})
			entries := exCheckShape(t, data, 0)
			cl := exClosure(t, tc.s, nil)
			var want []digest.Digest
			for _, b := range cl.Blobs {
				want = append(want, b.Digest)
			}
			if got := exBlobNames(entries); !slices.Equal(got, want) {
				t.Fatalf("blobs in the tar:\n%v\nwant the closure's, in order:\n%v", got, want)
			}
			idx := exIndexOf(t, entries)
			gotJSON, _ := json.Marshal(idx.Manifests)
			wantJSON, _ := json.Marshal(cl.Entries)
			if !bytes.Equal(gotJSON, wantJSON) {
				t.Fatalf("index.json entries:\n%s\nwant:\n%s", gotJSON, wantJSON)
			}
			if res.Blobs != len(cl.Blobs) || res.BlobBytes != cl.Bytes || res.Entries != len(cl.Entries) ||
				res.Size != int64(len(data)) || res.Digest != digest.FromBytes(data) ||
				res.LayoutDigest != digest.FromBytes(entries[len(entries)-1].data) || res.Compression != None {
				t.Fatalf("result %+v does not describe the %d bytes written", res, len(data))
			}
		})
	}
}

// TestExportIGExport: ig's own tarball, extracted with archive/tar or imported, then exported
// again, gives a tar of the same files with the same contents (and index.json entries), in the
// shape ig writes.
func TestExportIGExport(t *testing.T) {
	extracted, tarPath := exIGExport(t)
	dir := filepath.Join(t.TempDir(), "imported")
	if _, err := ImportFiles(context.Background(), dir, []string{tarPath}, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	exVerify(t, dir)
	imported, err := layout.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("extracted", func(t *testing.T) { exCompareIGExport(t, extracted, tarPath) })
	t.Run("imported", func(t *testing.T) { exCompareIGExport(t, imported, tarPath) })
}

func exCompareIGExport(t *testing.T, s *layout.Store, tarPath string) {
	f, err := os.Open(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	igFiles := map[string][]byte{}
	for _, e := range exReadTar(t, f) {
		igFiles[e.hdr.Name] = e.data
	}
	data, _ := exportBytes(t, s, ExportOptions{})
	ours := exCheckShape(t, data, 0)
	if len(ours) != len(igFiles) {
		t.Fatalf("%d entries, ig's tar has %d", len(ours), len(igFiles))
	}
	for _, e := range ours {
		want, ok := igFiles[e.name]
		if !ok {
			t.Fatalf("%s is not in ig's tar", e.name)
		}
		if e.name == layout.IndexFile {
			var a, b ocispec.Index
			if json.Unmarshal(e.data, &a) != nil || json.Unmarshal(want, &b) != nil || !exSameJSON(a.Manifests, b.Manifests) {
				t.Fatalf("index.json entries differ from ig's:\n%s\n%s", e.data, want)
			}
			continue
		}
		if !bytes.Equal(e.data, want) {
			t.Fatalf("%s differs from ig's", e.name)
		}
	}
}

func exSameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// TestExportReproducible: the same layout exports to the same bytes; another mtime changes
// only the mtime (and checksum) fields of the headers.
func TestExportReproducible(t *testing.T) {
	l := exMakeLayout(t)
	for _, c := range []Compression{None, Gzip, Zstd} {
		t.Run(string(c), func(t *testing.T) {
			a, ra := exportBytes(t, l.s, ExportOptions{Compression: c})
			b, rb := exportBytes(t, l.s, ExportOptions{Compression: c})
			if !bytes.Equal(a, b) || ra.Digest != rb.Digest {
				t.Fatalf("two exports differ: %s, %s", ra.Digest, rb.Digest)
			}
			file := filepath.Join(t.TempDir(), "out.tar")
			rf, err := ExportFile(context.Background(), l.s, file, ExportOptions{Compression: c})
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(file); !bytes.Equal(got, a) || rf.Digest != ra.Digest {
				t.Fatalf("the file differs from the stream: %s, %s", rf.Digest, ra.Digest)
			}
		})
	}
	epoch := time.Unix(1700000000, 0)
	a, _ := exportBytes(t, l.s, ExportOptions{ModTime: epoch})
	b, _ := exportBytes(t, l.s, ExportOptions{ModTime: epoch.Add(time.Hour)})
	if bytes.Equal(a, b) || len(a) != len(b) {
		t.Fatalf("exports at two mtimes: %d and %d bytes, equal %v", len(a), len(b), bytes.Equal(a, b))
	}
	ea, eb := exCheckShape(t, a, epoch.Unix()), exCheckShape(t, b, epoch.Unix()+3600)
	if len(ea) != len(eb) {
		t.Fatal("entries differ")
	}
	// Blank each header's mtime and checksum: the rest is byte for byte the same.
	blank := func(data []byte) []byte {
		data = bytes.Clone(data)
		off := 0
		for range ea {
			copy(data[off+136:off+156], bytes.Repeat([]byte{' '}, 20))
			size, _ := strconv.ParseInt(strings.TrimRight(string(data[off+124:off+136]), "\x00 "), 8, 64)
			off += 512 + int((size+511)/512*512)
		}
		return data
	}
	if !bytes.Equal(blank(a), blank(b)) {
		t.Fatal("exports at two mtimes differ in more than the mtimes")
	}
}

// TestExportLayoutDigest: a layout whose index.json gadgetpack wrote exports an index.json of
// the same bytes, so the layout digest is the same at both ends.
func TestExportLayoutDigest(t *testing.T) {
	l := exMakeLayout(t)
	rep := exVerify(t, l.s.Path())
	_, res := exportBytes(t, l.s, ExportOptions{})
	if res.LayoutDigest != rep.LayoutDigest {
		t.Fatalf("exported layout digest %s, the layout's %s", res.LayoutDigest, rep.LayoutDigest)
	}
}

// exUnpack turns exported bytes of compression c into the plain tar.
func exUnpack(tb testing.TB, c Compression, data []byte) []byte {
	tb.Helper()
	return exDecompress(tb, c, data)
}

// TestExportRoundTrip: what export writes, to a file, a stream or parts, plain or compressed,
// extracts (with Go's archive/tar alone) into a layout that verifies and holds every blob and
// entry of the closure.
func TestExportRoundTrip(t *testing.T) {
	l := exMakeLayout(t)
	ctx := context.Background()
	cl := exClosure(t, l.s, nil)
	for _, c := range []Compression{None, Gzip, Zstd} {
		for _, how := range []string{"file", "stream", "split"} {
			t.Run(string(c)+"/"+how, func(t *testing.T) {
				dir := t.TempDir()
				out := filepath.Join(dir, "bundle.tar")
				var data []byte
				var res *ExportResult
				var err error
				switch how {
				case "stream":
					data, res = exportBytes(t, l.s, ExportOptions{Compression: c})
				case "file":
					res, err = ExportFile(ctx, l.s, out, ExportOptions{Compression: c})
					if err != nil {
						t.Fatal(err)
					}
					data, _ = os.ReadFile(out)
					sums, _ := os.ReadFile(out + ChecksumExt)
					if want := res.Digest.Encoded() + "  bundle.tar\n"; string(sums) != want || res.Digest != digest.FromBytes(data) {
						t.Fatalf("bundle.tar.sha256 %q, want %q", sums, want)
					}
				case "split":
					res, err = ExportFile(ctx, l.s, out, ExportOptions{Compression: c, PartSize: MinSplitSize})
					if err != nil {
						t.Fatal(err)
					}
					if len(res.Parts) < 3 || res.Digest != "" {
						t.Fatalf("%d parts of a %d-byte export, digest %q", len(res.Parts), res.Size, res.Digest)
					}
					var paths []string
					var sums strings.Builder
					for i, p := range res.Parts {
						if p.Path != PartName(out, i) || p.Size > MinSplitSize || (i < len(res.Parts)-1 && p.Size != MinSplitSize) {
							t.Fatalf("part %d: %+v", i, p)
						}
						paths = append(paths, p.Path)
						fmt.Fprintf(&sums, "%s  %s\n", p.Digest.Encoded(), filepath.Base(p.Path))
					}
					if got, _ := os.ReadFile(out + ChecksumExt); string(got) != sums.String() {
						t.Fatalf("bundle.tar.sha256:\n%s\nwant:\n%s", got, sums.String())
					}
					r, err := OpenParts(paths)
					if err != nil {
						t.Fatal(err)
					}
					data, err = io.ReadAll(r)
					r.Close()
					if err != nil {
						t.Fatal(err)
					}
					whole, _ := exportBytes(t, l.s, ExportOptions{Compression: c})
					if !bytes.Equal(data, whole) {
						t.Fatal("the parts together differ from the unsplit export")
					}
				}
				if res.Size != int64(len(data)) {
					t.Fatalf("result says %d bytes, %d written", res.Size, len(data))
				}
				plain := exUnpack(t, c, data)
				exCheckShape(t, plain, 0)
				far := filepath.Join(dir, "far")
				exExtractReader(t, bytes.NewReader(plain), far)
				rep := exVerify(t, far)
				if rep.Blobs != len(cl.Blobs) || rep.Bytes != cl.Bytes {
					t.Fatalf("far side holds %d blobs (%d bytes), want %d (%d)", rep.Blobs, rep.Bytes, len(cl.Blobs), cl.Bytes)
				}
				for _, w := range rep.Problems {
					t.Errorf("far side: %s", w)
				}
				src, _ := os.ReadFile(filepath.Join(l.s.Path(), layout.IndexFile))
				got, _ := os.ReadFile(filepath.Join(far, layout.IndexFile))
				if !bytes.Equal(got, src) {
					t.Fatalf("far index.json:\n%s\nwant the source's:\n%s", got, src)
				}
				// And through Import, from the stream or the files (the parts by their
				// common name).
				imported := filepath.Join(dir, "imported")
				var ires *ImportResult
				if how == "stream" {
					ires, err = Import(ctx, imported, bytes.NewReader(data), ImportOptions{})
				} else {
					ires, err = ImportFiles(ctx, imported, []string{out}, ImportOptions{})
				}
				if err != nil {
					t.Fatal(err)
				}
				irep := exVerify(t, imported)
				if ires.Compression != c || ires.Blobs != len(cl.Blobs) || irep.LayoutDigest != res.LayoutDigest || irep.Blobs != len(cl.Blobs) {
					t.Fatalf("imported: %+v; verify %+v; export %+v", ires, irep, res)
				}
				if got, _ := os.ReadFile(filepath.Join(imported, layout.IndexFile)); !bytes.Equal(got, src) {
					t.Fatalf("imported index.json:\n%s\nwant the source's:\n%s", got, src)
				}
			})
		}
	}
}

// TestExportRefs: a ref carries its graph, its referrers and its digest-tag signatures, and
// nothing of the other refs.
func TestExportRefs(t *testing.T) {
	l := exMakeLayout(t)
	for _, tc := range []struct {
		ref      ocispec.Descriptor
		carries  []ocispec.Descriptor
		not      []ocispec.Descriptor
		refNames []string
		unnamed  []digest.Digest // the referrers carried, listed
	}{
		{l.v1, []ocispec.Descriptor{l.v1, l.referrer}, []ocispec.Descriptor{l.v2, l.big, l.sig, l.unreferred}, []string{exRefV1}, []digest.Digest{l.referrer.Digest}},
		{l.v2, []ocispec.Descriptor{l.v2, l.big, l.sig}, []ocispec.Descriptor{l.v1, l.referrer, l.unreferred}, []string{exRefV2, "example.com/app:sha256-" + l.v2.Digest.Encoded() + ".sig"}, nil},
	} {
		t.Run(tc.refNames[0], func(t *testing.T) {
			// The fixture's referrer is a bare blob: a scan finds it.
			data, res := exportBytes(t, l.s, ExportOptions{Entries: []ocispec.Descriptor{tc.ref}, ScanReferrers: true})
			entries := exCheckShape(t, data, 0)
			blobs := exBlobNames(entries)
			for _, d := range tc.carries {
				if !slices.Contains(blobs, d.Digest) {
					t.Errorf("%s is not carried", d.Digest)
				}
			}
			for _, d := range tc.not {
				if slices.Contains(blobs, d.Digest) {
					t.Errorf("%s is carried", d.Digest)
				}
			}
			if !slices.Equal(res.Refs, tc.refNames) {
				t.Errorf("refs %v, want %v", res.Refs, tc.refNames)
			}
			var names []string
			var unnamed []digest.Digest
			for _, e := range exIndexOf(t, entries).Manifests {
				if n := e.Annotations[ocispec.AnnotationRefName]; n != "" {
					names = append(names, n)
				} else {
					unnamed = append(unnamed, e.Digest)
				}
			}
			if !slices.Equal(names, tc.refNames) || !slices.Equal(unnamed, tc.unnamed) {
				t.Errorf("index.json names %v and lists %v, want %v and %v", names, unnamed, tc.refNames, tc.unnamed)
			}
			// Without the scan, the bare referrer stays behind.
			data, _ = exportBytes(t, l.s, ExportOptions{Entries: []ocispec.Descriptor{tc.ref}})
			if blobs := exBlobNames(exCheckShape(t, data, 0)); slices.Contains(blobs, l.referrer.Digest) {
				t.Errorf("bare referrer %s carried without a scan", l.referrer.Digest)
			}
		})
	}
	// The real ig store: a cosign-signed image carries its .sig entry.
	s := exIGStore(t)
	legacy, err := s.Resolve(context.Background(), "ttl.sh/signed_with_cosign_legacy:latest")
	if err != nil {
		t.Fatal(err)
	}
	_, res := exportBytes(t, s, ExportOptions{Entries: []ocispec.Descriptor{legacy}})
	want := []string{"ttl.sh/signed_with_cosign_legacy:latest", "sha256-" + legacy.Digest.Encoded() + ".sig"}
	if !slices.Equal(res.Refs, want) {
		t.Fatalf("ig store: refs %v, want %v", res.Refs, want)
	}
}

// exFlip changes one byte in the middle of a blob file.
func exFlip(tb testing.TB, s *layout.Store, d digest.Digest) {
	tb.Helper()
	p := filepath.Join(s.Path(), "blobs", "sha256", d.Encoded())
	if err := os.Chmod(p, 0o644); err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(p, data, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// TestExportCorrupt: a damaged or missing blob stops the export with an error naming it, and
// ExportFile leaves no output (no file, no part, no checksum file, no temp file).
func TestExportCorrupt(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		damage func(tb testing.TB, l *exLayout) digest.Digest
		want   error
	}{
		{"flipped byte", func(tb testing.TB, l *exLayout) digest.Digest {
			exFlip(tb, l.s, l.big.Digest)
			return l.big.Digest
		}, layout.ErrDigestMismatch},
		{"truncated", func(tb testing.TB, l *exLayout) digest.Digest {
			if err := os.Truncate(filepath.Join(l.s.Path(), "blobs", "sha256", l.big.Digest.Encoded()), 100); err != nil {
				tb.Fatal(err)
			}
			return l.big.Digest
		}, layout.ErrSizeMismatch},
		{"missing", func(tb testing.TB, l *exLayout) digest.Digest {
			if err := os.Remove(filepath.Join(l.s.Path(), "blobs", "sha256", l.big.Digest.Encoded())); err != nil {
				tb.Fatal(err)
			}
			return l.big.Digest
		}, layout.ErrNotFound},
	} {
		for _, partSize := range []int64{0, MinSplitSize} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, partSize), func(t *testing.T) {
				l := exMakeLayout(t)
				d := tc.damage(t, l)
				dir := t.TempDir()
				_, err := ExportFile(ctx, l.s, filepath.Join(dir, "bundle.tar"), ExportOptions{PartSize: partSize})
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), d.String()) {
					t.Fatalf("export of a layout with a damaged blob: %v; want %v naming %s", err, tc.want, d)
				}
				if got := exDirNames(t, dir); len(got) != 0 {
					t.Fatalf("files left behind: %v", got)
				}
				if _, err := Export(ctx, l.s, io.Discard, ExportOptions{}); !errors.Is(err, tc.want) {
					t.Fatalf("stream export: %v", err)
				}
			})
		}
	}
}

// TestExportExclude: blobs a base holds are left out, index.json lists every entry; the base
// may be a layout, a tarball (plain or compressed) or the parts of one.
func TestExportExclude(t *testing.T) {
	ctx := context.Background()
	l := exMakeLayout(t)
	dir := t.TempDir()
	// The base: an export of v1 alone, as a far side that got last month's bundle holds it.
	v1 := ExportOptions{Entries: []ocispec.Descriptor{l.v1}}
	baseCl := exClosure(t, l.s, v1.Entries)
	all := exClosure(t, l.s, nil)
	baseTar := filepath.Join(dir, "base.tar")
	if _, err := ExportFile(ctx, l.s, baseTar, v1); err != nil {
		t.Fatal(err)
	}
	baseDir := filepath.Join(dir, "base")
	exExtract(t, baseTar, baseDir)
	v1.Compression = Zstd
	if _, err := ExportFile(ctx, l.s, baseTar+".zst", v1); err != nil {
		t.Fatal(err)
	}
	v1.Compression, v1.PartSize = Gzip, MinSplitSize
	if _, err := ExportFile(ctx, l.s, filepath.Join(dir, "split.tar.gz"), v1); err != nil {
		t.Fatal(err)
	}
	for _, base := range []string{baseDir, baseTar, baseTar + ".zst", filepath.Join(dir, "split.tar.gz")} {
		t.Run(filepath.Base(base), func(t *testing.T) {
			held, err := HeldBlobs(ctx, base)
			if err != nil {
				t.Fatal(err)
			}
			if len(held) != len(baseCl.Blobs) {
				t.Fatalf("%d blobs held, the base has %d", len(held), len(baseCl.Blobs))
			}
			data, res := exportBytes(t, l.s, ExportOptions{Exclude: held})
			entries := exCheckShape(t, data, 0)
			blobs := exBlobNames(entries)
			var want []digest.Digest
			var excludedBytes int64
			for _, b := range all.Blobs {
				if held.Has(b.Digest) {
					excludedBytes += b.Size
				} else {
					want = append(want, b.Digest)
				}
			}
			if !slices.Equal(blobs, want) {
				t.Fatalf("delta carries %v, want %v", blobs, want)
			}
			if res.Excluded != len(baseCl.Blobs) || res.ExcludedBytes != excludedBytes || res.Blobs != len(want) {
				t.Fatalf("result %+v", res)
			}
			if !exSameJSON(exIndexOf(t, entries).Manifests, all.Entries) {
				t.Fatal("the delta's index.json does not list every entry")
			}
			// Import: alone, the delta is refused and changes nothing; on top of its base
			// it makes the whole layout.
			lone := filepath.Join(t.TempDir(), "lone")
			if _, err := Import(ctx, lone, bytes.NewReader(data), ImportOptions{}); !errors.Is(err, layout.ErrGraphIncomplete) {
				t.Fatalf("import of the delta alone: %v, want ErrGraphIncomplete", err)
			}
			if _, err := os.Stat(lone); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("the refused import left %s: %v", lone, err)
			}
			site := filepath.Join(t.TempDir(), "site")
			if _, err := ImportFiles(ctx, site, []string{baseTar}, ImportOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := Import(ctx, site, bytes.NewReader(data), ImportOptions{}); err != nil {
				t.Fatalf("import of the delta on its base: %v", err)
			}
			if rep := exVerify(t, site); rep.LayoutDigest != exVerify(t, l.s.Path()).LayoutDigest {
				t.Fatalf("base + delta: layout digest %s, the source's differs", rep.LayoutDigest)
			}
			// The same by hand, with archive/tar.
			far := filepath.Join(t.TempDir(), "far")
			exCopyTree(t, baseDir, far)
			os.Remove(filepath.Join(far, layout.IndexFile))
			os.Remove(filepath.Join(far, layout.LayoutFile))
			exExtractReader(t, bytes.NewReader(data), far)
			exVerify(t, far)
		})
	}
}

func TestHeldBlobsRefuses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	notTar := filepath.Join(dir, "notes.txt")
	os.WriteFile(notTar, bytes.Repeat([]byte("not a tar\n"), 100), 0o644)
	noLayout := filepath.Join(dir, "nolayout.tar")
	exWriteTar(t, noLayout, map[string]string{"blobs/sha256/" + strings.Repeat("a", 64): "x"})
	dotdot := filepath.Join(dir, "dotdot.tar")
	exWriteTar(t, dotdot, map[string]string{"oci-layout": `{"imageLayoutVersion":"1.0.0"}`, "../blobs/sha256/" + strings.Repeat("a", 64): "x"})
	notDigest := filepath.Join(dir, "notdigest.tar")
	exWriteTar(t, notDigest, map[string]string{"oci-layout": `{"imageLayoutVersion":"1.0.0"}`, "blobs/sha256/xyz": "x"})
	for _, tc := range []struct {
		name, path string
		want       error
	}{
		{"not a tar", notTar, ErrCorrupt},
		{"no oci-layout", noLayout, ErrCorrupt},
		{"dot dot", dotdot, ErrUnsafeEntry},
		{"not a digest", notDigest, ErrUnsafeEntry},
		{"plain directory", t.TempDir(), layout.ErrNotLayout},
		{"missing", filepath.Join(dir, "missing"), fs.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			held, err := HeldBlobs(ctx, tc.path)
			if !errors.Is(err, tc.want) || held != nil {
				t.Fatalf("HeldBlobs(%s) = %d blobs, %v; want %v", tc.path, len(held), err, tc.want)
			}
		})
	}
}

// exWriteTar writes a plain tar of the given files, sorted by name.
func exWriteTar(tb testing.TB, path string, files map[string]string) {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := writeEntry(tw, n, int64(len(files[n])), time.Unix(0, 0), strings.NewReader(files[n])); err != nil {
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

func TestExportRefusals(t *testing.T) {
	ctx := context.Background()
	empty, err := layout.Init(filepath.Join(t.TempDir(), "empty"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Export(ctx, empty, io.Discard, ExportOptions{}); !errors.Is(err, layout.ErrNotFound) {
		t.Errorf("export of a layout without refs: %v", err)
	}
	l := exMakeLayout(t)
	if _, err := Export(ctx, l.s, io.Discard, ExportOptions{PartSize: MinSplitSize}); !errors.Is(err, ErrBadOptions) {
		t.Errorf("stream export with a part size: %v", err)
	}
	if _, err := Export(ctx, l.s, io.Discard, ExportOptions{Compression: "xz"}); !errors.Is(err, ErrBadOptions) {
		t.Errorf("export with compression xz: %v", err)
	}
	dir := t.TempDir()
	if _, err := ExportFile(ctx, l.s, filepath.Join(dir, "b.tar"), ExportOptions{PartSize: 1000}); !errors.Is(err, ErrBadOptions) {
		t.Errorf("export with a part size of 1000: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := ExportFile(canceled, l.s, filepath.Join(dir, "b.tar"), ExportOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("export with a canceled context: %v", err)
	}
	if got := exDirNames(t, dir); len(got) != 0 {
		t.Fatalf("files left behind: %v", got)
	}
	// A writer that fails: the error names the tar entry.
	if _, err := Export(ctx, l.s, &exFailingWriter{after: 5000}, ExportOptions{}); err == nil || !strings.Contains(err.Error(), "tar entry") {
		t.Errorf("export into a failing writer: %v", err)
	}
}

// TestExportOntoItself: an output inside the layout being exported, however it is spelled, is
// refused before anything is written, the layout's tree unchanged; a sibling folder whose
// name starts with the layout's is not inside it.
func TestExportOntoItself(t *testing.T) {
	ctx := context.Background()
	l := exMakeLayout(t)
	root := l.s.Path()
	parent := filepath.Dir(root)
	if err := os.Symlink(root, filepath.Join(parent, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "blobs"), filepath.Join(parent, "blobs-link")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		out  string
		opts ExportOptions
	}{
		{"index.json", filepath.Join(root, "index.json"), ExportOptions{}},
		{"oci-layout", filepath.Join(root, "oci-layout"), ExportOptions{}},
		{"in the root", filepath.Join(root, "bundle.tar"), ExportOptions{}},
		{"in blobs/sha256", filepath.Join(root, "blobs", "sha256", "bundle.tar"), ExportOptions{}},
		{"split in the root", filepath.Join(root, "bundle.tar"), ExportOptions{PartSize: MinSplitSize}},
		{"through a symlink to the root", filepath.Join(parent, "link", "index.json"), ExportOptions{}},
		{"through a symlink to blobs", filepath.Join(parent, "blobs-link", "bundle.tar"), ExportOptions{Compression: Gzip}},
		{"through ..", filepath.Join(root, "blobs", "..", "index.json"), ExportOptions{}},
		{"relative", "index.json", ExportOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "relative" {
				t.Chdir(root)
			}
			before := imTree(t, parent)
			_, err := ExportFile(ctx, l.s, tc.out, tc.opts)
			if !errors.Is(err, ErrBadOptions) || !strings.Contains(err.Error(), "inside the layout") || !strings.Contains(err.Error(), tc.out) {
				t.Fatalf("export to %s: %v", tc.out, err)
			}
			if after := imTree(t, parent); after != before {
				t.Fatalf("export to %s changed the tree:\n%s\n----\n%s", tc.out, before, after)
			}
		})
	}
	beside := root + "-beside"
	if err := os.Mkdir(beside, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := ExportFile(ctx, l.s, filepath.Join(beside, "index.json"), ExportOptions{}); err != nil {
		t.Fatalf("export beside the layout: %v", err)
	}
}

type exFailingWriter struct{ after int }

func (w *exFailingWriter) Write(p []byte) (int, error) {
	if len(p) > w.after {
		return w.after, errors.New("disk full")
	}
	w.after -= len(p)
	return len(p), nil
}

func TestExportProgress(t *testing.T) {
	l := exMakeLayout(t)
	var last, total int64
	calls := 0
	_, res := exportBytes(t, l.s, ExportOptions{Progress: func(d, tt int64) { last, total = d, tt; calls++ }})
	if calls == 0 || last != res.BlobBytes || total != res.BlobBytes {
		t.Fatalf("%d progress calls, last %d of %d; want %d", calls, last, total, res.BlobBytes)
	}
}

// TestExportFarMtime: an mtime past what USTAR holds (2242) still exports, in PAX headers.
func TestExportFarMtime(t *testing.T) {
	l := exMakeLayout(t)
	far := time.Unix(1<<33+5, 0)
	data, _ := exportBytes(t, l.s, ExportOptions{ModTime: far})
	entries := exReadTar(t, bytes.NewReader(data))
	if len(entries) < 3 {
		t.Fatalf("%d entries", len(entries))
	}
	for _, e := range entries {
		if !e.hdr.ModTime.Equal(far) || e.hdr.Typeflag != tar.TypeReg {
			t.Fatalf("%s: mtime %v type %c, want %v", e.hdr.Name, e.hdr.ModTime, e.hdr.Typeflag, far)
		}
	}
}
