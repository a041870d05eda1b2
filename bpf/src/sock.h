/* SPDX-License-Identifier: Apache-2.0 */
/* From a file descriptor of the current task to its TCP socket, and what the socket knows. */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "obi_record.h"

#define OBI_AF_INET 2
#define OBI_AF_INET6 10
#define OBI_S_IFMT 00170000
#define OBI_S_IFSOCK 0140000
#define OBI_IPPROTO_TCP 6
#define OBI_EPIPE 32
#define OBI_ECONNRESET 104
#define OBI_TCPHDR_FIN 0x01
#define OBI_TCPHDR_SYN 0x02
#define OBI_TCPHDR_ACK 0x10

/* TCP states as sock:inet_sock_set_state reports them (include/net/tcp_states.h, a stable ABI). */
enum {
	OBI_TCP_ESTABLISHED = 1,
	OBI_TCP_SYN_SENT = 2,
	OBI_TCP_SYN_RECV = 3,
	OBI_TCP_FIN_WAIT1 = 4,
	OBI_TCP_FIN_WAIT2 = 5,
	OBI_TCP_CLOSE = 7,
	OBI_TCP_CLOSE_WAIT = 8,
	OBI_TCP_LAST_ACK = 9,
	OBI_TCP_CLOSING = 11,
};

/* Linux 6.2+: a kernel pointer read with plain, exception-handled loads instead of helper calls. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

static __always_inline int is_tcp(__u16 family, __u8 protocol)
{
	return (family == OBI_AF_INET || family == OBI_AF_INET6) && protocol == OBI_IPPROTO_TCP;
}

/*
 * One field of a kernel struct at ptr: a plain, exception-handled load where the kernel has
 * bpf_rdonly_cast (6.2+; the verifier makes the cast a move), one probe-read helper call otherwise.
 * ptr is evaluated outside the CO-RE read: an expression such as st->sk would otherwise become a
 * relocation against our own struct, which the kernel's BTF does not have.
 */
#define KERNEL_FIELD(type, ptr, field)                                                                 \
	({                                                                                             \
		type *kernel_field_p_ = (type *)(ptr);                                                 \
		bpf_rdonly_cast ? ((type *)bpf_rdonly_cast(kernel_field_p_, bpf_core_type_id_kernel(type)))->field \
				: BPF_CORE_READ(kernel_field_p_, field);                               \
	})

/* The fallback for kernels without bpf_rdonly_cast: one probe-read helper call per field. */
static __always_inline __u64 tcp_sock_of_file_probe_read(struct file *file, __u64 *ino)
{
	umode_t mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & OBI_S_IFMT) != OBI_S_IFSOCK)
		return 0;
	struct socket *sock = BPF_CORE_READ(file, private_data);
	struct sock *sk = sock ? BPF_CORE_READ(sock, sk) : 0;
	if (!sk || !is_tcp(BPF_CORE_READ(sk, __sk_common.skc_family), BPF_CORE_READ(sk, sk_protocol)))
		return 0;
	if (ino)
		*ino = BPF_CORE_READ(file, f_inode, i_ino);
	return (__u64)sk;
}

/*
 * Returns the struct sock of a TCP socket behind fd, or 0 for anything else (files, pipes, UDP...),
 * and in *ino (unless 0) the inode number of its socket (a socket file's inode is its socket's:
 * socket_inode() without reading it again). This runs on every read and write of every process: plain loads
 * through BTF pointers, one helper call (the fd array, indexed by a number the verifier cannot
 * bound) where the kernel allows it.
 */
static __always_inline __u64 tcp_sock_of_fd(__u64 fd, __u64 *ino)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct files_struct *files = task->files;
	if (!files)
		return 0;
	struct fdtable *fdt = files->fdt;
	if (!fdt)
		return 0;
	struct file **fds = fdt->fd;
	unsigned int max_fds = fdt->max_fds;
	struct file *file = 0;

	if (fd >= max_fds)
		return 0;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	if (!bpf_rdonly_cast)
		return tcp_sock_of_file_probe_read(file, ino);
	struct file *f = bpf_rdonly_cast(file, bpf_core_type_id_kernel(struct file));
	struct inode *inode = bpf_rdonly_cast(f->f_inode, bpf_core_type_id_kernel(struct inode));
	if ((inode->i_mode & OBI_S_IFMT) != OBI_S_IFSOCK)
		return 0;
	struct socket *sock = bpf_rdonly_cast(f->private_data, bpf_core_type_id_kernel(struct socket));
	struct sock *sk = bpf_rdonly_cast(sock->sk, bpf_core_type_id_kernel(struct sock));
	if (!sk || !is_tcp(sk->__sk_common.skc_family, sk->sk_protocol))
		return 0;
	if (ino)
		*ino = inode->i_ino;
	return (__u64)sk;
}

/*
 * The inode number of the socket that owns sk, 0 once the process closed it (orphaned) or before
 * accept() grafted it. TCP's struct sock is reused by RCU's rules as soon as it is freed: its
 * address alone does not tell a new connection from an old one whose close went unseen.
 */
static __always_inline __u64 socket_inode(__u64 skp)
{
	struct socket *sock = KERNEL_FIELD(struct sock, skp, sk_socket);

	if (!sock)
		return 0;
	struct socket_alloc *owner = (void *)sock - bpf_core_field_offset(struct socket_alloc, socket);
	return KERNEL_FIELD(struct socket_alloc, owner, vfs_inode.i_ino);
}

/* socket_inode(), unless the descriptor the bytes moved through told it already (known: 0 if not). */
static __always_inline __u64 socket_inode_unless_known(__u64 skp, __u64 known)
{
	return known ? known : socket_inode(skp);
}

static __always_inline __u8 sock_state(__u64 skp)
{
	return KERNEL_FIELD(struct sock, skp, __sk_common.skc_state);
}

/* The peer's FIN has come in (the socket may have been idle, or not tracked yet, when it did). */
static __always_inline int peer_has_closed(__u8 state)
{
	return state == OBI_TCP_CLOSE_WAIT || state == OBI_TCP_LAST_ACK || state == OBI_TCP_CLOSING;
}

/* The error a reset left on the socket: the peer's, not a timeout's. */
static __always_inline int reset_by_peer(__u64 skp)
{
	return BPF_CORE_READ((struct sock *)skp, sk_err) == OBI_ECONNRESET;
}

static __always_inline void v4_mapped(__u8 out[16], __be32 addr)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(&out[12], &addr, 4);
}

static __always_inline void fill_addresses(struct obi_socket *out, __u64 skp)
{
	struct sock *sk = (struct sock *)skp;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	out->family = family;
	out->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	out->peer_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == OBI_AF_INET) {
		v4_mapped(out->local_addr, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
		v4_mapped(out->peer_addr, BPF_CORE_READ(sk, __sk_common.skc_daddr));
	} else {
		BPF_CORE_READ_INTO(&out->local_addr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&out->peer_addr, sk, __sk_common.skc_v6_daddr);
	}
}

static __always_inline __u32 smoothed_rtt_us(__u64 sk)
{
	/* srtt_us holds 8x the smoothed RTT (the kernel's fixed point). */
	return KERNEL_FIELD(struct tcp_sock, sk, srtt_us) >> 3;
}
