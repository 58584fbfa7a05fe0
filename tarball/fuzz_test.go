package tarball

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gadgetpack/gadgetpack/layout"
)

// fuzzMaxSize caps what one fuzz input may expand to, so that each run stays fast.
const fuzzMaxSize = 8 << 20

// fuzzSeeds adds every tarball of testdata (the gzip bomb aside: it is slow by design).
func fuzzSeeds(f *testing.F) {
	for _, dir := range []string{"good", "hostile"} {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			if strings.Contains(file, "bomb") {
				continue
			}
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
}

// FuzzReader reads arbitrary bytes as a layout tarball: no panic; every entry returned is a
// layout's file with a clean relative path; no more than MaxSize bytes come out; a final error
// stays.
func FuzzReader(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), ReaderOptions{MaxSize: fuzzMaxSize})
		if err != nil {
			if r != nil {
				t.Fatal("a reader with an error")
			}
			return
		}
		defer r.Close()
		var total int64
		for {
			e, err := r.Next()
			if err == io.EOF {
				if _, err2 := r.Next(); err2 != io.EOF {
					t.Fatalf("Next after EOF: %v", err2)
				}
				return
			}
			if errors.Is(err, ErrUnsafeEntry) {
				continue
			}
			if err != nil {
				if e != nil {
					t.Fatal("an entry with an error")
				}
				if _, err2 := r.Next(); err2 == nil || err2.Error() != err.Error() {
					t.Fatalf("final error %v, then %v", err, err2)
				}
				return
			}
			switch {
			case e.Path == "" || strings.HasPrefix(e.Path, "/") || path.Clean(e.Path) != e.Path || strings.Contains(e.Path, ".."):
				t.Fatalf("entry path %q", e.Path)
			case e.Kind == KindBlob && (e.Digest.Validate() != nil || e.Path != "blobs/"+e.Digest.Algorithm().String()+"/"+e.Digest.Encoded()):
				t.Fatalf("blob entry %q as %s", e.Path, e.Digest)
			case e.Kind == KindLayoutFile && e.Path != layout.LayoutFile, e.Kind == KindIndex && e.Path != layout.IndexFile:
				t.Fatalf("entry %q of kind %d", e.Path, e.Kind)
			}
			n, err := io.Copy(io.Discard, r)
			total += n
			if total > fuzzMaxSize {
				t.Fatalf("%d bytes out, over the %d cap", total, fuzzMaxSize)
			}
			if err != nil {
				return
			}
			if n != e.Size {
				t.Fatalf("entry %q: %d bytes read, %d in its header", e.Name, n, e.Size)
			}
		}
	})
}

// FuzzImport imports arbitrary bytes into a path that does not exist and verifies them: no
// panic; on an import error nothing at all is written, in the target or beside it; on success
// the layout verifies without error.
func FuzzImport(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		parent := t.TempDir()
		dir := filepath.Join(parent, "layout")
		_, err := Import(ctx, dir, bytes.NewReader(data), ImportOptions{MaxSize: fuzzMaxSize})
		if err != nil {
			ents, rerr := os.ReadDir(parent)
			if rerr != nil || len(ents) != 0 {
				t.Fatalf("refused import (%v) left %v", err, ents)
			}
		} else {
			rep, err := layout.Verify(ctx, dir, layout.VerifyOptions{Jobs: 1})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range rep.Problems {
				// What import takes: a complete, sound graph. Verify's stricter descriptor
				// checks (media types, data fields) are not import's.
				switch p.Rule {
				case layout.RuleBlobDigest, layout.RuleBlobRead, layout.RuleBlobType, layout.RuleBlobName, layout.RuleMissingBlob, layout.RuleLayoutFile:
					t.Fatalf("imported layout: %v", p)
				}
			}
		}
		if _, err := Verify(ctx, bytes.NewReader(data), VerifyOptions{MaxSize: fuzzMaxSize}); err != nil {
			t.Fatalf("verify of a stream in memory: %v", err)
		}
	})
}
