// SPDX-License-Identifier: GPL-2.0
/* minimal.bpf.c: a tiny BPF program without kernel headers, the source of two bad objects:
 * no-btf.bpf.o (compiled without -g: loads, but carries no .BTF) and big-endian.bpf.o
 * (compiled with -target bpfeb). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile int targ_pid = 0;

SEC("tracepoint/syscalls/sys_enter_getpid")
int minimal(void *ctx)
{
	int pid = bpf_get_current_pid_tgid() >> 32;

	if (targ_pid && targ_pid != pid)
		return 0;
	bpf_printk("getpid from %d", pid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
