package tarball

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/internal/hashio"
	"github.com/gadgetpack/gadgetpack/internal/ticker"
	"github.com/gadgetpack/gadgetpack/layout"
)

// ExportOptions says what Export writes. The zero value exports every named entry of the
// layout as a plain tar with mtime 0.
type ExportOptions struct {
	// Entries are the index.json entries to export (as Store.Resolve returns them); nil or
	// empty exports every named entry (Store.Refs). What they carry comes along: see
	// layout.Store.Closure.
	Entries []ocispec.Descriptor

	// ScanReferrers finds the referrers to carry among every blob of the layout, not only
	// among those its index.json lists (layout.ClosureOptions.ScanReferrers); the tarball's
	// index.json lists those it carries.
	ScanReferrers bool

	// Compression of the output; "" is None.
	Compression Compression

	// Exclude, when set, lists blobs to leave out: those the far side holds already (see
	// HeldBlobs). index.json still lists every entry, so such a delta imports only on top of
	// its base.
	Exclude BlobSet

	// ModTime is the mtime of every tar entry; the zero value means the Unix epoch. Callers pass
	// SOURCE_DATE_EPOCH here when it is set.
	ModTime time.Time

	// PartSize, for ExportFile only, splits the output into parts FILE.000, FILE.001... of at
	// most PartSize bytes (at least MinSplitSize); 0 writes one file. Export returns
	// ErrBadOptions when it is set.
	PartSize int64

	// Progress, when set, is called about five times a second from another goroutine with the
	// blob bytes written so far and the total of the blobs to write, and once more at the end.
	Progress func(done, total int64)
}

// ExportResult is what an export wrote. It is the JSON object of `gadgetpack export --json`.
type ExportResult struct {
	// Path is the file ExportFile wrote (the parts' common prefix when split); "" for Export.
	Path string `json:"path,omitempty"`
	// Refs are the names of the named entries of the exported index.json, in its order.
	Refs []string `json:"refs"`
	// Entries is the number of entries of the exported index.json.
	Entries int `json:"entries"`
	// Blobs and BlobBytes count the blobs in the tar.
	Blobs     int   `json:"blobs"`
	BlobBytes int64 `json:"blob_bytes"`
	// Excluded and ExcludedBytes count the blobs of the closure left out by Exclude.
	Excluded      int   `json:"excluded"`
	ExcludedBytes int64 `json:"excluded_bytes"`
	// Compression is the output's compression.
	Compression Compression `json:"compression"`
	// Size is the number of bytes written (compressed, all parts together).
	Size int64 `json:"size"`
	// Digest is the sha256 of the bytes written, when they form one file or stream; "" for a
	// split output (each Part has its own).
	Digest digest.Digest `json:"digest,omitempty"`
	// Parts are the files ExportFile wrote, with their sizes and digests (the lines of the
	// checksum file); one part, Path itself, when not split.
	Parts []Part `json:"parts,omitempty"`
	// LayoutDigest is the sha256 of the exported index.json: what verify prints as the layout
	// digest of the tarball, and of a fresh layout it is imported into.
	LayoutDigest digest.Digest `json:"layout_digest"`
	// Removed are the temp files that exports to the same path left when they died, which
	// ExportFile removed before writing (FileWriter.Removed).
	Removed []string `json:"removed,omitempty"`
}

// layoutFileJSON is the exported oci-layout file, the bytes layout.Init writes.
var layoutFileJSON = []byte(`{"imageLayoutVersion":"` + ocispec.ImageLayoutVersion + `"}`)

// Export writes the tar of the layout's entries to w: what ig image export writes and ig image
// import reads. Entries are regular files only, with no directory entry and no "./" prefix,
// mtime opts.ModTime, uid and gid 0, empty user and group names, mode 0644, USTAR headers (PAX
// only for a name over 100 bytes, a blob of 8 GiB or more, or an mtime past 2242): oci-layout
// first, then every blob of the closure in walk pre-order (a manifest before what it points
// at), then a fresh index.json of the closure's entries. The same layout and options give the
// same bytes.
//
// Blobs are streamed through Store.Fetch, verified: a blob that does not hash to its digest
// stops the export with the layout's error naming it (ErrDigestMismatch, ErrShortRead...), and
// the bytes already written to w are then not a valid tarball. Nothing is staged; memory stays
// a few MiB whatever the layout's size. Export does not close w.
//
// It returns ErrBadOptions for bad options, layout.ErrNotFound when the layout has no named
// entry and opts.Entries is empty, and Closure's errors (layout.ErrGraphIncomplete...).
func Export(ctx context.Context, s *layout.Store, w io.Writer, opts ExportOptions) (*ExportResult, error) {
	if opts.PartSize != 0 {
		return nil, fmt.Errorf("part size with a stream output: %w", ErrBadOptions)
	}
	hw := &hashWriter{w: w, h: sha256.New()}
	res, err := export(ctx, s, hw, opts)
	if err != nil {
		return nil, err
	}
	res.Size = hw.n
	res.Digest = digest.NewDigest(digest.SHA256, hw.h)
	return res, nil
}

// ExportFile is Export to the file path, or to its parts path.000, path.001... when
// opts.PartSize is set, beside a checksum file path.sha256 in sha256sum's format listing the
// file or every part (see FileWriter). The output appears only when the export has succeeded:
// until then it is written to temp files beside it, which a failure removes, so that a corrupt
// layout leaves no output behind. A killed export leaves its temp files, flocked while it
// lived: the next export to the same path removes them (ExportResult.Removed). An output
// inside the layout being exported is refused before anything is written (ErrBadOptions, see
// CheckOutside).
func ExportFile(ctx context.Context, s *layout.Store, path string, opts ExportOptions) (*ExportResult, error) {
	if err := CheckOutside(s.Path(), path); err != nil {
		return nil, err
	}
	fw, err := NewFileWriter(path, opts.PartSize)
	if err != nil {
		return nil, err
	}
	defer fw.Abort()
	cw := &countWriter{w: fw}
	res, err := export(ctx, s, cw, opts)
	if err != nil {
		return nil, err
	}
	res.Removed = fw.Removed()
	parts, err := fw.Commit()
	if err != nil {
		return nil, err
	}
	res.Path, res.Size, res.Parts = path, cw.n, parts
	if opts.PartSize == 0 {
		res.Digest = parts[0].Digest
	}
	return res, nil
}

// CheckOutside returns ErrBadOptions, naming both, when the file path would be written inside
// the layout at root: when the folder path is in (where the file, its parts path.NNN, its
// checksum file and their temp files are all written) is root or a folder below it, however
// the path is spelled (symlinks and ".." are resolved; folders are compared by device and
// inode, so a bind mount of root counts too). An export there would change the layout it
// reads: -o LAYOUT/index.json would replace the index with the tarball. It returns the error
// of resolving path's folder when that fails (a missing folder).
func CheckOutside(root, path string) error {
	rootInfo, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("layout %s: %w", root, err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err == nil {
		dir, err = filepath.EvalSymlinks(dir)
	}
	if err != nil {
		return fmt.Errorf("output %s: %w", path, err)
	}
	for {
		if fi, err := os.Stat(dir); err == nil && os.SameFile(fi, rootInfo) {
			return fmt.Errorf("output %s: inside the layout %s being exported (in %s): write it elsewhere: %w", path, root, dir, ErrBadOptions)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

// The closure's walk hands the blobs it finds to the writing in batches of exportBatch, up to
// exportQueue blobs ahead of the blobs being written: the walk (reading every manifest and
// index) and the writing (reading every blob) overlap, and hand over once per batch, not per
// blob (each hand-over may cost a context switch).
const (
	exportBatch = 256
	exportQueue = 1024
)

func export(ctx context.Context, s *layout.Store, w io.Writer, opts ExportOptions) (*ExportResult, error) {
	if _, err := ParseCompression(string(opts.Compression)); err != nil {
		return nil, err
	}
	comp, err := NewCompressor(w, opts.Compression)
	if err != nil {
		return nil, err
	}
	res := &ExportResult{Refs: []string{}, Compression: opts.Compression}
	if res.Compression == "" {
		res.Compression = None
	}

	// The closure is walked on its own goroutine, handing each blob (with its content when the
	// walk read it whole) to the writer as it joins, and counting it in res (read here once the
	// walk has ended); index.json, last in the tar, is written once it has, without error.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan []blobItem, exportQueue/exportBatch)
	var (
		cl     *layout.Closure
		clErr  error
		walked = make(chan struct{})
		known  atomic.Int64 // blob bytes found so far, for Progress
		batch  []blobItem
	)
	send := func() error {
		select {
		case queue <- batch:
			batch = nil
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var skip func(digest.Digest) bool // a delta export's blobs left out are not read ahead whole
	if len(opts.Exclude) > 0 {
		skip = opts.Exclude.Has
	}
	copts := layout.ClosureOptions{
		ScanReferrers: opts.ScanReferrers,
		AllRefs:       len(opts.Entries) == 0,
		Skip:          skip,
		OnBlob: func(desc ocispec.Descriptor, content []byte) error {
			if opts.Exclude.Has(desc.Digest) {
				res.Excluded++
				res.ExcludedBytes += desc.Size
				return nil
			}
			res.Blobs++
			res.BlobBytes += desc.Size
			known.Add(desc.Size)
			if batch == nil {
				batch = make([]blobItem, 0, exportBatch)
			}
			batch = append(batch, blobItem{desc: desc, content: content})
			if len(batch) < exportBatch {
				return nil
			}
			return send()
		},
	}
	go func() {
		defer close(walked)
		defer close(queue)
		cl, clErr = s.ClosureWith(ctx, opts.Entries, copts)
		if clErr == nil && len(batch) > 0 {
			clErr = send()
		}
	}()
	defer func() { cancel(); <-walked }()

	var done atomic.Int64
	if opts.Progress != nil {
		stop := ticker.Start(func() { opts.Progress(done.Load(), known.Load()) })
		defer stop()
	}
	// Headers and small blobs reach the output in 1 MiB writes, not one or two per blob.
	bw := bufio.NewWriterSize(comp, copyBufSize)
	tw := tar.NewWriter(bw)
	mtime := opts.ModTime
	if mtime.IsZero() {
		mtime = time.Unix(0, 0)
	}
	if err := writeEntry(tw, layout.LayoutFile, int64(len(layoutFileJSON)), mtime, bytes.NewReader(layoutFileJSON)); err != nil {
		return nil, err
	}
	if err := tw.Flush(); err != nil {
		return nil, fmt.Errorf("tar entry %s: %w", layout.LayoutFile, err)
	}
	if err := writeBlobs(ctx, s, tw, bw, queue, mtime, &done); err != nil {
		cancel()
		<-walked
		if clErr != nil {
			return nil, clErr // the walk's error, which the writer stopped on
		}
		return nil, err
	}
	<-walked
	if clErr != nil {
		return nil, clErr
	}
	if copts.AllRefs && !slices.ContainsFunc(cl.Entries, func(e ocispec.Descriptor) bool { return e.Annotations[ocispec.AnnotationRefName] != "" }) {
		return nil, fmt.Errorf("layout %s: no named entry to export: %w", s.Path(), layout.ErrNotFound)
	}
	idxJSON, err := indexJSON(cl.Entries)
	if err != nil {
		return nil, err
	}
	res.Entries = len(cl.Entries)
	res.LayoutDigest = digest.FromBytes(idxJSON)
	for _, e := range cl.Entries {
		if name := e.Annotations[ocispec.AnnotationRefName]; name != "" {
			res.Refs = append(res.Refs, name)
		}
	}
	if err := writeEntry(tw, layout.IndexFile, int64(len(idxJSON)), mtime, bytes.NewReader(idxJSON)); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("tar end: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	if err := comp.Close(); err != nil {
		return nil, fmt.Errorf("%s end: %w", opts.Compression, err)
	}
	return res, nil
}

// indexJSON is the exported index.json: compact, fields in the image-spec's order, entries as
// given; the bytes layout writes for the same entries.
func indexJSON(entries []ocispec.Descriptor) ([]byte, error) {
	if entries == nil {
		entries = []ocispec.Descriptor{}
	}
	idx := ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: entries,
	}
	data, err := json.Marshal(idx)
	if err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	return data, nil
}

// maxUSTARSize is one more than the largest size or mtime a USTAR header holds (11 octal
// digits).
const maxUSTARSize = 1 << 33

// header returns the tar header of a file: the fields ig's reader needs and nothing that
// varies between machines.
func header(name string, size int64, mtime time.Time) *tar.Header {
	h := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Size:     size,
		Mode:     0o644,
		ModTime:  mtime,
		Format:   tar.FormatUSTAR,
	}
	if len(name) > 100 || size >= maxUSTARSize || mtime.Unix() < 0 || mtime.Unix() >= maxUSTARSize {
		h.Format = tar.FormatPAX
	}
	return h
}

// writeEntry writes one regular file of size bytes read from r.
func writeEntry(tw *tar.Writer, name string, size int64, mtime time.Time, r io.Reader) error {
	if err := tw.WriteHeader(header(name, size, mtime)); err != nil {
		return fmt.Errorf("tar entry %s: %w", name, err)
	}
	if _, err := io.Copy(tw, r); err != nil {
		return fmt.Errorf("tar entry %s: %w", name, err)
	}
	return nil
}

// hashWriter hashes and counts what it writes to w.
type hashWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashWriter) Write(p []byte) (int, error) {
	n, err := hashio.WriteHashed(hw.w, hw.h, p)
	hw.n += int64(n)
	return n, err
}

// countWriter counts what it writes to w.
type countWriter struct {
	w io.Writer
	n int64
}

func (cw *countWriter) Write(p []byte) (int, error) {
	n, err := cw.w.Write(p)
	cw.n += int64(n)
	return n, err
}
