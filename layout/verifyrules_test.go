package layout

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// countRules returns rule funcs that count their calls.
func countRules(mu *sync.Mutex, calls *int) VerifyOptions {
	return VerifyOptions{
		CheckIndex: func(context.Context, ocispec.Descriptor, ocispec.Index, func(context.Context, ocispec.Descriptor) (io.ReadCloser, error)) []error {
			mu.Lock()
			*calls++
			mu.Unlock()
			return nil
		},
		CheckManifest: func(context.Context, ocispec.Descriptor, ocispec.Manifest, func(context.Context, ocispec.Descriptor) (io.ReadCloser, error)) []error {
			mu.Lock()
			*calls++
			mu.Unlock()
			return nil
		},
	}
}

// TestVerifyRulesRunDuringWalk checks that the rule func calls, each holding a decoded
// document, run while the walk goes on instead of piling up until it ends: the calls queued at
// once stay bounded by the goroutines, whatever the number of images.
func TestVerifyRulesRunDuringWalk(t *testing.T) {
	s := newStore(t)
	const images = 25
	for i := range images {
		im := buildImage(t, s, fmt.Sprint("img", i))
		if err := s.Tag(t.Context(), im.index, fmt.Sprintf("example.com/img:%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, jobs := range []int{1, 2} {
		t.Run(fmt.Sprint("jobs=", jobs), func(t *testing.T) {
			var mu sync.Mutex
			calls := 0
			opts := countRules(&mu, &calls)
			opts.Jobs = jobs
			v := newVerifier(s.Path(), opts)
			rep, err := v.run(t.Context())
			if err != nil || !rep.OK {
				t.Fatalf("verify: %v %+v", err, rep)
			}
			if want := 1 + images*3; calls != want { // index.json, then each index and its 2 manifests
				t.Fatalf("%d rule func calls, want %d", calls, want)
			}
			if got, most := v.maxQueued.Load(), int64(2*jobs+1); got > most {
				t.Fatalf("%d rule func calls were queued at once, want at most %d (the goroutines, their queue and the one being handed over)", got, most)
			}
		})
	}
}

// TestVerifyRereads checks that a document reached a second time is read again only when it
// must be checked again: under another media type, or for the rule funcs under another
// platform; decoded documents are not kept for that.
func TestVerifyRereads(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rules   bool
		extra   func(im testImage) []ocispec.Descriptor // entries added beside the tagged index
		rereads int
		calls   int
	}{
		{name: "once", rules: true, rereads: 0, calls: 4},
		{name: "index tagged twice", rules: true, extra: func(im testImage) []ocispec.Descriptor {
			e := im.index
			e.Annotations = map[string]string{ocispec.AnnotationRefName: "example.com/x:2"}
			return []ocispec.Descriptor{e}
		}, rereads: 0, calls: 4},
		{name: "manifest listed unnamed, no platform", rules: true, extra: unnamedManifests, rereads: 2, calls: 6},
		{name: "manifest listed unnamed, no rule funcs", rules: false, extra: unnamedManifests, rereads: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, im := verifyLayout(t)
			if tc.extra != nil {
				if _, err := s.AddEntries(t.Context(), tc.extra(im), AddOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			var mu sync.Mutex
			calls := 0
			var opts VerifyOptions
			if tc.rules {
				opts = countRules(&mu, &calls)
			}
			v := newVerifier(s.Path(), opts)
			rep, err := v.run(t.Context())
			if err != nil || !rep.OK {
				dumpProblems(t, rep)
				t.Fatalf("verify: %v", err)
			}
			if v.rereads != tc.rereads || calls != tc.calls {
				t.Fatalf("%d documents read again and %d rule func calls, want %d and %d", v.rereads, calls, tc.rereads, tc.calls)
			}
			if got := v.read.Load(); got != rep.Bytes {
				t.Fatalf("hashing passes read %d bytes for %d bytes of blobs", got, rep.Bytes)
			}
		})
	}
}

// unnamedManifests returns im's manifests as unnamed index.json entries without a platform, as
// ig's store lists every manifest it holds.
func unnamedManifests(im testImage) []ocispec.Descriptor {
	var out []ocispec.Descriptor
	for _, m := range im.manifests {
		m.Platform = nil
		out = append(out, m)
	}
	return out
}
