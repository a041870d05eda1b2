/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Socket I/O seen at the syscall boundary, for every family servers and clients use:
 * read/readv/recvfrom/recvmsg in, write/writev/sendto/sendmsg/sendfile out, and accept.
 *
 * One BTF tracepoint program on raw_syscalls' sys_exit switches on the syscall number; it runs for
 * every syscall and returns at once for the others. The arguments are still in the call's saved
 * registers at its exit, so reads need nothing at their entry. A write does: its request must
 * begin before its bytes are queued (on_request_write_entry), and TCP_CLOSE inside it must wait for
 * its exit (defer_close_to_write). tcp_sendmsg_locked marks that start; it fires only for TCP sends,
 * not for every syscall as sys_enter would (nginx kept ~0.95 of its throughput with an empty
 * sys_exit program alone, ~0.93 with sys_enter too, ~0.89 with one program per syscalls:*
 * tracepoint, which copy each call's arguments into a perf buffer first; lab VM).
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "maps.h"
#include "sock.h"
#include "io.h"
#include "syscall_abi.h"
#include "tcp_state.h"

#define OBI_MSG_PEEK 2

/* The call's arguments as its entry would have seen them; 0 unless it is on a TCP socket. */
static __always_inline int socket_call(struct pt_regs *regs, long nr, __u8 kind, __u8 in, struct io_args *a)
{
	__u64 ino = 0;
	__u64 sk = tcp_sock_of_fd(PT_REGS_PARM1_SYSCALL(regs), &ino);

	if (!sk)
		return 0;
	a->sk = sk;
	a->socket_ino = ino;
	a->ptr = PT_REGS_PARM2_SYSCALL(regs);
	a->len = PT_REGS_PARM3_SYSCALL(regs);
	a->syscall_nr = nr;
	a->kind = kind;
	a->in = in;
	if (kind == IO_SENDFILE) {
		a->ptr = 0;
		a->len = PT_REGS_PARM4_SYSCALL(regs);
	}
	return 1;
}

/*
 * A read, at its exit: folded at once. Inside an OpenSSL call it goes through io_begin/io_end,
 * which tell the call its socket and keep the TLS records out of the exchange.
 */
static __always_inline void read_done(struct pt_regs *regs, long nr, __u8 kind, long ret)
{
	struct thread_io *t = current_thread_io();
	int in_openssl = t && t->ssl.ssl;
	struct io_args a = {};

	if ((ret < 0 && !in_openssl) || !observed_call() || !socket_call(regs, nr, kind, 1, &a))
		return; /* failed, and no OpenSSL call to learn its socket from this one */
	if (in_openssl) {
		io_end(io_begin(t, &a), nr, ret);
		return;
	}
	if (ret == 0) {
		/* end of file, read by a half-closed client that waited for its server (defer_peer_close) */
		close_if_read_out(a.sk);
		return;
	}
	fold_io(&a, ret, 0);
	t = thread_io_made(t);
	if (t)
		t->last_sk = a.sk;
}

/*
 * A write, at its exit. Begun by tcp_sendmsg_locked, it is folded as begun. A write that queued
 * nothing did not get there: one that failed on a connection its peer had left still tells
 * (on_write_error); so would one that moved bytes another way (TCP fast open's SYN).
 */
static __always_inline void write_done(struct pt_regs *regs, long nr, __u8 kind, long ret)
{
	struct thread_io *t = current_thread_io();
	struct io_args a = {};

	if (t && t->call.pending) {
		io_end(t, nr, ret);
		return;
	}
	if (ret <= 0 && ret != -OBI_EPIPE && ret != -OBI_ECONNRESET)
		return;
	if (observed_call() && (kind != IO_SENDFILE || ret > 0) && socket_call(regs, nr, kind, 0, &a)) {
		if (kind == IO_SENDFILE && !bpf_map_lookup_elem(&conns, &a.sk))
			return; /* sendfile never starts an exchange */
		io_end(io_begin(t, &a), nr, ret);
	}
}

/* accept() and accept4() return the connection: its wait in the accept queue ends. */
static __always_inline void accepted(long ret)
{
	if (ret < 0 || !observed_call())
		return;
	__u64 sk = tcp_sock_of_fd(ret, 0);
	if (sk)
		on_accepted(sk, bpf_ktime_get_ns());
}

/* The write family's kinds of buffers; -1: not a write. */
static __always_inline int write_kind(long nr)
{
	switch (nr) {
	case NR_WRITE:
	case NR_SENDTO:
		return IO_BUF;
	case NR_WRITEV:
		return IO_IOV;
	case NR_SENDMSG:
		return IO_MSG;
	case NR_SENDFILE:
		return IO_SENDFILE;
	}
	return -1;
}

/*
 * A write's start, before its first byte is queued: tcp_sendmsg_locked's loop, whose first round
 * fires this (later rounds, for more segments, find the call begun). In the writer's context, so
 * the call's registers say which call it is and where its bytes are.
 */
SEC("tp_btf/tcp_sendmsg_locked")
int BPF_PROG(start_socket_write, struct sock *sk, struct msghdr *msg, struct sk_buff *skb, int size_goal)
{
	struct pt_regs *regs = current_call_regs();
	struct io_args a = {};

	if (!regs || !observed_call())
		return 0;
	long nr = SYSCALL_NR(regs);
	int kind = write_kind(nr);
	if (kind < 0)
		return 0; /* a send from no write of ours (splice, io_uring): its exit is not watched */
	struct thread_io *t = current_thread_io();
	if (t && t->call.pending && t->call.sk == (__u64)sk)
		return 0;
	a.sk = (__u64)sk;
	if (kind == IO_SENDFILE && !bpf_map_lookup_elem(&conns, &a.sk))
		return 0; /* sendfile never starts an exchange */
	a.ptr = kind == IO_SENDFILE ? 0 : PT_REGS_PARM2_SYSCALL(regs);
	a.len = kind == IO_SENDFILE ? PT_REGS_PARM4_SYSCALL(regs) : PT_REGS_PARM3_SYSCALL(regs);
	a.syscall_nr = nr;
	a.kind = kind;
	io_begin(t, &a);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_socket_call, struct pt_regs *regs, long ret)
{
	long nr = SYSCALL_NR(regs);

	switch (nr) {
	case NR_READ:
		read_done(regs, nr, IO_BUF, ret);
		return 0;
	case NR_READV:
		read_done(regs, nr, IO_IOV, ret);
		return 0;
	/* recv with MSG_PEEK leaves the bytes for the next read: counting them would count them twice */
	case NR_RECVFROM:
		if (!(PT_REGS_PARM4_SYSCALL(regs) & OBI_MSG_PEEK))
			read_done(regs, nr, IO_BUF, ret);
		return 0;
	case NR_RECVMSG:
		if (!(PT_REGS_PARM3_SYSCALL(regs) & OBI_MSG_PEEK))
			read_done(regs, nr, IO_MSG, ret);
		return 0;
	case NR_WRITE:
	case NR_SENDTO:
		write_done(regs, nr, IO_BUF, ret);
		return 0;
	case NR_WRITEV:
		write_done(regs, nr, IO_IOV, ret);
		return 0;
	case NR_SENDMSG:
		write_done(regs, nr, IO_MSG, ret);
		return 0;
	case NR_SENDFILE:
		write_done(regs, nr, IO_SENDFILE, ret);
		return 0;
	case NR_ACCEPT:
	case NR_ACCEPT4:
		accepted(ret);
		return 0;
	}
	return 0;
}
