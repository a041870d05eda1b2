/* SPDX-License-Identifier: Apache-2.0 */
/* The maps every hook shares: records out, counters, the knobs, and the per-connection state. */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "obi_record.h"

#define OBI_MAX_CONNS 65536

const volatile struct obi_config obi_config SEC(".rodata.config") = {
	.agent_tgid = 0,
	.req_head_len = 512,
	.peer_fin_wait_ns = 60ULL * 1000000000,
};

/* Connection ids are unique for the life of the loaded object, unlike socket addresses. */
__u64 next_conn_id = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OBI_C_COUNTERS_LEN);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

enum phase {
	PHASE_IDLE = 0,     /* between exchanges: next bytes must look like a request */
	PHASE_PARTIAL,      /* the bytes so far begin like a request line, a few bytes per read: not yet one */
	PHASE_REQUEST,      /* request seen, waiting for the response */
	PHASE_RESPONSE,     /* response under way */
	PHASE_AWAIT_CLOSE,  /* response complete after a peer FIN: the close tells half-close from abandon */
	PHASE_GIVEN_UP,     /* reported after waiting too long for the server's reaction, or a request of a client not
			     * reported (unwatched.h): ignored until the close */
};

struct conn_state {
	struct obi_exchange_record rec; /* the exchange under way, and the connection's identity */
	/* Room after the record's heads so the verifier can prove bounded appends stay in the value. */
	__u8 slack[OBI_REQ_HEAD_MAX];
	__u64 resp_base;     /* response-direction bytes before the current status line */
	__u64 resp_expected; /* response-direction bytes at which the response is complete; 0: unknown */
	__u64 last_request_ns;
	__u64 sk;            /* the struct sock this state belongs to (the map key) */
	__u64 socket_ino;    /* and the socket that owned it then: a reused struct sock has another */
	__u64 peer_fin_ns;   /* the peer's FIN arrived, whether an exchange was open or not (0: not yet) */
	__u64 close_deferred_ns; /* TCP_CLOSE came inside a call on this socket, or before it was tracked: finished when the call returns */
	/* Server side, for the next exchange: when its request's first bytes arrived, when accept() returned. */
	__u64 next_queued_ns;
	__u64 accepted_ns;
	/* Server side, after a response was all written: the ACK that covers its last byte is awaited. */
	__u64 ack_wait_since_ns; /* the response's last write (0: nothing awaited) */
	__u32 ack_wait_seq;      /* the sequence number just past the response */
	__u32 ack_wait_index;    /* its exchange's request_index */
	__u32 ack_wait_retransmits;
	/* Client side: the request its thread was serving when it connected, for the first exchange. */
	__u64 connect_parent_conn_id;
	__u32 connect_parent_index;
	/* The whole connection, for its record at the close. */
	__u64 tracked_ns;
	__u64 conn_bytes[2]; /* [1] read, [0] written: indexed by direction, no branch for the verifier to follow */
	__u32 conn_retransmits;
	__u32 retrans_base;  /* the socket's total_retrans when the exchange began (records.h: retransmits_since_start) */
	__u32 conn_flags;    /* enum obi_connection_flag */
	__u32 req_tail;      /* the last four request bytes moved, to tell a finished head or chunked body */
	__u8 phase;
	__u8 head_request;   /* the request was HEAD: the response has no body */
	__u8 close_deferred_local;
	__u8 close_peer_fin; /* the deferred close is the peer's FIN after our half-close (tcp_state.h) */
	__u8 tls;            /* read through OpenSSL: the socket calls' bytes are TLS records, not HTTP */
	__u8 reset_wait;     /* the client reset before the answer: the server's next write or its close ends the exchange */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OBI_MAX_CONNS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64); /* struct sock * */
	__type(value, struct conn_state);
} conns SEC(".maps");

/* All-zero template: map values are too large to build on the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct conn_state);
} conn_template SEC(".maps");

static __always_inline void count(enum obi_counter c)
{
	__u32 key = c;
	__u64 *v = bpf_map_lookup_elem(&counters, &key);
	if (v)
		*v += 1;
}
