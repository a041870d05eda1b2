/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCP facts that end or spoil exchanges, keyed by the socket itself: they fire whoever closes
 * (close(2), exit, a reset in softirq), so connection ends need no syscall hooks. The handlers are
 * called by the tracepoints (hooks/tcp.h) and by the tests.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "maps.h"
#include "sock.h"
#include "handshake.h"
#include "records.h"
#include "exchange.h"
#include "io.h"
#include "syscall_abi.h"


static __always_inline void note_first_fin(struct conn_state *st, __u32 who)
{
	if (!(st->conn_flags & (OBI_CF_LOCAL_CLOSED_FIRST | OBI_CF_PEER_CLOSED_FIRST)))
		st->conn_flags |= who;
}

/*
 * A client that reset a request its server had not answered: the server has yet to react. nginx
 * logs the status it then tries to write (the write fails), or 499 when it notices the reset first
 * and closes. The exchange waits for that reaction (on_write_error, on_tcp_destroy), bounded by
 * obi_config.peer_fin_wait_ns (expiry.h).
 */
/*
 * Our FIN comes from shutdown(SHUT_WR) on this socket, the call under way: the process keeps
 * reading, a half-close. (FIN_WAIT1 is entered by the process's own call, never in softirq.)
 */
static __always_inline int shutting_down_write(__u64 sk)
{
	struct pt_regs *regs = current_call_regs();

	if (!regs || SYSCALL_NR(regs) != NR_SHUTDOWN || PT_REGS_PARM2_SYSCALL(regs) != OBI_SHUT_WR)
		return 0;
	return tcp_sock_of_fd(PT_REGS_PARM1_SYSCALL(regs), 0) == sk;
}

/*
 * After this process's half-close, the peer's FIN: it crossed ours (CLOSING), or came after ours was
 * acknowledged, and TCP closes the socket (time-wait) while the process still holds it. A server that
 * answered a half-closed client and closed, or closed without answering; or one that reacted to a
 * close done as shutdown(SHUT_WR) first, the fd's close a moment later (the JDK's SocketChannel
 * registered with a selector). The process's next move tells them apart (defer_peer_close).
 */
static __always_inline int peer_closed_after_half_close(const struct conn_state *st, __u64 sk, int oldstate)
{
	return (st->rec.flags & OBI_F_LOCAL_SHUTDOWN) && !(st->rec.flags & OBI_F_RST_RECEIVED) &&
	       (oldstate == OBI_TCP_FIN_WAIT2 || oldstate == OBI_TCP_CLOSING) && socket_inode(sk);
}

/*
 * Whose end the peer's FIN after a half-close is waits for the process: its next read (the answer,
 * or end of file) says it waited, and the close is the peer's (finish_deferred_close); its close
 * without reading says it had left (on_tcp_destroy); neither within a second, it waited (expiry).
 */
static __always_inline void defer_peer_close(struct conn_state *st, __u64 now)
{
	st->close_deferred_ns = now;
	st->close_deferred_local = 0;
	st->close_peer_fin = 1;
}

static __always_inline int awaits_server_after_reset(const struct conn_state *st)
{
	return (st->rec.flags & OBI_F_RST_RECEIVED) && st->phase == PHASE_REQUEST &&
	       st->rec.header.direction == OBI_DIR_SERVER;
}

static __always_inline void on_tcp_state_change(__u64 sk, int oldstate, int newstate, __u64 now)
{
	on_handshake_state(sk, oldstate, newstate, now);
	struct conn_state *st = bpf_map_lookup_elem(&conns, &sk);
	if (!st)
		return;

	switch (newstate) {
	case OBI_TCP_CLOSE_WAIT:
		note_first_fin(st, OBI_CF_PEER_CLOSED_FIRST);
		on_peer_fin(st, now);
		break;
	case OBI_TCP_FIN_WAIT1:
		note_first_fin(st, OBI_CF_LOCAL_CLOSED_FIRST);
		if (shutting_down_write(sk))
			st->rec.flags |= OBI_F_LOCAL_SHUTDOWN; /* a half-close: the exchange goes on */
		else
			on_connection_end(st, now, 1);
		break;
	case OBI_TCP_LAST_ACK:
		/* A client that half-closes after the server's FIN (an answer its close ends, unread
		 * yet) reads on: TCP_CLOSE waits for that read (defer_close_to_read). */
		if (st->rec.header.direction == OBI_DIR_CLIENT && shutting_down_write(sk)) {
			st->rec.flags |= OBI_F_LOCAL_SHUTDOWN;
			break;
		}
		/* After an answer to a peer that had sent FIN, whether it resets or acknowledges tells
		 * a client that left from one that half-closed and waited: TCP_CLOSE will say. */
		if (st->phase != PHASE_AWAIT_CLOSE)
			on_connection_end(st, now, 1);
		break;
	case OBI_TCP_CLOSE:
		if (defer_close_to_write(st, sk, now))
			break;
		if (awaits_server_after_reset(st)) {
			st->reset_wait = 1;
			break;
		}
		if (exchange_begun(st) && peer_closed_after_half_close(st, sk, oldstate)) {
			defer_peer_close(st, now);
			break;
		}
		if (defer_close_to_read(st, sk, now))
			break;
		finish_connection(st, sk, now, !(st->rec.flags & OBI_F_RST_RECEIVED));
		break;
	}
}

/*
 * The socket's last moment (the process closed it, or TCP let go of an orphan): a connection still
 * tracked then, one that waited for its server after a reset, ends here.
 */
static __always_inline void on_tcp_destroy(__u64 sk, __u64 now)
{
	struct conn_state *st = bpf_map_lookup_elem(&conns, &sk);

	if (st && st->close_peer_fin)
		finish_connection(st, sk, st->close_deferred_ns, 1); /* closed without reading after the peer's FIN */
	else if (st)
		finish_connection(st, sk, now, !(st->rec.flags & OBI_F_RST_RECEIVED));
}

/*
 * Retransmits while an exchange is open are part of its story: a slow request, an abandoned one.
 * Those after its record went out still are, for the client waiting for the response's tail: they
 * go out as records of their own. bare_fin: a FIN alone sent again delays nobody's response.
 */
static __always_inline void on_retransmit(__u64 sk, int bare_fin, __u64 now)
{
	struct conn_state *st = bpf_map_lookup_elem(&conns, &sk);

	if (!st) {
		on_handshake_retransmit(sk);
		return;
	}
	__sync_fetch_and_add(&st->conn_retransmits, 1);
	if (!exchange_begun(st)) {
		/* The response was all written, so its record went out; a client may still be waiting for its tail. */
		if (st->rec.request_index && !bare_fin)
			emit_late_retransmit(st, now);
		if (st->ack_wait_since_ns && !bare_fin)
			st->ack_wait_retransmits += 1;
		return;
	}
	__sync_fetch_and_add(&st->rec.tcp.retransmits, 1);
	if (!st->rec.tcp.first_retransmit_ns)
		st->rec.tcp.first_retransmit_ns = now;
	st->rec.tcp.last_retransmit_ns = now;
}

static __always_inline void on_reset_in(__u64 sk, __u64 now)
{
	struct conn_state *st = bpf_map_lookup_elem(&conns, &sk);

	if (st) {
		st->conn_flags |= OBI_CF_RST_RECEIVED;
		on_reset_received(st, now);
	}
}

static __always_inline void on_reset_out(__u64 sk)
{
	struct conn_state *st = sk ? bpf_map_lookup_elem(&conns, &sk) : 0;

	if (!st)
		return;
	st->conn_flags |= OBI_CF_RST_SENT;
	if (exchange_begun(st))
		st->rec.flags |= OBI_F_RST_SENT;
}

