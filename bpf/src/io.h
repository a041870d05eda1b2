/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A socket call from its entry to its exit: the entry remembers the arguments of TCP-socket calls
 * only, the exit folds the bytes moved into the exchange. An OpenSSL call around it (hooks/openssl.h)
 * learns its socket from it, and its plaintext replaces the TLS records the socket call moved.
 * Used by the hooks and the tests.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "maps.h"
#include "io_chunk.h"
#include "thread_io.h"
#include "exchange.h"

#define OBI_IOV_SCAN 16 /* iovecs summed to find the end of a vectored write */

struct ssl_key {
	__u64 ssl;
	__u32 tgid; /* SSL * are addresses: per process */
	__u32 _pad;
};

/* Which socket an SSL * reads and writes, for calls served from OpenSSL's buffers with no syscall. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ssl_key);
	__type(value, __u64);
} ssl_sockets SEC(".maps");

/* The first buffer of a call and, for vectored writes, where the moved bytes end. */
static __always_inline void resolve_buffers(const struct io_args *a, __u64 moved, struct io_chunk *c)
{
	__u64 iov_ptr, iov_cnt;

	if (a->kind == IO_SENDFILE)
		return;
	if (a->kind == IO_BUF) {
		c->data = (const __u8 *)a->ptr;
		c->data_len = moved < a->len ? moved : a->len;
		c->tail_end = (const __u8 *)a->ptr + moved;
		return;
	}
	/* the first two iovecs in one read: a head and a body, as servers write a response */
	struct iovec iov[2] = {};
	if (!call_iovecs(a, &iov_ptr, &iov_cnt) ||
	    bpf_probe_read_user(iov, iov_cnt > 1 ? sizeof(iov) : sizeof(iov[0]), (void *)iov_ptr))
		return;
	c->data = iov[0].iov_base;
	c->data_len = moved < iov[0].iov_len ? moved : iov[0].iov_len;
	if (moved <= iov[0].iov_len) {
		c->tail_end = (const __u8 *)iov[0].iov_base + moved;
		return;
	}
	if (c->in || iov_cnt < 2 || iov_cnt > OBI_IOV_SCAN)
		return;
	/* A vectored write that moved everything ends at the end of its last iovec (two are read already). */
	__u64 sum = iov[0].iov_len + iov[1].iov_len;
	for (int i = 2; i < OBI_IOV_SCAN; i++) {
		if (i >= iov_cnt)
			break;
		if (bpf_probe_read_user(&iov[1], sizeof(iov[1]), (void *)(iov_ptr + i * sizeof(iov[1]))))
			return;
		sum += iov[1].iov_len;
	}
	if (sum == moved && iov[1].iov_len >= 5)
		c->tail_end = (const __u8 *)iov[1].iov_base + iov[1].iov_len;
}

static __always_inline struct ssl_key ssl_key_of(__u64 ssl)
{
	struct ssl_key key = {.ssl = ssl, .tgid = bpf_get_current_pid_tgid() >> 32};
	return key;
}

/*
 * Entry of a call on a TCP socket: remembered until its exit on the same thread. t: the thread's
 * storage if the caller looked it up already (0: looked up here): one lookup per hook, not per step.
 * Returns the storage, for io_end.
 */
static __always_inline struct thread_io *io_begin(struct thread_io *t, const struct io_args *call)
{
	t = thread_io_made(t);
	if (!t) {
		count(OBI_C_ARGS_TABLE_FULL);
		return 0;
	}
	t->call = *call;
	t->call.pending = 1;
	t->call.ciphertext = t->ssl.ssl != 0;
	if (t->call.ciphertext && t->ssl.sk != call->sk) {
		t->ssl.sk = call->sk;
		struct ssl_key key = ssl_key_of(t->ssl.ssl);
		bpf_map_update_elem(&ssl_sockets, &key, &call->sk, BPF_ANY);
	}
	/* filled in place, only when the write begins a request (else call's own stays): no stack copy */
	if (!call->in && !t->call.ciphertext && call->kind != IO_SENDFILE)
		on_request_write_entry(call, &t->call.begun);
	return t;
}

/*
 * The first bytes a failed write tried to send: the plaintext of the OpenSSL write around it, else
 * its own first buffer. 0 when unknown.
 */
static __always_inline const __u8 *attempted_bytes(const struct io_args *a, const __u8 *tls_plaintext)
{
	if (a->ciphertext)
		return tls_plaintext;
	struct io_chunk c = {};
	resolve_buffers(a, PEEK_LEN, &c);
	return c.data_len == PEEK_LEN ? c.data : 0;
}

/* Bytes TCP received on sk that the process has not read yet; a FIN received counts one. */
static __always_inline __u32 unread_bytes(__u64 sk)
{
	const struct tcp_sock *tp = (const void *)sk;

	return BPF_CORE_READ(tp, rcv_nxt) - BPF_CORE_READ(tp, copied_seq);
}

/* A read on a socket TCP has closed: the one that takes its last bytes ends the close deferred to it. */
static __always_inline void close_if_read_out(__u64 sk)
{
	if (sock_state(sk) == OBI_TCP_CLOSE && unread_bytes(sk) <= 1) /* every read asks: one plain load */
		finish_deferred_close(sk);
}

/* tls_plaintext: the buffer of the OpenSSL write this call is inside of, if any. */
static __always_inline void fold_io(const struct io_args *a, long ret, const __u8 *tls_plaintext)
{
	__u64 now = bpf_ktime_get_ns();

	if (ret <= 0) {
		if (!a->in && (ret == -OBI_EPIPE || ret == -OBI_ECONNRESET))
			on_write_error(a->sk, now, attempted_bytes(a, tls_plaintext));
		else if (a->begun.conn_id)
			undo_entry_request(a->sk, &a->begun);
		return;
	}
	if (a->ciphertext)
		return;
	struct io_chunk c = {
		.sk = a->sk,
		.socket_ino = a->socket_ino,
		.total = ret,
		.begun = a->begun,
		.in = a->in,
	};
	/* a request begun at the entry that moved its first buffer whole is known already */
	if (!a->begun.conn_id || ret != a->begun.counted)
		resolve_buffers(a, ret, &c);
	on_data(&c, now);
	if (c.in)
		close_if_read_out(a->sk);
}

/*
 * Exit of the call: syscall_nr tells it is the call whose entry was seen, so its buffers describe
 * these bytes. t: the thread's storage, as io_begin left it.
 */
static __always_inline void io_end(struct thread_io *t, __s32 syscall_nr, long ret)
{
	if (!t || !t->call.pending)
		return;
	/* read in place: a copy on the stack of sys_exit's program took 64 of its 512 bytes */
	const struct io_args *a = &t->call;
	t->call.pending = 0;
	if (a->syscall_nr == syscall_nr) {
		fold_io(a, ret, t->ssl.ssl && !t->ssl.in ? (const __u8 *)t->ssl.buf : 0);
		if (ret > 0 && !a->ciphertext)
			t->last_sk = a->sk;
	}
	/* inside an OpenSSL call, the plaintext it returns comes first */
	__u64 deferred = t->close_deferred_sk;
	if (deferred && !t->ssl.ssl) {
		t->close_deferred_sk = 0;
		finish_deferred_close(deferred);
	}
}

/*
 * On loopback the reset that answers a write into a closed peer is processed inside that write:
 * TCP_CLOSE fires before the write's exit has folded its bytes. The close waits for that exit.
 */
static __always_inline int defer_close_to_write(struct conn_state *st, __u64 sk, __u64 now)
{
	struct thread_io *t = current_thread_io();

	if (!t || !t->call.pending || t->call.in || t->call.sk != sk)
		return 0;
	t->close_deferred_sk = sk;
	st->close_deferred_ns = now;
	st->close_deferred_local = !(st->rec.flags & OBI_F_RST_RECEIVED);
	return 1;
}

/*
 * Bytes a read took from sk that no read's exit has folded yet: TCP can close the socket between
 * the read's copy and its exit (the peer's FIN waited in the socket's backlog while the read held
 * the lock, and is processed as it lets go). The kernel's count is over the connection's life, the
 * state's since it was tracked: a connection tracked late only waits for its close or the scan.
 * A FIN read counts one. TLS connections count plaintext: not comparable.
 */
static __always_inline int read_in_flight(const struct conn_state *st, __u64 sk, __u32 unread)
{
	if (st->tls)
		return 0;
	const struct tcp_sock *tp = (const void *)sk;
	__u64 taken = BPF_CORE_READ(tp, bytes_received) - unread;

	return taken > st->conn_bytes[1] + 1;
}

/*
 * Our half-close, then the peer's answer and its FIN: TCP closes the socket (time-wait) before the
 * process has read the answer, or before the read that took it returned. The close waits for the
 * read that takes the last bytes (close_if_read_out), the process's close (on_tcp_destroy) or, a
 * second at most, the expiry scan.
 */
static __always_inline int defer_close_to_read(struct conn_state *st, __u64 sk, __u64 now)
{
	if (!exchange_begun(st) || (st->rec.flags & OBI_F_RST_RECEIVED))
		return 0;
	__u32 unread = unread_bytes(sk);
	if (unread <= 1 && !read_in_flight(st, sk, unread))
		return 0;
	st->close_deferred_ns = now;
	st->close_deferred_local = 1;
	return 1;
}

