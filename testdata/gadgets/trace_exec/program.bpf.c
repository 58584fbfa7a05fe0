// SPDX-License-Identifier: GPL-2.0
/* trace_exec: one event per successful execve, written by the gadgetpack project as test data.
 *
 * A CO-RE program: every kernel struct is read through BPF_CORE_READ so one object runs on any
 * kernel with BTF; the gadget ships btfgen files for kernels without it. Events go to
 * userspace through a BPF ring buffer. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#define TASK_COMM_LEN 16
#define FILENAME_LEN 256
#define ARGS_LEN 256

struct event {
	__u64 timestamp;
	__u64 mntns_id;
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 args_size;
	char comm[TASK_COMM_LEN];
	char pcomm[TASK_COMM_LEN];
	char filename[FILENAME_LEN];
	char args[ARGS_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Keeps struct event in the object's BTF so userspace can decode the ring buffer records. */
const struct event *unused_event __attribute__((unused));

/* The marker ig's GADGET_TRACER(exec, events, event) leaves in BTF: tracer "exec" sends
 * struct event through map "events". */
const void *gadget_tracer_exec___events___event __attribute__((unused));

SEC("tracepoint/sched/sched_process_exec")
int trace_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 uid_gid = bpf_get_current_uid_gid();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	unsigned long arg_start, arg_end;
	unsigned int fname_off;
	struct event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;

	e->timestamp = bpf_ktime_get_boot_ns();
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->uid = (__u32)uid_gid;
	e->gid = uid_gid >> 32;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->mntns_id = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	BPF_CORE_READ_STR_INTO(&e->pcomm, task, real_parent, comm);

	/* __data_loc: low 16 bits are the offset of the string from the start of the record. */
	fname_off = BPF_CORE_READ(ctx, __data_loc_filename) & 0xFFFF;
	bpf_probe_read_kernel_str(&e->filename, sizeof(e->filename), (void *)ctx + fname_off);

	/* The new program's argv, still in the user stack of the new mm. */
	arg_start = BPF_CORE_READ(task, mm, arg_start);
	arg_end = BPF_CORE_READ(task, mm, arg_end);
	e->args_size = 0;
	if (arg_end > arg_start) {
		unsigned long n = arg_end - arg_start;

		if (n > ARGS_LEN)
			n = ARGS_LEN;
		/* The mask only tells the verifier n <= 2 * ARGS_LEN - 1; it is <= ARGS_LEN already. */
		if (bpf_probe_read_user(&e->args, n & (2 * ARGS_LEN - 1), (void *)arg_start) == 0)
			e->args_size = n;
	}

	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
