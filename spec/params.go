package spec

import (
	"fmt"
	"slices"
	"strings"
)

// CheckParams checks every eBPF parameter the metadata describes (the keys of params.ebpf, or
// of ebpfParams in the older form) against the eBPF object, as ig's build does
// (validateEbpfParams, checkParamVar): each must name a global BTF variable that is const
// volatile (or an array of const volatile). It returns nil for nil metadata or metadata
// without eBPF parameters, and otherwise ErrBadParam naming every parameter that fails and
// why (no such variable, not global, not const, not volatile).
//
// It does not check what ig's runtime ignores either way: the param's key, default value or
// type hint.
func CheckParams(m *Metadata, info *ELFInfo) error {
	if m == nil || len(m.EBPFParams) == 0 {
		return nil
	}
	if info == nil {
		return fmt.Errorf("params.ebpf %s: no eBPF object to hold them: %w", strings.Join(m.EBPFParams, ", "), ErrBadParam)
	}
	var problems []string
	for _, name := range m.EBPFParams {
		if _, ok := slices.BinarySearch(info.ConstVolatiles, name); ok {
			continue
		}
		why, ok := info.notParam[name]
		if !ok {
			why = "no variable " + name + " in the eBPF object's BTF"
		}
		problems = append(problems, fmt.Sprintf("params.ebpf.%s: %s", name, why))
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s (ig only accepts const volatile globals): %w", strings.Join(problems, "; "), ErrBadParam)
}
