/* SPDX-License-Identifier: GPL-2.0 */
/* Local kernel type definitions for the CO-RE test programs: only the fields the programs read,
 * relocated against real kernel BTF by libbpf, bpftool and btf/. */
#ifndef CORE_COMMON_H
#define CORE_COMMON_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct list_head {
	struct list_head *next, *prev;
};

struct callback_head {
	struct callback_head *next;
	void (*func)(struct callback_head *head);
};

struct mm_struct {
	unsigned long saved_auxv[2]; /* inside an anonymous struct in the kernel */
	unsigned long start_stack;
};

struct task_struct {
	int pid;
	int tgid;
	char comm[16];
	unsigned int flags;
	unsigned int sched_reset_on_fork : 1; /* bitfield */
	struct task_struct *real_parent;
	struct mm_struct *mm;
	struct list_head children;
};

/* flavours: the field was renamed in 5.14 */
struct task_struct___old {
	long state;
};

struct task_struct___new {
	unsigned int __state;
};

struct net_device {
	char name[16];
	int ifindex;
};

struct sk_buff {
	struct sk_buff *next;   /* anonymous union > anonymous struct in the kernel */
	struct net_device *dev; /* anonymous union > anonymous struct > anonymous union */
	char cb[48];
	unsigned int len;
	__u8 cloned : 1;   /* bitfield */
	__u8 pkt_type : 3; /* bitfield inside an anonymous union > struct */
};

#pragma clang attribute pop

typedef int pid_t;

enum pid_type {
	PIDTYPE_PID,
	PIDTYPE_TGID,
	PIDTYPE_PGID,
	PIDTYPE_SID,
};

enum pid_type___missing {
	PIDTYPE_NOPE = 7,
};

enum perf_callchain_context {
	PERF_CONTEXT_USER = (__u64)-512, /* an ENUM64 in the kernel */
};

/* results, so that nothing is optimised away */
__u64 out[32];

#endif
