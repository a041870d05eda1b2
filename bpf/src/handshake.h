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

#define OBI_MAX_HANDSHAKES 16384

struct handshake {
	__u64 syn_sent_ns;     /* 0: server side */
	__u64 established_ns;  /* 0: handshake under way */
	__u64 accepted_ns;     /* server side: accept() returned it */
	__u64 first_data_ns;   /* server side: the first bytes arrived from the peer */
	__u32 syn_retransmits;
};

/* LRU: connections that never carry HTTP are never taken, and must not fill the table. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, OBI_MAX_HANDSHAKES);
	__type(key, __u64); /* struct sock * */
	__type(value, struct handshake);
} handshakes SEC(".maps");

static __always_inline void on_handshake_state(__u64 sk, int oldstate, int newstate, __u64 now)
{
	if (newstate == OBI_TCP_SYN_SENT) {
		struct handshake h = { .syn_sent_ns = now };
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
};

static __always_inline void take_handshake(struct obi_tcp_facts *tcp, struct handshake_facts *server, __u64 sk)
{
	struct handshake *h = bpf_map_lookup_elem(&handshakes, &sk);

	if (!h)
		return;
	tcp->established_ns = h->established_ns;
	if (h->syn_sent_ns && h->established_ns)
		tcp->connect_ns = h->established_ns - h->syn_sent_ns;
	tcp->syn_retransmits = h->syn_retransmits;
	server->accepted_ns = h->accepted_ns;
	server->first_data_ns = h->first_data_ns;
	bpf_map_delete_elem(&handshakes, &sk);
}
