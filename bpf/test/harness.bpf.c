// SPDX-License-Identifier: Apache-2.0
/*
 * The kernel state machine without traffic: entry points that BPF_PROG_TEST_RUN calls with the
 * arguments a hook would have (obi-agent's KernelStateMachineIT). The context is an array of u64;
 * "sk" is any number the test picks, or the struct sock of a real socket of the test process
 * (harness_sock_of_fd); user buffers are the test process's own memory.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "io.h"
#include "tcp_state.h"
#include "expiry.h"
#include "contract_types.h"

#define HARNESS_SYSCALL 0 /* begin and end name the same call */

/* args: sk, user buffer, length, 1 if the process reads (0: writes) */
SEC("raw_tp")
int harness_io_begin(struct bpf_raw_tracepoint_args *ctx)
{
	struct io_args call = {
		.sk = ctx->args[0],
		.ptr = ctx->args[1],
		.len = ctx->args[2],
		.syscall_nr = HARNESS_SYSCALL,
		.kind = IO_BUF,
		.in = ctx->args[3],
	};
	io_begin(0, &call);
	return 0;
}

/* args: what the call returned (bytes moved, or -errno) */
SEC("raw_tp")
int harness_io_end(struct bpf_raw_tracepoint_args *ctx)
{
	struct thread_io *t = current_thread_io();

	io_end(t, HARNESS_SYSCALL, (long)ctx->args[0]);
	return 0;
}

/* args: sk, old state, new state (include/net/tcp_states.h) */
SEC("raw_tp")
int harness_tcp_state(struct bpf_raw_tracepoint_args *ctx)
{
	on_tcp_state_change(ctx->args[0], ctx->args[1], ctx->args[2], bpf_ktime_get_ns());
	return 0;
}

/* args: sk */
SEC("raw_tp")
int harness_reset_received(struct bpf_raw_tracepoint_args *ctx)
{
	on_reset_in(ctx->args[0], bpf_ktime_get_ns());
	return 0;
}

/* args: sk */
SEC("raw_tp")
int harness_tcp_destroy(struct bpf_raw_tracepoint_args *ctx)
{
	on_tcp_destroy(ctx->args[0], bpf_ktime_get_ns());
	return 0;
}

/* args: sk, 1 if the segment sent again is a FIN alone */
SEC("raw_tp")
int harness_retransmit(struct bpf_raw_tracepoint_args *ctx)
{
	on_retransmit(ctx->args[0], ctx->args[1], bpf_ktime_get_ns());
	return 0;
}

/* What harness_sock_of_fd found: the struct sock behind a descriptor of the test process (0: none). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} harness_found_sk SEC(".maps");

/* args: a file descriptor of the calling process */
SEC("raw_tp")
int harness_sock_of_fd(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 zero = 0;
	__u64 sk = tcp_sock_of_fd(ctx->args[0], 0);

	bpf_map_update_elem(&harness_found_sk, &zero, &sk, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
