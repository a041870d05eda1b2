/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A bound on how long an exchange waits for the server after the peer's FIN: a server that never
 * answers, closes or resets (a socket left in CLOSE_WAIT) must not hold its record back forever.
 * The same scan finishes connections whose close the state tracepoint could not: a socket already
 * closed whose state was created on another CPU while its close ran, or a close deferred to a write
 * whose exit never came. Without it their entries would hold the table forever.
 * Tracepoint programs cannot own BPF timers, so the agent runs this program every second
 * (BPF_PROG_TEST_RUN); it is never attached.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "maps.h"
#include "records.h"
#include "exchange.h"

/* Long past any close the tracepoint is still finishing: a write's exit, another CPU's close. */
#define OBI_CLOSE_MISSED_AFTER_NS (1000ULL * 1000000)

struct expiry_scan {
	__u64 now;
};

static __always_inline int close_was_missed(const struct conn_state *st, __u64 now)
{
	if (now < st->tracked_ns + OBI_CLOSE_MISSED_AFTER_NS)
		return 0;
	if (is_stale(st, 0))
		return 1;
	if (st->reset_wait)
		return 0; /* closed by the reset: its wait is bounded below */
	if (st->close_deferred_ns)
		return now > st->close_deferred_ns + OBI_CLOSE_MISSED_AFTER_NS;
	/* TCP's sockets are type-safe by RCU: a freed one is still a socket, CLOSE when not reused */
	__u64 sk = st->sk;
	return BPF_CORE_READ((struct sock *)sk, __sk_common.skc_state) == OBI_TCP_CLOSE;
}

static long expire_if_waited_too_long(struct bpf_map *map, const void *key, void *value, void *ctx)
{
	struct conn_state *st = value;
	const struct expiry_scan *scan = ctx;

	if (close_was_missed(st, scan->now)) {
		count(OBI_C_CLOSE_MISSED);
		if (st->close_peer_fin)
			on_peer_fin(st, st->close_deferred_ns);
		finish_connection(st, *(const __u64 *)key, st->close_deferred_ns ? st->close_deferred_ns : scan->now,
				  st->close_deferred_ns ? st->close_deferred_local : 0);
		return 0;
	}
	if (st->reset_wait) {
		if (scan->now > st->rec.rst_ns + obi_config.peer_fin_wait_ns) {
			st->rec.flags |= OBI_F_WAIT_EXPIRED;
			count(OBI_C_PEER_FIN_WAIT_EXPIRED);
			finish_connection(st, *(const __u64 *)key, scan->now, 0);
		}
		return 0;
	}
	if (st->phase == PHASE_IDLE || st->phase == PHASE_GIVEN_UP || !st->rec.fin_ns)
		return 0;
	/* after an answer, the wait is for the close that tells a half-close from an abandon */
	__u64 since = st->rec.fin_ns > st->rec.end_ns ? st->rec.fin_ns : st->rec.end_ns;
	if (scan->now < since || scan->now - since < obi_config.peer_fin_wait_ns)
		return 0;
	if (st->phase != PHASE_AWAIT_CLOSE)
		st->rec.end_ns = scan->now; /* no answer: the request lasted until it was given up on */
	emit(st, OBI_F_WAIT_EXPIRED);
	st->phase = PHASE_GIVEN_UP;
	count(OBI_C_PEER_FIN_WAIT_EXPIRED);
	return 0;
}

SEC("raw_tp")
int expire_peer_fin_waits(void *ctx)
{
	struct expiry_scan scan = { .now = bpf_ktime_get_ns() };

	bpf_for_each_map_elem(&conns, expire_if_waited_too_long, &scan, 0);
	return 0;
}

