/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCP facts that end or spoil exchanges, from tracepoints keyed by the socket itself: they fire
 * whoever closes (close(2), exit, a reset in softirq), so connection ends need no syscall hooks.
 */
#ifndef OBI_TCP_EVENTS_H
#define OBI_TCP_EVENTS_H

#define OBI_SHUT_WR 1

/* tcp_send_reset and tcp_retransmit_skb changed struct names and layouts across kernels;
 * skaddr stayed second, after skbaddr. */
struct tcp_skb_ctx {
	__u64 common;
	const void *skbaddr;
	const void *skaddr;
};

static __always_inline void note_first_fin(struct conn_state *st, __u32 who)
{
	if (!(st->conn_flags & (OBI_CF_LOCAL_CLOSED_FIRST | OBI_CF_PEER_CLOSED_FIRST)))
		st->conn_flags |= who;
}

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

/*
 * On loopback the reset that answers a write into a closed peer is processed inside that write:
 * TCP_CLOSE fires before the write's exit has folded its bytes. The close waits for that exit.
 */
static __always_inline int defer_close_to_write(struct conn_state *st, __u64 sk, __u64 now)
{
	struct io_args *slot = bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0, 0);

	if (!slot || !slot->pending || slot->in || slot->sk != sk)
		return 0;
	slot->close_deferred = 1;
	st->close_deferred_ns = now;
	st->close_deferred_local = !(st->rec.flags & OBI_F_RST_RECEIVED);
	return 1;
}

SEC("tracepoint/sock/inet_sock_set_state")
int on_tcp_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol != OBI_IPPROTO_TCP)
		return 0;
	__u64 sk = (__u64)ctx->skaddr;
	__u64 now = bpf_ktime_get_ns();

	on_handshake_state(sk, ctx->oldstate, ctx->newstate, now);
	struct conn_state *st = bpf_map_lookup_elem(&conns, &sk);
	if (!st)
		return 0;

	switch (ctx->newstate) {
	case OBI_TCP_CLOSE_WAIT:
		note_first_fin(st, OBI_CF_PEER_CLOSED_FIRST);
		if (!st->peer_fin_ns)
			st->peer_fin_ns = now;
		on_peer_fin(st, now);
		break;
	case OBI_TCP_FIN_WAIT1:
		note_first_fin(st, OBI_CF_LOCAL_CLOSED_FIRST);
		if (!st->local_shutdown)
			on_connection_end(st, now, 1);
		break;
	case OBI_TCP_LAST_ACK:
		/* After an answer to a peer that had sent FIN, whether it resets or acknowledges tells
		 * a client that left from one that half-closed and waited: TCP_CLOSE will say. */
		if (st->phase != PHASE_AWAIT_CLOSE)
			on_connection_end(st, now, 1);
		break;
	case OBI_TCP_CLOSE:
		if (!defer_close_to_write(st, sk, now))
			finish_connection(st, sk, now, !(st->rec.flags & OBI_F_RST_RECEIVED));
		break;
	}
	return 0;
}

/*
 * Retransmits while an exchange is open are part of its story: a slow request, an abandoned one.
 * Those after its record went out still are, for the client waiting for the response's tail: they
 * go out as records of their own.
 */
SEC("tracepoint/tcp/tcp_retransmit_skb")
int on_tcp_retransmit(struct tcp_skb_ctx *ctx)
{
	__u64 sk = (__u64)ctx->skaddr;
	struct conn_state *st = bpf_map_lookup_elem(&conns, &sk);

	if (!st) {
		on_handshake_retransmit(sk);
		return 0;
	}
	__sync_fetch_and_add(&st->conn_retransmits, 1);
	__u64 now = bpf_ktime_get_ns();
	if (st->phase == PHASE_IDLE) {
		/* The response was all written, so its record went out; a client may still be waiting for its tail. */
		if (st->rec.request_index && !bare_fin(ctx->skbaddr))
			emit_late_retransmit(st, now);
		return 0;
	}
	__sync_fetch_and_add(&st->rec.retransmits, 1);
	if (!st->rec.first_retransmit_ns)
		st->rec.first_retransmit_ns = now;
	st->rec.last_retransmit_ns = now;
	return 0;
}

SEC("tracepoint/tcp/tcp_receive_reset")
int on_tcp_receive_reset(struct trace_event_raw_tcp_event_sk *ctx)
{
	__u64 sk = (__u64)ctx->skaddr;
	struct conn_state *st = bpf_map_lookup_elem(&conns, &sk);

	if (st) {
		st->conn_flags |= OBI_CF_RST_RECEIVED;
		on_reset_received(st, bpf_ktime_get_ns());
	}
	return 0;
}

SEC("tracepoint/tcp/tcp_send_reset")
int on_tcp_send_reset(struct tcp_skb_ctx *ctx)
{
	__u64 sk = (__u64)ctx->skaddr;
	struct conn_state *st = sk ? bpf_map_lookup_elem(&conns, &sk) : 0;

	if (!st)
		return 0;
	st->conn_flags |= OBI_CF_RST_SENT;
	if (st->phase != PHASE_IDLE)
		st->rec.flags |= OBI_F_RST_SENT;
	return 0;
}

/* shutdown(SHUT_WR) sends our FIN but keeps reading: the exchange goes on. */
SEC("tracepoint/syscalls/sys_enter_shutdown")
int enter_shutdown(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[1] != OBI_SHUT_WR || !observed_task())
		return 0;
	__u64 sk = tcp_sock_of_fd(ctx->args[0]);
	struct conn_state *st = sk ? bpf_map_lookup_elem(&conns, &sk) : 0;

	if (st) {
		st->local_shutdown = 1;
		st->rec.flags |= OBI_F_LOCAL_SHUTDOWN;
	}
	return 0;
}

#endif
