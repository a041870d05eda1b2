/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The contract between the kernel side (bpf/) and the agent (obi-agent/):
 * one ring-buffer record per HTTP request/response exchange, one per closed connection, one per
 * segment retransmitted after an exchange's record went out; plus the drop counters.
 * Every offset is pinned by a static assertion; the Java decoder
 * (lab.obi.agent.capture.RecordLayout) mirrors the same numbers.
 */
#ifndef OBI_RECORD_H
#define OBI_RECORD_H

#define OBI_REQ_HEAD_MAX 1024  /* bytes of the request head a record can carry */
#define OBI_RESP_HEAD_MAX 256  /* bytes of the response head a record carries */
#define OBI_COMM_LEN 16

enum obi_direction {
	OBI_DIR_SERVER = 1, /* the process read the request and wrote the response */
	OBI_DIR_CLIENT = 2, /* the process wrote the request and read the response */
};

/* What the kernel saw; the verdict (aborted, abort kind, 499) is decided in user space. */
enum obi_flag {
	OBI_F_RESPONSE_COMPLETE = 1 << 0, /* framing says the whole response went through */
	OBI_F_PEER_FIN          = 1 << 1, /* peer closed its side while the exchange was open */
	OBI_F_RST_RECEIVED      = 1 << 2, /* peer reset the connection while the exchange was open */
	OBI_F_RST_SENT          = 1 << 3, /* this host reset the connection while the exchange was open */
	OBI_F_WRITE_ERROR       = 1 << 4, /* a write failed with EPIPE or ECONNRESET */
	OBI_F_LOCAL_CLOSE       = 1 << 5, /* this process closed the connection with the exchange open */
	OBI_F_UNTIL_CLOSE       = 1 << 6, /* response has no length: it ends when the server closes */
	OBI_F_CONN_CLOSED       = 1 << 7, /* record was emitted because the connection ended */
	OBI_F_NEXT_REQUEST      = 1 << 8, /* record was emitted because the next request started */
	OBI_F_HEAD_NO_BODY      = 1 << 9, /* 1xx/204/304 or HEAD: no body expected */
	OBI_F_CHUNKED           = 1 << 10,
	OBI_F_LOCAL_SHUTDOWN    = 1 << 11, /* this process half-closed (shutdown SHUT_WR) */
	OBI_F_PIPELINED         = 1 << 12, /* started by a response: its request came in an earlier read */
	OBI_F_REQUEST_ENDS_BLANK_LINE = 1 << 13, /* the request bytes moved so far end with CRLF CRLF */
	OBI_F_FIN_BEFORE_REQUEST = 1 << 14, /* the peer had sent its FIN before this request was read */
	OBI_F_WAIT_EXPIRED      = 1 << 15, /* reported after obi_config.peer_fin_wait_ns without the server's reaction */
};

/*
 * Every record has the layout of struct obi_exchange; kind says how to read it.
 * OBI_RECORD_CONNECTION, at the close of a tracked connection: start_ns = ESTABLISHED (or the first
 *   request, for a connection older than the agent), end_ns = the close, bytes_in/bytes_out and
 *   retransmits = the whole connection, request_index = its requests, flags = OBI_CF_*;
 *   pid/tid/comm/direction are those of its last exchange.
 * OBI_RECORD_LATE_RETRANSMIT: a data segment sent again after the record of exchange request_index
 *   went out (its response, as far as the server knows, was complete): first_retransmit_ns = when.
 */
enum obi_record_kind {
	OBI_RECORD_EXCHANGE = 0,
	OBI_RECORD_CONNECTION = 1,
	OBI_RECORD_LATE_RETRANSMIT = 2,
};

/* Connection records: how the connection ended. */
enum obi_connection_flag {
	OBI_CF_LOCAL_CLOSED_FIRST = 1 << 0, /* this side sent the first FIN */
	OBI_CF_PEER_CLOSED_FIRST  = 1 << 1, /* the peer sent the first FIN */
	OBI_CF_RST_RECEIVED       = 1 << 2, /* a reset came in at some point */
	OBI_CF_RST_SENT           = 1 << 3, /* this host sent a reset at some point */
};

struct obi_exchange {
	__u64 conn_id;            /*   0: unique per connection since the agent started */
	__u64 start_ns;           /*   8: CLOCK_MONOTONIC: first request bytes read (server) or written (client) */
	__u64 request_end_ns;     /*  16: last request bytes */
	__u64 response_start_ns;  /*  24: first response bytes */
	__u64 end_ns;             /*  32: last response bytes, or when the exchange was closed */
	__u64 fin_ns;             /*  40: peer FIN while open (0: none) */
	__u64 rst_ns;             /*  48: RST received while open (0: none) */
	__u64 write_error_ns;     /*  56: failed write while open (0: none) */
	__u64 bytes_in;           /*  64: bytes this process read during the exchange */
	__u64 bytes_out;          /*  72: bytes this process wrote during the exchange */
	__u64 response_bytes_at_abandon; /* 80: response bytes moved when the first of fin/rst/write error happened */
	__u64 content_length;     /*  88: response Content-Length (~0ULL: unknown) */
	__u32 pid;                /*  96: tgid */
	__u32 tid;                /* 100: thread that started the exchange */
	__u32 request_index;      /* 104: 1-based index of this request on its connection */
	__u32 flags;              /* 108: enum obi_flag */
	__u16 status;             /* 112: response status parsed in the kernel (0: none seen) */
	__u16 family;             /* 114: AF_INET or AF_INET6 */
	__u16 local_port;         /* 116: host order */
	__u16 peer_port;          /* 118: host order */
	__u8 local_addr[16];      /* 120: IPv4 as v4-mapped IPv6 */
	__u8 peer_addr[16];       /* 136 */
	char comm[OBI_COMM_LEN];  /* 152 */
	__u16 req_head_len;       /* 168: valid bytes in req_head */
	__u16 resp_head_len;      /* 170: valid bytes in resp_head */
	__u8 direction;           /* 172: enum obi_direction */
	__u8 kind;                /* 173: enum obi_record_kind */
	__u8 _pad[2];             /* 174 */
	__u8 resp_head[OBI_RESP_HEAD_MAX]; /* 176 */
	/* Client side: the server exchange in flight on the same thread when this one started
	 * (0: none, or the thread serves several requests at once and the link would be a guess). */
	__u64 parent_conn_id;              /* 432 */
	__u32 parent_request_index;        /* 440 */
	__u32 retransmits;                 /* 444: TCP segments this host retransmitted while the exchange was open */
	__u64 first_retransmit_ns;         /* 448: first of them (0: none) */
	__u64 last_retransmit_ns;          /* 456: last of them (0: none) */
	/* Connection facts, kept across the exchanges of a connection (0: it was established before the agent). */
	__u64 established_ns;              /* 464: the connection reached ESTABLISHED */
	__u64 connect_ns;                  /* 472: client side: from the first SYN to ESTABLISHED, SYN retries included */
	__u32 srtt_us;                     /* 480: smoothed RTT when the record was emitted (0: no sample yet) */
	__u32 syn_retransmits;             /* 484: client side: SYNs sent again before the handshake completed */
	__u8 req_head[OBI_REQ_HEAD_MAX];   /* 488: last, so records are sent only as long as needed */
};

#define OBI_RECORD_FIXED_LEN 488

_Static_assert(__builtin_offsetof(struct obi_exchange, pid) == 96, "layout");
_Static_assert(__builtin_offsetof(struct obi_exchange, status) == 112, "layout");
_Static_assert(__builtin_offsetof(struct obi_exchange, local_addr) == 120, "layout");
_Static_assert(__builtin_offsetof(struct obi_exchange, comm) == 152, "layout");
_Static_assert(__builtin_offsetof(struct obi_exchange, req_head_len) == 168, "layout");
_Static_assert(__builtin_offsetof(struct obi_exchange, direction) == 172, "layout");
_Static_assert(__builtin_offsetof(struct obi_exchange, kind) == 173, "layout");
_Static_assert(__builtin_offsetof(struct obi_exchange, resp_head) == 176, "layout");
_Static_assert(__builtin_offsetof(struct obi_exchange, parent_conn_id) == 432, "layout");
_Static_assert(__builtin_offsetof(struct obi_exchange, first_retransmit_ns) == 448, "layout");
_Static_assert(__builtin_offsetof(struct obi_exchange, srtt_us) == 480, "layout");
_Static_assert(__builtin_offsetof(struct obi_exchange, req_head) == OBI_RECORD_FIXED_LEN, "layout");
_Static_assert(sizeof(struct obi_exchange) == OBI_RECORD_FIXED_LEN + OBI_REQ_HEAD_MAX, "layout");

/* Per-CPU counters (map "counters", BPF_MAP_TYPE_PERCPU_ARRAY of __u64), one slot each. */
enum obi_counter {
	OBI_C_RECORDS = 0,        /* records emitted */
	OBI_C_RINGBUF_FULL,       /* records lost: ring buffer full */
	OBI_C_CONN_TABLE_FULL,    /* connections not tracked: connection table full */
	OBI_C_ARGS_TABLE_FULL,    /* syscalls not seen: in-flight syscall table full */
	OBI_C_READ_FAULT,         /* user memory that could not be read */
	OBI_C_PEER_FIN_WAIT_EXPIRED, /* exchanges reported without knowing how the server reacted to the peer's FIN */
	OBI_C_COUNTERS_LEN,
};

/* Knobs set by the agent before load (section .rodata.config). */
struct obi_config {
	__u32 agent_tgid;         /* never observe the agent itself */
	__u32 req_head_len;       /* request bytes to capture, <= OBI_REQ_HEAD_MAX */
	__u64 peer_fin_wait_ns;   /* how long an exchange waits, after the peer's FIN, for the server to react */
};

#endif
