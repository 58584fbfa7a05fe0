// Package btf computes minimal BTF for CO-RE eBPF objects over a btfhub-archive, with the
// semantics of bpftool gen min_core_btf, and writes the result as a btfgen archive.
//
// See https://github.com/aquasecurity/btfhub, bpftool's gen.c (btfgen_*) and libbpf's
// relo_core.c.
//
// # What is ours and what is cilium/ebpf's
//
// The CO-RE records of .BTF.ext, libbpf's candidate matching and bpftool's marking are written
// here (cilium/ebpf exports neither the records' kind, type and accessor nor libbpf's matching
// rules; its own CORERelocate picks candidates differently). They read raw BTF records by ID,
// as libbpf does, so kinds, flags, member offsets and essential names follow libbpf bit for
// bit, and a kernel costs one pass over its type section instead of inflating whole type
// graphs. The minimal BTF is encoded by cilium/ebpf's btf.NewBuilder and Builder.Marshal with
// plain little-endian options; the result is byte-identical to bpftool v7.1 (libbpf 1.1) on
// every test object and kernel (TestMinimizeMatchesBpftool).
//
// # Output
//
// Generate writes one tar, gzip (what ig reads) or zstd, with one entry per kernel:
// <ID>/<VERSION_ID>/<arch>/<release>.btf, mode 0644, mtime 0, uid/gid 0, no "./", USTAR (PAX
// only for names over 100 bytes). Entries come in the order of their btfhub coordinates (ID,
// VERSION_ID, arch folder, release), so the same archive gives the same bytes.
//
// arm64 kernels are written twice, under arm64 (the folder btfhub-archive and its readers
// use) and under aarch64 (what ig looks up at run time: uname -m), the aarch64 copy right
// after its arm64 twin so that gzip's 32 KiB window and zstd's larger one absorb the
// duplicate: a minimal BTF is a few KiB, so the copy costs a few dozen bytes, and neither
// reader needs a link entry it may not follow. x86_64 is the same name in both.
//
// # Archives and failures
//
// The archive is walked with symbolic links followed (the root, folders, kernel files; a
// link back up the tree is not entered twice). Kernels are selected by arch and by filters
// matched against their path on disk and against the entries they are written under. A
// failure belongs to a kernel x output pair: a kernel that cannot be read costs all its pairs;
// a relocation that libbpf refuses (an ambiguity, for instance) costs only the pair of the
// output whose objects hold it, since bpftool refuses those objects as a whole for that
// kernel. Under Options.KeepGoing every other pair is written and the Result lists the skipped
// ones; without it the first failure ends the run.
//
// # Decompression
//
// Each kernel is decompressed in memory, never extracted into the archive. The xz program is
// used when it is on PATH, the pure-Go github.com/therootcompany/xz reader otherwise: on a
// 2-vCPU machine, BenchmarkXZ gives 108 ms per 5.5 MB kernel for xz -dc against 143 ms for the
// Go reader when the machine is quiet (162 against 204 ms under a load of 6): the program is
// about 1.3x faster. The program writes into a memory file of the worker (a memfd sealed at
// 64 MiB) that the worker keeps mapped read-only, and the kernel's tar entry is parsed in
// place, neither read nor copied: through a pipe, each of xz's 8 KiB writes woke the faster
// reader, a thousand context switches per kernel that cost more CPU than the parsing (30
// kernels: user+sys 3.18 s -> 2.69 s, xz alone 2.52 s). A larger tarball (a vmlinux ELF with
// modules) is decompressed again and streamed through a pipe and the tar reader, never held
// whole. The Go reader, when used, is reset per kernel so that its dictionary (64 MiB for
// xz -9 streams) is allocated once per worker. Memory stays bounded by Jobs times one kernel
// (its tarball in the memory file, or its BTF in the worker's buffer, and its type records,
// all reused from kernel to kernel; pages a larger tarball left are given back); the minimal
// BTFs waiting for their turn in the output are a few KiB each.
package btf
