package layout

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gadgetpack/gadgetpack/internal/ticker"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Severities of a Problem.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Rules of the checks Verify makes itself. Rule funcs passed in VerifyOptions name their own
// (spec's are "gadget/...", "seed/...", "ig/...").
const (
	RuleLayoutFile    = "layout/oci-layout"        // oci-layout missing, unreadable, not {"imageLayoutVersion":"1.0.0"}
	RuleIndexFile     = "layout/index-json"        // index.json missing, not a regular file, over MaxIndexBytes
	RuleBlobsDir      = "layout/blobs"             // blobs/, blobs/<alg>/ or .gadgetpack-tmp/ missing or not a real folder (a symlink)
	RuleBlobName      = "layout/blob-name"         // a file under blobs/<alg>/ whose name is no digest of a known algorithm
	RuleBlobType      = "layout/blob-type"         // a symlink or non-regular file under blobs/
	RuleBlobDigest    = "layout/blob-digest"       // a blob whose content hashes to another digest than its name
	RuleBlobRead      = "layout/blob-read"         // a blob that could not be read whole (I/O error, changed while read)
	RuleMissingBlob   = "layout/missing-blob"      // a descriptor reachable from index.json whose blob is absent
	RuleDanglingEntry = "layout/dangling-entry"    // warning: an unnamed index.json entry whose blob is absent
	RuleUnreferenced  = "layout/unreferenced-blob" // warning: a blob nothing reachable points at
	// RuleUnlistedReferrer is a warning: a referrer of what index.json reaches that index.json
	// does not list (nor reaches otherwise), so that export, copy and push carry it only with
	// --scan-referrers (ClosureOptions.ScanReferrers).
	RuleUnlistedReferrer = "layout/unlisted-referrer"
	RuleUnknownFile      = "layout/unknown-file"      // warning: a file the layout format does not define
	RuleTempLeftover     = "layout/temp-leftover"     // warning: a writer's temp file
	RuleExpect           = "layout/expect"            // index.json is not the one VerifyOptions.Expect names
	RuleIndex            = "oci/index"                // an image index (index.json or a blob) without the shape of one
	RuleManifest         = "oci/manifest"             // an image manifest without the shape of one
	RuleJSON             = "oci/json"                 // a manifest, index or JSON config that does not parse
	RuleTooLarge         = "oci/too-large"            // a manifest, index or JSON config over MaxJSONBytes
	RuleConfig           = "oci/config"               // a config of a known OCI JSON type that is not that type
	RuleEmpty            = "oci/empty-descriptor"     // an application/vnd.oci.empty.v1+json descriptor that is not {}
	RuleDescDigest       = "oci/descriptor-digest"    // a descriptor digest that breaks the digest grammar
	RuleDescSize         = "oci/descriptor-size"      // a descriptor size other than its blob's
	RuleDescData         = "oci/descriptor-data"      // a descriptor whose data field is not the blob's content
	RuleDescMediaType    = "oci/descriptor-mediatype" // a media type that is not of the RFC 6838 form
	RuleDescArtifact     = "oci/descriptor-artifacttype"
	RuleRefName          = "oci/ref-name"                // an index.json entry's ref name that breaks the image-layout grammar
	RuleTooDeep          = "layout/too-deep"             // a manifest or index nested deeper than VerifyOptions.Walk.MaxNesting
	RuleTooMany          = "layout/too-many-descriptors" // a walk from index.json over VerifyOptions.Walk.MaxDescriptors
	ruleGadgetDefault    = "gadget"                      // rule of a rule-func error without a Finding method
)

const (
	oraIngestDir        = "ingest" // oras-go's temp folder in an ig store
	mediaTypeDockerConf = "application/vnd.docker.container.image.v1+json"
)

// VerifyOptions tunes Verify. The zero value checks the OCI layout alone.
type VerifyOptions struct {
	// Jobs is the number of blobs hashed at once; if ≤ 0, runtime.NumCPU() is used.
	Jobs int

	// Expect, when set, is the digest index.json must have; any other is an error (rule
	// "layout/expect").
	Expect digest.Digest

	// CheckIndex, when set, is called once for index.json itself with a zero descriptor (so
	// that rules on refs can see every named entry), and once for every image index reached from
	// index.json (and every referrer index kept), with the descriptor that pointed at it. fetch reads blobs of
	// the layout, verified. Each returned error becomes a Problem: one with a method
	// Finding() (severity, rule, where, message string) gives its own, any other is an error
	// of rule "gadget". Calls may run concurrently.
	CheckIndex func(ctx context.Context, desc ocispec.Descriptor, idx ocispec.Index, fetch func(context.Context, ocispec.Descriptor) (io.ReadCloser, error)) []error

	// Progress, when set, is called about five times a second from another goroutine with the
	// blob bytes read so far and the total size of the blob files, and once more at the end.
	Progress func(done, total int64)

	// CheckManifest is CheckIndex for every image manifest reached.
	CheckManifest func(ctx context.Context, desc ocispec.Descriptor, m ocispec.Manifest, fetch func(context.Context, ocispec.Descriptor) (io.ReadCloser, error)) []error

	// Walk bounds the walk from index.json (its referrers included): a document nested deeper
	// than Walk.MaxNesting is an error of rule RuleTooDeep and is not read; past
	// Walk.MaxDescriptors the walk stops with an error of rule RuleTooMany. Either way no blob
	// is called unreferenced. The zero value has the defaults (64 levels, 1,000,000).
	Walk WalkOptions
}

// Report is what Verify found. It is the JSON object of `gadgetpack verify --json`.
type Report struct {
	Path         string        `json:"path"`
	OK           bool          `json:"ok"`            // no problem of severity error
	LayoutDigest digest.Digest `json:"layout_digest"` // sha256 of index.json's bytes
	Blobs        int           `json:"blobs"`         // blob files hashed
	Bytes        int64         `json:"bytes"`         // their total size
	Problems     []Problem     `json:"problems"`      // sorted: errors first, then by where, rule, message
}

// Problem is one finding of Verify.
type Problem struct {
	Severity string `json:"severity"` // SeverityError or SeverityWarning
	Rule     string `json:"rule"`     // "layout/...", "oci/..." or a rule func's
	Where    string `json:"where"`    // a file, or a path from index.json: index.json[2](ref x) > manifests[0](sha256:…)
	Message  string `json:"message"`
	// Err is the error behind the finding, for errors.Is (ErrDigestMismatch, ErrNotFound...,
	// or what a rule func returned); nil for findings that are not errors of an operation.
	Err error `json:"-"`
}

// String renders p on one line: "error layout/missing-blob index.json[0](...): message".
func (p Problem) String() string {
	return p.Severity + " " + p.Rule + " " + p.Where + ": " + p.Message
}

// Finding returns p's fields, as the rule funcs' errors do.
func (p Problem) Finding() (severity, rule, where, message string) {
	return p.Severity, p.Rule, p.Where, p.Message
}

// Verify checks the layout at path byte by byte and reports every problem it finds, not the
// first: oci-layout, index.json and blobs/; every file under blobs/<alg>/ (a valid digest
// name, a regular file, content that hashes to the name, whether referenced or not); every
// descriptor reached from index.json (digest grammar, size, data, media type) and its blob
// (present; manifests, indexes and OCI JSON configs parse as their media type says); the ref
// names of index.json's entries; referrers of reached manifests (found by their subject); the
// rule funcs of opts; and, as warnings, unreferenced blobs, unknown files and temp leftovers.
// The OCI rules are those every path that moves content enforces too (rules.go).
//
// Verify never writes and never takes the index lock, so it works on read-only media and
// while a writer is busy. It hashes blobs on opts.Jobs goroutines, each with one 1 MiB buffer,
// reads each byte once (a manifest is hashed while it is read for the walk; a blob a rule func
// reads whole through its fetch is not hashed again), and keeps only JSON documents (each under
// MaxJSONBytes) in memory.
//
// The error is for what stops the check itself: path not a directory (ErrNotLayout), or ctx
// done. Everything wrong inside the layout is a Problem, and Report.OK is false when one of
// them is an error.
func Verify(ctx context.Context, path string, opts VerifyOptions) (*Report, error) {
	root, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", path, err)
	}
	fi, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("verify %s: no such directory: %w", path, ErrNotLayout)
	case err != nil:
		return nil, fmt.Errorf("verify %s: %w", path, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("verify %s: not a directory: %w", path, ErrNotLayout)
	}
	return newVerifier(root, opts).run(ctx)
}

// newVerifier returns the state of a Verify run of the layout at root.
func newVerifier(root string, opts VerifyOptions) *verifier {
	v := &verifier{
		root:     root,
		opts:     opts,
		jobs:     opts.Jobs,
		blobs:    map[digest.Digest]*blobFile{},
		data:     map[digest.Digest][]byte{},
		once:     map[onceKey]bool{},
		interned: interner{},
		walkOpts: opts.Walk.withDefaults(),
	}
	if v.jobs <= 0 {
		v.jobs = runtime.NumCPU()
	}
	return v
}

// verifier is the state of one Verify run.
type verifier struct {
	root  string
	opts  VerifyOptions
	jobs  int
	blobs map[digest.Digest]*blobFile // every valid blob file; read-only after scanBlobs

	read atomic.Int64 // blob bytes read from disk, by every pass: each byte once is the goal

	// queued counts the rule func calls queued and not returned yet, maxQueued the most at once:
	// each holds a decoded document, so the most is what memory the rule funcs cost.
	queued, maxQueued atomic.Int64

	mu       sync.Mutex
	problems []Problem
	cands    []*referrer // verified blobs with a subject, found while hashing

	// Sequential phases only (the walks).
	rules       []ruleTask               // rule func calls queued while no ruleRunner runs
	running     *ruleRunner              // runs rule func calls while a walk goes on, or nil
	once        map[onceKey]bool         // shape checks and rule func calls made, by what tells them apart
	interned    interner                 // media types and platforms of once's keys, each kept once
	rereads     int                      // documents read again to check them under another descriptor
	data        map[digest.Digest][]byte // captured referrer documents, to walk them unread
	walkOpts    WalkOptions              // opts.Walk with its defaults
	visited     int                      // descriptors visited by the walks, for walkOpts.MaxDescriptors
	stopped     bool                     // the walks are over the descriptor cap: visit no more
	cut         bool                     // a walk did not read all it reaches (a cap): unreferenced is unknown
	reachedList []*blobFile              // blobs reached, in the order reached, for the referrers

	// src, for a layout read as a stream (VerifyStream), reads its blobs, which are no files:
	// documents not captured in data, and the rule funcs' reads.
	src FetchFunc
}

// add records a problem; safe for concurrent use.
func (v *verifier) add(p Problem) {
	v.mu.Lock()
	v.problems = append(v.problems, p)
	v.mu.Unlock()
}

func (v *verifier) errorf(rule, where string, err error, format string, args ...any) {
	v.add(Problem{Severity: SeverityError, Rule: rule, Where: where, Message: fmt.Sprintf(format, args...), Err: err})
}

func (v *verifier) warnf(rule, where string, format string, args ...any) {
	v.add(Problem{Severity: SeverityWarning, Rule: rule, Where: where, Message: fmt.Sprintf(format, args...)})
}

// run does the phases: layout files, blob listing, the walk from index.json (reading and
// hashing JSON documents), parallel hashing of everything else with the rule funcs, referrers,
// then the leftovers.
func (v *verifier) run(ctx context.Context) (*Report, error) {
	rep := &Report{Path: v.root}
	v.checkLayoutFile()
	idx, idxData := v.readIndex()
	if idxData != nil {
		rep.LayoutDigest = digest.FromBytes(idxData)
	}
	v.checkExpect(rep)
	v.scanRoot()
	if err := v.scanBlobs(ctx); err != nil {
		return nil, err
	}
	for _, bf := range v.blobs {
		rep.Blobs++
		rep.Bytes += bf.size
	}
	if v.opts.Progress != nil {
		total := rep.Bytes
		stop := ticker.Start(func() { v.opts.Progress(v.read.Load(), total) })
		defer stop()
	}

	return v.finish(ctx, idx, rep)
}

// finish walks the graph from idx (nil when index.json could not be read), runs the queued
// checks, finds referrers of what is reached until no more are found, runs their checks and any
// blob a rule func left half-read, reports unreferenced blobs and concludes rep.
func (v *verifier) finish(ctx context.Context, idx *doc, rep *Report) (*Report, error) {
	if idx != nil {
		v.withRules(ctx, func() { v.walkIndex(ctx, idx) })
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := v.parallel(ctx); err != nil {
		return nil, err
	}
	v.withRules(ctx, func() { v.walkReferrers(ctx) })
	if err := v.parallel(ctx); err != nil {
		return nil, err
	}
	v.reportUnreferenced()
	v.conclude(rep)
	return rep, nil
}

// checkExpect checks the layout digest against opts.Expect.
func (v *verifier) checkExpect(rep *Report) {
	if v.opts.Expect != "" && rep.LayoutDigest != v.opts.Expect {
		got := string(rep.LayoutDigest)
		if got == "" {
			got = "none (no readable index.json)"
		}
		v.errorf(RuleExpect, IndexFile, ErrDigestMismatch, "layout digest %s, expected %s", got, v.opts.Expect)
	}
}

// conclude puts the problems, sorted, into rep, and its verdict.
func (v *verifier) conclude(rep *Report) {
	rep.Problems = v.sorted()
	rep.OK = true
	for _, p := range rep.Problems {
		if p.Severity == SeverityError {
			rep.OK = false
			break
		}
	}
}

// sorted returns the problems, errors first, then by where, rule and message.
func (v *verifier) sorted() []Problem {
	out := slices.Clone(v.problems)
	if out == nil {
		out = []Problem{}
	}
	rank := func(s string) int {
		if s == SeverityError {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(out, func(a, b Problem) int {
		return cmp.Or(
			cmp.Compare(rank(a.Severity), rank(b.Severity)),
			cmp.Compare(a.Where, b.Where),
			cmp.Compare(a.Rule, b.Rule),
			cmp.Compare(a.Message, b.Message),
		)
	})
	return out
}

// checkLayoutFile checks oci-layout.
func (v *verifier) checkLayoutFile() {
	data, err := readSmallFile(filepath.Join(v.root, LayoutFile), MaxLayoutFileBytes)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			v.errorf(RuleLayoutFile, LayoutFile, ErrNotLayout, "missing")
			return
		}
		v.errorf(RuleLayoutFile, LayoutFile, err, "%s", trimRoot(v.root, err))
		return
	}
	v.checkLayoutData(data)
}

// checkLayoutData checks the content of oci-layout.
func (v *verifier) checkLayoutData(data []byte) {
	if err := parseLayoutFile(v.root, data); err != nil {
		v.errorf(jsonRule(err, RuleLayoutFile), LayoutFile, err, "%s", trimRoot(v.root, err))
	}
}

// trimRoot drops "layout <root>: " and the root itself from an error message.
func trimRoot(root string, err error) string {
	s := strings.ReplaceAll(err.Error(), "layout "+root+": ", "")
	return strings.ReplaceAll(s, root+"/", "")
}

// docError returns the message of a decodeDoc error without its sentinel.
func docError(err error) string {
	return strings.TrimSuffix(err.Error(), ": "+ErrBadManifest.Error())
}

// readIndex reads and parses index.json; problems are recorded. It returns the bytes when the
// file could be read, and the document when it parsed.
func (v *verifier) readIndex() (*doc, []byte) {
	data, err := readSmallFile(filepath.Join(v.root, IndexFile), MaxIndexBytes)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			v.errorf(RuleIndexFile, IndexFile, ErrNotFound, "missing")
		} else {
			v.errorf(RuleIndexFile, IndexFile, err, "%s", trimRoot(v.root, err))
		}
		return nil, nil
	}
	return v.parseIndex(data), data
}

// parseIndex parses index.json's content and checks its shape; problems are recorded. It
// returns nil when it does not parse.
func (v *verifier) parseIndex(data []byte) *doc {
	d, err := decodeDoc(data)
	if err != nil {
		v.errorf(jsonRule(err, RuleJSON), IndexFile, ErrBadIndex, "does not parse as an image index: %s", docError(err))
		return nil
	}
	v.checkIndexShape(d, labelLocation(IndexFile), "", true)
	return d
}
