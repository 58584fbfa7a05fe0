package spec

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// FetchFunc opens the blob desc points at; the caller of a check provides it (a layout's
// verified Fetch). The check closes what it opens.
type FetchFunc = func(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error)

// RuleSet names the rules a gadget artifact is checked against.
type RuleSet string

const (
	// RulesSeed are the rules of the seed document ("Gadgets as OCI artifacts") and SPEC.md:
	// the default.
	RulesSeed RuleSet = "seed"
	// RulesIG are the rules of what ig accepts today (SPEC.md, "What ig's reading code does").
	RulesIG RuleSet = "ig"
)

// ParseRuleSet returns the RuleSet named s ("seed" or "ig"), or ErrUnknownRuleSet.
func ParseRuleSet(s string) (RuleSet, error) {
	switch r := RuleSet(s); r {
	case RulesSeed, RulesIG:
		return r, nil
	}
	return "", fmt.Errorf("rules %q, want seed or ig: %w", s, ErrUnknownRuleSet)
}

// Rule names. A finding names the rule it breaks: "gadget/..." rules belong to both sets,
// "seed/..." and "ig/..." to one.
const (
	RuleLayerUnique      = "gadget/layer-unique"    // each layer media type at most once per manifest
	RuleLayerMediaType   = "gadget/layer-mediatype" // warning: a layer media type ig has no operator for
	RuleEBPFLayer        = "seed/ebpf-layer"        // exactly one eBPF layer (ig accepts none)
	RuleEBPFNotEmpty     = "gadget/ebpf-not-empty"  // the eBPF layer is not empty
	RuleEBPFELF          = "gadget/ebpf-elf"        // the eBPF layer passes CheckELF
	RuleWasmValid        = "gadget/wasm-valid"      // the wasm layer passes CheckWasm
	RuleBTFGenValid      = "gadget/btfgen-valid"    // the btfgen layer passes CheckBTFGen for the manifest's arch
	RuleBTFGenArchDir    = "ig/btfgen-arch-dir"     // warning: arm64 kernels only under arm64/, ig looks in aarch64/
	RuleConfigYAML       = "gadget/config-yaml"     // a gadget config parses as metadata
	RuleParams           = "gadget/params"          // warning: params.ebpf keys name const volatile globals (CheckParams)
	RulePlatform         = "gadget/platform"        // gadget index entries are linux/amd64 or linux/arm64
	RulePlatformRequired = "seed/platform-required" // every gadget index entry has a platform
	RulePlatformUnique   = "seed/platform-unique"   // one manifest per architecture
	RulePlatformOrder    = "seed/platform-order"    // amd64 before arm64
	RuleIGPlatformOrder  = "ig/platform-order"      // no entry without platform before one with (ig crashes)
	RuleIndexMediaType   = "ig/index-mediatype"     // a ref names an index, not a lone gadget manifest
	RuleRefName          = "ig/ref-name"            // warning: a gadget ref ig can see (a full reference)
	ruleRuleSet          = "gadget/rule-set"        // the RuleSet itself is unknown
)

// maxManifestSize caps the manifests and indexes the checks read to classify entries: 4 MiB,
// the limit registries apply to manifests.
const maxManifestSize = 4 << 20

// Rules returns the names of the rules r checks, sorted.
func (r RuleSet) Rules() []string {
	rules := []string{RuleLayerUnique, RuleLayerMediaType, RuleEBPFNotEmpty, RuleEBPFELF, RuleWasmValid,
		RuleBTFGenValid, RuleConfigYAML, RuleParams, RulePlatform}
	switch r {
	case RulesSeed:
		rules = append(rules, RuleEBPFLayer, RulePlatformRequired, RulePlatformUnique, RulePlatformOrder)
	case RulesIG:
		rules = append(rules, RuleBTFGenArchDir, RuleIGPlatformOrder, RuleIndexMediaType, RuleRefName)
	default:
		return nil
	}
	slices.Sort(rules)
	return rules
}

// Violation is one finding of a rule check: an error, or a warning that does not make an
// artifact invalid. Err, when set, is the error of the check behind it (wrapping this
// package's sentinels), so errors.Is works on a Violation.
type Violation struct {
	Rule    string // "<set>/<name>", one of the Rule... constants
	Where   string // the index, manifest, layer or ref, with its digest
	Message string // what is wrong, lowercase
	Warning bool
	Err     error
}

// Error returns "where: message [rule]", with "warning: " in front of a warning.
func (v *Violation) Error() string {
	s := v.Where + ": " + v.Message + " [" + v.Rule + "]"
	if v.Warning {
		return "warning: " + s
	}
	return s
}

// Unwrap returns Err.
func (v *Violation) Unwrap() error { return v.Err }

// Finding returns the violation as a report line: severity is "error" or "warning".
func (v *Violation) Finding() (severity, rule, where, message string) {
	severity = "error"
	if v.Warning {
		severity = "warning"
	}
	return severity, v.Rule, v.Where, v.Message
}

// checker collects the violations of one check.
type checker struct {
	ctx   context.Context
	fetch FetchFunc
	out   []error
}

func (c *checker) add(rule, where string, warning bool, err error, format string, args ...any) {
	c.out = append(c.out, &Violation{Rule: rule, Where: where, Message: fmt.Sprintf(format, args...), Warning: warning, Err: err})
}

func unknownRuleSet(r RuleSet) []error {
	return []error{&Violation{Rule: ruleRuleSet, Where: "rules", Message: fmt.Sprintf("unknown rule set %q, want seed or ig", string(r)),
		Err: ErrUnknownRuleSet}}
}

// readBlob reads a whole blob of at most max bytes (JSON, YAML, an ELF object for CheckELF).
func readBlob(ctx context.Context, fetch FetchFunc, desc ocispec.Descriptor, max int64) ([]byte, error) {
	if desc.Size > max {
		return nil, fmt.Errorf("%d bytes, over %d: %w", desc.Size, max, ErrTooLarge)
	}
	rc, err := fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != desc.Size {
		return nil, fmt.Errorf("read %d bytes, descriptor says %d", len(data), desc.Size)
	}
	return data, nil
}

// CheckManifest checks a manifest against r's rules; desc is the descriptor that pointed at it
// (its platform, when it comes from an index, gives the architecture of the btfgen layer).
// A manifest that is not a gadget's (see IsGadgetManifest) gets no finding. It reads the config
// and every layer through fetch (closing them), one at a time; the eBPF layer is read into
// memory, up to MaxELFSize, because CheckELF needs an io.ReaderAt and fetch gives a stream.
// It stops early, with what it found so far, when ctx ends. Every returned error is a
// *Violation.
func (r RuleSet) CheckManifest(ctx context.Context, desc ocispec.Descriptor, m ocispec.Manifest, fetch FetchFunc) []error {
	if r.Rules() == nil {
		return unknownRuleSet(r)
	}
	if !IsGadgetManifest(m) {
		return nil
	}
	c := &checker{ctx: ctx, fetch: fetch}
	where := "manifest " + desc.Digest.String()
	arch := ""
	if desc.Platform != nil {
		where += " (" + desc.Platform.OS + "/" + desc.Platform.Architecture + ")"
		arch, _ = NormalizeArch(desc.Platform.Architecture)
	}

	count := map[string]int{}
	for i, l := range m.Layers {
		count[l.MediaType]++
		if count[l.MediaType] == 2 {
			c.add(RuleLayerUnique, fmt.Sprintf("%s layers[%d]", where, i), false, nil,
				"a second layer of media type %s: each media type at most once per manifest", l.MediaType)
		}
		if layerRank(l.MediaType) < 0 {
			c.add(RuleLayerMediaType, fmt.Sprintf("%s layers[%d] %s", where, i, l.Digest), true, nil,
				"media type %q is not a gadget layer: ig skips it", l.MediaType)
		}
	}
	if r == RulesSeed && count[MediaTypeEBPF] == 0 {
		c.add(RuleEBPFLayer, where, false, nil, "no %s layer: the seed wants exactly one (ig accepts none)", MediaTypeEBPF)
	}

	var info *ELFInfo
	for i, l := range m.Layers {
		if ctx.Err() != nil {
			return c.out
		}
		lw := fmt.Sprintf("%s layers[%d] %s", where, i, l.Digest)
		switch l.MediaType {
		case MediaTypeEBPF:
			if l.Size == 0 {
				c.add(RuleEBPFNotEmpty, lw, false, nil, "the eBPF layer is empty")
				continue
			}
			if got := c.checkELF(lw, l); info == nil {
				info = got
			}
		case MediaTypeWasm:
			c.stream(RuleWasmValid, lw, l, func(rd io.Reader) error { return CheckWasm(ctx, rd, l.Size) })
		case MediaTypeBTFGen:
			var names []string
			c.stream(RuleBTFGenValid, lw, l, func(rd io.Reader) (err error) {
				names, err = CheckBTFGen(ctx, rd, arch)
				return err
			})
			if r == RulesIG && (arch == "arm64" || arch == "") {
				c.checkAarch64(lw, names)
			}
		}
	}

	if m.Config.MediaType == MediaTypeConfig && ctx.Err() == nil {
		cw := fmt.Sprintf("%s config %s", where, m.Config.Digest)
		data, err := readBlob(ctx, fetch, m.Config, MaxMetadataSize)
		if err != nil {
			c.add(RuleConfigYAML, cw, false, err, "cannot read the metadata: %v", err)
			return c.out
		}
		md, err := ParseMetadata(data)
		if err != nil {
			c.add(RuleConfigYAML, cw, false, err, "%v", err)
			return c.out
		}
		if info != nil {
			if err := CheckParams(md, info); err != nil {
				c.add(RuleParams, cw, true, err, "%v", err)
			}
		}
	}
	return c.out
}

// checkELF reads an eBPF layer into memory (CheckELF needs an io.ReaderAt) and checks it.
func (c *checker) checkELF(where string, l ocispec.Descriptor) *ELFInfo {
	data, err := readBlob(c.ctx, c.fetch, l, MaxELFSize)
	if err != nil {
		c.add(RuleEBPFELF, where, false, err, "cannot read the eBPF object: %v", err)
		return nil
	}
	info, err := CheckELF(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		c.add(RuleEBPFELF, where, false, err, "%v", err)
		return nil
	}
	return info
}

// stream runs a check that reads a layer as a stream.
func (c *checker) stream(rule, where string, l ocispec.Descriptor, check func(io.Reader) error) {
	rc, err := c.fetch(c.ctx, l)
	if err != nil {
		c.add(rule, where, false, err, "cannot read the layer: %v", err)
		return
	}
	defer rc.Close()
	if err := check(rc); err != nil && c.ctx.Err() == nil {
		c.add(rule, where, false, err, "%v", err)
	}
}

// checkAarch64 warns about arm64 kernels stored only under btfhub-archive's arm64/ folder: ig
// looks entries up with uname -m, which is aarch64 on arm64.
func (c *checker) checkAarch64(where string, names []string) {
	var missing []string
	for _, n := range names {
		parts := strings.Split(n, "/")
		if len(parts) == 4 && parts[2] == "arm64" {
			parts[2] = "aarch64"
			if _, ok := slices.BinarySearch(names, strings.Join(parts, "/")); !ok {
				missing = append(missing, n)
			}
		}
	}
	if len(missing) > 0 {
		c.add(RuleBTFGenArchDir, where, true, nil,
			"%d kernel(s) only under arm64/ (first: %s): ig looks up %s/<release>.btf with uname -m = aarch64 and never finds them",
			len(missing), missing[0], "<ID>/<VERSION_ID>/aarch64")
	}
}

// CheckIndex checks an image index against r's rules. An index is a gadget's when one of its
// entries is a gadget manifest (entries without a gadget artifactType are fetched, up to 4 MiB,
// to tell); others get no finding. The rules cover the entries' platforms: each gadget entry
// linux/amd64 or linux/arm64; under RulesSeed also present, one per architecture, amd64 first;
// under RulesIG no entry without a platform before one with a platform (ig dereferences every
// entry's platform until it finds the host's, and crashes on a missing one).
//
// Called with the layout's own index.json (pass a zero desc, or any index whose entries carry
// org.opencontainers.image.ref.name: that is how CheckIndex tells a layout's list of refs from
// an image index), it checks every named entry with CheckRefTarget instead. Every returned error
// is a *Violation.
func (r RuleSet) CheckIndex(ctx context.Context, desc ocispec.Descriptor, idx ocispec.Index, fetch FetchFunc) []error {
	if r.Rules() == nil {
		return unknownRuleSet(r)
	}
	if isRefList(desc, idx) {
		var out []error
		for _, e := range idx.Manifests {
			if ctx.Err() != nil {
				break
			}
			if e.Annotations[AnnotationRefName] != "" {
				out = append(out, r.CheckRefTarget(ctx, e, fetch)...)
			}
		}
		return out
	}
	gadget := make([]bool, len(idx.Manifests))
	anyGadget := false
	for i, e := range idx.Manifests {
		if ctx.Err() != nil {
			return nil
		}
		gadget[i] = isGadgetEntry(ctx, e, fetch)
		anyGadget = anyGadget || gadget[i]
	}
	if !anyGadget {
		return nil
	}
	c := &checker{ctx: ctx, fetch: fetch}
	where := "index " + desc.Digest.String()
	entryWhere := func(i int) string { return fmt.Sprintf("%s manifests[%d] %s", where, i, idx.Manifests[i].Digest) }
	var arches []string
	for i, e := range idx.Manifests {
		if !gadget[i] {
			continue
		}
		if e.Platform == nil {
			if r == RulesSeed {
				c.add(RulePlatformRequired, entryWhere(i), false, nil, "a gadget manifest without platform")
			}
			continue
		}
		if !gadgetPlatform(e.Platform) {
			c.add(RulePlatform, entryWhere(i), false, nil, "platform %s/%s, want linux/amd64 or linux/arm64", e.Platform.OS, e.Platform.Architecture)
			continue
		}
		arch := e.Platform.Architecture
		if r == RulesSeed {
			if slices.Contains(arches, arch) {
				c.add(RulePlatformUnique, entryWhere(i), false, nil, "a second %s manifest", arch)
				continue
			}
			if len(arches) > 0 && archRank(arch) < archRank(arches[len(arches)-1]) {
				c.add(RulePlatformOrder, entryWhere(i), false, nil, "%s after %s, want amd64 first", arch, arches[len(arches)-1])
			}
		}
		arches = append(arches, arch)
	}
	if r == RulesIG {
		c.checkIGPlatformOrder(where, idx)
	}
	return c.out
}

// checkIGPlatformOrder finds the entries without platform that crash ig: before an entry with
// a platform (ig reaches them on every host), or anywhere when an architecture is missing (ig
// reaches them on hosts of that architecture).
func (c *checker) checkIGPlatformOrder(where string, idx ocispec.Index) {
	lastWithPlatform := -1
	present := map[string]bool{}
	for i, e := range idx.Manifests {
		if e.Platform != nil {
			lastWithPlatform = i
			present[e.Platform.Architecture] = true
		}
	}
	var missing []string
	for _, a := range Arches() {
		if !present[a] {
			missing = append(missing, a)
		}
	}
	for i, e := range idx.Manifests {
		if e.Platform != nil {
			continue
		}
		ew := fmt.Sprintf("%s manifests[%d] %s", where, i, e.Digest)
		switch {
		case i < lastWithPlatform:
			c.add(RuleIGPlatformOrder, ew, false, nil,
				"an entry without platform before one with a platform: ig image list and ig run crash on it (nil pointer)")
		case len(missing) > 0:
			c.add(RuleIGPlatformOrder, ew, true, nil,
				"an entry without platform: on %s hosts, which have no manifest here, ig crashes on it instead of saying so",
				strings.Join(missing, " and "))
		}
	}
}

// isRefList tells the layout's index.json (a list of refs) from an image index.
func isRefList(desc ocispec.Descriptor, idx ocispec.Index) bool {
	if desc.Digest == "" {
		return true
	}
	for _, e := range idx.Manifests {
		if e.Annotations[AnnotationRefName] != "" {
			return true
		}
	}
	return false
}

// isGadgetEntry tells whether an index entry is a gadget manifest, fetching it when its
// descriptor does not say. An entry that cannot be read is not judged here: the layout's own
// checks report it.
func isGadgetEntry(ctx context.Context, e ocispec.Descriptor, fetch FetchFunc) bool {
	if e.ArtifactType == MediaTypeArtifact {
		return true
	}
	if e.MediaType != ocispec.MediaTypeImageManifest && e.MediaType != "" {
		return false
	}
	data, err := readBlob(ctx, fetch, e, maxManifestSize)
	if err != nil {
		return false
	}
	var m struct {
		ocispec.Manifest
		Manifests json.RawMessage `json:"manifests"` // an index without mediaType in its descriptor
	}
	if json.Unmarshal(data, &m) != nil || m.Manifests != nil {
		return false
	}
	return IsGadgetManifest(m.Manifest)
}

// CheckRefTarget checks one named entry of a layout's index.json (desc carries the
// org.opencontainers.image.ref.name annotation) against what ig does with a ref; only RulesIG
// has such rules. It fetches the target (up to 4 MiB) to see whether it is a gadget:
//
//   - ig/index-mediatype: ig resolves a ref to a descriptor whose media type must be the OCI
//     index type; a ref naming a lone gadget manifest is refused by ig run;
//   - ig/ref-name (warning): ig image list and ig run only see names that ExpandRef leaves
//     unchanged; a gadget under a bare tag ("latest", "trace_open:latest") is invisible to them.
//
// CheckIndex calls it for every named entry when given the layout's index.json; a caller that
// walks index.json itself can call it per ref. Every returned error is a *Violation.
func (r RuleSet) CheckRefTarget(ctx context.Context, desc ocispec.Descriptor, fetch FetchFunc) []error {
	if r.Rules() == nil {
		return unknownRuleSet(r)
	}
	if r != RulesIG {
		return nil
	}
	name := desc.Annotations[AnnotationRefName]
	where := fmt.Sprintf("index.json ref %q (%s)", name, desc.Digest)
	c := &checker{ctx: ctx, fetch: fetch}
	gadget := false
	switch desc.MediaType {
	case ocispec.MediaTypeImageManifest:
		if gadget = isGadgetEntry(ctx, desc, fetch); gadget {
			c.add(RuleIndexMediaType, where, false, nil,
				"the ref names a gadget manifest, not an image index: ig run refuses it (it wants %s)", ocispec.MediaTypeImageIndex)
		}
	case ocispec.MediaTypeImageIndex:
		data, err := readBlob(ctx, fetch, desc, maxManifestSize)
		if err != nil {
			return nil
		}
		var idx ocispec.Index
		if json.Unmarshal(data, &idx) != nil {
			return nil
		}
		for _, e := range idx.Manifests {
			if gadget = isGadgetEntry(ctx, e, fetch); gadget {
				break
			}
		}
	}
	if gadget && !IsFullRef(name) {
		full, err := ExpandRef(name)
		if err != nil {
			c.add(RuleRefName, where, true, err, "the name is no image reference (%v): ig image list and ig run cannot see this gadget", err)
		} else {
			c.add(RuleRefName, where, true, nil, "not a full reference (ig expands it to %s): ig image list and ig run cannot see this gadget", full)
		}
	}
	return c.out
}
