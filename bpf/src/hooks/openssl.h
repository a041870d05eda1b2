/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Uprobes on OpenSSL (libssl.so.3, libssl.so.1.1, or a binary that links it statically). The agent
 * attaches them to each library file it finds in the host's and the containers' processes; they
 * are never attached by section name.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "tls.h"

/* int SSL_read(SSL *ssl, void *buf, int num) */
SEC("uprobe")
int BPF_KPROBE(ssl_read_enter, void *ssl, void *buf)
{
	ssl_call_begin((__u64)ssl, (__u64)buf, 0, 1);
	return 0;
}

/* int SSL_write(SSL *ssl, const void *buf, int num) */
SEC("uprobe")
int BPF_KPROBE(ssl_write_enter, void *ssl, const void *buf)
{
	ssl_call_begin((__u64)ssl, (__u64)buf, 0, 0);
	return 0;
}

/* int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes) */
SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_enter, void *ssl, void *buf, size_t num, size_t *readbytes)
{
	ssl_call_begin((__u64)ssl, (__u64)buf, (__u64)readbytes, 1);
	return 0;
}

/* int SSL_write_ex(SSL *ssl, const void *buf, size_t num, size_t *written) */
SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_enter, void *ssl, const void *buf, size_t num, size_t *written)
{
	ssl_call_begin((__u64)ssl, (__u64)buf, (__u64)written, 0);
	return 0;
}

/*
 * int SSL_do_handshake(SSL *ssl), SSL_accept(SSL *ssl), SSL_connect(SSL *ssl): no plaintext, but
 * their syscalls tell which socket the SSL * uses before its first read, which OpenSSL may serve
 * from what the handshake already received (a TLS 1.3 client's request right after its Finished).
 */
SEC("uprobe")
int BPF_KPROBE(ssl_handshake_enter, void *ssl)
{
	ssl_call_begin((__u64)ssl, 0, 0, 0);
	return 0;
}

/* One return probe serves them all: the call's own entry said what it was. BPF_KPROBE reads a
 * uprobe's arguments the same way (pt_regs). */
SEC("uretprobe")
int BPF_KRETPROBE(ssl_call_return, int ret)
{
	ssl_call_end(ret);
	return 0;
}
