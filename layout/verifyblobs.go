package layout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// States of a blob's hashing pass.
const (
	statePending  int32 = iota // not read whole yet
	stateClaimed               // a hash task or a walk is reading it
	stateFetching              // a rule func is reading it through fetch
	stateDone                  // hashed; the verdict is recorded
)

// blobFile is one regular file under blobs/<alg>/ with a valid digest name.
type blobFile struct {
	dg    digest.Digest
	name  string // where a stream had it (a tar entry); "" for blobs/<alg>/<encoded>
	size  int64
	id    fileID // from Lstat, for the same-file check at open
	state atomic.Int32

	// Touched by the sequential walks only.
	reached  bool     // reached from index.json, or a kept referrer
	expanded bool     // read as a manifest or an index by a walk
	ruleRead bool     // a layer or config of a manifest handed to CheckManifest
	doc      docState // what the walk made of it as a manifest or an index
}

// docState is what a walk made of a blob as a manifest or an index. The decoded document is not
// kept: a second descriptor that needs it again (another media type to check it against,
// another platform for the rule funcs) reads it again, which is rare, while keeping every
// document cost more memory than anything else verify holds.
type docState uint8

const (
	docUnread docState = iota // not read as a document yet
	docBad                    // read, and unreadable or malformed: reported where first reached
	docOK                     // read and decoded
)

// rel returns bf's path in the layout, blobs/<alg>/<encoded>, or its name in the stream.
func (bf *blobFile) rel() string {
	if bf.name != "" {
		return bf.name
	}
	return filepath.Join(BlobsDir, bf.dg.Algorithm().String(), bf.dg.Encoded())
}

func (bf *blobFile) desc() ocispec.Descriptor {
	return ocispec.Descriptor{Digest: bf.dg, Size: bf.size}
}

// scanRoot reports the files of the root that the layout format does not define.
func (v *verifier) scanRoot() {
	ents, err := os.ReadDir(v.root)
	if err != nil {
		v.errorf(RuleLayoutFile, ".", err, "cannot list the layout: %v", err)
		return
	}
	for _, e := range ents {
		name := e.Name()
		switch {
		case name == LockFile:
			if !e.Type().IsRegular() {
				err := notRegular(name, e.Type())
				v.errorf(RuleIndexFile, name, err, "%s (ig and gadgetpack lock index.json through it)", err)
			}
		case name == LayoutFile, name == IndexFile, name == BlobsDir:
		case name == TempDir && !e.IsDir():
			err := checkFolder(TempDir, e.Type()) // a symlink: writers would write outside the layout
			v.errorf(RuleBlobsDir, TempDir, err, "%s", err)
		case name == TempDir:
			v.reportTemps(TempDir, "a blob writer's temp file: a write in progress, or left by a dead writer (gc removes those)")
		case name == oraIngestDir && e.IsDir():
			v.reportTemps(oraIngestDir, "an oras-go (ig) ingest file: a write in progress, or left by a dead writer")
		case isRootTemp(name):
			v.warnf(RuleTempLeftover, name, "a temp file of an index.json or oci-layout write: in progress, or left by a dead writer (gc removes it under the lock)")
		default:
			v.warnf(RuleUnknownFile, name, "not part of an OCI image layout")
		}
	}
}

// reportTemps warns about each entry of the temp folder dir.
func (v *verifier) reportTemps(dir, what string) {
	ents, err := os.ReadDir(filepath.Join(v.root, dir))
	if err != nil {
		v.warnf(RuleTempLeftover, dir, "cannot list: %v", err)
		return
	}
	for _, e := range ents {
		v.warnf(RuleTempLeftover, filepath.Join(dir, e.Name()), "%s", what)
	}
}

// scanBlobs lists blobs/: each algorithm folder, each file in it, with Lstat (no symlink
// followed). Valid blobs go into v.blobs; everything else is a problem.
func (v *verifier) scanBlobs(ctx context.Context) error {
	dir := filepath.Join(v.root, BlobsDir)
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		v.errorf(RuleBlobsDir, BlobsDir, ErrNotLayout, "missing")
		return nil
	case err != nil:
		v.errorf(RuleBlobsDir, BlobsDir, err, "%v", err)
		return nil
	case !fi.IsDir():
		err := checkFolder(BlobsDir, fi.Mode()) // the rule Open applies
		v.errorf(RuleBlobsDir, BlobsDir, err, "%s", err)
		return nil
	}
	algs, err := os.ReadDir(dir)
	if err != nil {
		v.errorf(RuleBlobsDir, BlobsDir, err, "cannot list: %v", err)
		return nil
	}
	for _, a := range algs {
		rel := filepath.Join(BlobsDir, a.Name())
		switch {
		case isAlgFolder(a) && !a.IsDir():
			err := checkFolder(rel, a.Type()) // the rule Open applies
			v.errorf(RuleBlobsDir, rel, err, "%s (where a digest algorithm folder belongs)", err)
			continue
		case !a.IsDir():
			v.warnf(RuleUnknownFile, rel, "not part of an OCI image layout (blobs/ holds one folder per digest algorithm)")
			continue
		}
		alg := digest.Algorithm(a.Name())
		if err := v.scanAlgFolder(ctx, alg, rel); err != nil {
			return err
		}
	}
	return nil
}

// scanAlgFolder lists the blobs of one algorithm folder, rel, a chunk of names at a time (a
// folder of many blobs is not listed whole in memory).
func (v *verifier) scanAlgFolder(ctx context.Context, alg digest.Algorithm, rel string) error {
	d, err := os.Open(filepath.Join(v.root, rel))
	if err != nil {
		v.errorf(RuleBlobsDir, rel, err, "cannot list: %v", err)
		return nil
	}
	defer func() { _ = d.Close() }()
	for listed := 0; ; {
		files, err := d.ReadDir(scanChunk)
		listed += len(files)
		if err == io.EOF && listed == 0 && !alg.Available() {
			v.warnf(RuleUnknownFile, rel, "folder of an unknown digest algorithm %q", alg)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			v.errorf(RuleBlobsDir, rel, err, "cannot list: %v", err)
			return nil
		}
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return err
			}
			v.scanBlobFile(alg, rel, f)
		}
	}
}

// scanChunk is how many names scanAlgFolder lists at a time.
const scanChunk = 4096

// scanBlobFile checks one entry f of the algorithm folder rel and lists it as a blob when it is
// one.
func (v *verifier) scanBlobFile(alg digest.Algorithm, rel string, f fs.DirEntry) {
	frel := filepath.Join(rel, f.Name())
	dg := digest.NewDigestFromEncoded(alg, f.Name())
	switch {
	case !alg.Available():
		v.errorf(RuleBlobName, frel, ErrInvalidDigest, "blob of an unknown digest algorithm %q", alg)
		return
	case alg.Validate(f.Name()) != nil:
		v.errorf(RuleBlobName, frel, ErrInvalidDigest, "file name %q is not a %s digest (%d lowercase hex digits)", f.Name(), alg, alg.Size()*2)
		return
	}
	info, err := os.Lstat(filepath.Join(v.root, frel))
	if err != nil {
		v.errorf(RuleBlobRead, frel, err, "blob %s: %v", dg, err)
		return
	}
	if !info.Mode().IsRegular() {
		v.errorf(RuleBlobType, frel, ErrNotRegular, "blob %s is a %s, not a regular file", dg, kindOf(info.Mode()))
		return
	}
	v.blobs[dg] = &blobFile{dg: dg, size: info.Size(), id: fileIDOf(info)}
}

// record stores the verdict of a blob's hashing pass and reports a bad one. Only the owner of
// the pass (the one that moved the state off pending) calls it.
func (v *verifier) record(bf *blobFile, err error) {
	bf.state.Store(stateDone)
	switch {
	case err == nil:
	case errors.Is(err, ErrDigestMismatch):
		v.errorf(RuleBlobDigest, bf.rel(), err, "%s", err)
	case errors.Is(err, ErrNotRegular):
		v.errorf(RuleBlobType, bf.rel(), err, "blob %s: %s", bf.dg, errors.Unwrap(err))
	case errors.Is(err, ErrShortRead), errors.Is(err, ErrTrailingData):
		v.errorf(RuleBlobRead, bf.rel(), err, "%s (the file changed while being read)", err)
	default:
		v.errorf(RuleBlobRead, bf.rel(), err, "blob %s: %v", bf.dg, err)
	}
}

// openBlobFile opens bf without following a symlink, checking it is the file listed.
func (v *verifier) openBlobFile(bf *blobFile) (*os.File, error) {
	f, err := openNoFollowID(filepath.Join(v.root, bf.rel()), bf.id)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", bf.dg, err)
	}
	return f, nil
}

// hashFile reads bf whole through a VerifyReader with buf, checking ctx between chunks. With
// capture set it returns the content too (with the verdict, even a bad one); with onlyJSON as
// well, only when the content looks like a JSON object (its first byte that is not a space is
// '{'). capture is for blobs under MaxJSONBytes.
func (v *verifier) hashFile(ctx context.Context, bf *blobFile, buf []byte, capture, onlyJSON bool) (data []byte, err error) {
	f, err := v.openBlobFile(bf)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	vr, err := NewVerifyReader(f, bf.desc())
	if err != nil {
		return nil, err
	}
	looked := !onlyJSON
	if capture && looked {
		data = make([]byte, 0, bf.size)
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, rerr := vr.Read(buf)
		v.read.Add(int64(n))
		if capture && n > 0 {
			if !looked {
				if first := firstNonSpace(buf[:n]); first >= 0 {
					looked = true
					if buf[first] == '{' {
						data = make([]byte, 0, bf.size)
					} else {
						capture = false
					}
				}
			}
			if capture && looked {
				data = append(data, buf[:n]...)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return data, rerr
		}
	}
	if !looked {
		data = nil
	}
	return data, nil
}

// firstNonSpace returns the index of the first byte of b that is not JSON white space, or -1.
func firstNonSpace(b []byte) int {
	for i, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return i
		}
	}
	return -1
}

// readDoc reads the JSON document bf for a walk: whole, hashed on the way (this read is the
// blob's hashing pass unless another pass has it), or from a referrer capture. It returns the
// content even when it does not hash to its name, with the error.
func (v *verifier) readDoc(ctx context.Context, bf *blobFile) ([]byte, error) {
	if data, ok := v.data[bf.dg]; ok {
		return data, nil
	}
	if v.src != nil {
		return ReadAllFrom(ctx, v.src, bf.desc(), MaxJSONBytes)
	}
	own := bf.state.CompareAndSwap(statePending, stateClaimed)
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	data, err := v.hashFile(ctx, bf, *bp, true, false)
	if own {
		if ctx.Err() != nil {
			bf.state.Store(statePending)
		} else {
			v.record(bf, err)
		}
	}
	return data, err
}

// parallel runs the pending rule tasks, then hashes every blob still pending, on v.jobs
// goroutines, each with its own pooled buffer.
func (v *verifier) parallel(ctx context.Context) error {
	rules := v.rules
	v.rules = nil
	var pending, later []*blobFile
	for _, bf := range v.blobs {
		if bf.state.Load() != statePending {
			continue
		}
		if bf.ruleRead {
			later = append(later, bf)
		} else {
			pending = append(pending, bf)
		}
	}
	// Big blobs first, for an even spread; blobs a rule func may read whole last, so that its
	// read is their hashing pass.
	bySize := func(a, b *blobFile) int {
		if a.size != b.size {
			if a.size > b.size {
				return -1
			}
			return 1
		}
		return strings.Compare(string(a.dg), string(b.dg))
	}
	slices.SortFunc(pending, bySize)
	slices.SortFunc(later, bySize)
	pending = append(pending, later...)
	if len(rules) == 0 && len(pending) == 0 {
		return ctx.Err()
	}

	tasks := make(chan func([]byte), v.jobs)
	var wg sync.WaitGroup
	for range v.jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bp := bufPool.Get().(*[]byte)
			defer bufPool.Put(bp)
			for task := range tasks {
				if ctx.Err() != nil {
					continue
				}
				task(*bp)
			}
		}()
	}
	for _, rt := range rules {
		tasks <- func([]byte) { v.runRule(ctx, rt) }
	}
	for _, bf := range pending {
		tasks <- func(buf []byte) { v.hashTask(ctx, bf, buf) }
	}
	close(tasks)
	wg.Wait()
	return ctx.Err()
}

// hashTask is the hashing pass of one blob, unless another pass has it. A small blob that is a
// verified JSON document with a subject becomes a referrer candidate.
func (v *verifier) hashTask(ctx context.Context, bf *blobFile, buf []byte) {
	if !bf.state.CompareAndSwap(statePending, stateClaimed) {
		return
	}
	data, err := v.hashFile(ctx, bf, buf, bf.size <= MaxJSONBytes, true)
	if ctx.Err() != nil {
		bf.state.Store(statePending)
		return
	}
	v.record(bf, err)
	if err == nil && data != nil {
		v.sniffReferrer(bf, data)
	}
}

// fetch is the FetchFunc handed to the rule funcs: a verified read of a blob of the layout.
// When it reads a blob whole that no pass has hashed yet, that read is the blob's pass.
func (v *verifier) fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkDigest(desc.Digest); err != nil {
		return nil, err
	}
	bf := v.blobs[desc.Digest]
	if bf == nil {
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, ErrNotFound)
	}
	if desc.Size != bf.size {
		return nil, fmt.Errorf("blob %s: file has %d bytes, descriptor says %d: %w", desc.Digest, bf.size, desc.Size, ErrSizeMismatch)
	}
	f, err := v.openBlobFile(bf)
	if err != nil {
		return nil, err
	}
	vr, err := NewVerifyReader(f, desc)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	own := bf.state.CompareAndSwap(statePending, stateFetching)
	return &fetchReader{ctx: ctx, v: v, bf: bf, f: f, vr: vr, own: own}, nil
}

// fetchReader is a rule func's read of a blob.
type fetchReader struct {
	ctx      context.Context
	v        *verifier
	bf       *blobFile
	f        *os.File
	vr       *VerifyReader
	own      bool // this read is the blob's hashing pass if it reaches the end
	recorded bool
}

func (r *fetchReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := r.vr.Read(p)
	r.v.read.Add(int64(n))
	if r.own && !r.recorded {
		if done, verr := r.vr.Done(); done {
			r.recorded = true
			r.v.record(r.bf, verr)
		}
	}
	return n, err
}

func (r *fetchReader) Close() error {
	if r.own && !r.recorded {
		// Not read to the end: a later pass hashes it.
		r.bf.state.Store(statePending)
		r.recorded = true
	}
	return r.f.Close()
}
