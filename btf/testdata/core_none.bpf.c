// SPDX-License-Identifier: GPL-2.0
/* No CO-RE relocation at all: min_core_btf gives the empty BTF. */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

__u64 counter;

SEC("tracepoint/syscalls/sys_enter_execve")
int none(void *ctx)
{
	__sync_fetch_and_add(&counter, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
