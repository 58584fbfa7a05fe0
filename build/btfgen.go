package build

import (
	"context"
	"fmt"
	"os"

	"github.com/gadgetpack/gadgetpack/btf"
	"github.com/gadgetpack/gadgetpack/spec"
)

// generateBTFGen fills the BTFGen of every target that has none with a btfgen archive made by
// package btf from the target's object over a btfhub-archive: one temp file per architecture,
// removed by the returned cleanup. A target whose architecture has no kernel in the archive
// gets no btfgen layer, and a warning says so.
func generateBTFGen(ctx context.Context, archive string, jobs int, targets []Target) (_ []Target, warnings []string, cleanup func(), err error) {
	var temps []string
	cleanup = func() {
		for _, p := range temps {
			os.Remove(p)
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	out := make([]Target, len(targets))
	copy(out, targets)
	for i, t := range out {
		if t.BTFGen != "" || t.EBPF == "" {
			continue
		}
		arch, err := spec.NormalizeArch(t.Arch)
		if err != nil {
			return nil, nil, nil, err
		}
		f, err := os.CreateTemp("", "gadgetpack-btfgen-"+arch+"-*.tar.gz")
		if err != nil {
			return nil, nil, nil, err
		}
		temps = append(temps, f.Name())
		res, err := btf.Generate(ctx, btf.Options{Archive: archive, Arch: spec.BTFHubArch(arch), Jobs: jobs}, []string{t.EBPF}, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("btfgen for %s over %s: %w", t.EBPF, archive, err)
		}
		if res.Kernels == 0 {
			warnings = append(warnings, fmt.Sprintf("%s: no %s kernel in %s: no btfgen layer for %s", t.EBPF, spec.BTFHubArch(arch), archive, arch))
			continue
		}
		out[i].BTFGen = f.Name()
	}
	return out, warnings, cleanup, nil
}
