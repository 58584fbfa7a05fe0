// SPDX-License-Identifier: GPL-2.0
/* Enum value relocations: exists and value, a 64-bit enum, a flavoured enum with no match. */
#include "core_common.h"

SEC("tracepoint/syscalls/sys_enter_execve")
int enums(void *ctx)
{
	out[0] = bpf_core_enum_value_exists(enum pid_type, PIDTYPE_TGID);
	out[1] = bpf_core_enum_value(enum pid_type, PIDTYPE_SID);
	out[2] = bpf_core_enum_value_exists(enum pid_type___missing, PIDTYPE_NOPE);
	out[3] = bpf_core_enum_value(enum perf_callchain_context, PERF_CONTEXT_USER);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
