/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What TCP did around a server's own time, for the phases of a request: when the server accepted
 * the connection, when the request's first bytes arrived (before the server read them), and when
 * the client acknowledged the response's last byte (after the server wrote it). Every segment
 * that comes in passes here: a lookup, and nothing more for a connection nobody waits on.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "maps.h"
#include "conn.h"
#include "handshake.h"
#include "records.h"

/* TCP_DELACK_MAX: an ACK later than a delayed ACK can be, and a round trip, is the network's doing or the client's. */
#define OBI_ACK_WAIT_REPORTED_NS (200ULL * 1000000)

/* A server's accept() returned the connection: the end of its wait in the accept queue. */
static __always_inline void on_accepted(__u64 sk, __u64 now)
{
	struct handshake *h = bpf_map_lookup_elem(&handshakes, &sk);

	if (h && !h->syn_sent_ns && !h->accepted_ns)
		h->accepted_ns = now;
}

/*
 * When the request waited in the kernel before the server read it. A TLS connection's first bytes
 * are its handshake, not the request: its first request has no queued time.
 */
static __always_inline void take_queue_times(struct conn_state *st)
{
	if (st->rec.request_index == 1) {
		st->rec.accepted_ns = st->accepted_ns;
		if (st->tls)
			st->next_queued_ns = 0;
	}
	if (st->next_queued_ns <= st->rec.start_ns)
		st->rec.queued_ns = st->next_queued_ns;
	st->next_queued_ns = 0;
}

/*
 * After the last write of a server's response: its last byte is acknowledged when an ACK covers it.
 * On loopback the ACK can come inside the write itself: then there is nothing to wait for.
 */
static __always_inline void await_ack(struct conn_state *st)
{
	__u32 write_seq = KERNEL_FIELD(struct tcp_sock, st->sk, write_seq);
	__u32 snd_una = KERNEL_FIELD(struct tcp_sock, st->sk, snd_una);
	st->ack_wait_since_ns = 0;
	if ((__s32)(snd_una - write_seq) >= 0)
		return;
	st->ack_wait_seq = write_seq;
	st->ack_wait_since_ns = st->rec.end_ns;
	st->ack_wait_index = st->rec.request_index;
	st->ack_wait_retransmits = 0;
}

static __always_inline void emit_response_acked(struct conn_state *st, __u64 now)
{
	struct obi_response_acked_record *r =
		reserve_record(st, OBI_RECORD_RESPONSE_ACKED, sizeof(struct obi_response_acked_record));

	if (!r)
		return;
	r->header.direction = OBI_DIR_SERVER;
	r->socket = st->rec.socket;
	r->end_ns = st->ack_wait_since_ns;
	r->acked_ns = now;
	r->request_index = st->ack_wait_index;
	r->retransmits = st->ack_wait_retransmits;
	r->srtt_us = smoothed_rtt_us(st->sk);
	submit_record(r);
}

/* The request's first bytes, on a server connection between requests (or answering one: pipelining). */
static __always_inline int awaits_request(const struct conn_state *st)
{
	return st->rec.header.direction == OBI_DIR_SERVER && st->rec.request_index &&
	       (st->phase == PHASE_IDLE || st->phase == PHASE_RESPONSE || st->phase == PHASE_AWAIT_CLOSE);
}

struct segment {
	__u32 ack_seq;
	__u8 ack;
	__u8 data;
};

/* Whether a segment can tell anything here: the connection awaits an ACK or a request's first bytes. */
static __always_inline int segment_matters(const struct conn_state *st, const struct handshake *h)
{
	if (st)
		return st->ack_wait_since_ns || (!st->next_queued_ns && awaits_request(st));
	return h && !h->syn_sent_ns && !h->first_data_ns;
}

/* st: the tracked connection, or h: the handshake of a connection not tracked yet. */
static __always_inline void on_segment_in(struct conn_state *st, struct handshake *h, const struct segment *seg,
					  __u64 now)
{
	if (!st) {
		if (h && seg->data && !h->syn_sent_ns && !h->first_data_ns)
			h->first_data_ns = now;
		return;
	}
	if (st->ack_wait_since_ns && seg->ack && (__s32)(seg->ack_seq - st->ack_wait_seq) >= 0) {
		__u64 rtt_ns = smoothed_rtt_us(st->sk) * 1000ULL;
		if (now - st->ack_wait_since_ns >= OBI_ACK_WAIT_REPORTED_NS + rtt_ns || st->ack_wait_retransmits)
			emit_response_acked(st, now);
		st->ack_wait_since_ns = 0;
	}
	if (seg->data && !st->next_queued_ns && awaits_request(st))
		st->next_queued_ns = now;
}
