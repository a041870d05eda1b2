/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What one thread is doing with sockets, in task storage instead of a hash keyed by thread id:
 * cheaper per call, and freed with the thread, so a thread that dies inside a call leaks nothing.
 * One storage for every per-thread fact, so a call looks it up once.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "io_chunk.h"

/* A thread's server exchange: the parent of client calls the same thread makes meanwhile. */
struct thread_server {
	__u64 sk;
	__u64 conn_id;
	__u64 start_ns;
	__u32 request_index;
	__u8 concurrent; /* two server requests were in flight on this thread at once: an event loop */
};

enum io_kind {
	IO_BUF,      /* one user buffer */
	IO_IOV,      /* struct iovec array */
	IO_MSG,      /* struct user_msghdr */
	IO_SENDFILE, /* bytes from a file: counted, not seen */
};

struct io_args {
	__u64 sk;
	__u64 socket_ino; /* the inode number of sk's socket, from the descriptor's file (0: unknown) */
	__u64 ptr;
	__u64 len; /* buffer length or iovec count */
	struct entry_request begun; /* a write whose entry began an exchange */
	__s32 syscall_nr;
	__u8 kind;
	__u8 in;
	__u8 pending;    /* set on entry, cleared on exit */
	__u8 ciphertext; /* inside an OpenSSL call: it moves TLS records, only its failure counts */
};

/* An OpenSSL read or write under way: its plaintext is folded when it returns. */
struct ssl_call {
	__u64 ssl;       /* the SSL * (0: no call under way) */
	__u64 buf;       /* the plaintext buffer */
	__u64 count_ptr; /* SSL_read_ex/SSL_write_ex: where the byte count goes (0: it is the return value) */
	__u64 sk;        /* the socket its own syscalls used (0: none, the bytes were buffered) */
	__u8 in;
};

struct thread_io {
	struct io_args call;
	struct ssl_call ssl;
	__u64 close_deferred_sk; /* closed inside this thread's call on it, or before: finished when the call returns */
	struct thread_server server; /* the latest server request this thread started */
	__u64 last_sk;           /* the tracked socket this thread moved bytes on last */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_io);
} inflight SEC(".maps");

/* The current thread's storage; 0 while it has none. */
static __always_inline struct thread_io *current_thread_io(void)
{
	return bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0, 0);
}

/* The current thread's storage, made if it has none yet; known: the caller's lookup already (or 0). */
static __always_inline struct thread_io *thread_io_made(struct thread_io *known)
{
	return known ? known
		     : bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
}
