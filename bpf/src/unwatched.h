/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Processes whose client calls the agent does not report (obi.watch.*: an excluded executable, a
 * service not watched). User space names each after the first such call it drops; from then on a
 * request the process writes sets its connection aside until the close: no head scan of the
 * answers, no record but the connection's own at its close. Servers are always followed, watched
 * or not: a watched client's call may end at one.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* The clock ticks of /proc/<pid>/stat, on every architecture Linux runs BPF on. */
#define OBI_USER_HZ 100

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);   /* tgid */
	__type(value, __u64); /* when it started, in clock ticks since boot (field 22 of /proc/<pid>/stat) */
} unwatched_clients SEC(".maps");

/* Whether the current process was named, and is still the process that was: a pid is recycled. */
static __always_inline int client_unwatched(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 *started = bpf_map_lookup_elem(&unwatched_clients, &tgid);

	if (!started || !bpf_core_field_exists(((struct task_struct *)0)->start_boottime))
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 boot_ns = BPF_CORE_READ(task, group_leader, start_boottime);

	return *started == boot_ns / (1000000000ULL / OBI_USER_HZ);
}
