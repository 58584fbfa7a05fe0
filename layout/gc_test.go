package layout

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// planDigests returns the digests of plan's blobs.
func planDigests(plan *GCPlan) []digest.Digest {
	var out []digest.Digest
	for _, b := range plan.Blobs {
		out = append(out, b.Digest)
	}
	return out
}

func sortedDigests(descs ...ocispec.Descriptor) []digest.Digest {
	var out []digest.Digest
	for _, d := range descs {
		out = append(out, d.Digest)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestGC(t *testing.T) {
	s := newStore(t)
	c := t.Context()
	a := buildImage(t, s, "a")
	b := buildImage(t, s, "b")
	// c shares a's layers but has its own config, manifests and index.
	for _, im := range []struct {
		desc ocispec.Descriptor
		ref  string
	}{{a.index, "example.com/a:1"}, {b.index, "example.com/b:1"}} {
		if err := s.Tag(c, im.desc, im.ref); err != nil {
			t.Fatal(err)
		}
	}
	stray := writeBlob(t, s, "application/octet-stream", []byte("nobody points at me"))
	if err := s.Untag(c, "example.com/b:1"); err != nil {
		t.Fatal(err)
	}

	before := treeState(t, s.Path())
	plan, err := s.PlanGC(c)
	if err != nil {
		t.Fatal(err)
	}
	if after := treeState(t, s.Path()); len(after) != len(before) {
		t.Fatal("PlanGC changed the layout")
	}
	want := sortedDigests(append(b.all(), stray)...)
	if got := planDigests(plan); !slices.Equal(got, want) {
		t.Fatalf("plan %v, want %v", got, want)
	}
	var bytes int64
	for _, d := range append(b.all(), stray) {
		bytes += d.Size
	}
	if plan.Bytes != bytes || plan.Kept != len(a.all()) {
		t.Errorf("plan bytes %d kept %d, want %d and %d", plan.Bytes, plan.Kept, bytes, len(a.all()))
	}
	if err := s.ApplyGC(c, plan); err != nil {
		t.Fatal(err)
	}
	if got := planDigests(plan); !slices.Equal(got, want) {
		t.Fatalf("removed %v, want %v", got, want)
	}
	for _, d := range want {
		if ok, _ := s.Exists(c, ocispec.Descriptor{Digest: d, Size: sizeOf(b.all(), d, stray)}); ok {
			t.Errorf("%s still there", d)
		}
	}
	rep := assertVerifies(t, s.Path())
	if rep.Blobs != len(a.all()) {
		t.Errorf("%d blobs left, want %d", rep.Blobs, len(a.all()))
	}
	// A second gc finds nothing.
	plan, err = s.PlanGC(c)
	if err != nil || len(plan.Blobs) != 0 || len(plan.Temp) != 0 {
		t.Fatalf("second plan %+v, %v", plan, err)
	}
}

func sizeOf(descs []ocispec.Descriptor, d digest.Digest, extra ocispec.Descriptor) int64 {
	for _, x := range append(descs, extra) {
		if x.Digest == d {
			return x.Size
		}
	}
	return -1
}

func TestApplyGCRechecks(t *testing.T) {
	s := newStore(t)
	c := t.Context()
	a := buildImage(t, s, "a")
	plan, err := s.PlanGC(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Blobs) != len(a.all()) {
		t.Fatalf("plan of an untagged image: %d blobs, want %d", len(plan.Blobs), len(a.all()))
	}
	// A writer tags the image between the plan and its application: nothing may go.
	if err := s.Tag(c, a.index, "example.com/a:1"); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyGC(c, plan); err != nil {
		t.Fatal(err)
	}
	if len(plan.Blobs) != 0 {
		t.Fatalf("ApplyGC removed %v", planDigests(plan))
	}
	assertVerifies(t, s.Path())

	// And the other way: gc first, then a Tag of the collected graph fails cleanly.
	if err := s.Untag(c, "example.com/a:1"); err != nil {
		t.Fatal(err)
	}
	plan, err = s.PlanGC(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyGC(c, plan); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(c, a.index, "example.com/a:1"); !errors.Is(err, ErrGraphIncomplete) {
		t.Fatalf("Tag of a collected graph: %v, want ErrGraphIncomplete", err)
	}
	assertVerifies(t, s.Path())
}

func TestGCRefusesDamagedManifest(t *testing.T) {
	s := newStore(t)
	a := buildImage(t, s, "a")
	if err := s.Tag(t.Context(), a.index, "example.com/a:1"); err != nil {
		t.Fatal(err)
	}
	flipBit(t, filepath.Join(s.Path(), "blobs", "sha256", a.manifests[1].Digest.Encoded()), 5, 2)
	if _, err := s.PlanGC(t.Context()); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("PlanGC with a damaged manifest: %v, want ErrDigestMismatch", err)
	}
}

// igBlob returns the descriptor-less digest of an ig-store blob by its hex prefix.
func igBlob(tb testing.TB, prefix string) digest.Digest {
	tb.Helper()
	ents, err := os.ReadDir(filepath.Join(igStore, "blobs", "sha256"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range ents {
		if len(e.Name()) > len(prefix) && e.Name()[:len(prefix)] == prefix {
			return digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		}
	}
	tb.Fatalf("no ig-store blob %s", prefix)
	return ""
}

func TestGCIGStore(t *testing.T) {
	dir := copyDir(t, igStore)
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := t.Context()
	// The only garbage of ig's store: an older referrers-tag index of the notation signatures
	// of sha256:5cf9ca27..., replaced by 1949da51... (entry sha256-5cf9ca27...), which lists
	// the same signature and one more.
	garbage := []digest.Digest{igBlob(t, "4027dded")}
	plan, err := s.PlanGC(c)
	if err != nil {
		t.Fatal(err)
	}
	if got := planDigests(plan); !slices.Equal(got, garbage) || plan.Kept != 38 {
		t.Fatalf("plan %v (kept %d), want %v (kept 38)", got, plan.Kept, garbage)
	}

	// Drop the index.json entries of two OCI 1.1 referrers (notation signatures of two
	// gadgets): gc must still keep them, and what they point at, through their subjects.
	referrers := []digest.Digest{igBlob(t, "698ea4c2"), igBlob(t, "2e01ea60")}
	dropEntries(t, s, referrers...)
	plan, err = s.PlanGC(c)
	if err != nil {
		t.Fatal(err)
	}
	if got := planDigests(plan); !slices.Equal(got, garbage) {
		t.Fatalf("after dropping the referrer entries: plan %v, want %v", got, garbage)
	}

	// Untag a signed gadget: its image goes, its legacy cosign signature (an entry named
	// sha256-<hex>.sig) stays, with its config and layer.
	if err := s.Untag(c, "ttl.sh/signed_with_cosign_legacy:latest"); err != nil {
		t.Fatal(err)
	}
	plan, err = s.PlanGC(c)
	if err != nil {
		t.Fatal(err)
	}
	got := planDigests(plan)
	if !slices.Contains(got, igBlob(t, "20296fb8")) {
		t.Errorf("untagged image sha256:20296fb8... not in plan %v", got)
	}
	for _, keep := range []string{"e0c60c88", "ad6db79c", "5d37f503"} {
		if slices.Contains(got, igBlob(t, keep)) {
			t.Errorf("digest-tag signature blob %s in plan", keep)
		}
	}

	dead := deadWriter(t, s)
	live := liveWriter(t, s)
	plan, err = s.PlanGC(c)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(plan.Temp, []string{dead}) {
		t.Fatalf("plan temp %v, want [%s]", plan.Temp, dead)
	}
	if err := s.ApplyGC(c, plan); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, dead)); err == nil {
		t.Error("dead writer's temp file kept")
	}
	if _, err := os.Stat(filepath.Join(dir, live)); err != nil {
		t.Errorf("live writer's temp file removed: %v", err)
	}
	for _, d := range append(referrers, igBlob(t, "e0c60c88")) {
		if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", d.Encoded())); err != nil {
			t.Errorf("kept blob %s removed: %v", d, err)
		}
	}
	rep, err := Verify(c, dir, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("Verify after gc: %v", rep.Problems)
	}
	for _, p := range rep.Problems {
		switch {
		case p.Rule == RuleDanglingEntry, p.Rule == RuleTempLeftover && p.Where == live:
		case p.Rule == RuleUnlistedReferrer && slices.ContainsFunc(referrers, func(d digest.Digest) bool { return strings.HasSuffix(p.Where, d.Encoded()) }):
			// the two referrers whose entries were dropped: kept, and said to be unlisted
		default:
			t.Errorf("unexpected after gc: %s", p)
		}
	}
}

// dropEntries removes the index.json entries of the given digests, as another tool might.
func dropEntries(tb testing.TB, s *Store, ds ...digest.Digest) {
	tb.Helper()
	err := s.update(tb.Context(), func(d *indexDoc) error {
		d.entries = slices.DeleteFunc(d.entries, func(e indexEntry) bool { return slices.Contains(ds, e.desc.Digest) })
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}
