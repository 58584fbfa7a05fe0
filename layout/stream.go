package layout

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// A layout read as a stream: the files of a layout that are not on disk (a tarball), checked
// by the same code as a layout's files. Package tarball reads the stream; this file holds what
// must agree with the rest of this package: the parse of oci-layout and index.json, and the
// checks of Verify over blobs that the reader hashed.

// CheckLayoutFile checks the content of an oci-layout file that is not a layout's file yet:
// a JSON object with imageLayoutVersion "1.0.0". It returns ErrNotLayout otherwise, as Open
// does for a layout's.
func CheckLayoutFile(data []byte) error {
	err := parseLayoutFile("", data)
	if err == nil {
		return nil
	}
	msg := strings.TrimPrefix(err.Error(), "layout : ")
	msg = strings.TrimSuffix(msg, ": "+ErrNotLayout.Error())
	return fmt.Errorf("%s: %w", msg, ErrNotLayout)
}

// ParseIndex parses the content of an index.json that is not a layout's file yet, checking
// what a layout's must be: a JSON object of at most MaxIndexBytes (ErrTooLarge) with
// schemaVersion 2, the OCI index media type if any, and manifests an array of descriptors
// (ErrBadIndex otherwise, naming the field or entry), each with a valid digest (a digest with
// path characters is refused here), size, media type and ref name, as AddEntries checks them
// (ErrInvalidDigest, ErrInvalidMediaType, ErrInvalidReference, each wrapped in ErrBadIndex),
// and no ref name given to two digests (ErrInvalidReference): Verify reports the same.
func ParseIndex(data []byte) (ocispec.Index, error) {
	if int64(len(data)) > MaxIndexBytes {
		return ocispec.Index{}, fmt.Errorf("%s: %d bytes, cap %d: %w", IndexFile, len(data), MaxIndexBytes, ErrTooLarge)
	}
	d, err := parseIndexJSON(data)
	if err != nil {
		return ocispec.Index{}, err
	}
	for i, e := range d.entries {
		if err := checkEntry(e.desc); err != nil {
			return ocispec.Index{}, fmt.Errorf("%s: manifests[%d]: %w: %w", IndexFile, i, err, ErrBadIndex)
		}
	}
	idx := d.index()
	if err := checkRefs(idx.Manifests); err != nil {
		return ocispec.Index{}, fmt.Errorf("%s: %w: %w", IndexFile, err, ErrBadIndex)
	}
	return idx, nil
}

// ProblemOf turns an error of a rule func into the Problem Verify reports for it under where:
// its own severity, rule, location (appended to where) and message when it has a method
// Finding() (severity, rule, where, message string), else an error of rule "gadget".
func ProblemOf(where string, err error) Problem {
	return findingOf(where, err)
}

// StreamBlob is one blob of a layout read as a stream, hashed by the reader.
type StreamBlob struct {
	// Name is where the blob was found, for the Where of problems: a tar entry's name.
	Name string
	// Digest is the blob's name as a digest; Size its length.
	Digest digest.Digest
	Size   int64
	// Err is the verdict of hashing it: nil when the content hashes to Digest, else an error
	// wrapping ErrDigestMismatch.
	Err error
	// Data is the content when the reader kept it: a JSON object of at most MaxJSONBytes
	// (manifests, indexes, configs). Documents without Data are read through
	// StreamLayout.Fetch.
	Data []byte
	// MaySubject, for a blob without Data, says that it is a JSON object that may have a
	// subject: VerifyStream reads it through StreamLayout.Fetch to find out, as Verify finds
	// the referrers among a layout's blobs.
	MaySubject bool
}

// StreamLayout is a layout read as a stream, for VerifyStream.
type StreamLayout struct {
	// Path names the stream in the report (Report.Path).
	Path string
	// LayoutFile and Index are the contents of oci-layout and index.json; nil when the stream
	// had none (a problem "missing", unless Problems has one for that file already).
	LayoutFile, Index []byte
	// Blobs are the blob entries of the stream, each digest once.
	Blobs []StreamBlob
	// Problems are the reader's own findings (entries that are no layout's, a damaged
	// stream), merged into the report.
	Problems []Problem
	// Fetch reads a blob's content, verified: for the documents that have no Data and for the
	// rule funcs of the options. It may return an error for a blob it can no longer read (a
	// stream read once); that becomes the finding of the document or rule that needed it. It is
	// called from several goroutines at once.
	Fetch FetchFunc
}

// VerifyStream checks a layout read as a stream with the checks of Verify, and returns the
// same Report: oci-layout and index.json (and opts.Expect); every blob's hash verdict; every
// descriptor reached from index.json (digest grammar, size, data, media type) and its blob
// (present; manifests, indexes and OCI JSON configs parse as their media type says);
// referrers of reached manifests; the rule funcs of opts (called with in.Fetch); and, as
// warnings, unreferenced blobs. The reader's own problems come first in its place. Files of a
// layout's folder (unknown files, temp leftovers) are the reader's to report. opts.Jobs bounds
// the rule funcs run at once; opts.Progress is not called (the reader knows the progress).
//
// The error is for what stops the check itself: ctx done.
func VerifyStream(ctx context.Context, in StreamLayout, opts VerifyOptions) (*Report, error) {
	v := newVerifier(in.Path, opts)
	v.src = in.Fetch
	if v.src == nil {
		v.src = func(_ context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
			return nil, fmt.Errorf("blob %s: not kept from the stream: %w", desc.Digest, ErrNotFound)
		}
	}
	noted := map[string]bool{}
	for _, p := range in.Problems {
		v.add(p)
		noted[p.Where] = true
	}
	rep := &Report{Path: in.Path}
	switch {
	case in.LayoutFile != nil:
		v.checkLayoutData(in.LayoutFile)
	case !noted[LayoutFile]:
		v.errorf(RuleLayoutFile, LayoutFile, ErrNotLayout, "missing")
	}
	var idx *doc
	switch {
	case in.Index != nil:
		rep.LayoutDigest = digest.FromBytes(in.Index)
		idx = v.parseIndex(in.Index)
	case !noted[IndexFile]:
		v.errorf(RuleIndexFile, IndexFile, ErrNotFound, "missing")
	}
	v.checkExpect(rep)
	for _, b := range in.Blobs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if checkDigest(b.Digest) != nil || v.blobs[b.Digest] != nil {
			continue
		}
		bf := &blobFile{dg: b.Digest, name: b.Name, size: b.Size}
		v.blobs[b.Digest] = bf
		rep.Blobs++
		rep.Bytes += b.Size
		v.record(bf, b.Err)
		switch {
		case b.Data != nil:
			v.data[b.Digest] = b.Data
			if b.Err == nil {
				v.sniffReferrer(bf, b.Data)
			}
		case b.MaySubject && b.Err == nil && b.Size <= MaxJSONBytes:
			data, err := ReadAllFrom(ctx, v.src, bf.desc(), MaxJSONBytes)
			switch {
			case err == nil:
				v.sniffReferrer(bf, data)
			case ctx.Err() != nil:
				return nil, ctx.Err()
			default:
				v.errorf(RuleBlobRead, bf.rel(), err, "blob %s cannot be read again: %v", bf.dg, err)
			}
		}
	}
	return v.finish(ctx, idx, rep)
}
