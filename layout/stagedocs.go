package layout

import (
	"bytes"
	"context"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// MaxStageDocBytes caps the verified documents a Stage keeps in memory, in all: the manifests,
// indexes and other small JSON objects it staged, so that the graph checks read each from
// memory instead of opening, hashing and reading its file again. Past the cap the documents
// staged later are read again, verified, from their files: memory stays flat however many
// blobs an import stages.
const MaxStageDocBytes = 64 << 20

// docTee is the writer a staged blob goes through: it passes every byte to w and keeps a copy of
// a blob that may be a document (2 to MaxJSONBytes bytes, whose first byte that is not JSON white
// space, within its first sniffBytes, is '{': what the referrer search of a stage reads).
type docTee struct {
	w     io.Writer
	size  int64
	buf   []byte
	state int // 0: undecided (white space alone so far), 1: a document, -1: not one
}

// newDocTee returns a docTee writing to w for a blob of size bytes.
func newDocTee(w io.Writer, size int64) *docTee {
	t := &docTee{w: w, size: size}
	if size < 2 || size > MaxJSONBytes {
		t.state = -1
	}
	return t
}

// Write writes p to the underlying writer and keeps what it wrote while the blob may be a
// document.
func (t *docTee) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if t.state >= 0 {
		if t.buf == nil {
			t.buf = make([]byte, 0, min(t.size, sniffBytes))
		}
		t.buf = append(t.buf, p[:n]...)
		if t.state == 0 {
			t.decide()
		}
	}
	return n, err
}

// decide looks at the first bytes kept: '{' after white space makes the blob a document,
// anything else, or sniffBytes of white space, does not.
func (t *docTee) decide() {
	head := t.buf[:min(len(t.buf), sniffBytes)]
	switch i := firstNonSpace(head); {
	case i >= 0 && head[i] == '{':
		t.state = 1
		if int64(cap(t.buf)) < t.size {
			t.buf = append(make([]byte, 0, t.size), t.buf...)
		}
	case i >= 0 || len(head) == sniffBytes:
		t.state, t.buf = -1, nil
	}
}

// doc returns the blob's content when it may be a document, else nil. It is meaningful once the
// whole blob went through, verified.
func (t *docTee) doc() []byte {
	if t.state != 1 || int64(len(t.buf)) != t.size {
		return nil
	}
	return t.buf
}

// remember records the verified content data of the staged blob desc (staged already), a
// possible document: a referrer goes into st.refs, and data is kept for Fetch while the cap
// allows, in st.docs at the blob's place in st.order (a slice, not a map: a map keeps its size
// when the graph check takes the documents out). st.mu is held.
func (st *Stage) remember(desc ocispec.Descriptor, data []byte, ref *subjectRef) {
	if ref != nil {
		st.refs = append(st.refs, *ref)
	}
	if st.docBytes+int64(len(data)) <= st.maxDocBytes() {
		i := int(st.staged[desc.Digest])
		if len(st.docs) <= i {
			st.docs = append(st.docs, make([][]byte, i+1-len(st.docs))...)
		}
		st.docs[i] = data
		st.docBytes += int64(len(data))
	}
}

// keptReader returns a reader of data, the kept content of the staged blob d; with forget, one
// that makes the stage forget it once it was read to its end: a graph check reads each document
// once, and what it read need not stay in memory for the rest of the import.
func (st *Stage) keptReader(d digest.Digest, data []byte, forget bool) io.ReadCloser {
	if !forget {
		return io.NopCloser(bytes.NewReader(data))
	}
	return &keptDoc{st: st, d: d, r: bytes.NewReader(data)}
}

// content returns the verified content of the document desc, as ReadAllFrom through Fetch under
// MaxJSONBytes would: the kept bytes themselves while the stage keeps them (no copy, no file
// opened; the caller only reads them), else what Fetch reads.
func (st *Stage) content(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st.mu.Lock()
	n, ok := st.stagedSize(desc.Digest)
	data := st.keptDoc(desc.Digest)
	st.mu.Unlock()
	if ok && n == desc.Size && data != nil {
		return data, nil
	}
	return ReadAllFrom(ctx, st.Fetch, desc, MaxJSONBytes)
}

// keptDoc reads a document the stage kept, and forgets it at its end (keptReader).
type keptDoc struct {
	st *Stage
	d  digest.Digest
	r  *bytes.Reader
}

// Read reads from the kept content; at its end, the stage forgets it.
func (k *keptDoc) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if err == io.EOF && k.st != nil {
		k.st.forget(k.d)
		k.st = nil
	}
	return n, err
}

// Close does nothing: the content stays kept unless it was read to its end.
func (k *keptDoc) Close() error { return nil }

// forget drops the kept content of the staged blob d, if any: a later Fetch reads its file.
func (st *Stage) forget(d digest.Digest) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if i, ok := st.staged[d]; ok && int(i) < len(st.docs) && st.docs[i] != nil {
		st.docBytes -= int64(len(st.docs[i]))
		st.docs[i] = nil
	}
}

// keptDoc returns the kept content of the staged blob d, or nil. st.mu is held.
func (st *Stage) keptDoc(d digest.Digest) []byte {
	if i, ok := st.staged[d]; ok && int(i) < len(st.docs) {
		return st.docs[i]
	}
	return nil
}

// maxDocBytes is the cap of the stage's kept documents: MaxStageDocBytes unless a test set
// another.
func (st *Stage) maxDocBytes() int64 {
	if st.docCap != 0 {
		return st.docCap
	}
	return MaxStageDocBytes
}

// stagedReferrerOf returns the blob desc with content data as a referrer (asReferrer), or nil. A
// document that cannot name a subject field (no "subject" in any letter case, no escape, no
// byte outside ASCII that a key could fold from) is told apart without decoding it.
func stagedReferrerOf(desc ocispec.Descriptor, data []byte) *subjectRef {
	if !MaySubject(data) {
		return nil
	}
	if r, ok := asReferrer(desc, data); ok {
		return &r
	}
	return nil
}

// MaySubject reports whether data may hold a key that decodes as "subject": it holds the word
// in some ASCII letter case, a backslash (an escaped key) or a byte outside ASCII (encoding/json
// matches keys case-insensitively, with Unicode folds such as U+017F for s).
func MaySubject(data []byte) bool {
	const word = "subject"
	for i, c := range data {
		switch {
		case c >= 0x80 || c == '\\':
			return true
		case c|0x20 == 's' && len(data)-i >= len(word):
			if bytes.EqualFold(data[i:i+len(word)], []byte(word)) {
				return true
			}
		}
	}
	return false
}
