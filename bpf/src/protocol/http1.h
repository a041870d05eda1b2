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

static long scan_head(__u32 w, struct head_scan *s)
{
	return scan_head_word(w, s);
}

/* Status line seen: read the head once, keep its first bytes and work out where the body ends. */
static __always_inline void http1_begin_response(struct conn_state *st, const struct io_chunk *c, __u16 code,
						 __u64 now)
{
	__u32 zero = 0;
	struct head_bytes *buf = bpf_map_lookup_elem(&scan_scratch, &zero);
	__u32 n = c->data_len < OBI_HEAD_SCAN_MAX ? c->data_len : OBI_HEAD_SCAN_MAX;
	struct head_scan s = {};

	if (!buf)
		return;
	n &= OBI_HEAD_SCAN_MAX * 2 - 1;
	if (n > OBI_HEAD_SCAN_MAX)
		n = OBI_HEAD_SCAN_MAX;
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
	bpf_loop(OBI_HEAD_SCAN_MAX / 8, scan_head, &s, 0);
	head_content_length(&s);

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
 */
static __always_inline void http1_note_request_tail(struct conn_state *st, const struct io_chunk *c)
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
		st->req_tail = shift_in(st->req_tail, b[0]);
	}
}
