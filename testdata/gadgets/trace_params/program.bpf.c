// SPDX-License-Identifier: GPL-2.0
/* trace_params: openat(2) results filtered by load-time parameters, written by the gadgetpack
 * project as test data.
 *
 * The filters are `const volatile` globals: they live in .rodata, the loader rewrites them
 * before the program is loaded, and the verifier treats them as constants. Their names are the
 * keys of params.ebpf in gadget.yaml. Events go through a perf event array. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#define TASK_COMM_LEN 16

/* Only report this process (0: all processes). */
const volatile pid_t targ_pid = 0;
/* Only report this user (-1: all users). */
const volatile uid_t targ_uid = -1;
/* Do not report calls that failed. */
const volatile bool ignore_failed = true;

/* The markers ig's GADGET_PARAM(name) leaves in BTF, so `ig image build` would list them. */
const void *gadget_param_targ_pid __attribute__((unused));
const void *gadget_param_targ_uid __attribute__((unused));
const void *gadget_param_ignore_failed __attribute__((unused));

struct event {
	__u64 mntns_id;
	__s64 ret;
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

const struct event *unused_event __attribute__((unused));

/* The marker ig's GADGET_TRACER(open, events, event) leaves in BTF. */
const void *gadget_tracer_open___events___event __attribute__((unused));

SEC("tracepoint/syscalls/sys_exit_openat")
int trace_openat_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	long ret = BPF_CORE_READ(ctx, ret);
	struct event e = {};

	if (targ_pid && targ_pid != pid)
		return 0;
	if (targ_uid != (uid_t)-1 && targ_uid != uid)
		return 0;
	if (ignore_failed && ret < 0)
		return 0;

	e.ret = ret;
	e.pid = pid;
	e.uid = uid;
	e.ppid = BPF_CORE_READ(task, real_parent, tgid);
	e.mntns_id = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	bpf_get_current_comm(&e.comm, sizeof(e.comm));
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &e, sizeof(e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
