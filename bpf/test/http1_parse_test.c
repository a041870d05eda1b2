// SPDX-License-Identifier: Apache-2.0
/*
 * The kernel's HTTP/1 parsers (src/protocol/http1_parse.h) compiled for the host and run on byte
 * sequences: what starts an exchange, which status a response carries, where a head ends and what
 * framing it declares. `make -C bpf test`; exits non-zero on the first failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "protocol/http1_parse.h"

static int failures;

#define EXPECT(cond, what)                                                         \
	do {                                                                       \
		if (!(cond)) {                                                     \
			fprintf(stderr, "http1_parse_test: FAILED %s (%s:%d)\n", what, \
				__FILE__, __LINE__);                               \
			failures++;                                                \
		}                                                                  \
	} while (0)

/* The kernel peeks at the first PEEK_LEN bytes of a read, zero-padded. */
static const __u8 *peek(const char *bytes)
{
	static __u8 b[PEEK_LEN];
	memset(b, 0, sizeof(b));
	memcpy(b, bytes, strlen(bytes) < PEEK_LEN ? strlen(bytes) : PEEK_LEN);
	return b;
}

/* The per-CPU scratch buffer keeps the bytes of earlier heads beyond this one's: stale is what they are. */
static struct head_scan scan_over(const char *head, char stale)
{
	static struct head_bytes buf;
	struct head_scan s = {.buf = &buf, .len = strlen(head)};

	memset(&buf, stale, sizeof(buf));
	memcpy(buf.data, head, s.len < OBI_HEAD_SCAN_MAX ? s.len : OBI_HEAD_SCAN_MAX);
	if (s.len > OBI_HEAD_SCAN_MAX)
		s.len = OBI_HEAD_SCAN_MAX;
	for (__u32 w = 0; w < OBI_HEAD_SCAN_MAX / 8; w++)
		if (scan_head_word(w, &s))
			break;
	head_content_length(&s);
	return s;
}

static struct head_scan scan(const char *head)
{
	return scan_over(head, 0);
}

static void request_lines(void)
{
	const char *requests[] = {"GET / HTTP/1.1", "PUT /a", "POST /x", "HEAD /", "PATCH /p", "TRACE /",
				  "DELETE /d", "OPTIONS *", "CONNECT a:443"};
	for (unsigned i = 0; i < sizeof(requests) / sizeof(*requests); i++)
		EXPECT(looks_like_request(peek(requests[i])), requests[i]);
	const char *not_requests[] = {"GET  /", "GET", "get / HTTP/1.1", "GETS / HTTP/1.1", "HTTP/1.1 200 OK",
				      "\x16\x03\x01\x02\x00", "PRI * HTTP/2.0", "SSH-2.0-OpenSSH", ""};
	for (unsigned i = 0; i < sizeof(not_requests) / sizeof(*not_requests); i++)
		EXPECT(!looks_like_request(peek(not_requests[i])), not_requests[i]);
	EXPECT(is_head_method(peek("HEAD / HTTP/1.1")), "HEAD");

	const char *beginnings[] = {"G", "GE", "GET", "GET ", "P", "PO", "POS", "POST ", "OPTIONS ", "DEL"};
	for (unsigned i = 0; i < sizeof(beginnings) / sizeof(*beginnings); i++)
		EXPECT(could_begin_request(peek(beginnings[i]), strlen(beginnings[i])), beginnings[i]);
	const char *not_beginnings[] = {"X", "g", "GT", "GETS", "GET\r", "PING", "HTTP/", "\x16\x03", "SSH-2.0"};
	for (unsigned i = 0; i < sizeof(not_beginnings) / sizeof(*not_beginnings); i++)
		EXPECT(!could_begin_request(peek(not_beginnings[i]), strlen(not_beginnings[i])), not_beginnings[i]);
	EXPECT(!could_begin_request(peek("GET /"), 0), "nothing yet");
	EXPECT(!is_head_method(peek("HEADER / HTTP/1.1")), "not HEAD");
}

static void status_lines(void)
{
	EXPECT(status_line_code(peek("HTTP/1.1 200 OK")) == 200, "200");
	EXPECT(status_line_code(peek("HTTP/1.0 404 Not Found")) == 404, "404 over HTTP/1.0");
	EXPECT(status_line_code(peek("HTTP/1.1 100 Continue")) == 100, "100");
	EXPECT(status_line_code(peek("HTTP/1.1 099 x")) == 0, "below 100");
	EXPECT(status_line_code(peek("HTTP/1.1 600 x")) == 0, "above 599");
	EXPECT(status_line_code(peek("HTTP/2.0 200 OK")) == 0, "not HTTP/1");
	EXPECT(status_line_code(peek("HTTP/1.1 2x0 OK")) == 0, "not digits");
	EXPECT(status_line_code(peek("GET / HTTP/1.1")) == 0, "a request");
}

static void response_heads(void)
{
	struct head_scan s = scan("HTTP/1.1 200 OK\r\nContent-Length: 42\r\nServer: x\r\n\r\nbody");
	EXPECT(s.header_len == strlen("HTTP/1.1 200 OK\r\nContent-Length: 42\r\nServer: x\r\n\r\n"), "head length");
	EXPECT(s.has_length && s.content_length == 42, "Content-Length");
	EXPECT(!s.chunked, "not chunked");

	s = scan("HTTP/1.1 200 OK\r\ncontent-length:7\r\n\r\n");
	EXPECT(s.has_length && s.content_length == 7, "lower case, no space");
	s = scan("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n");
	EXPECT(!s.has_length, "no digits, no length");

	s = scan("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n");
	EXPECT(s.chunked && !s.has_length && s.header_len > 0, "chunked");

	s = scan("HTTP/1.1 200 OK\r\nContent-Length: 12345678901234567890\r\n\r\n");
	EXPECT(!s.has_length, "a length beyond 18 digits is no length");

	s = scan("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n");
	EXPECT(s.header_len == 0, "no empty line yet: the head goes on");
	s = scan_over("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", '\n');
	EXPECT(s.header_len == 0, "newlines left in the buffer by an earlier head are not this one's");

	s = scan("HTTP/1.1 204 No Content\n\n");
	EXPECT(s.header_len == strlen("HTTP/1.1 204 No Content\n\n"), "bare LF line ends");

	for (int pad = 0; pad < 16; pad++) { /* the empty line at every position of a word */
		char head[128];
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nX: %.*s\r\nContent-Length: 9\r\n\r\nbody", pad,
			 "aaaaaaaaaaaaaaaa");
		s = scan(head);
		EXPECT(s.header_len == strlen(head) - 4 && s.has_length && s.content_length == 9, "any alignment");
	}

	char long_head[OBI_HEAD_SCAN_MAX + 64];
	memset(long_head, 'a', sizeof(long_head));
	memcpy(long_head, "HTTP/1.1 200 OK\r\nX: ", 20);
	long_head[sizeof(long_head) - 1] = 0;
	s = scan(long_head);
	EXPECT(s.header_len == 0, "a head longer than the scan has no end within it");
}

static void tails(void)
{
	EXPECT(is_last_chunk((const __u8 *)"0\r\n\r\n"), "last chunk");
	EXPECT(!is_last_chunk((const __u8 *)"10\r\n\r"), "not the last chunk");
	__u32 tail = 0;
	const char *slow = "GET / HTTP/1.1\r\n\r\n";
	for (const char *c = slow; *c; c++)
		tail = shift_in(tail, (__u8)*c);
	EXPECT(tail == OBI_CRLF_CRLF, "a head sent a byte at a time ends with CRLF CRLF");
	EXPECT(shift_in(tail, 'x') != OBI_CRLF_CRLF, "a byte more and it does not");
}

int main(void)
{
	request_lines();
	status_lines();
	response_heads();
	tails();
	if (failures) {
		fprintf(stderr, "http1_parse_test: %d failed\n", failures);
		return 1;
	}
	printf("http1_parse_test: all passed\n");
	return 0;
}
