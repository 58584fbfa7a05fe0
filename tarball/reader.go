package tarball

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"

	"github.com/gadgetpack/gadgetpack/layout"
)

// Bounds of a Reader on hostile input.
const (
	// DefaultMaxSize is ReaderOptions.MaxSize when it is not set: 64 GiB of tar.
	DefaultMaxSize = 64 << 30
	// DefaultMaxRatio is ReaderOptions.MaxRatio when it is not set. Gadget layers (ELF objects,
	// wasm modules, xz-compressed BTF) compress a few times at most; deflate's own limit is
	// about 1032:1, which a bomb of zeros reaches.
	DefaultMaxRatio = 200
	// ratioFloor is how much a stream expands before MaxRatio applies, so that small
	// tarballs of tar headers and padding (which compress very well) are never refused.
	ratioFloor = 32 << 20
	// zstdMaxWindow caps the window a zstd stream may ask for: the memory its decoder takes.
	// zstd's own levels use at most 8 MiB below --ultra; --long=26 fits.
	zstdMaxWindow = 64 << 20
	// maxLockFile caps an index.json.lock entry, which Next skips (lock files are empty).
	maxLockFile = 4 << 10
	// MaxRefused is how many entries Next refuses (ErrUnsafeEntry) and skips before it gives
	// up on the stream (ErrCorrupt): a stream of millions of empty entries is small once
	// compressed, and each refusal is a finding to keep and print.
	MaxRefused = 1000
	// readBufSize is the buffer in front of the input: headers come out of it, and reads of
	// blob content larger than it go straight to the input.
	readBufSize = 64 << 10
)

// ReaderOptions bounds a Reader. The zero value is safe: the defaults apply.
type ReaderOptions struct {
	// MaxSize caps the bytes of the tar stream after decompression, headers and padding
	// included; if ≤ 0, DefaultMaxSize is used. A header whose size would go past it is refused
	// before its content is read.
	MaxSize int64

	// MaxRatio caps how many times a compressed stream may expand once it has produced 32 MiB:
	// more is refused as a decompression bomb; if ≤ 0, DefaultMaxRatio is used.
	MaxRatio int64
}

// EntryKind says which file of a layout an Entry is.
type EntryKind int

// The kinds of entries Next returns.
const (
	KindLayoutFile EntryKind = iota + 1 // oci-layout
	KindIndex                           // index.json
	KindBlob                            // blobs/<alg>/<encoded>
)

// Entry is one file of a layout in a tar stream.
type Entry struct {
	// Name is the entry's name in the tar, as written there (for messages).
	Name string
	// Path is the name relative to the layout root, cleaned of a leading "./".
	Path string
	Kind EntryKind
	// Digest is the blob's digest, from its name (KindBlob only).
	Digest digest.Digest
	// Size is the size the tar header gives.
	Size int64
	// Offset is where the entry's header block starts in the tar stream (after
	// decompression): what messages name with the entry.
	Offset int64
}

// Where returns how messages name the entry: its name, quoted, and its header's offset.
func (e *Entry) Where() string { return entryAt(e.Name, e.Offset) }

// entryAt names the tar entry name whose header starts at byte off of the tar stream.
func entryAt(name string, off int64) string {
	return fmt.Sprintf("tar entry %q at byte %d", name, off)
}

// Reader reads the files of an OCI image layout from a tar stream, plain, gzip or zstd (told
// from the first bytes), refusing what a layout never holds. Next returns oci-layout,
// index.json and blob entries and skips directories of a layout (blobs/, blobs/<alg>/) and
// index.json.lock; everything else is an error, a sparse file of any format too (refused from
// its header, before its holes are expanded: MaxSize and MaxRatio count the logical bytes of
// what is read). Read reads the current entry. Every error names the tar entry and the offset
// of its header in the tar stream ("tar entry "NAME" at byte N"), or the offset in the input
// of what follows the end of a compressed stream.
//
// After an error wrapping ErrUnsafeEntry, Next can be called again: the entry is skipped. Any
// other error is final and returned again by every call. The stream is read to its end and
// checked there: the tar's end-of-archive blocks must be present and only zeros may follow
// them (ErrTruncated, ErrCorrupt).
//
// A Reader is not safe for concurrent use. Close releases the decompressor and what it
// remembers of the entries read; it does not close the underlying reader.
type Reader struct {
	opts    ReaderOptions
	comp    Compression
	in      *countingReader // compressed bytes, as read
	out     *tarInput       // decompressed bytes, as the tar reader gets them
	zr      *zstd.Decoder
	tr      *tar.Reader
	seen    map[string]bool        // the names of the entries read, blobs aside
	blobs   map[digest.Digest]bool // the blobs read: their digest strings are the Entries', kept anyway
	cur     *Entry
	left    int64  // bytes of the current entry not yet read
	err     error  // sticky
	hdrSum  int64  // sizes of the headers read so far, with their header blocks
	refused int    // entries refused so far
	name    string // the name of the last header read, for findings
	hdrOff  int64  // where the last header read starts in the tar stream
	offset  int64  // where the current entry's content starts in the tar stream
	end     int64  // where the last header's content ends in the tar stream
}

// Magic numbers of the streams NewReader tells apart.
var (
	magicGzip  = []byte{0x1f, 0x8b}
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	magicBzip2 = []byte{'B', 'Z', 'h'}
)

// NewReader returns a Reader of the layout tarball r yields. It looks at the first bytes to
// tell the compression (none, gzip or zstd) and returns ErrCorrupt for an empty stream or
// another compression (xz, bzip2). A gzip stream may have several members, a zstd stream
// skippable frames anywhere, and either may be followed by zero bytes (padding); other data
// after its end is ErrCorrupt.
func NewReader(r io.Reader, opts ReaderOptions) (*Reader, error) {
	if opts.MaxSize <= 0 {
		opts.MaxSize = DefaultMaxSize
	}
	if opts.MaxRatio <= 0 {
		opts.MaxRatio = DefaultMaxRatio
	}
	in := &countingReader{r: r}
	br := bufio.NewReaderSize(in, readBufSize)
	head, err := br.Peek(6)
	if len(head) == 0 {
		if err == nil || err == io.EOF {
			return nil, fmt.Errorf("empty stream: %w", ErrCorrupt)
		}
		return nil, err
	}
	rd := &Reader{opts: opts, in: in, seen: map[string]bool{}, blobs: map[digest.Digest]bool{}, comp: None}
	var dec io.Reader = br
	switch {
	case bytes.HasPrefix(head, magicGzip):
		z, err := newGzipMembers(br, func() int64 { return in.n.Load() - int64(br.Buffered()) })
		if err != nil {
			return nil, streamError(Gzip, err)
		}
		rd.comp, dec = Gzip, z
	case isZstd(head):
		z, err := zstd.NewReader(newZstdFrames(br),
			zstd.WithDecoderMaxWindow(zstdMaxWindow),
			zstd.WithDecoderMaxMemory(uint64(opts.MaxSize)+1),
			zstd.WithDecoderConcurrency(2))
		if err != nil {
			return nil, streamError(Zstd, err)
		}
		rd.comp, dec, rd.zr = Zstd, z.IOReadCloser(), z
	case bytes.HasPrefix(head, magicXz):
		return nil, fmt.Errorf("xz-compressed stream: only plain, gzip and zstd tarballs are read: %w", ErrCorrupt)
	case bytes.HasPrefix(head, magicBzip2):
		return nil, fmt.Errorf("bzip2-compressed stream: only plain, gzip and zstd tarballs are read: %w", ErrCorrupt)
	}
	rd.out = &tarInput{r: dec, rd: rd}
	rd.tr = tar.NewReader(rd.out)
	return rd, nil
}

// Compression returns the compression NewReader found.
func (r *Reader) Compression() Compression { return r.comp }

// InputBytes returns how many bytes have been read from the underlying reader so far. It may
// be called from another goroutine.
func (r *Reader) InputBytes() int64 { return r.in.n.Load() }

// Close releases the decompressor and the names of the entries read (a map of every blob's
// digest, kept to refuse a second entry of one). It does not close the underlying reader.
// InputBytes may still be called.
func (r *Reader) Close() error {
	if r.zr != nil {
		r.zr.Close()
		r.zr = nil
	}
	r.seen, r.blobs = nil, nil
	if r.err == nil {
		r.err = errors.New("tarball reader closed")
	}
	return nil
}

// Next advances to the next file of the layout and returns it. It returns io.EOF at the end of
// a sound archive; ErrUnsafeEntry (naming the entry) for an entry that is not a layout's, after
// which Next may be called again, up to MaxRefused times (then ErrCorrupt, final); ErrTooLarge for an entry over the stream's cap or a JSON file
// over its own (layout.MaxLayoutFileBytes, layout.MaxIndexBytes, which are read whole); and
// ErrCorrupt or ErrTruncated when the stream is damaged.
func (r *Reader) Next() (*Entry, error) {
	for {
		if r.err != nil {
			return nil, r.err
		}
		r.cur, r.left = nil, 0
		hdr, err := r.tr.Next()
		if errors.Is(err, tar.ErrInsecurePath) && hdr != nil {
			err = nil // GODEBUG=tarinsecurepath=0: classify names the problem
		}
		if err == io.EOF {
			r.name = "" // what finish finds is the stream's, after the last entry
			r.err = r.finish()
			return nil, r.err
		}
		if err != nil {
			r.err = r.headerErr(err)
			return nil, r.err
		}
		// The tar reader stops right after the entry's own header block (a PAX header or a
		// GNU long name comes before it).
		r.name, r.offset, r.hdrOff = hdr.Name, r.out.n, max(r.out.n-blockSize, 0)
		r.end = r.offset + hdr.Size
		if kind := sparseKind(hdr); kind != "" {
			// Refused before a byte of it is read: the tar reader would expand its holes.
			// Next skips its stored bytes, never its logical size.
			r.end = r.offset
			return nil, r.refuse(fmt.Errorf("%s: a sparse file (%s) of %d bytes once expanded: only regular files are read: %w",
				entryAt(hdr.Name, r.hdrOff), kind, hdr.Size, ErrUnsafeEntry))
		}
		r.hdrSum += blockSize + hdr.Size
		if hdr.Size > r.opts.MaxSize || r.hdrSum > r.opts.MaxSize {
			r.err = fmt.Errorf("%s: %d bytes: the stream would go past the %s cap: %w", entryAt(hdr.Name, r.hdrOff), hdr.Size, sizeString(r.opts.MaxSize), ErrTooLarge)
			return nil, r.err
		}
		e, skip, err := r.classify(hdr)
		if errors.Is(err, ErrUnsafeEntry) {
			return nil, r.refuse(err)
		}
		if err != nil {
			return nil, err
		}
		if skip {
			continue
		}
		r.cur, r.left = e, e.Size
		return e, nil
	}
}

// refuse counts a refused entry: err, or past MaxRefused a final error that ends the stream.
func (r *Reader) refuse(err error) error {
	r.refused++
	if r.refused > MaxRefused {
		r.err = fmt.Errorf("%s: over %d entries refused: not a layout's tarball, not read further: %w", entryAt(r.name, r.hdrOff), MaxRefused, ErrCorrupt)
		return r.err
	}
	return err
}

// blockSize is the size of a tar block: headers start at multiples of it.
const blockSize = 512

// sparseKind returns the sparse format of a header ("" when it is not a sparse file): old GNU
// (type 'S'), or GNU's PAX formats 0.0, 0.1 and 1.0, which the tar reader expands
// transparently and reports as regular files of their logical size. Any GNU.sparse. record
// counts, of a known version or not.
func sparseKind(hdr *tar.Header) string {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return "old GNU format"
	}
	major, minor := hdr.PAXRecords["GNU.sparse.major"], hdr.PAXRecords["GNU.sparse.minor"]
	if major != "" || minor != "" {
		return fmt.Sprintf("GNU PAX format %s.%s", major, minor)
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return "GNU PAX format 0.x"
		}
	}
	return ""
}

// headerErr turns an error of the tar reader's Next into one naming where it was: inside the
// previous entry's content (skipped), or at the header that follows it, named as far as its
// name field was read. The entry named becomes the reader's name (for findings).
func (r *Reader) headerErr(err error) error {
	if r.name != "" && r.out.n <= r.end {
		return r.streamErr(entryAt(r.name, r.hdrOff), err)
	}
	next := (r.end + blockSize - 1) / blockSize * blockSize // the first header after that content
	off := max((r.out.n-1)/blockSize*blockSize, next)
	r.name, r.hdrOff = r.out.rawName(off), off
	if r.name != "" {
		return r.streamErr(entryAt(r.name, off), err)
	}
	return r.streamErr(fmt.Sprintf("tar header at byte %d", off), err)
}

// classify checks a header and names its file. skip is set for directories and the lock file.
func (r *Reader) classify(hdr *tar.Header) (e *Entry, skip bool, err error) {
	// where is rendered only for an error: most entries of a tarball have none.
	where := func() string { return entryAt(hdr.Name, r.hdrOff) }
	refuse := func(format string, args ...any) (*Entry, bool, error) {
		return nil, false, fmt.Errorf("%s: %s: %w", where(), fmt.Sprintf(format, args...), ErrUnsafeEntry)
	}
	name := hdr.Name
	switch {
	case name == "":
		return refuse("empty name")
	case strings.HasPrefix(name, "/"):
		return refuse("absolute name")
	case strings.ContainsRune(name, 0):
		return refuse("NUL in the name")
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return refuse("a %q element leaves the layout", "..")
		}
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeDir:
	case tar.TypeSymlink:
		return refuse("a symlink (to %q)", hdr.Linkname)
	case tar.TypeLink:
		return refuse("a hard link (to %q)", hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		return refuse("a device")
	case tar.TypeFifo:
		return refuse("a FIFO")
	default:
		return refuse("entry type %q, not a regular file", string(hdr.Typeflag))
	}
	rel := strings.TrimPrefix(name, "./")
	if hdr.Typeflag == tar.TypeDir {
		rel = strings.TrimSuffix(rel, "/")
		if rel == "" || rel == "." {
			rel = "."
		}
	}
	if rel != "." && path.Clean(rel) != rel {
		return refuse("name not in clean form")
	}
	// A blob's name is remembered as its digest, once it is one (below).
	if hdr.Typeflag != tar.TypeReg || !strings.HasPrefix(rel, layout.BlobsDir+"/") {
		if r.seen[rel] {
			return refuse("a second entry of that name")
		}
		r.seen[rel] = true
	}

	if hdr.Typeflag == tar.TypeDir {
		if rel == "." || rel == layout.BlobsDir {
			return nil, true, nil
		}
		if alg, ok := strings.CutPrefix(rel, layout.BlobsDir+"/"); ok && digest.Algorithm(alg).Available() {
			return nil, true, nil
		}
		return refuse("a directory that is not a layout's")
	}
	e = &Entry{Name: name, Path: rel, Size: hdr.Size, Offset: r.hdrOff}
	switch rel {
	case layout.LayoutFile:
		e.Kind = KindLayoutFile
		if hdr.Size > layout.MaxLayoutFileBytes {
			r.err = fmt.Errorf("%s: %d bytes, over the %d-byte cap of %s: %w", where(), hdr.Size, layout.MaxLayoutFileBytes, layout.LayoutFile, ErrTooLarge)
			return nil, false, r.err
		}
		return e, false, nil
	case layout.IndexFile:
		e.Kind = KindIndex
		if hdr.Size > layout.MaxIndexBytes {
			r.err = fmt.Errorf("%s: %d bytes, over the %d-byte cap of %s: %w", where(), hdr.Size, layout.MaxIndexBytes, layout.IndexFile, ErrTooLarge)
			return nil, false, r.err
		}
		return e, false, nil
	case layout.LockFile:
		// ig's lock file, when a store was tarred as it is: it means nothing in transit.
		if hdr.Size > maxLockFile {
			return refuse("a lock file of %d bytes", hdr.Size)
		}
		return nil, true, nil
	}
	rest, ok := strings.CutPrefix(rel, layout.BlobsDir+"/")
	if !ok {
		return refuse("not a file of an OCI image layout")
	}
	alg, enc, ok := strings.Cut(rest, "/")
	if !ok || strings.Contains(enc, "/") {
		return refuse("not a file of an OCI image layout (blobs/<alg>/<encoded>)")
	}
	a := digest.Algorithm(alg)
	if !a.Available() {
		return refuse("blob of an unknown digest algorithm %q", alg)
	}
	if !lowerHex(enc, a.Size()*2) {
		return refuse("blob name %q is not a %s digest (%d lowercase hex digits)", enc, alg, a.Size()*2)
	}
	e.Kind, e.Digest = KindBlob, digest.Digest(alg+":"+enc)
	if r.blobs[e.Digest] {
		return refuse("a second entry of that name")
	}
	r.blobs[e.Digest] = true
	return e, false, nil
}

// lowerHex reports whether s is n lowercase hex digits: what go-digest's Algorithm.Validate
// accepts of an available algorithm's encoded part, without the regular expression it runs.
func lowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Read reads the content of the current entry; io.EOF at its end. A stream that ends inside it
// gives ErrTruncated naming the entry.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.cur == nil {
		return 0, errors.New("tarball reader: Read before Next")
	}
	if r.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.tr.Read(p)
	r.left -= int64(n)
	switch {
	case err == io.EOF && r.left > 0, errors.Is(err, io.ErrUnexpectedEOF):
		err = r.streamErr(r.cur.Where(), io.ErrUnexpectedEOF)
	case err == io.EOF:
	case err != nil:
		err = r.streamErr(r.cur.Where(), err)
	}
	if err != nil && err != io.EOF {
		r.err = err
		return n, err
	}
	if r.left == 0 {
		return n, io.EOF
	}
	return n, nil
}

// ReadAll reads the rest of the current entry, for oci-layout and index.json (whose sizes
// Next has capped).
func (r *Reader) ReadAll() ([]byte, error) {
	if r.cur == nil {
		return nil, errors.New("tarball reader: ReadAll before Next")
	}
	buf := make([]byte, r.left)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// finish checks the end of the stream once the tar reader has met its end: the end-of-archive
// blocks were there, and only zeros follow them (the blocking padding of tar programs).
func (r *Reader) finish() error {
	if r.out.zeroRun < 1024 {
		return r.streamErr("", io.ErrUnexpectedEOF)
	}
	var buf [32 << 10]byte
	for {
		n, err := r.out.Read(buf[:])
		for _, b := range buf[:n] {
			if b != 0 {
				return fmt.Errorf("tarball: data after the end of the tar archive, at byte %d: %w", r.out.n-int64(n), ErrCorrupt)
			}
		}
		if err == io.EOF {
			return io.EOF
		}
		if err != nil {
			return r.streamErr("", err)
		}
	}
}

// streamErr turns an error of the tar reader or the decompressor into one of this package's,
// prefixed with where ("tarball" when it is "").
func (r *Reader) streamErr(where string, err error) error {
	if where == "" {
		where = "tarball"
	}
	var ours *readerError
	if errors.As(err, &ours) {
		return fmt.Errorf("%s: %w", where, ours.err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s: the stream ends early (after %d bytes of tar): %w", where, r.out.n, ErrTruncated)
	}
	if errors.Is(err, tar.ErrHeader) {
		return fmt.Errorf("%s: not a valid tar header (%v): %w", where, err, ErrCorrupt)
	}
	return fmt.Errorf("%s: not a valid tar stream (%v): %w", where, err, ErrCorrupt)
}

// streamError wraps an error of a decompressor. An error of this package (from the readers
// of frames.go, passed through the decompressor) is returned as it is.
func streamError(c Compression, err error) error {
	if errors.Is(err, ErrCorrupt) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s stream ends early: %w", c, ErrTruncated)
	}
	if errors.Is(err, zstd.ErrWindowSizeExceeded) {
		return fmt.Errorf("%s stream asks for a window over the %s cap: %w", c, sizeString(zstdMaxWindow), ErrTooLarge)
	}
	return fmt.Errorf("%s stream damaged (%v): %w", c, err, ErrCorrupt)
}

// readerError carries an error of this package through the tar reader unchanged.
type readerError struct{ err error }

func (e *readerError) Error() string { return e.err.Error() }
func (e *readerError) Unwrap() error { return e.err }

// countingReader counts the bytes read from the input; the count may be read from another
// goroutine (progress).
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// tarInput is the decompressed stream the tar reader reads: it enforces MaxSize and MaxRatio
// and tracks the run of zero bytes at its end (the end-of-archive blocks).
type tarInput struct {
	r       io.Reader
	rd      *Reader
	n       int64
	zeroRun int64
	tail    [blockSize]byte // the last bytes read: tail[i%blockSize] is byte i of the stream
}

// rawName returns the name field of the header block at off, for a header the tar reader
// refused: "" unless the block is the last one read, whole, and has the USTAR magic (else it
// is not a header at all, and its bytes name nothing).
func (t *tarInput) rawName(off int64) string {
	if off != t.n-blockSize {
		return ""
	}
	for i, c := range []byte("ustar") {
		if t.tail[(off+257+int64(i))%blockSize] != c {
			return ""
		}
	}
	var name []byte
	for i := off; i < off+100; i++ {
		b := t.tail[i%blockSize]
		if b == 0 {
			break
		}
		name = append(name, b)
	}
	return string(name)
}

func (t *tarInput) Read(p []byte) (int, error) {
	room := t.rd.opts.MaxSize - t.n + 1
	if room <= 0 {
		return 0, &readerError{fmt.Errorf("over the %s cap on the stream's size: %w", sizeString(t.rd.opts.MaxSize), ErrTooLarge)}
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := t.r.Read(p)
	for i := max(0, n-blockSize); i < n; i++ {
		t.tail[(t.n+int64(i))%blockSize] = p[i]
	}
	t.n += int64(n)
	if n > 0 {
		i := n - 1
		for i >= 0 && p[i] == 0 {
			i--
		}
		if i < 0 {
			t.zeroRun += int64(n)
		} else {
			t.zeroRun = int64(n - 1 - i)
		}
	}
	if t.n > t.rd.opts.MaxSize {
		return n, &readerError{fmt.Errorf("over the %s cap on the stream's size: %w", sizeString(t.rd.opts.MaxSize), ErrTooLarge)}
	}
	if t.rd.comp != None && t.n > ratioFloor && t.n > t.rd.opts.MaxRatio*t.rd.in.n.Load() {
		return n, &readerError{fmt.Errorf("%s stream expands %d times (%d bytes from %d), over the %d:1 cap: a decompression bomb: %w",
			t.rd.comp, t.n/max(t.rd.in.n.Load(), 1), t.n, t.rd.in.n.Load(), t.rd.opts.MaxRatio, ErrTooLarge)}
	}
	if err != nil && err != io.EOF {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return n, err
		}
		if t.rd.comp == None {
			return n, &readerError{fmt.Errorf("reading tarball: %w", err)}
		}
		return n, &readerError{streamError(t.rd.comp, err)}
	}
	return n, err
}

// sizeString renders a byte count for messages: "64 GiB", "300 MiB", "1234 bytes".
func sizeString(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
