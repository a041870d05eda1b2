/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The records that leave the kernel: one per exchange (from the connection's state, as long as its
 * request head), one per connection at its close, one per segment retransmitted after an exchange's
 * record went out. arrival.h and handshake.h emit the other two: a response's late ACK and a connect
 * that never got through.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "maps.h"
#include "sock.h"
#include "protocol/http1_parse.h"

#define RINGBUF_WAKEUP_BYTES (256 * 1024)

/* Waking the reader per record costs more than the record; it polls, and is woken when data piles up. */
static __always_inline __u64 wakeup_flag(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > RINGBUF_WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP
										       : BPF_RB_NO_WAKEUP;
}

/* Clears the exchange's own facts; the connection's identity and history stay. */
static __always_inline void reset_exchange(struct conn_state *st)
{
	__builtin_memset(&st->rec.start_ns, 0,
			 __builtin_offsetof(struct obi_exchange_record, tid) -
				 __builtin_offsetof(struct obi_exchange_record, start_ns));
	st->rec.tcp.retransmits = 0;
	st->rec.tcp.first_retransmit_ns = 0;
	st->rec.tcp.last_retransmit_ns = 0;
	st->resp_base = 0;
	st->resp_expected = 0;
	st->req_tail = 0;
	st->head_request = 0;
	st->phase = PHASE_IDLE;
}

/*
 * The segments TCP itself counted as sent again since the exchange began (tcp_sock.total_retrans, which
 * __tcp_retransmit_skb raises with Tcp:RetransSegs). The tracepoint is the count's source and gives the
 * times; but on a loaded host one retransmit in a few hundred went out on the wire, counted by the kernel,
 * without reaching any BPF program on tcp_retransmit_skb (ours nor bpftrace's): a slow request with
 * retransmits 0. A struct sock reused unseen gives a wild difference: not taken.
 */
static __always_inline __u32 retransmits_since_start(const struct conn_state *st)
{
	__u32 since = KERNEL_FIELD(struct tcp_sock, st->sk, total_retrans) - st->retrans_base;

	return since < (1U << 16) ? since : 0;
}

static __always_inline void emit(struct conn_state *st, __u32 why)
{
	__u32 head = st->rec.req_head_len;
	__u32 resp_head = st->rec.status ? 0 : st->rec.resp_head_len;

	if (head > OBI_REQ_HEAD_MAX)
		head = OBI_REQ_HEAD_MAX;
	if (resp_head > OBI_RESP_HEAD_MAX)
		resp_head = OBI_RESP_HEAD_MAX;
	__u32 length = resp_head ? __builtin_offsetof(struct obi_exchange_record, resp_head) + resp_head
				 : __builtin_offsetof(struct obi_exchange_record, req_head) + head;
	st->rec.header.kind = OBI_RECORD_EXCHANGE;
	st->rec.header.length = length;
	st->rec.flags |= why;
	if (st->req_tail == OBI_CRLF_CRLF)
		st->rec.flags |= OBI_F_REQUEST_ENDS_BLANK_LINE;
	if (st->tls)
		st->rec.flags |= OBI_F_TLS;
	st->rec.tcp.srtt_us = smoothed_rtt_us(st->sk);
	__u32 counted = retransmits_since_start(st);
	if (counted > st->rec.tcp.retransmits)
		st->rec.tcp.retransmits = counted;
	if (bpf_ringbuf_output(&events, &st->rec, length, wakeup_flag()))
		count(OBI_C_RINGBUF_FULL);
	else
		count(OBI_C_RECORDS);
	reset_exchange(st);
}

/*
 * Records about the connection rather than an exchange are built in ring-buffer memory (these fire
 * in softirq too, where a per-CPU scratch buffer could be in use by the interrupted program).
 */
static __always_inline void *reserve_record(const struct conn_state *st, __u8 kind, __u32 length)
{
	struct obi_record_header *h = bpf_ringbuf_reserve(&events, length, 0);

	if (!h) {
		count(OBI_C_RINGBUF_FULL);
		return 0;
	}
	*h = st->rec.header;
	h->kind = kind;
	h->length = length;
	return h;
}

static __always_inline void submit_record(void *r)
{
	bpf_ringbuf_submit(r, wakeup_flag());
	count(OBI_C_RECORDS);
}

/* Called between exchanges: the last exchange's record is out, so what is sent again is the tail of its response. */
static __always_inline void emit_late_retransmit(const struct conn_state *st, __u64 now)
{
	struct obi_late_retransmit_record *r =
		reserve_record(st, OBI_RECORD_LATE_RETRANSMIT, sizeof(struct obi_late_retransmit_record));

	if (!r)
		return;
	r->socket = st->rec.socket;
	r->at_ns = now;
	r->request_index = st->rec.request_index;
	r->srtt_us = smoothed_rtt_us(st->sk);
	submit_record(r);
}

static __always_inline void emit_connection_closed(const struct conn_state *st, __u64 now)
{
	struct obi_connection_record *r =
		reserve_record(st, OBI_RECORD_CONNECTION, sizeof(struct obi_connection_record));

	if (!r)
		return;
	r->socket = st->rec.socket;
	r->start_ns = st->rec.tcp.established_ns ? st->rec.tcp.established_ns : st->tracked_ns;
	r->end_ns = now;
	r->bytes_in = st->conn_bytes[1];
	r->bytes_out = st->conn_bytes[0];
	r->requests = st->rec.request_index;
	r->flags = st->conn_flags | (st->tls ? OBI_CF_TLS : 0);
	r->tcp = st->rec.tcp;
	r->tcp.retransmits = st->conn_retransmits;
	r->tcp.first_retransmit_ns = 0;
	r->tcp.last_retransmit_ns = 0;
	r->tcp.srtt_us = smoothed_rtt_us(st->sk);
	submit_record(r);
}
