/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-connection exchange assembly: bytes that move on a TCP connection are folded into the
 * exchange under way, and one record is emitted when it ends (response complete, next request,
 * or connection closed). The kernel keeps facts; user space decides the verdict.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "maps.h"
#include "conn.h"
#include "io_chunk.h"
#include "thread_io.h"
#include "sock.h"
#include "handshake.h"
#include "records.h"
#include "thread_link.h"
#include "arrival.h"
#include "unwatched.h"
#include "protocol/http1.h"

/*
 * A socket already closed when its first bytes are seen: a peer that sent its request and reset
 * before it was read, a request written onto a kept-alive connection the server had reset. No
 * state change will come to end it, so it ends when the call that found it returns, like a close
 * that came inside a write (io.h); a second such socket in one call is left to the scan.
 */
static __always_inline void close_at_call_exit(struct conn_state *st, __u64 sk)
{
	struct thread_io *t = current_thread_io();

	if (!t || t->close_deferred_sk)
		return;
	t->close_deferred_sk = sk;
	st->close_deferred_ns = st->tracked_ns;
	st->close_deferred_local = 0;
	if (reset_by_peer(sk))
		st->conn_flags |= OBI_CF_RST_RECEIVED;
}

/* count_refusal: a write's entry leaves a full table's refusal to the write's exit, which tries again: counted once. */
static __always_inline struct conn_state *track_connection(__u64 sk, __u64 known_ino, bool count_refusal)
{
	__u32 zero = 0;
	struct conn_state *tmpl = bpf_map_lookup_elem(&conn_template, &zero);

	if (!tmpl)
		return 0;
	if (bpf_map_update_elem(&conns, &sk, tmpl, BPF_NOEXIST) && !bpf_map_lookup_elem(&conns, &sk)) {
		if (count_refusal)
			count(OBI_C_CONN_TABLE_FULL);
		return 0;
	}
	struct conn_state *st = bpf_map_lookup_elem(&conns, &sk);
	if (!st)
		return 0;
	st->rec.header.conn_id = __sync_fetch_and_add(&next_conn_id, 1) + 1;
	st->sk = sk;
	st->socket_ino = socket_inode_unless_known(sk, known_ino);
	st->tracked_ns = bpf_ktime_get_ns();
	__u8 state = sock_state(sk);
	if (peer_has_closed(state))
		st->peer_fin_ns = st->tracked_ns; /* its FIN came before anything was tracked */
	else if (state == OBI_TCP_CLOSE)
		close_at_call_exit(st, sk);
	fill_addresses(&st->rec.socket, sk);
	struct handshake_facts facts = {};
	take_handshake(&st->rec.tcp, &facts, sk);
	st->accepted_ns = facts.accepted_ns;
	st->next_queued_ns = facts.first_data_ns;
	st->connect_parent_conn_id = facts.parent_conn_id;
	st->connect_parent_index = facts.parent_request_index;
	return st;
}

/*
 * A request written by a process whose calls are not reported (unwatched.h): its connection is
 * ignored until the close, whose record still goes out (user space forgets the connection then),
 * named after the process. An exchange still open on it is dropped: its process is not reported.
 */
static __always_inline void set_aside(struct conn_state *st)
{
	st->rec.header.direction = OBI_DIR_CLIENT;
	st->rec.header.pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(st->rec.socket.comm, sizeof(st->rec.socket.comm));
	st->phase = PHASE_GIVEN_UP;
}

/* Returns how many bytes it copied, from data on. */
static __always_inline __u32 append_request_head(struct conn_state *st, const __u8 *data, __u32 len)
{
	__u32 want = obi_config.req_head_len;
	__u32 have = st->rec.req_head_len;

	if (!data || want > OBI_REQ_HEAD_MAX)
		want = data ? OBI_REQ_HEAD_MAX : 0;
	if (have >= want)
		return 0;
	__u32 n = want - have;
	if (n > len)
		n = len;
	have &= OBI_REQ_HEAD_MAX - 1;
	n &= OBI_REQ_HEAD_MAX * 2 - 1;
	if (n > OBI_REQ_HEAD_MAX)
		n = OBI_REQ_HEAD_MAX;
	if (bpf_probe_read_user(&st->rec.req_head[have], n, data)) {
		count(OBI_C_READ_FAULT);
		return 0;
	}
	st->rec.req_head_len = have + n;
	return n;
}

static __always_inline void start_exchange(struct conn_state *st, __u8 direction, __u64 start_ns)
{
	__u64 id = bpf_get_current_pid_tgid();

	st->phase = PHASE_REQUEST;
	st->rec.header.direction = direction;
	st->rec.header.pid = id >> 32;
	st->rec.start_ns = start_ns;
	st->rec.request_end_ns = start_ns;
	st->rec.request_index += 1;
	st->rec.content_length = ~0ULL;
	st->retrans_base = KERNEL_FIELD(struct tcp_sock, st->sk, total_retrans);
	/* the name of the thread: read again only when another thread takes the connection */
	if (st->rec.tid != (__u32)id || !st->rec.socket.comm[0])
		bpf_get_current_comm(st->rec.socket.comm, sizeof(st->rec.socket.comm));
	st->rec.tid = (__u32)id;
	if (direction == OBI_DIR_SERVER)
		take_queue_times(st);
	if (st->peer_fin_ns && direction == OBI_DIR_SERVER) {
		/* The client had closed its side already: from this request's point of view, at once. */
		st->rec.fin_ns = start_ns;
		st->rec.flags |= OBI_F_PEER_FIN | OBI_F_FIN_BEFORE_REQUEST;
	}
}

/*
 * Request bytes that start an exchange, on the thread that moved them. prefetched: head bytes already
 * copied (read_request_head_and_peek). Returns the head bytes copied.
 */
static __always_inline __u32 begin_request(struct conn_state *st, const struct io_chunk *c, const __u8 peek[PEEK_LEN],
					   __u64 now, __u32 prefetched)
{
	start_exchange(st, c->in ? OBI_DIR_SERVER : OBI_DIR_CLIENT, now);
	link_to_thread(st, c->sk);
	st->head_request = is_head_method(peek);
	return prefetched ? prefetched : append_request_head(st, c->data, c->data_len);
}

/*
 * A server's read between exchanges, its hottest call: the bytes go straight into the record's
 * request head and the peek is taken from there, one read of the process's memory instead of two.
 * The peek as peek_bytes would read it: zeros past the bytes moved. Returns the bytes copied (0:
 * none, the peek is left to peek_bytes); the caller takes them back if they begin no request.
 */
static __always_inline __u32 read_request_head_and_peek(struct conn_state *st, const struct io_chunk *c,
							 __u8 peek[PEEK_LEN])
{
	__u32 n = append_request_head(st, c->data, c->data_len); /* req_head is empty between exchanges */

	if (!n)
		return 0;
	peek_of_copied(peek, st->rec.req_head, n);
	return n;
}

static __always_inline void add_bytes(struct conn_state *st, const struct io_chunk *c)
{
	if (c->in)
		st->rec.bytes_in += c->total;
	else
		st->rec.bytes_out += c->total;
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
	if (st->rec.flags & OBI_F_PEER_FIN) {
		st->phase = PHASE_AWAIT_CLOSE; /* half-close or abandon: the close will tell */
		return;
	}
	if (st->rec.header.direction == OBI_DIR_SERVER)
		await_ack(st);
	emit(st, 0);
}

static __always_inline void peek_bytes(__u8 peek[PEEK_LEN], const struct io_chunk *c)
{
	/* the bound goes through a register of its own: clang would pass the helper the untruncated 64 bits */
	__u32 n = verifier_bound(c->data_len < PEEK_LEN ? c->data_len : PEEK_LEN, PEEK_LEN * 2 - 1);

	if (n > PEEK_LEN)
		n = PEEK_LEN;
	if (c->data && n)
		bpf_probe_read_user(peek, n, c->data);
}

/* Request bytes that begin like a request line but are too few to tell: kept until they do, or cannot. */
static __always_inline void begin_partial(struct conn_state *st, const struct io_chunk *c, __u64 now)
{
	st->phase = PHASE_PARTIAL;
	st->rec.header.direction = c->in ? OBI_DIR_SERVER : OBI_DIR_CLIENT;
	st->rec.start_ns = now; /* the request began with its first byte */
	http1_note_request_tail(st, c, append_request_head(st, c->data, c->data_len));
	add_bytes(st, c);
}

/* Bytes that were no request after all: a new connection is forgotten, a kept-alive one waits again. */
static __always_inline void drop_partial(struct conn_state *st)
{
	if (st->rec.request_index) {
		reset_exchange(st);
		return;
	}
	__u64 sk = st->sk;
	bpf_map_delete_elem(&conns, &sk);
}

/* More bytes of a partial request line: an exchange once they look like a request, dropped once they cannot. */
static __always_inline void continue_partial(struct conn_state *st, const struct io_chunk *c, __u64 now)
{
	__u8 head[PEEK_LEN] = {};

	if (c->in != (st->rec.header.direction == OBI_DIR_SERVER)) {
		drop_partial(st); /* the other side spoke first: a protocol with a greeting, not HTTP */
		return;
	}
	http1_note_request_tail(st, c, append_request_head(st, c->data, c->data_len));
	add_bytes(st, c);
	__u32 n = st->rec.req_head_len;
	peek_of_copied(head, st->rec.req_head, n); /* past n: bytes of an earlier exchange's head */
	if (looks_like_request(head)) {
		start_exchange(st, st->rec.header.direction, st->rec.start_ns);
		link_to_thread(st, c->sk);
		st->head_request = is_head_method(head);
		st->last_request_ns = now;
		st->rec.request_end_ns = now;
	} else if (!could_begin_request(head, n)) {
		drop_partial(st);
	}
}

/* This side ended the connection (or it ended under us): whatever is open is finished now. */
static __always_inline void on_connection_end(struct conn_state *st, __u64 now, int local)
{
	if (!exchange_begun(st))
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

/* A response with no request in between: pipelined requests read in one go earlier. */
static __always_inline void start_pipelined(struct conn_state *st)
{
	__u8 direction = st->rec.header.direction;

	start_exchange(st, direction, st->last_request_ns);
	st->rec.queued_ns = 0; /* it came with an earlier request: it queued behind that one */
	st->rec.flags |= OBI_F_PIPELINED;
}

/* Where a call's iovecs are (IO_IOV, IO_MSG): 0 when they cannot be read. */
static __always_inline int call_iovecs(const struct io_args *a, __u64 *iov_ptr, __u64 *iov_cnt)
{
	*iov_ptr = a->ptr;
	*iov_cnt = a->len;
	if (a->kind == IO_MSG) {
		/* msg_iov and msg_iovlen only, adjacent: 16 bytes of the stack, not the whole header's 56 */
		struct {
			__u64 iov;
			__u64 iovlen;
		} vec = {};
		_Static_assert(__builtin_offsetof(struct user_msghdr, msg_iovlen) ==
				       __builtin_offsetof(struct user_msghdr, msg_iov) + sizeof(__u64),
			       "msg_iovlen follows msg_iov");
		if (bpf_probe_read_user(&vec, sizeof(vec), (void *)a->ptr + __builtin_offsetof(struct user_msghdr, msg_iov)))
			return 0;
		*iov_ptr = vec.iov;
		*iov_cnt = vec.iovlen;
	}
	return *iov_cnt != 0;
}

/* At a write's entry, nothing moved yet: its first buffer whole, the end of a single one. */
static __always_inline void resolve_first_buffer(const struct io_args *a, struct io_chunk *c)
{
	__u64 iov_ptr, iov_cnt;
	struct iovec iov = {};

	if (a->kind == IO_BUF) {
		c->data = (const __u8 *)a->ptr;
		c->data_len = a->len;
		c->tail_end = (const __u8 *)a->ptr + a->len;
		return;
	}
	if (!call_iovecs(a, &iov_ptr, &iov_cnt) || bpf_probe_read_user(&iov, sizeof(iov), (void *)iov_ptr))
		return;
	c->data = iov.iov_base;
	c->data_len = iov.iov_len;
	if (iov_cnt == 1)
		c->tail_end = (const __u8 *)iov.iov_base + iov.iov_len;
}

/*
 * A write that begins a request, at its entry. Once its bytes are in the socket the server can
 * answer, and a client that reads on another thread (the JDK's HttpClient) can read the answer
 * before this write's exit runs: begun at the exit, the request would come after its own answer.
 * Its first buffer is whole at the entry; the exit adds what moved (finish_entry_request).
 * Returns 1 and fills *out when it began one. A global function, like on_data.
 */
__noinline int on_request_write_entry(const struct io_args *a, struct entry_request *out)
{
	if (!a || !out)
		return 0;
	struct conn_state *st = bpf_map_lookup_elem(&conns, &a->sk);
	struct io_chunk c = {.sk = a->sk, .socket_ino = a->socket_ino};
	__u8 peek[PEEK_LEN] = {};

	/*
	 * Only where on_data would begin a request from these bytes: between exchanges, or a client's
	 * next request while its last answer had no framing the kernel could follow (a head split
	 * across reads). The rest waits for the exit.
	 */
	if (st && (is_stale(st, a->socket_ino) || st->tls ||
		   !(st->phase == PHASE_IDLE || st->phase == PHASE_AWAIT_CLOSE ||
		     (st->phase == PHASE_RESPONSE && st->rec.header.direction == OBI_DIR_CLIENT))))
		return 0;
	resolve_first_buffer(a, &c);
	/* a kept-alive client's next request, its hottest case: one read of its memory, as a server's read */
	__u32 prefetched = st && st->phase == PHASE_IDLE ? read_request_head_and_peek(st, &c, peek) : 0;
	if (!prefetched)
		peek_bytes(peek, &c);
	if (!looks_like_request(peek)) {
		if (prefetched)
			st->rec.req_head_len = 0;
		return 0;
	}
	if (!st) {
		st = track_connection(a->sk, a->socket_ino, false);
		if (!st)
			return 0;
	}
	if (client_unwatched()) {
		if (prefetched)
			st->rec.req_head_len = 0;
		set_aside(st);
		return 0;
	}
	if (st->phase != PHASE_IDLE)
		emit(st, OBI_F_NEXT_REQUEST);
	__u64 now = bpf_ktime_get_ns();
	http1_note_request_tail(st, &c, begin_request(st, &c, peek, now, prefetched));
	st->last_request_ns = now;
	st->rec.bytes_out += c.data_len;
	out->conn_id = st->rec.header.conn_id;
	out->request_index = st->rec.request_index;
	out->counted = c.data_len;
	return 1;
}

/* The exit of a write whose entry began the exchange: what it moved, while that exchange is open. */
static __always_inline void finish_entry_request(struct conn_state *st, const struct io_chunk *c, __u64 now)
{
	if (!st || st->rec.header.conn_id != c->begun.conn_id)
		return; /* the connection ended meanwhile */
	st->conn_bytes[0] += c->total;
	if (st->rec.request_index != c->begun.request_index || !exchange_begun(st))
		return; /* answered before this exit: its record went out with the bytes counted at the entry */
	st->rec.bytes_out += c->total - c->begun.counted;
	if (st->phase != PHASE_REQUEST)
		return;
	if (c->total < st->rec.req_head_len)
		st->rec.req_head_len = c->total; /* the head holds what moved: the rest comes with the next write */
	st->rec.request_end_ns = now;
	st->last_request_ns = now;
	if (c->total != c->begun.counted)
		http1_note_request_tail(st, c, 0); /* the entry noted the tail of its first buffer */
}

/* A write whose entry began an exchange and that moved nothing (EAGAIN, EINTR): its request is still to come. */
static __always_inline void undo_entry_request(__u64 sk, const struct entry_request *begun)
{
	struct conn_state *st = bpf_map_lookup_elem(&conns, &sk);

	if (!st || st->rec.header.conn_id != begun->conn_id || st->rec.request_index != begun->request_index ||
	    st->phase != PHASE_REQUEST)
		return;
	st->rec.request_index -= 1;
	reset_exchange(st);
}

/* Bytes of a tracked connection into its exchange: a request begun or continued, a response. */
static __always_inline void fold_into_exchange(struct conn_state *st, const struct io_chunk *c, const __u8 *peek,
					       int request, __u32 prefetched, __u32 head_len, __u64 now)
{
	__u16 code = status_line_code(peek);

	if (st->phase == PHASE_IDLE || st->phase == PHASE_AWAIT_CLOSE) {
		if (request) {
			if (st->phase == PHASE_AWAIT_CLOSE)
				emit(st, OBI_F_NEXT_REQUEST);
			__u32 copied = begin_request(st, c, peek, now, prefetched);
			st->last_request_ns = now;
			http1_note_request_tail(st, c, copied);
			add_bytes(st, c);
			return;
		}
		if (st->phase == PHASE_IDLE && c->in == (st->rec.header.direction == OBI_DIR_SERVER) &&
		    could_begin_request(peek, c->data_len)) {
			begin_partial(st, c, now); /* the next request on a kept-alive connection, a few bytes per read */
			return;
		}
		if (st->phase != PHASE_IDLE || !code || st->rec.request_index == 0 ||
		    c->in != (st->rec.header.direction == OBI_DIR_CLIENT))
			return;
		start_pipelined(st);
	}

	int request_direction = c->in == (st->rec.header.direction == OBI_DIR_SERVER);
	if (request_direction) {
		__u32 copied = 0;
		if (request && st->phase != PHASE_REQUEST) {
			emit(st, OBI_F_NEXT_REQUEST);
			copied = begin_request(st, c, peek, now, 0);
		} else if (st->phase == PHASE_REQUEST) {
			copied = append_request_head(st, c->data, c->data_len);
		}
		http1_note_request_tail(st, c, copied);
		st->last_request_ns = now;
		st->rec.request_end_ns = now;
		add_bytes(st, c);
		return;
	}

	if (code && st->phase == PHASE_RESPONSE && st->rec.status >= 200) {
		/* a new response while the previous one's end was not seen: pipelining or unknown framing */
		emit(st, OBI_F_NEXT_REQUEST);
		start_pipelined(st);
	}
	if (code && st->phase == PHASE_REQUEST)
		http1_begin_response(st, c, code, now, head_len);
	else if (st->phase == PHASE_REQUEST || (st->phase == PHASE_RESPONSE && !st->rec.status)) {
		st->phase = PHASE_RESPONSE; /* bytes back without a status line: not ours to frame */
		http1_keep_unframed_head(st, c);
	}
	add_bytes(st, c);
	st->rec.end_ns = now;

	if (http1_response_done(st, c))
		response_complete(st);
}

/*
 * A global function, not inlined: the verifier checks it once per program, from no state of its
 * caller, instead of each inlined copy along every path of the hook that leads to it (the
 * verifier's time is most of the agent's start-up).
 */
__noinline int on_data(const struct io_chunk *c, __u64 now)
{
	if (!c)
		return 0; /* the verifier takes a global function's pointer argument as possibly null */
	struct conn_state *st = bpf_map_lookup_elem(&conns, &c->sk);
	__u8 peek[PEEK_LEN] = {};

	if (st && is_stale(st, c->socket_ino)) {
		/* the connection it described closed unseen and its struct sock now serves this one */
		count(OBI_C_CLOSE_MISSED);
		finish_connection(st, c->sk, now, 0);
		st = 0;
	}

	if (c->begun.conn_id) {
		finish_entry_request(st, c, now);
		return 0;
	}
	if (st && st->tls && !c->tls)
		return 0; /* TLS records: their plaintext comes from the OpenSSL calls */
	if (st && st->phase == PHASE_GIVEN_UP) {
		st->conn_bytes[c->in & 1] += c->total;
		return 0;
	}
	if (st && st->phase == PHASE_PARTIAL) {
		st->conn_bytes[c->in & 1] += c->total;
		continue_partial(st, c, now);
		return 0;
	}
	/* The answer to an open request begins with a status line: its head is read once, for the peek and the scan. */
	__u32 head_len = 0;
	__u32 prefetched = 0;
	if (st && st->phase == PHASE_REQUEST && c->in == (st->rec.header.direction == OBI_DIR_CLIENT))
		head_len = http1_read_head_and_peek(c, peek);
	else if (st && st->phase == PHASE_IDLE && c->in && st->rec.header.direction == OBI_DIR_SERVER)
		prefetched = read_request_head_and_peek(st, c, peek);
	if (!head_len && !prefetched)
		peek_bytes(peek, c);
	int request = looks_like_request(peek);
	if (prefetched && !request) {
		st->rec.req_head_len = 0; /* no request after all: the paths below read what they need */
		prefetched = 0;
	}
	if (request && !c->in && client_unwatched()) {
		if (!st)
			st = track_connection(c->sk, c->socket_ino, true);
		if (st)
			set_aside(st);
		return 0;
	}
	if (!st) {
		int partial = !request && could_begin_request(peek, c->data_len);
		if (!request && !partial)
			return 0; /* not HTTP, or a connection that started before the agent: no state */
		st = track_connection(c->sk, c->socket_ino, true);
		if (!st)
			return 0;
		st->tls = c->tls;
		if (partial) {
			st->conn_bytes[c->in & 1] += c->total;
			begin_partial(st, c, now);
			return 0;
		}
	}
	fold_into_exchange(st, c, peek, request, prefetched, head_len, now);
	/* Counted last: a TCP_CLOSE on another CPU meanwhile finds these bytes taken from the socket but
	 * not counted, and leaves the exchange to this read (read_in_flight) rather than end it without them. */
	st->conn_bytes[c->in & 1] += c->total;
	return 0;
}

/* The first of FIN, RST and write error fixes how much of the response had gone out. */
static __always_inline void note_abandon_point(struct conn_state *st)
{
	if (!st->rec.fin_ns && !st->rec.rst_ns && !st->rec.write_error_ns)
		st->rec.response_bytes_at_abandon = response_bytes(st);
}

/*
 * A server's status line that failed to go out, the peer being gone: the status nginx logs, as it
 * logs the status it meant to send. The response starts there; no byte of it was moved.
 */
static __always_inline void note_unsent_status(struct conn_state *st, const __u8 *attempted, __u64 now)
{
	__u8 peek[PEEK_LEN];

	if (bpf_probe_read_user(peek, sizeof(peek), attempted))
		return;
	__u16 code = status_line_code(peek);
	if (code < 200)
		return; /* none, or an interim 1xx: no answer */
	st->phase = PHASE_RESPONSE;
	st->rec.status = code;
	st->rec.response_start_ns = now;
}

/* attempted: the first bytes the failed write tried to send (0: unknown). */
static __always_inline void on_write_error(__u64 sk, __u64 now, const __u8 *attempted)
{
	struct conn_state *st = bpf_map_lookup_elem(&conns, &sk);

	if (!st || !exchange_open(st))
		return;
	if (!st->rec.write_error_ns) {
		note_abandon_point(st);
		st->rec.write_error_ns = now;
		st->rec.flags |= OBI_F_WRITE_ERROR;
	}
	if (attempted && st->phase == PHASE_REQUEST && st->rec.header.direction == OBI_DIR_SERVER)
		note_unsent_status(st, attempted, now);
	if (st->reset_wait)
		finish_connection(st, sk, now, 0); /* the server's reaction to the reset: the exchange ends */
}

static __always_inline void on_peer_fin(struct conn_state *st, __u64 now)
{
	if (!st->peer_fin_ns)
		st->peer_fin_ns = now;
	if (!exchange_open(st) || st->rec.fin_ns)
		return;
	note_abandon_point(st);
	st->rec.fin_ns = now;
	st->rec.flags |= OBI_F_PEER_FIN;
}

static __always_inline void on_reset_received(struct conn_state *st, __u64 now)
{
	if (!exchange_begun(st) || st->rec.rst_ns)
		return;
	note_abandon_point(st);
	st->rec.rst_ns = now;
	st->rec.flags |= OBI_F_RST_RECEIVED;
}

/*
 * A write that a reset answered within the same call (loopback, a client long gone): the bytes it
 * moved are folded first, so a status line written after the client left is counted as written.
 * Also a socket found closed when tracked (close_at_call_exit): its call's bytes come first too.
 */
static __always_inline void finish_deferred_close(__u64 sk)
{
	struct conn_state *st = bpf_map_lookup_elem(&conns, &sk);

	if (!st || !st->close_deferred_ns)
		return;
	if (st->conn_flags & OBI_CF_RST_RECEIVED) /* before it was tracked: the exchange found it reset */
		on_reset_received(st, st->close_deferred_ns > st->rec.start_ns ? st->close_deferred_ns : st->rec.start_ns);
	if (st->close_peer_fin)
		on_peer_fin(st, st->close_deferred_ns);
	finish_connection(st, sk, st->close_deferred_ns, st->close_deferred_local);
}
