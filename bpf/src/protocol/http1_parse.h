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

/* The peek of n bytes already copied to bytes (at least PEEK_LEN long): zeros past the n, as a read of n would leave it. */
static __always_inline void peek_of_copied(__u8 peek[PEEK_LEN], const __u8 *bytes, __u32 n)
{
	__builtin_memcpy(peek, bytes, PEEK_LEN);
	for (__u32 k = 0; k < PEEK_LEN; k++)
		if (k >= n)
			peek[k] = 0;
}

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

/* b[0..n) equals the first n bytes of method + " " (n at most its length + 1). */
static __always_inline int method_prefix(const __u8 b[PEEK_LEN], __u32 n, const char *method, __u32 len)
{
	for (__u32 k = 0; k < PEEK_LEN; k++) {
		if (k >= n || k > len)
			break;
		if (b[k] != (k == len ? ' ' : (__u8)method[k]))
			return 0;
	}
	return n <= len + 1;
}

/*
 * The n bytes a request has sent so far are too few for looks_like_request, but a request line may
 * begin with them: a slow client, or small segments, sending its request a few bytes per read.
 */
static __always_inline int could_begin_request(const __u8 b[PEEK_LEN], __u32 n)
{
	if (n == 0 || n >= PEEK_LEN)
		return 0;
	return method_prefix(b, n, "GET", 3) || method_prefix(b, n, "PUT", 3) || method_prefix(b, n, "POST", 4) ||
	       method_prefix(b, n, "HEAD", 4) || method_prefix(b, n, "PATCH", 5) || method_prefix(b, n, "TRACE", 5) ||
	       method_prefix(b, n, "DELETE", 6) || method_prefix(b, n, "OPTIONS", 7) ||
	       method_prefix(b, n, "CONNECT", 7);
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

/*
 * A response head scanned 8 bytes at a time: per byte, the scan was the largest part of what the
 * agent cost a server. Words are read with little-endian loads (byte k of a word is bits 8k..8k+7)
 * and tested for line ends with bit operations; only header lines are compared, 8 bytes at once.
 */
struct head_scan {
	struct head_bytes *buf;
	__u32 len;
	__u32 header_len;     /* bytes up to and including the empty line; 0: not within the scan */
	__u32 length_at;      /* where the Content-Length value starts (0: no such header) */
	__u64 content_length; /* valid when has_length (head_content_length) */
	__u64 before;         /* the previous word's line-end and CR marks, for an empty line across words */
	__u8 has_length;
	__u8 chunked;
};

#define OBI_ONES 0x0101010101010101ULL
#define OBI_LOW7 0x7f7f7f7f7f7f7f7fULL
#define OBI_LOWER 0x2020202020202020ULL /* | on letters, '-' and ':' makes them lower case, or leaves them */
#define OBI_LE8(a, b, c, d, e, f, g, h)                                                                     \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 | (__u64)(e) << 32 |              \
	 (__u64)(f) << 40 | (__u64)(g) << 48 | (__u64)(h) << 56)

/* 0x80 in each byte of word that equals c, exactly (no borrow from one byte into the next). */
static __always_inline __u64 bytes_equal(__u64 word, __u8 c)
{
	__u64 x = word ^ (c * OBI_ONES);
	return ~(((x & OBI_LOW7) + OBI_LOW7) | x | OBI_LOW7);
}

/* The index of the lowest marked byte: its bit 8k+7 alone, times a constant whose byte 7-k is k. */
static __always_inline __u32 lowest_marked_byte(__u64 marks)
{
	__u64 lowest = (marks & (~marks + 1)) >> 7;
	return ((lowest * 0x0001020304050607ULL) >> 56) & 7;
}

/*
 * One 8-byte load. From &data[at] clang would keep the byte array's alignment and load the word a
 * byte at a time (8 loads and 14 shifts, most of the scan's time); through an integer address it
 * cannot. The load may be unaligned: x86 and arm64 allow it, and so does the verifier there.
 */
static __always_inline __u64 head_load(const struct head_scan *s, __u32 at)
{
	unsigned long address = (unsigned long)s->buf->data + verifier_bound(at, OBI_HEAD_SCAN_MAX - 1);

	return *(const __u64 *)address;
}

/* A header line that starts at: the two that frame a body are noted. */
static __always_inline void scan_header_line(struct head_scan *s, __u32 at)
{
	/* "content-length:" needs 15 bytes plus a digit; stale bytes beyond len must not match */
	if (at + 16 > s->len || at >= OBI_HEAD_SCAN_MAX)
		return;
	__u64 a = head_load(s, at) | OBI_LOWER;
	__u64 b = head_load(s, at + 8) | OBI_LOWER;
	if (a == OBI_LE8('c', 'o', 'n', 't', 'e', 'n', 't', '-') &&
	    (b & 0x00ffffffffffffffULL) == OBI_LE8('l', 'e', 'n', 'g', 't', 'h', ':', 0))
		s->length_at = at + 15; /* parsed once the scan is over */
	else if (at + 18 <= s->len && a == OBI_LE8('t', 'r', 'a', 'n', 's', 'f', 'e', 'r') &&
		 b == OBI_LE8('-', 'e', 'n', 'c', 'o', 'd', 'i', 'n') &&
		 ((head_load(s, at + 16) | OBI_LOWER) & 0xffff) == OBI_LE8('g', ':', 0, 0, 0, 0, 0, 0))
		s->chunked = 1; /* chunked is the only transfer coding HTTP/1.1 servers send last */
}

/*
 * Word w (bytes 8w..8w+7) of the head: an empty line ("\n\n" or "\n\r\n", also across words)
 * ends the scan; the line that starts after its last line end is checked for a framing header. Driven
 * by the loop's index, not by a position kept from one step to the next, so the verifier need not
 * follow every step apart. Returns 1 once the scan is over (the empty line, or the end of the bytes).
 */
static __always_inline long scan_head_word(__u32 w, struct head_scan *s)
{
	__u32 base = w * 8;
	if (base >= s->len || base >= OBI_HEAD_SCAN_MAX)
		return 1;
	__u64 word = head_load(s, base);
	__u32 left = s->len - base;
	__u64 valid = left >= 8 ? ~0ULL : (1ULL << (8 * (left & 7))) - 1; /* stale bytes past the head */
	__u64 lf = bytes_equal(word, '\n') & valid;
	if (!lf) {
		/* Most words: inside a line. An empty line that ends in the next word needs a line end in
		 * this one, so nothing carries over. */
		s->before = 0;
		return left <= 8;
	}
	__u64 cr = bytes_equal(word, '\r') & valid;
	/* the marks of bytes k-1 and k-2 at byte k; this word's first bytes take the previous word's last */
	__u64 lf1 = lf << 8 | (s->before & 0xff);
	__u64 cr1 = cr << 8 | (s->before >> 8 & 0xff);
	__u64 lf2 = lf << 16 | (s->before >> 16 & 0xffff);
	__u64 empty_line_ends = lf & (lf1 | (cr1 & lf2));
	if (empty_line_ends && base + lowest_marked_byte(empty_line_ends) > 1) {
		s->header_len = base + lowest_marked_byte(empty_line_ends) + 1;
		return 1;
	}
	s->before = lf >> 56 | (cr >> 56) << 8 | (lf >> 48) << 16;
	/* A line that starts after any but the word's last line end also ends in the word: too short
	 * for a framing header. Byte-swapped, the last marked byte is the lowest. */
	scan_header_line(s, base + 7 - lowest_marked_byte(__builtin_bswap64(lf)) + 1);
	return left <= 8;
}

/* After the scan: the Content-Length value, spaces first, at most 18 digits. */
static __always_inline void head_content_length(struct head_scan *s)
{
	__u32 pos = s->length_at;
	__u64 v = 0;
	__u8 digits = 0;

	if (!pos)
		return;
	for (__u32 k = 0; k < 4; k++) {
		if (pos >= s->len || s->buf->data[pos & (OBI_HEAD_SCAN_MAX * 2 - 1)] != ' ')
			break;
		pos++;
	}
	for (__u32 k = 0; k < 19; k++) {
		__u8 c = pos + k < s->len ? s->buf->data[(pos + k) & (OBI_HEAD_SCAN_MAX * 2 - 1)] : 0;
		if (!is_digit(c))
			break;
		v = v * 10 + (c - '0');
		digits++;
	}
	if (digits && digits < 19) {
		s->content_length = v;
		s->has_length = 1;
	}
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
