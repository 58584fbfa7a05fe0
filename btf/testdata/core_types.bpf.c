// SPDX-License-Identifier: GPL-2.0
/* Type relocations: exists, size, matches, local and target type IDs; a type that no kernel has. */
#include "core_common.h"

struct not_in_any_kernel {
	int x;
};

typedef void (*rcu_callback_t)(struct callback_head *head);

struct sk_buff___flavour {
	unsigned int len;
};

SEC("tracepoint/syscalls/sys_enter_execve")
int types(void *ctx)
{
	out[0] = bpf_core_type_exists(struct task_struct);
	out[1] = bpf_core_type_size(struct task_struct);
	out[2] = bpf_core_type_id_kernel(struct callback_head);
	out[3] = bpf_core_type_id_local(struct task_struct);
	out[4] = bpf_core_type_matches(struct callback_head); /* pointer to function prototype */
	out[5] = bpf_core_type_matches(struct list_head);
	out[6] = bpf_core_type_exists(struct not_in_any_kernel);
	out[7] = bpf_core_type_size(pid_t);                   /* typedef */
	out[8] = bpf_core_type_exists(struct sk_buff___flavour);
	out[9] = bpf_core_type_matches(enum pid_type);
	out[10] = bpf_core_type_size(rcu_callback_t);        /* typedef > pointer > prototype > pointer */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
