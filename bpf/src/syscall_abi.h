/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The syscall a task is in, from its saved user registers: its number and arguments stay there for
 * the whole call (the exit reads them, and so do hooks that fire inside the call).
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "maps.h"

#define OBI_PF_KTHREAD 0x00200000 /* include/linux/sched.h */
#define OBI_SHUT_WR 1

/* Syscall numbers of the architecture the object is built for (like vmlinux.h, the Makefile's ARCH). */
#if defined(__TARGET_ARCH_x86)
enum {
	NR_READ = 0, NR_WRITE = 1, NR_READV = 19, NR_WRITEV = 20, NR_SENDFILE = 40, NR_ACCEPT = 43,
	NR_SENDTO = 44, NR_RECVFROM = 45, NR_SENDMSG = 46, NR_RECVMSG = 47, NR_SHUTDOWN = 48, NR_ACCEPT4 = 288,
};
#define SYSCALL_NR(regs) ((long)(regs)->orig_ax)
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
#define SYSCALL_NR(regs) ((long)(regs)->syscallno)
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

/* The registers of the call the current task is in; 0 for a kernel thread, which makes none. */
static __always_inline struct pt_regs *current_call_regs(void)
{
	struct task_struct *task = bpf_get_current_task_btf();

	if (task->flags & OBI_PF_KTHREAD)
		return 0;
	return (struct pt_regs *)bpf_task_pt_regs(task);
}
