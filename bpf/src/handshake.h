/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How a connection was established: connect time with SYN retries on the client side, the moment
 * it reached ESTABLISHED on both sides. State changes are rare next to reads and writes, so every
 * TCP connection of the host is followed here, before anyone knows whether it will carry HTTP;
 * the exchange takes the facts when its connection is first tracked.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "obi_record.h"
#include "sock.h"
#include "records.h"
#include "thread_link.h"

#define OBI_MAX_HANDSHAKES 16384

struct handshake {
	__u64 syn_sent_ns;     /* 0: server side */
	__u64 established_ns;  /* 0: handshake under way */
	__u64 accepted_ns;     /* server side: accept() returned it */
	__u64 first_data_ns;   /* server side: the first bytes arrived from the peer */
	__u32 syn_retransmits;
	/* Client side: who connected, and the server request its thread was serving (0: none). */
	__u32 pid;
	__u64 parent_conn_id;
	__u32 parent_request_index;
	char comm[OBI_COMM_LEN];
};

/* LRU: connections that never carry HTTP are never taken, and must not fill the table. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, OBI_MAX_HANDSHAKES);
	__type(key, __u64); /* struct sock * */
	__type(value, struct handshake);
} handshakes SEC(".maps");

/*
 * connect() runs on the thread that will use the connection: while serving a request, its latest
 * server request is what waits on it (an event loop connects right after reading the request).
 */
static __always_inline void note_connecting_request(struct handshake *h)
{
	struct thread_io *t = current_thread_io();
	const struct conn_state *server = t && t->server.sk ? server_state(&t->server) : 0;

	if (!server || server->phase != PHASE_REQUEST)
		return;
	h->parent_conn_id = t->server.conn_id;
	h->parent_request_index = t->server.request_index;
	h->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/* A request's connection that never got through: the request waited on it for nothing. */
static __always_inline void emit_connect_failed(__u64 sk, const struct handshake *h, __u64 now)
{
	struct obi_connect_failed_record *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);

	if (!r) {
		count(OBI_C_RINGBUF_FULL);
		return;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->header.kind = OBI_RECORD_CONNECT_FAILED;
	r->header.direction = OBI_DIR_CLIENT;
	r->header.length = sizeof(*r);
	r->header.pid = h->pid;
	fill_addresses(&r->socket, sk);
	__builtin_memcpy(r->socket.comm, h->comm, sizeof(r->socket.comm));
	r->syn_sent_ns = h->syn_sent_ns;
	r->end_ns = now;
	r->parent_conn_id = h->parent_conn_id;
	r->parent_request_index = h->parent_request_index;
	r->syn_retransmits = h->syn_retransmits;
	submit_record(r);
}

static __always_inline void on_handshake_state(__u64 sk, int oldstate, int newstate, __u64 now)
{
	if (newstate == OBI_TCP_SYN_SENT) {
		struct handshake h = { .syn_sent_ns = now };
		note_connecting_request(&h);
		bpf_map_update_elem(&handshakes, &sk, &h, BPF_ANY);
	} else if (newstate == OBI_TCP_ESTABLISHED) {
		struct handshake *h = bpf_map_lookup_elem(&handshakes, &sk);
		if (h) {
			h->established_ns = now;
		} else if (oldstate == OBI_TCP_SYN_RECV) {
			struct handshake accepted = { .established_ns = now };
			bpf_map_update_elem(&handshakes, &sk, &accepted, BPF_ANY);
		}
	} else if (newstate == OBI_TCP_CLOSE) {
		struct handshake *h = bpf_map_lookup_elem(&handshakes, &sk);
		if (h && h->syn_sent_ns && !h->established_ns && h->parent_conn_id)
			emit_connect_failed(sk, h, now);
		bpf_map_delete_elem(&handshakes, &sk);
	}
}

/* A retransmit before ESTABLISHED is a SYN sent again. */
static __always_inline void on_handshake_retransmit(__u64 sk)
{
	struct handshake *h = bpf_map_lookup_elem(&handshakes, &sk);

	if (h && !h->established_ns)
		__sync_fetch_and_add(&h->syn_retransmits, 1);
}

/* What the connection's first exchange needs of its handshake; the entry goes. */
struct handshake_facts {
	__u64 accepted_ns;
	__u64 first_data_ns;
	__u64 parent_conn_id; /* client side: the request its thread served when it connected */
	__u32 parent_request_index;
};

static __always_inline void take_handshake(struct obi_tcp_facts *tcp, struct handshake_facts *facts, __u64 sk)
{
	struct handshake *h = bpf_map_lookup_elem(&handshakes, &sk);

	if (!h)
		return;
	tcp->established_ns = h->established_ns;
	if (h->syn_sent_ns && h->established_ns)
		tcp->connect_ns = h->established_ns - h->syn_sent_ns;
	tcp->syn_retransmits = h->syn_retransmits;
	facts->accepted_ns = h->accepted_ns;
	facts->first_data_ns = h->first_data_ns;
	facts->parent_conn_id = h->parent_conn_id;
	facts->parent_request_index = h->parent_request_index;
	bpf_map_delete_elem(&handshakes, &sk);
}
