// SPDX-License-Identifier: Apache-2.0
/* obi-agent's kernel side: one object, tracepoints only (no kprobes, no fentry). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "hooks/syscalls.h"
#include "hooks/tcp.h"
#include "hooks/openssl.h"
#include "hooks/exec.h"
#include "expiry.h"
#include "contract_types.h"

char LICENSE[] SEC("license") = "GPL";
