// SPDX-License-Identifier: GPL-2.0
/* A prog-like object: field reads on task_struct, which relocate everywhere, and the kernel's
 * type ID of task_struct, which is ambiguous on kernels whose BTF holds task_struct more than
 * once (CentOS 8's 4.18 was never deduplicated; Kylin V10's has two): libbpf, and so bpftool
 * gen min_core_btf, refuse them ("relocation decision ambiguity"). */
#include "core_common.h"

SEC("tracepoint/syscalls/sys_enter_execve")
int ambiguous(void *ctx)
{
	struct task_struct *task = (void *)bpf_get_current_task();

	out[0] = BPF_CORE_READ(task, pid);
	out[1] = BPF_CORE_READ(task, real_parent, tgid);
	out[2] = bpf_core_type_id_kernel(struct task_struct);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
