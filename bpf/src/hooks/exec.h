/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Processes that start: the agent looks for OpenSSL in their root filesystem and executable before
 * they make their first TLS call. A queue the agent drains every fraction of a second, not a record:
 * it is for the probes, not for the request log. An exec'd process is someone new: if user space had
 * named it an unwatched client, the new executable is judged again at its first call.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "unwatched.h"

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4096);
	__type(value, __u32); /* tgid */
} execs SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int on_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	bpf_map_delete_elem(&unwatched_clients, &tgid);
	bpf_map_push_elem(&execs, &tgid, 0); /* a full queue drops: the agent's periodic scan finds the rest */
	return 0;
}
