/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A bound on how long an exchange waits for the server after the peer's FIN: a server that never
 * answers, closes or resets (a socket left in CLOSE_WAIT) must not hold its record back forever.
 * Tracepoint programs cannot own BPF timers, so the agent runs this program every second
 * (BPF_PROG_TEST_RUN); it is never attached.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "maps.h"
#include "records.h"

struct expiry_scan {
	__u64 now;
};

static long expire_if_waited_too_long(struct bpf_map *map, const void *key, void *value, void *ctx)
{
	struct conn_state *st = value;
	const struct expiry_scan *scan = ctx;

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

