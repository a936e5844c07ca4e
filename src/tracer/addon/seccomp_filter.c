// SPDX-License-Identifier: GPL-2.0-only
/*
 * The accelerated mode's seccomp filter. Every fresh process installs it
 * as the last step of its image batch, before any guest code runs (or
 * the zygote does, once, when the host helper builds images), so every
 * guest process carries it for good: a guest can neither remove nor
 * loosen it (seccomp(2): filters are only ever added).
 *
 * Every syscall stops in the tracer (SECCOMP_RET_TRACE) and is served by
 * the guest kernel, except the few below that only touch the calling
 * process's own address space or read the time, which run on the host
 * with no stop at all. Each is safe because the guest kernel keeps no
 * state they would change:
 *   mmap (MAP_ANONYMOUS only)  fresh memory of the process's own; file
 *                              mappings need the kernel's fds: traced
 *   munmap, mprotect, madvise  the process's own mappings
 *   futex                      waits and wakes on the process's own memory;
 *                              the host's futexes are real ones
 *   sched_yield                no state at all
 *   clock_gettime, gettimeofday  the host's clocks are the guest's (the
 *                              vDSO already serves them without a syscall)
 *   getrandom                  no state; the host's entropy
 * brk is not among them: the host's program break is the stub's, not the
 * guest program's, so the guest kernel keeps brk.
 * A syscall of another ABI (i386 int 0x80, x32) is refused with ENOSYS:
 * its numbers are not the ones the guest kernel serves.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "tracer.h"

#define NR_LOAD		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define ALLOW_IF(nr)	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static const struct sock_filter guest_filter_insns[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
	NR_LOAD,
	BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),	/* x32 */
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
	/* mmap: allowed when MAP_ANONYMOUS is in flags (args[3], low word) */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 0, 4),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[3])),
	BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MAP_ANONYMOUS, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
	ALLOW_IF(__NR_munmap),
	ALLOW_IF(__NR_mprotect),
	ALLOW_IF(__NR_madvise),
	ALLOW_IF(__NR_futex),
	ALLOW_IF(__NR_sched_yield),
	ALLOW_IF(__NR_clock_gettime),
	ALLOW_IF(__NR_gettimeofday),
	ALLOW_IF(__NR_getrandom),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
};

/*
 * The filter as struct sock_filter instructions, for a fresh process to
 * install from its image batch with seccomp(SECCOMP_SET_MODE_FILTER).
 */
const struct sock_filter *guest_filter(unsigned short *len)
{
	*len = sizeof(guest_filter_insns) / sizeof(guest_filter_insns[0]);
	return guest_filter_insns;
}
