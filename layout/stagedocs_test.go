package layout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// smallBlob is one blob of smallImages: its descriptor and content.
type smallBlob struct {
	desc ocispec.Descriptor
	data []byte
}

// pushSmall pushes blobs into st, in their order.
func pushSmall(tb testing.TB, st *Stage, blobs []smallBlob) {
	tb.Helper()
	for _, b := range blobs {
		if err := st.Push(tb.Context(), b.desc, bytes.NewReader(b.data)); err != nil {
			tb.Fatal(err)
		}
	}
}

// smallImages returns n images as the scale benchmark makes them (index -> manifest -> image
// config + one 1 KiB layer), blobs in the order an export writes them, and the named index.json
// entries; the first manifest has a referrer (a manifest whose subject it is), pushed last.
func smallImages(tb testing.TB, n int) (blobs []smallBlob, entries []ocispec.Descriptor) {
	tb.Helper()
	put := func(mt string, data []byte) ocispec.Descriptor {
		d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(data), Size: int64(len(data))}
		blobs = append(blobs, smallBlob{desc: d, data: data})
		return d
	}
	putJSON := func(mt string, v any) ocispec.Descriptor {
		data, err := json.Marshal(v)
		if err != nil {
			tb.Fatal(err)
		}
		return put(mt, data)
	}
	var first ocispec.Descriptor
	for i := range n {
		layer := put(ocispec.MediaTypeImageLayer, pseudoRandom(fmt.Sprint("layer", i), 1024))
		cfg := putJSON(ocispec.MediaTypeImageConfig, map[string]any{"architecture": "amd64", "os": "linux",
			"rootfs": map[string]any{"type": "layers", "diff_ids": []string{string(layer.Digest)}}})
		m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}}
		m.SchemaVersion = 2
		md := putJSON(ocispec.MediaTypeImageManifest, m)
		if i == 0 {
			first = md
		}
		md.Platform = &ocispec.Platform{Architecture: "amd64", OS: "linux"}
		idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{md}}
		idx.SchemaVersion = 2
		entries = append(entries, named(putJSON(ocispec.MediaTypeImageIndex, idx), fmt.Sprintf("example.com/img-%d:v1", i)))
	}
	sig := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "application/vnd.example.sig",
		Config: ocispec.DescriptorEmptyJSON, Layers: []ocispec.Descriptor{ocispec.DescriptorEmptyJSON}, Subject: &first}
	sig.SchemaVersion = 2
	put(ocispec.MediaTypeEmptyJSON, []byte("{}"))
	putJSON(ocispec.MediaTypeImageManifest, sig)
	return blobs, entries
}

// countStage counts the staged files opened and the documents decoded while fn runs.
func countStage(tb testing.TB, fn func()) (opens, decodes int64) {
	tb.Helper()
	var o, d atomic.Int64
	stagedOpens, docDecodes = &o, &d
	defer func() { stagedOpens, docDecodes = nil, nil }()
	fn()
	return o.Load(), d.Load()
}

// TestStageReadsOnce checks that a commit of many small images reads each staged document
// from memory and decodes each manifest and index once: the graph check, the referrer search
// and the merge into index.json each opened, hashed and decoded every staged document again
// (import of 20,000 small images: 21 s, the floor 4.4 s). The graph check drops each document
// it read: the stage holds only what no check reads after it (it held them all until Commit: 23 MB at 20,000 small
// images); the one staged file opened then is the referrer's subject, whose presence the
// referrer's check looks at after the walk of the entries read it. Past the cap on kept
// documents, the stage reads its files again and commits the same.
func TestStageReadsOnce(t *testing.T) {
	const n = 500
	blobs, entries := smallImages(t, n)
	docs := 2*n + 1 // the indexes and manifests, the referrer's included
	for _, tc := range []struct {
		name      string
		cap       int64
		wantOpens int64 // -1: more than the documents kept
	}{
		{"documents kept", 0, 1},
		{"over the cap", 1024, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			st, err := NewStageAt(ctx, filepath.Join(t.TempDir(), "layout"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Discard()
			st.docCap = tc.cap
			var pushDecodes int64
			_, pushDecodes = countStage(t, func() {
				pushSmall(t, st, blobs)
			})
			if pushDecodes > 1 {
				t.Errorf("pushes decoded %d documents, want 1 (the referrer; the others cannot name a subject)", pushDecodes)
			}
			var res *AddResult
			opens, decodes := countStage(t, func() {
				if err = st.CheckGraph(ctx, entries); err != nil {
					t.Fatal(err)
				}
				// What stays is the referrer's empty config "{}": no check reads it whole.
				if st.docBytes != 2 {
					t.Errorf("the stage holds %d bytes of documents after the graph check, want 2", st.docBytes)
				}
				res, err = st.Commit(ctx, entries, AddOptions{})
			})
			if err != nil || res.Added != n+1 {
				t.Fatalf("Commit = %+v, %v; want %d added (the refs and the referrer, listed)", res, err, n+1)
			}
			if decodes > int64(docs) {
				t.Errorf("CheckGraph and Commit decoded %d documents, over %d: each manifest and index once", decodes, docs)
			}
			if (tc.wantOpens >= 0 && opens != tc.wantOpens) || (tc.wantOpens < 0 && opens <= int64(tc.cap/100)) {
				t.Errorf("staged files opened %d times; want %d (-1: many)", opens, tc.wantOpens)
			}
			mustVerify(t, st.Path())
			refs, err := (&Store{root: st.Path()}).Referrers(ctx, ocispec.Descriptor{Digest: blobs[2].desc.Digest})
			if err != nil || len(refs) != 1 {
				t.Fatalf("referrers of the first manifest: %v, %v; want the one pushed", refs, err)
			}
		})
	}
}

// TestStageCommitRechecks checks that Commit, which does not walk the graphs again under the
// index lock after a CheckGraph, still refuses when a blob they reach left the layout in
// between (a gc), and writes no index.json entry.
func TestStageCommitRechecks(t *testing.T) {
	ctx := t.Context()
	blobs, entries := smallImages(t, 3)
	s := newStore(t)
	layer := blobs[0] // the first image's layer: in the layout before the import
	if _, err := s.WriteBlob(ctx, bytes.NewReader(layer.data)); err != nil {
		t.Fatal(err)
	}
	st, err := s.NewStage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Discard()
	pushSmall(t, st, blobs)
	if err := st.CheckGraph(ctx, entries); err != nil {
		t.Fatal(err)
	}
	path, err := s.blobPath(layer.desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	_, err = st.Commit(ctx, entries, AddOptions{})
	if !errors.Is(err, ErrGraphIncomplete) || !errors.Is(err, ErrNotFound) || !bytes.Contains([]byte(err.Error()), []byte(layer.desc.Digest.Encoded())) {
		t.Fatalf("Commit after the layer left = %v, want ErrGraphIncomplete naming %s", err, layer.desc.Digest)
	}
	idx, err := s.Index(ctx)
	if err != nil || len(idx.Manifests) != 0 {
		t.Fatalf("index.json after a refused commit: %v, %v", idx.Manifests, err)
	}
}

func TestDocTee(t *testing.T) {
	spaces := bytes.Repeat([]byte(" "), sniffBytes)
	for _, tc := range []struct {
		name   string
		data   []byte
		chunks int // the data goes through in this many writes
		keep   bool
	}{
		{"object", []byte(`{"a":1}`), 1, true},
		{"object byte by byte", []byte(`{"a":1}`), 7, true},
		{"white space first", []byte(" \t\r\n{}"), 3, true},
		{"array", []byte(`[1]`), 1, false},
		{"binary", []byte{0x7f, 'E', 'L', 'F'}, 2, false},
		{"one byte", []byte(`{`), 1, false},
		{"white space alone", []byte("   "), 1, false},
		{"object after sniffBytes of white space", append(append([]byte{}, spaces...), "{}"...), 4, false},
		{"object after less white space", append(append([]byte{}, spaces[1:]...), "{}"...), 4, true},
		{"over MaxJSONBytes", append([]byte("{"), make([]byte, MaxJSONBytes)...), 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			tee := newDocTee(&out, int64(len(tc.data)))
			step := max(1, len(tc.data)/tc.chunks)
			for p := tc.data; len(p) > 0; {
				k := min(step, len(p))
				if _, err := tee.Write(p[:k]); err != nil {
					t.Fatal(err)
				}
				p = p[k:]
			}
			if !bytes.Equal(out.Bytes(), tc.data) {
				t.Fatal("the tee changed what it passed on")
			}
			if got := tee.doc(); (got != nil) != tc.keep || (got != nil && !bytes.Equal(got, tc.data)) {
				t.Fatalf("doc() = %d bytes, want kept: %v", len(got), tc.keep)
			}
		})
	}
}

// FuzzMaySubject checks the filter that spares a decode: a document that MaySubject calls
// subject-free is never a referrer.
func FuzzMaySubject(f *testing.F) {
	empty := `{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + string(ocispec.DescriptorEmptyJSON.Digest) + `","size":2}`
	for _, key := range []string{"subject", "Subject", "SUBJECT", `\u0073ubject`, "ſubject"} {
		f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":` + empty +
			`,"layers":[],"` + key + `":` + empty + `}`))
	}
	f.Add([]byte(`{"schemaVersion":2,"layers":[],"config":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		desc := ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}
		if _, ok := asReferrer(desc, data); ok && !MaySubject(data) {
			t.Fatalf("%q is a referrer that MaySubject calls subject-free", data)
		}
	})
}
