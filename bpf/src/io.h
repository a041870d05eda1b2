/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A socket call from its entry to its exit: the entry remembers the arguments of TCP-socket calls
 * only, the exit folds the bytes moved into the exchange. Used by the syscall hooks and the tests.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "maps.h"
#include "io_chunk.h"
#include "exchange.h"

#define OBI_EPIPE 32
#define OBI_ECONNRESET 104
#define OBI_IOV_SCAN 16 /* iovecs summed to find the end of a vectored write */

enum io_kind {
	IO_BUF,      /* one user buffer */
	IO_IOV,      /* struct iovec array */
	IO_MSG,      /* struct user_msghdr */
	IO_SENDFILE, /* bytes from a file: counted, not seen */
};

struct io_args {
	__u64 sk;
	__u64 ptr;
	__u64 len; /* buffer length or iovec count */
	__s32 syscall_nr;
	__u8 kind;
	__u8 in;
	__u8 pending;        /* set on entry, cleared on exit */
	__u8 close_deferred; /* the socket reached TCP_CLOSE inside this call (a reset in answer to the write) */
};

/*
 * The socket call under way, per thread. Task storage instead of a hash keyed by thread id:
 * cheaper per call, and freed with the thread, so a thread that dies inside a call leaks nothing.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct io_args);
} inflight SEC(".maps");

/* The first buffer of a call and, for vectored writes, where the moved bytes end. */
static __always_inline void resolve_buffers(const struct io_args *a, __u64 moved, struct io_chunk *c)
{
	__u64 iov_ptr = a->ptr;
	__u64 iov_cnt = a->len;

	if (a->kind == IO_SENDFILE)
		return;
	if (a->kind == IO_BUF) {
		c->data = (const __u8 *)a->ptr;
		c->data_len = moved < a->len ? moved : a->len;
		c->tail_end = (const __u8 *)a->ptr + moved;
		return;
	}
	if (a->kind == IO_MSG) {
		struct user_msghdr msg = {};
		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)a->ptr))
			return;
		iov_ptr = (__u64)msg.msg_iov;
		iov_cnt = msg.msg_iovlen;
	}
	struct iovec iov = {};
	if (!iov_cnt || bpf_probe_read_user(&iov, sizeof(iov), (void *)iov_ptr))
		return;
	c->data = iov.iov_base;
	c->data_len = moved < iov.iov_len ? moved : iov.iov_len;
	if (moved <= iov.iov_len) {
		c->tail_end = (const __u8 *)iov.iov_base + moved;
		return;
	}
	if (c->in || iov_cnt > OBI_IOV_SCAN)
		return;
	/* A vectored write that moved everything ends at the end of its last iovec. */
	__u64 sum = 0;
	for (int i = 0; i < OBI_IOV_SCAN; i++) {
		if (i >= iov_cnt)
			break;
		if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(iov_ptr + i * sizeof(iov))))
			return;
		sum += iov.iov_len;
	}
	if (sum == moved && iov.iov_len >= 5)
		c->tail_end = (const __u8 *)iov.iov_base + iov.iov_len;
}

/* Entry of a call on a TCP socket: remembered until its exit on the same thread. */
static __always_inline void io_begin(const struct io_args *call)
{
	struct io_args *slot = bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0,
						    BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!slot) {
		count(OBI_C_ARGS_TABLE_FULL);
		return;
	}
	*slot = *call;
	slot->pending = 1;
	slot->close_deferred = 0;
}

static __always_inline void fold_io(const struct io_args *a, long ret)
{
	__u64 now = bpf_ktime_get_ns();

	if (ret <= 0) {
		if (!a->in && (ret == -OBI_EPIPE || ret == -OBI_ECONNRESET))
			on_write_error(a->sk, now);
		return;
	}
	struct io_chunk c = {
		.sk = a->sk,
		.total = ret,
		.in = a->in,
	};
	resolve_buffers(a, ret, &c);
	on_data(&c, now);
}

/* Exit of the call: syscall_nr tells it is the call whose entry was seen, so its buffers describe these bytes. */
static __always_inline void io_end(__s32 syscall_nr, long ret)
{
	struct io_args *slot = bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0, 0);

	if (!slot || !slot->pending)
		return;
	struct io_args a = *slot;
	slot->pending = 0;
	slot->close_deferred = 0;
	if (a.syscall_nr == syscall_nr)
		fold_io(&a, ret);
	if (a.close_deferred)
		finish_deferred_close(a.sk);
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
