/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Socket I/O seen at the syscall boundary, for every family servers and clients use:
 * read/readv/recvfrom/recvmsg in, write/writev/sendto/sendmsg/sendfile out, shutdown and accept.
 *
 * Two BTF tracepoint programs, on raw_syscalls' sys_enter and sys_exit, switch on the syscall
 * number; they run for every syscall and return at once for the others. One per syscall on the
 * syscalls:* tracepoints cost more: the kernel copies each call's arguments into a perf buffer
 * before the program runs (nginx kept ~0.89 of its throughput with empty programs there, ~0.93
 * with empty ones here, on the lab VM). One program per direction is also verified once.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "maps.h"
#include "sock.h"
#include "io.h"
#include "tcp_state.h"

#define OBI_MSG_PEEK 2
#define OBI_SHUT_WR 1

/* Syscall numbers of the architecture the object is built for (like vmlinux.h, the Makefile's ARCH). */
#if defined(__TARGET_ARCH_x86)
enum {
	NR_READ = 0, NR_WRITE = 1, NR_READV = 19, NR_WRITEV = 20, NR_SENDFILE = 40, NR_ACCEPT = 43,
	NR_SENDTO = 44, NR_RECVFROM = 45, NR_SENDMSG = 46, NR_RECVMSG = 47, NR_SHUTDOWN = 48, NR_ACCEPT4 = 288,
};
#define SYSCALL_NR_AT_EXIT(regs) ((long)(regs)->orig_ax)
#define OBI_TS_COMPAT 0x0002 /* arch/x86/include/asm/thread_info.h */
/* A 32-bit process's call: its numbers and registers are ia32's, not the ones above. */
static __always_inline int compat_syscall(void)
{
	return bpf_get_current_task_btf()->thread_info.status & OBI_TS_COMPAT;
}
#elif defined(__TARGET_ARCH_arm64)
enum {
	NR_READ = 63, NR_WRITE = 64, NR_READV = 65, NR_WRITEV = 66, NR_SENDFILE = 71, NR_ACCEPT = 202,
	NR_SENDTO = 206, NR_RECVFROM = 207, NR_SENDMSG = 211, NR_RECVMSG = 212, NR_SHUTDOWN = 210, NR_ACCEPT4 = 242,
};
#define SYSCALL_NR_AT_EXIT(regs) ((long)(regs)->syscallno)
/* compat (AArch32) calls do not reach raw_syscalls' tracepoints with these numbers' meaning on arm64 */
static __always_inline int compat_syscall(void)
{
	return 0;
}
#else
#error "obi-agent knows the syscall numbers of x86 and arm64 only"
#endif

/* A call to follow: a 64-bit one (the numbers above), of any process but the agent. */
static __always_inline int observed_call(void)
{
	return !compat_syscall() && (bpf_get_current_pid_tgid() >> 32) != obi_config.agent_tgid;
}

static __always_inline void io_enter(struct pt_regs *regs, long nr, __u8 kind, __u8 in)
{
	if (!observed_call())
		return;
	__u64 ino = 0;
	__u64 sk = tcp_sock_of_fd(PT_REGS_PARM1_SYSCALL(regs), &ino);
	if (!sk)
		return;
	struct io_args a = {
		.sk = sk,
		.socket_ino = ino,
		.ptr = PT_REGS_PARM2_SYSCALL(regs),
		.len = PT_REGS_PARM3_SYSCALL(regs),
		.syscall_nr = nr,
		.kind = kind,
		.in = in,
	};
	if (kind == IO_SENDFILE) {
		if (!bpf_map_lookup_elem(&conns, &sk))
			return; /* sendfile never starts an exchange */
		a.ptr = 0;
		a.len = PT_REGS_PARM4_SYSCALL(regs);
	}
	io_begin(&a);
}

static __always_inline void shutdown_entered(struct pt_regs *regs)
{
	if (PT_REGS_PARM2_SYSCALL(regs) != OBI_SHUT_WR || !observed_call())
		return;
	on_local_shutdown(tcp_sock_of_fd(PT_REGS_PARM1_SYSCALL(regs), 0));
}

/* accept() and accept4() return the connection: its wait in the accept queue ends. */
static __always_inline void accepted(long ret)
{
	if (ret < 0 || !observed_call())
		return;
	__u64 sk = tcp_sock_of_fd(ret, 0);
	if (sk)
		on_accepted(sk, bpf_ktime_get_ns());
}

SEC("tp_btf/sys_enter")
int BPF_PROG(enter_socket_call, struct pt_regs *regs, long nr)
{
	__u8 kind = IO_BUF, in = 0;

	switch (nr) {
	case NR_READ:
		in = 1;
		break;
	case NR_READV:
		kind = IO_IOV;
		in = 1;
		break;
	/* recv with MSG_PEEK leaves the bytes for the next read: counting them would count them twice */
	case NR_RECVFROM:
		if (PT_REGS_PARM4_SYSCALL(regs) & OBI_MSG_PEEK)
			return 0;
		in = 1;
		break;
	case NR_RECVMSG:
		if (PT_REGS_PARM3_SYSCALL(regs) & OBI_MSG_PEEK)
			return 0;
		kind = IO_MSG;
		in = 1;
		break;
	case NR_WRITE:
	case NR_SENDTO:
		break;
	case NR_WRITEV:
		kind = IO_IOV;
		break;
	case NR_SENDMSG:
		kind = IO_MSG;
		break;
	case NR_SENDFILE:
		kind = IO_SENDFILE;
		break;
	case NR_SHUTDOWN:
		shutdown_entered(regs);
		return 0;
	default:
		return 0;
	}
	io_enter(regs, nr, kind, in);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_socket_call, struct pt_regs *regs, long ret)
{
	long nr = SYSCALL_NR_AT_EXIT(regs);

	switch (nr) {
	case NR_READ:
	case NR_READV:
	case NR_RECVFROM:
	case NR_RECVMSG:
	case NR_WRITE:
	case NR_WRITEV:
	case NR_SENDTO:
	case NR_SENDMSG:
	case NR_SENDFILE:
		/* io_end matches the number its entry recorded: a 32-bit call's never was */
		io_end(nr, ret);
		return 0;
	case NR_ACCEPT:
	case NR_ACCEPT4:
		accepted(ret);
		return 0;
	}
	return 0;
}
