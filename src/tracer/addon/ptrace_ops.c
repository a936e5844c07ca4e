// SPDX-License-Identifier: GPL-2.0-only
/*
 * The ptrace side of the tracer: spawning the zygote, waiting for guest
 * stops, resuming with PTRACE_SYSEMU, and injecting host system calls into
 * a stopped guest (mmap, munmap, clone, ...) on the guest kernel's behalf.
 *
 * Modelled on the userspace loop of User-Mode Linux (arch/um/os-Linux/skas):
 * set registers, resume, wait, read registers, dispatch on why it stopped.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/ptrace.h>

#include "tracer.h"

/*
 * No PTRACE_O_TRACEFORK and friends: every host process or thread the
 * tracer makes comes from a clone() of its own, which asks for
 * CLONE_PTRACE; the child is traced from birth and the parent's clone
 * takes no event stop on the way.
 */
#define TRACE_OPTIONS (PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL |	\
		       PTRACE_O_TRACEEXEC | PTRACE_O_TRACESECCOMP)

#define SECCOMP_STOP (SIGTRAP | (PTRACE_EVENT_SECCOMP << 8))

/*
 * Accelerated mode: guests carry the seccomp filter and run with
 * PTRACE_CONT, stopping only at PTRACE_EVENT_SECCOMP for the syscalls the
 * filter traces. Strict mode: PTRACE_SYSEMU, every syscall stops.
 */
static int accelerated;

#define SYSCALL_STOP (SIGTRAP | 0x80)

/* Stop state of each tracee, keyed by host tid (open addressing). */
#define STOP_TABLE_SIZE 8192
struct tracee {
	pid_t tid;
	int kind;
	/* CPU placement (see place_on_resume) */
	int pinned;	/* 1: on the kernel's CPU, 0: on every CPU, -1: unknown */
	int short_runs;
	long long resumed_ns;
	int running;	/* resumed, its next stop not yet reported */
	int run_idx;	/* where in running_tids, while running */
	/* the registers at its syscall stop, while nothing else changed them */
	int stop_regs_valid;
	struct user_regs_struct stop_regs;
};
static struct tracee stop_table[STOP_TABLE_SIZE];

/*
 * Tracees resumed whose next stop or end has not been reported yet, by
 * tid: the placement timer looks at these alone, not the whole table.
 */
static pid_t running_tids[STOP_TABLE_SIZE];
static int n_running;

static struct tracee *tracee_find(pid_t tid);

static void mark_running(struct tracee *t)
{
	if (t->running)
		return;
	t->running = 1;
	t->run_idx = n_running;
	running_tids[n_running++] = t->tid;
}

static void mark_stopped(struct tracee *t)
{
	pid_t moved;

	if (!t->running)
		return;
	t->running = 0;
	n_running--;
	if (t->run_idx == n_running)
		return;
	moved = running_tids[n_running];
	running_tids[t->run_idx] = moved;
	tracee_find(moved)->run_idx = t->run_idx;
}

/*
 * With the helper's round trip, answering a PTRACE_SYSEMU or seccomp stop
 * waits for the next wait: when that tracee is the only one running, the answer and
 * the wait become one PTRACE_VMCTL_SYSCALL_ROUNDTRIP. Every other request
 * on the tracer sends the answer the plain way first
 * (tracer_flush_deferred), so the guest kernel never sees the difference.
 */
static struct {
	int set;
	int seccomp;	/* a PTRACE_EVENT_SECCOMP stop, resumed as PTRACE_CONT */
	pid_t tid;
	struct user_regs_struct regs;
} deferred;

static int resume_plain(pid_t tid, const struct user_regs_struct *regs, int sig)
{
	if (regs && ptrace(PTRACE_SETREGS, tid, 0, regs) < 0)
		return -errno;
	if (ptrace(accelerated ? PTRACE_CONT : PTRACE_SYSEMU, tid, 0, (long)sig) < 0)
		return -errno;
	return 0;
}

void tracer_flush_deferred(void)
{
	if (!deferred.set)
		return;
	deferred.set = 0;
	/* a tracee gone meanwhile: its end is the next thing waitpid reports */
	(void)resume_plain(deferred.tid, &deferred.regs, 0);
}

/* Stops waited for, all kinds (tracer_round_trips), and by kind. */
static unsigned long round_trips;
static unsigned long counts[COUNT_KINDS];

static unsigned int slot_of(pid_t tid)
{
	unsigned int h = (unsigned int)tid * 2654435761u;

	return h % STOP_TABLE_SIZE;
}

/* The slot holding @tid, or the empty slot where it would go. */
static unsigned int tracee_slot(pid_t tid)
{
	unsigned int i = slot_of(tid), n;

	for (n = 0; n < STOP_TABLE_SIZE; n++, i = (i + 1) % STOP_TABLE_SIZE)
		if (stop_table[i].tid == tid || stop_table[i].tid == 0)
			break;
	return i;
}

static struct tracee *tracee_find(pid_t tid)
{
	struct tracee *t = &stop_table[tracee_slot(tid)];

	return t->tid == tid ? t : NULL;
}

static int stop_lookup(pid_t tid)
{
	struct tracee *t = tracee_find(tid);

	return t ? t->kind : STOP_NONE;
}

static struct tracee *tracee_get(pid_t tid)
{
	struct tracee *t = &stop_table[tracee_slot(tid)];

	if (t->tid != tid) {
		memset(t, 0, sizeof(*t));
		t->tid = tid;
		/* a new thread inherits its creator's affinity, whatever it was */
		t->pinned = -1;
	}
	return t;
}

void tracer_set_stop(pid_t tid, enum stop_kind kind)
{
	struct tracee *t = tracee_get(tid);

	t->kind = kind;
	t->stop_regs_valid = 0;
}

/* @tid's registers are being changed by a request other than resume. */
void tracer_regs_changed(pid_t tid)
{
	struct tracee *t = tracee_find(tid);

	if (t)
		t->stop_regs_valid = 0;
}

/*
 * Registers written back at resume, as cheaply as they can be: at a
 * syscall stop whose registers are known (stop_regs_valid), only what
 * changed; anywhere else, all of them.
 * Most syscalls change rax alone (and orig_rax at a seccomp stop, to skip
 * the host's call). Measured here: PTRACE_SETREGS costs 1.6 us, as its
 * segment and base registers are checked and set; PTRACE_POKEUSER of one
 * register 0.65 us; PTRACE_SETREGSET of the general registers only (r15
 * to orig_rax, the start of struct user_regs_struct) 1.3 us.
 */
static int set_stop_regs(struct tracee *t, const struct user_regs_struct *regs)
{
	const struct user_regs_struct *old = &t->stop_regs;
	const size_t gprs = offsetof(struct user_regs_struct, rip);
	const size_t after_rax = offsetof(struct user_regs_struct, rcx);
	struct iovec io;

	if (!t->stop_regs_valid ||
	    memcmp(&regs->rip, &old->rip, sizeof(*regs) - gprs) != 0) {
		if (ptrace(PTRACE_SETREGS, t->tid, 0, regs) < 0)
			return -errno;
		return 0;
	}
	if (memcmp(regs, old, offsetof(struct user_regs_struct, rax)) == 0 &&
	    memcmp(&regs->rcx, &old->rcx, gprs - after_rax) == 0) {
		if (regs->rax == old->rax)
			return 0;
		if (ptrace(PTRACE_POKEUSER, t->tid,
			   offsetof(struct user_regs_struct, rax), regs->rax) < 0)
			return -errno;
		return 0;
	}
	io.iov_base = (void *)regs;
	io.iov_len = gprs;
	if (ptrace(PTRACE_SETREGSET, t->tid, NT_PRSTATUS, &io) < 0)
		return -errno;
	return 0;
}

/* @tid was resumed by a request of its own (a single-step): it runs now. */
void tracer_note_resumed(pid_t tid)
{
	struct tracee *t = tracee_get(tid);

	t->kind = STOP_NONE;
	t->stop_regs_valid = 0;
	mark_running(t);
}

/*
 * CPU placement. A PTRACE_SYSEMU round trip costs about 12 us when tracer
 * and tracee share a CPU and 60-120 us when the scheduler puts them on
 * different ones (an idle CPU must be woken for every stop). So a guest
 * thread that keeps making syscalls runs on the tracer's CPU; one that
 * computes for long between syscalls gets every CPU back.
 */
#define COMPUTE_NS	(2 * 1000 * 1000)
#define SHORT_RUNS_TO_PIN 4

static int kernel_cpu = -1;
static cpu_set_t all_cpus;

/*
 * A pinned thread that starts computing would keep the kernel's CPU until
 * its next syscall: a timer checks running pinned threads every few ms and
 * gives the long runners every CPU at once.
 */
#define PLACEMENT_CHECK_NS (3 * 1000 * 1000)
static timer_t placement_timer;
static int placement_timer_ok;
static int placement_timer_armed;
static volatile sig_atomic_t placement_due;

static void on_placement_timer(int sig)
{
	(void)sig;
	placement_due = 1;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int placement_timer_init(void)
{
	struct sigevent sev;
	struct sigaction sa;
	int sig = SIGRTMIN + 6;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_placement_timer;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: waitpid returns to check */
	if (sigaction(sig, &sa, NULL) < 0)
		return -errno;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = sig;
	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	if (timer_create(CLOCK_MONOTONIC, &sev, &placement_timer) < 0)
		return -errno;
	placement_timer_ok = 1;
	return 0;
}

static void arm_placement_timer(void)
{
	struct itimerspec its;

	if (!placement_timer_ok || placement_timer_armed)
		return;
	memset(&its, 0, sizeof(its));
	its.it_value.tv_nsec = PLACEMENT_CHECK_NS;
	if (timer_settime(placement_timer, 0, &its, NULL) == 0)
		placement_timer_armed = 1;
}

/* Give every CPU to pinned threads that have run long without a syscall. */
static void check_long_runners(void)
{
	long long now = now_ns();
	int more = 0, i;

	placement_due = 0;
	placement_timer_armed = 0;
	for (i = 0; i < n_running; i++) {
		struct tracee *t = tracee_find(running_tids[i]);

		if (!t || t->kind != STOP_NONE || t->pinned == 0)
			continue;
		if (now - t->resumed_ns < COMPUTE_NS) {
			more = 1;
			continue;
		}
		if (sched_setaffinity(t->tid, sizeof(all_cpus), &all_cpus) == 0) {
			t->pinned = 0;
			t->short_runs = 0;
		}
	}
	if (more)
		arm_placement_timer();
}

/*
 * The zygote goes on the kernel's CPU: fresh processes inherit it, and the
 * many stops that build a new image are then cheap. Long runners are moved
 * off by the placement timer.
 */
int tracer_placement_pin(pid_t tid)
{
	cpu_set_t one;

	if (kernel_cpu < 0)
		return 0;
	CPU_ZERO(&one);
	CPU_SET(kernel_cpu, &one);
	if (sched_setaffinity(tid, sizeof(one), &one) < 0)
		return -errno;
	tracee_get(tid)->pinned = 1;
	return 0;
}

int tracer_placement_init(void)
{
	cpu_set_t one;

	if (sched_getaffinity(0, sizeof(all_cpus), &all_cpus) < 0)
		return -errno;
	kernel_cpu = sched_getcpu();
	if (kernel_cpu < 0 || !CPU_ISSET(kernel_cpu, &all_cpus))
		return -errno;
	CPU_ZERO(&one);
	CPU_SET(kernel_cpu, &one);
	/* this thread only: the rest of Node keeps every CPU */
	if (sched_setaffinity(0, sizeof(one), &one) < 0)
		return -errno;
	return placement_timer_init();
}

static void place_on_resume(struct tracee *t)
{
	cpu_set_t one;

	t->resumed_ns = now_ns();
	if (kernel_cpu < 0 || t->pinned == 1 || t->short_runs < SHORT_RUNS_TO_PIN)
		return;
	CPU_ZERO(&one);
	CPU_SET(kernel_cpu, &one);
	/* a thread that vanished meanwhile is reaped by the next wait */
	if (sched_setaffinity(t->tid, sizeof(one), &one) == 0)
		t->pinned = 1;
}

static void place_on_stop(struct tracee *t)
{
	long long ran;

	if (kernel_cpu < 0 || !t->resumed_ns)
		return;
	ran = now_ns() - t->resumed_ns;
	if (ran < COMPUTE_NS) {
		if (t->short_runs < SHORT_RUNS_TO_PIN)
			t->short_runs++;
		return;
	}
	t->short_runs = 0;
	if (t->pinned != 0 && sched_setaffinity(t->tid, sizeof(all_cpus), &all_cpus) == 0)
		t->pinned = 0;
}

/*
 * Linear-probing deletion by backward shift (no tombstones): entries after
 * the hole that would not be found across it move into it, so lookups stay
 * short however many threads come and go.
 */
void tracer_forget(pid_t tid)
{
	struct tracee *t = tracee_find(tid);
	unsigned int i, j, home;

	if (!t)
		return;
	mark_stopped(t);
	if (deferred.set && deferred.tid == tid)
		deferred.set = 0;
	i = (unsigned int)(t - stop_table);
	j = i;
	for (;;) {
		j = (j + 1) % STOP_TABLE_SIZE;
		if (stop_table[j].tid == 0)
			break;
		home = slot_of(stop_table[j].tid);
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		stop_table[i] = stop_table[j];
		i = j;
	}
	memset(&stop_table[i], 0, sizeof(stop_table[i]));
}

/* Every wait for a tracee, and every helper batch (one ptrace call each). */
unsigned long tracer_round_trips(void)
{
	return round_trips + helper_mm_batches();
}

unsigned long tracer_count(enum count_kind kind)
{
	switch (kind) {
	case COUNT_HELPER_ROUNDTRIPS:
		return helper_roundtrips();
	case COUNT_HELPER_MM_BATCHES:
		return helper_mm_batches();
	default:
		return kind < COUNT_KINDS ? counts[kind] : 0;
	}
}

/*
 * Fork the zygote: a host process running vmctl-stub, traced from its
 * first instruction, holding no host fd and in a session of its own so
 * that no terminal signal of the host ever reaches a guest. It carries no
 * seccomp filter: a fresh process runs its image batch with no stop, and
 * installs the filter last (seccomp_filter.c).
 */
int tracer_spawn_zygote(const char *stub_path, int accel, pid_t *zygote,
			char *err, size_t errlen)
{
	int go[2], status;
	pid_t pid;
	char c = 0;

	if (pipe2(go, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe2: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(go[0]);
		close(go[1]);
		return -1;
	}
	if (pid == 0) {
		/* Child: only async-signal-safe calls until execve. */
		char *argv[] = { "vmctl-stub", NULL };
		char *envp[] = { NULL };

		if (read(go[0], &c, 1) != 1)
			_exit(126);
		if (setsid() < 0)
			_exit(126);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			_exit(126);
		if (syscall(SYS_close_range, 0U, ~0U, 0U) < 0)
			_exit(126);
		/* what an unprivileged seccomp filter needs, inherited */
		if (accel && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(125);
		execve(stub_path, argv, envp);
		_exit(127);
	}
	close(go[0]);
	accelerated = accel;
	if (ptrace(PTRACE_SEIZE, pid, 0, TRACE_OPTIONS) < 0) {
		snprintf(err, errlen,
			 "ptrace(PTRACE_SEIZE) refused: %s (is vmctl itself running under strace or gdb, or does a security policy forbid ptrace?)",
			 strerror(errno));
		kill(pid, SIGKILL);
		close(go[1]);
		waitpid(pid, &status, 0);
		return -1;
	}
	if (write(go[1], &c, 1) != 1) {
		snprintf(err, errlen, "write: %s", strerror(errno));
		kill(pid, SIGKILL);
		close(go[1]);
		return -1;
	}
	close(go[1]);

	/* Expect the exec event, then the execve syscall-exit stop. */
	for (;;) {
		if (waitpid(pid, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "waitpid: %s", strerror(errno));
			return -1;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			snprintf(err, errlen,
				 "the guest stub %s could not start (status %d)",
				 stub_path, status);
			return -1;
		}
		if ((status >> 8) == (SIGTRAP | (PTRACE_EVENT_EXEC << 8))) {
			if (ptrace(PTRACE_SYSCALL, pid, 0, 0) < 0)
				goto ptrace_failed;
			continue;
		}
		if (WSTOPSIG(status) == SYSCALL_STOP)
			break;
		/* anything else (the initial SEIZE stop): keep going */
		if (ptrace(PTRACE_SYSCALL, pid, 0, 0) < 0)
			goto ptrace_failed;
	}
	tracer_set_stop(pid, STOP_SYSCALL_EXIT);
	*zygote = pid;
	return 0;

ptrace_failed:
	snprintf(err, errlen, "ptrace: %s", strerror(errno));
	kill(pid, SIGKILL);
	return -1;
}

static void classify_stop(pid_t tid, int status, struct tracer_event *ev,
			  struct user_regs_struct *regs,
			  const struct user_regs_struct *got)
{
	struct tracee *t = tracee_get(tid);
	siginfo_t si;
	int sig = WSTOPSIG(status);

	mark_stopped(t);
	place_on_stop(t);

	ev->tid = tid;
	ev->a = ev->b = ev->c = ev->d = 0;
	if (sig == SYSCALL_STOP) {
		ev->kind = EV_SYSCALL;
		tracer_set_stop(tid, STOP_SYSEMU_ENTRY);
	} else if ((status >> 8) == SECCOMP_STOP) {
		ev->kind = EV_SYSCALL;
		tracer_set_stop(tid, STOP_SECCOMP);
	} else if ((status >> 16) != 0 || sig == SIGTRAP) {
		/* PTRACE_EVENT_STOP and friends */
		ev->kind = EV_STOPPED;
		ev->a = status >> 8;
		tracer_set_stop(tid, STOP_OTHER);
	} else {
		ev->kind = EV_SIGNAL;
		ev->a = sig;
		if (ptrace(PTRACE_GETSIGINFO, tid, 0, &si) == 0) {
			uint64_t addr = (uint64_t)(uintptr_t)si.si_addr;

			ev->b = si.si_code;
			ev->c = (int32_t)(uint32_t)addr;
			ev->d = (int32_t)(uint32_t)(addr >> 32);
		}
		tracer_set_stop(tid, STOP_OTHER);
	}
	if (got)
		*regs = *got;
	else if (ptrace(PTRACE_GETREGS, tid, 0, regs) < 0) {
		memset(regs, 0, sizeof(*regs));
		return;
	}
	if (ev->kind == EV_SYSCALL) {
		t->stop_regs = *regs;
		t->stop_regs_valid = 1;
	}
}

/* Report what waitpid (or the round trip) said of @tid. */
static void report(pid_t tid, int status, struct tracer_event *ev,
		   struct user_regs_struct *regs,
		   const struct user_regs_struct *got)
{
	round_trips++;
	counts[COUNT_GUEST_STOPS]++;
	if (WIFEXITED(status)) {
		ev->kind = EV_EXITED;
		ev->tid = tid;
		ev->a = WEXITSTATUS(status);
		tracer_forget(tid);
	} else if (WIFSIGNALED(status)) {
		ev->kind = EV_KILLED;
		ev->tid = tid;
		ev->a = WTERMSIG(status);
		ev->b = WCOREDUMP(status) ? 1 : 0;
		tracer_forget(tid);
	} else {
		classify_stop(tid, status, ev, regs, got);
	}
}

/*
 * The deferred answer and the next wait in one helper round trip. Returns
 * 1 when @ev holds the tracee's next event, 0 when that event is still to
 * be collected with waitpid().
 */
static int wait_by_roundtrip(struct tracer_event *ev, struct user_regs_struct *regs)
{
	int status, have_regs, ret;
	pid_t tid = deferred.tid;

	deferred.set = 0;
	ret = helper_roundtrip(tid, deferred.seccomp, &deferred.regs, &status, &have_regs);
	if (ret == 0) {
		report(tid, status, ev, regs, have_regs ? &deferred.regs : NULL);
		return 1;
	}
	if (ret == -EAGAIN)
		(void)resume_plain(tid, &deferred.regs, 0);
	return 0;
}

/*
 * Wait for the next guest event. Blocks in waitpid on this thread (the
 * fast path costs nothing extra); the wakeup thread interrupts it with a
 * signal when the Node event loop has work.
 */
int tracer_wait(struct tracer_event *ev, struct user_regs_struct *regs)
{
	int status;
	pid_t tid;

	for (;;) {
		if (wakeup_take_pending()) {
			tracer_flush_deferred();
			ev->kind = EV_INTERRUPTED;
			ev->tid = 0;
			return 0;
		}
		if (placement_due)
			check_long_runners();
		/*
		 * Only when no other tracee runs: the round trip waits for
		 * this one alone. The wakeup signal still interrupts it.
		 */
		if (deferred.set && n_running == 1) {
			if (wait_by_roundtrip(ev, regs))
				return 0;
			continue;
		}
		tracer_flush_deferred();
		arm_placement_timer();
		tid = waitpid(-1, &status, __WALL);
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD) {
				ev->kind = EV_NOCHILD;
				ev->tid = 0;
				return 0;
			}
			return -errno;
		}
		report(tid, status, ev, regs, NULL);
		return 0;
	}
}

int tracer_resume(pid_t tid, const struct user_regs_struct *regs, int sig)
{
	struct user_regs_struct r;
	struct tracee *t;

	t = tracee_get(tid);
	if (regs && t->kind == STOP_SECCOMP) {
		/*
		 * The syscall was served by the guest kernel: the host must
		 * skip it (nr -1 keeps rax, the result, as set: seccomp(2)).
		 */
		r = *regs;
		r.orig_rax = (uint64_t)-1;
		regs = &r;
	}
	tracer_flush_deferred();
	place_on_resume(t);
	if (regs && !sig && (t->kind == STOP_SYSEMU_ENTRY || t->kind == STOP_SECCOMP) &&
	    helper_roundtrip_enabled(t->kind == STOP_SECCOMP)) {
		deferred.set = 1;
		deferred.seccomp = t->kind == STOP_SECCOMP;
		deferred.tid = tid;
		deferred.regs = *regs;
	} else {
		int ret = regs ? set_stop_regs(t, regs) : 0;

		if (ret == 0)
			ret = resume_plain(tid, NULL, sig);
		if (ret < 0)
			return ret;
	}
	t->stop_regs_valid = 0;
	t->kind = STOP_NONE;
	mark_running(t);
	return 0;
}

/*
 * Resume @tid with PTRACE_SYSCALL and wait for its next syscall stop.
 * Seccomp stops on the way let the call run; signals that reach the
 * tracee meanwhile are the host's, never the guest's: dropped.
 */
static int step_to_syscall_stop(pid_t tid)
{
	int status;

	if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0)
		return -errno;
	for (;;) {
		if (waitpid(tid, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		round_trips++;
		counts[COUNT_INJECT_STOPS]++;
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			tracer_forget(tid);
			return -ESRCH;
		}
		if (WSTOPSIG(status) == SYSCALL_STOP)
			return 0;
		if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0)
			return -errno;
	}
}

/*
 * A child of a clone with CLONE_PTRACE starts in a trap stop
 * (PTRACE_EVENT_STOP: its parent was seized) before it runs anything.
 */
int tracer_adopt(pid_t child)
{
	int status;

	for (;;) {
		if (waitpid(child, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return -ESRCH;
		if (WIFSTOPPED(status)) {
			tracer_set_stop(child, STOP_OTHER);
			return 0;
		}
	}
}

/*
 * Run host syscall @nr with arguments @a inside stopped tracee @tid,
 * through the `syscall` instruction at @sys_rip (0: the one the tracee
 * last executed, at rip - 2). The tracee must be at a syscall stop or at
 * the trap stop of a new child. Returns the syscall's result (-errno on
 * failure); a clone's new child pid goes to @child.
 *
 * The tracee's registers are not restored: the caller always resumes
 * with a full register set of its own.
 */
long tracer_inject(pid_t tid, uint64_t sys_rip, long nr, const uint64_t a[6],
		   pid_t *child)
{
	struct user_regs_struct r;
	int kind = stop_lookup(tid), ret;

	if (child)
		*child = 0;
	if (kind == STOP_NONE)
		return -ESRCH;
	counts[COUNT_INJECTIONS]++;
	if (kind == STOP_SYSEMU_ENTRY) {
		/*
		 * The emulated syscall is skipped whatever happens now; step
		 * through its exit so the injected one can run for real.
		 */
		ret = step_to_syscall_stop(tid);
		if (ret < 0)
			return ret;
		kind = STOP_SYSCALL_EXIT;
	}
	tracer_regs_changed(tid);
	if (ptrace(PTRACE_GETREGS, tid, 0, &r) < 0)
		return -errno;
	/* the tracer's children are traced from birth (TRACE_OPTIONS) */
	if (nr == SYS_clone)
		r.rdi = a[0] | CLONE_PTRACE;
	else
		r.rdi = a[0];
	r.orig_rax = (uint64_t)nr;
	r.rsi = a[1];
	r.rdx = a[2];
	r.r10 = a[3];
	r.r8 = a[4];
	r.r9 = a[5];
	if (kind != STOP_SECCOMP) {
		r.rip = sys_rip ? sys_rip : r.rip - 2;
		r.rax = (uint64_t)nr;
	}
	/*
	 * At a PTRACE_EVENT_SECCOMP stop the guest's own syscall has not run
	 * yet: it simply becomes the injected one (the filter is checked
	 * again after the tracer's change, seccomp(2)), and runs on resume.
	 * Anywhere else the tracee goes through the entry first.
	 */
	if (ptrace(PTRACE_SETREGS, tid, 0, &r) < 0)
		return -errno;
	if (kind != STOP_SECCOMP) {
		ret = step_to_syscall_stop(tid);		/* entry */
		if (ret < 0)
			return ret;
	}
	ret = step_to_syscall_stop(tid);		/* exit */
	if (ret < 0)
		return ret;
	tracer_set_stop(tid, STOP_SYSCALL_EXIT);
	if (ptrace(PTRACE_GETREGS, tid, 0, &r) < 0)
		return -errno;
	if (nr == SYS_clone && child && (long)r.rax > 0) {
		*child = (pid_t)r.rax;
		if (tracer_adopt(*child) < 0)
			*child = 0;
	}
	return (long)r.rax;
}

/*
 * Run the stub's batch runner in @tid (a fresh process, or the zygote):
 * @table (in the tracee) holds @count entries the caller wrote, each a
 * call and the result it must give (stub.S). One resume and one stop for
 * the whole list in a process with no seccomp filter; in one with the
 * filter, the traced calls stop on the way too.
 *
 * Returns how many calls gave what they should (@count: all of them), or
 * -errno if the batch could not run. *@result is the result of the call
 * that did not, else the last call's (0 when the last call unmapped the
 * runner itself, which ends the batch with a fault on the runner's page).
 */
int tracer_batch(pid_t tid, uint64_t batch_rip, uint64_t table, long count,
		 long *result)
{
	struct user_regs_struct r;
	siginfo_t si;
	int status, sig;

	if (stop_lookup(tid) == STOP_NONE)
		return -ESRCH;
	counts[COUNT_BATCHES]++;
	tracer_regs_changed(tid);
	if (ptrace(PTRACE_GETREGS, tid, 0, &r) < 0)
		return -errno;
	r.rip = batch_rip;
	r.rdi = table;
	r.rsi = (uint64_t)count;
	r.orig_rax = (uint64_t)-1;
	if (ptrace(PTRACE_SETREGS, tid, 0, &r) < 0)
		return -errno;
	for (;;) {
		if (ptrace(PTRACE_CONT, tid, 0, 0) < 0)
			return -errno;
		/*
		 * The wakeup signal interrupts the wait: wait again. (Resuming
		 * again would find the tracee running: ESRCH, once an exec in
		 * a few hundred.)
		 */
		while (waitpid(tid, &status, __WALL) < 0)
			if (errno != EINTR)
				return -errno;
		round_trips++;
		counts[COUNT_BATCH_STOPS]++;
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			tracer_forget(tid);
			return -ESRCH;
		}
		sig = WSTOPSIG(status);
		if ((status >> 16) != 0)
			continue;	/* seccomp stops: let the call run */
		if (sig != SIGTRAP && sig != SIGSEGV && sig != SIGBUS && sig != SIGILL)
			continue;	/* the host's signals: dropped */
		if (ptrace(PTRACE_GETSIGINFO, tid, 0, &si) < 0)
			return -errno;
		if (si.si_code <= 0)
			continue;	/* sent by someone, not raised by the runner */
		if (sig == SIGTRAP) {
			if (si.si_code == SI_KERNEL)
				break;	/* the runner's int3 */
			continue;
		}
		tracer_set_stop(tid, STOP_OTHER);
		if (sig == SIGSEGV && ((uint64_t)(uintptr_t)si.si_addr & ~4095ULL) == (batch_rip & ~4095ULL)) {
			*result = 0;	/* the last call unmapped the runner */
			return (int)count;
		}
		return -EFAULT;	/* the runner faulted: a bad table */
	}
	tracer_set_stop(tid, STOP_OTHER);
	if (ptrace(PTRACE_GETREGS, tid, 0, &r) < 0)
		return -errno;
	*result = (long)r.rax;
	return (int)(count - (long)r.r12);
}
