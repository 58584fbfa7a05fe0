package tarball

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/internal/termsafe"
	"github.com/gadgetpack/gadgetpack/internal/ticker"
	"github.com/gadgetpack/gadgetpack/layout"
)

// CheckIndexFunc and CheckManifestFunc are gadget rule funcs, as in layout.VerifyOptions.
type (
	CheckIndexFunc    = func(ctx context.Context, desc ocispec.Descriptor, idx ocispec.Index, fetch layout.FetchFunc) []error
	CheckManifestFunc = func(ctx context.Context, desc ocispec.Descriptor, m ocispec.Manifest, fetch layout.FetchFunc) []error
)

// ImportOptions tunes Import. The zero value imports with the default caps, refuses to move an
// existing ref and checks no gadget rule.
type ImportOptions struct {
	// Force lets a ref of the tarball replace a ref of the layout that points elsewhere;
	// without it that is an error (layout.ErrRefExists) and nothing is imported.
	Force bool

	// MaxSize caps the tar stream's size after decompression (ReaderOptions.MaxSize); if ≤ 0,
	// DefaultMaxSize.
	MaxSize int64

	// CheckIndex and CheckManifest, when set, are the gadget rules: called, once the stream
	// is staged, for the tarball's index.json (zero descriptor) and every index and manifest
	// its entries reach, as layout.Verify calls them. An error finding refuses the import
	// (ErrRuleViolation); warnings come back in ImportResult.Warnings.
	CheckIndex    CheckIndexFunc
	CheckManifest CheckManifestFunc

	// Gate, when set, is called once the rules have run and before anything is published; an
	// error from it refuses the whole import (the signature gate decides there, from what the
	// rule funcs saw).
	Gate func(ctx context.Context) error

	// Progress, when set, is called about five times a second from another goroutine with the
	// bytes read from the input so far, and once more at the end.
	Progress func(done int64)
}

// ImportResult says what Import did. It is the JSON object of `gadgetpack import --json`.
type ImportResult struct {
	// Path is the layout imported into.
	Path string `json:"path"`
	// Compression is the tarball's, as read from its bytes.
	Compression Compression `json:"compression"`
	// Refs are the names of the tarball's named entries, in its index.json's order.
	Refs []string `json:"refs"`
	// Entries is the number of entries of the tarball's index.json; Added, Replaced and
	// Unchanged say what became of them in the layout's (layout.AddResult).
	Entries   int `json:"entries"`
	Added     int `json:"added"`
	Replaced  int `json:"replaced"`
	Unchanged int `json:"unchanged"`
	// Blobs and BlobBytes count the blobs of the stream; Written and WrittenBytes those the
	// layout did not hold and now does.
	Blobs        int   `json:"blobs"`
	BlobBytes    int64 `json:"blob_bytes"`
	Written      int   `json:"written"`
	WrittenBytes int64 `json:"written_bytes"`
	// LayoutDigest is the sha256 of the tarball's index.json, as verify prints it.
	LayoutDigest digest.Digest `json:"layout_digest"`
	// Warnings are the rule funcs' warnings.
	Warnings []layout.Problem `json:"warnings"`
	// Checksum is the check of the tarball's files against the checksum file beside them, when
	// the input is an Input (OpenInput) and that file exists.
	Checksum *ChecksumCheck `json:"checksum,omitempty"`
}

// Import reads the layout tarball r yields (plain, gzip or zstd, told from its bytes) into the
// layout at path, in one pass, all or nothing. path may be a layout, or a missing path or an
// empty directory that becomes one (layout.NewStageAt).
//
// Each blob entry is hashed while it is written into a stage inside the layout's
// .gadgetpack-tmp/ (layout.Stage) and must match its name; a blob the layout holds already is
// hashed and not written again. After the stream: oci-layout must be 1.0.0 and index.json
// valid (layout.ParseIndex); every entry's graph must be complete over the stream and the
// layout (a delta without its base is refused, naming what is missing); the rule funcs of
// opts run; a ref of the layout that points elsewhere refuses the import unless opts.Force.
// Then the blobs are published and the entries merged into index.json in one locked write
// (Stage.Commit). Every blob of the stream is imported, referenced or not (gc removes what
// nothing reaches). An unnamed entry whose blob neither the stream nor the layout holds is left
// out with a warning (layout.RuleDanglingEntry), as verify only warns of it. Directory entries of a layout (blobs/, blobs/<alg>/, with or without "./")
// and an index.json.lock (a store tarred as it was; a lock means nothing in transit) are
// skipped; a .gadgetpack-tmp/ or any other name is refused (ErrUnsafeEntry): a writer's temp
// file is half a blob.
//
// When r is an Input (OpenInput) with a checksum file beside its files, the files must match
// it (Input.Check) before anything is published, else ErrChecksum: index.json and the tar
// headers are not content-addressed, and that file is what vouches for them after transit.
//
// When Import returns an error, the layout is as it was: nothing is written outside the stage,
// which is removed (and a layout folder Import created is removed too). A process killed
// during Import leaves its stage for the next gc or CleanTemp. Memory stays flat: blobs are
// streamed (small ones copied at most 1 MiB ahead of the stage, on another goroutine:
// importahead.go); JSON documents are read one at a time under their caps.
//
// Errors name the tar entry, digest or ref and wrap ErrUnsafeEntry, ErrCorrupt (ErrTruncated),
// ErrTooLarge, ErrRuleViolation, or layout's ErrDigestMismatch, ErrShortRead, ErrNotLayout,
// ErrBadIndex, ErrGraphIncomplete, ErrRefExists.
func Import(ctx context.Context, path string, r io.Reader, opts ImportOptions) (*ImportResult, error) {
	st, err := layout.NewStageAt(ctx, path)
	if err != nil {
		return nil, err
	}
	defer st.Discard()
	rd, err := NewReader(r, ReaderOptions{MaxSize: opts.MaxSize})
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	if opts.Progress != nil {
		stop := ticker.Start(func() { opts.Progress(rd.InputBytes()) })
		defer stop()
	}
	res := &ImportResult{Path: st.Path(), Compression: rd.Compression(), Refs: []string{}, Warnings: []layout.Problem{}}

	var layoutData, indexData []byte
	ahead := readAhead(ctx, rd) // rd is its goroutine's until stop (importahead.go)
	defer ahead.stop()
	var content bytes.Reader
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		it := ahead.entry(ctx)
		e, err := it.e, it.err
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, withChecksum(r, err)
		}
		switch e.Kind {
		case KindLayoutFile:
			if layoutData, err = it.data, it.readErr; err != nil {
				return nil, err
			}
			if err := layout.CheckLayoutFile(layoutData); err != nil {
				return nil, fmt.Errorf("%s: %w", e.Where(), err)
			}
		case KindIndex:
			if indexData, err = it.data, it.readErr; err != nil {
				return nil, err
			}
		case KindBlob:
			if it.readErr != nil {
				return nil, withChecksum(r, it.readErr) // the stream's own error names the entry
			}
			var src io.Reader = rd
			if !it.stream {
				content.Reset(it.data)
				src = &content
			}
			if err := st.Push(ctx, ocispec.Descriptor{Digest: e.Digest, Size: e.Size}, src); err != nil {
				switch {
				case ctx.Err() != nil:
					return nil, ctx.Err()
				case it.stream && rd.err != nil:
					return nil, withChecksum(r, rd.err) // the stream's own error names the entry
				}
				return nil, withChecksum(r, fmt.Errorf("%s: %w", e.Where(), err))
			}
			if it.stream {
				ahead.resume()
			}
			res.Blobs++
			res.BlobBytes += e.Size
		}
	}
	ahead.stop()
	_ = rd.Close() // the stream is read: its decompressor and what the reader kept of it go before the graph checks
	if in, ok := r.(*Input); ok {
		check, err := in.Check()
		if err != nil {
			return nil, err
		}
		res.Checksum = check
	}
	if layoutData == nil {
		return nil, fmt.Errorf("tarball: no %s entry: not an OCI image layout's tarball: %w", layout.LayoutFile, ErrCorrupt)
	}
	if indexData == nil {
		return nil, fmt.Errorf("tarball: no %s entry: %w", layout.IndexFile, ErrCorrupt)
	}
	idx, err := layout.ParseIndex(indexData)
	if err != nil {
		return nil, fmt.Errorf("tar entry %q: %w", layout.IndexFile, err)
	}
	res.LayoutDigest = digest.FromBytes(indexData)
	res.Entries = len(idx.Manifests)
	for _, e := range idx.Manifests {
		if name := e.Annotations[ocispec.AnnotationRefName]; name != "" {
			res.Refs = append(res.Refs, name)
		}
	}

	idx.Manifests, res.Warnings = dropDangling(ctx, st, idx.Manifests)
	warnings, err := checkGraphAndRules(ctx, st, idx, opts)
	if err != nil {
		return nil, err
	}
	res.Warnings = append(res.Warnings, warnings...)
	if opts.Gate != nil {
		if err := opts.Gate(ctx); err != nil {
			return nil, err
		}
	}
	if !opts.Force {
		if err := checkRefs(ctx, path, idx.Manifests); err != nil {
			return nil, err
		}
	}
	res.Written, res.WrittenBytes = st.Staged()
	added, err := st.Commit(ctx, idx.Manifests, layout.AddOptions{Force: opts.Force})
	if err != nil {
		return nil, err
	}
	res.Added, res.Replaced, res.Unchanged = added.Added, added.Replaced, added.Unchanged
	return res, nil
}

// dropDangling returns entries without the unnamed ones whose blob neither the stream nor the
// layout holds, and a warning for each, as layout.Verify gives (oras-go, which ig uses, lists
// every manifest it stores as an unnamed entry and skips absent ones: no ref depends on them).
// entries itself comes back when it keeps them all (a copy of 20,000 entries is 2 MB).
func dropDangling(ctx context.Context, st *layout.Stage, entries []ocispec.Descriptor) ([]ocispec.Descriptor, []layout.Problem) {
	var kept []ocispec.Descriptor // nil while every entry so far is kept
	warnings := []layout.Problem{}
	for i, e := range entries {
		if e.Annotations[ocispec.AnnotationRefName] == "" {
			if ok, err := st.Exists(ctx, e); !ok && err == nil {
				warnings = append(warnings, layout.Problem{Severity: layout.SeverityWarning, Rule: layout.RuleDanglingEntry,
					Where:   fmt.Sprintf("%s[%d](%s)", layout.IndexFile, i, e.Digest),
					Message: fmt.Sprintf("blob %s is absent; the entry has no ref name, so no ref depends on it: not imported", e.Digest)})
				if kept == nil {
					kept = append(make([]ocispec.Descriptor, 0, len(entries)-1), entries[:i]...)
				}
				continue
			}
		}
		if kept != nil {
			kept = append(kept, e)
		}
	}
	if kept == nil {
		return entries, warnings
	}
	return kept, warnings
}

// ImportFiles is Import of a tarball file, or of the ordered parts of a split export: paths
// are read one after the other as one stream (OpenParts). One path that does not exist but
// whose PATH.000 does stands for the parts PATH.000, PATH.001... (see Parts).
func ImportFiles(ctx context.Context, path string, files []string, opts ImportOptions) (*ImportResult, error) {
	rc, err := OpenInput(files)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return Import(ctx, path, rc, opts)
}

// Parts returns the files a tarball argument stands for: paths as given, except that one path
// that does not exist but whose PATH.000 does stands for the parts PATH.000, PATH.001... up to
// the first missing one. It returns the error of os.Stat for a missing file otherwise.
func Parts(paths []string) ([]string, error) {
	if len(paths) == 1 {
		if _, err := os.Stat(paths[0]); errors.Is(err, os.ErrNotExist) {
			if _, perr := os.Stat(PartName(paths[0], 0)); perr == nil {
				var parts []string
				for i := range MaxParts {
					p := PartName(paths[0], i)
					if _, err := os.Stat(p); err != nil {
						break
					}
					parts = append(parts, p)
				}
				return parts, nil
			}
		}
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if fi.IsDir() {
			return nil, fmt.Errorf("%s is a directory, not a tarball: %w", p, ErrCorrupt)
		}
	}
	return paths, nil
}

// withChecksum adds to err, an error of reading the stream r, what the checksum file says of
// r's files when r is an Input that has one and they do not match it: a damaged stream is then
// told apart from one that was damaged in transit.
func withChecksum(r io.Reader, err error) error {
	in, ok := r.(*Input)
	if !ok || errors.Is(err, ErrTooLarge) {
		return err // over a cap: the rest is not worth reading
	}
	if _, cerr := in.Check(); cerr != nil && errors.Is(cerr, ErrChecksum) {
		return errors.Join(err, cerr)
	}
	return err
}

// openStream opens the files of a tarball (Parts already applied) as one plain stream, for a
// second pass that needs no read-ahead and no checksum.
func openStream(parts []string) (io.ReadCloser, error) {
	if len(parts) == 1 {
		return openFile(parts[0], true)
	}
	return OpenParts(parts)
}

// checkRefs refuses refs of entries that the layout at path has for another digest (the check
// AddEntries makes again under the lock), before anything is published.
func checkRefs(ctx context.Context, path string, entries []ocispec.Descriptor) error {
	s, err := layout.Open(path)
	if err != nil {
		return nil // a new layout: no ref to move
	}
	return s.CheckEntries(ctx, entries, layout.AddOptions{})
}

// checkGraphAndRules checks the entries' graphs over the stage and the layout
// (Stage.CheckGraph), and runs the rule funcs over the tarball's index.json and everything its
// entries reach, as layout.Verify calls them: CheckIndex for index.json (zero descriptor) and
// for each index, CheckManifest for each manifest, once per digest and platform. The rules of a
// document run while the graph check walks it (GraphOptions.OnDocument), from the stage's
// memory: a walk of their own after the check read each document again, and what a rule
// fetches (an index's manifests), each an open of a staged file once the check had made the
// stage forget them. A graph error comes first, as when the rules ran after the check. It
// returns the warnings, or ErrRuleViolation listing the errors.
func checkGraphAndRules(ctx context.Context, st *layout.Stage, idx ocispec.Index, opts ImportOptions) ([]layout.Problem, error) {
	if opts.CheckIndex == nil && opts.CheckManifest == nil {
		return []layout.Problem{}, st.CheckGraph(ctx, idx.Manifests)
	}
	rc := &ruleCheck{opts: opts, fetch: st.Fetch, seen: map[ruleID]bool{}}
	if opts.CheckIndex != nil {
		// Before the graph check: what it fetches of each ref (RulesIG) is in memory still.
		rc.add(layout.IndexFile, opts.CheckIndex(ctx, ocispec.Descriptor{}, idx, st.Fetch))
	}
	err := st.CheckGraphWith(ctx, idx.Manifests, layout.GraphOptions{OnDocument: rc.document, Label: func(i int) string {
		return entryLabel(i, idx.Manifests[i])
	}})
	if err != nil {
		return nil, err
	}
	return rc.result(ctx)
}

// entryLabel names index.json's entry i, e, in the rules' locations: "index.json[3](ref x)", or
// with e's digest when it has no ref name.
func entryLabel(i int, e ocispec.Descriptor) string {
	if name := e.Annotations[ocispec.AnnotationRefName]; name != "" {
		return fmt.Sprintf("%s[%d](ref %s)", layout.IndexFile, i, name)
	}
	return fmt.Sprintf("%s[%d](%s)", layout.IndexFile, i, e.Digest)
}

// ruleCheck is the rule funcs' run over an import's documents: what they found, the rule calls
// done, and the first error of reading or decoding a document for them.
type ruleCheck struct {
	opts  ImportOptions
	fetch layout.FetchFunc
	found []layout.Problem
	seen  map[ruleID]bool // the descriptor keys (digest and platform) whose rules ran
	err   error           // set: no more rule runs, and the check fails with it
}

// add records the findings errs of a rule func at where.
func (rc *ruleCheck) add(where string, errs []error) {
	for _, err := range errs {
		if err != nil {
			rc.found = append(rc.found, layout.ProblemOf(where, err))
		}
	}
}

// document runs the rule func of desc, an index or a manifest reached at at, whose verified
// content comes from content, unless it ran for desc's digest and platform already.
func (rc *ruleCheck) document(ctx context.Context, desc ocispec.Descriptor, at layout.Location, content func() ([]byte, error)) {
	if rc.err != nil || ctx.Err() != nil {
		return
	}
	key := ruleIDOf(desc)
	if rc.seen[key] {
		return
	}
	rc.seen[key] = true
	if err := rc.run(ctx, desc, at.String(), content); err != nil {
		rc.err = fmt.Errorf("%s: %w", at, err)
	}
}

// run decodes desc's content and runs its rule func, recording the findings at where.
func (rc *ruleCheck) run(ctx context.Context, desc ocispec.Descriptor, where string, content func() ([]byte, error)) error {
	isIndex, isManifest := layout.IsIndexType(desc.MediaType), layout.IsManifestType(desc.MediaType)
	if (!isIndex || rc.opts.CheckIndex == nil) && (!isManifest || rc.opts.CheckManifest == nil) {
		return nil
	}
	data, err := content()
	if err != nil {
		return err
	}
	switch {
	case isIndex:
		var sub ocispec.Index
		if err := json.Unmarshal(data, &sub); err != nil {
			return err
		}
		rc.add(where, rc.opts.CheckIndex(ctx, desc, sub, rc.fetch))
	default:
		var m ocispec.Manifest
		if err := json.Unmarshal(data, &m); err != nil {
			return err
		}
		rc.add(where, rc.opts.CheckManifest(ctx, desc, m, rc.fetch))
	}
	return nil
}

// result returns, once the graph check passed, the warnings, or the first error of the rules'
// reads, or ErrRuleViolation listing the error findings.
func (rc *ruleCheck) result(ctx context.Context) ([]layout.Problem, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if rc.err != nil {
		return nil, rc.err
	}
	warnings := []layout.Problem{}
	var errs []string
	var first error
	for _, p := range rc.found {
		if p.Severity == layout.SeverityWarning {
			warnings = append(warnings, p)
			continue
		}
		errs = append(errs, p.Where+": "+p.Message+" ["+p.Rule+"]")
		if first == nil {
			first = p.Err
		}
	}
	if len(errs) > 0 {
		err := fmt.Errorf("%d gadget rule errors: %s: %w", len(errs), termsafe.Join(errs, "; ", 0), ErrRuleViolation)
		if first != nil {
			err = fmt.Errorf("%w (%w)", err, first)
		}
		return nil, err
	}
	return warnings, nil
}
