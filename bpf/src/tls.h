/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTPS through OpenSSL: SSL_read/SSL_write and their _ex forms, entry and return. The plaintext
 * joins the same per-connection exchange as cleartext would. The call's socket is the one its own
 * syscalls use on the same thread (io.h notes it), or the last one this SSL * used when OpenSSL
 * serves the call from its buffers.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "maps.h"
#include "io_chunk.h"
#include "exchange.h"
#include "io.h"

#define OBI_TLS_CHUNK_MAX (1U << 30)

static __always_inline void ssl_call_begin(__u64 ssl, __u64 buf, __u64 count_ptr, __u8 in)
{
	struct thread_io *t = thread_io_made(0);
	if (!t) {
		count(OBI_C_ARGS_TABLE_FULL);
		return;
	}
	struct ssl_call call = {.ssl = ssl, .buf = buf, .count_ptr = count_ptr, .in = in};
	t->ssl = call;
}

/* ret: what the call returned (bytes for SSL_read/SSL_write, 1 on success for the _ex forms) */
static __always_inline void ssl_call_end(long ret)
{
	struct thread_io *t = current_thread_io();

	if (!t || !t->ssl.ssl)
		return;
	struct ssl_call call = t->ssl;
	t->ssl.ssl = 0;
	__u64 moved = ret > 0 && call.buf ? ret : 0; /* a handshake moves no plaintext */
	if (call.count_ptr && call.buf) {
		moved = 0;
		if (ret == 1 && bpf_probe_read_user(&moved, sizeof(moved), (const void *)call.count_ptr))
			count(OBI_C_READ_FAULT);
	}
	__u64 sk = call.sk;
	if (moved && !sk) {
		struct ssl_key key = ssl_key_of(call.ssl);
		__u64 *known = bpf_map_lookup_elem(&ssl_sockets, &key);
		sk = known ? *known : 0;
	}
	if (moved && moved < OBI_TLS_CHUNK_MAX) {
		struct io_chunk c = {
			.sk = sk,
			.data = (const __u8 *)call.buf,
			.data_len = moved,
			.total = moved,
			.tail_end = (const __u8 *)call.buf + moved,
			.in = call.in,
			.tls = 1,
		};
		if (sk) {
			on_data(&c, bpf_ktime_get_ns());
			t->last_sk = sk;
		} else {
			count(OBI_C_TLS_NO_SOCKET);
		}
	}
	__u64 deferred = t->close_deferred_sk;
	if (deferred) {
		t->close_deferred_sk = 0;
		finish_deferred_close(deferred);
	}
}
