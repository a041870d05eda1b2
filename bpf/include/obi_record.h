/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The contract between the kernel side (bpf/) and the agent (obi-agent/), its one source: the
 * ring-buffer records (a common header, then one struct per kind), their flags, the counters and
 * the knobs. The agent's layouts, flags, counter names, config offsets and map names are generated
 * from the BTF of the built object (bpf/gen_contract.py), and the agent checks the object it loads
 * against them at start-up.
 */
#pragma once

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define OBI_REQ_HEAD_MAX 1024  /* bytes of the request head a record can carry */
#define OBI_RESP_HEAD_MAX 256  /* bytes of the response head a record carries */
#define OBI_COMM_LEN 16

enum obi_record_kind {
	OBI_RECORD_EXCHANGE = 1,        /* struct obi_exchange_record */
	OBI_RECORD_CONNECTION = 2,      /* struct obi_connection_record */
	OBI_RECORD_LATE_RETRANSMIT = 3, /* struct obi_late_retransmit_record */
	OBI_RECORD_RESPONSE_ACKED = 4,  /* struct obi_response_acked_record */
	OBI_RECORD_CONNECT_FAILED = 5,  /* struct obi_connect_failed_record */
};

enum obi_direction {
	OBI_DIR_SERVER = 1, /* the process read the request and wrote the response */
	OBI_DIR_CLIENT = 2, /* the process wrote the request and read the response */
};

/* Every record starts with this. */
struct obi_record_header {
	__u8 kind;      /* enum obi_record_kind */
	__u8 direction; /* enum obi_direction: the side of the process that used the socket last */
	__u16 length;   /* bytes of the record, this header included */
	__u32 pid;      /* tgid of that process */
	__u64 conn_id;  /* unique per connection since the object was loaded */
};

/* The connection, and the name of the process that used it last. */
struct obi_socket {
	__u8 local_addr[16]; /* IPv4 as v4-mapped IPv6 */
	__u8 peer_addr[16];
	__u16 family;        /* AF_INET or AF_INET6 */
	__u16 local_port;    /* host order */
	__u16 peer_port;     /* host order */
	__u16 _pad;
	char comm[OBI_COMM_LEN];
};

/* What TCP did, CLOCK_MONOTONIC; 0: unknown or did not happen. */
struct obi_tcp_facts {
	__u64 first_retransmit_ns;
	__u64 last_retransmit_ns;
	__u64 established_ns;  /* the connection reached ESTABLISHED (0: before the agent) */
	__u64 connect_ns;      /* client side: first SYN to ESTABLISHED, SYN retries included */
	__u32 retransmits;     /* segments this host retransmitted: during the exchange, or over the connection's life */
	__u32 srtt_us;         /* smoothed RTT when the record was emitted (0: no sample yet) */
	__u32 syn_retransmits; /* client side: SYNs sent again before the handshake completed */
	__u32 _pad;
};

/* What the kernel saw of one exchange; the verdict (status, abandon) is decided in user space. */
enum obi_exchange_flag {
	OBI_F_RESPONSE_COMPLETE   = 1 << 0,  /* framing says the whole response went through */
	OBI_F_PEER_FIN            = 1 << 1,  /* peer closed its side while the exchange was open */
	OBI_F_RST_RECEIVED        = 1 << 2,  /* peer reset the connection while the exchange was open */
	OBI_F_RST_SENT            = 1 << 3,  /* this host reset the connection while the exchange was open */
	OBI_F_WRITE_ERROR         = 1 << 4,  /* a write failed with EPIPE or ECONNRESET */
	OBI_F_LOCAL_CLOSE         = 1 << 5,  /* this process closed the connection with the exchange open */
	OBI_F_UNTIL_CLOSE         = 1 << 6,  /* response has no length: it ends when the server closes */
	OBI_F_CONN_CLOSED         = 1 << 7,  /* emitted because the connection ended */
	OBI_F_NEXT_REQUEST        = 1 << 8,  /* emitted because the next request started */
	OBI_F_HEAD_NO_BODY        = 1 << 9,  /* 1xx/204/304 or HEAD: no body expected */
	OBI_F_CHUNKED             = 1 << 10,
	OBI_F_LOCAL_SHUTDOWN      = 1 << 11, /* this process half-closed (shutdown SHUT_WR) */
	OBI_F_PIPELINED           = 1 << 12, /* started by a response: its request came in an earlier read */
	OBI_F_REQUEST_ENDS_BLANK_LINE = 1 << 13, /* the request bytes moved so far end with CRLF CRLF */
	OBI_F_FIN_BEFORE_REQUEST  = 1 << 14, /* the peer had sent its FIN before this request was read */
	OBI_F_WAIT_EXPIRED        = 1 << 15, /* reported after obi_config.peer_fin_wait_ns without the server's reaction */
	OBI_F_TLS                 = 1 << 16, /* the bytes are the plaintext of OpenSSL calls: HTTPS */
};

/* One request/response exchange. CLOCK_MONOTONIC nanoseconds; 0: did not happen. */
struct obi_exchange_record {
	struct obi_record_header header;
	struct obi_socket socket;
	/* From start_ns to tcp: this exchange's own facts, cleared when the next one starts. */
	__u64 start_ns;                  /* first request bytes read (server) or written (client) */
	__u64 request_end_ns;            /* last request bytes */
	__u64 response_start_ns;         /* first response bytes */
	__u64 end_ns;                    /* last response bytes, or when the exchange was closed */
	__u64 queued_ns;                 /* server: the request's first bytes arrived in the socket (0: not seen) */
	__u64 accepted_ns;               /* server, a connection's first request: accept() returned it (0: not seen) */
	__u64 fin_ns;                    /* peer FIN while open */
	__u64 rst_ns;                    /* RST received while open */
	__u64 write_error_ns;            /* failed write while open */
	__u64 bytes_in;                  /* bytes this process read during the exchange */
	__u64 bytes_out;                 /* bytes this process wrote during the exchange */
	__u64 response_bytes_at_abandon; /* response bytes moved when the first of fin/rst/write error happened */
	__u64 content_length;            /* response Content-Length (~0ULL: unknown) */
	/* Client side: the server exchange in flight on the same thread when this one started (0: none,
	 * or the thread serves several requests at once and the link would be a guess). */
	__u64 parent_conn_id;
	__u32 parent_request_index;
	__u32 flags;                     /* enum obi_exchange_flag */
	__u16 status;                    /* response status parsed in the kernel (0: none seen) */
	__u16 resp_head_len;             /* valid bytes in resp_head: kept only while status is 0 */
	__u16 req_head_len;              /* valid bytes in req_head */
	__u16 _pad;
	__u32 tid;                       /* thread that started the exchange */
	__u32 request_index;             /* 1-based index of this request on its connection */
	struct obi_tcp_facts tcp;        /* retransmits and their times: this exchange's only */
	/* Records are sent only as long as needed: up to the request head's bytes, and past them to the
	 * response head only when the kernel could not read the status (rare: then the whole req_head goes). */
	__u8 req_head[OBI_REQ_HEAD_MAX];
	__u8 resp_head[OBI_RESP_HEAD_MAX];
};

/* How a connection ended. */
enum obi_connection_flag {
	OBI_CF_LOCAL_CLOSED_FIRST = 1 << 0, /* this side sent the first FIN */
	OBI_CF_PEER_CLOSED_FIRST  = 1 << 1, /* the peer sent the first FIN */
	OBI_CF_RST_RECEIVED       = 1 << 2, /* a reset came in at some point */
	OBI_CF_RST_SENT           = 1 << 3, /* this host sent a reset at some point */
	OBI_CF_TLS                = 1 << 4, /* its exchanges were read through OpenSSL */
};

/* A tracked connection at its close; its socket's process and side are those of its last exchange. */
struct obi_connection_record {
	struct obi_record_header header;
	struct obi_socket socket;
	__u64 start_ns;           /* ESTABLISHED, or the first request for a connection older than the agent */
	__u64 end_ns;             /* the close */
	__u64 bytes_in;           /* bytes the process read on it while tracked */
	__u64 bytes_out;
	__u32 requests;           /* exchanges it carried */
	__u32 flags;              /* enum obi_connection_flag */
	struct obi_tcp_facts tcp; /* retransmits: over the connection's whole life */
};

/* A data segment sent again after the record of exchange request_index went out: its response's tail. */
struct obi_late_retransmit_record {
	struct obi_record_header header;
	struct obi_socket socket;
	__u64 at_ns;
	__u32 request_index;
	__u32 srtt_us;
};

/*
 * The peer acknowledged the last byte of a server's response long after it was written (a
 * delayed ACK at most: 200 ms), or after a segment of it was sent again: the client's wait went on
 * past the exchange's record.
 */
struct obi_response_acked_record {
	struct obi_record_header header;
	struct obi_socket socket;
	__u64 end_ns;   /* the response's last write (the exchange's end_ns) */
	__u64 acked_ns; /* the ACK that covered it arrived */
	__u32 request_index;
	__u32 retransmits; /* segments sent again between end_ns and acked_ns */
	__u32 srtt_us;
	__u32 _pad;
};

/*
 * A connection that a thread opened while serving a request and that never reached ESTABLISHED (its
 * SYNs unanswered until it was given up): the request waited on it though no exchange ever started.
 * header.conn_id is 0: the connection was never tracked.
 */
struct obi_connect_failed_record {
	struct obi_record_header header;
	struct obi_socket socket;
	__u64 syn_sent_ns;
	__u64 end_ns;         /* the attempt ended (TCP_CLOSE) */
	__u64 parent_conn_id; /* the server request its thread was serving */
	__u32 parent_request_index;
	__u32 syn_retransmits;
};

/* Per-CPU counters (map "counters", BPF_MAP_TYPE_PERCPU_ARRAY of __u64), one slot each. */
enum obi_counter {
	OBI_C_RECORDS = 0,           /* records emitted */
	OBI_C_RINGBUF_FULL,          /* records lost: ring buffer full */
	OBI_C_CONN_TABLE_FULL,       /* connections not tracked: connection table full */
	OBI_C_ARGS_TABLE_FULL,       /* syscalls or OpenSSL calls not seen: no per-thread storage for the call */
	OBI_C_READ_FAULT,            /* user memory that could not be read */
	OBI_C_PEER_FIN_WAIT_EXPIRED, /* exchanges reported without knowing how the server reacted to the peer's FIN or reset */
	OBI_C_TLS_NO_SOCKET,         /* OpenSSL plaintext whose socket was never seen (served from its buffers) */
	OBI_C_CLOSE_MISSED,          /* connections whose close was finished late (a socket reused its struct sock, or the scan) */
	OBI_C_PROGRAM_SKIPPED,       /* program runs the kernel skipped (recursion_misses of bpf_prog_info): their events
				      * were not seen. Not counted by the programs: the agent reads it from the kernel */
	OBI_C_COUNTERS_LEN,
};

/* Knobs set by the agent before load (section .rodata.config). */
struct obi_config {
	__u32 agent_tgid;       /* never observe the agent itself */
	__u32 req_head_len;     /* request bytes to capture, <= OBI_REQ_HEAD_MAX */
	__u64 peer_fin_wait_ns; /* how long an exchange waits, after the peer's FIN, for the server to react */
};
