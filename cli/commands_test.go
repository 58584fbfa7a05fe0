package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestListInspectTagRmGC(t *testing.T) {
	dir := buildDemo(t)

	var entries []listEntry
	if err := json.Unmarshal([]byte(mustGP(t, "list", "--layout", dir, "--json").stdout), &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Ref != "ghcr.io/inspektor-gadget/gadget/trace_exec:latest" ||
		strings.Join(entries[0].Platforms, ",") != "linux/amd64,linux/arm64" {
		t.Fatalf("list: %+v", entries)
	}
	table := mustGP(t, "list", "--layout", dir).stdout
	if !strings.HasPrefix(table, "REF ") || !strings.Contains(table, "linux/amd64,linux/arm64") {
		t.Fatalf("list table:\n%s", table)
	}

	tree := mustGP(t, "inspect", "--layout", dir, "trace_exec").stdout
	for _, want := range []string{"ghcr.io/inspektor-gadget/gadget/trace_exec:latest\n", "index application/vnd.oci.image.index.v1+json",
		"├── manifest linux/amd64", "└── manifest linux/arm64", "config application/vnd.gadget.config.v1+yaml",
		"layer application/vnd.gadget.ebpf.program.v1+binary", "layer application/vnd.gadget.wasm.program.v1+binary"} {
		if !strings.Contains(tree, want) {
			t.Fatalf("inspect tree lacks %q:\n%s", want, tree)
		}
	}
	var root struct {
		Ref      string `json:"ref"`
		Digest   string `json:"digest"`
		Children []struct {
			Children []struct {
				Role, MediaType string
			}
		}
	}
	if err := json.Unmarshal([]byte(mustGP(t, "inspect", "--layout", dir, "--json", "trace_exec").stdout), &root); err != nil {
		t.Fatal(err)
	}
	if len(root.Children) != 2 || len(root.Children[0].Children) < 3 || root.Children[0].Children[0].Role != "config" {
		t.Fatalf("inspect --json: %+v", root)
	}
	// A digest resolves too.
	mustGP(t, "inspect", "--layout", dir, root.Digest)

	mustGP(t, "tag", "--layout", dir, "trace_exec", "myregistry.local:5000/tools/exec:v1")
	if r := mustGP(t, "inspect", "--layout", dir, "--json", "myregistry.local:5000/tools/exec:v1"); !strings.Contains(r.stdout, root.Digest) {
		t.Fatalf("tag did not point at the same index")
	}
	if r := gp(t, "tag", "--layout", dir, "no_such_gadget", "x"); r.code != 1 || !strings.Contains(r.stderr, "no_such_gadget") {
		t.Fatalf("tag of a missing ref: exit %d: %s", r.code, r.stderr)
	}

	mustGP(t, "rm", "--layout", dir, "trace_exec")
	mustGP(t, "rm", "--layout", dir, "myregistry.local:5000/tools/exec:v1")
	if r := gp(t, "rm", "--layout", dir, "trace_exec"); r.code != 1 {
		t.Fatalf("rm of a removed ref: exit %d", r.code)
	}
	plan := mustGP(t, "gc", "--layout", dir, "--dry-run").stdout
	rep, _ := verifyJSON(t, dir)
	if !rep.OK || len(rep.Problems) == 0 {
		t.Fatalf("after rm, verify should warn of unreferenced blobs: %+v", rep)
	}
	if !strings.Contains(plan, "would remove") {
		t.Fatalf("gc --dry-run:\n%s", plan)
	}
	if rep2, _ := verifyJSON(t, dir); len(rep2.Problems) != len(rep.Problems) {
		t.Fatalf("gc --dry-run changed the layout")
	}
	mustGP(t, "gc", "--layout", dir)
	rep, _ = verifyJSON(t, dir)
	if !rep.OK || len(rep.Problems) != 0 {
		t.Fatalf("after gc: %+v", rep.Problems)
	}
	if r := mustGP(t, "list", "--layout", dir, "--quiet"); r.stdout != "ghcr.io/inspektor-gadget/gadget/trace_params:latest\n" {
		t.Fatalf("after gc: %q", r.stdout)
	}
}
