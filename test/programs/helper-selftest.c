// SPDX-License-Identifier: GPL-2.0-only
/*
 * helper-selftest: the vmctl host helper patch (host-patch/) tested the way
 * tools/testing/selftests tests the kernel: one test per behaviour, each in
 * its own process, TAP output.
 *
 *	helper-selftest [--expect present|absent|auto] [TEST...]
 *
 * PTRACE_VMCTL_SYSCALL_ROUNDTRIP and PTRACE_VMCTL_MM_BATCH are checked on
 * their happy paths and on every rejection. On a kernel without the patch
 * (--expect absent) the happy paths are skipped and every rejection must
 * report EIO, except those ptrace itself makes before it looks at the
 * request (a tracee not ours or not stopped: ESRCH either way). --expect auto
 * (the default) asks the kernel which case it is.
 *
 * Exit status: 0 when no test failed, 1 otherwise, 2 for a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/types.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The ABI: what the patch adds to include/uapi/linux/ptrace.h. */
#include "../../host-patch/ptrace-vmctl.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC			0x01021994
#endif

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define KSFT_PASS	0
#define KSFT_FAIL	1
#define KSFT_SKIP	4

/* Addresses the tests map at with MAP_FIXED_NOREPLACE: far from anything. */
#define MAP_A		0x5a5a00000000UL
#define MAP_B		0x5a5b00000000UL
#define PAGE		4096UL

/* What the kernel under test has, and so what every rejection must give. */
static bool helper_present;

/* Why a test skipped: written by the test's process, read by the runner. */
#define REASON_SIZE	256
static char *skip_reason;

/* ---- the harness ---------------------------------------------------- */

#define TEST(name) static void name(void)

/* Ends the current test (it runs in a child of its own) as failed. */
static void __attribute__((noreturn)) fail(void)
{
	fflush(stdout);
	_exit(KSFT_FAIL);
}

#define SKIP(...) do {						\
	snprintf(skip_reason, REASON_SIZE, __VA_ARGS__);	\
	fflush(stdout);						\
	_exit(KSFT_SKIP);					\
} while (0)

#define ASSERT_EQ(expected, seen) do {				\
	long long _e = (long long)(expected);			\
	long long _s = (long long)(seen);			\
	if (_e != _s) {						\
		printf("# %s:%d: expected %s (%lld) == %s (%lld)\n",	\
		       __FILE__, __LINE__, #expected, _e, #seen, _s);	\
		fail();						\
	}							\
} while (0)

#define ASSERT_TRUE(cond) do {					\
	if (!(cond)) {						\
		printf("# %s:%d: expected %s\n",		\
		       __FILE__, __LINE__, #cond);		\
		fail();						\
	}							\
} while (0)

/* A call that must succeed (not return -1); errno is shown if it did not. */
#define ASSERT_OK(call) do {					\
	long _r = (long)(call);					\
	if (_r == -1) {						\
		printf("# %s:%d: %s failed: %s\n",		\
		       __FILE__, __LINE__, #call, strerror(errno));	\
		fail();						\
	}							\
} while (0)

static const char *errname(int err)
{
	const char *name = strerrorname_np(err);

	return name ? name : "?";
}

static void check_rejected(const char *call, int line, long ret, int err,
			   int want)
{
	if (ret == -1 && err == want)
		return;
	if (ret == -1)
		printf("# %s:%d: %s: expected -1 %s, got -1 %s\n",
		       __FILE__, line, call, errname(want), errname(err));
	else
		printf("# %s:%d: %s: expected -1 %s, got %ld\n",
		       __FILE__, line, call, errname(want), ret);
	fail();
}

/* A helper request must fail with @err, or with EIO on a kernel without it. */
#define ASSERT_REJECTS(err, call) do {				\
	long _r;						\
	errno = 0;						\
	_r = (long)(call);					\
	check_rejected(#call, __LINE__, _r, errno,		\
		       helper_present ? (err) : EIO);		\
} while (0)

/* Rejected by ptrace before it looks at the request: same on any kernel. */
#define ASSERT_REJECTS_ALWAYS(err, call) do {			\
	long _r;						\
	errno = 0;						\
	_r = (long)(call);					\
	check_rejected(#call, __LINE__, _r, errno, (err));	\
} while (0)

#define NEEDS_HELPER() do {					\
	if (!helper_present)					\
		SKIP("the helper is absent (its requests give EIO)");	\
} while (0)

/* ---- requests and tracees -------------------------------------------- */

static long vmctl_ptrace(long request, pid_t pid, unsigned long addr,
			 void *data)
{
	return syscall(SYS_ptrace, request, pid, addr, data);
}

static long roundtrip_flags(pid_t pid, struct user_regs_struct *regs,
			    struct ptrace_vmctl_roundtrip *rt, __u32 flags)
{
	memset(rt, 0, sizeof(*rt));
	rt->regs = (uintptr_t)regs;
	rt->regs_size = sizeof(*regs);
	rt->flags = flags;
	return vmctl_ptrace(PTRACE_VMCTL_SYSCALL_ROUNDTRIP, pid, 0, rt);
}

static long roundtrip(pid_t pid, struct user_regs_struct *regs,
		      struct ptrace_vmctl_roundtrip *rt)
{
	return roundtrip_flags(pid, regs, rt, 0);
}

static long mm_batch(pid_t pid, struct ptrace_vmctl_mm_op *ops, unsigned int nr)
{
	struct ptrace_vmctl_mm_batch batch = {
		.ops = (uintptr_t)ops,
		.nr_ops = nr,
	};

	return vmctl_ptrace(PTRACE_VMCTL_MM_BATCH, pid, 0, &batch);
}

static struct ptrace_vmctl_mm_op op_mmap_anon(unsigned long addr,
					      unsigned long len, int prot)
{
	struct ptrace_vmctl_mm_op op = {
		.op = PTRACE_VMCTL_MM_MMAP,
		.prot = prot,
		.flags = MAP_PRIVATE | MAP_ANONYMOUS |
			 (addr ? MAP_FIXED_NOREPLACE : 0),
		.fd = -1,
		.addr = addr,
		.len = len,
	};

	return op;
}

static struct ptrace_vmctl_mm_op op_mmap_file(unsigned long addr,
					      unsigned long len, int prot,
					      int flags, int fd,
					      unsigned long offset)
{
	struct ptrace_vmctl_mm_op op = {
		.op = PTRACE_VMCTL_MM_MMAP,
		.prot = prot,
		.flags = flags | (addr ? MAP_FIXED_NOREPLACE : 0),
		.fd = fd,
		.addr = addr,
		.len = len,
		.offset = offset,
	};

	return op;
}

static struct ptrace_vmctl_mm_op op_range(int kind, unsigned long addr,
					  unsigned long len, int prot)
{
	struct ptrace_vmctl_mm_op op = {
		.op = kind,
		.prot = prot,
		.addr = addr,
		.len = len,
	};

	return op;
}

static struct ptrace_vmctl_mm_op op_write(unsigned long addr, const void *buf,
					  unsigned long len)
{
	struct ptrace_vmctl_mm_op op = {
		.op = PTRACE_VMCTL_MM_WRITE,
		.addr = addr,
		.len = len,
		.buf = (uintptr_t)buf,
	};

	return op;
}

/*
 * Tracee bodies. After the tracer's first PTRACE_SYSEMU nothing they do
 * reaches the host kernel: every system call stops and is answered by the
 * tracer, which also reads their arguments. write(-1, value, 0) is how a
 * body reports a value.
 */

/* Reports back each answer to getppid. */
static void body_echo(void)
{
	for (;;) {
		long answer = syscall(SYS_getppid);

		syscall(SYS_write, -1, answer, 0);
	}
}

/*
 * body_echo under a seccomp filter that traces getppid and write
 * (SECCOMP_RET_TRACE) and lets everything else run, as vmctl's
 * accelerated mode does.
 */
static void body_echo_seccomp(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_write, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = ARRAY_SIZE(filter), .filter = filter };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == -1)
		_exit(4);
	body_echo();
}

/* Reads the long at the address getppid answers, and reports it. */
static void body_read(void)
{
	for (;;) {
		long addr = syscall(SYS_getppid);

		syscall(SYS_write, -1, *(volatile long *)addr, 0);
	}
}

/* Reports the CPU it runs on after each answer (getcpu needs no syscall). */
static void body_cpu(void)
{
	for (;;) {
		syscall(SYS_getppid);
		syscall(SYS_write, -1, (long)sched_getcpu(), 0);
	}
}

/* One system call, then a fault: the next stop is a SIGSEGV. */
static void body_fault(void)
{
	volatile int *volatile nowhere = NULL;

	syscall(SYS_getppid);
	*nowhere = 1;
}

/* One system call, then it computes until it is killed: no further stop. */
static void body_spin(void)
{
	syscall(SYS_getppid);
	for (;;)
		;
}

/* Runs natively (resumed with PTRACE_CONT): sleeps until it is killed. */
static void body_pause(void)
{
	for (;;)
		pause();
}

static void wait_stopped(pid_t pid, int sig)
{
	int status;

	ASSERT_EQ(pid, waitpid(pid, &status, __WALL));
	if (!WIFSTOPPED(status)) {
		printf("# tracee %d ended (status 0x%x) instead of stopping\n",
		       pid, status);
		fail();
	}
	ASSERT_EQ(sig, WSTOPSIG(status));
}

/*
 * A child that asks to be traced and stops with SIGSTOP before it runs
 * @body. It dies with its tracer (PTRACE_O_EXITKILL), so a test that fails
 * leaves nothing behind.
 */
static pid_t start_tracee(void (*body)(void))
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	ASSERT_OK(pid);
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) == -1)
			_exit(2);
		if (kill(getpid(), SIGSTOP) == -1)
			_exit(2);
		body();
		_exit(0);
	}
	wait_stopped(pid, SIGSTOP);
	ASSERT_OK(ptrace(PTRACE_SETOPTIONS, pid, NULL,
			 (void *)(PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD)));
	return pid;
}

static void get_regs(pid_t pid, struct user_regs_struct *regs)
{
	ASSERT_OK(ptrace(PTRACE_GETREGS, pid, NULL, regs));
}

/* Resumes with @request until the tracee stops at the entry of @nr. */
static void resume_to_syscall(pid_t pid, int request, long nr,
			      struct user_regs_struct *regs)
{
	ASSERT_OK(ptrace(request, pid, NULL, NULL));
	wait_stopped(pid, SIGTRAP | 0x80);
	get_regs(pid, regs);
	ASSERT_EQ(nr, regs->orig_rax);
}

/* A tracee stopped by PTRACE_SYSEMU at the entry of its first getppid. */
static pid_t start_sysemu_tracee(void (*body)(void),
				 struct user_regs_struct *regs)
{
	pid_t pid = start_tracee(body);

	resume_to_syscall(pid, PTRACE_SYSEMU, SYS_getppid, regs);
	return pid;
}

/* Answers the system call the tracee is stopped at, the classic way. */
static void answer_classic(pid_t pid, struct user_regs_struct *regs, long rax,
			   long next_nr)
{
	regs->rax = rax;
	ASSERT_OK(ptrace(PTRACE_SETREGS, pid, NULL, regs));
	resume_to_syscall(pid, PTRACE_SYSEMU, next_nr, regs);
}

/* The tracee is still at the very stop it was in: nothing resumed it. */
static void assert_same_stop(pid_t pid, long nr)
{
	struct user_regs_struct regs;
	int status;

	ASSERT_EQ(0, waitpid(pid, &status, WNOHANG | __WALL));
	get_regs(pid, &regs);
	ASSERT_EQ(nr, regs.orig_rax);
}

static void end_tracee(pid_t pid)
{
	int status;

	if (kill(pid, SIGKILL) == -1 && errno != ESRCH) {
		printf("# kill(%d): %s\n", pid, strerror(errno));
		fail();
	}
	while (waitpid(pid, &status, __WALL) == pid && !WIFEXITED(status) &&
	       !WIFSIGNALED(status))
		;
}

/* A child that is not traced at all. */
static pid_t start_stranger(void)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	ASSERT_OK(pid);
	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

/* Whether /proc/PID/maps has exactly START-END with permissions PERMS. */
static bool has_mapping(pid_t pid, unsigned long start, unsigned long end,
			const char *perms)
{
	char path[64], line[512], want[64];
	bool found = false;
	FILE *maps;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	snprintf(want, sizeof(want), "%lx-%lx %s ", start, end, perms);
	maps = fopen(path, "re");
	ASSERT_TRUE(maps);
	while (fgets(line, sizeof(line), maps))
		if (strncmp(line, want, strlen(want)) == 0)
			found = true;
	ASSERT_OK(fclose(maps));
	return found;
}

/* Whether anything at all is mapped in the tracee at ADDR. */
static bool is_mapped(pid_t pid, unsigned long addr)
{
	char path[64], line[512];
	unsigned long start, end;
	bool found = false;
	FILE *maps;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "re");
	ASSERT_TRUE(maps);
	while (fgets(line, sizeof(line), maps))
		if (sscanf(line, "%lx-%lx", &start, &end) == 2 &&
		    addr >= start && addr < end)
			found = true;
	ASSERT_OK(fclose(maps));
	return found;
}

static void read_tracee(pid_t pid, unsigned long addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)addr, .iov_len = len };

	ASSERT_EQ(len, process_vm_readv(pid, &local, 1, &remote, 1, 0));
}

/* A memfd of @pages pages; page i is filled with the byte 'a' + i. */
static int make_file(unsigned int pages)
{
	char page[PAGE];
	unsigned int i;
	int fd;

	fd = memfd_create("vmctl-selftest", MFD_CLOEXEC);
	ASSERT_OK(fd);
	for (i = 0; i < pages; i++) {
		memset(page, 'a' + i, sizeof(page));
		ASSERT_EQ(sizeof(page), write(fd, page, sizeof(page)));
	}
	return fd;
}

static double now_us(void)
{
	struct timespec ts;

	ASSERT_OK(clock_gettime(CLOCK_MONOTONIC, &ts));
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* ---- PTRACE_VMCTL_SYSCALL_ROUNDTRIP ------------------------------------ */

/* Answers getppid and comes back with the next stop and its registers. */
TEST(rt_answers_syscall)
{
	struct ptrace_vmctl_roundtrip rt;
	struct user_regs_struct regs;
	pid_t pid;
	long i;

	NEEDS_HELPER();
	pid = start_sysemu_tracee(body_echo, &regs);
	for (i = 0; i < 100; i++) {
		/* getppid gets i; the tracee then reports it with write. */
		regs.rax = 1000 + i;
		ASSERT_EQ(0, roundtrip(pid, &regs, &rt));
		ASSERT_TRUE(WIFSTOPPED(rt.status));
		ASSERT_EQ(SIGTRAP | 0x80, WSTOPSIG(rt.status));
		ASSERT_EQ(PTRACE_VMCTL_RT_REGS, rt.out_flags);
		ASSERT_EQ(SYS_write, regs.orig_rax);
		ASSERT_EQ(1000 + i, regs.rsi);
		/* write returns 0; the tracee goes on to its next getppid. */
		regs.rax = 0;
		ASSERT_EQ(0, roundtrip(pid, &regs, &rt));
		ASSERT_EQ(SYS_getppid, regs.orig_rax);
	}
	/* The stop was consumed, as waitpid() would have: none is pending. */
	assert_same_stop(pid, SYS_getppid);
	/* And the classic requests go on from where the round trip left. */
	answer_classic(pid, &regs, 77, SYS_write);
	ASSERT_EQ(77, regs.rsi);
	end_tracee(pid);
}

/* The seccomp stop at the tracee's next traced system call. */
static void cont_to_seccomp_stop(pid_t pid, long nr,
				 struct user_regs_struct *regs)
{
	int status;

	ASSERT_OK(ptrace(PTRACE_CONT, pid, NULL, NULL));
	ASSERT_EQ(pid, waitpid(pid, &status, __WALL));
	ASSERT_TRUE(WIFSTOPPED(status));
	ASSERT_EQ(SIGTRAP | (PTRACE_EVENT_SECCOMP << 8), status >> 8);
	get_regs(pid, regs);
	ASSERT_EQ(nr, regs->orig_rax);
}

/*
 * With PTRACE_VMCTL_RT_SECCOMP: answers the system calls a seccomp filter
 * traces, skipped with orig_rax -1, and resumes as PTRACE_CONT (the
 * untraced ones run on their own); only at a seccomp stop, and a seccomp
 * stop only with the flag.
 */
TEST(rt_answers_seccomp_stop)
{
	struct ptrace_vmctl_roundtrip rt;
	struct user_regs_struct regs;
	pid_t pid;
	long i;

	NEEDS_HELPER();
	pid = start_tracee(body_echo_seccomp);
	ASSERT_OK(ptrace(PTRACE_SETOPTIONS, pid, NULL,
			 (void *)(PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD |
				  PTRACE_O_TRACESECCOMP)));
	cont_to_seccomp_stop(pid, SYS_getppid, &regs);
	ASSERT_REJECTS(EINVAL, roundtrip(pid, &regs, &rt));
	for (i = 0; i < 100; i++) {
		regs.orig_rax = -1;
		regs.rax = 2000 + i;
		ASSERT_EQ(0, roundtrip_flags(pid, &regs, &rt,
					     PTRACE_VMCTL_RT_SECCOMP));
		ASSERT_TRUE(WIFSTOPPED(rt.status));
		ASSERT_EQ(SIGTRAP | (PTRACE_EVENT_SECCOMP << 8), rt.status >> 8);
		ASSERT_EQ(PTRACE_VMCTL_RT_REGS, rt.out_flags);
		ASSERT_EQ(SYS_write, regs.orig_rax);
		ASSERT_EQ(2000 + i, regs.rsi);
		regs.orig_rax = -1;
		regs.rax = 0;
		ASSERT_EQ(0, roundtrip_flags(pid, &regs, &rt,
					     PTRACE_VMCTL_RT_SECCOMP));
		ASSERT_EQ(SYS_getppid, regs.orig_rax);
	}
	ASSERT_EQ(0, waitpid(pid, &rt.status, WNOHANG | __WALL));
	end_tracee(pid);

	/* A PTRACE_SYSEMU stop is no seccomp stop. */
	pid = start_sysemu_tracee(body_echo, &regs);
	ASSERT_REJECTS(EINVAL, roundtrip_flags(pid, &regs, &rt,
					       PTRACE_VMCTL_RT_SECCOMP));
	assert_same_stop(pid, SYS_getppid);
	end_tracee(pid);
}

/* The next stop may be a signal: it comes back with its registers. */
TEST(rt_returns_signal_stop)
{
	struct ptrace_vmctl_roundtrip rt;
	struct user_regs_struct regs;
	pid_t pid;

	NEEDS_HELPER();
	pid = start_sysemu_tracee(body_fault, &regs);
	regs.rax = 0;
	ASSERT_EQ(0, roundtrip(pid, &regs, &rt));
	ASSERT_TRUE(WIFSTOPPED(rt.status));
	ASSERT_EQ(SIGSEGV, WSTOPSIG(rt.status));
	ASSERT_EQ(PTRACE_VMCTL_RT_REGS, rt.out_flags);
	ASSERT_EQ(-1, regs.orig_rax);
	end_tracee(pid);
}

/* The tracee may end instead of stopping: its status, and no registers. */
TEST(rt_returns_exit)
{
	struct ptrace_vmctl_roundtrip rt;
	struct user_regs_struct regs;
	pid_t pid, killer;
	int status;

	NEEDS_HELPER();
	pid = start_sysemu_tracee(body_spin, &regs);
	fflush(stdout);
	killer = fork();
	ASSERT_OK(killer);
	if (killer == 0) {
		usleep(200 * 1000);
		_exit(kill(pid, SIGKILL) == 0 ? 0 : 1);
	}
	memset(&regs, 0, sizeof(regs));
	get_regs(pid, &regs);
	ASSERT_EQ(0, roundtrip(pid, &regs, &rt));
	ASSERT_TRUE(WIFSIGNALED(rt.status));
	ASSERT_EQ(SIGKILL, WTERMSIG(rt.status));
	ASSERT_EQ(0, rt.out_flags);
	/* Reaped as waitpid() reaps it. */
	ASSERT_EQ(-1, waitpid(pid, &status, WNOHANG | __WALL));
	ASSERT_EQ(ECHILD, errno);
	ASSERT_EQ(killer, waitpid(killer, &status, 0));
	ASSERT_EQ(0, status);
}

/*
 * Tracer and tracee stay on one CPU: after each round trip the tracee
 * reports the CPU it ran on, which should be the tracer's.
 */
TEST(rt_keeps_one_cpu)
{
	struct ptrace_vmctl_roundtrip rt;
	struct user_regs_struct regs;
	int i, same = 0, rounds = 1000;
	pid_t pid;

	NEEDS_HELPER();
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP("one CPU only");
	pid = start_sysemu_tracee(body_cpu, &regs);
	for (i = 0; i < rounds; i++) {
		regs.rax = 0;
		ASSERT_EQ(0, roundtrip(pid, &regs, &rt));
		ASSERT_EQ(SYS_write, regs.orig_rax);
		if ((long)regs.rsi == sched_getcpu())
			same++;
		regs.rax = 0;
		ASSERT_EQ(0, roundtrip(pid, &regs, &rt));
	}
	printf("# tracee on the tracer's CPU after %d of %d round trips\n",
	       same, rounds);
	ASSERT_TRUE(same >= rounds * 9 / 10);
	end_tracee(pid);
}

static double bench_classic(pid_t pid, struct user_regs_struct *regs, int n)
{
	double start = now_us();
	int i;

	/* An even number of answers: back at a getppid stop. */
	for (i = 0; i < n; i++)
		answer_classic(pid, regs, 0, i % 2 ? SYS_getppid : SYS_write);
	return (now_us() - start) / n;
}

static double bench_roundtrip(pid_t pid, struct user_regs_struct *regs, int n)
{
	struct ptrace_vmctl_roundtrip rt;
	double start = now_us();
	int i;

	for (i = 0; i < n; i++) {
		regs->rax = 0;
		ASSERT_EQ(0, roundtrip(pid, regs, &rt));
	}
	return (now_us() - start) / n;
}

static void pin(pid_t pid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	ASSERT_OK(sched_setaffinity(pid, sizeof(set), &set));
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#define BENCH_ROUNDS	9
#define BENCH_CALLS	250

/*
 * The median over BENCH_ROUNDS rounds of the cost of one emulated system
 * call, each way, the two ways taking turns so that a change in the load
 * of the machine weighs on both.
 */
static void bench_both(pid_t pid, struct user_regs_struct *regs,
		       double *classic, double *rt)
{
	double c[BENCH_ROUNDS], r[BENCH_ROUNDS];
	int i;

	for (i = 0; i < BENCH_ROUNDS; i++) {
		if (i % 2) {
			r[i] = bench_roundtrip(pid, regs, BENCH_CALLS);
			c[i] = bench_classic(pid, regs, BENCH_CALLS);
		} else {
			c[i] = bench_classic(pid, regs, BENCH_CALLS);
			if (!helper_present)
				continue;
			r[i] = bench_roundtrip(pid, regs, BENCH_CALLS);
		}
	}
	qsort(c, BENCH_ROUNDS, sizeof(c[0]), compare_doubles);
	qsort(r, BENCH_ROUNDS, sizeof(r[0]), compare_doubles);
	*classic = c[BENCH_ROUNDS / 2];
	*rt = r[BENCH_ROUNDS / 2];
}

/*
 * Not a check but a measurement: the cost of one emulated system call with
 * the four classic requests (PTRACE_SETREGS, PTRACE_SYSEMU, waitpid,
 * PTRACE_GETREGS) and with the round trip, tracer and tracee unpinned, then
 * both pinned to one CPU.
 */
TEST(rt_benchmark)
{
	struct user_regs_struct regs;
	double classic, rt, classic_pinned, rt_pinned;
	pid_t pid;

	pid = start_sysemu_tracee(body_echo, &regs);
	if (!helper_present) {
		classic = bench_classic(pid, &regs, BENCH_ROUNDS * BENCH_CALLS);
		printf("# classic requests: %.2f us per emulated system call\n",
		       classic);
		end_tracee(pid);
		SKIP("the helper is absent: classic requests measured only");
	}
	bench_both(pid, &regs, &classic, &rt);
	pin(0, 0);
	pin(pid, 0);
	bench_both(pid, &regs, &classic_pinned, &rt_pinned);
	printf("# per emulated system call, median of %d rounds of %d: ",
	       BENCH_ROUNDS, BENCH_CALLS);
	printf("classic %.2f us, round trip %.2f us (%.2fx); ",
	       classic, rt, classic / rt);
	printf("both pinned to one CPU: classic %.2f us, round trip %.2f us (%.2fx)\n",
	       classic_pinned, rt_pinned, classic_pinned / rt_pinned);
	end_tracee(pid);
}

TEST(rt_rejects_not_ours)
{
	struct ptrace_vmctl_roundtrip rt;
	struct user_regs_struct regs = { 0 };
	pid_t pid = start_stranger();

	ASSERT_REJECTS_ALWAYS(ESRCH, roundtrip(pid, &regs, &rt));
	ASSERT_REJECTS_ALWAYS(ESRCH, roundtrip(getpid(), &regs, &rt));
	end_tracee(pid);
}

TEST(rt_rejects_running)
{
	struct ptrace_vmctl_roundtrip rt;
	struct user_regs_struct regs = { 0 };
	pid_t pid = start_tracee(body_pause);

	ASSERT_OK(ptrace(PTRACE_CONT, pid, NULL, NULL));
	ASSERT_REJECTS_ALWAYS(ESRCH, roundtrip(pid, &regs, &rt));
	end_tracee(pid);
}

/* Only a syscall-entry stop made by PTRACE_SYSEMU can be answered. */
TEST(rt_rejects_other_stops)
{
	struct ptrace_vmctl_roundtrip rt;
	struct user_regs_struct regs;
	pid_t pid = start_tracee(body_echo);

	/* The signal-delivery stop of SIGSTOP. */
	get_regs(pid, &regs);
	ASSERT_REJECTS(EINVAL, roundtrip(pid, &regs, &rt));
	/* A syscall-entry stop of PTRACE_SYSCALL: that system call would run. */
	resume_to_syscall(pid, PTRACE_SYSCALL, SYS_getppid, &regs);
	ASSERT_REJECTS(EINVAL, roundtrip(pid, &regs, &rt));
	assert_same_stop(pid, SYS_getppid);
	end_tracee(pid);
}

TEST(rt_rejects_bad_addresses)
{
	struct ptrace_vmctl_roundtrip rt;
	struct user_regs_struct regs, *ro;
	pid_t pid = start_sysemu_tracee(body_echo, &regs);

	ASSERT_REJECTS(EFAULT, vmctl_ptrace(PTRACE_VMCTL_SYSCALL_ROUNDTRIP,
					    pid, 0, NULL));
	ASSERT_REJECTS(EFAULT, vmctl_ptrace(PTRACE_VMCTL_SYSCALL_ROUNDTRIP,
					    pid, 0, (void *)8));
	rt = (struct ptrace_vmctl_roundtrip){ .regs = 8,
					      .regs_size = sizeof(regs) };
	ASSERT_REJECTS(EFAULT, vmctl_ptrace(PTRACE_VMCTL_SYSCALL_ROUNDTRIP,
					    pid, 0, &rt));
	/*
	 * On a read-only page: registers it can read but not write back, and
	 * a request whose status it could not write. Both are refused before
	 * the tracee runs.
	 */
	ro = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(ro != MAP_FAILED);
	ro[0] = regs;
	rt = (struct ptrace_vmctl_roundtrip){ .regs = (uintptr_t)&regs,
					      .regs_size = sizeof(regs) };
	memcpy(&ro[1], &rt, sizeof(rt));
	ASSERT_OK(mprotect(ro, PAGE, PROT_READ));
	ASSERT_REJECTS(EFAULT, roundtrip(pid, &ro[0], &rt));
	ASSERT_REJECTS(EFAULT, vmctl_ptrace(PTRACE_VMCTL_SYSCALL_ROUNDTRIP,
					    pid, 0, &ro[1]));
	assert_same_stop(pid, SYS_getppid);
	ASSERT_OK(munmap(ro, PAGE));
	end_tracee(pid);
}

TEST(rt_rejects_bad_arguments)
{
	struct ptrace_vmctl_roundtrip rt;
	struct user_regs_struct regs;
	pid_t pid = start_sysemu_tracee(body_echo, &regs);
	static const __u32 sizes[] = { 0, sizeof(regs) - 8, sizeof(regs) + 8 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		rt = (struct ptrace_vmctl_roundtrip){
			.regs = (uintptr_t)&regs, .regs_size = sizes[i] };
		ASSERT_REJECTS(EINVAL,
			       vmctl_ptrace(PTRACE_VMCTL_SYSCALL_ROUNDTRIP,
					    pid, 0, &rt));
	}
	rt = (struct ptrace_vmctl_roundtrip){ .regs = (uintptr_t)&regs,
		.regs_size = sizeof(regs), .flags = 2 };
	ASSERT_REJECTS(EINVAL, vmctl_ptrace(PTRACE_VMCTL_SYSCALL_ROUNDTRIP,
					    pid, 0, &rt));
	rt.flags = 0;
	ASSERT_REJECTS(EINVAL, vmctl_ptrace(PTRACE_VMCTL_SYSCALL_ROUNDTRIP,
					    pid, 1, &rt));
	assert_same_stop(pid, SYS_getppid);
	end_tracee(pid);
}

/* ---- PTRACE_VMCTL_MM_BATCH --------------------------------------------- */

/* Map, fill and protect memory in one call; the tracee sees it as its own. */
TEST(mm_maps_writes_protects)
{
	const long value = 0x766d63746c21L;
	struct ptrace_vmctl_mm_op ops[3];
	struct ptrace_vmctl_roundtrip rt;
	struct user_regs_struct regs;
	long seen;
	pid_t pid;

	NEEDS_HELPER();
	pid = start_sysemu_tracee(body_read, &regs);
	ops[0] = op_mmap_anon(MAP_A, 2 * PAGE, PROT_READ | PROT_WRITE);
	ops[1] = op_write(MAP_A + PAGE, &value, sizeof(value));
	ops[2] = op_range(PTRACE_VMCTL_MM_MPROTECT, MAP_A, 2 * PAGE,
			  PROT_READ);
	ASSERT_EQ(3, mm_batch(pid, ops, 3));
	ASSERT_EQ(MAP_A, ops[0].result);
	ASSERT_EQ(0, ops[1].result);
	ASSERT_EQ(0, ops[2].result);
	ASSERT_TRUE(has_mapping(pid, MAP_A, MAP_A + 2 * PAGE, "r--p"));
	read_tracee(pid, MAP_A + PAGE, &seen, sizeof(seen));
	ASSERT_EQ(value, seen);
	/* Still in its getppid stop; it reads the memory itself. */
	assert_same_stop(pid, SYS_getppid);
	regs.rax = MAP_A + PAGE;
	ASSERT_EQ(0, roundtrip(pid, &regs, &rt));
	ASSERT_EQ(SYS_write, regs.orig_rax);
	ASSERT_EQ(value, regs.rsi);
	end_tracee(pid);
}

/* With no address, the tracee's own mmap layout picks one. */
TEST(mm_maps_anywhere)
{
	struct ptrace_vmctl_mm_op op;
	struct user_regs_struct regs;
	pid_t pid;

	NEEDS_HELPER();
	pid = start_sysemu_tracee(body_echo, &regs);
	op = op_mmap_anon(0, 3 * PAGE, PROT_READ);
	ASSERT_EQ(1, mm_batch(pid, &op, 1));
	ASSERT_TRUE(op.result > 0 && op.result % PAGE == 0);
	ASSERT_TRUE(has_mapping(pid, op.result, op.result + 3 * PAGE, "r--p"));
	end_tracee(pid);
}

/* A file the tracer opened, by the tracer's fd number: the tracee has none. */
TEST(mm_maps_tracer_file)
{
	struct ptrace_vmctl_mm_op ops[2];
	struct user_regs_struct regs;
	char page[PAGE], path[64], target[256];
	ssize_t len;
	pid_t pid;
	int fd;

	NEEDS_HELPER();
	pid = start_sysemu_tracee(body_echo, &regs);
	fd = make_file(3);
	/* The tracee was forked before the file existed. */
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	len = readlink(path, target, sizeof(target) - 1);
	target[len < 0 ? 0 : len] = '\0';
	ASSERT_TRUE(!strstr(target, "vmctl-selftest"));
	ops[0] = op_mmap_file(MAP_A, PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	ops[1] = op_mmap_file(MAP_B, 2 * PAGE, PROT_READ, MAP_PRIVATE, fd,
			      PAGE);
	ASSERT_EQ(2, mm_batch(pid, ops, 2));
	ASSERT_EQ(MAP_A, ops[0].result);
	ASSERT_EQ(MAP_B, ops[1].result);
	read_tracee(pid, MAP_A, page, sizeof(page));
	ASSERT_EQ('a', page[0]);
	ASSERT_EQ('a', page[PAGE - 1]);
	read_tracee(pid, MAP_B + PAGE, page, sizeof(page));
	ASSERT_EQ('c', page[0]);
	ASSERT_OK(close(fd));
	/* The mapping holds the file, not the tracer's descriptor. */
	read_tracee(pid, MAP_B, page, sizeof(page));
	ASSERT_EQ('b', page[0]);
	end_tracee(pid);
}

/* A shared writable mapping of the tracer's file: writes reach the file. */
TEST(mm_writes_shared_file)
{
	struct ptrace_vmctl_mm_op ops[2];
	struct user_regs_struct regs;
	static const char text[] = "written in the tracee";
	char back[sizeof(text)];
	pid_t pid;
	int fd;

	NEEDS_HELPER();
	pid = start_sysemu_tracee(body_echo, &regs);
	fd = make_file(1);
	ops[0] = op_mmap_file(MAP_A, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
			      fd, 0);
	ops[1] = op_write(MAP_A + 100, text, sizeof(text));
	ASSERT_EQ(2, mm_batch(pid, ops, 2));
	ASSERT_EQ(sizeof(back), pread(fd, back, sizeof(back), 100));
	ASSERT_EQ(0, memcmp(text, back, sizeof(text)));
	ASSERT_OK(close(fd));
	end_tracee(pid);
}

TEST(mm_unmaps)
{
	struct ptrace_vmctl_mm_op ops[2];
	struct user_regs_struct regs;
	pid_t pid;

	NEEDS_HELPER();
	pid = start_sysemu_tracee(body_echo, &regs);
	ops[0] = op_mmap_anon(MAP_A, 4 * PAGE, PROT_READ | PROT_WRITE);
	ops[1] = op_range(PTRACE_VMCTL_MM_MUNMAP, MAP_A + PAGE, 2 * PAGE, 0);
	ASSERT_EQ(2, mm_batch(pid, ops, 2));
	ASSERT_TRUE(has_mapping(pid, MAP_A, MAP_A + PAGE, "rw-p"));
	ASSERT_TRUE(!is_mapped(pid, MAP_A + PAGE));
	ASSERT_TRUE(!is_mapped(pid, MAP_A + 2 * PAGE));
	ASSERT_TRUE(has_mapping(pid, MAP_A + 3 * PAGE, MAP_A + 4 * PAGE,
				"rw-p"));
	end_tracee(pid);
}

/*
 * An operation that fails stops the batch: the call returns how many ran,
 * that one holds the errno the system call would give, the rest are not run.
 */
TEST(mm_stops_at_first_error)
{
	struct ptrace_vmctl_mm_op ops[3];
	struct user_regs_struct regs;
	const long value = 1;
	pid_t pid;

	NEEDS_HELPER();
	pid = start_sysemu_tracee(body_echo, &regs);
	ops[0] = op_mmap_anon(MAP_A, PAGE, PROT_READ | PROT_WRITE);
	ops[1] = op_range(PTRACE_VMCTL_MM_MUNMAP, MAP_A + 1, PAGE, 0);
	ops[2] = op_mmap_anon(MAP_B, PAGE, PROT_READ);
	ops[2].result = 12345;
	ASSERT_EQ(1, mm_batch(pid, ops, 3));
	ASSERT_EQ(MAP_A, ops[0].result);
	ASSERT_EQ(-EINVAL, ops[1].result);
	ASSERT_EQ(12345, ops[2].result);
	ASSERT_TRUE(is_mapped(pid, MAP_A));
	ASSERT_TRUE(!is_mapped(pid, MAP_B));

	/* Where the address is taken: EEXIST, as mmap(2) gives it. */
	ops[0] = op_mmap_anon(MAP_A, PAGE, PROT_READ);
	ASSERT_EQ(0, mm_batch(pid, ops, 1));
	ASSERT_EQ(-EEXIST, ops[0].result);

	/* Writes obey the tracee's own permissions, as its stores would. */
	ops[0] = op_range(PTRACE_VMCTL_MM_MPROTECT, MAP_A, PAGE, PROT_READ);
	ops[1] = op_write(MAP_A, &value, sizeof(value));
	ASSERT_EQ(1, mm_batch(pid, ops, 2));
	ASSERT_EQ(-EFAULT, ops[1].result);
	ops[0] = op_write(MAP_B, &value, sizeof(value));
	ASSERT_EQ(0, mm_batch(pid, ops, 1));
	ASSERT_EQ(-EFAULT, ops[0].result);
	assert_same_stop(pid, SYS_getppid);
	end_tracee(pid);
}

/* Any ptrace stop will do, not only a system call's. */
TEST(mm_at_signal_stop)
{
	struct ptrace_vmctl_mm_op op;
	pid_t pid;

	NEEDS_HELPER();
	pid = start_tracee(body_echo);
	op = op_mmap_anon(MAP_A, PAGE, PROT_READ);
	ASSERT_EQ(1, mm_batch(pid, &op, 1));
	ASSERT_TRUE(has_mapping(pid, MAP_A, MAP_A + PAGE, "r--p"));
	end_tracee(pid);
}

/* The largest batch allowed: every operation runs, in order. */
TEST(mm_full_batch)
{
	static struct ptrace_vmctl_mm_op ops[PTRACE_VMCTL_MM_MAX_OPS];
	static char data[PTRACE_VMCTL_MM_MAX_WRITE];
	struct user_regs_struct regs;
	unsigned int i, nwrites = PTRACE_VMCTL_MM_MAX_OPS - 1;
	unsigned long chunk = PTRACE_VMCTL_MM_MAX_WRITE / nwrites;
	char seen[16];
	pid_t pid;

	NEEDS_HELPER();
	pid = start_sysemu_tracee(body_echo, &regs);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7);
	ops[0] = op_mmap_anon(MAP_A, PTRACE_VMCTL_MM_MAX_WRITE,
			      PROT_READ | PROT_WRITE);
	for (i = 0; i < nwrites; i++)
		ops[1 + i] = op_write(MAP_A + i * chunk, data + i * chunk,
				      chunk);
	ASSERT_EQ(PTRACE_VMCTL_MM_MAX_OPS,
		  mm_batch(pid, ops, PTRACE_VMCTL_MM_MAX_OPS));
	read_tracee(pid, MAP_A + (nwrites - 1) * chunk, seen, sizeof(seen));
	ASSERT_EQ(0, memcmp(data + (nwrites - 1) * chunk, seen, sizeof(seen)));
	end_tracee(pid);
}

static unsigned long tmpfs_free_blocks(const char *dir)
{
	struct statfs st;

	ASSERT_OK(statfs(dir, &st));
	return st.f_bfree;
}

/*
 * Nothing leaks: a file mapped by batches, accepted or rejected, is freed
 * once the tracer closes it and the tracee unmaps it (a reference kept on
 * the file would keep its blocks in use on the tmpfs).
 */
TEST(mm_leaks_no_file)
{
	const char *dir = "/dev/shm";
	struct ptrace_vmctl_mm_op ops[3];
	struct user_regs_struct regs;
	unsigned long before, during;
	char path[128], page[PAGE];
	struct statfs st;
	int fd, i;
	pid_t pid;

	NEEDS_HELPER();
	if (statfs(dir, &st) == -1 || st.f_type != TMPFS_MAGIC)
		SKIP("%s is not a tmpfs", dir);
	pid = start_sysemu_tracee(body_echo, &regs);
	before = tmpfs_free_blocks(dir);
	snprintf(path, sizeof(path), "%s/vmctl-selftest-%d", dir, getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ASSERT_OK(fd);
	ASSERT_OK(unlink(path));
	memset(page, 'x', sizeof(page));
	for (i = 0; i < 64; i++)
		ASSERT_EQ(sizeof(page), write(fd, page, sizeof(page)));
	during = tmpfs_free_blocks(dir);
	ASSERT_TRUE(during < before);
	for (i = 0; i < 200; i++) {
		ops[0] = op_mmap_file(MAP_A, 64 * PAGE, PROT_READ, MAP_SHARED,
				      fd, 0);
		ops[1] = op_range(PTRACE_VMCTL_MM_MUNMAP, MAP_A, 64 * PAGE, 0);
		ASSERT_EQ(2, mm_batch(pid, ops, 2));
		/* Rejected after the file was taken: it must be given back. */
		ops[2] = op_mmap_file(MAP_B, PAGE, PROT_READ, MAP_SHARED,
				      1000 + i, 0);
		ASSERT_REJECTS(EBADF, mm_batch(pid, ops, 3));
		/* Failing in the tracee: given back too. */
		ops[1] = op_write(MAP_A, &i, sizeof(i));
		ASSERT_EQ(1, mm_batch(pid, ops, 2));
		ASSERT_EQ(-EFAULT, ops[1].result);
		ops[0] = op_range(PTRACE_VMCTL_MM_MUNMAP, MAP_A, 64 * PAGE, 0);
		ASSERT_EQ(1, mm_batch(pid, ops, 1));
	}
	ASSERT_OK(close(fd));
	ASSERT_EQ(before, tmpfs_free_blocks(dir));
	end_tracee(pid);
}

TEST(mm_rejects_not_ours)
{
	struct ptrace_vmctl_mm_op op = op_mmap_anon(MAP_A, PAGE, PROT_READ);
	pid_t pid = start_stranger();

	ASSERT_REJECTS_ALWAYS(ESRCH, mm_batch(pid, &op, 1));
	ASSERT_REJECTS_ALWAYS(ESRCH, mm_batch(getpid(), &op, 1));
	ASSERT_TRUE(!is_mapped(pid, MAP_A));
	end_tracee(pid);
}

TEST(mm_rejects_running)
{
	struct ptrace_vmctl_mm_op op = op_mmap_anon(MAP_A, PAGE, PROT_READ);
	pid_t pid = start_tracee(body_pause);

	ASSERT_OK(ptrace(PTRACE_CONT, pid, NULL, NULL));
	ASSERT_REJECTS_ALWAYS(ESRCH, mm_batch(pid, &op, 1));
	ASSERT_TRUE(!is_mapped(pid, MAP_A));
	end_tracee(pid);
}

/* A bad fd anywhere rejects the whole batch before any of it runs. */
TEST(mm_rejects_bad_fd)
{
	struct ptrace_vmctl_mm_op ops[2];
	struct user_regs_struct regs;
	pid_t pid = start_sysemu_tracee(body_echo, &regs);
	int fd, closed, path_fd;

	fd = make_file(1);
	closed = dup(fd);
	ASSERT_OK(closed);
	ASSERT_OK(close(closed));
	path_fd = open("/", O_PATH | O_CLOEXEC);
	ASSERT_OK(path_fd);

	ops[0] = op_mmap_anon(MAP_A, PAGE, PROT_READ);
	ops[1] = op_mmap_file(MAP_B, PAGE, PROT_READ, MAP_PRIVATE, closed, 0);
	ASSERT_REJECTS(EBADF, mm_batch(pid, ops, 2));
	ops[1].fd = -1;
	ASSERT_REJECTS(EBADF, mm_batch(pid, ops, 2));
	ops[1].fd = path_fd;
	ASSERT_REJECTS(EBADF, mm_batch(pid, ops, 2));
	ASSERT_TRUE(!is_mapped(pid, MAP_A));
	ASSERT_TRUE(!is_mapped(pid, MAP_B));
	assert_same_stop(pid, SYS_getppid);
	ASSERT_OK(close(fd));
	ASSERT_OK(close(path_fd));
	end_tracee(pid);
}

TEST(mm_rejects_bad_addresses)
{
	struct ptrace_vmctl_mm_batch batch = { .nr_ops = 1 };
	struct ptrace_vmctl_mm_op ops[2], *ro;
	struct user_regs_struct regs;
	pid_t pid = start_sysemu_tracee(body_echo, &regs);

	ASSERT_REJECTS(EFAULT, vmctl_ptrace(PTRACE_VMCTL_MM_BATCH, pid, 0,
					    NULL));
	batch.ops = 8;
	ASSERT_REJECTS(EFAULT, vmctl_ptrace(PTRACE_VMCTL_MM_BATCH, pid, 0,
					    &batch));
	/* The bytes of a write are read from the tracer first. */
	ops[0] = op_mmap_anon(MAP_A, PAGE, PROT_READ | PROT_WRITE);
	ops[1] = op_write(MAP_A, (void *)8, 8);
	ASSERT_REJECTS(EFAULT, mm_batch(pid, ops, 2));
	/* Operations whose results could not be written back. */
	ro = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(ro != MAP_FAILED);
	ro[0] = op_mmap_anon(MAP_A, PAGE, PROT_READ);
	ASSERT_OK(mprotect(ro, PAGE, PROT_READ));
	ASSERT_REJECTS(EFAULT, mm_batch(pid, ro, 1));
	ASSERT_TRUE(!is_mapped(pid, MAP_A));
	assert_same_stop(pid, SYS_getppid);
	ASSERT_OK(munmap(ro, PAGE));
	end_tracee(pid);
}

TEST(mm_rejects_over_limits)
{
	static struct ptrace_vmctl_mm_op ops[PTRACE_VMCTL_MM_MAX_OPS + 1];
	static char data[PTRACE_VMCTL_MM_MAX_WRITE + 1];
	struct user_regs_struct regs;
	pid_t pid = start_sysemu_tracee(body_echo, &regs);
	unsigned int i;

	for (i = 0; i <= PTRACE_VMCTL_MM_MAX_OPS; i++)
		ops[i] = op_range(PTRACE_VMCTL_MM_MPROTECT, MAP_A, PAGE,
				  PROT_READ);
	ASSERT_REJECTS(EINVAL, mm_batch(pid, ops, 0));
	ASSERT_REJECTS(E2BIG, mm_batch(pid, ops, PTRACE_VMCTL_MM_MAX_OPS + 1));
	ASSERT_REJECTS(E2BIG, mm_batch(pid, ops, UINT32_MAX));
	/* More bytes to write than a batch carries, in one op or in two. */
	ops[0] = op_write(MAP_A, data, sizeof(data));
	ASSERT_REJECTS(E2BIG, mm_batch(pid, ops, 1));
	ops[0] = op_write(MAP_A, data, sizeof(data) / 2);
	ops[1] = op_write(MAP_A, data, sizeof(data) / 2 + 1);
	ASSERT_REJECTS(E2BIG, mm_batch(pid, ops, 2));
	ops[0] = op_write(MAP_A, data, UINT64_MAX);
	ASSERT_REJECTS(E2BIG, mm_batch(pid, ops, 1));
	assert_same_stop(pid, SYS_getppid);
	end_tracee(pid);
}

TEST(mm_rejects_bad_operations)
{
	struct ptrace_vmctl_mm_batch batch;
	struct ptrace_vmctl_mm_op ops[2];
	struct user_regs_struct regs;
	pid_t pid = start_sysemu_tracee(body_echo, &regs);
	int fd = make_file(1);

	ops[0] = op_mmap_anon(MAP_A, PAGE, PROT_READ);
	/* Unknown operations. */
	ops[1] = op_range(0, MAP_B, PAGE, 0);
	ASSERT_REJECTS(EINVAL, mm_batch(pid, ops, 2));
	ops[1] = op_range(99, MAP_B, PAGE, 0);
	ASSERT_REJECTS(EINVAL, mm_batch(pid, ops, 2));
	/* Fields an operation does not use must be 0. */
	ops[1] = op_range(PTRACE_VMCTL_MM_MUNMAP, MAP_B, PAGE, PROT_READ);
	ASSERT_REJECTS(EINVAL, mm_batch(pid, ops, 2));
	ops[1] = op_range(PTRACE_VMCTL_MM_MPROTECT, MAP_B, PAGE, PROT_READ);
	ops[1].fd = fd;
	ASSERT_REJECTS(EINVAL, mm_batch(pid, ops, 2));
	ops[1] = op_write(MAP_B, &fd, sizeof(fd));
	ops[1].flags = MAP_PRIVATE;
	ASSERT_REJECTS(EINVAL, mm_batch(pid, ops, 2));
	/* An anonymous mapping takes no file and no offset. */
	ops[1] = op_mmap_anon(MAP_B, PAGE, PROT_READ);
	ops[1].fd = fd;
	ASSERT_REJECTS(EINVAL, mm_batch(pid, ops, 2));
	ops[1] = op_mmap_anon(MAP_B, PAGE, PROT_READ);
	ops[1].offset = PAGE;
	ASSERT_REJECTS(EINVAL, mm_batch(pid, ops, 2));
	/* Huge pages are not offered. */
	ops[1] = op_mmap_anon(MAP_B, PAGE, PROT_READ);
	ops[1].flags |= MAP_HUGETLB;
	ASSERT_REJECTS(EINVAL, mm_batch(pid, ops, 2));
	/* Flags of the batch, and addr, must be 0. */
	batch = (struct ptrace_vmctl_mm_batch){ .ops = (uintptr_t)ops,
						.nr_ops = 1, .flags = 1 };
	ASSERT_REJECTS(EINVAL, vmctl_ptrace(PTRACE_VMCTL_MM_BATCH, pid, 0,
					    &batch));
	batch.flags = 0;
	ASSERT_REJECTS(EINVAL, vmctl_ptrace(PTRACE_VMCTL_MM_BATCH, pid, 1,
					    &batch));
	ASSERT_TRUE(!is_mapped(pid, MAP_A));
	assert_same_stop(pid, SYS_getppid);
	ASSERT_OK(close(fd));
	end_tracee(pid);
}

/* ---- the runner -------------------------------------------------------- */

struct test {
	const char *name;
	void (*fn)(void);
};

#define T(name) { #name, name }
static const struct test tests[] = {
	T(rt_answers_syscall),
	T(rt_answers_seccomp_stop),
	T(rt_returns_signal_stop),
	T(rt_returns_exit),
	T(rt_keeps_one_cpu),
	T(rt_benchmark),
	T(rt_rejects_not_ours),
	T(rt_rejects_running),
	T(rt_rejects_other_stops),
	T(rt_rejects_bad_addresses),
	T(rt_rejects_bad_arguments),
	T(mm_maps_writes_protects),
	T(mm_maps_anywhere),
	T(mm_maps_tracer_file),
	T(mm_writes_shared_file),
	T(mm_unmaps),
	T(mm_stops_at_first_error),
	T(mm_at_signal_stop),
	T(mm_full_batch),
	T(mm_leaks_no_file),
	T(mm_rejects_not_ours),
	T(mm_rejects_running),
	T(mm_rejects_bad_fd),
	T(mm_rejects_bad_addresses),
	T(mm_rejects_over_limits),
	T(mm_rejects_bad_operations),
};

#define NR_TESTS ARRAY_SIZE(tests)

/*
 * Asks the kernel: a request with no argument on a tracee in a SYSEMU stop
 * gives EIO when the kernel does not know it, EFAULT when it does.
 */
static int probe_request(long request, const char **why)
{
	struct user_regs_struct regs;
	int status, err;
	pid_t prober;
	long ret;

	fflush(stdout);
	prober = fork();
	if (prober == -1) {
		*why = strerror(errno);
		return -1;
	}
	if (prober == 0) {
		pid_t pid = start_sysemu_tracee(body_echo, &regs);

		ret = vmctl_ptrace(request, pid, 0, NULL);
		err = errno;
		end_tracee(pid);
		_exit(ret == -1 && err == EIO ? 10 : ret == -1 &&
		      err == EFAULT ? 11 : 12);
	}
	if (waitpid(prober, &status, 0) != prober) {
		*why = strerror(errno);
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 10)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 11)
		return 1;
	*why = "unexpected answer to the probe";
	return -1;
}

static int run_test(const struct test *test, unsigned int number)
{
	int status;
	pid_t pid;

	skip_reason[0] = '\0';
	fflush(stdout);
	pid = fork();
	if (pid == -1) {
		printf("not ok %u %s # fork: %s\n", number, test->name,
		       strerror(errno));
		return KSFT_FAIL;
	}
	if (pid == 0) {
		test->fn();
		fflush(stdout);
		_exit(KSFT_PASS);
	}
	if (waitpid(pid, &status, 0) != pid) {
		printf("not ok %u %s # waitpid: %s\n", number, test->name,
		       strerror(errno));
		return KSFT_FAIL;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == KSFT_PASS) {
		printf("ok %u %s\n", number, test->name);
		return KSFT_PASS;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == KSFT_SKIP) {
		printf("ok %u %s # SKIP %s\n", number, test->name,
		       skip_reason);
		return KSFT_SKIP;
	}
	if (WIFSIGNALED(status))
		printf("# %s killed by signal %d\n", test->name,
		       WTERMSIG(status));
	printf("not ok %u %s\n", number, test->name);
	return KSFT_FAIL;
}

static bool selected(const char *name, int argc, char **argv, int first)
{
	int i;

	if (first >= argc)
		return true;
	for (i = first; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	unsigned int i, number = 0, count = 0, pass = 0, fail = 0, skip = 0;
	const char *expect = "auto", *why = "";
	int rt, mm, first = 1;

	if (argc > 2 && strcmp(argv[1], "--expect") == 0) {
		expect = argv[2];
		first = 3;
	}
	if (strcmp(expect, "present") && strcmp(expect, "absent") &&
	    strcmp(expect, "auto")) {
		fprintf(stderr, "usage: %s [--expect present|absent|auto] [TEST...]\n",
			argv[0]);
		return 2;
	}
	for (i = first; i < (unsigned int)argc; i++) {
		unsigned int j;

		for (j = 0; j < NR_TESTS; j++)
			if (strcmp(argv[i], tests[j].name) == 0)
				break;
		if (j == NR_TESTS) {
			fprintf(stderr, "%s: no test named %s\n", argv[0],
				argv[i]);
			return 2;
		}
	}
	if (setvbuf(stdout, NULL, _IOLBF, 0) != 0)
		return 2;
	skip_reason = mmap(NULL, REASON_SIZE, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (skip_reason == MAP_FAILED) {
		perror("mmap");
		return 2;
	}

	printf("TAP version 13\n");
	rt = probe_request(PTRACE_VMCTL_SYSCALL_ROUNDTRIP, &why);
	mm = rt < 0 ? rt : probe_request(PTRACE_VMCTL_MM_BATCH, &why);
	if (rt < 0 || mm < 0) {
		printf("Bail out! cannot probe the helper: %s\n", why);
		return 1;
	}
	printf("# kernel: PTRACE_VMCTL_SYSCALL_ROUNDTRIP %s, PTRACE_VMCTL_MM_BATCH %s\n",
	       rt ? "present" : "absent (EIO)",
	       mm ? "present" : "absent (EIO)");
	helper_present = strcmp(expect, "auto") ? !strcmp(expect, "present") :
			 rt || mm;
	printf("# testing the %s helper\n",
	       helper_present ? "present" : "absent");
	if (rt != helper_present || mm != helper_present)
		printf("# the kernel does not match --expect %s: expect failures\n",
		       expect);

	for (i = 0; i < NR_TESTS; i++)
		if (selected(tests[i].name, argc, argv, first))
			count++;
	printf("1..%u\n", count);
	for (i = 0; i < NR_TESTS; i++) {
		if (!selected(tests[i].name, argc, argv, first))
			continue;
		switch (run_test(&tests[i], ++number)) {
		case KSFT_PASS:
			pass++;
			break;
		case KSFT_SKIP:
			skip++;
			break;
		default:
			fail++;
		}
	}
	printf("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:%u error:0\n",
	       pass, fail, skip);
	return fail ? KSFT_FAIL : KSFT_PASS;
}
