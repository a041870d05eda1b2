/* SPDX-License-Identifier: Apache-2.0 */
/* The TCP tracepoints: state changes, retransmits, resets in and out, segments in. */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "sock.h"
#include "tcp_state.h"
#include "context.h"

/*
 * Raw tracepoints, all of them: a classic tracepoint's program does not run while any other BPF
 * program runs on the CPU (the kernel's bpf_prog_active), and these fire in softirq, which may
 * interrupt a syscall's program: on_tcp_state missed 128 events in one run of HostileInputIT, and
 * a TCP_CLOSE missed left its entry behind. A raw tracepoint's program is only kept from nesting in
 * itself (102 misses under wrk with connection: close), which a second program per hook takes up
 * (context.h). Their arguments are the tracepoints' TP_PROTO, stable where the events' formats
 * were not.
 */

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

/* inet_sock_set_state(const struct sock *sk, int oldstate, int newstate) */
static __always_inline void tcp_state(struct bpf_raw_tracepoint_args *ctx)
{
	const struct sock *sk = (const void *)ctx->args[0];

	if (BPF_CORE_READ(sk, sk_protocol) == OBI_IPPROTO_TCP)
		on_tcp_state_change((__u64)sk, (int)ctx->args[1], (int)ctx->args[2], bpf_ktime_get_ns());
}
OBI_TCP_HOOK(inet_sock_set_state, on_tcp_state, OBI_HOOK_STATE, tcp_state)

/* tcp_retransmit_skb(const struct sock *sk, const struct sk_buff *skb, ...) */
static __always_inline void tcp_retransmit(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 sk = ctx->args[0];

	/* the skb is read only when it matters: a tracked connection between exchanges */
	struct conn_state *st = bpf_map_lookup_elem(&conns, &sk);
	int fin_only = st && !exchange_begun(st) && bare_fin((const void *)ctx->args[1]);
	on_retransmit(sk, fin_only, bpf_ktime_get_ns());
}
OBI_TCP_HOOK(tcp_retransmit_skb, on_tcp_retransmit, OBI_HOOK_RETRANSMIT, tcp_retransmit)

/* tcp_receive_reset(struct sock *sk) */
static __always_inline void tcp_receive_reset(struct bpf_raw_tracepoint_args *ctx)
{
	on_reset_in(ctx->args[0], bpf_ktime_get_ns());
}
OBI_TCP_HOOK(tcp_receive_reset, on_tcp_receive_reset, OBI_HOOK_RECEIVE_RESET, tcp_receive_reset)

/* tcp_send_reset(const struct sock *sk, const struct sk_buff *skb, ...): sk is NULL for a segment of no socket */
static __always_inline void tcp_send_reset(struct bpf_raw_tracepoint_args *ctx)
{
	on_reset_out(ctx->args[0]);
}
OBI_TCP_HOOK(tcp_send_reset, on_tcp_send_reset, OBI_HOOK_SEND_RESET, tcp_send_reset)

/* tcp_destroy_sock(struct sock *sk) */
static __always_inline void tcp_destroy(struct bpf_raw_tracepoint_args *ctx)
{
	on_tcp_destroy(ctx->args[0], bpf_ktime_get_ns());
}
OBI_TCP_HOOK(tcp_destroy_sock, on_tcp_destroy_sock, OBI_HOOK_DESTROY, tcp_destroy)

/* The segment's TCP header as tcp_v4_rcv/tcp_v6_rcv left it in the skb's control block. */
static __always_inline void read_segment(const void *skbaddr, struct segment *seg)
{
	const struct tcp_skb_cb *cb =
		(const void *)skbaddr + bpf_core_field_offset(struct sk_buff, cb);
	__u32 seq = KERNEL_FIELD(struct tcp_skb_cb, cb, seq);
	__u32 end_seq = KERNEL_FIELD(struct tcp_skb_cb, cb, end_seq);
	__u8 flags = KERNEL_FIELD(struct tcp_skb_cb, cb, tcp_flags);
	__u32 ack_seq = KERNEL_FIELD(struct tcp_skb_cb, cb, ack_seq);
	__u32 control = (flags & OBI_TCPHDR_FIN ? 1 : 0) + (flags & OBI_TCPHDR_SYN ? 1 : 0);

	seg->ack = (flags & OBI_TCPHDR_ACK) != 0;
	seg->ack_seq = ack_seq;
	seg->data = end_seq - seq > control;
}

/*
 * tcp_probe fires for every segment an established connection receives. The raw tracepoint also
 * skips the event's formatting, which costs more than the lookups here.
 */
static __always_inline void tcp_segment_in(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 sk = ctx->args[0];
	struct conn_state *st = bpf_map_lookup_elem(&conns, &sk);
	struct handshake *h = st ? 0 : bpf_map_lookup_elem(&handshakes, &sk);
	struct segment seg = {};

	if (!segment_matters(st, h))
		return;
	read_segment((const void *)ctx->args[1], &seg);
	on_segment_in(st, h, &seg, bpf_ktime_get_ns());
}
OBI_TCP_HOOK(tcp_probe, on_tcp_segment_in, OBI_HOOK_SEGMENT_IN, tcp_segment_in)
