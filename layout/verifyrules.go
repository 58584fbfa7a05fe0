package layout

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The rule funcs of VerifyOptions run on their own goroutines while the walk that queues them
// goes on, so that each decoded document is dropped once its call returned rather than held
// until the walk ends: memory stays flat in the number of manifests.

// ruleTask is one call of a rule func.
type ruleTask struct {
	at    Location
	desc  ocispec.Descriptor
	d     *doc
	index bool
}

// ruleRunner runs the rule func calls queued during a walk on jobs goroutines. Its queue holds
// as many calls as there are goroutines: the walk waits when they are all busy.
type ruleRunner struct {
	tasks chan ruleTask
	wg    sync.WaitGroup
}

// withRules runs walk with a ruleRunner taking the rule func calls it queues, and waits for
// them all before it returns.
func (v *verifier) withRules(ctx context.Context, walk func()) {
	if v.opts.CheckIndex == nil && v.opts.CheckManifest == nil {
		walk()
		return
	}
	r := &ruleRunner{tasks: make(chan ruleTask, v.jobs)}
	for range v.jobs {
		r.wg.Go(func() {
			for rt := range r.tasks {
				if ctx.Err() == nil {
					v.runRule(ctx, rt)
				}
			}
		})
	}
	v.running = r
	defer func() {
		v.running = nil
		close(r.tasks)
		r.wg.Wait()
	}()
	walk()
}

// queueRule hands a rule func call to the running ruleRunner, or keeps it for parallel.
func (v *verifier) queueRule(rt ruleTask) {
	if n := v.queued.Add(1); n > v.maxQueued.Load() {
		v.maxQueued.Store(n) // queueRule runs on the walk's goroutine only
	}
	if v.running != nil {
		v.running.tasks <- rt
		return
	}
	v.rules = append(v.rules, rt)
}

// onceKind is what a onceKey stands for.
type onceKind uint8

const (
	onceShape onceKind = iota // a document's shape checked against a media type (detail)
	onceRule                  // a rule func called for a descriptor of a platform (detail: its JSON)
)

// onceKey tells apart the checks made once: the digest is the blobFile's own string and detail
// an interned one, so that a key costs no copy of either.
type onceKey struct {
	kind   onceKind
	digest digest.Digest
	detail string
}

// shapeKey is the onceKey of checking bf's document against a descriptor of media type mt.
func (v *verifier) shapeKey(bf *blobFile, mt string) onceKey {
	return onceKey{kind: onceShape, digest: bf.dg, detail: v.interned.intern(mt)}
}

// ruleKey is the onceKey of calling a rule func for desc, a descriptor of bf: rule funcs get
// each distinct digest and platform that reaches a document.
func (v *verifier) ruleKey(bf *blobFile, desc ocispec.Descriptor) onceKey {
	k := onceKey{kind: onceRule, digest: bf.dg}
	if desc.Platform != nil {
		p, _ := json.Marshal(desc.Platform)
		k.detail = v.interned.intern(string(p))
	}
	return k
}

// wantsRule reports whether a rule func applies to a document reached by desc.
func (v *verifier) wantsRule(desc ocispec.Descriptor) bool {
	if IsIndexType(desc.MediaType) {
		return v.opts.CheckIndex != nil
	}
	return v.opts.CheckManifest != nil
}

// addRule queues the rule func call for the manifest or index bf, decoded as d and reached by
// desc at at, once per digest and platform.
func (v *verifier) addRule(desc ocispec.Descriptor, bf *blobFile, d *doc, at Location) {
	if !v.wantsRule(desc) {
		return
	}
	key := v.ruleKey(bf, desc)
	if v.once[key] {
		return
	}
	v.once[key] = true
	v.queueRule(ruleTask{at: at, desc: desc, d: d, index: IsIndexType(desc.MediaType)})
}

// recheck checks the document bf, read and decoded before, for another descriptor desc that
// reaches it at at: its shape under desc's media type, and the rule func for desc's platform,
// each when not done yet. Only then is the document read again.
func (v *verifier) recheck(ctx context.Context, desc ocispec.Descriptor, bf *blobFile, at Location) {
	shape := !v.once[v.shapeKey(bf, desc.MediaType)]
	rule := v.wantsRule(desc) && !v.once[v.ruleKey(bf, desc)]
	if !shape && !rule {
		return
	}
	v.rereads++
	data, err := v.rereadDoc(ctx, bf)
	if err != nil {
		if ctx.Err() == nil {
			v.errorf(RuleBlobRead, at.String(), err, "%s cannot be read again: %v", bf.dg, err)
		}
		return
	}
	d, err := decodeDoc(data)
	if err != nil {
		v.errorf(RuleBlobRead, at.String(), err, "%s does not parse when read again (the file changed while being read): %s", bf.dg, docError(err))
		return
	}
	v.checkShape(d, desc, bf, at)
	v.addRule(desc, bf, d, at)
}

// rereadDoc reads the document bf again, verified, for recheck: not a hashing pass, so not
// counted in v.read.
func (v *verifier) rereadDoc(ctx context.Context, bf *blobFile) ([]byte, error) {
	if _, ok := v.data[bf.dg]; ok || v.src != nil {
		return v.readDoc(ctx, bf)
	}
	f, err := v.openBlobFile(bf)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	vr, err := NewVerifyReader(f, bf.desc())
	if err != nil {
		return nil, err
	}
	return io.ReadAll(vr)
}

// runRule calls a rule func and turns what it returns into problems. A panic in it becomes an
// error problem too.
func (v *verifier) runRule(ctx context.Context, rt ruleTask) {
	defer v.queued.Add(-1)
	defer func() {
		if r := recover(); r != nil {
			v.errorf(ruleGadgetDefault, rt.at.String(), nil, "rule check of %s panicked: %v", rt.desc.Digest, r)
		}
	}()
	fetch := v.fetch
	if v.src != nil {
		fetch = v.src
	}
	var errs []error
	if rt.index {
		errs = v.opts.CheckIndex(ctx, rt.desc, rt.d.index(), fetch)
	} else {
		errs = v.opts.CheckManifest(ctx, rt.desc, rt.d.manifest(), fetch)
	}
	for _, err := range errs {
		if err != nil {
			v.add(findingOf(rt.at.String(), err))
		}
	}
}

// finding is what a rule func's error may implement (spec.Violation does).
type finding interface {
	Finding() (severity, rule, where, message string)
}

// findingOf turns a rule func's error into a Problem located under where.
func findingOf(where string, err error) Problem {
	p := Problem{Severity: SeverityError, Rule: ruleGadgetDefault, Where: where, Message: err.Error(), Err: err}
	var f finding
	if errors.As(err, &f) {
		sev, rule, w, msg := f.Finding()
		if sev == SeverityWarning {
			p.Severity = SeverityWarning
		}
		if rule != "" {
			p.Rule = rule
		}
		if w != "" {
			p.Where = where + " > " + w
		}
		if msg != "" {
			p.Message = msg
		}
	}
	return p
}
