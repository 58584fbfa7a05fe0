// SPDX-License-Identifier: GPL-2.0
/* bpf_core_type_matches on big kernel structs: every member kept, recursively, composites
 * behind pointers left empty; on kernels with BTF type tags (__rcu, __user) behind pointers,
 * bpftool's marking refuses the type tag, and so does btf/. */
#include "core_common.h"

struct file {
	unsigned int f_flags;
};

struct mm_struct___flat {
	unsigned long start_stack; /* inside an anonymous struct in the kernel: no match */
};

SEC("tracepoint/syscalls/sys_enter_execve")
int match(void *ctx)
{
	out[0] = bpf_core_type_matches(struct task_struct);
	out[1] = bpf_core_type_matches(struct file);
	out[2] = bpf_core_type_matches(struct mm_struct___flat);
	out[3] = bpf_core_type_matches(pid_t);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
