package cli

import (
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/gadgetpack/gadgetpack/layout"
	"github.com/gadgetpack/gadgetpack/spec"
)

// The flags several commands share, each declared once.

func layoutFlag() *ucli.StringFlag {
	return &ucli.StringFlag{
		Name:     "layout",
		Usage:    "the OCI image layout `DIR`",
		EnvVars:  []string{"GADGETPACK_LAYOUT"},
		Required: true,
	}
}

func jsonFlag() *ucli.BoolFlag {
	return &ucli.BoolFlag{Name: "json", Usage: "print one JSON document on stdout instead of text"}
}

func quietFlag() *ucli.BoolFlag {
	return &ucli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print no progress; print bare output"}
}

func rulesFlag() *ucli.StringFlag {
	return &ucli.StringFlag{
		Name:  "rules",
		Usage: "gadget rules to check: `seed` (the artifact spec: exactly one eBPF layer) or ig (what ig accepts today)",
		Value: string(spec.RulesSeed),
	}
}

// ruleSet parses --rules.
func ruleSet(cliContext *ucli.Context) (spec.RuleSet, error) {
	r, err := spec.ParseRuleSet(cliContext.String("rules"))
	if err != nil {
		return "", usagef("invalid --rules: %v", err)
	}
	return r, nil
}

// keyValue splits a KEY=VALUE flag value; flag names the flag in the error.
func keyValue(flag, kv string) (string, string, error) {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || k == "" {
		return "", "", usagef("invalid --%s %q: want KEY=VALUE", flag, kv)
	}
	return k, v, nil
}

// archFile parses an ARCH=FILE flag value.
func archFile(flag, kv string) (string, string, error) {
	a, file, err := keyValue(flag, kv)
	if err != nil {
		return "", "", usagef("invalid --%s %q: want ARCH=FILE", flag, kv)
	}
	arch, err := spec.NormalizeArch(a)
	if err != nil {
		return "", "", usagef("invalid --%s %q: %v", flag, kv, err)
	}
	if file == "" {
		return "", "", usagef("invalid --%s %q: no file", flag, kv)
	}
	return arch, file, nil
}

// expandRef turns a user's REF into the full reference written into index.json.
func expandRef(what, ref string) (string, error) {
	full, err := spec.ExpandRef(ref)
	if err != nil {
		return "", usagef("invalid %s %q: %v", what, ref, err)
	}
	return full, nil
}

// layoutPath returns --layout, refusing an empty value (an empty GADGETPACK_LAYOUT would
// otherwise mean the current directory).
func layoutPath(cliContext *ucli.Context) (string, error) {
	p := cliContext.String("layout")
	if p == "" {
		return "", usagef("%s: --layout (or GADGETPACK_LAYOUT) is empty", cliContext.Command.Name)
	}
	return p, nil
}

// openLayout opens the layout --layout names.
func openLayout(cliContext *ucli.Context) (*layout.Store, error) {
	path, err := layoutPath(cliContext)
	if err != nil {
		return nil, err
	}
	return layout.Open(path)
}

// scanReferrersFlag is --scan-referrers of export, copy and push: find the referrers to carry
// among every blob of the layout, not only among those index.json lists.
func scanReferrersFlag() ucli.Flag {
	return &ucli.BoolFlag{Name: "scan-referrers", Usage: "also carry OCI 1.1 referrers that index.json does not list (kept as bare blobs by some tools; reads every small blob of the layout), and list them in what is written"}
}
