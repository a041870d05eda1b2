/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP/1.x in the kernel: where a response starts, how long it is, when it ended, and whether the
 * request's bytes ended. User space parses the heads the records carry.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "maps.h"
#include "conn.h"
#include "io_chunk.h"
#include "protocol/http1_parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct head_bytes);
} scan_scratch SEC(".maps");

/*
 * Four words per step of bpf_loop: each step is a call and a return, which cost more than a word's
 * scan where the CPU's mitigations make returns dear (AMD's Safe RET). The verifier checks the
 * callback once, so its four copies cost it little.
 */
#define OBI_SCAN_WORDS_PER_STEP 4

static long scan_head(__u32 step, struct head_scan *s)
{
	__u32 w = step * OBI_SCAN_WORDS_PER_STEP;

	return scan_head_word(w, s) || scan_head_word(w + 1, s) || scan_head_word(w + 2, s) ||
	       scan_head_word(w + 3, s);
}

/* This CPU's scan buffer, where a response's head is read and scanned. */
static __always_inline struct head_bytes *scan_buffer(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scan_scratch, &zero);
}

/* A response's first bytes, as many as the head scan takes, into buf: how many (0: not read). */
static __always_inline __u32 http1_read_head(struct head_bytes *buf, const struct io_chunk *c)
{
	__u32 n = c->data_len < OBI_HEAD_SCAN_MAX ? c->data_len : OBI_HEAD_SCAN_MAX;

	if (!c->data || !n)
		return 0;
	n &= OBI_HEAD_SCAN_MAX * 2 - 1;
	if (n > OBI_HEAD_SCAN_MAX)
		n = OBI_HEAD_SCAN_MAX;
	if (bpf_probe_read_user(buf->data, n, c->data))
		return 0;
	return n;
}

/*
 * The answer to an open request: its head read once for the peek and, if it starts with a status
 * line, the scan (http1_begin_response). The peek as peek_bytes would read it: zeros past the bytes
 * moved. Returns the bytes read (0: none, the peek is left to peek_bytes).
 */
static __always_inline __u32 http1_read_head_and_peek(const struct io_chunk *c, __u8 peek[PEEK_LEN])
{
	struct head_bytes *buf = scan_buffer();
	__u32 n = buf ? http1_read_head(buf, c) : 0;

	if (!n)
		return 0;
	peek_of_copied(peek, buf->data, n);
	return n;
}

/*
 * Status line seen: work out where the body ends (the head's bytes stay out of the record: user
 * space reads them only when the kernel could not read the status, http1_keep_unframed_head). n: the head's
 * bytes http1_read_head_and_peek left in the scan buffer (0: read them here). A global function:
 * the verifier checks it once, not along each path of on_data that reaches it.
 */
__noinline int http1_begin_response(struct conn_state *st, const struct io_chunk *c, __u16 code, __u64 now, __u32 n)
{
	struct head_scan s = {};

	if (!st || !c)
		return 0; /* the verifier takes a global function's pointer arguments as possibly null */
	struct head_bytes *buf = scan_buffer();
	if (buf && !n)
		n = http1_read_head(buf, c);
	if (!n || !buf) {
		count(OBI_C_READ_FAULT);
		return 0;
	}
	n = verifier_bound(n, OBI_HEAD_SCAN_MAX * 2 - 1);
	if (n > OBI_HEAD_SCAN_MAX)
		n = OBI_HEAD_SCAN_MAX;

	s.buf = buf;
	s.len = n;
	bpf_loop(OBI_HEAD_SCAN_MAX / 8 / OBI_SCAN_WORDS_PER_STEP, scan_head, &s, 0);
	head_content_length(&s);

	st->phase = PHASE_RESPONSE;
	st->rec.status = code;
	st->rec.response_start_ns = now;
	st->rec.end_ns = now;
	st->rec.flags &= ~(OBI_F_HEAD_NO_BODY | OBI_F_CHUNKED | OBI_F_UNTIL_CLOSE);
	st->resp_base = response_bytes(st);
	st->resp_expected = 0;
	if (!s.header_len)
		return 0; /* head longer than the scan: the record ends with the next request or the close */
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
	return 0;
}

/*
 * An answer whose first read was too short for its status line (the JDK's HttpClient reading into
 * the last bytes of its buffer): its first bytes are kept across reads, and user space reads the
 * status from them. Its framing is lost: the next request or the close ends it.
 */
static __always_inline void http1_keep_unframed_head(struct conn_state *st, const struct io_chunk *c)
{
	__u32 have = st->rec.resp_head_len;

	if (st->rec.status || have >= OBI_RESP_HEAD_MAX || !c->data)
		return;
	__u32 n = OBI_RESP_HEAD_MAX - have;
	if (n > c->data_len)
		n = c->data_len;
	have = verifier_bound(have, OBI_RESP_HEAD_MAX - 1);
	n = verifier_bound(n, OBI_RESP_HEAD_MAX * 2 - 1);
	if (n > OBI_RESP_HEAD_MAX)
		n = OBI_RESP_HEAD_MAX;
	if (!n)
		return;
	if (bpf_probe_read_user(&st->rec.resp_head[have], n, c->data)) {
		count(OBI_C_READ_FAULT);
		return;
	}
	st->rec.resp_head_len = have + n;
}

/* The response's last byte has moved, as its framing tells. */
static __always_inline int http1_response_done(const struct conn_state *st, const struct io_chunk *c)
{
	__u8 tail[5] = {};

	if (st->resp_expected)
		return response_bytes(st) >= st->resp_expected;
	if (!(st->rec.flags & OBI_F_CHUNKED) || !c->tail_end)
		return 0;
	return !bpf_probe_read_user(tail, sizeof(tail), c->tail_end - 5) && is_last_chunk(tail);
}

/*
 * The last four request bytes, so user space can tell a head that ended (or a chunked body's last
 * chunk) from one cut short; a client sending a few bytes per read is followed byte by byte.
 * copied: the chunk's bytes the request head has just taken; when they are the chunk's last, the
 * tail is read from the head, not from the process again.
 */
static __always_inline void http1_note_request_tail(struct conn_state *st, const struct io_chunk *c, __u32 copied)
{
	__u8 b[4] = {};

	if (!c->tail_end) {
		st->req_tail = 0;
		return;
	}
	if (copied >= 4 && c->data + copied == c->tail_end) {
		/* the head ends with the copied bytes; resp_head and the slack after it keep the read in the value */
		const __u8 *last = &st->rec.req_head[(st->rec.req_head_len - 4) & (OBI_REQ_HEAD_MAX - 1)];
		st->req_tail = (__u32)last[0] << 24 | (__u32)last[1] << 16 | (__u32)last[2] << 8 | last[3];
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
		st->req_tail = shift_in(st->req_tail, b[0]);
	}
}
