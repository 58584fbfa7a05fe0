package registry

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/memory"
)

// TestTracker: bytes are counted per blob and destination, a retried read starts its blob
// again, a finished blob counts its whole size once, and Done never passes Total.
func TestTracker(t *testing.T) {
	var last Progress
	var reports int
	tr := newTracker(func(p Progress) {
		last = p
		reports++
		if p.Done > p.Total || p.Blobs > p.TotalBlobs {
			t.Errorf("report past its total: %+v", p)
		}
	})
	a := ocispec.Descriptor{Digest: digest.FromString("a"), Size: 3 << 20}
	b := ocispec.Descriptor{Digest: digest.FromString("b"), Size: 100}
	tr.expect("r1", a)
	tr.expect("r1", a) // once only
	tr.expect("r1", b)
	tr.expect("r2", b) // another repository: moves again
	if tr.total != a.Size+2*b.Size {
		t.Fatalf("total %d", tr.total)
	}
	var lastA int64
	tr.restart("r1", a)
	tr.add("r1", a, 2<<20, &lastA)
	if reports != 1 || last.BlobDone != 2<<20 || last.Done != 2<<20 {
		t.Fatalf("after 2 MiB: %d reports, %+v", reports, last)
	}
	tr.restart("r1", a) // a retry reads it again from the start
	lastA = 0
	if tr.done != 0 {
		t.Fatalf("done %d after a restart", tr.done)
	}
	tr.add("r1", a, a.Size, &lastA)
	tr.finish("r1", a, false)
	tr.finish("r1", a, false) // once only
	tr.finish("r1", b, true)
	tr.finish("r2", b, true)
	if last.Done != last.Total || last.Blobs != 3 || last.TotalBlobs != 3 || !last.Skipped {
		t.Fatalf("at the end: %+v", last)
	}
	if tr.sent != 1 || tr.sentBytes != a.Size || tr.skipped != 2 || tr.skippedBytes != 2*b.Size {
		t.Fatalf("counts sent %d/%d skipped %d/%d", tr.sent, tr.sentBytes, tr.skipped, tr.skippedBytes)
	}
}

// TestCountingSource: reads through the source are counted and reported about once a MiB.
func TestCountingSource(t *testing.T) {
	mem := memory.New()
	data := bytes.Repeat([]byte("x"), 5<<20+7)
	desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(data), Size: int64(len(data))}
	if err := mem.Push(t.Context(), desc, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	var reports []Progress
	tr := newTracker(func(p Progress) { reports = append(reports, p) })
	src := countingSource{ReadOnlyGraphStorage: mem, t: tr}
	rc, err := src.Fetch(t.Context(), desc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyBuffer(io.Discard, rc, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if len(reports) != 5 || reports[4].BlobDone != 5<<20 || tr.done != desc.Size {
		t.Fatalf("%d reports, last %+v, done %d", len(reports), reports[len(reports)-1], tr.done)
	}
}

// TestTrackerWatchesFiles: a blob file sent as it is counts as far as its file position.
func TestTrackerWatchesFiles(t *testing.T) {
	var last Progress
	tr := newTracker(func(p Progress) { last = p })
	path := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(path, bytes.Repeat([]byte("y"), 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	desc := ocispec.Descriptor{Digest: digest.FromString("y"), Size: 4 << 20}
	tr.expect("r", desc)
	tr.watch("r", desc, f)
	if _, err := f.Seek(3<<20, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	tr.poll()
	if last.BlobDone != 3<<20 || last.Done != 3<<20 {
		t.Fatalf("after the file moved 3 MiB: %+v", last)
	}
	f.Close()
	tr.poll()
	if len(tr.watched) != 0 {
		t.Fatal("a closed file is still watched")
	}
	tr.finish("r", desc, false)
	if last.Done != desc.Size || last.Blobs != 1 {
		t.Fatalf("at the end: %+v", last)
	}
}
