package build

import (
	"context"
	"fmt"
	"os"

	"github.com/gadgetpack/gadgetpack/btf"
	"github.com/gadgetpack/gadgetpack/spec"
)

// generateBTFGen gives every checked target without a btfgen archive one made by package btf
// from the target's object over a btfhub-archive: one temp file per architecture, checked like
// a given archive, removed by the returned cleanup (always safe to call). A target whose
// architecture has no kernel in the archive gets no btfgen layer, and a warning says so.
func (p *plan) generateBTFGen(ctx context.Context, archive string, jobs int) (cleanup func(), warnings []string, err error) {
	var temps []string
	cleanup = func() {
		for _, t := range temps {
			os.Remove(t)
		}
	}
	for i := range p.targets {
		t := &p.targets[i]
		if t.btfgen != nil {
			continue
		}
		hubArch := spec.BTFHubArch(t.arch)
		f, err := os.CreateTemp("", "gadgetpack-btfgen-"+t.arch+"-*.tar.gz")
		if err != nil {
			return cleanup, nil, err
		}
		temps = append(temps, f.Name())
		res, err := btf.Generate(ctx, btf.Options{Archive: archive, Arch: hubArch, Jobs: jobs}, []string{t.ebpf.path}, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return cleanup, nil, fmt.Errorf("btfgen for %s over %s: %w", t.ebpf.path, archive, err)
		}
		if res.Kernels == 0 {
			warnings = append(warnings, fmt.Sprintf("%s: no %s kernel in %s: no btfgen layer for %s", t.ebpf.path, hubArch, archive, t.arch))
			continue
		}
		in, err := checkBTFGen(ctx, f.Name(), t.arch)
		if err != nil {
			return cleanup, nil, err
		}
		t.btfgen = &in
	}
	return cleanup, warnings, nil
}
