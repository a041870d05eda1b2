/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which server request a client call belongs to. A thread-per-request server makes its downstream
 * calls on the handler's thread while the request is in flight. An event loop (nginx, a proxy)
 * serves many requests per thread; it forwards a request as soon as it has read it: the call's
 * first write follows that read with no other socket in between on a kept-alive connection, or
 * goes out on a connection opened after the request began. A connection opened while a request
 * waited for its upstream belongs to that request (handshake.h notes it at connect()).
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "maps.h"
#include "conn.h"
#include "thread_io.h"

static __always_inline const struct conn_state *server_state(const struct thread_server *ts)
{
	__u64 sk = ts->sk;
	struct conn_state *st = bpf_map_lookup_elem(&conns, &sk);

	if (!st || st->rec.header.conn_id != ts->conn_id || st->rec.request_index != ts->request_index)
		return 0;
	return st;
}

/* An event loop's request it has read and not begun to answer, that this call forwards. */
static __always_inline int forwarded_by_event_loop(const struct thread_io *t, const struct conn_state *server,
						   const struct conn_state *call)
{
	if (server->phase != PHASE_REQUEST)
		return 0;
	if (call->rec.request_index > 1)
		return t->last_sk == t->server.sk; /* a kept-alive connection, written right after the read */
	const struct obi_tcp_facts *tcp = &call->rec.tcp;
	__u64 syn_sent_ns = tcp->established_ns - tcp->connect_ns;
	return tcp->established_ns && tcp->connect_ns && syn_sent_ns >= t->server.start_ns;
}

/* Called when an exchange starts from its request bytes, on the thread that moved them. */
static __always_inline void link_to_thread(struct conn_state *st, __u64 sk)
{
	struct thread_io *t;

	if (st->rec.header.direction == OBI_DIR_SERVER) {
		t = thread_io_made(0);
		if (!t)
			return;
		struct thread_server *ts = &t->server;
		/* once an event loop, always one: its previous request need not be looked up again */
		const struct conn_state *previous = !ts->concurrent && ts->sk && ts->sk != sk ? server_state(ts) : 0;
		if (previous && exchange_open(previous))
			ts->concurrent = 1;
		ts->sk = sk;
		ts->conn_id = st->rec.header.conn_id;
		ts->request_index = st->rec.request_index;
		ts->start_ns = st->rec.start_ns;
		return;
	}
	if (st->rec.request_index == 1 && st->connect_parent_conn_id) {
		/* opened for a request: its connect may have taken long enough for the thread to move on */
		st->rec.parent_conn_id = st->connect_parent_conn_id;
		st->rec.parent_request_index = st->connect_parent_index;
		return;
	}
	t = current_thread_io();
	if (!t || !t->server.sk)
		return;
	const struct conn_state *server = server_state(&t->server);
	if (!server || !exchange_open(server))
		return;
	if (t->server.concurrent && !forwarded_by_event_loop(t, server, st))
		return;
	st->rec.parent_conn_id = t->server.conn_id;
	st->rec.parent_request_index = t->server.request_index;
}
