/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Socket I/O seen at the syscall boundary, for every family servers and clients use:
 * read/readv/recvfrom/recvmsg in, write/writev/sendto/sendmsg/sendfile out, and shutdown.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "maps.h"
#include "sock.h"
#include "io.h"
#include "tcp_state.h"

#define OBI_MSG_PEEK 2
#define OBI_SHUT_WR 1

static __always_inline int observed_task(void)
{
	return (bpf_get_current_pid_tgid() >> 32) != obi_config.agent_tgid;
}

static __always_inline void io_enter(const struct trace_event_raw_sys_enter *ctx, __u8 kind, __u8 in)
{
	if (!observed_task())
		return;
	__u64 ino = 0;
	__u64 sk = tcp_sock_of_fd(ctx->args[0], &ino);
	if (!sk)
		return;
	struct io_args a = {
		.sk = sk,
		.socket_ino = ino,
		.ptr = ctx->args[1],
		.len = ctx->args[2],
		.syscall_nr = (__s32)ctx->id, /* the tracepoint field is an int followed by padding */
		.kind = kind,
		.in = in,
	};
	if (kind == IO_SENDFILE) {
		if (!bpf_map_lookup_elem(&conns, &sk))
			return; /* sendfile never starts an exchange */
		a.ptr = 0;
		a.len = ctx->args[3];
	}
	io_begin(&a);
}

static __always_inline void io_exit(const struct trace_event_raw_sys_exit *ctx)
{
	io_end((__s32)ctx->id, ctx->ret);
}

/*
 * The exits of all socket calls run the same code, and the verifier would check each copy again
 * (its time is most of the agent's start-up): exit_read holds it, the other exits jump into it.
 * The sys_exit tracepoints share one format, so exit_read reads their context alike.
 */
int exit_read(struct trace_event_raw_sys_exit *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32)); /* no BTF key type: the kernel takes none for a program array */
	__array(values, int(void *));
} io_exit_program SEC(".maps") = {
	.values = {[0] = (void *)&exit_read},
};

static __always_inline void io_exit_shared(struct trace_event_raw_sys_exit *ctx)
{
	/* fails only with an empty slot, which libbpf's load rules out */
	bpf_tail_call(ctx, &io_exit_program, 0);
}

#define IO_HOOKS(name, kind, in)                                              \
	SEC("tracepoint/syscalls/sys_enter_" #name)                           \
	int enter_##name(struct trace_event_raw_sys_enter *ctx)               \
	{                                                                     \
		io_enter(ctx, kind, in);                                      \
		return 0;                                                     \
	}                                                                     \
	SEC("tracepoint/syscalls/sys_exit_" #name)                            \
	int exit_##name(struct trace_event_raw_sys_exit *ctx)                 \
	{                                                                     \
		io_exit_shared(ctx);                                          \
		return 0;                                                     \
	}

SEC("tracepoint/syscalls/sys_enter_read")
int enter_read(struct trace_event_raw_sys_enter *ctx)
{
	io_enter(ctx, IO_BUF, 1);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_read")
int exit_read(struct trace_event_raw_sys_exit *ctx)
{
	io_exit(ctx);
	return 0;
}

IO_HOOKS(readv, IO_IOV, 1)
IO_HOOKS(write, IO_BUF, 0)
IO_HOOKS(writev, IO_IOV, 0)
IO_HOOKS(sendto, IO_BUF, 0)
IO_HOOKS(sendmsg, IO_MSG, 0)
IO_HOOKS(sendfile64, IO_SENDFILE, 0)

/* recv with MSG_PEEK leaves the bytes for the next read: counting them would count them twice */
SEC("tracepoint/syscalls/sys_enter_recvfrom")
int enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	if (!(ctx->args[3] & OBI_MSG_PEEK))
		io_enter(ctx, IO_BUF, 1);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int exit_recvfrom(struct trace_event_raw_sys_exit *ctx)
{
	io_exit_shared(ctx);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int enter_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	if (!(ctx->args[2] & OBI_MSG_PEEK))
		io_enter(ctx, IO_MSG, 1);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int exit_recvmsg(struct trace_event_raw_sys_exit *ctx)
{
	io_exit_shared(ctx);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_shutdown")
int enter_shutdown(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[1] != OBI_SHUT_WR || !observed_task())
		return 0;
	on_local_shutdown(tcp_sock_of_fd(ctx->args[0], 0));
	return 0;
}

/* accept() and accept4() return the connection: its wait in the accept queue ends. */
static __always_inline void accepted(const struct trace_event_raw_sys_exit *ctx)
{
	if (ctx->ret < 0 || !observed_task())
		return;
	__u64 sk = tcp_sock_of_fd(ctx->ret, 0);
	if (sk)
		on_accepted(sk, bpf_ktime_get_ns());
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	accepted(ctx);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	accepted(ctx);
	return 0;
}
