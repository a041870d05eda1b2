/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers that prove bounds to the BPF verifier; plain C on the host, where the parsers are tested. */
#pragma once

#ifdef __bpf__
/* An AND the compiler cannot drop: it proves a bound to the verifier that the C already guarantees. */
#define verifier_bound(value, bound)                                             \
	({                                                                       \
		__u64 __bounded = (value);                                       \
		asm volatile("%[b] &= %[m]" : [b] "+r"(__bounded) : [m] "i"(bound)); \
		__bounded;                                                       \
	})
#else
#define verifier_bound(value, bound) ((__u64)(value) & (bound))
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#endif
