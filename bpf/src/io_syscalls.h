/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Socket I/O seen at the syscall boundary, for every family servers and clients use:
 * read/readv/recvfrom/recvmsg in, write/writev/sendto/sendmsg/sendfile out.
 * Enter remembers the arguments of TCP-socket calls only; exit folds the bytes moved into the exchange.
 */
#ifndef OBI_IO_SYSCALLS_H
#define OBI_IO_SYSCALLS_H

#define OBI_EPIPE 32
#define OBI_ECONNRESET 104
#define OBI_MSG_PEEK 2
#define OBI_IOV_SCAN 16 /* iovecs summed to find the end of a vectored write */

enum io_kind {
	IO_BUF,      /* one user buffer */
	IO_IOV,      /* struct iovec array */
	IO_MSG,      /* struct user_msghdr */
	IO_SENDFILE, /* bytes from a file: counted, not seen */
};

struct io_args {
	__u64 sk;
	__u64 ptr;
	__u64 len; /* buffer length or iovec count */
	__s32 syscall_nr;
	__u8 kind;
	__u8 in;
	__u8 pending; /* set on entry, cleared on exit */
	__u8 close_deferred; /* the socket reached TCP_CLOSE inside this call (a reset in answer to the write) */
};

/*
 * The socket call under way, per thread. Task storage instead of a hash keyed by thread id:
 * cheaper per call, and freed with the thread, so a thread that dies inside a call leaks nothing.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct io_args);
} inflight SEC(".maps");

/* The first buffer of a call and, for vectored writes, where the moved bytes end. */
static __always_inline void resolve_buffers(const struct io_args *a, __u64 moved, struct io_chunk *c)
{
	__u64 iov_ptr = a->ptr;
	__u64 iov_cnt = a->len;

	if (a->kind == IO_SENDFILE)
		return;
	if (a->kind == IO_BUF) {
		c->data = (const __u8 *)a->ptr;
		c->data_len = moved < a->len ? moved : a->len;
		c->tail_end = (const __u8 *)a->ptr + moved;
		return;
	}
	if (a->kind == IO_MSG) {
		struct user_msghdr msg = {};
		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)a->ptr))
			return;
		iov_ptr = (__u64)msg.msg_iov;
		iov_cnt = msg.msg_iovlen;
	}
	struct iovec iov = {};
	if (!iov_cnt || bpf_probe_read_user(&iov, sizeof(iov), (void *)iov_ptr))
		return;
	c->data = iov.iov_base;
	c->data_len = moved < iov.iov_len ? moved : iov.iov_len;
	if (moved <= iov.iov_len) {
		c->tail_end = (const __u8 *)iov.iov_base + moved;
		return;
	}
	if (c->in || iov_cnt > OBI_IOV_SCAN)
		return;
	/* A vectored write that moved everything ends at the end of its last iovec. */
	__u64 sum = 0;
	for (int i = 0; i < OBI_IOV_SCAN; i++) {
		if (i >= iov_cnt)
			break;
		if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(iov_ptr + i * sizeof(iov))))
			return;
		sum += iov.iov_len;
	}
	if (sum == moved && iov.iov_len >= 5)
		c->tail_end = (const __u8 *)iov.iov_base + iov.iov_len;
}

static __always_inline int observed_task(void)
{
	return (bpf_get_current_pid_tgid() >> 32) != obi_config.agent_tgid;
}

static __always_inline void io_enter(const struct trace_event_raw_sys_enter *ctx, __u8 kind, __u8 in)
{
	if (!observed_task())
		return;
	__u64 sk = tcp_sock_of_fd(ctx->args[0]);
	if (!sk)
		return;
	struct io_args a = {
		.sk = sk,
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
	struct io_args *slot = bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0,
						    BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!slot) {
		count(OBI_C_ARGS_TABLE_FULL);
		return;
	}
	a.pending = 1;
	a.close_deferred = 0;
	*slot = a;
}

static __always_inline void fold_io(const struct io_args *a, long ret)
{
	__u64 now = bpf_ktime_get_ns();

	if (ret <= 0) {
		if (!a->in && (ret == -OBI_EPIPE || ret == -OBI_ECONNRESET))
			on_write_error(a->sk, now);
		return;
	}
	struct io_chunk c = {
		.sk = a->sk,
		.total = ret,
		.in = a->in,
	};
	resolve_buffers(a, ret, &c);
	on_data(&c, now);
}

static __always_inline void io_exit(const struct trace_event_raw_sys_exit *ctx)
{
	struct io_args *slot = bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0, 0);

	if (!slot || !slot->pending)
		return;
	struct io_args a = *slot;
	slot->pending = 0;
	slot->close_deferred = 0;
	/* not the call whose entry we saw: its buffers do not describe these bytes */
	if (a.syscall_nr == (__s32)ctx->id)
		fold_io(&a, ctx->ret);
	if (a.close_deferred)
		finish_deferred_close(a.sk);
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
		io_exit(ctx);                                                 \
		return 0;                                                     \
	}

IO_HOOKS(read, IO_BUF, 1)
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
	io_exit(ctx);
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
	io_exit(ctx);
	return 0;
}

#endif
