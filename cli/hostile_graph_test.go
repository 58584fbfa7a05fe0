package cli

import (
	"archive/tar"
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/layout"
)

// Issue 10's "nested indexes" and "wide index.json": graphs that are deep, fan out, or have a
// huge index.json, made on the fly (100,000 nested indexes are a 105 MB tar, 145,000 refs a
// 31 MB index.json).

// graphFile is one file of a crafted layout: its path in the layout and its content.
type graphFile struct {
	name string
	data []byte
}

// graphBlob returns the layout file of a JSON document and its descriptor of media type mt.
func graphBlob(tb testing.TB, mt string, v any) (graphFile, ocispec.Descriptor) {
	tb.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	dg := digest.FromBytes(data)
	return graphFile{"blobs/sha256/" + dg.Encoded(), data}, ocispec.Descriptor{MediaType: mt, Digest: dg, Size: int64(len(data))}
}

// nestedGraph returns the files of a layout whose one ref, "deep", is depth indexes nested one
// in the other around an image manifest.
func nestedGraph(tb testing.TB, depth int) []graphFile {
	tb.Helper()
	empty := ocispec.DescriptorEmptyJSON
	files := []graphFile{{"blobs/sha256/" + empty.Digest.Encoded(), []byte("{}")}}
	f, cur := graphBlob(tb, ocispec.MediaTypeImageManifest, ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: empty, Layers: []ocispec.Descriptor{},
	})
	files = append(files, f)
	for range depth {
		f, cur = graphBlob(tb, ocispec.MediaTypeImageIndex, ocispec.Index{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{cur},
		})
		files = append(files, f)
	}
	cur.Annotations = map[string]string{ocispec.AnnotationRefName: "deep"}
	return append(files, layoutHead(tb, []ocispec.Descriptor{cur})...)
}

// fanOutGraph returns the files of a layout whose ref "wide" is an index listing one index
// width times, that one listing the next width times, depth levels: a tree of width^depth
// nodes over depth+2 blobs.
func fanOutGraph(tb testing.TB, width, depth int) []graphFile {
	tb.Helper()
	empty := ocispec.DescriptorEmptyJSON
	files := []graphFile{{"blobs/sha256/" + empty.Digest.Encoded(), []byte("{}")}}
	f, cur := graphBlob(tb, ocispec.MediaTypeImageManifest, ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: empty, Layers: []ocispec.Descriptor{},
	})
	files = append(files, f)
	for range depth {
		entries := make([]ocispec.Descriptor, width)
		for i := range entries {
			entries[i] = cur
		}
		f, cur = graphBlob(tb, ocispec.MediaTypeImageIndex, ocispec.Index{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: entries,
		})
		files = append(files, f)
	}
	cur.Annotations = map[string]string{ocispec.AnnotationRefName: "wide"}
	return append(files, layoutHead(tb, []ocispec.Descriptor{cur})...)
}

// layoutHead returns oci-layout and an index.json of entries.
func layoutHead(tb testing.TB, entries []ocispec.Descriptor) []graphFile {
	tb.Helper()
	idx, err := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: entries})
	if err != nil {
		tb.Fatal(err)
	}
	return []graphFile{{layout.LayoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`)}, {layout.IndexFile, idx}}
}

// writeGraphDir writes files as a layout folder at dir, with the index.json.lock a reader's
// lock would otherwise add.
func writeGraphDir(tb testing.TB, dir string, files []graphFile) {
	tb.Helper()
	files = append(files, graphFile{layout.IndexFile + ".lock", nil})
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		tb.Fatal(err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// writeGraphTar writes files as a layout tarball at path, blobs first, as an export orders
// them (index.json last: an import cannot know the graph before the end).
func writeGraphTar(tb testing.TB, path string, files []graphFile) {
	tb.Helper()
	out, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	tw := tar.NewWriter(bw)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
}

// initLayout makes an empty layout at dir: an existing import or copy target.
func initLayout(tb testing.TB, dir string) {
	tb.Helper()
	if _, err := layout.Init(dir); err != nil {
		tb.Fatal(err)
	}
}

// deepRuns are the commands run over a layout and a tarball of indexes nested too deep: each
// refuses with the depth error, naming the ref and a shortened path, and writes nothing.
func deepRuns() []hostileRun {
	tooDeep := "is nested 65 levels deep, over the cap of 64"
	path := "more levels ..."
	return []hostileRun{
		{args: []string{"verify", "$DIR/layout"}, says: []string{layout.RuleTooDeep, "index.json[0](ref deep) > manifests[0]", path, tooDeep}},
		{args: []string{"verify", "$DIR/deep.tar"}, says: []string{layout.RuleTooDeep, "index.json[0](ref deep) > manifests[0]", path, tooDeep}},
		{args: []string{"import", "--layout", "$DIR/target", "$DIR/deep.tar"}, says: []string{"ref deep", path, tooDeep, "graph too deep"}},
		{args: []string{"import", "--layout", "$DIR/missing", "$DIR/deep.tar"}, says: []string{"ref deep", path, tooDeep, "graph too deep"}},
		{args: []string{"export", "--layout", "$DIR/layout", "-o", "$DIR/out.tar"}, says: []string{"ref deep", path, tooDeep, "graph too deep"}},
		{args: []string{"copy", "--layout", "$DIR/layout", "--to", "$DIR/target"}, says: []string{"ref deep", path, tooDeep, "graph too deep"}},
		{args: []string{"copy", "--layout", "$DIR/layout", "--to", "$DIR/missing"}, says: []string{"ref deep", path, tooDeep, "graph too deep"}},
		{args: []string{"gc", "--layout", "$DIR/layout"}, says: []string{"ref deep", path, tooDeep, "graph too deep"}},
		{args: []string{"inspect", "--layout", "$DIR/layout", "deep"}, says: []string{"ref deep", path, tooDeep, "graph too deep"}},
		// list reads index.json and the indexes refs name, no deeper: the ref is listed.
		{args: []string{"list", "--layout", "$DIR/layout"}, ok: true, says: []string{"deep"}},
	}
}

// makeDeep writes the nested graph of depth as $DIR/layout and $DIR/deep.tar, beside an empty
// layout $DIR/target.
func makeDeep(depth int) func(tb testing.TB, dir string) {
	return func(tb testing.TB, dir string) {
		files := nestedGraph(tb, depth)
		writeGraphDir(tb, filepath.Join(dir, "layout"), files)
		writeGraphTar(tb, filepath.Join(dir, "deep.tar"), files)
		initLayout(tb, filepath.Join(dir, "target"))
	}
}

// wideRefs is the number of refs of the wide index.json case: 31 MB, under the 32 MiB cap.
const wideRefs = 145_000

// makeWide writes $DIR/layout, the demo layout whose index.json names its two images under
// 145,000 refs, and an empty layout $DIR/target.
func makeWide(tb testing.TB, dir string) {
	tb.Helper()
	src := filepath.Join(dir, "layout")
	copyTree(tb, demoLayout(tb), src)
	data, err := os.ReadFile(filepath.Join(src, layout.IndexFile))
	if err != nil {
		tb.Fatal(err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		tb.Fatal(err)
	}
	entries := make([]ocispec.Descriptor, wideRefs)
	for i := range entries {
		entries[i] = idx.Manifests[i%len(idx.Manifests)]
		entries[i].Annotations = map[string]string{ocispec.AnnotationRefName: fmt.Sprintf("ig/g%06d:v1", i)}
	}
	head := layoutHead(tb, entries)
	if n := len(head[1].data); n > layout.MaxIndexBytes || n < 30<<20 {
		tb.Fatalf("index.json of %d bytes, want 30 MiB to the cap", n)
	}
	if err := os.WriteFile(filepath.Join(src, layout.IndexFile), head[1].data, 0o644); err != nil {
		tb.Fatal(err)
	}
	initLayout(tb, filepath.Join(dir, "target"))
}

// demoLayout builds the demo layout once per test binary run.
var demoLayout = func() func(tb testing.TB) string {
	var dir string
	return func(tb testing.TB) string {
		tb.Helper()
		if dir == "" {
			dir = buildDemo(tb)
		}
		return dir
	}
}()

func TestHostileGraph(t *testing.T) {
	runHostile(t, []hostileCase{
		{name: "nested indexes 100 deep", make: makeDeep(100), runs: deepRuns()},
		{name: "nested indexes 10,000 deep", make: makeDeep(10_000), runs: deepRuns(), slow: true, timeout: 120 * time.Second},
		{name: "nested indexes 100,000 deep", make: makeDeep(100_000), runs: deepRuns(), slow: true, timeout: 420 * time.Second, maxRSS: 512 << 20},
		{
			// An index listing one index 200 times, 4 levels: 1.6 billion nodes as a tree, 6
			// blobs as a graph. Walks read each once; inspect, which draws the tree, stops at
			// its cap.
			name: "indexes fanning out",
			make: func(tb testing.TB, dir string) {
				files := fanOutGraph(tb, 200, 4)
				writeGraphDir(tb, filepath.Join(dir, "layout"), files)
				writeGraphTar(tb, filepath.Join(dir, "wide.tar"), files)
				initLayout(tb, filepath.Join(dir, "target"))
			},
			runs: []hostileRun{
				{args: []string{"inspect", "--layout", "$DIR/layout", "wide"}, says: []string{"ref wide", "the tree has over 100000 nodes, the cap", "too many descriptors"}},
				{args: []string{"list", "--layout", "$DIR/layout"}, ok: true, says: []string{"wide"}},
				{args: []string{"gc", "--layout", "$DIR/layout"}, ok: true, says: []string{"removed 0 blobs"}},
				{args: []string{"export", "--layout", "$DIR/layout", "-o", "$DIR/out.tar"}, ok: true, changes: true},
				{args: []string{"copy", "--layout", "$DIR/layout", "--to", "$DIR/target"}, ok: true, changes: true},
				{args: []string{"import", "--layout", "$DIR/missing", "$DIR/wide.tar"}, ok: true, changes: true},
			},
		},
		{
			name: "wide index.json, 145,000 refs",
			make: makeWide,
			runs: []hostileRun{
				{args: []string{"verify", "$DIR/layout"}, ok: true, says: []string{"ok: 15 blobs", "0 errors"}},
				{args: []string{"list", "--layout", "$DIR/layout", "--quiet"}, ok: true, says: []string{"ig/g000000:v1", "ig/g144999:v1"}},
				{args: []string{"inspect", "--layout", "$DIR/layout", "ig/g144999:v1"}, ok: true, says: []string{"ig/g144999:v1"}},
				{args: []string{"gc", "--layout", "$DIR/layout"}, ok: true, says: []string{"removed 0 blobs"}},
				{args: []string{"export", "--layout", "$DIR/layout", "-o", "$DIR/out.tar"}, ok: true, changes: true, says: []string{"145000 refs"}},
				{args: []string{"verify", "$DIR/out.tar"}, ok: true, says: []string{"0 errors"}},
				{args: []string{"import", "--layout", "$DIR/target", "$DIR/out.tar"}, ok: true, changes: true, says: []string{"145000 entries (145000 added"}},
				{args: []string{"import", "--layout", "$DIR/target", "$DIR/out.tar"}, ok: true, changes: true, says: []string{"145000 entries (0 added, 0 replaced, 145000 unchanged)"}},
				{args: []string{"import", "--layout", "$DIR/missing", "$DIR/out.tar"}, ok: true, changes: true, says: []string{"145000 entries (145000 added"}},
				{args: []string{"copy", "--layout", "$DIR/layout", "--to", "$DIR/copy"}, ok: true, changes: true, says: []string{"145000 added"}},
				{args: []string{"copy", "--layout", "$DIR/layout", "--to", "$DIR/copy"}, ok: true, changes: true, says: []string{"145000 already there"}},
			},
			slow:    true,
			timeout: 120 * time.Second,
			maxRSS:  768 << 20,
		},
	})
}
