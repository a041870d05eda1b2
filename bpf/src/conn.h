/* SPDX-License-Identifier: Apache-2.0 */
/* Questions about a connection's exchange that every part of the state machine asks. */
#pragma once

#include "maps.h"
#include "sock.h"

static __always_inline __u64 response_bytes(const struct conn_state *st)
{
	return st->rec.header.direction == OBI_DIR_SERVER ? st->rec.bytes_out : st->rec.bytes_in;
}

static __always_inline int exchange_open(const struct conn_state *st)
{
	return st->phase == PHASE_REQUEST || st->phase == PHASE_RESPONSE;
}

/* An exchange that a record will report: open, or answered and waiting for the close to tell more. */
static __always_inline int exchange_begun(const struct conn_state *st)
{
	return exchange_open(st) || st->phase == PHASE_AWAIT_CLOSE;
}

/*
 * The state outlived its connection: its struct sock was freed unseen and now serves another socket.
 * known_ino: the inode number of the socket the bytes moved on, when the call's file told it (0: read it).
 */
static __always_inline int is_stale(const struct conn_state *st, __u64 known_ino)
{
	__u64 ino = socket_inode_unless_known(st->sk, known_ino);

	return st->socket_ino && ino && ino != st->socket_ino;
}
