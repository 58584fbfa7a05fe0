package layout

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// agreeCase is a crafted layout on which Verify and every path that moves content must agree:
// Verify reports rule as an error iff import, export and copy refuse it (with sentinel).
type agreeCase struct {
	name     string
	rule     string // "" for a sound layout
	sentinel error
	make     func(t *testing.T, s *Store, im testImage)
}

// manifestWith writes an image manifest with the given config and layers JSON and returns it.
func manifestWith(tb testing.TB, s *Store, config, layers, extra string) ocispec.Descriptor {
	tb.Helper()
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":%s,"layers":[%s]%s}`, ocispec.MediaTypeImageManifest, config, layers, extra)
	return writeBlob(tb, s, ocispec.MediaTypeImageManifest, []byte(m))
}

// agreeCases are one crafted layout per rule of rules.go that a graph can break, and sound ones.
func agreeCases() []agreeCase {
	named := func(ref string) string {
		b, _ := json.Marshal(ref)
		return `,"annotations":{"org.opencontainers.image.ref.name":` + string(b) + `}`
	}
	cfgOf := func(im testImage) string { return entryJSON(im.configs[0].MediaType, im.configs[0], "") }
	layerOf := func(im testImage, extra string) string {
		return entryJSON(im.layers[0].MediaType, im.layers[0], extra)
	}
	return []agreeCase{
		{name: "sound", make: func(t *testing.T, s *Store, im testImage) {}},
		{name: "entry with a right data field", make: func(t *testing.T, s *Store, im testImage) {
			data, _ := os.ReadFile(blobFilePath(s, im.manifests[0].Digest))
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, im.manifests[0], `,"data":"`+base64.StdEncoding.EncodeToString(data)+`"`+named("y:1")))
		}},
		{name: "entry data not the blob", rule: RuleDescData, sentinel: ErrDigestMismatch, make: func(t *testing.T, s *Store, im testImage) {
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, im.manifests[0], `,"data":"e30="`+named("y:1")))
		}},
		{name: "layer data not the blob", rule: RuleDescData, sentinel: ErrDigestMismatch, make: func(t *testing.T, s *Store, im testImage) {
			md := manifestWith(t, s, cfgOf(im), layerOf(im, `,"data":"e30="`), "")
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, md, named("y:1")))
		}},
		{name: "index in a manifest descriptor", rule: RuleManifest, sentinel: ErrBadManifest, make: func(t *testing.T, s *Store, im testImage) {
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, im.index, named("y:1")))
		}},
		{name: "manifest in an index descriptor", rule: RuleIndex, sentinel: ErrBadManifest, make: func(t *testing.T, s *Store, im testImage) {
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageIndex, im.manifests[0], named("y:1")))
		}},
		{name: "manifest in an index's docker list entry", rule: RuleManifest, sentinel: ErrBadManifest, make: func(t *testing.T, s *Store, im testImage) {
			idx := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[%s]}`, ocispec.MediaTypeImageIndex, entryJSON(mediaTypeDockerManifest, im.manifests[0], ""))
			id := writeBlob(t, s, ocispec.MediaTypeImageIndex, []byte(idx))
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageIndex, id, named("y:1")))
		}},
		{name: "manifest listed twice, once behind a docker list type", rule: RuleManifest, sentinel: ErrBadManifest, make: func(t *testing.T, s *Store, im testImage) {
			idx := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[%s,%s]}`, ocispec.MediaTypeImageIndex,
				entryJSON(ocispec.MediaTypeImageManifest, im.manifests[0], ""), entryJSON(mediaTypeDockerManifest, im.manifests[0], ""))
			id := writeBlob(t, s, ocispec.MediaTypeImageIndex, []byte(idx))
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageIndex, id, named("y:1")))
		}},
		{name: "entry size other than the blob", rule: RuleDescSize, sentinel: ErrSizeMismatch, make: func(t *testing.T, s *Store, im testImage) {
			d := im.manifests[0]
			d.Size--
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, d, named("y:1")))
		}},
		{name: "layer size other than the blob", rule: RuleDescSize, sentinel: ErrSizeMismatch, make: func(t *testing.T, s *Store, im testImage) {
			l := im.layers[0]
			l.Size++
			md := manifestWith(t, s, cfgOf(im), entryJSON(l.MediaType, l, ""), "")
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, md, named("y:1")))
		}},
		{name: "negative size", rule: RuleDescSize, sentinel: ErrSizeMismatch, make: func(t *testing.T, s *Store, im testImage) {
			l := im.layers[0]
			l.Size = -1
			md := manifestWith(t, s, cfgOf(im), entryJSON(l.MediaType, l, ""), "")
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, md, named("y:1")))
		}},
		{name: "subject of another size", rule: RuleDescSize, sentinel: ErrSizeMismatch, make: func(t *testing.T, s *Store, im testImage) {
			subj := im.manifests[0]
			subj.Size += 7
			empty := writeBlob(t, s, ocispec.MediaTypeEmptyJSON, []byte("{}"))
			md := manifestWith(t, s, entryJSON(ocispec.MediaTypeEmptyJSON, empty, ""), "", `,"subject":`+entryJSON(ocispec.MediaTypeImageManifest, subj, ""))
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, md, named("y:1")))
		}},
		{name: "subject with a bad digest", rule: RuleDescDigest, sentinel: ErrInvalidDigest, make: func(t *testing.T, s *Store, im testImage) {
			empty := writeBlob(t, s, ocispec.MediaTypeEmptyJSON, []byte("{}"))
			md := manifestWith(t, s, entryJSON(ocispec.MediaTypeEmptyJSON, empty, ""), "", `,"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:abc","size":3}`)
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, md, named("y:1")))
		}},
		{name: "ref name with invalid UTF-8", rule: RuleAmbiguousJSON, sentinel: ErrBadIndex, make: func(t *testing.T, s *Store, im testImage) {
			rawEntry(t, s, entryJSON(ocispec.MediaTypeImageIndex, im.index, `,"annotations":{"org.opencontainers.image.ref.name":"y:`+"\xff\xfe"+`"}`))
		}},
		{name: "ref name with an escape sequence", rule: RuleRefName, sentinel: ErrInvalidReference, make: func(t *testing.T, s *Store, im testImage) {
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageIndex, im.index, named("y:1\x1b[2J\r0 errors")))
		}},
		{name: "ref name that is a digest", rule: RuleRefName, sentinel: ErrInvalidReference, make: func(t *testing.T, s *Store, im testImage) {
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageIndex, im.index, named(string(im.layers[0].Digest))))
		}},
		{name: "one ref name for two digests", rule: RuleRefName, sentinel: ErrInvalidReference, make: func(t *testing.T, s *Store, im testImage) {
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, im.manifests[0], named("example.com/x:1")))
		}},
		{name: "one ref name twice for one digest", make: func(t *testing.T, s *Store, im testImage) {
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageIndex, im.index, named("example.com/x:1")))
		}},
		{name: "empty descriptor that is not {}", rule: RuleEmpty, sentinel: ErrDigestMismatch, make: func(t *testing.T, s *Store, im testImage) {
			md := manifestWith(t, s, entryJSON(ocispec.MediaTypeEmptyJSON, im.configs[0], ""), "", "")
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, md, named("y:1")))
		}},
		{name: "layer of a bad artifactType", rule: RuleDescArtifact, sentinel: ErrInvalidMediaType, make: func(t *testing.T, s *Store, im testImage) {
			md := manifestWith(t, s, cfgOf(im), layerOf(im, `,"artifactType":"not a type"`), "")
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, md, named("y:1")))
		}},
		{name: "manifest of a bad artifactType", rule: RuleDescArtifact, sentinel: ErrInvalidMediaType, make: func(t *testing.T, s *Store, im testImage) {
			md := manifestWith(t, s, cfgOf(im), layerOf(im, ""), `,"artifactType":"x"`)
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, md, named("y:1")))
		}},
		{name: "layer without a mediaType", rule: RuleDescMediaType, sentinel: ErrInvalidMediaType, make: func(t *testing.T, s *Store, im testImage) {
			l := fmt.Sprintf(`{"digest":%q,"size":%d}`, im.layers[0].Digest, im.layers[0].Size)
			md := manifestWith(t, s, cfgOf(im), l, "")
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, md, named("y:1")))
		}},
		{name: "entry of a bad mediaType", rule: RuleDescMediaType, sentinel: ErrInvalidMediaType, make: func(t *testing.T, s *Store, im testImage) {
			addEntry(t, s, entryJSON("application/vnd.oci.image.index.v1+json; x=1", im.index, named("y:1")))
		}},
		{name: "layer of a bad digest", rule: RuleDescDigest, sentinel: ErrInvalidDigest, make: func(t *testing.T, s *Store, im testImage) {
			md := manifestWith(t, s, cfgOf(im), `{"mediaType":"application/x","digest":"sha256:ABC","size":3}`, "")
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, md, named("y:1")))
		}},
		{name: "manifest that does not parse", rule: RuleJSON, sentinel: ErrBadManifest, make: func(t *testing.T, s *Store, im testImage) {
			bad := writeBlob(t, s, ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"config":`))
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, bad, named("y:1")))
		}},
		{name: "manifest over the cap", rule: RuleTooLarge, sentinel: ErrTooLarge, make: func(t *testing.T, s *Store, im testImage) {
			big := writeBlob(t, s, ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"x":"`+strings.Repeat("a", MaxJSONBytes)+`"}`))
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, big, named("y:1")))
		}},
		{name: "config over the cap", rule: RuleTooLarge, sentinel: ErrTooLarge, make: func(t *testing.T, s *Store, im testImage) {
			cfg := writeBlob(t, s, ocispec.MediaTypeImageConfig, []byte(`{"x":"`+strings.Repeat("a", MaxJSONBytes)+`"}`))
			md := manifestWith(t, s, entryJSON(ocispec.MediaTypeImageConfig, cfg, ""), "", "")
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, md, named("y:1")))
		}},
		{name: "OCI config that is not one", rule: RuleConfig, sentinel: ErrBadManifest, make: func(t *testing.T, s *Store, im testImage) {
			cfg := writeBlob(t, s, ocispec.MediaTypeImageConfig, []byte(`{"architecture":12}`))
			md := manifestWith(t, s, entryJSON(ocispec.MediaTypeImageConfig, cfg, ""), "", "")
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, md, named("y:1")))
		}},
		{name: "manifest without config", rule: RuleManifest, sentinel: ErrBadManifest, make: func(t *testing.T, s *Store, im testImage) {
			md := writeBlob(t, s, ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"layers":[]}`))
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, md, named("y:1")))
		}},
		{name: "index of schemaVersion 1", rule: RuleIndex, sentinel: ErrBadManifest, make: func(t *testing.T, s *Store, im testImage) {
			id := writeBlob(t, s, ocispec.MediaTypeImageIndex, []byte(`{"schemaVersion":1,"manifests":[]}`))
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageIndex, id, named("y:1")))
		}},
		// Referrers are listed in index.json as unnamed entries, as ig's store and gadgetpack
		// list them: Verify walks them as their subject is reached, and so must every path
		// that carries them.
		{name: "sound referrer", make: func(t *testing.T, s *Store, im testImage) {
			ref, _ := referrerManifest(t, s, im.index, "sig")
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, ref, ""))
		}},
		// A referrer that index.json does not list: Verify checks it and warns (only
		// --scan-referrers carries it); the transfers leave it, and gc keeps it.
		{name: "sound unlisted referrer", make: func(t *testing.T, s *Store, im testImage) {
			referrerManifest(t, s, im.index, "sig")
		}},
		{name: "referrer with a layer of a bad data field", rule: RuleDescData, sentinel: ErrDigestMismatch, make: func(t *testing.T, s *Store, im testImage) {
			empty := writeBlob(t, s, ocispec.MediaTypeEmptyJSON, []byte("{}"))
			subj := entryJSON(ocispec.MediaTypeImageIndex, im.index, "")
			ref := manifestWith(t, s, entryJSON(ocispec.MediaTypeEmptyJSON, empty, ""), layerOf(im, `,"data":"e30="`), `,"subject":`+subj)
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, ref, ""))
		}},
		{name: "referrer of a referrer with a bad mediaType", rule: RuleDescMediaType, sentinel: ErrInvalidMediaType, make: func(t *testing.T, s *Store, im testImage) {
			ref, _ := referrerManifest(t, s, im.index, "sig")
			empty := writeBlob(t, s, ocispec.MediaTypeEmptyJSON, []byte("{}"))
			subj := entryJSON(ocispec.MediaTypeImageManifest, ref, "")
			// A media type not of the type/subtype form (a second "mediaType" key would be
			// ambiguous JSON, another rule).
			ref2 := manifestWith(t, s, entryJSON(ocispec.MediaTypeEmptyJSON, empty, ""), entryJSON("bad", im.layers[0], ""), `,"subject":`+subj)
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, ref, ""))
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, ref2, ""))
		}},
		{name: "indexes nested 70 deep", rule: RuleTooDeep, sentinel: ErrTooDeep, make: func(t *testing.T, s *Store, im testImage) {
			d := im.index
			for range 70 {
				d = writeBlob(t, s, ocispec.MediaTypeImageIndex, []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`+
					entryJSON(ocispec.MediaTypeImageIndex, d, "")+`]}`))
			}
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageIndex, d, named("deep:1")))
		}},
		{name: "missing layer", rule: RuleMissingBlob, sentinel: ErrNotFound, make: func(t *testing.T, s *Store, im testImage) {
			_ = os.Remove(blobFilePath(s, im.layers[3].Digest))
		}},
		{name: "corrupt layer", rule: RuleBlobDigest, sentinel: ErrDigestMismatch, make: func(t *testing.T, s *Store, im testImage) {
			flipBit(t, blobFilePath(s, im.layers[2].Digest), 10, 1)
		}},
		// A tarball carries no symlink: import finds the blob missing, export and copy refuse it
		// as not regular; all wrap ErrGraphIncomplete.
		{name: "symlinked layer", rule: RuleBlobType, sentinel: ErrGraphIncomplete, make: func(t *testing.T, s *Store, im testImage) {
			path := blobFilePath(s, im.layers[1].Digest)
			other := filepath.Join(t.TempDir(), "elsewhere")
			if err := os.Rename(path, other); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(other, path); err != nil {
				t.Fatal(err)
			}
		}},
	}
}

// rawEntry appends raw, bytes as they are (invalid UTF-8 too), to index.json's manifests.
func rawEntry(tb testing.TB, s *Store, raw string) {
	tb.Helper()
	path := filepath.Join(s.Path(), IndexFile)
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	i := strings.LastIndex(string(data), "]")
	out := string(data[:i]) + "," + raw + string(data[i:])
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// transfers are the paths that move content, each run on the layout at src: they return nil
// when they accept it.
var transfers = []struct {
	name string
	run  func(ctx context.Context, t *testing.T, src *Store) error
}{
	{"export", func(ctx context.Context, t *testing.T, src *Store) error {
		// What tarball.Export reads: the closure of every entry, each blob read verified.
		idx, err := src.Index(ctx)
		if err != nil {
			return err
		}
		cl, err := src.Closure(ctx, idx.Manifests)
		if err != nil {
			return err
		}
		for _, b := range cl.Blobs {
			rc, err := src.Fetch(ctx, b)
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil {
				return err
			}
		}
		return nil
	}},
	{"copy", func(ctx context.Context, t *testing.T, src *Store) error {
		idx, err := src.Index(ctx)
		if err != nil {
			return err
		}
		_, err = Copy(ctx, src, newStore(t), idx.Manifests, CopyOptions{})
		return err
	}},
	{"import", func(ctx context.Context, t *testing.T, src *Store) error {
		return stageImport(ctx, src, filepath.Join(t.TempDir(), "new"))
	}},
	{"import into a layout", func(ctx context.Context, t *testing.T, src *Store) error {
		dst := newStore(t)
		buildImage(t, dst, "other")
		return stageImport(ctx, src, dst.Path())
	}},
}

// stageImport does what tarball.Import does with a layout's files: index.json through
// ParseIndex, every regular blob file pushed into a stage under its name, the graph checked,
// committed.
func stageImport(ctx context.Context, src *Store, dst string) error {
	data, err := os.ReadFile(filepath.Join(src.Path(), IndexFile))
	if err != nil {
		return err
	}
	idx, err := ParseIndex(data)
	if err != nil {
		return err
	}
	st, err := NewStageAt(ctx, dst)
	if err != nil {
		return err
	}
	defer st.Discard()
	dir := filepath.Join(src.Path(), BlobsDir, "sha256")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue // a tarball carries no symlink (export refuses them, import too)
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		err = st.Push(ctx, ocispec.Descriptor{Digest: digest.NewDigestFromEncoded(digest.SHA256, e.Name()), Size: fi.Size()}, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	if err := st.CheckGraph(ctx, idx.Manifests); err != nil {
		return err
	}
	_, err = st.Commit(ctx, idx.Manifests, AddOptions{})
	return err
}

// TestVerifyAndTransfersAgree runs every crafted layout through Verify and through import,
// export and copy: Verify reports the case's rule as an error iff each of them refuses the
// layout, with the case's sentinel; and gc either refuses or removes nothing (every blob of a
// case is meant to be reachable).
func TestVerifyAndTransfersAgree(t *testing.T) {
	for _, tc := range agreeCases() {
		t.Run(tc.name, func(t *testing.T) {
			s, im := verifyLayout(t)
			tc.make(t, s, im)
			before := treeState(t, s.Path())
			rep, err := Verify(t.Context(), s.Path(), VerifyOptions{Jobs: 2})
			if err != nil {
				t.Fatal(err)
			}
			if tc.rule == "" {
				if !rep.OK {
					dumpProblems(t, rep)
					t.Fatal("verify: errors in a sound layout")
				}
			} else if _, ok := findProblem(rep, SeverityError, tc.rule, ""); !ok {
				dumpProblems(t, rep)
				t.Fatalf("verify: no error of rule %s", tc.rule)
			}
			for _, tr := range transfers {
				err := tr.run(t.Context(), t, s)
				switch {
				case tc.rule == "" && err != nil:
					t.Errorf("%s: refuses a layout verify passes: %v", tr.name, err)
				case tc.rule != "" && err == nil:
					t.Errorf("%s: accepts a layout verify fails (%s)", tr.name, tc.rule)
				case tc.rule != "" && !errors.Is(err, tc.sentinel):
					t.Errorf("%s: %v, want %v", tr.name, err, tc.sentinel)
				case err != nil:
					t.Logf("%s: %v", tr.name, err)
				}
			}
			if plan, err := s.PlanGC(t.Context()); err == nil && len(plan.Blobs) != 0 {
				t.Errorf("gc would remove %d blobs of a layout whose every blob is meant to be reachable: %v", len(plan.Blobs), plan.Blobs)
			}
			if after := treeState(t, s.Path()); !mapsEqual(before, after) {
				t.Error("the source layout changed")
			}
		})
	}
}

// mapsEqual reports whether a and b hold the same keys and values.
func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// rulesNotOfAGraph are the rules of Verify that no crafted graph can break, with the reason:
// they concern the layout's own files or are warnings, and the paths that move content meet
// them elsewhere (Open, the layout checks of each command).
var rulesNotOfAGraph = map[string]string{
	"RuleLayoutFile":       "oci-layout: Open refuses the layout",
	"RuleIndexFile":        "index.json missing or unreadable: Open and readIndex refuse it",
	"RuleBlobsDir":         "blobs/ missing: Open refuses the layout",
	"RuleBlobName":         "a stray file under blobs/: no descriptor names it",
	"RuleBlobRead":         "an I/O error: every reader reports its own",
	"RuleDanglingEntry":    "a warning",
	"RuleUnreferenced":     "a warning",
	"RuleUnlistedReferrer": "a warning",
	"RuleUnknownFile":      "a warning",
	"RuleTempLeftover":     "a warning",
	"RuleExpect":           "verify's --expect alone",
	"RuleTooMany":          "the default cap (1,000,000 descriptors) wants a graph too large for this table; TestVerifyMaxDescriptors and TestWalkMaxDescriptors hold verify and the walks to a small cap",
}

// TestEveryRuleAgrees fails when a Rule constant of verify.go has neither a case in
// agreeCases nor a reason in rulesNotOfAGraph: a new rule must be run through both sides.
func TestEveryRuleAgrees(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range agreeCases() {
		covered[tc.rule] = true
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "verify.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			for i, name := range spec.(*ast.ValueSpec).Names {
				if !strings.HasPrefix(name.Name, "Rule") {
					continue
				}
				n++
				lit := spec.(*ast.ValueSpec).Values[i].(*ast.BasicLit)
				value, _ := strconv.Unquote(lit.Value)
				if _, ok := rulesNotOfAGraph[name.Name]; !ok && !covered[value] {
					t.Errorf("%s (%s) has no case in agreeCases: craft a layout that breaks it, or say in rulesNotOfAGraph why none can", name.Name, value)
				}
			}
		}
	}
	if n < 20 {
		t.Fatalf("found %d Rule constants in verify.go; the parse is wrong", n)
	}
}

// FuzzRulesAgree is differential: for any manifest or index document, the walk of the paths
// that move content (successors) refuses it iff the rules Verify reports of it find an error:
// its fields against its descriptor, each child's descriptor, its subject (and the subject's
// size when the subject is the document itself, the one blob at hand).
func FuzzRulesAgree(f *testing.F) {
	for _, name := range []string{"testdata/manifest-gadget.json", "testdata/index-foreign.json"} {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data, false)
			f.Add(data, true)
		}
	}
	f.Add([]byte(`{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"a/b","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="}]}`), false)
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","manifests":[]}`), true)
	f.Add([]byte(`{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:0","size":-1}],"subject":{"mediaType":"a/b","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":3}}`), true)
	f.Fuzz(func(t *testing.T, data []byte, index bool) {
		if len(data) > MaxJSONBytes {
			return
		}
		mt := ocispec.MediaTypeImageManifest
		if index {
			mt = ocispec.MediaTypeImageIndex
		}
		desc := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(data), Size: int64(len(data))}
		fetch := func(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
			switch {
			case d.Digest != desc.Digest:
				return nil, fmt.Errorf("blob %s: %w", d.Digest, ErrNotFound)
			case d.Size != desc.Size:
				return nil, fmt.Errorf("blob %s: %w", d.Digest, ErrSizeMismatch)
			}
			v, err := NewVerifyReader(strings.NewReader(string(data)), d)
			if err != nil {
				return nil, err
			}
			return io.NopCloser(v), nil
		}
		_, transferErr := successors(t.Context(), fetch, desc)

		d, err := decodeDoc(data)
		if err != nil {
			if transferErr == nil {
				t.Fatalf("successors accepts a document that does not parse: %v", err)
			}
			return
		}
		vs := docViolations(d, mt, false)
		for _, k := range d.children(mt) {
			kvs, _ := descViolations(k.desc)
			vs = append(vs, kvs...)
		}
		if d.Subject != nil {
			svs, ok := descViolations(*d.Subject)
			vs = append(vs, svs...)
			if ok && d.Subject.Digest == desc.Digest {
				vs = append(vs, subjectSizeViolation(*d.Subject, desc.Size)...)
			}
		}
		verifyErr := firstError(vs)
		if (verifyErr == nil) != (transferErr == nil) {
			t.Fatalf("verify's rules: %v; successors: %v", verifyErr, transferErr)
		}
	})
}
