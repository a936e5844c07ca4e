// SPDX-License-Identifier: GPL-2.0-only
/*
 * The ptrace side of the tracer: spawning the zygote, waiting for guest
 * stops, resuming with PTRACE_SYSEMU, and injecting host system calls into
 * a stopped guest (mmap, munmap, clone, ...) on the guest kernel's behalf.
 *
 * How the kernel runs a host syscall in a guest's host process, so that
 * nothing a guest thread can change while it runs matters (the SKAS
 * promise, against guests that race their own threads):
 *   - the call is made either at the very syscall entry the guest thread
 *     is stopped in (a seccomp stop: nothing executes at all), or by the
 *     `syscall` instruction of the kernel's stub page, one page at a fixed
 *     address in every guest process that no guest can write, remap,
 *     mprotect, munmap or madvise: the seccomp filter traces any such
 *     call that touches it (seccomp_filter.c) and the kernel refuses it;
 *     never at the guest's own instruction bytes;
 *   - its arguments are registers the tracer sets, never memory a guest
 *     thread can rewrite: a file is handed to the process by
 *     SECCOMP_IOCTL_NOTIF_ADDFD (inject_fds), not opened by path;
 *   - every stop on the way is checked to be the one expected, and a
 *     tracee that is anywhere else is killed, not waited for in a loop.
 * A guest syscall of another ABI (int $0x80, sysenter, a syscall from
 * 32-bit code) is never served: it becomes the SIGSEGV a Linux without
 * IA32 emulation gives.
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
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/close_range.h>
#include <linux/ptrace.h>
#include <linux/seccomp.h>

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

/* The kernel's stub page in every guest process: `syscall`, then int3s. */
static uint64_t stub_page;

/* The seccomp user-notification listener of the zygote's base filter. */
static int notify_fd = -1;

/* Stops of the host's own on the way through an injection before the tracee counts as lost. */
#define MAX_STRAY_STOPS 64

#define SI_KERNEL_CODE 0x80	/* SI_KERNEL: a fault the kernel raised */
#define SYS_SECCOMP_CODE 1	/* SIGSYS si_code of a seccomp SECCOMP_RET_TRAP */

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

/* The child's side of the report: its layers and the listener fd, over @sock. */
static int send_report(int sock, const struct sandbox_report *rep, int listener)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec io = { .iov_base = (void *)rep, .iov_len = sizeof(*rep) };
	struct msghdr msg = { .msg_iov = &io, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (listener >= 0) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &listener, sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)sizeof(*rep) ? 0 : -1;
}

/* The parent's side: the report, and the listener fd into *@listener (-1 if none came). */
static int recv_report(int sock, struct sandbox_report *rep, int *listener)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec io = { .iov_base = rep, .iov_len = sizeof(*rep) };
	struct msghdr msg = {
		.msg_iov = &io, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	*listener = -1;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(*rep))
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(listener, CMSG_DATA(cm), sizeof(int));
	return 0;
}

/* Child of the zygote's fork: confine, report, become the stub. Never returns. */
static void zygote_child(int go, int report, int stub_fd, const struct sandbox_spec *spec)
{
	static char *const argv[] = { "vmctl-stub", NULL };
	static char *const envp[] = { NULL };
	struct sandbox_report rep;
	int listener;
	char c;

	/* Only async-signal-safe calls until the exec. */
	if (read(go, &c, 1) != 1)
		_exit(126);
	if (setsid() < 0)
		_exit(126);
	listener = sandbox_zygote(spec, stub_fd, &rep);
	/* after the credential changes, which clear it */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		_exit(126);
	if (send_report(report, &rep, listener) < 0 || listener < 0)
		_exit(125);
	/* everything closes at the exec; the stub's own fd stays usable for it */
	if (syscall(SYS_close_range, 0U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		_exit(126);
	syscall(SYS_execveat, stub_fd, "", argv, envp, AT_EMPTY_PATH);
	_exit(127);
}

static const char *sandbox_step_name(int step)
{
	switch (step) {
	case SANDBOX_STEP_NAMESPACES: return "joining its namespaces";
	case SANDBOX_STEP_NOBODY: return "leaving root for uid/gid 65534";
	case SANDBOX_STEP_NNP: return "setting no_new_privs";
	case SANDBOX_STEP_SECCOMP: return "installing its seccomp filter";
	default: return "starting";
	}
}

static long inject_at(pid_t tid, uint64_t rip, long nr, const uint64_t a[6], pid_t *child);

/*
 * Map the kernel's stub page in the zygote, through the stub binary's own
 * `syscall` at @entry (no guest code has run in it): at the top of the
 * user address space, above the stack, where Linux puts nothing; where
 * that is taken, wherever the host puts it.
 */
static int map_stub_page(pid_t zygote, uint64_t entry, char *err, size_t errlen)
{
	static const uint64_t top = 0x7ffffffff000ULL - 4096;
	unsigned char code[4096];
	uint64_t a[6] = { top, 4096, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, (uint64_t)-1, 0 };
	long addr;

	addr = inject_at(zygote, entry, SYS_mmap, a, NULL);
	if (addr < 0) {
		a[3] = MAP_PRIVATE | MAP_ANONYMOUS;
		addr = inject_at(zygote, entry, SYS_mmap, a, NULL);
	}
	if (addr < 0 || addr & 4095) {
		snprintf(err, errlen, "could not map the stub page in the zygote: %s", strerror((int)-addr));
		return -1;
	}
	memset(code, 0xcc, sizeof(code));	/* int3 */
	code[0] = 0x0f;				/* syscall */
	code[1] = 0x05;
	if (guest_copy(zygote, (uint64_t)addr, code, sizeof(code), 1) != (ssize_t)sizeof(code)) {
		snprintf(err, errlen, "could not write the stub page: %s", strerror(errno));
		return -1;
	}
	a[0] = (uint64_t)addr;
	a[1] = 4096;
	a[2] = PROT_READ | PROT_EXEC;
	if (inject_at(zygote, entry, SYS_mprotect, a, NULL) != 0) {
		snprintf(err, errlen, "could not protect the stub page");
		return -1;
	}
	stub_page = (uint64_t)addr;
	return 0;
}

/* What /proc says of @pid's capabilities and no_new_privs after its exec. */
static unsigned int verified_layers(pid_t pid)
{
	char path[64], buf[4096];
	unsigned int layers = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	if (close(fd) < 0 || n <= 0)
		return 0;
	buf[n] = 0;
	if (strstr(buf, "\nCapPrm:\t0000000000000000\n") &&
	    strstr(buf, "\nCapEff:\t0000000000000000\n") &&
	    strstr(buf, "\nCapBnd:\t0000000000000000\n") &&
	    strstr(buf, "\nCapAmb:\t0000000000000000\n"))
		layers |= CONFINE_NO_CAPS;
	return layers;
}

/*
 * Fork the zygote: a host process running vmctl-stub, traced from its
 * first instruction, confined (sandbox.c) before it execs, holding no
 * host fd and in a session of its own so that no terminal signal of the
 * host ever reaches a guest. It carries the base seccomp filter, whose
 * listener this process keeps, and the kernel's stub page; the mode's
 * filter comes on top in each fresh process (seccomp_filter.c).
 */
int tracer_spawn_zygote(const char *stub_path, int accel, const struct sandbox_spec *spec,
			pid_t *zygote, unsigned int *layers, char *err, size_t errlen)
{
	struct sandbox_report rep;
	struct user_regs_struct regs;
	int go[2], report[2], status, stub_fd, listener;
	pid_t pid;
	char c = 0;

	stub_fd = open(stub_path, O_RDONLY | O_CLOEXEC);
	if (stub_fd < 0) {
		snprintf(err, errlen, "%s: %s", stub_path, strerror(errno));
		return -1;
	}
	if (pipe2(go, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe2: %s", strerror(errno));
		close(stub_fd);
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, report) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		close(go[0]);
		close(go[1]);
		close(stub_fd);
		return -1;
	}
	pid = fork();
	if (pid == 0)
		zygote_child(go[0], report[1], stub_fd, spec);
	close(go[0]);
	close(report[1]);
	close(stub_fd);
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(go[1]);
		close(report[0]);
		return -1;
	}
	accelerated = accel;
	if (ptrace(PTRACE_SEIZE, pid, 0, TRACE_OPTIONS) < 0) {
		snprintf(err, errlen,
			 "ptrace(PTRACE_SEIZE) refused: %s (is vmctl itself running under strace or gdb, or does a security policy forbid ptrace?)",
			 strerror(errno));
		kill(pid, SIGKILL);
		close(go[1]);
		close(report[0]);
		waitpid(pid, &status, 0);
		return -1;
	}
	if (write(go[1], &c, 1) != 1) {
		snprintf(err, errlen, "write: %s", strerror(errno));
		kill(pid, SIGKILL);
		close(go[1]);
		close(report[0]);
		return -1;
	}
	close(go[1]);
	if (recv_report(report[0], &rep, &listener) < 0) {
		snprintf(err, errlen, "the guest stub %s could not start (no report from its confinement)", stub_path);
		close(report[0]);
		kill(pid, SIGKILL);
		return -1;
	}
	close(report[0]);
	if (rep.failed_step != SANDBOX_STEP_NONE || listener < 0) {
		snprintf(err, errlen, "the guest stub could not be confined: %s failed: %s",
			 sandbox_step_name(rep.failed_step), strerror(rep.error));
		if (listener >= 0)
			close(listener);
		kill(pid, SIGKILL);
		return -1;
	}
	notify_fd = listener;

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
	/* at the exec's exit the zygote stands at its entry, the stub's own `syscall` */
	if (ptrace(PTRACE_GETREGS, pid, 0, &regs) < 0)
		goto ptrace_failed;
	if (map_stub_page(pid, regs.rip, err, errlen) < 0) {
		kill(pid, SIGKILL);
		return -1;
	}
	*layers = rep.layers | verified_layers(pid);
	*zygote = pid;
	return 0;

ptrace_failed:
	snprintf(err, errlen, "ptrace: %s", strerror(errno));
	kill(pid, SIGKILL);
	return -1;
}

uint64_t tracer_stub_page(void)
{
	return stub_page;
}

/*
 * A syscall of the i386 ABI from a 64-bit guest (int $0x80; sysenter or
 * a syscall from 32-bit code): at a PTRACE_SYSEMU stop only
 * PTRACE_GET_SYSCALL_INFO can tell it from a 64-bit one (the registers
 * are alike, and the instruction bytes are the guest's to rewrite).
 */
static int is_foreign_abi_stop(pid_t tid)
{
	struct ptrace_syscall_info info;

	if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof(info), &info) <= 0)
		return 0;	/* before Linux 5.3: no way to tell */
	return info.arch != AUDIT_ARCH_X86_64;
}

/*
 * What a Linux without IA32 emulation gives such a syscall: a general
 * protection fault on the instruction, SIGSEGV with SI_KERNEL and no
 * address, the registers as they were before it (rax the number).
 */
static void foreign_abi_fault(struct tracer_event *ev, struct user_regs_struct *regs, int at_sysemu_entry)
{
	ev->kind = EV_SIGNAL;
	ev->a = SIGSEGV;
	ev->b = SI_KERNEL_CODE;
	ev->c = ev->d = 0;
	if (at_sysemu_entry)
		regs->rax = regs->orig_rax;	/* (a seccomp trap already rolled it back) */
	regs->orig_rax = (uint64_t)-1;
	regs->rip -= 2;			/* int $0x80, sysenter and syscall are 2 bytes */
}

static void classify_stop(pid_t tid, int status, struct tracer_event *ev,
			  struct user_regs_struct *regs,
			  const struct user_regs_struct *got)
{
	struct tracee *t = tracee_get(tid);
	siginfo_t si;
	int sig = WSTOPSIG(status), foreign = 0;

	mark_stopped(t);
	place_on_stop(t);

	ev->tid = tid;
	ev->a = ev->b = ev->c = ev->d = 0;
	if (sig == SYSCALL_STOP) {
		ev->kind = EV_SYSCALL;
		tracer_set_stop(tid, STOP_SYSEMU_ENTRY);
		foreign = !accelerated && is_foreign_abi_stop(tid);
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
			/* the filter's only SECCOMP_RET_TRAP: a foreign ABI */
			foreign = sig == SIGSYS && si.si_code == SYS_SECCOMP_CODE;
		}
		tracer_set_stop(tid, STOP_OTHER);
	}
	if (got)
		*regs = *got;
	else if (ptrace(PTRACE_GETREGS, tid, 0, regs) < 0) {
		memset(regs, 0, sizeof(*regs));
		return;
	}
	if (foreign) {
		/* resumed with the kernel's registers: written whole */
		foreign_abi_fault(ev, regs, sig == SYSCALL_STOP);
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
 * A tracee found somewhere other than where the kernel put it, in the
 * middle of host work done for it: it is not waited for in a loop (that
 * would freeze every guest of this kernel), it is ended. Its end reaches
 * the kernel as the next event of that thread.
 */
static int lost_tracee(pid_t tid)
{
	(void)syscall(SYS_tgkill, tid, tid, SIGKILL);
	(void)kill(tid, SIGKILL);
	return -ESRCH;
}

/* The next syscall stop of @tid, already resumed with PTRACE_SYSCALL. */
static int wait_syscall_stop(pid_t tid)
{
	int status, strays = 0;

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
		if ((status >> 8) != SECCOMP_STOP && ++strays > MAX_STRAY_STOPS)
			return lost_tracee(tid);
		if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0)
			return -errno;
	}
}

/*
 * Resume @tid with PTRACE_SYSCALL and wait for its next syscall stop.
 * Seccomp stops on the way let the call run; signals that reach the
 * tracee meanwhile are the host's, never the guest's: dropped. A tracee
 * that keeps stopping elsewhere is not where the kernel put it: killed.
 */
static int step_to_syscall_stop(pid_t tid)
{
	if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0)
		return -errno;
	return wait_syscall_stop(tid);
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
 * Answer the notification of @tid's call at GUEST_NOTIFY_IP by adding
 * @n kernel fds to its process (at @first_fd and on, or the lowest free
 * numbers when @first_fd < 0), close-on-exec as a guest never sees them.
 * The call returns the first new fd. Any other notification cannot come
 * (no guest can make that call) and is refused. Returns the first new
 * fd or -errno.
 */
static int serve_fd_notification(pid_t tid, const int *kernel_fds, int n, int first_fd)
{
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	struct pollfd pfd = { .fd = notify_fd, .events = POLLIN };
	int waited = 0, fd = -EINVAL, i, status;

	for (;;) {
		int r = poll(&pfd, 1, 100);

		if (r < 0 && errno != EINTR)
			return lost_tracee(tid);
		if (r <= 0) {
			/* the tracee may have been killed on the way (the host's OOM killer) */
			if (waitpid(tid, &status, __WALL | WNOHANG) == tid &&
			    (WIFEXITED(status) || WIFSIGNALED(status))) {
				tracer_forget(tid);
				return -ESRCH;
			}
			if (++waited > 100)
				return lost_tracee(tid);
			continue;
		}
		memset(&req, 0, sizeof(req));
		if (ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
			if (errno == EINTR || errno == ENOENT)
				continue;
			return lost_tracee(tid);
		}
		memset(&resp, 0, sizeof(resp));
		resp.id = req.id;
		if (req.pid == (uint32_t)tid && req.data.nr == SYS_getpid &&
		    req.data.instruction_pointer == GUEST_NOTIFY_IP)
			break;
		resp.error = -ENOSYS;
		(void)ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
	for (i = 0; i < n; i++) {
		struct seccomp_notif_addfd add = {
			.id = req.id,
			.flags = first_fd >= 0 ? SECCOMP_ADDFD_FLAG_SETFD : 0,
			.srcfd = (uint32_t)kernel_fds[i],
			.newfd = first_fd >= 0 ? (uint32_t)(first_fd + i) : 0,
			.newfd_flags = O_CLOEXEC,
		};
		int got;

		/*
		 * ADDFD waits, interruptibly, for the target to install the
		 * fd; a wake-up signal to this thread ends the wait with the
		 * fd not added (seccomp_notify_addfd), so ask again.
		 */
		do
			got = ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
		while (got < 0 && errno == EINTR);
		if (got < 0) {
			fd = -errno;
			break;
		}
		if (i == 0)
			fd = got;
		counts[COUNT_FDS_PASSED]++;
	}
	if (fd >= 0)
		resp.val = fd;
	else
		resp.error = fd;
	if (ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && fd >= 0)
		fd = -errno;
	return fd;
}

/*
 * Run host syscall @nr with arguments @a inside stopped tracee @tid, or
 * with @fds, hand it @nfds kernel fds (inject_fds). The call is made at
 * the syscall entry @tid is stopped in, when that is a seccomp stop;
 * otherwise by the `syscall` instruction at @rip (the stub page's, or in
 * the zygote before it has one, the stub binary's), whose entry stop is
 * checked to be that call. The tracee must be at a syscall stop or at
 * the trap stop of a new child. Returns the syscall's result (-errno on
 * failure); a clone's new child pid goes to @child.
 *
 * The tracee's registers are not restored: the caller always resumes
 * with a full register set of its own.
 */
static long inject_call(pid_t tid, uint64_t rip, long nr, const uint64_t a[6], pid_t *child,
			const int *fds, int nfds, int first_fd)
{
	struct user_regs_struct r;
	int kind = stop_lookup(tid), ret;
	long result;

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
	if (kind != STOP_SECCOMP) {
		/* to the entry of the call at @rip: nothing of the guest's runs */
		r.rip = rip;
		r.rax = (uint64_t)nr;
		r.orig_rax = (uint64_t)-1;
		if (ptrace(PTRACE_SETREGS, tid, 0, &r) < 0)
			return -errno;
		ret = step_to_syscall_stop(tid);
		if (ret < 0)
			return ret;
		if (ptrace(PTRACE_GETREGS, tid, 0, &r) < 0)
			return -errno;
		if (r.rip != rip + 2 || r.orig_rax != (uint64_t)nr)
			return lost_tracee(tid);
	}
	/*
	 * At a seccomp stop the guest's own syscall has not run yet: it simply
	 * becomes the injected one (the filter is checked again after the
	 * tracer's change, seccomp(2)). At the entry stop of the call at @rip
	 * the arguments are set now; a notification call gets its instruction
	 * pointer, which the filter looks at next.
	 */
	/* the tracer's children are traced from birth (TRACE_OPTIONS) */
	r.rdi = nr == SYS_clone ? a[0] | CLONE_PTRACE : a[0];
	r.orig_rax = (uint64_t)nr;
	r.rsi = a[1];
	r.rdx = a[2];
	r.r10 = a[3];
	r.r8 = a[4];
	r.r9 = a[5];
	if (fds)
		r.rip = GUEST_NOTIFY_IP;
	if (ptrace(PTRACE_SETREGS, tid, 0, &r) < 0)
		return -errno;
	if (fds) {
		if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0)
			return -errno;
		result = serve_fd_notification(tid, fds, nfds, first_fd);
		if (result == -ESRCH)
			return result;
		/* its exit stop: PTRACE_SYSCALL was given already */
		ret = wait_syscall_stop(tid);
	} else {
		ret = step_to_syscall_stop(tid);
	}
	if (ret < 0)
		return ret;
	tracer_set_stop(tid, STOP_SYSCALL_EXIT);
	if (ptrace(PTRACE_GETREGS, tid, 0, &r) < 0)
		return -errno;
	result = (long)r.rax;
	if (nr == SYS_clone && child && result > 0) {
		*child = (pid_t)result;
		if (tracer_adopt(*child) < 0)
			*child = 0;
	}
	return result;
}

static long inject_at(pid_t tid, uint64_t rip, long nr, const uint64_t a[6], pid_t *child)
{
	return inject_call(tid, rip, nr, a, child, NULL, 0, -1);
}

/* Host syscall @nr in @tid, through the stub page. */
long tracer_inject(pid_t tid, long nr, const uint64_t a[6], pid_t *child)
{
	return inject_at(tid, stub_page, nr, a, child);
}

/*
 * Put kernel fds @kernel_fds[0..@n) into @tid's process, at @first_fd and
 * on (dup2-like: a fresh process, whose numbers the kernel knows), or at
 * the lowest free numbers when @first_fd < 0. Returns the first new fd or
 * -errno.
 */
int tracer_inject_fds(pid_t tid, const int *kernel_fds, int n, int first_fd)
{
	static const uint64_t none[6];

	if (notify_fd < 0 || n <= 0)
		return -EINVAL;
	return (int)inject_call(tid, stub_page, SYS_getpid, none, NULL, kernel_fds, n, first_fd);
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
	int status, sig, strays;

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
	for (strays = 0;;) {
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
		if ((status >> 8) == SECCOMP_STOP)
			continue;	/* seccomp stops: let the call run */
		/* only the runner's own stops end a batch: anything else, a few times at most */
		if (++strays > MAX_STRAY_STOPS)
			return lost_tracee(tid);
		if ((status >> 16) != 0)
			continue;
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
