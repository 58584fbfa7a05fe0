package layout

import (
	"io"
	"slices"
	"testing"

	apexlog "github.com/apex/log"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	umocidir "github.com/opencontainers/umoci/oci/cas/dir"
	"github.com/opencontainers/umoci/oci/casext"
)

// TestUmociReadsOurLayout opens a layout written by this package with umoci's CAS engine
// (oci/cas/dir + oci/casext), resolves every ref and walks each graph, reading every blob
// through umoci's verified reader.
func TestUmociReadsOurLayout(t *testing.T) {
	s := newStore(t)
	c := t.Context()
	a := buildImage(t, s, "a")
	b := buildImage(t, s, "b")
	sig, _ := referrerManifest(t, s, a.index, "signature of a")
	for _, tag := range []struct {
		desc ocispec.Descriptor
		ref  string
	}{
		{a.index, "ghcr.io/inspektor-gadget/gadget/a:latest"},
		{b.index, "ghcr.io/inspektor-gadget/gadget/b:latest"},
		{a.manifests[0], "example.com/a-amd64:1"},
		{sig, "sha256-" + a.index.Digest.Encoded() + ".sig"},
	} {
		if err := s.Tag(c, tag.desc, tag.ref); err != nil {
			t.Fatal(err)
		}
	}
	assertVerifies(t, s.Path())

	apexlog.SetLevel(apexlog.WarnLevel) // umoci logs every blob it does not parse at info level
	engine, err := umocidir.Open(s.Path())
	if err != nil {
		t.Fatalf("umoci cannot open the layout: %v", err)
	}
	e := casext.NewEngine(engine)
	defer func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
		// umoci read only: the layout is as it was.
		assertVerifies(t, s.Path())
	}()

	names, err := e.ListReferences(c)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := s.Refs(c)
	if err != nil {
		t.Fatal(err)
	}
	var ours []string
	for _, r := range refs {
		ours = append(ours, refName(r))
	}
	slices.Sort(names)
	if !slices.Equal(names, ours) {
		t.Fatalf("umoci lists %v, we list %v", names, ours)
	}

	seen := map[string]bool{}
	for _, name := range names {
		paths, err := e.ResolveReference(c, name)
		if err != nil {
			t.Fatalf("umoci ResolveReference(%s): %v", name, err)
		}
		if len(paths) == 0 {
			t.Fatalf("umoci resolves %s to nothing", name)
		}
		for _, p := range paths {
			err := e.Walk(c, p.Root(), func(dp casext.DescriptorPath) error {
				d := dp.Descriptor()
				rc, err := e.GetVerifiedBlob(c, d)
				if err != nil {
					return err
				}
				if _, err := io.Copy(io.Discard, rc); err != nil {
					rc.Close()
					return err
				}
				seen[string(d.Digest)] = true
				return rc.Close()
			})
			if err != nil {
				t.Fatalf("umoci walk of %s: %v", name, err)
			}
		}
	}
	for _, im := range []testImage{a, b} {
		for _, d := range im.all() {
			if !seen[string(d.Digest)] {
				t.Errorf("umoci's walk did not reach %s", d.Digest)
			}
		}
	}
	if !seen[string(sig.Digest)] {
		t.Errorf("umoci's walk did not reach the signature %s", sig.Digest)
	}
}
