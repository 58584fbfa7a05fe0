// Package btf computes minimal BTF for CO-RE eBPF objects over a btfhub-archive, with the
// semantics of bpftool gen min_core_btf, and writes the result as a btfgen archive.
//
// See https://github.com/aquasecurity/btfhub and libbpf's relo_core.c.
package btf
