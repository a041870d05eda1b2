// SPDX-License-Identifier: Apache-2.0
/* obi-agent's kernel side: one object, tracepoints only (no kprobes, no fentry). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "state.h"
#include "sock.h"
#include "handshake.h"
#include "http.h"
#include "exchange.h"
#include "io_syscalls.h"
#include "tcp_events.h"
#include "expiry.h"

char LICENSE[] SEC("license") = "GPL";
