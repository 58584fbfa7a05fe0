package cli

import (
	"fmt"
	"regexp"
	"sort"

	ucli "github.com/urfave/cli/v2"

	"github.com/gadgetpack/gadgetpack/build"
	"github.com/gadgetpack/gadgetpack/internal/sourcedate"
	"github.com/gadgetpack/gadgetpack/spec"
)

func buildCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "build",
		Usage:     "assemble a multi-arch gadget image into a layout",
		ArgsUsage: "[SRC_DIR]",
		Description: "Checks every input (ELF, BTF, params, wasm, btfgen) before writing anything, then writes\n" +
			"the index, one manifest per architecture, config and layers, and tags the index.\n" +
			"SRC_DIR may hold gadget.yaml, amd64.bpf.o, arm64.bpf.o, program.wasm and\n" +
			"btfs-<arch>.tar.gz. SOURCE_DATE_EPOCH makes the output byte-for-byte reproducible.\n\n" +
			"   gadgetpack build --layout ./bundle --tag trace_exec ./testdata/gadgets/trace_exec\n" +
			"   gadgetpack build --layout ./bundle --tag trace_exec --metadata gadget.yaml \\\n" +
			"       --ebpf amd64=x86.bpf.o --ebpf arm64=arm.bpf.o --wasm program.wasm",
		Flags: []ucli.Flag{
			layoutFlag(),
			&ucli.StringFlag{Name: "tag", Usage: "the `REF` to tag (trace_exec means ghcr.io/inspektor-gadget/gadget/trace_exec:latest)", Required: true},
			&ucli.StringFlag{Name: "metadata", Usage: "the gadget metadata `FILE` (gadget.yaml)"},
			&ucli.StringSliceFlag{Name: "ebpf", Usage: "the eBPF object of one architecture, `ARCH=FILE` (amd64, arm64)"},
			&ucli.StringFlag{Name: "wasm", Usage: "a wasm module `FILE` for every architecture"},
			&ucli.StringSliceFlag{Name: "btfgen", Usage: "a btfgen archive of one architecture, `ARCH=FILE`"},
			&ucli.StringSliceFlag{Name: "annotation", Usage: "an annotation `KEY=VALUE` on the index, manifests and config"},
			&ucli.StringFlag{Name: "ig-version", Usage: "stamp io.inspektor-gadget.builder.version `vX.Y.Z` as ig image build does (ig run warns without it)"},
			&ucli.StringFlag{Name: "btfhub-archive", Usage: "make the btfgen layer of each architecture without --btfgen from the btfhub-archive `DIR`"},
			&ucli.IntFlag{Name: "jobs", Usage: "kernels minimised at once for --btfhub-archive (default: the number of CPUs)"},
			quietFlag(),
		},
		Action: runBuild,
	}
}

// igVersionRE is an ig version: v0.45.0, v0.45.0-45-gfc2e80680-dirty.
var igVersionRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(?:[-+][0-9A-Za-z.-]+)?$`)

func runBuild(cliContext *ucli.Context) error {
	if err := wantArgs(cliContext, 0, 1, "SRC_DIR"); err != nil {
		return err
	}
	layoutDir, err := layoutPath(cliContext)
	if err != nil {
		return err
	}
	ref, err := expandRef("--tag", cliContext.String("tag"))
	if err != nil {
		return err
	}
	created, err := sourcedate.Now()
	if err != nil {
		return err
	}
	opts := build.Options{Ref: ref, Created: created, BTFHubArchive: cliContext.String("btfhub-archive"), BTFGenJobs: cliContext.Int("jobs")}
	if cliContext.NArg() == 1 {
		if cliContext.IsSet("ebpf") || cliContext.IsSet("btfgen") || cliContext.IsSet("wasm") || cliContext.IsSet("metadata") {
			return usagef("build: give either SRC_DIR or --metadata/--ebpf/--wasm/--btfgen, not both")
		}
		if opts, err = build.FromDir(cliContext.Args().First(), opts); err != nil {
			return err
		}
	} else {
		opts.Metadata = cliContext.String("metadata")
		opts.Wasm = cliContext.String("wasm")
		btfgen := map[string]string{}
		for _, kv := range cliContext.StringSlice("btfgen") {
			arch, file, err := archFile("btfgen", kv)
			if err != nil {
				return err
			}
			if _, dup := btfgen[arch]; dup {
				return usagef("--btfgen %s given twice", arch)
			}
			btfgen[arch] = file
		}
		seen := map[string]bool{}
		for _, kv := range cliContext.StringSlice("ebpf") {
			arch, file, err := archFile("ebpf", kv)
			if err != nil {
				return err
			}
			if seen[arch] {
				return usagef("--ebpf %s given twice", arch)
			}
			seen[arch] = true
			opts.Targets = append(opts.Targets, build.Target{Arch: arch, EBPF: file, BTFGen: btfgen[arch]})
		}
		archs := make([]string, 0, len(btfgen))
		for arch := range btfgen {
			archs = append(archs, arch)
		}
		sort.Strings(archs)
		for _, arch := range archs {
			if !seen[arch] {
				return usagef("--btfgen %s given without --ebpf %s", arch, arch)
			}
		}
		if len(opts.Targets) == 0 {
			return usagef("build: missing SRC_DIR or --ebpf ARCH=FILE")
		}
	}
	for _, kv := range cliContext.StringSlice("annotation") {
		k, v, err := keyValue("annotation", kv)
		if err != nil {
			return err
		}
		if opts.Annotations == nil {
			opts.Annotations = map[string]string{}
		}
		opts.Annotations[k] = v
	}
	if v := cliContext.String("ig-version"); v != "" {
		if !igVersionRE.MatchString(v) {
			return usagef("invalid --ig-version %q: want vX.Y.Z (as ig version prints it)", v)
		}
		if opts.Annotations == nil {
			opts.Annotations = map[string]string{}
		}
		opts.Annotations[spec.AnnotationBuilderVersion] = v
	}
	res, err := build.Build(cliContext.Context, layoutDir, opts)
	if err != nil {
		return err
	}
	out := streamsOf(cliContext).out
	for _, w := range res.Warnings {
		fmt.Fprintf(streamsOf(cliContext).err, "gadgetpack: warning: %s\n", escMsg(w))
	}
	if cliContext.Bool("quiet") {
		_, err = fmt.Fprintln(out, res.Index.Digest)
		return err
	}
	for _, m := range res.Manifests {
		if _, err := fmt.Fprintf(out, "manifest %s/%s %s %d bytes\n", esc(m.Platform.OS), esc(m.Platform.Architecture), m.Digest, m.Size); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(out, "%s %s\n", esc(res.Ref), res.Index.Digest)
	return err
}
