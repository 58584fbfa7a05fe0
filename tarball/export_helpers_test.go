package tarball

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gadgetpack/gadgetpack/internal/testfs"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/layout"
)

// Test helpers of export (prefixed ex, apart from import's).

// Tree helpers shared with other packages' tests.
var (
	exShared   = testfs.SharedPath
	exCopyTree = testfs.CopyTree
	exDirNames = testfs.DirNames
)

// exIGStore returns a copy of the real ig store of ../shared/interop/ig-store (signed gadgets:
// cosign's .sig tag, an OCI 1.1 referrer, notation), opened.
func exIGStore(tb testing.TB) *layout.Store {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "ig-store")
	exCopyTree(tb, exShared(tb, "interop", "ig-store"), dir)
	s, err := layout.Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// exIGExport returns the real `ig image export` tarball of trace_open, extracted into a layout.
func exIGExport(tb testing.TB) (*layout.Store, string) {
	tb.Helper()
	tarPath := exShared(tb, "interop", "ig-export", "trace_open.tar")
	dir := filepath.Join(tb.TempDir(), "trace_open")
	exExtract(tb, tarPath, dir)
	s, err := layout.Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return s, tarPath
}

// exExtract extracts a plain tar of regular files (as export writes them) into dir with Go's
// archive/tar, refusing anything else: the import that does not depend on package tarball.
func exExtract(tb testing.TB, tarPath, dir string) {
	tb.Helper()
	f, err := os.Open(tarPath)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	exExtractReader(tb, f, dir)
}

func exExtractReader(tb testing.TB, r io.Reader, dir string) {
	tb.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			tb.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg || !filepath.IsLocal(h.Name) {
			tb.Fatalf("tar entry %q: type %c: not a local regular file", h.Name, h.Typeflag)
		}
		p := filepath.Join(dir, h.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		out, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			tb.Fatal(err)
		}
		if err := out.Close(); err != nil {
			tb.Fatal(err)
		}
	}
}

// exVerify runs layout.Verify on dir and fails on any error finding.
func exVerify(tb testing.TB, dir string) *layout.Report {
	tb.Helper()
	rep, err := layout.Verify(context.Background(), dir, layout.VerifyOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	if !rep.OK {
		for _, p := range rep.Problems {
			tb.Log(p)
		}
		tb.Fatalf("layout %s does not verify", dir)
	}
	return rep
}

// exManifest writes an image manifest of config and layers into s (an empty config when
// config is zero) and returns its descriptor; subject, when set, makes it a referrer.
func exManifest(tb testing.TB, s *layout.Store, config ocispec.Descriptor, layers []ocispec.Descriptor, subject *ocispec.Descriptor, artifactType string) ocispec.Descriptor {
	tb.Helper()
	ctx := context.Background()
	if config.Digest == "" {
		config = exBlob(tb, s, ocispec.MediaTypeEmptyJSON, []byte("{}"))
	}
	if layers == nil {
		layers = []ocispec.Descriptor{}
	}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: artifactType,
		Config:       config,
		Layers:       layers,
		Subject:      subject,
	}
	data, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	desc, err := s.WriteBlob(ctx, bytes.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	desc.MediaType = ocispec.MediaTypeImageManifest
	desc.ArtifactType = artifactType
	return desc
}

// exBlob writes data into s as a blob of mediaType.
func exBlob(tb testing.TB, s *layout.Store, mediaType string, data []byte) ocispec.Descriptor {
	tb.Helper()
	desc, err := s.WriteBlob(context.Background(), bytes.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	desc.MediaType = mediaType
	return desc
}

// exTarEntry is one entry of a tar, with its header and the sha256 of its content.
type exTarEntry struct {
	hdr  *tar.Header
	data []byte // content, for files up to 1 MiB
}

// exReadTar reads every entry of a plain tar.
func exReadTar(tb testing.TB, r io.Reader) []exTarEntry {
	tb.Helper()
	tr := tar.NewReader(r)
	var out []exTarEntry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			tb.Fatal(err)
		}
		e := exTarEntry{hdr: h}
		if h.Size <= 1<<20 {
			if e.data, err = io.ReadAll(tr); err != nil {
				tb.Fatal(err)
			}
		}
		out = append(out, e)
	}
}

// exLayout is a small layout made for export tests: two tagged images sharing a layer, an OCI
// 1.1 referrer of the first (by subject, not in index.json), a digest-tag signature of the
// second (an index.json entry named ...:sha256-<hex>.sig), and a blob nothing points at.
type exLayout struct {
	s          *layout.Store
	v1, v2     ocispec.Descriptor // the images' manifests, as tagged
	referrer   ocispec.Descriptor // subject v1
	sig        ocispec.Descriptor // tagged example.com/app:sha256-<v2>.sig
	big        ocispec.Descriptor // v2's 3 MiB random layer
	unreferred ocispec.Descriptor
}

const (
	exRefV1 = "example.com/app:v1"
	exRefV2 = "example.com/app:v2"
)

func exMakeLayout(tb testing.TB) *exLayout {
	tb.Helper()
	ctx := context.Background()
	s, err := layout.Init(filepath.Join(tb.TempDir(), "layout"))
	if err != nil {
		tb.Fatal(err)
	}
	l := &exLayout{s: s}
	shared := exBlob(tb, s, ocispec.MediaTypeImageLayer, exRandom(70000, 10))
	l.big = exBlob(tb, s, ocispec.MediaTypeImageLayer, exRandom(3<<20, 11))
	cfg1 := exBlob(tb, s, "application/vnd.gadget.config.v1+yaml", []byte("name: one\n"))
	cfg2 := exBlob(tb, s, "application/vnd.gadget.config.v1+yaml", []byte("name: two\n"))
	l.v1 = exManifest(tb, s, cfg1, []ocispec.Descriptor{shared, exBlob(tb, s, ocispec.MediaTypeImageLayer, []byte("v1 only"))}, nil, "")
	l.v2 = exManifest(tb, s, cfg2, []ocispec.Descriptor{shared, l.big}, nil, "")
	l.referrer = exManifest(tb, s, ocispec.Descriptor{}, []ocispec.Descriptor{exBlob(tb, s, "application/vnd.example.signature", []byte("signature of v1"))}, &l.v1, "application/vnd.example.signature")
	l.sig = exManifest(tb, s, ocispec.Descriptor{}, []ocispec.Descriptor{exBlob(tb, s, "application/vnd.dev.cosign.simplesigning.v1+json", []byte(`{"critical":{}}`))}, nil, "")
	l.unreferred = exBlob(tb, s, "application/octet-stream", []byte("nobody points at me"))
	for _, e := range []struct {
		ref string
		d   ocispec.Descriptor
	}{
		{exRefV1, l.v1},
		{exRefV2, l.v2},
		{"example.com/app:sha256-" + l.v2.Digest.Encoded() + ".sig", l.sig},
	} {
		if err := s.Tag(ctx, e.d, e.ref); err != nil {
			tb.Fatal(err)
		}
	}
	for _, p := range []*ocispec.Descriptor{&l.v1, &l.v2, &l.sig} {
		if *p, err = s.Resolve(ctx, p.Digest.String()); err != nil {
			tb.Fatal(err)
		}
	}
	return l
}
