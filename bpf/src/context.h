/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A program does not nest in itself: an event that comes while the same program runs on the CPU is
 * not seen by it (the kernel counts it in the program's recursion_misses). TCP's events come from
 * tasks (close(2), a socket's backlog) and from softirq, which may interrupt a task inside the
 * program: such an event was lost, and a TCP_CLOSE lost left its connection's entry behind. So each
 * TCP hook is two programs on the same tracepoint. The first handles every event it sees and marks
 * the CPU while it runs; the second handles an event only when it comes with that mark set, that
 * is, nested in the first, which the kernel kept from seeing it. Whichever order they are attached
 * in, each event is handled once: an event nested in the second comes when the first is not running.
 * (Telling the contexts apart by preempt_count needs its per-CPU symbol, not in kallsyms here.)
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

enum obi_tcp_hook {
	OBI_HOOK_STATE,
	OBI_HOOK_RETRANSMIT,
	OBI_HOOK_RECEIVE_RESET,
	OBI_HOOK_SEND_RESET,
	OBI_HOOK_SEGMENT_IN,
	OBI_HOOK_DESTROY,
	OBI_TCP_HOOKS
};

/* Per CPU and hook: the first program is running. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OBI_TCP_HOOKS);
	__type(key, __u32);
	__type(value, __u8);
} tcp_hook_running SEC(".maps");

/*
 * A TCP hook as two raw tracepoint programs: NAME, which runs HANDLER(ctx) for every event it sees,
 * and NAME_nested, which runs it for the events that came while NAME was running on the CPU.
 */
#define OBI_TCP_HOOK(TRACEPOINT, NAME, HOOK, HANDLER)                            \
	SEC("raw_tp/" #TRACEPOINT)                                               \
	int NAME(struct bpf_raw_tracepoint_args *ctx)                            \
	{                                                                        \
		__u32 hook = HOOK;                                               \
		__u8 *running = bpf_map_lookup_elem(&tcp_hook_running, &hook);   \
		if (running)                                                     \
			*running = 1;                                            \
		HANDLER(ctx);                                                    \
		if (running)                                                     \
			*running = 0;                                            \
		return 0;                                                        \
	}                                                                        \
	SEC("raw_tp/" #TRACEPOINT)                                               \
	int NAME##_nested(struct bpf_raw_tracepoint_args *ctx)                   \
	{                                                                        \
		__u32 hook = HOOK;                                               \
		__u8 *running = bpf_map_lookup_elem(&tcp_hook_running, &hook);   \
		if (running && *running)                                         \
			HANDLER(ctx);                                            \
		return 0;                                                        \
	}
