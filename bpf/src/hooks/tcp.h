/* SPDX-License-Identifier: Apache-2.0 */
/* The TCP tracepoints: state changes, retransmits, resets in and out. */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "sock.h"
#include "tcp_state.h"

/* tcp_send_reset and tcp_retransmit_skb changed struct names and layouts across kernels;
 * skaddr stayed second, after skbaddr. */
struct tcp_skb_ctx {
	__u64 common;
	const void *skbaddr;
	const void *skaddr;
};

/* A FIN alone sent again delays nobody's response. */
static __always_inline int bare_fin(const void *skbaddr)
{
	const struct tcp_skb_cb *cb =
		(const void *)skbaddr + bpf_core_field_offset(struct sk_buff, cb);
	__u32 seq = BPF_CORE_READ(cb, seq);
	__u32 end_seq = BPF_CORE_READ(cb, end_seq);
	__u16 flags = BPF_CORE_READ(cb, tcp_flags);

	return end_seq - seq == 1 && (flags & OBI_TCPHDR_FIN);
}

SEC("tracepoint/sock/inet_sock_set_state")
int on_tcp_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol == OBI_IPPROTO_TCP)
		on_tcp_state_change((__u64)ctx->skaddr, ctx->oldstate, ctx->newstate, bpf_ktime_get_ns());
	return 0;
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int on_tcp_retransmit(struct tcp_skb_ctx *ctx)
{
	__u64 sk = (__u64)ctx->skaddr;

	/* the skb is read only when it matters: a tracked connection between exchanges */
	struct conn_state *st = bpf_map_lookup_elem(&conns, &sk);
	int fin_only = st && !exchange_begun(st) && bare_fin(ctx->skbaddr);
	on_retransmit(sk, fin_only, bpf_ktime_get_ns());
	return 0;
}

SEC("tracepoint/tcp/tcp_receive_reset")
int on_tcp_receive_reset(struct trace_event_raw_tcp_event_sk *ctx)
{
	on_reset_in((__u64)ctx->skaddr, bpf_ktime_get_ns());
	return 0;
}

SEC("tracepoint/tcp/tcp_send_reset")
int on_tcp_send_reset(struct tcp_skb_ctx *ctx)
{
	on_reset_out((__u64)ctx->skaddr);
	return 0;
}

/* The segment's TCP header as tcp_v4_rcv/tcp_v6_rcv left it in the skb's control block. */
static __always_inline void read_segment(const void *skbaddr, struct segment *seg)
{
	const struct tcp_skb_cb *cb =
		(const void *)skbaddr + bpf_core_field_offset(struct sk_buff, cb);
	__u32 seq = BPF_CORE_READ(cb, seq);
	__u32 end_seq = BPF_CORE_READ(cb, end_seq);
	__u8 flags = BPF_CORE_READ(cb, tcp_flags);
	__u32 control = (flags & OBI_TCPHDR_FIN ? 1 : 0) + (flags & OBI_TCPHDR_SYN ? 1 : 0);

	seg->ack = (flags & OBI_TCPHDR_ACK) != 0;
	seg->ack_seq = BPF_CORE_READ(cb, ack_seq);
	seg->data = end_seq - seq > control;
}

/*
 * tcp_probe fires for every segment an established connection receives. The raw tracepoint skips
 * the event's formatting, which costs more than the lookups here.
 */
SEC("raw_tp/tcp_probe")
int on_tcp_segment_in(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 sk = ctx->args[0];
	struct conn_state *st = bpf_map_lookup_elem(&conns, &sk);
	struct handshake *h = st ? 0 : bpf_map_lookup_elem(&handshakes, &sk);
	struct segment seg = {};

	if (!segment_matters(st, h))
		return 0;
	read_segment((const void *)ctx->args[1], &seg);
	on_segment_in(st, h, &seg, bpf_ktime_get_ns());
	return 0;
}
