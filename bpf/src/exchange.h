/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-connection exchange assembly: bytes that move on a TCP connection are folded into the
 * exchange under way, and one record is emitted when it ends (response complete, next request,
 * or connection closed). The kernel keeps facts; user space decides the verdict.
 */
#ifndef OBI_EXCHANGE_H
#define OBI_EXCHANGE_H

#define RINGBUF_WAKEUP_BYTES (256 * 1024)

/* Bytes one syscall moved on a socket. */
struct io_chunk {
	__u64 sk;
	const __u8 *data;     /* first user buffer holding moved bytes; 0 for sendfile */
	__u32 data_len;       /* bytes valid at data */
	__u64 total;          /* bytes the syscall moved */
	const __u8 *tail_end; /* one past the last byte moved, when known */
	__u8 in;              /* 1: the process read them, 0: it wrote them */
};

static __always_inline __u64 response_bytes(const struct conn_state *st)
{
	return st->rec.direction == OBI_DIR_SERVER ? st->rec.bytes_out : st->rec.bytes_in;
}

static __always_inline void reset_exchange(struct conn_state *st)
{
	/* start_ns .. content_length: timestamps, byte counts and framing of the previous exchange */
	__builtin_memset(&st->rec.start_ns, 0,
			 __builtin_offsetof(struct obi_exchange, pid) - __builtin_offsetof(struct obi_exchange, start_ns));
	st->rec.flags = 0;
	st->rec.status = 0;
	st->rec.req_head_len = 0;
	st->rec.resp_head_len = 0;
	st->rec.parent_conn_id = 0;
	st->rec.parent_request_index = 0;
	st->rec.retransmits = 0;
	st->rec.first_retransmit_ns = 0;
	st->rec.last_retransmit_ns = 0;
	st->resp_base = 0;
	st->resp_expected = 0;
	st->req_tail = 0;
	st->head_request = 0;
	st->phase = PHASE_IDLE;
}

/* Waking the reader per record costs more than the record; it polls, and is woken when data piles up. */
static __always_inline __u64 wakeup_flag(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > RINGBUF_WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP
										       : BPF_RB_NO_WAKEUP;
}

static __always_inline void emit(struct conn_state *st, __u32 why)
{
	__u32 head = st->rec.req_head_len;

	if (head > OBI_REQ_HEAD_MAX)
		head = OBI_REQ_HEAD_MAX;
	st->rec.flags |= why;
	if (st->req_tail == OBI_CRLF_CRLF)
		st->rec.flags |= OBI_F_REQUEST_ENDS_BLANK_LINE;
	st->rec.srtt_us = smoothed_rtt_us(st->sk);
	if (bpf_ringbuf_output(&events, &st->rec, OBI_RECORD_FIXED_LEN + head, wakeup_flag()))
		count(OBI_C_RINGBUF_FULL);
	else
		count(OBI_C_RECORDS);
	reset_exchange(st);
}

/*
 * A record about the connection rather than an exchange: the connection's identity copied from its
 * state, built in ring-buffer memory (these fire in softirq too, where a per-CPU scratch buffer
 * could be in use by the interrupted program). Submit with send_connection_record().
 */
static __always_inline struct obi_exchange *connection_record(const struct conn_state *st, __u8 kind)
{
	struct obi_exchange *r = bpf_ringbuf_reserve(&events, OBI_RECORD_FIXED_LEN, 0);

	if (!r) {
		count(OBI_C_RINGBUF_FULL);
		return 0;
	}
	if (bpf_probe_read_kernel(r, OBI_RECORD_FIXED_LEN, &st->rec)) {
		bpf_ringbuf_discard(r, 0);
		count(OBI_C_READ_FAULT);
		return 0;
	}
	r->kind = kind;
	r->req_head_len = 0;
	r->srtt_us = smoothed_rtt_us(st->sk);
	return r;
}

static __always_inline void send_connection_record(struct obi_exchange *r)
{
	bpf_ringbuf_submit(r, wakeup_flag());
	count(OBI_C_RECORDS);
}

/* Called between exchanges: the last exchange's record is out, so what is sent again is the tail of its response. */
static __always_inline void emit_late_retransmit(const struct conn_state *st, __u64 now)
{
	struct obi_exchange *r = connection_record(st, OBI_RECORD_LATE_RETRANSMIT);

	if (!r)
		return;
	r->retransmits = 1;
	r->first_retransmit_ns = now;
	r->last_retransmit_ns = now;
	send_connection_record(r);
}

static __always_inline void emit_connection_closed(const struct conn_state *st, __u64 now)
{
	struct obi_exchange *r = connection_record(st, OBI_RECORD_CONNECTION);

	if (!r)
		return;
	r->start_ns = st->rec.established_ns ? st->rec.established_ns : st->tracked_ns;
	r->end_ns = now;
	r->bytes_in = st->conn_bytes[1];
	r->bytes_out = st->conn_bytes[0];
	r->retransmits = st->conn_retransmits;
	r->first_retransmit_ns = 0;
	r->last_retransmit_ns = 0;
	r->flags = st->conn_flags;
	r->status = 0;
	send_connection_record(r);
}

static __always_inline struct conn_state *track_connection(__u64 sk)
{
	__u32 zero = 0;
	struct conn_state *tmpl = bpf_map_lookup_elem(&conn_template, &zero);

	if (!tmpl)
		return 0;
	if (bpf_map_update_elem(&conns, &sk, tmpl, BPF_NOEXIST) && !bpf_map_lookup_elem(&conns, &sk)) {
		count(OBI_C_CONN_TABLE_FULL);
		return 0;
	}
	struct conn_state *st = bpf_map_lookup_elem(&conns, &sk);
	if (!st)
		return 0;
	st->rec.conn_id = __sync_fetch_and_add(&next_conn_id, 1) + 1;
	st->sk = sk;
	st->tracked_ns = bpf_ktime_get_ns();
	if (peer_has_closed(sk))
		st->peer_fin_ns = st->tracked_ns; /* its FIN came before anything was tracked */
	fill_addresses(&st->rec, sk);
	take_handshake(&st->rec, sk);
	return st;
}

static __always_inline void append_request_head(struct conn_state *st, const __u8 *data, __u32 len)
{
	__u32 want = obi_config.req_head_len;
	__u32 have = st->rec.req_head_len;

	if (!data || want > OBI_REQ_HEAD_MAX)
		want = data ? OBI_REQ_HEAD_MAX : 0;
	if (have >= want)
		return;
	__u32 n = want - have;
	if (n > len)
		n = len;
	have &= OBI_REQ_HEAD_MAX - 1;
	n &= OBI_REQ_HEAD_MAX * 2 - 1;
	if (n > OBI_REQ_HEAD_MAX)
		n = OBI_REQ_HEAD_MAX;
	if (bpf_probe_read_user(&st->rec.req_head[have], n, data)) {
		count(OBI_C_READ_FAULT);
		return;
	}
	st->rec.req_head_len = have + n;
}

static __always_inline void start_exchange(struct conn_state *st, __u8 direction, __u64 start_ns)
{
	__u64 id = bpf_get_current_pid_tgid();

	st->phase = PHASE_REQUEST;
	st->rec.direction = direction;
	st->rec.start_ns = start_ns;
	st->rec.request_end_ns = start_ns;
	st->rec.request_index += 1;
	st->rec.content_length = ~0ULL;
	st->rec.pid = id >> 32;
	st->rec.tid = (__u32)id;
	bpf_get_current_comm(st->rec.comm, sizeof(st->rec.comm));
	if (st->peer_fin_ns && direction == OBI_DIR_SERVER) {
		/* The client had closed its side already: from this request's point of view, at once. */
		st->rec.fin_ns = start_ns;
		st->rec.flags |= OBI_F_PEER_FIN | OBI_F_FIN_BEFORE_REQUEST;
	}
}

/*
 * The last four request bytes, so user space can tell a head that ended (or a chunked body's last
 * chunk) from one cut short; a client sending a few bytes per read is followed byte by byte.
 */
static __always_inline void note_request_tail(struct conn_state *st, const struct io_chunk *c)
{
	__u8 b[4] = {};

	if (!c->tail_end) {
		st->req_tail = 0;
		return;
	}
	if (c->total >= 4) {
		if (bpf_probe_read_user(b, sizeof(b), c->tail_end - 4)) {
			st->req_tail = 0;
			return;
		}
		st->req_tail = (__u32)b[0] << 24 | (__u32)b[1] << 16 | (__u32)b[2] << 8 | b[3];
		return;
	}
	for (__u32 k = 0; k < 3; k++) {
		if (k >= c->total)
			break;
		if (bpf_probe_read_user(b, 1, c->tail_end - c->total + k)) {
			st->req_tail = 0;
			return;
		}
		st->req_tail = st->req_tail << 8 | b[0];
	}
}

/* A thread's server exchange: the parent of client calls the same thread makes meanwhile. */
struct thread_server {
	__u64 sk;
	__u64 conn_id;
	__u32 request_index;
	__u8 concurrent; /* two server requests were in flight on this thread at once: an event loop */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_server);
} thread_servers SEC(".maps");

static __always_inline int server_in_flight(const struct thread_server *ts)
{
	__u64 sk = ts->sk;
	struct conn_state *st = bpf_map_lookup_elem(&conns, &sk);

	return st && st->rec.conn_id == ts->conn_id && st->rec.request_index == ts->request_index &&
	       (st->phase == PHASE_REQUEST || st->phase == PHASE_RESPONSE);
}

/* Called when an exchange starts from its request bytes, on the thread that moved them. */
static __always_inline void link_to_thread(struct conn_state *st, __u64 sk)
{
	struct task_struct *task = bpf_get_current_task_btf();

	if (st->rec.direction == OBI_DIR_SERVER) {
		struct thread_server *ts =
			bpf_task_storage_get(&thread_servers, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!ts)
			return;
		if (ts->sk && ts->sk != sk && server_in_flight(ts))
			ts->concurrent = 1;
		ts->sk = sk;
		ts->conn_id = st->rec.conn_id;
		ts->request_index = st->rec.request_index;
		return;
	}
	struct thread_server *ts = bpf_task_storage_get(&thread_servers, task, 0, 0);
	if (ts && !ts->concurrent && ts->sk && server_in_flight(ts)) {
		st->rec.parent_conn_id = ts->conn_id;
		st->rec.parent_request_index = ts->request_index;
	}
}

static __always_inline void add_bytes(struct conn_state *st, const struct io_chunk *c)
{
	if (c->in)
		st->rec.bytes_in += c->total;
	else
		st->rec.bytes_out += c->total;
}

/* Status line seen: read the head once, keep its first bytes and work out where the body ends. */
static __always_inline void begin_response(struct conn_state *st, const struct io_chunk *c, __u16 code, __u64 now)
{
	__u32 zero = 0;
	struct scan_buf *buf = bpf_map_lookup_elem(&scan_scratch, &zero);
	__u32 n = c->data_len < OBI_SCAN_MAX ? c->data_len : OBI_SCAN_MAX;
	struct head_scan s = {};

	if (!buf)
		return;
	n &= OBI_SCAN_MAX * 2 - 1;
	if (n > OBI_SCAN_MAX)
		n = OBI_SCAN_MAX;
	if (bpf_probe_read_user(buf->data, n, c->data)) {
		count(OBI_C_READ_FAULT);
		return;
	}
	__u32 keep = n;
	if (keep > OBI_RESP_HEAD_MAX)
		keep = OBI_RESP_HEAD_MAX;
	bpf_probe_read_kernel(st->rec.resp_head, keep, buf->data);
	st->rec.resp_head_len = keep;

	s.buf = buf;
	s.len = n;
	scan_response_head(&s);

	st->phase = PHASE_RESPONSE;
	st->rec.status = code;
	st->rec.response_start_ns = now;
	st->rec.end_ns = now;
	st->rec.flags &= ~(OBI_F_HEAD_NO_BODY | OBI_F_CHUNKED | OBI_F_UNTIL_CLOSE);
	st->resp_base = response_bytes(st);
	st->resp_expected = 0;
	if (!s.header_len)
		return; /* head longer than the scan: the record ends with the next request or the close */
	if (code < 200 || code == 204 || code == 304 || st->head_request) {
		st->rec.flags |= code < 200 ? 0 : OBI_F_HEAD_NO_BODY;
		st->resp_expected = st->resp_base + s.header_len;
	} else if (s.has_length) {
		st->rec.content_length = s.content_length;
		st->resp_expected = st->resp_base + s.header_len + s.content_length;
	} else if (s.chunked) {
		st->rec.flags |= OBI_F_CHUNKED;
	} else {
		st->rec.flags |= OBI_F_UNTIL_CLOSE;
	}
}

static __always_inline void response_complete(struct conn_state *st)
{
	if (st->rec.status < 200) {
		/* 100 Continue and friends: the final response is still to come */
		st->phase = PHASE_REQUEST;
		st->resp_expected = 0;
		return;
	}
	st->rec.flags |= OBI_F_RESPONSE_COMPLETE;
	if (st->rec.flags & OBI_F_PEER_FIN)
		st->phase = PHASE_AWAIT_CLOSE; /* half-close or abandon: the close will tell */
	else
		emit(st, 0);
}

static __always_inline void peek_bytes(__u8 peek[PEEK_LEN], const struct io_chunk *c)
{
	__u32 n = c->data_len;

	if (n > PEEK_LEN)
		n = PEEK_LEN;
	if (c->data && n)
		bpf_probe_read_user(peek, n, c->data);
}

static __always_inline void on_data(const struct io_chunk *c, __u64 now)
{
	struct conn_state *st = bpf_map_lookup_elem(&conns, &c->sk);
	__u8 peek[PEEK_LEN] = {};

	if (st && st->phase == PHASE_GIVEN_UP) {
		st->conn_bytes[c->in & 1] += c->total;
		return;
	}

	peek_bytes(peek, c);
	int request = looks_like_request(peek);
	if (!st) {
		if (!request)
			return; /* not HTTP, or a connection that started before the agent: no state */
		st = track_connection(c->sk);
		if (!st)
			return;
	}
	st->conn_bytes[c->in & 1] += c->total;
	__u16 code = status_line_code(peek);

	if (st->phase == PHASE_IDLE || st->phase == PHASE_AWAIT_CLOSE) {
		if (request) {
			if (st->phase == PHASE_AWAIT_CLOSE)
				emit(st, OBI_F_NEXT_REQUEST);
			start_exchange(st, c->in ? OBI_DIR_SERVER : OBI_DIR_CLIENT, now);
			link_to_thread(st, c->sk);
			st->head_request = is_head_method(peek);
			st->last_request_ns = now;
			append_request_head(st, c->data, c->data_len);
			note_request_tail(st, c);
			add_bytes(st, c);
			return;
		}
		/* A status line with no request in between: pipelined requests read in one go earlier. */
		if (st->phase != PHASE_IDLE || !code || st->rec.request_index == 0 ||
		    c->in != (st->rec.direction == OBI_DIR_CLIENT))
			return;
		__u8 direction = st->rec.direction;
		start_exchange(st, direction, st->last_request_ns);
		st->rec.flags |= OBI_F_PIPELINED;
	}

	int request_direction = c->in == (st->rec.direction == OBI_DIR_SERVER);
	if (request_direction) {
		if (request && st->phase != PHASE_REQUEST) {
			emit(st, OBI_F_NEXT_REQUEST);
			start_exchange(st, c->in ? OBI_DIR_SERVER : OBI_DIR_CLIENT, now);
			link_to_thread(st, c->sk);
			st->head_request = is_head_method(peek);
			append_request_head(st, c->data, c->data_len);
		} else if (st->phase == PHASE_REQUEST) {
			append_request_head(st, c->data, c->data_len);
		}
		note_request_tail(st, c);
		st->last_request_ns = now;
		st->rec.request_end_ns = now;
		add_bytes(st, c);
		return;
	}

	if (code && st->phase == PHASE_RESPONSE && st->rec.status >= 200) {
		/* a new response while the previous one's end was not seen: pipelining or unknown framing */
		__u8 direction = st->rec.direction;
		emit(st, OBI_F_NEXT_REQUEST);
		start_exchange(st, direction, st->last_request_ns);
		st->rec.flags |= OBI_F_PIPELINED;
	}
	if (code && st->phase == PHASE_REQUEST)
		begin_response(st, c, code, now);
	else if (st->phase == PHASE_REQUEST)
		st->phase = PHASE_RESPONSE; /* bytes back without a status line: not ours to frame */
	add_bytes(st, c);
	st->rec.end_ns = now;

	if (st->resp_expected && response_bytes(st) >= st->resp_expected)
		response_complete(st);
	else if ((st->rec.flags & OBI_F_CHUNKED) && c->tail_end && ends_chunked_body(c->tail_end))
		response_complete(st);
}

/* The first of FIN, RST and write error fixes how much of the response had gone out. */
static __always_inline void note_abandon_point(struct conn_state *st)
{
	if (!st->rec.fin_ns && !st->rec.rst_ns && !st->rec.write_error_ns)
		st->rec.response_bytes_at_abandon = response_bytes(st);
}

static __always_inline int exchange_open(const struct conn_state *st)
{
	return st->phase == PHASE_REQUEST || st->phase == PHASE_RESPONSE;
}

static __always_inline void on_write_error(__u64 sk, __u64 now)
{
	struct conn_state *st = bpf_map_lookup_elem(&conns, &sk);

	if (!st || !exchange_open(st) || st->rec.write_error_ns)
		return;
	note_abandon_point(st);
	st->rec.write_error_ns = now;
	st->rec.flags |= OBI_F_WRITE_ERROR;
}

static __always_inline void on_peer_fin(struct conn_state *st, __u64 now)
{
	if (!exchange_open(st) || st->rec.fin_ns)
		return;
	note_abandon_point(st);
	st->rec.fin_ns = now;
	st->rec.flags |= OBI_F_PEER_FIN;
}

static __always_inline void on_reset_received(struct conn_state *st, __u64 now)
{
	if (st->phase == PHASE_IDLE || st->phase == PHASE_GIVEN_UP || st->rec.rst_ns)
		return;
	note_abandon_point(st);
	st->rec.rst_ns = now;
	st->rec.flags |= OBI_F_RST_RECEIVED;
}

/* This side ended the connection (or it ended under us): whatever is open is finished now. */
static __always_inline void on_connection_end(struct conn_state *st, __u64 now, int local)
{
	if (st->phase == PHASE_IDLE || st->phase == PHASE_GIVEN_UP)
		return;
	if (st->phase != PHASE_AWAIT_CLOSE && !(st->rec.flags & OBI_F_UNTIL_CLOSE))
		st->rec.end_ns = now;
	emit(st, OBI_F_CONN_CLOSED | (local ? OBI_F_LOCAL_CLOSE : 0));
}

/* TCP_CLOSE: the open exchange, then the connection's own record; the state goes. */
static __always_inline void finish_connection(struct conn_state *st, __u64 sk, __u64 now, int local)
{
	on_connection_end(st, now, local);
	emit_connection_closed(st, now);
	bpf_map_delete_elem(&conns, &sk);
}

/*
 * A write that a reset answered within the same call (loopback, a client long gone): the bytes it
 * moved are folded first, so a status line written after the client left is counted as written.
 */
static __always_inline void finish_deferred_close(__u64 sk)
{
	struct conn_state *st = bpf_map_lookup_elem(&conns, &sk);

	if (st && st->close_deferred_ns)
		finish_connection(st, sk, st->close_deferred_ns, st->close_deferred_local);
}

#endif
