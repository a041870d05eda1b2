/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which server request a client call belongs to: the server exchange in flight on the same thread
 * when the call starts (thread-per-request servers make downstream calls on the handler's thread).
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "maps.h"

/* A thread's server exchange: the parent of client calls the same thread makes meanwhile. */
struct thread_server {
	__u64 sk;
	__u64 conn_id;
	__u32 request_index;
	__u8 concurrent; /* two server requests were in flight on this thread at once: an event loop */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_server);
} thread_servers SEC(".maps");

static __always_inline int server_in_flight(const struct thread_server *ts)
{
	__u64 sk = ts->sk;
	struct conn_state *st = bpf_map_lookup_elem(&conns, &sk);

	return st && st->rec.header.conn_id == ts->conn_id && st->rec.request_index == ts->request_index &&
	       (st->phase == PHASE_REQUEST || st->phase == PHASE_RESPONSE);
}

/* Called when an exchange starts from its request bytes, on the thread that moved them. */
static __always_inline void link_to_thread(struct conn_state *st, __u64 sk)
{
	struct task_struct *task = bpf_get_current_task_btf();

	if (st->rec.header.direction == OBI_DIR_SERVER) {
		struct thread_server *ts =
			bpf_task_storage_get(&thread_servers, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!ts)
			return;
		if (ts->sk && ts->sk != sk && server_in_flight(ts))
			ts->concurrent = 1;
		ts->sk = sk;
		ts->conn_id = st->rec.header.conn_id;
		ts->request_index = st->rec.request_index;
		return;
	}
	struct thread_server *ts = bpf_task_storage_get(&thread_servers, task, 0, 0);
	if (ts && !ts->concurrent && ts->sk && server_in_flight(ts)) {
		st->rec.parent_conn_id = ts->conn_id;
		st->rec.parent_request_index = ts->request_index;
	}
}
