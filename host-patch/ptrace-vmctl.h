/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The user-space ABI of the vmctl host helper patch (host-patch/series):
 * what the patch adds to include/uapi/linux/ptrace.h, for programs built
 * against headers that do not have it. Keep it identical to the patch
 * (test/host-patch.test.ts compares them). See host-patch/README.md for the
 * semantics; on a kernel without the patch both requests fail with EIO.
 */
#ifndef VMCTL_PTRACE_VMCTL_H
#define VMCTL_PTRACE_VMCTL_H

#include <linux/types.h>

#ifndef PTRACE_VMCTL_SYSCALL_ROUNDTRIP
/*
 * On a tracee stopped by PTRACE_SYSEMU at a system-call entry: set its
 * registers from @regs, resume it as PTRACE_SYSEMU does, wait for its next
 * stop as waitpid(pid, &status, __WALL) does, return that status and, when
 * it is a stop, its registers in @regs. With PTRACE_VMCTL_RT_SECCOMP: on a
 * tracee at a PTRACE_EVENT_SECCOMP stop, resuming it as PTRACE_CONT does.
 */
#define PTRACE_VMCTL_SYSCALL_ROUNDTRIP	0x4280

struct ptrace_vmctl_roundtrip {
	__u64 regs;		/* in/out: address of the NT_PRSTATUS registers */
	__u32 regs_size;	/* in: their size: all of them */
	__u32 flags;		/* in: 0 or PTRACE_VMCTL_RT_SECCOMP */
	__s32 status;		/* out: wait status of the next stop or exit */
	__u32 out_flags;	/* out: PTRACE_VMCTL_RT_* */
};

/* ptrace_vmctl_roundtrip.flags: answer a seccomp stop, resume as PTRACE_CONT */
#define PTRACE_VMCTL_RT_SECCOMP		(1 << 0)

/* ptrace_vmctl_roundtrip.out_flags: @regs hold the registers of the stop */
#define PTRACE_VMCTL_RT_REGS		(1 << 0)
#endif

#ifndef PTRACE_VMCTL_MM_BATCH
/*
 * Runs @nr_ops operations, in order, on the address space of a tracee in any
 * ptrace stop, as the tracee would run the matching system calls, and leaves
 * it in the same stop. Returns how many succeeded; when fewer than @nr_ops,
 * the next one holds in @result the -errno that stopped the batch.
 */
#define PTRACE_VMCTL_MM_BATCH		0x4281

/* ptrace_vmctl_mm_op.op */
#define PTRACE_VMCTL_MM_MMAP		1	/* mmap(addr, len, prot, flags, fd, offset) */
#define PTRACE_VMCTL_MM_MUNMAP		2	/* munmap(addr, len) */
#define PTRACE_VMCTL_MM_MPROTECT	3	/* mprotect(addr, len, prot) */
#define PTRACE_VMCTL_MM_WRITE		4	/* copy len bytes from the tracer's buf to addr */

#define PTRACE_VMCTL_MM_MAX_OPS		64		/* operations in a batch */
#define PTRACE_VMCTL_MM_MAX_WRITE	(1U << 20)	/* bytes written by a batch */

struct ptrace_vmctl_mm_op {
	__u32 op;		/* PTRACE_VMCTL_MM_* */
	__u32 prot;		/* MMAP, MPROTECT: PROT_* */
	__u32 flags;		/* MMAP: MAP_*, but MAP_HUGETLB */
	__s32 fd;		/* MMAP: a file descriptor of the tracer, or -1 */
	__u64 addr;		/* an address in the tracee */
	__u64 len;		/* bytes */
	union {
		__u64 offset;	/* MMAP: offset in the file */
		__u64 buf;	/* WRITE: address of the bytes in the tracer */
	};
	__s64 result;		/* out: MMAP: the address; others: 0; or -errno */
};

struct ptrace_vmctl_mm_batch {
	__u64 ops;		/* address of @nr_ops struct ptrace_vmctl_mm_op */
	__u32 nr_ops;		/* 1 to PTRACE_VMCTL_MM_MAX_OPS */
	__u32 flags;		/* must be 0 */
};
#endif

#endif /* VMCTL_PTRACE_VMCTL_H */
