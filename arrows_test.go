package main

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestArrows enforces DESIGN.md's dependency arrows on the non-test imports of every package:
// spec and btf stand alone, layout uses only internal helpers, sign only layout, only cli
// imports urfave/cli, and only registry imports oras-go's copy and remote packages.
func TestArrows(t *testing.T) {
	const mod = "github.com/gadgetpack/gadgetpack"
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := map[string][]string{ // our packages each may import; absent = any
		"spec":     {},
		"btf":      {},
		"layout":   {mod + "/internal/atomicfile", mod + "/internal/hashio", mod + "/internal/ticker", mod + "/internal/strictjson", mod + "/internal/termsafe"},
		"build":    {mod + "/spec", mod + "/layout", mod + "/btf"},
		"registry": {mod + "/layout", mod + "/internal/ticker", mod + "/internal/termsafe"},
		"sign":     {mod + "/layout"},
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, mod), "/")
		top, _, _ := strings.Cut(rel, "/")
		for _, imp := range p.Imports {
			switch {
			case strings.HasPrefix(imp, "github.com/urfave/cli") && top != "cli":
				t.Errorf("%s imports %s: only cli/ may", p.ImportPath, imp)
			case (strings.HasPrefix(imp, "oras.land/oras-go/v2/registry") || imp == "oras.land/oras-go/v2") && top != "registry":
				t.Errorf("%s imports %s: only registry/ may", p.ImportPath, imp)
			case strings.HasPrefix(imp, mod+"/"):
				list, restricted := allowed[top]
				if !restricted || imp == mod+"/"+top || strings.HasPrefix(imp, mod+"/"+top+"/") {
					continue
				}
				ok := false
				for _, a := range list {
					ok = ok || imp == a
				}
				if !ok {
					t.Errorf("%s imports %s: against DESIGN.md's arrows", p.ImportPath, imp)
				}
			}
		}
	}
}
