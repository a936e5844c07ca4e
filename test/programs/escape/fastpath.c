// SPDX-License-Identifier: GPL-2.0-only
/*
 * Escape class 4 of issue 11: syscalls the seccomp fast path lets run on
 * the host name host objects.
 *
 *   fastpath clock ABSENT LO HI [PID...]
 *	clock_gettime with the CPU-clock id of a process, then of a thread,
 *	for pids 1-1024, LO-HI and each PID given: on the host these answer
 *	for host pids. ABSENT is a pid the test made sure no host process
 *	has: the answer for it is what "no such process" looks like, and any
 *	pid answered differently that is not a guest pid (kill(pid, 0) in the
 *	guest finds it) is a host pid the guest has learned.
 *   fastpath futex ABSENT LO HI [PID...]
 *	FUTEX_TRYLOCK_PI on a futex word holding each pid as its owner tid:
 *	the host's futex code looks the owner up among host tasks (ESRCH for
 *	none, EPERM for a kernel thread, EAGAIN for a live one, after it
 *	attached PI state to it). Judged the same way.
 *   fastpath mlock MIB SECONDS
 *	mlockall(MCL_CURRENT | MCL_FUTURE) and MIB MiB of MAP_LOCKED memory,
 *	more than the guest's RLIMIT_MEMLOCK, held for SECONDS while the test
 *	reads VmLck of the guest's host processes. Prints
 *	"MLOCK ready limit=<guest RLIMIT_MEMLOCK soft limit in bytes, -1 for
 *	infinity> mlockall=<ret> mmap=<ok|errno>" when it holds the memory.
 *
 * The probes print
 *
 *     ESCAPE <what> <won|held> probed=<n> leaked=<n> absent=<answer> pids=<list>
 *
 * with at most 32 leaked pids listed, each as pid:answer.
 */
#include "escape.h"
#include <linux/futex.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#define CPUCLOCK_SCHED		2
#define CPUCLOCK_PERTHREAD	4
#define MAX_LISTED		32

static long cpu_clock(pid_t pid, int thread)
{
	clockid_t id = (clockid_t)((~(unsigned int)pid) << 3) | CPUCLOCK_SCHED |
		       (thread ? CPUCLOCK_PERTHREAD : 0);
	struct timespec ts;

	/* the syscall itself, not the vDSO (which passes these ids on anyway) */
	if (syscall(SYS_clock_gettime, id, &ts) == 0)
		return 0;
	return -errno;
}

static long futex_owner(pid_t pid)
{
	static uint32_t word;

	word = (uint32_t)pid;
	if (syscall(SYS_futex, &word, FUTEX_TRYLOCK_PI, 0, NULL, NULL, 0) == 0) {
		/* we own it now: give it back */
		if (syscall(SYS_futex, &word, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0) != 0)
			die("FUTEX_UNLOCK_PI: %s", strerror(errno));
		return 0;
	}
	return -errno;
}

static int guest_has(pid_t pid)
{
	return kill(pid, 0) == 0 || errno == EPERM;
}

struct probe {
	const char *name;
	long (*answer)(pid_t pid, int variant);
	int variant;
	long absent;
	long probed, leaked;
	char list[MAX_LISTED * 40];	/* ",pid:answer" each */
};

static long clock_answer(pid_t pid, int thread)
{
	return cpu_clock(pid, thread);
}

static long futex_answer(pid_t pid, int unused)
{
	(void)unused;
	return futex_owner(pid);
}

static void probe_one(struct probe *p, pid_t pid)
{
	long a = p->answer(pid, p->variant);
	size_t len;

	p->probed++;
	if (a == p->absent || pid == getpid() || guest_has(pid))
		return;
	if (p->leaked++ >= MAX_LISTED)
		return;
	len = strlen(p->list);
	xsnprintf(p->list + len, sizeof(p->list) - len, "%s%d:%ld",
		  len ? "," : "", pid, a);
}

static int attack_probe(struct probe *p, int argc, char **argv)
{
	pid_t absent, lo, hi, pid;
	int i;

	if (argc < 3)
		die("usage: fastpath clock|futex ABSENT LO HI [PID...]");
	absent = (pid_t)parse_long(argv[0], "absent pid");
	lo = (pid_t)parse_long(argv[1], "lo");
	hi = (pid_t)parse_long(argv[2], "hi");
	if (lo < 1 || hi < lo || hi - lo > 100000)
		die("bad range %d-%d", lo, hi);
	p->absent = p->answer(absent, p->variant);
	for (pid = 1; pid <= 1024; pid++)
		probe_one(p, pid);
	for (pid = lo; pid <= hi; pid++)
		if (pid > 1024)
			probe_one(p, pid);
	for (i = 3; i < argc; i++)
		probe_one(p, (pid_t)parse_long(argv[i], "pid"));
	say("ESCAPE %s %s probed=%ld leaked=%ld absent=%ld pids=%s", p->name,
	    p->leaked ? "won" : "held", p->probed, p->leaked, p->absent,
	    p->list[0] ? p->list : "none");
	return 0;
}

static int attack_mlock(long mib, long seconds)
{
	struct timespec ts = { .tv_sec = seconds, .tv_nsec = 0 };
	struct rlimit rl;
	long limit, locked;
	char mapped[64];
	void *m;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0)
		die("getrlimit: %s", strerror(errno));
	limit = rl.rlim_cur == RLIM_INFINITY ? -1 : (long)rl.rlim_cur;
	locked = mlockall(MCL_CURRENT | MCL_FUTURE) == 0 ? 0 : -errno;
	m = mmap(NULL, (size_t)mib << 20, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED | MAP_POPULATE, -1, 0);
	if (m == MAP_FAILED)
		xsnprintf(mapped, sizeof(mapped), "%s", strerrorname_np(errno));
	else
		xsnprintf(mapped, sizeof(mapped), "ok");
	say("MLOCK ready limit=%ld mlockall=%ld mmap=%s", limit, locked, mapped);
	while (nanosleep(&ts, &ts) != 0)
		if (errno != EINTR)
			die("nanosleep: %s", strerror(errno));
	if (m != MAP_FAILED && munmap(m, (size_t)mib << 20) != 0)
		die("munmap: %s", strerror(errno));
	if (locked == 0 && munlockall() != 0)
		die("munlockall: %s", strerror(errno));
	say("ESCAPE mlock done mib=%ld", mib);
	return 0;
}

int main(int argc, char **argv)
{
	struct probe p;

	memset(&p, 0, sizeof(p));
	if (argc >= 2 && strcmp(argv[1], "clock") == 0) {
		p.name = "clock-process";
		p.answer = clock_answer;
		attack_probe(&p, argc - 2, argv + 2);
		memset(&p, 0, sizeof(p));
		p.name = "clock-thread";
		p.answer = clock_answer;
		p.variant = 1;
		return attack_probe(&p, argc - 2, argv + 2);
	}
	if (argc >= 2 && strcmp(argv[1], "futex") == 0) {
		p.name = "futex-pi";
		p.answer = futex_answer;
		return attack_probe(&p, argc - 2, argv + 2);
	}
	if (argc == 4 && strcmp(argv[1], "mlock") == 0)
		return attack_mlock(parse_long(argv[2], "MiB"),
				    parse_long(argv[3], "seconds"));
	die("usage: fastpath clock|futex ABSENT LO HI [PID...] | fastpath mlock MIB SECONDS");
}
