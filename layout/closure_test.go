package layout

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// closureDigests returns the digests of c.Blobs in order.
func closureDigests(c *Closure) []digest.Digest {
	var out []digest.Digest
	for _, b := range c.Blobs {
		out = append(out, b.Digest)
	}
	return out
}

// entryNames returns the ref names (or digests of unnamed entries) of descs.
func entryNames(descs []ocispec.Descriptor) []string {
	var out []string
	for _, d := range descs {
		if n := refName(d); n != "" {
			out = append(out, n)
		} else {
			out = append(out, string(d.Digest))
		}
	}
	return out
}

func TestClosureOrderAndSelection(t *testing.T) {
	s := newStore(t)
	c := t.Context()
	a := buildImage(t, s, "a")
	b := buildImage(t, s, "b")
	for ref, desc := range map[string]ocispec.Descriptor{"a": a.index, "b": b.index} {
		if err := s.Tag(c, desc, ref); err != nil {
			t.Fatal(err)
		}
	}
	ra, err := s.Resolve(c, "a")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := s.Closure(c, []ocispec.Descriptor{ra})
	if err != nil {
		t.Fatal(err)
	}
	if got := entryNames(cl.Entries); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("entries %v, want [a]", got)
	}
	// Pre-order: index, then each manifest before its config and layers.
	want := []digest.Digest{a.index.Digest,
		a.manifests[0].Digest, a.configs[0].Digest, a.layers[0].Digest, a.layers[1].Digest,
		a.manifests[1].Digest, a.configs[1].Digest, a.layers[2].Digest, a.layers[3].Digest}
	if got := closureDigests(cl); !slices.Equal(got, want) {
		t.Fatalf("blobs\n got %v\nwant %v", got, want)
	}
	var bytes int64
	for _, d := range a.all() {
		bytes += d.Size
	}
	if cl.Bytes != bytes {
		t.Errorf("bytes %d, want %d", cl.Bytes, bytes)
	}
}

func TestClosureIGStore(t *testing.T) {
	s, err := Open(copyDir(t, igStore))
	if err != nil {
		t.Fatal(err)
	}
	c := t.Context()
	for _, tc := range []struct {
		ref         string
		wantEntries []string // besides ref itself, by name or digest prefix
		wantBlobs   []string // digest prefixes
	}{
		// A legacy cosign signature is an entry named sha256-<hex>.sig.
		{"ttl.sh/signed_with_cosign_legacy:latest",
			[]string{"sha256-20296fb8a8c8a97808229625945da73f5f4d5843800317ead8c203081156cc9c.sig"},
			[]string{"20296fb8", "e0c60c88", "ad6db79c", "5d37f503"}},
		// An OCI 1.1 referrer, listed by the referrers tag schema's index sha256-<hex>.
		{"ttl.sh/signed_with_cosign_oci11:latest",
			[]string{"sha256-2f096beb75baadce98f52500552f1d7eabf19f4c35007869350d6f496084e992"},
			[]string{"2f096beb", "0ad1c44e"}},
		{"ttl.sh/signed_with_notation_config_media_type_signature:latest", nil, []string{"5dfde5fe"}},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			desc, err := s.Resolve(c, tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			cl, err := s.Closure(c, []ocispec.Descriptor{desc})
			if err != nil {
				t.Fatal(err)
			}
			names := entryNames(cl.Entries)
			for _, w := range append([]string{tc.ref}, tc.wantEntries...) {
				if !slices.Contains(names, w) {
					t.Errorf("entry %s missing from %v", w, names)
				}
			}
			got := closureDigests(cl)
			for _, p := range tc.wantBlobs {
				if !slices.Contains(got, igBlob(t, p)) {
					t.Errorf("blob %s missing", p)
				}
			}
			for _, e := range cl.Entries {
				if !slices.Contains(got, e.Digest) {
					t.Errorf("entry %s: its blob is not in the closure", e.Digest)
				}
				if n := refName(e); n != "" && n != tc.ref && DigestTagOf(n) == "" {
					t.Errorf("entry %s was not asked for", n)
				}
			}
			if len(slices.Compact(slices.Sorted(slices.Values(got)))) != len(got) {
				t.Errorf("a blob is listed twice: %v", got)
			}
		})
	}

	// Every named entry: every blob but gc's one garbage blob, and no dangling entry.
	refs, err := s.Refs(c)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := s.Closure(c, refs)
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.listBlobs(c)
	if err != nil {
		t.Fatal(err)
	}
	var want []digest.Digest
	for _, b := range all {
		if b.Digest != igBlob(t, "4027dded") {
			want = append(want, b.Digest)
		}
	}
	if got := slices.Sorted(slices.Values(closureDigests(cl))); !slices.Equal(got, want) {
		t.Fatalf("closure of every ref\n got %v\nwant %v", got, want)
	}
	for _, e := range cl.Entries {
		if ok, _ := s.Exists(c, e); !ok {
			t.Errorf("dangling entry %s carried", e.Digest)
		}
	}
}

func TestClosureReferrerOfReferrer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		listed bool // the referrers are unnamed entries of index.json
		opts   ClosureOptions
		found  bool // the closure carries them
	}{
		{"listed", true, ClosureOptions{}, true},
		{"listed, scan", true, ClosureOptions{ScanReferrers: true}, true},
		{"bare blobs", false, ClosureOptions{}, false},
		{"bare blobs, scan", false, ClosureOptions{ScanReferrers: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			c := t.Context()
			im := buildImage(t, s, "signed")
			if err := s.Tag(c, im.index, "signed"); err != nil {
				t.Fatal(err)
			}
			sig := referrerOf(t, s, im.index, "sig")
			sigOfSig := referrerOf(t, s, sig, "countersig")
			other := referrerOf(t, s, buildImage(t, s, "other").index, "unrelated")
			if tc.listed {
				if _, err := s.AddEntries(c, []ocispec.Descriptor{sig, sigOfSig, other}, AddOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			cl, err := s.ClosureWith(c, []ocispec.Descriptor{im.index}, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := closureDigests(cl)
			names := entryNames(cl.Entries)
			for _, w := range []ocispec.Descriptor{sig, sigOfSig} {
				if slices.Contains(got, w.Digest) != tc.found {
					t.Errorf("referrer %s carried: %v, want %v", w.Digest, !tc.found, tc.found)
				}
				// What is carried is listed, so that the copy lists it in turn.
				if slices.Contains(names, string(w.Digest)) != tc.found {
					t.Errorf("referrer %s an entry: %v, want %v (entries %v)", w.Digest, !tc.found, tc.found, names)
				}
			}
			if slices.Contains(got, other.Digest) || slices.Contains(names, string(other.Digest)) {
				t.Errorf("unrelated referrer %s carried", other.Digest)
			}
			refs, err := s.Referrers(c, im.index)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.listed {
				if len(refs) != 0 {
					t.Fatalf("Referrers = %+v, want none listed", refs)
				}
				table, err := s.ReferrerTable(c, true)
				if err != nil {
					t.Fatal(err)
				}
				refs = table.Referrers(im.index.Digest)
			}
			if len(refs) != 1 || refs[0].Digest != sig.Digest || refs[0].ArtifactType != "application/vnd.test.sig" ||
				refs[0].MediaType != ocispec.MediaTypeImageManifest || refs[0].Annotations["kind"] != "sig" {
				t.Fatalf("Referrers = %+v, want the one sig manifest with its artifactType and annotations", refs)
			}
		})
	}
}

// referrerOf writes a manifest whose subject is subject, with an empty config and one layer.
func referrerOf(tb testing.TB, s *Store, subject ocispec.Descriptor, kind string) ocispec.Descriptor {
	tb.Helper()
	empty := writeBlob(tb, s, ocispec.MediaTypeEmptyJSON, []byte("{}"))
	layer := writeBlob(tb, s, "application/octet-stream", []byte("signature of "+string(subject.Digest)+" "+kind))
	m := ocispec.Manifest{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: "application/vnd.test." + kind,
		Config:       empty,
		Layers:       []ocispec.Descriptor{layer},
		Subject:      &subject,
		Annotations:  map[string]string{"kind": kind},
	}
	m.SchemaVersion = 2
	return writeJSON(tb, s, ocispec.MediaTypeImageManifest, m)
}

func TestClosureMissingBlob(t *testing.T) {
	s := newStore(t)
	c := t.Context()
	im := buildImage(t, s, "x")
	if err := s.Tag(c, im.index, "x"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(s.Path(), "blobs", "sha256", im.layers[3].Digest.Encoded())); err != nil {
		t.Fatal(err)
	}
	_, err := s.Closure(c, []ocispec.Descriptor{im.index})
	if !errors.Is(err, ErrGraphIncomplete) || !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), string(im.layers[3].Digest)) {
		t.Fatalf("err = %v, want ErrGraphIncomplete naming %s", err, im.layers[3].Digest)
	}
}

func TestDigestTagOf(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	for _, tc := range []struct{ ref, want string }{
		{"sha256-" + hex + ".sig", "sha256:" + hex},
		{"ttl.sh/x:sha256-" + hex + ".sig", "sha256:" + hex},
		{"ttl.sh/x:sha256-" + hex, "sha256:" + hex},
		{"ttl.sh/x:sha256-" + hex + ".att", "sha256:" + hex},
		{"ttl.sh/x:latest", ""},
		{"ttl.sh/x:sha256-" + hex[:60], ""},
		{"ttl.sh/xsha256-" + hex, ""},
		{"sha256-" + hex, "sha256:" + hex},
		{"sha256-" + hex + ".", ""},
		{"sha256-" + hex + ".Sig", ""},
		{"sha256-" + hex + ".sig.att", ""},
		{"sha256-" + strings.ToUpper(hex), ""},
		{"a.b:sha256-" + hex + ".sbom", "sha256:" + hex},
		{":sha256-" + hex, "sha256:" + hex},
		{"sha512-" + hex + hex, ""},
		{"", ""},
	} {
		if got := DigestTagOf(tc.ref); string(got) != tc.want {
			t.Errorf("DigestTagOf(%q) = %q, want %q", tc.ref, got, tc.want)
		}
		if got, want := DigestTagOf(tc.ref), digestTagByRE(tc.ref); got != want {
			t.Errorf("DigestTagOf(%q) = %q, the regexp says %q", tc.ref, got, want)
		}
	}
}

// digestTagRE is the form DigestTagOf matches by hand.
var digestTagRE = regexp.MustCompile(`(?:^|:)(sha256)-([a-f0-9]{64})(?:\.[a-z]+)?$`)

// digestTagByRE is DigestTagOf by digestTagRE.
func digestTagByRE(ref string) digest.Digest {
	m := digestTagRE.FindStringSubmatch(ref)
	if m == nil {
		return ""
	}
	return digest.NewDigestFromEncoded(digest.Algorithm(m[1]), m[2])
}

// FuzzDigestTagOf: the hand matcher agrees with the regexp on any ref.
func FuzzDigestTagOf(f *testing.F) {
	hex := strings.Repeat("0f", 32)
	for _, s := range []string{"sha256-" + hex + ".sig", "x.y/z:sha256-" + hex, "a:b:sha256-" + hex + ".att.sig", "sha256-" + hex + ".", ".sig"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		if got, want := DigestTagOf(ref), digestTagByRE(ref); got != want {
			t.Fatalf("DigestTagOf(%q) = %q, the regexp says %q", ref, got, want)
		}
	})
}

func TestClosuresMatchClosure(t *testing.T) {
	s, err := Open(copyDir(t, igStore))
	if err != nil {
		t.Fatal(err)
	}
	c := t.Context()
	refs, err := s.Refs(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []ClosureOptions{{}, {ScanReferrers: true}} {
		t.Run(fmt.Sprintf("scan=%v", opts.ScanReferrers), func(t *testing.T) {
			all, err := s.Closures(c, refs, opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != len(refs) {
				t.Fatalf("%d closures for %d refs", len(all), len(refs))
			}
			for i, ref := range refs {
				one, err := s.ClosureWith(c, []ocispec.Descriptor{ref}, opts)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(closureDigests(one), closureDigests(all[i])) ||
					!slices.Equal(entryNames(one.Entries), entryNames(all[i].Entries)) || one.Bytes != all[i].Bytes {
					t.Errorf("%s: Closures differs from Closure", refName(ref))
				}
			}
		})
	}
}
