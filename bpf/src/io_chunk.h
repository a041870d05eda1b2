/* SPDX-License-Identifier: Apache-2.0 */
/* Bytes one call moved on a socket: what every protocol sees of the traffic. */
#pragma once

#include "vmlinux.h"

/*
 * The exchange a write began at its entry, before its bytes moved (conn_id 0: none): its exit
 * finishes that exchange's request instead of looking at the bytes again.
 */
struct entry_request {
	__u64 conn_id;
	__u64 counted;       /* request bytes counted at the entry: the first buffer's */
	__u32 request_index;
	__u32 _pad;
};

struct io_chunk {
	__u64 sk;
	__u64 socket_ino;     /* the inode number of sk's socket, when the call's file told it (0: unknown) */
	const __u8 *data;     /* first user buffer holding moved bytes; 0 for sendfile */
	__u32 data_len;       /* bytes valid at data */
	__u64 total;          /* bytes the call moved */
	const __u8 *tail_end; /* one past the last byte moved, when known */
	struct entry_request begun;
	__u8 in;              /* 1: the process read them, 0: it wrote them */
	__u8 tls;             /* the plaintext of an OpenSSL call, not bytes on the wire */
};
