package layout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

func TestVerifyIGStore(t *testing.T) {
	dir := copyDir(t, igStore)
	rep, err := Verify(t.Context(), dir, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	index, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.LayoutDigest != digest.FromBytes(index) || rep.Blobs != 39 || rep.Bytes != 38309 || rep.Path != dir {
		t.Fatalf("report %+v", rep)
	}
	// The only findings, all warnings, each a fact of ig's store:
	want := []string{
		// An older referrers-tag index of the notation signatures of sha256:5cf9ca27...,
		// superseded by 1949da51... (entry sha256-5cf9ca27...); nothing points at it.
		"warning " + RuleUnreferenced + " blobs/sha256/4027dded62759e4310a37cfd691278d34900e19952ae68d19f8d0f01e2f2dd85",
		// index.json lists two manifests without a ref name whose blobs are not in the store
		// (oras-go, which ig uses, records every manifest it stores as such an entry, and its
		// loader skips absent ones); no ref depends on them.
		"warning " + RuleDanglingEntry + " index.json[13](sha256:3cacc8aeae9b)",
		"warning " + RuleDanglingEntry + " index.json[14](sha256:8c32c433e8ab)",
	}
	var got []string
	for _, p := range rep.Problems {
		got = append(got, p.Severity+" "+p.Rule+" "+p.Where)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// verifyLayout builds, once per test, a small layout in a temp dir: a two-arch gadget tagged
// example.com/x:1 and returns its path and image.
func verifyLayout(tb testing.TB) (*Store, testImage) {
	tb.Helper()
	s := newStore(tb)
	im := buildImage(tb, s, "x")
	if err := s.Tag(tb.Context(), im.index, "example.com/x:1"); err != nil {
		tb.Fatal(err)
	}
	return s, im
}

// findProblem returns the first problem of that severity and rule whose where or message
// contains what.
func findProblem(rep *Report, severity, rule, what string) (Problem, bool) {
	for _, p := range rep.Problems {
		if p.Severity == severity && p.Rule == rule && (strings.Contains(p.Where, what) || strings.Contains(p.Message, what)) {
			return p, true
		}
	}
	return Problem{}, false
}

func dumpProblems(tb testing.TB, rep *Report) {
	tb.Helper()
	for _, p := range rep.Problems {
		tb.Log(p.String())
	}
}

func TestVerifyBitFlips(t *testing.T) {
	s, im := verifyLayout(t)
	assertVerifies(t, s.Path())
	rng := rand.New(rand.NewPCG(20260826, 1))
	for _, desc := range im.all() {
		path := filepath.Join(s.Path(), "blobs", "sha256", desc.Digest.Encoded())
		offsets := []int64{0, desc.Size - 1, desc.Size / 2}
		for range 3 {
			offsets = append(offsets, rng.Int64N(desc.Size))
		}
		for _, off := range offsets {
			bit := uint(rng.IntN(8))
			t.Run(fmt.Sprintf("%s@%d.%d", short(desc.Digest), off, bit), func(t *testing.T) {
				flipBit(t, path, off, bit)
				defer flipBit(t, path, off, bit)
				rep, err := Verify(t.Context(), s.Path(), VerifyOptions{Jobs: 2})
				if err != nil {
					t.Fatal(err)
				}
				p, ok := findProblem(rep, SeverityError, RuleBlobDigest, string(desc.Digest))
				if rep.OK || !ok || p.Where != "blobs/sha256/"+desc.Digest.Encoded() || !errors.Is(p.Err, ErrDigestMismatch) {
					dumpProblems(t, rep)
					t.Fatalf("flip of bit %d at %d of %s (%s) not reported as %s", bit, off, desc.Digest, desc.MediaType, RuleBlobDigest)
				}
			})
		}
	}
	assertVerifies(t, s.Path())
}

// addEntry appends a raw descriptor to index.json, bypassing Tag's checks, as a broken tool
// might.
func addEntry(tb testing.TB, s *Store, raw string) {
	tb.Helper()
	err := s.update(tb.Context(), func(d *indexDoc) error {
		var desc ocispec.Descriptor
		if err := json.Unmarshal([]byte(raw), &desc); err != nil {
			return err
		}
		d.entries = append(d.entries, indexEntry{raw: json.RawMessage(raw), desc: desc})
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// entryJSON is an index.json entry for a blob.
func entryJSON(mediaType string, desc ocispec.Descriptor, extra string) string {
	return fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d%s}`, mediaType, desc.Digest, desc.Size, extra)
}

func blobFilePath(s *Store, d digest.Digest) string {
	return filepath.Join(s.Path(), "blobs", d.Algorithm().String(), d.Encoded())
}

func TestVerifyCorruption(t *testing.T) {
	type want struct {
		severity, rule, what string
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, s *Store, im testImage) []want
		opts   func(s *Store) VerifyOptions
		ok     bool
	}{
		{name: "truncated layer", damage: func(t *testing.T, s *Store, im testImage) []want {
			truncate(t, blobFilePath(s, im.layers[1].Digest), im.layers[1].Size-100)
			return []want{
				{SeverityError, RuleDescSize, string(im.layers[1].Digest)},
				{SeverityError, RuleBlobDigest, string(im.layers[1].Digest)},
			}
		}},
		{name: "extra bytes", damage: func(t *testing.T, s *Store, im testImage) []want {
			appendTo(t, blobFilePath(s, im.configs[0].Digest), "\nextra: 1\n")
			return []want{
				{SeverityError, RuleDescSize, string(im.configs[0].Digest)},
				{SeverityError, RuleBlobDigest, string(im.configs[0].Digest)},
			}
		}},
		{name: "missing layer", damage: func(t *testing.T, s *Store, im testImage) []want {
			os.Remove(blobFilePath(s, im.layers[3].Digest))
			where := "index.json[0](ref example.com/x:1) > manifests[1](" + short(im.manifests[1].Digest) + ") > layers[1](" + short(im.layers[3].Digest) + ")"
			return []want{{SeverityError, RuleMissingBlob, where}, {SeverityError, RuleMissingBlob, string(im.layers[3].Digest)}}
		}},
		{name: "missing manifest", damage: func(t *testing.T, s *Store, im testImage) []want {
			os.Remove(blobFilePath(s, im.manifests[0].Digest))
			return []want{
				{SeverityError, RuleMissingBlob, string(im.manifests[0].Digest)},
				// What it pointed at is now unreferenced.
				{SeverityWarning, RuleUnreferenced, string(im.layers[0].Digest)},
			}
		}},
		{name: "missing root of a named entry", damage: func(t *testing.T, s *Store, im testImage) []want {
			os.Remove(blobFilePath(s, im.index.Digest))
			return []want{{SeverityError, RuleMissingBlob, "index.json[0](ref example.com/x:1)"}}
		}},
		{name: "bad blob names", damage: func(t *testing.T, s *Store, im testImage) []want {
			mustWrite(t, filepath.Join(s.Path(), "blobs", "sha256", "NOTHEX"), "x")
			upper := strings.ToUpper(digest.FromString("u").Encoded())
			mustWrite(t, filepath.Join(s.Path(), "blobs", "sha256", upper), "u")
			os.Mkdir(filepath.Join(s.Path(), "blobs", "md5"), 0o755)
			mustWrite(t, filepath.Join(s.Path(), "blobs", "md5", "d41d8cd98f00b204e9800998ecf8427e"), "")
			return []want{
				{SeverityError, RuleBlobName, "blobs/sha256/NOTHEX"},
				{SeverityError, RuleBlobName, "blobs/sha256/" + upper},
				{SeverityError, RuleBlobName, "blobs/md5/d41d8cd98f00b204e9800998ecf8427e"},
			}
		}},
		{name: "symlink blob", damage: func(t *testing.T, s *Store, im testImage) []want {
			path := blobFilePath(s, im.layers[0].Digest)
			data, _ := os.ReadFile(path)
			other := filepath.Join(t.TempDir(), "elsewhere")
			mustWrite(t, other, string(data))
			os.Remove(path)
			if err := os.Symlink(other, path); err != nil {
				t.Fatal(err)
			}
			return []want{
				{SeverityError, RuleBlobType, string(im.layers[0].Digest)},
				{SeverityError, RuleMissingBlob, string(im.layers[0].Digest)},
			}
		}},
		{name: "named pipe blob", damage: func(t *testing.T, s *Store, im testImage) []want {
			path := blobFilePath(s, im.layers[2].Digest)
			os.Remove(path)
			if err := unix.Mkfifo(path, 0o644); err != nil {
				t.Fatal(err)
			}
			return []want{{SeverityError, RuleBlobType, string(im.layers[2].Digest)}}
		}},
		{name: "edited index.json under expect", opts: func(s *Store) VerifyOptions {
			return VerifyOptions{Expect: digest.FromString("the index.json the sender had")}
		}, damage: func(t *testing.T, s *Store, im testImage) []want {
			return []want{{SeverityError, RuleExpect, "sha256:"}}
		}},
		{name: "index.json not JSON", damage: func(t *testing.T, s *Store, im testImage) []want {
			mustWrite(t, filepath.Join(s.Path(), IndexFile), `{"schemaVersion":2,"manifests":[`)
			return []want{{SeverityError, RuleJSON, IndexFile}}
		}},
		{name: "index.json missing", damage: func(t *testing.T, s *Store, im testImage) []want {
			os.Remove(filepath.Join(s.Path(), IndexFile))
			return []want{{SeverityError, RuleIndexFile, IndexFile}}
		}},
		{name: "index.json of schemaVersion 1", damage: func(t *testing.T, s *Store, im testImage) []want {
			mustWrite(t, filepath.Join(s.Path(), IndexFile), `{"schemaVersion":1,"manifests":[]}`)
			return []want{{SeverityError, RuleIndex, "schemaVersion 1"}}
		}},
		{name: "oci-layout 1.1.0", damage: func(t *testing.T, s *Store, im testImage) []want {
			mustWrite(t, filepath.Join(s.Path(), LayoutFile), `{"imageLayoutVersion":"1.1.0"}`)
			return []want{{SeverityError, RuleLayoutFile, "1.1.0"}}
		}},
		{name: "blobs missing", damage: func(t *testing.T, s *Store, im testImage) []want {
			os.RemoveAll(filepath.Join(s.Path(), BlobsDir))
			return []want{{SeverityError, RuleBlobsDir, BlobsDir}, {SeverityError, RuleMissingBlob, string(im.index.Digest)}}
		}},
		{name: "entry of the wrong size", damage: func(t *testing.T, s *Store, im testImage) []want {
			d := im.index
			d.Size++
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageIndex, d, ""))
			return []want{{SeverityError, RuleDescSize, "index.json[1]"}}
		}},
		{name: "entry with a bad media type", damage: func(t *testing.T, s *Store, im testImage) []want {
			addEntry(t, s, entryJSON("application/vnd.oci.image.index.v1+json; charset=utf-8", im.index, ""))
			return []want{{SeverityError, RuleDescMediaType, "index.json[1]"}}
		}},
		{name: "entry with a bad digest", damage: func(t *testing.T, s *Store, im testImage) []want {
			addEntry(t, s, `{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:abc","size":3}`)
			return []want{{SeverityError, RuleDescDigest, "index.json[1]"}}
		}},
		{name: "entry with a wrong data field", damage: func(t *testing.T, s *Store, im testImage) []want {
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, im.manifests[0], `,"data":"e30="`))
			return []want{{SeverityError, RuleDescData, string(im.manifests[0].Digest)}}
		}},
		{name: "entry with a right data field", ok: true, damage: func(t *testing.T, s *Store, im testImage) []want {
			data, _ := os.ReadFile(blobFilePath(s, im.manifests[0].Digest))
			b, _ := json.Marshal(data)
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, im.manifests[0], `,"data":`+string(b)))
			return nil
		}},
		{name: "manifest that does not parse", damage: func(t *testing.T, s *Store, im testImage) []want {
			bad := writeBlob(t, s, ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"config":`))
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, bad, ""))
			return []want{{SeverityError, RuleJSON, string(bad.Digest)}}
		}},
		{name: "manifest of the wrong shape", damage: func(t *testing.T, s *Store, im testImage) []want {
			bad := writeBlob(t, s, ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}`))
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, bad, ""))
			return []want{
				{SeverityError, RuleManifest, "index.json[1]"},
				{SeverityError, RuleManifest, "no config"},
				{SeverityError, RuleManifest, "no layers"},
			}
		}},
		{name: "OCI config that is not one", damage: func(t *testing.T, s *Store, im testImage) []want {
			cfg := writeBlob(t, s, ocispec.MediaTypeImageConfig, []byte(`{"architecture":12}`))
			m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":%s,"layers":[]}`, ocispec.MediaTypeImageManifest, entryJSON(ocispec.MediaTypeImageConfig, cfg, ""))
			md := writeBlob(t, s, ocispec.MediaTypeImageManifest, []byte(m))
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, md, ""))
			return []want{{SeverityError, RuleConfig, string(cfg.Digest)}}
		}},
		{name: "empty descriptor that is not {}", damage: func(t *testing.T, s *Store, im testImage) []want {
			m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":%s,"layers":[]}`, ocispec.MediaTypeImageManifest, entryJSON(ocispec.MediaTypeEmptyJSON, im.configs[0], ""))
			md := writeBlob(t, s, ocispec.MediaTypeImageManifest, []byte(m))
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, md, ""))
			return []want{{SeverityError, RuleEmpty, string(im.configs[0].Digest)}}
		}},
		{name: "manifest over the cap", damage: func(t *testing.T, s *Store, im testImage) []want {
			big := writeBlob(t, s, ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"x":"`+strings.Repeat("a", MaxJSONBytes)+`"}`))
			addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, big, ""))
			return []want{{SeverityError, RuleTooLarge, string(big.Digest)}}
		}},
		{name: "unknown file, temp files, unreferenced blob: warnings", ok: true, damage: func(t *testing.T, s *Store, im testImage) []want {
			mustWrite(t, filepath.Join(s.Path(), "README"), "hello")
			mustWrite(t, filepath.Join(s.Path(), ".index.json.tmp-42"), "{")
			liveWriter(t, s)
			stray := writeBlob(t, s, "application/octet-stream", []byte("stray"))
			return []want{
				{SeverityWarning, RuleUnknownFile, "README"},
				{SeverityWarning, RuleTempLeftover, ".index.json.tmp-42"},
				{SeverityWarning, RuleTempLeftover, TempDir + "/blob-"},
				{SeverityWarning, RuleUnreferenced, string(stray.Digest)},
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, im := verifyLayout(t)
			wants := tc.damage(t, s, im)
			opts := VerifyOptions{}
			if tc.opts != nil {
				opts = tc.opts(s)
			}
			before := treeState(t, s.Path())
			rep, err := Verify(t.Context(), s.Path(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if after := treeState(t, s.Path()); len(after) != len(before) {
				t.Error("Verify wrote into the layout")
			}
			if rep.OK != tc.ok {
				dumpProblems(t, rep)
				t.Fatalf("OK = %v, want %v", rep.OK, tc.ok)
			}
			for _, w := range wants {
				if _, ok := findProblem(rep, w.severity, w.rule, w.what); !ok {
					dumpProblems(t, rep)
					t.Fatalf("no %s %s naming %q", w.severity, w.rule, w.what)
				}
			}
			if tc.ok && len(wants) == 0 && len(rep.Problems) != 0 {
				dumpProblems(t, rep)
				t.Fatal("problems in a sound layout")
			}
			// Deterministic: a second run reports the same, in the same order.
			rep2, err := Verify(t.Context(), s.Path(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(rep.Problems, rep2.Problems, func(a, b Problem) bool { return a.String() == b.String() }) {
				t.Fatal("two runs differ")
			}
		})
	}
}

func TestVerifyExpect(t *testing.T) {
	s, im := verifyLayout(t)
	index, _ := os.ReadFile(filepath.Join(s.Path(), IndexFile))
	expect := digest.FromBytes(index)
	rep, err := Verify(t.Context(), s.Path(), VerifyOptions{Expect: expect})
	if err != nil || !rep.OK || rep.LayoutDigest != expect {
		t.Fatalf("Verify with the right Expect: %+v, %v", rep, err)
	}
	if err := s.Tag(t.Context(), im.index, "example.com/x:2"); err != nil {
		t.Fatal(err)
	}
	rep, err = Verify(t.Context(), s.Path(), VerifyOptions{Expect: expect})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := findProblem(rep, SeverityError, RuleExpect, string(expect))
	if rep.OK || !ok || !strings.Contains(p.Message, string(rep.LayoutDigest)) {
		t.Fatalf("edited index.json under Expect: %+v", rep.Problems)
	}
}

// referrerManifest writes a manifest with subject subj and one layer, and returns it.
func referrerManifest(tb testing.TB, s *Store, subj ocispec.Descriptor, payload string) (ocispec.Descriptor, ocispec.Descriptor) {
	tb.Helper()
	layer := writeBlob(tb, s, "application/vnd.example.signature", []byte(payload))
	empty := writeBlob(tb, s, ocispec.MediaTypeEmptyJSON, []byte("{}"))
	m := ocispec.Manifest{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: "application/vnd.example.signature",
		Config:       empty,
		Layers:       []ocispec.Descriptor{layer},
		Subject:      &subj,
	}
	m.SchemaVersion = 2
	return writeJSON(tb, s, ocispec.MediaTypeImageManifest, m), layer
}

func TestVerifyReferrers(t *testing.T) {
	s, im := verifyLayout(t)
	// A signature of the index (listed in index.json), a signature of that signature (a bare
	// blob), and a signature of something that is not in the layout: the first two are kept
	// (the second with a warning that index.json does not list it), the last is garbage.
	sig, sigLayer := referrerManifest(t, s, im.index, "sig of index")
	addEntry(t, s, entryJSON(ocispec.MediaTypeImageManifest, sig, ""))
	sig2, sig2Layer := referrerManifest(t, s, sig, "sig of sig")
	orphan, orphanLayer := referrerManifest(t, s, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromString("gone"), Size: 10}, "orphan")
	rep, err := Verify(t.Context(), s.Path(), VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		dumpProblems(t, rep)
		t.Fatal("not OK")
	}
	var unref, unlisted []string
	for _, p := range rep.Problems {
		switch p.Rule {
		case RuleUnreferenced:
			unref = append(unref, p.Where)
		case RuleUnlistedReferrer:
			unlisted = append(unlisted, p.Where)
		default:
			t.Errorf("unexpected: %s", p)
		}
	}
	if want := []string{"blobs/sha256/" + sig2.Digest.Encoded()}; !slices.Equal(unlisted, want) {
		t.Errorf("unlisted referrers %v, want %v", unlisted, want)
	}
	want := []string{"blobs/sha256/" + orphan.Digest.Encoded(), "blobs/sha256/" + orphanLayer.Digest.Encoded()}
	slices.Sort(want)
	if !slices.Equal(unref, want) {
		t.Fatalf("unreferenced %v, want %v (kept: %s %s %s %s)", unref, want, sig.Digest, sigLayer.Digest, sig2.Digest, sig2Layer.Digest)
	}
}

// violation is a rule finding as spec.Violation gives it.
type violation struct {
	warning           bool
	rule, where, text string
}

func (v violation) Error() string { return v.rule + ": " + v.text }

func (v violation) Finding() (severity, rule, where, message string) {
	if v.warning {
		return SeverityWarning, v.rule, v.where, v.text
	}
	return SeverityError, v.rule, v.where, v.text
}

func TestVerifyRuleFuncs(t *testing.T) {
	s, im := verifyLayout(t)
	var mu sync.Mutex
	var calls []string
	var read atomic.Int64
	opts := VerifyOptions{
		Jobs: 1,
		CheckIndex: func(ctx context.Context, desc ocispec.Descriptor, idx ocispec.Index, fetch func(context.Context, ocispec.Descriptor) (io.ReadCloser, error)) []error {
			mu.Lock()
			calls = append(calls, "index "+short(desc.Digest))
			mu.Unlock()
			if desc.Digest != "" && len(idx.Manifests) != 2 { // index.json itself comes with a zero descriptor
				return []error{errors.New("index with " + fmt.Sprint(len(idx.Manifests)) + " manifests")}
			}
			return nil
		},
		CheckManifest: func(ctx context.Context, desc ocispec.Descriptor, m ocispec.Manifest, fetch func(context.Context, ocispec.Descriptor) (io.ReadCloser, error)) []error {
			mu.Lock()
			calls = append(calls, "manifest "+short(desc.Digest)+" "+desc.Platform.Architecture)
			mu.Unlock()
			// Read every layer whole, as spec's ELF and wasm checks do.
			for _, l := range m.Layers {
				rc, err := fetch(ctx, l)
				if err != nil {
					return []error{err}
				}
				n, err := io.Copy(io.Discard, rc)
				rc.Close()
				if err != nil {
					return []error{err}
				}
				read.Add(n)
			}
			if desc.Platform.Architecture == "arm64" {
				return []error{
					violation{warning: true, rule: "ig/example", where: "layers[1]", text: "a warning"},
					errors.New("a plain error"),
				}
			}
			return nil
		},
	}
	v := newVerifier(s.Path(), opts)
	rep, err := v.run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(calls)
	wantCalls := []string{"index ", "index " + short(im.index.Digest), "manifest " + short(im.manifests[0].Digest) + " amd64", "manifest " + short(im.manifests[1].Digest) + " arm64"}
	if !slices.Equal(calls, wantCalls) {
		t.Fatalf("calls %v, want %v", calls, wantCalls)
	}
	mwhere := "index.json[0](ref example.com/x:1) > manifests[1](" + short(im.manifests[1].Digest) + ")"
	want := []Problem{
		{Severity: SeverityError, Rule: "gadget", Where: mwhere, Message: "a plain error"},
		{Severity: SeverityWarning, Rule: "ig/example", Where: mwhere + " > layers[1]", Message: "a warning"},
	}
	if len(rep.Problems) != len(want) {
		dumpProblems(t, rep)
		t.Fatalf("%d problems, want %d", len(rep.Problems), len(want))
	}
	for i, w := range want {
		p := rep.Problems[i]
		if p.Severity != w.Severity || p.Rule != w.Rule || p.Where != w.Where || p.Message != w.Message || p.Err == nil {
			t.Errorf("problem %d = %+v, want %+v", i, p, w)
		}
	}
	if rep.OK {
		t.Error("OK with an error finding")
	}
	// Each byte once: the rule funcs' reads of the layers were their hashing pass.
	var layers int64
	for _, l := range im.layers {
		layers += l.Size
	}
	if read.Load() != layers {
		t.Fatalf("rule funcs read %d bytes, want %d", read.Load(), layers)
	}
	if got := v.read.Load(); got != rep.Bytes {
		t.Fatalf("verify read %d bytes from disk for %d bytes of blobs", got, rep.Bytes)
	}
}

func TestVerifyReadsEachByteOnce(t *testing.T) {
	s, _ := verifyLayout(t)
	for _, jobs := range []int{1, 2, 4} {
		v := newVerifier(s.Path(), VerifyOptions{Jobs: jobs})
		rep, err := v.run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got := v.read.Load(); got != rep.Bytes || !rep.OK {
			t.Fatalf("jobs %d: read %d bytes from disk for %d bytes of blobs (ok=%v)", jobs, got, rep.Bytes, rep.OK)
		}
	}
}

func TestVerifyRulePanics(t *testing.T) {
	s, _ := verifyLayout(t)
	rep, err := Verify(t.Context(), s.Path(), VerifyOptions{
		CheckIndex: func(context.Context, ocispec.Descriptor, ocispec.Index, func(context.Context, ocispec.Descriptor) (io.ReadCloser, error)) []error {
			panic("boom")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := findProblem(rep, SeverityError, "gadget", "panicked: boom"); rep.OK || !ok {
		t.Fatalf("a panicking rule: %+v", rep.Problems)
	}
}

func TestVerifyStops(t *testing.T) {
	s, _ := verifyLayout(t)
	c, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Verify(c, s.Path(), VerifyOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify with a cancelled context: %v", err)
	}
	for _, path := range []string{filepath.Join(s.Path(), IndexFile), filepath.Join(s.Path(), "nope")} {
		if _, err := Verify(t.Context(), path, VerifyOptions{}); !errors.Is(err, ErrNotLayout) {
			t.Fatalf("Verify(%s): %v, want ErrNotLayout", path, err)
		}
	}
}

func TestVerifyJSON(t *testing.T) {
	s, _ := verifyLayout(t)
	rep := assertVerifies(t, s.Path())
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"blobs", "bytes", "layout_digest", "ok", "path", "problems"}; !slices.Equal(keys, want) {
		t.Fatalf("JSON keys %v, want %v", keys, want)
	}
	if !strings.Contains(string(data), `"problems":[]`) {
		t.Fatalf("no problems should be an empty array: %s", data)
	}
}
