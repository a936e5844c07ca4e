// SPDX-License-Identifier: GPL-2.0-only
/*
 * The seccomp filters of guest processes, built once the kernel's stub
 * page has its address (tracer.h: the stub page is where every host
 * syscall the kernel runs in a guest is made).
 *
 * The base filter, installed in the zygote before it execs (so every
 * guest process carries it, and a guest can neither remove nor loosen
 * it: seccomp(2), filters are only ever added), has one job: a syscall
 * whose instruction pointer is GUEST_NOTIFY_IP goes to the kernel's
 * seccomp user-notification listener. No guest code can make such a
 * call: GUEST_NOTIFY_IP lies in the kernel half of the address space,
 * where no user instruction runs; only the tracer, which may set any
 * register at a syscall-entry stop, produces it. There the kernel hands
 * the process a file with SECCOMP_IOCTL_NOTIF_ADDFD, with no path and no
 * byte of guest memory involved.
 *
 * On top of it every fresh process installs the filter of its mode as
 * the last step of its image batch, before any guest code runs (or the
 * zygote carries it, when the host helper builds images):
 *
 * Accelerated (default) mode: every syscall stops in the tracer
 * (SECCOMP_RET_TRACE) and is served by the guest kernel, except these,
 * which run on the host with no stop, each checked argument by argument
 * so that it can only touch the calling process's own memory and never
 * name a host object:
 *   mmap      MAP_ANONYMOUS only (a file needs the kernel's fds); not
 *             MAP_LOCKED (pins host memory: the kernel accounts locks
 *             itself) nor MAP_HUGETLB (the host's huge page pool); with
 *             MAP_FIXED not over the stub page (it would replace it)
 *   munmap, mprotect   the process's own mappings, not the stub page
 *   madvise   advice that changes only the caller's own pages, not over
 *             the stub page; MADV_MERGEABLE (KSM shares pages with host
 *             processes), MADV_HWPOISON and MADV_SOFT_OFFLINE (host
 *             memory) and unknown advice go to the kernel
 *   futex     the non-PI operations (waits and wakes on the caller's
 *             memory); the PI operations read a host tid out of the
 *             futex word, so they go to the kernel, which has guest tids
 *   clock_gettime  the static clocks (ids 0-11: the host's clocks are
 *             the guest's, and the CPU-time clocks are the calling
 *             process's or thread's own); a negative id names a pid or
 *             an fd, which only the kernel can translate
 *   gettimeofday, sched_yield, getrandom   no object at all
 * brk is not among them: the host's program break is the stub's, not
 * the guest program's, so the guest kernel keeps brk.
 * A syscall of another ABI (int $0x80, sysenter, a syscall from 32-bit
 * code) traps (SIGSYS), which the tracer turns into the SIGSEGV a Linux
 * without IA32 emulation gives; an x32 number gets ENOSYS, as on a Linux
 * without x32.
 *
 * Strict mode: guest syscalls stop at PTRACE_SYSEMU and never reach
 * seccomp; this filter only bounds what the host will run in a guest
 * process at all, as defence in depth: the calls the kernel injects
 * (and those the host's vsyscall emulation makes), nothing else.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>

#include "tracer.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/*
 * A tiny assembler for classic BPF with forward labels, so that the
 * filters read as the decisions they make.
 */
enum label {
	L_ALLOW, L_TRACE, L_TRAP, L_ENOSYS, L_KILL, L_NOTIFY,
	L_RANGE01, L_MMAP, L_MADVISE, L_FUTEX, L_CLOCK, L_NOT_NOTIFY,
	L_OVERLAP_ADDR_OK, L_NO_CARRY,
	L_COUNT,
};

#define MAX_FIXUPS 128

struct bpf_asm {
	struct sock_filter *ins;
	unsigned int n, cap;
	int label_at[L_COUNT];
	struct {
		unsigned int at;
		enum label to;
		int jf;		/* 1: the false branch, 0: the true one */
	} fix[MAX_FIXUPS];
	unsigned int nfix;
	int err;
};

static void emit(struct bpf_asm *a, struct sock_filter f)
{
	if (a->n >= a->cap) {
		a->err = -E2BIG;
		return;
	}
	a->ins[a->n++] = f;
}

static void stmt(struct bpf_asm *a, uint16_t code, uint32_t k)
{
	struct sock_filter f = BPF_STMT(code, k);

	emit(a, f);
}

/* A branch to labels (-1: fall through to the next instruction). */
static void jump(struct bpf_asm *a, uint16_t code, uint32_t k, int jt, int jf)
{
	struct sock_filter f = BPF_JUMP(code, k, 0, 0);
	int which;

	for (which = 0; which < 2; which++) {
		int to = which ? jf : jt;

		if (to < 0)
			continue;
		if (a->nfix >= MAX_FIXUPS) {
			a->err = -E2BIG;
			return;
		}
		a->fix[a->nfix].at = a->n;
		a->fix[a->nfix].to = (enum label)to;
		a->fix[a->nfix].jf = which;
		a->nfix++;
	}
	emit(a, f);
}

static void label(struct bpf_asm *a, enum label l)
{
	a->label_at[l] = (int)a->n;
}

/* Resolve the forward branches; each local label is used by one block only. */
static int assemble(struct bpf_asm *a, unsigned short *len)
{
	unsigned int i;

	if (a->err)
		return a->err;
	for (i = 0; i < a->nfix; i++) {
		int to = a->label_at[a->fix[i].to];
		int off = to - (int)a->fix[i].at - 1;

		if (to < 0 || off < 0 || off > 255)
			return -ERANGE;
		if (a->fix[i].jf)
			a->ins[a->fix[i].at].jf = (uint8_t)off;
		else
			a->ins[a->fix[i].at].jt = (uint8_t)off;
	}
	*len = (unsigned short)a->n;
	return 0;
}

static void asm_init(struct bpf_asm *a, struct sock_filter *ins, unsigned int cap)
{
	int i;

	memset(a, 0, sizeof(*a));
	a->ins = ins;
	a->cap = cap;
	for (i = 0; i < L_COUNT; i++)
		a->label_at[i] = -1;
}

#define ARG_LO(i) (offsetof(struct seccomp_data, args[i]))
#define ARG_HI(i) (offsetof(struct seccomp_data, args[i]) + 4)

static void ld(struct bpf_asm *a, uint32_t off)
{
	stmt(a, BPF_LD | BPF_W | BPF_ABS, off);
}

static void ret(struct bpf_asm *a, uint32_t action)
{
	stmt(a, BPF_RET | BPF_K, action);
}

/* The ip == GUEST_NOTIFY_IP test of both filters: to L_NOTIFY, else on at L_NOT_NOTIFY. */
static void notify_test(struct bpf_asm *a)
{
	ld(a, offsetof(struct seccomp_data, instruction_pointer) + 4);
	jump(a, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(GUEST_NOTIFY_IP >> 32), -1, L_NOT_NOTIFY);
	ld(a, offsetof(struct seccomp_data, instruction_pointer));
	jump(a, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)GUEST_NOTIFY_IP, L_NOTIFY, L_NOT_NOTIFY);
	label(a, L_NOT_NOTIFY);
}

int base_filter(struct sock_filter *ins, unsigned int cap, unsigned short *len)
{
	struct bpf_asm a;

	asm_init(&a, ins, cap);
	notify_test(&a);
	ret(&a, SECCOMP_RET_ALLOW);
	label(&a, L_NOTIFY);
	ret(&a, SECCOMP_RET_USER_NOTIF);
	return assemble(&a, len);
}

/*
 * To L_TRACE when [args[0], args[0] + args[1]) meets the stub page
 * [lo, hi), else to L_ALLOW. The arguments are 64-bit and classic BPF
 * computes in 32 bits: the sum goes through the scratch words with its
 * carry. An address or length of 2^56 or more is no valid user range on
 * any x86-64 host (5-level paging ends user space below 2^56): such a
 * call fails on the host anyway, and is traced rather than reasoned about.
 * Lengths are not rounded to pages here: the host rounds the end up,
 * and a page-aligned hi makes "end > lo" the same test either way.
 */
static void range_check(struct bpf_asm *a, uint64_t lo, uint64_t hi)
{
	const uint32_t limit = 1u << 24;	/* 2^56 >> 32 */

	label(a, L_RANGE01);
	ld(a, ARG_HI(0));
	jump(a, BPF_JMP | BPF_JGE | BPF_K, limit, L_TRACE, -1);
	stmt(a, BPF_ST, 1);			/* M1 = addr hi */
	ld(a, ARG_HI(1));
	jump(a, BPF_JMP | BPF_JGE | BPF_K, limit, L_TRACE, -1);
	stmt(a, BPF_ST, 3);			/* M3 = len hi */
	ld(a, ARG_LO(0));
	stmt(a, BPF_ST, 0);			/* M0 = addr lo */
	ld(a, ARG_LO(1));
	stmt(a, BPF_ST, 2);			/* M2 = len lo */

	/* addr < hi, or the range starts above the stub page: no overlap */
	stmt(a, BPF_LD | BPF_MEM, 1);
	jump(a, BPF_JMP | BPF_JGT | BPF_K, (uint32_t)(hi >> 32), L_ALLOW, -1);
	jump(a, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(hi >> 32), -1, L_OVERLAP_ADDR_OK);
	stmt(a, BPF_LD | BPF_MEM, 0);
	jump(a, BPF_JMP | BPF_JGE | BPF_K, (uint32_t)hi, L_ALLOW, L_OVERLAP_ADDR_OK);
	label(a, L_OVERLAP_ADDR_OK);

	/* end = addr + len, as M5:M4 */
	stmt(a, BPF_LDX | BPF_MEM, 2);
	stmt(a, BPF_LD | BPF_MEM, 0);
	stmt(a, BPF_ALU | BPF_ADD | BPF_X, 0);
	stmt(a, BPF_ST, 4);			/* M4 = end lo */
	stmt(a, BPF_LDX | BPF_MEM, 3);
	stmt(a, BPF_LD | BPF_MEM, 1);
	stmt(a, BPF_ALU | BPF_ADD | BPF_X, 0);
	stmt(a, BPF_ST, 5);			/* M5 = addr hi + len hi */
	stmt(a, BPF_LDX | BPF_MEM, 0);
	stmt(a, BPF_LD | BPF_MEM, 4);
	jump(a, BPF_JMP | BPF_JGE | BPF_X, 0, L_NO_CARRY, -1);	/* end lo >= addr lo */
	stmt(a, BPF_LD | BPF_MEM, 5);
	stmt(a, BPF_ALU | BPF_ADD | BPF_K, 1);
	stmt(a, BPF_ST, 5);
	label(a, L_NO_CARRY);

	/* end > lo: overlap */
	stmt(a, BPF_LD | BPF_MEM, 5);
	jump(a, BPF_JMP | BPF_JGT | BPF_K, (uint32_t)(lo >> 32), L_TRACE, -1);
	jump(a, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(lo >> 32), -1, L_ALLOW);
	stmt(a, BPF_LD | BPF_MEM, 4);
	jump(a, BPF_JMP | BPF_JGT | BPF_K, (uint32_t)lo, L_TRACE, L_ALLOW);
}

static void allow_if(struct bpf_asm *a, uint32_t nr)
{
	jump(a, BPF_JMP | BPF_JEQ | BPF_K, nr, L_ALLOW, -1);
}

/* madvise(2) advice that only changes the calling process's own pages. */
static const uint32_t own_advice[] = {
	MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED,
	8 /* MADV_FREE */, MADV_REMOVE, MADV_DONTFORK, MADV_DOFORK,
	MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP,
	18 /* MADV_WIPEONFORK */, 19 /* MADV_KEEPONFORK */, 20 /* MADV_COLD */,
	21 /* MADV_PAGEOUT */, 22 /* MADV_POPULATE_READ */, 23 /* MADV_POPULATE_WRITE */,
	24 /* MADV_DONTNEED_LOCKED */, 25 /* MADV_COLLAPSE */,
	102 /* MADV_GUARD_INSTALL */, 103 /* MADV_GUARD_REMOVE */,
};

/* futex(2) operations that act on the caller's memory only (not the PI ones). */
static const uint32_t own_futex_ops[] = {
	FUTEX_WAIT, FUTEX_WAKE, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP,
	FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET,
};

static int accelerated_filter(struct bpf_asm *a, uint64_t stub_lo, uint64_t stub_hi)
{
	unsigned int i;

	ld(a, offsetof(struct seccomp_data, arch));
	jump(a, BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, -1, L_TRAP);
	ld(a, offsetof(struct seccomp_data, nr));
	jump(a, BPF_JMP | BPF_JGE | BPF_K, 0x40000000, L_ENOSYS, -1);	/* x32 */
	jump(a, BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, L_MMAP, -1);
	jump(a, BPF_JMP | BPF_JEQ | BPF_K, __NR_munmap, L_RANGE01, -1);
	jump(a, BPF_JMP | BPF_JEQ | BPF_K, __NR_mprotect, L_RANGE01, -1);
	jump(a, BPF_JMP | BPF_JEQ | BPF_K, __NR_madvise, L_MADVISE, -1);
	jump(a, BPF_JMP | BPF_JEQ | BPF_K, __NR_futex, L_FUTEX, -1);
	jump(a, BPF_JMP | BPF_JEQ | BPF_K, __NR_clock_gettime, L_CLOCK, -1);
	allow_if(a, __NR_gettimeofday);
	allow_if(a, __NR_sched_yield);
	allow_if(a, __NR_getrandom);
	ret(a, SECCOMP_RET_TRACE);

	label(a, L_MMAP);
	ld(a, ARG_LO(3));
	jump(a, BPF_JMP | BPF_JSET | BPF_K, MAP_ANONYMOUS, -1, L_TRACE);
	jump(a, BPF_JMP | BPF_JSET | BPF_K, MAP_LOCKED | MAP_HUGETLB, L_TRACE, -1);
	jump(a, BPF_JMP | BPF_JSET | BPF_K, MAP_FIXED, L_RANGE01, L_ALLOW);

	label(a, L_MADVISE);
	ld(a, ARG_LO(2));
	for (i = 0; i < sizeof(own_advice) / sizeof(own_advice[0]); i++)
		jump(a, BPF_JMP | BPF_JEQ | BPF_K, own_advice[i], L_RANGE01, -1);
	ret(a, SECCOMP_RET_TRACE);

	label(a, L_FUTEX);
	ld(a, ARG_LO(1));
	stmt(a, BPF_ALU | BPF_AND | BPF_K, ~(uint32_t)(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME));
	for (i = 0; i < sizeof(own_futex_ops) / sizeof(own_futex_ops[0]); i++)
		allow_if(a, own_futex_ops[i]);
	ret(a, SECCOMP_RET_TRACE);

	label(a, L_CLOCK);
	ld(a, ARG_LO(0));
	jump(a, BPF_JMP | BPF_JGT | BPF_K, 11 /* CLOCK_TAI */, L_TRACE, L_ALLOW);

	range_check(a, stub_lo, stub_hi);

	label(a, L_TRAP);
	ret(a, SECCOMP_RET_TRAP);
	label(a, L_ENOSYS);
	ret(a, SECCOMP_RET_ERRNO | ENOSYS);
	label(a, L_TRACE);
	ret(a, SECCOMP_RET_TRACE);
	label(a, L_ALLOW);
	ret(a, SECCOMP_RET_ALLOW);
	return 0;
}

/*
 * The host syscalls the kernel makes in a guest process in strict mode
 * (its image batches and injections; getpid is the notification call),
 * and the ones the host's vsyscall emulation makes for legacy binaries.
 */
static const uint32_t strict_allowed[] = {
	__NR_mmap, __NR_munmap, __NR_mprotect, __NR_madvise, __NR_mremap,
	__NR_msync, __NR_mincore, __NR_pkey_mprotect, __NR_clone, __NR_exit,
	__NR_futex, __NR_close, __NR_getpid,
	__NR_time, __NR_gettimeofday, __NR_getcpu,
};

static int strict_filter(struct bpf_asm *a)
{
	unsigned int i;

	ld(a, offsetof(struct seccomp_data, arch));
	jump(a, BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, -1, L_KILL);
	ld(a, offsetof(struct seccomp_data, nr));
	for (i = 0; i < sizeof(strict_allowed) / sizeof(strict_allowed[0]); i++)
		allow_if(a, strict_allowed[i]);
	label(a, L_KILL);
	ret(a, SECCOMP_RET_KILL_PROCESS);
	label(a, L_ALLOW);
	ret(a, SECCOMP_RET_ALLOW);
	return 0;
}

int mode_filter(struct sock_filter *ins, unsigned int cap, unsigned short *len,
		int accelerated, uint64_t stub_lo, uint64_t stub_hi)
{
	struct bpf_asm a;

	asm_init(&a, ins, cap);
	if (accelerated)
		accelerated_filter(&a, stub_lo, stub_hi);
	else
		strict_filter(&a);
	return assemble(&a, len);
}
