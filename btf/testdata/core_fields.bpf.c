// SPDX-License-Identifier: GPL-2.0
/* Field relocations: byte offset, byte size, exists, signed, lshift/rshift (bitfields),
 * arrays, anonymous members, flavours. */
#include "core_common.h"

SEC("tracepoint/syscalls/sys_enter_execve")
int fields(void *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct sk_buff *skb = (struct sk_buff *)out[31];
	char c = 0;

	out[0] = BPF_CORE_READ(t, real_parent, tgid);             /* byte offset chain */
	bpf_core_read(&c, 1, &t->comm[3]);                        /* array element */
	out[1] = c;
	out[2] = BPF_CORE_READ(t, mm, saved_auxv[1]);             /* through an anonymous struct */
	out[3] = BPF_CORE_READ_BITFIELD_PROBED(t, sched_reset_on_fork); /* lshift, rshift, signed, size */
	out[4] = bpf_core_field_size(t->comm);                    /* byte size */
	out[5] = bpf_core_field_offset(struct task_struct, children); /* offset of a struct member */
	if (bpf_core_field_exists(struct task_struct___old, state)) /* flavour, gone since 5.14 */
		out[6] = BPF_CORE_READ((struct task_struct___old *)t, state);
	if (bpf_core_field_exists(struct task_struct___new, __state))
		out[7] = BPF_CORE_READ((struct task_struct___new *)t, __state);
	out[8] = BPF_CORE_READ(skb, dev, ifindex);                /* two anonymous levels */
	out[9] = BPF_CORE_READ_BITFIELD_PROBED(skb, pkt_type);    /* bitfield in an anonymous union */
	out[10] = BPF_CORE_READ_BITFIELD_PROBED(skb, cloned);
	out[11] = bpf_core_field_size(skb->cb);
	out[12] = BPF_CORE_READ(skb, next, len);
	out[13] = bpf_core_field_exists(t->flags);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
