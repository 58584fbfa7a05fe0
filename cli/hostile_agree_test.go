package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gadgetpack/gadgetpack/layout"
)

// Issue 10, "verify and import disagree": each case crafts a layout that verify calls broken
// ($DIR/src) and its tarball as a hand-made export would carry it ($DIR/src.tar); verify names
// the rule and where, and export, copy (into a layout and into a new path) and import (into a
// layout and into a new path) refuse it, changing nothing; gc removes nothing reachable (it
// refuses a graph it cannot read without guessing). $DIR/target is a sound layout to write into.

// agreeLayout is a layout being crafted: its folder and index.json, edited raw.
type agreeLayout struct {
	tb  testing.TB
	dir string
	idx map[string]json.RawMessage
	ms  []map[string]any // index.json's manifests
}

// openAgree reads the layout at dir for crafting.
func openAgree(tb testing.TB, dir string) *agreeLayout {
	tb.Helper()
	l := &agreeLayout{tb: tb, dir: dir}
	data, err := os.ReadFile(filepath.Join(dir, layout.IndexFile))
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(data, &l.idx); err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(l.idx["manifests"], &l.ms); err != nil {
		tb.Fatal(err)
	}
	return l
}

// entry returns index.json's entry named ref.
func (l *agreeLayout) entry(ref string) map[string]any {
	for _, m := range l.ms {
		if a, ok := m["annotations"].(map[string]any); ok && a["org.opencontainers.image.ref.name"] == ref {
			return m
		}
	}
	l.tb.Fatalf("no entry %s", ref)
	return nil
}

// doc reads the JSON blob desc points at.
func (l *agreeLayout) doc(desc map[string]any) map[string]any {
	dg := desc["digest"].(string)
	data, err := os.ReadFile(filepath.Join(l.dir, "blobs", "sha256", dg[len("sha256:"):]))
	if err != nil {
		l.tb.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		l.tb.Fatal(err)
	}
	return out
}

// put writes v as a blob and returns a descriptor of it of media type mt.
func (l *agreeLayout) put(mt string, v any) map[string]any {
	data, err := json.Marshal(v)
	if err != nil {
		l.tb.Fatal(err)
	}
	sum := sha256.Sum256(data)
	hexd := hex.EncodeToString(sum[:])
	if err := os.WriteFile(filepath.Join(l.dir, "blobs", "sha256", hexd), data, 0o444); err != nil {
		l.tb.Fatal(err)
	}
	return map[string]any{"mediaType": mt, "digest": "sha256:" + hexd, "size": len(data)}
}

// named returns a copy of desc named ref.
func named(desc map[string]any, ref string) map[string]any {
	out := map[string]any{}
	for k, v := range desc {
		if k != "annotations" {
			out[k] = v
		}
	}
	out["annotations"] = map[string]any{"org.opencontainers.image.ref.name": ref}
	return out
}

// save writes index.json back (raw, as a hostile tool would); extra raw entries are appended
// as they are, bytes that are no valid UTF-8 too.
func (l *agreeLayout) save(extra ...string) {
	ms, err := json.Marshal(l.ms)
	if err != nil {
		l.tb.Fatal(err)
	}
	if len(extra) > 0 {
		ms = ms[:len(ms)-1]
		for _, e := range extra {
			ms = append(append(ms, ','), e...)
		}
		ms = append(ms, ']')
	}
	l.idx["manifests"] = ms
	data, err := json.Marshal(l.idx)
	if err != nil {
		l.tb.Fatal(err)
	}
	if len(extra) > 0 { // json.Marshal of a RawMessage would re-encode invalid UTF-8
		head, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"})
		data = append(append(head[:len(head)-1], `,"manifests":`...), ms...)
		data = append(data, '}')
	}
	if err := os.WriteFile(filepath.Join(l.dir, layout.IndexFile), data, 0o644); err != nil {
		l.tb.Fatal(err)
	}
}

const (
	agreeExec   = "ghcr.io/inspektor-gadget/gadget/trace_exec:latest"
	agreeParams = "ghcr.io/inspektor-gadget/gadget/trace_params:latest"
)

// agreeCase makes a hostile case from craft, which breaks $DIR/src: verify names rule, every
// command refuses it saying says, and gc either refuses (gcRefuses) or removes nothing.
func agreeCase(name, rule string, gcRefuses bool, craft func(l *agreeLayout), says ...string) hostileCase {
	verifySays := append([]string{rule}, says...)
	gc := hostileRun{args: []string{"gc", "--layout", "$DIR/src"}, ok: !gcRefuses}
	if gcRefuses {
		gc.says = []string{"run verify"}
	}
	return hostileCase{
		name: name,
		make: func(tb testing.TB, dir string) {
			demo := agreeDemoDir(tb)
			copyTree(tb, demo, filepath.Join(dir, "src"))
			copyTree(tb, demo, filepath.Join(dir, "target"))
			craft(openAgree(tb, filepath.Join(dir, "src")))
			tarLayout(tb, filepath.Join(dir, "src"), filepath.Join(dir, "src.tar"))
		},
		runs: []hostileRun{
			{args: []string{"verify", "$DIR/src"}, says: verifySays},
			{args: []string{"verify", "$DIR/src.tar"}, says: verifySays},
			{args: []string{"export", "--layout", "$DIR/src", "-o", "$DIR/out.tar"}, says: says},
			{args: []string{"copy", "--layout", "$DIR/src", "--to", "$DIR/target"}, says: says},
			{args: []string{"copy", "--layout", "$DIR/src", "--to", "$DIR/new"}, says: says},
			{args: []string{"import", "--layout", "$DIR/target", "$DIR/src.tar"}, says: says},
			{args: []string{"import", "--layout", "$DIR/new", "$DIR/src.tar"}, says: says},
			gc,
		},
	}
}

var agreeDemoOnce struct {
	sync.Once
	dir string
}

// agreeDemoDir builds the demo layout once for all cases.
func agreeDemoDir(tb testing.TB) string {
	agreeDemoOnce.Do(func() {
		dir, err := os.MkdirTemp("", "agree-demo-")
		if err != nil {
			tb.Fatal(err)
		}
		agreeDemoOnce.dir = filepath.Join(dir, "bundle")
		mustGP(tb, "build", "--layout", agreeDemoOnce.dir, "--tag", "trace_exec", repoPath("testdata", "gadgets", "trace_exec"))
		mustGP(tb, "build", "--layout", agreeDemoOnce.dir, "--tag", "trace_params", repoPath("testdata", "gadgets", "trace_params"))
	})
	return agreeDemoOnce.dir
}

func TestHostileAgree(t *testing.T) {
	t.Cleanup(func() {
		if agreeDemoOnce.dir != "" {
			_ = os.RemoveAll(filepath.Dir(agreeDemoOnce.dir))
		}
	})
	firstManifest := func(l *agreeLayout, ref string) map[string]any {
		return l.doc(l.entry(ref))["manifests"].([]any)[0].(map[string]any)
	}
	demo := openAgree(t, agreeDemoDir(t))
	damaged := firstManifest(demo, agreeExec)["digest"].(string)[len("sha256:"):]
	runHostile(t, []hostileCase{
		// A manifest already in the target is damaged; the input carries a good copy of it:
		// the target's file is named, not the tarball (or the source layout).
		{
			name: "damaged blob in the target",
			make: func(tb testing.TB, dir string) {
				copyTree(tb, demo.dir, filepath.Join(dir, "src"))
				copyTree(tb, demo.dir, filepath.Join(dir, "target"))
				tarLayout(tb, filepath.Join(dir, "src"), filepath.Join(dir, "src.tar"))
				path := filepath.Join(dir, "target", "blobs", "sha256", damaged)
				data, err := os.ReadFile(path)
				if err != nil {
					tb.Fatal(err)
				}
				data[len(data)/2] ^= 1
				_ = os.Chmod(path, 0o644)
				if err := os.WriteFile(path, data, 0o444); err != nil {
					tb.Fatal(err)
				}
			},
			runs: []hostileRun{
				{args: []string{"import", "--layout", "$DIR/target", "$DIR/src.tar"}, says: []string{"target/blobs/sha256/" + damaged + " is damaged", "gadgetpack verify", "digest mismatch"}},
				{args: []string{"copy", "--layout", "$DIR/src", "--to", "$DIR/target"}, says: []string{"target/blobs/sha256/" + damaged + " is damaged", "gadgetpack verify"}},
				{args: []string{"verify", "$DIR/src.tar"}, ok: true},
			},
		},
		agreeCase("entry data not the blob", layout.RuleDescData, false, func(l *agreeLayout) {
			e := named(l.entry(agreeExec), "crafted:1")
			e["data"] = "e30="
			l.ms = append(l.ms, e)
			l.save()
		}, "data field"),
		agreeCase("layer data not the blob", layout.RuleDescData, true, func(l *agreeLayout) {
			m := l.doc(firstManifest(l, agreeExec))
			layers := m["layers"].([]any)
			layers[0].(map[string]any)["data"] = "e30="
			l.ms = append(l.ms, named(l.put("application/vnd.oci.image.manifest.v1+json", m), "crafted:1"))
			l.save()
		}, "layers[0]"),
		// The only entry of trace_params says manifest where its blob is an index: gc read it
		// as a manifest and removed its manifests, configs and layers.
		agreeCase("index behind a manifest descriptor", layout.RuleManifest, true, func(l *agreeLayout) {
			l.entry(agreeParams)["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
			l.save()
		}, "mediaType \"application/vnd.oci.image.index.v1+json\" in the document"),
		// Another entry reaches the manifest as an index: gc refuses to plan (run verify) and removes nothing.
		agreeCase("manifest behind an index descriptor", layout.RuleIndex, true, func(l *agreeLayout) {
			m := firstManifest(l, agreeExec)
			m["mediaType"] = "application/vnd.oci.image.index.v1+json"
			l.ms = append(l.ms, named(m, "crafted:1"))
			l.save()
		}, "mediaType \"application/vnd.oci.image.manifest.v1+json\" in the document"),
		agreeCase("entry size other than the blob", layout.RuleDescSize, true, func(l *agreeLayout) {
			e := named(l.entry(agreeExec), "crafted:1")
			e["size"] = e["size"].(float64) - 1
			l.ms = append(l.ms, e)
			l.save()
		}, "crafted:1", fmt.Sprintf("%d bytes", int64(demo.entry(agreeExec)["size"].(float64)))),
		agreeCase("ref name with an escape sequence", layout.RuleRefName, false, func(l *agreeLayout) {
			l.ms = append(l.ms, named(l.entry(agreeExec), "crafted:1\x1b[2J\r0 errors"))
			l.save()
		}, `\x1b[2J`),
		// A referrer, listed in index.json as an unnamed entry (as ig's store and gadgetpack
		// list them): verify walks it as its subject is reached, export and copy carry it,
		// import keeps it; gc keeps it and so reads it.
		agreeCase("referrer with a layer of a bad data field", layout.RuleDescData, true, func(l *agreeLayout) {
			m := l.doc(firstManifest(l, agreeExec))
			m["layers"].([]any)[0].(map[string]any)["data"] = "e30="
			subject := l.entry(agreeExec)
			m["subject"] = map[string]any{"mediaType": subject["mediaType"], "digest": subject["digest"], "size": subject["size"]}
			l.ms = append(l.ms, l.put("application/vnd.oci.image.manifest.v1+json", m))
			l.save()
		}, "data field", "layers[0]"),
		agreeCase("one ref name for two digests", layout.RuleRefName, false, func(l *agreeLayout) {
			l.ms = append(l.ms, named(l.entry(agreeParams), agreeExec))
			l.save()
		}, "given to"),
		// Invalid UTF-8 anywhere in index.json is ambiguous JSON (encoding/json reads U+FFFD):
		// refused as a whole document, gc included, before any ref name is looked at.
		invalidUTF8Ref(agreeCase("ref name of invalid UTF-8", layout.RuleAmbiguousJSON, true, func(l *agreeLayout) {
			e := l.entry(agreeExec)
			l.save(`{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"` + e["digest"].(string) +
				`","size":` + jsonNumber(e["size"]) + `,"annotations":{"org.opencontainers.image.ref.name":"crafted:` + "\xff\xfe" + `"}}`)
		}, "not UTF-8")),
		// An unnamed entry whose blob is absent (oras-go writes them): verify warns, import
		// takes the rest with the same warning and leaves the entry out.
		{
			name: "unnamed entry whose blob is absent",
			make: func(tb testing.TB, dir string) {
				copyTree(tb, demo.dir, filepath.Join(dir, "src"))
				l := openAgree(tb, filepath.Join(dir, "src"))
				l.ms = append(l.ms, map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + strings.Repeat("ab", 32), "size": 500})
				l.save()
				tarLayout(tb, filepath.Join(dir, "src"), filepath.Join(dir, "src.tar"))
			},
			runs: []hostileRun{
				{args: []string{"verify", "$DIR/src"}, ok: true, says: []string{layout.RuleDanglingEntry}},
				{args: []string{"verify", "$DIR/src.tar"}, ok: true, says: []string{layout.RuleDanglingEntry}},
				{args: []string{"import", "--layout", "$DIR/new", "$DIR/src.tar"}, ok: true, changes: true, says: []string{layout.RuleDanglingEntry}},
				{args: []string{"verify", "$DIR/new"}, ok: true, says: []string{"0 errors, 0 warnings"}},
			},
		},
	})
}

// jsonNumber formats a JSON number decoded into any.
func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// invalidUTF8Ref makes the gc run of c say why it refuses (index.json does not parse), not
// "run verify".
func invalidUTF8Ref(c hostileCase) hostileCase {
	for i, r := range c.runs {
		if len(r.args) > 0 && r.args[0] == "gc" {
			c.runs[i].says = []string{"not UTF-8"}
		}
	}
	return c
}
