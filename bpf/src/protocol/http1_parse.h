/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP/1.x as the kernel needs it, on plain bytes: is this a request line, a status line, where
 * does a head end and what framing does it declare. No BPF helpers and no maps, so the same code
 * is compiled and tested on the host (bpf/test/http1_parse_test.c).
 */
#pragma once

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#include "verifier.h"

#define PEEK_LEN 16
#define OBI_HEAD_SCAN_MAX 512 /* response head bytes scanned for status and framing */
#define OBI_CRLF_CRLF 0x0d0a0d0a /* the last four bytes of a head or a chunked body, first byte highest */

static __always_inline int is_tchar_start(__u8 c)
{
	return c > 0x20 && c < 0x7f;
}

/* Request line starts with a method, one space and the first byte of a target. */
static __always_inline int method_then_target(const __u8 b[PEEK_LEN], int m)
{
	/* constant m per call site: fixed offsets keep the verifier on plain stack reads */
	return b[m] == ' ' && is_tchar_start(b[m + 1]);
}

static __always_inline int looks_like_request(const __u8 b[PEEK_LEN])
{
	if (b[0] == 'G' && b[1] == 'E' && b[2] == 'T')
		return method_then_target(b, 3);
	if (b[0] == 'P' && b[1] == 'U' && b[2] == 'T')
		return method_then_target(b, 3);
	if (b[0] == 'P' && b[1] == 'O' && b[2] == 'S' && b[3] == 'T')
		return method_then_target(b, 4);
	if (b[0] == 'H' && b[1] == 'E' && b[2] == 'A' && b[3] == 'D')
		return method_then_target(b, 4);
	if (b[0] == 'P' && b[1] == 'A' && b[2] == 'T' && b[3] == 'C' && b[4] == 'H')
		return method_then_target(b, 5);
	if (b[0] == 'T' && b[1] == 'R' && b[2] == 'A' && b[3] == 'C' && b[4] == 'E')
		return method_then_target(b, 5);
	if (b[0] == 'D' && b[1] == 'E' && b[2] == 'L' && b[3] == 'E' && b[4] == 'T' && b[5] == 'E')
		return method_then_target(b, 6);
	if (b[0] == 'O' && b[1] == 'P' && b[2] == 'T' && b[3] == 'I' && b[4] == 'O' && b[5] == 'N' && b[6] == 'S')
		return method_then_target(b, 7);
	if (b[0] == 'C' && b[1] == 'O' && b[2] == 'N' && b[3] == 'N' && b[4] == 'E' && b[5] == 'C' && b[6] == 'T')
		return method_then_target(b, 7);
	return 0;
}

static __always_inline int is_head_method(const __u8 b[PEEK_LEN])
{
	return b[0] == 'H' && b[1] == 'E' && b[2] == 'A' && b[3] == 'D' && b[4] == ' ';
}

static __always_inline int is_digit(__u8 c)
{
	return c >= '0' && c <= '9';
}

/* "HTTP/1.x DDD": returns the status code, 0 if this is not a status line. */
static __always_inline __u16 status_line_code(const __u8 b[PEEK_LEN])
{
	if (b[0] != 'H' || b[1] != 'T' || b[2] != 'T' || b[3] != 'P' || b[4] != '/' || b[5] != '1' ||
	    b[6] != '.' || (b[7] != '0' && b[7] != '1') || b[8] != ' ')
		return 0;
	if (!is_digit(b[9]) || !is_digit(b[10]) || !is_digit(b[11]))
		return 0;
	__u16 code = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
	return code >= 100 && code <= 599 ? code : 0;
}

/* The first bytes of a response head, with slack for bounded look-ahead. */
struct head_bytes {
	__u8 data[OBI_HEAD_SCAN_MAX * 2];
};

struct head_scan {
	struct head_bytes *buf;
	__u32 len;
	__u32 line_start;
	__u32 header_len;     /* bytes up to and including the empty line; 0: not within the scan */
	__u64 content_length; /* valid when has_length */
	__u8 has_length;
	__u8 chunked;
};

static __always_inline int header_is(const struct head_bytes *buf, __u32 at, const char *name, __u32 name_len)
{
	for (__u32 k = 0; k < name_len; k++) {
		__u8 c = buf->data[(at + k) & (OBI_HEAD_SCAN_MAX * 2 - 1)];
		if ((c | 0x20) != (__u8)name[k])
			return 0;
	}
	return 1;
}

static __always_inline void scan_header_line(struct head_scan *s, __u32 at)
{
	/* "content-length:" needs 15 bytes plus a digit; stale bytes beyond len must not match */
	if (at + 16 > s->len || at >= OBI_HEAD_SCAN_MAX)
		return;
	if (header_is(s->buf, at, "content-length:", 15)) {
		__u64 v = 0;
		__u8 digits = 0;
		for (__u32 k = 15; k < 40; k++) {
			__u32 pos = at + k;
			if (pos >= s->len)
				break;
			__u8 c = s->buf->data[pos & (OBI_HEAD_SCAN_MAX * 2 - 1)];
			if (c == ' ' && !digits)
				continue;
			if (!is_digit(c))
				break;
			v = v * 10 + (c - '0');
			digits++;
		}
		if (digits && digits < 19) {
			s->content_length = v;
			s->has_length = 1;
		}
	} else if (header_is(s->buf, at, "transfer-encoding:", 18)) {
		s->chunked = 1; /* chunked is the only transfer coding HTTP/1.1 servers send last */
	}
}

/* One byte of the head scan: returns 1 once the scan is over (the empty line, or the end of the bytes). */
static __always_inline long scan_head_byte(__u32 i, struct head_scan *s)
{
	if (i >= s->len || i >= OBI_HEAD_SCAN_MAX)
		return 1;
	if (s->buf->data[verifier_bound(i, OBI_HEAD_SCAN_MAX - 1)] != '\n')
		return 0;
	__u32 line_len = i - s->line_start;
	if (s->line_start > 0 && line_len <= 1) {
		s->header_len = i + 1;
		return 1;
	}
	s->line_start = i + 1;
	scan_header_line(s, i + 1);
	return 0;
}

/* The last bytes of a chunked body: the zero-size chunk and the empty trailer. */
static __always_inline int is_last_chunk(const __u8 tail[5])
{
	return tail[0] == '0' && tail[1] == '\r' && tail[2] == '\n' && tail[3] == '\r' && tail[4] == '\n';
}

/* The last four bytes moved, kept as one number: b is the newest byte. */
static __always_inline __u32 shift_in(__u32 tail, __u8 b)
{
	return tail << 8 | b;
}
