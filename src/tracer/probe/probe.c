// SPDX-License-Identifier: GPL-2.0-only
/*
 * vmctl-probe - report what the running host offers to vmctl.
 *
 * Prints one JSON object on stdout: the kernel release, the architecture and,
 * for each facility the tracer may use, whether it works here and if not why.
 * Every facility is tried for real in a forked child rather than guessed
 * from the kernel version, since containers, LSMs and seccomp sandboxes
 * refuse things a kernel version says are there.
 *
 * Exit status: 0 when the JSON was printed (whatever it says), 1 when the
 * probe itself could not run (fork failed, stdout closed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef __x86_64__
#error "vmctl-probe supports x86_64 only"
#endif

/* Requests added by the vmctl host helper patch (host-patch/); EIO when absent. */
#define PTRACE_VMCTL_SYSCALL_ROUNDTRIP	0x4280
#define PTRACE_VMCTL_MM_BATCH		0x4281

/* How many syscall stops the tracee may make before reaching getppid. */
#define MAX_SYSEMU_STOPS	16
/* A probe that hangs is worse than one that fails: give up after this. */
#define PROBE_TIMEOUT_SECONDS	10

struct facility {
	bool available;
	char reason[256];
};

struct probe_report {
	struct utsname uts;
	int tracer_pid;			/* TracerPid of this process, 0 if untraced */
	char tracer_comm[64];		/* name of that tracer, if any */
	int seccomp_mode;		/* Seccomp: of this process, -1 if unknown */
	int yama_ptrace_scope;		/* -1 when Yama is not present */
	struct facility ptrace;
	struct facility sysemu;
	struct facility seccomp_filter;
	struct facility seccomp_user_notif;
	struct facility process_vm_readv;
	struct facility helper_roundtrip;
	struct facility helper_mm_batch;
	struct facility seccomp_addfd;
	struct facility namespaces;
	struct facility landlock;
};

/* Something recognisable for process_vm_readv to find in a child. */
static const char vm_read_pattern[] = "vmctl-probe process_vm_readv pattern";

static void facility_set(struct facility *f, bool available, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void facility_set(struct facility *f, bool available, const char *fmt, ...)
{
	va_list ap;

	f->available = available;
	va_start(ap, fmt);
	if (vsnprintf(f->reason, sizeof(f->reason), fmt, ap) < 0)
		f->reason[0] = '\0';
	va_end(ap);
}

/* Reads one integer from a /proc or /sys file; -1 when it is absent or unreadable. */
static int read_int_file(const char *path)
{
	FILE *file;
	int value;

	file = fopen(path, "re");
	if (!file)
		return -1;
	if (fscanf(file, "%d", &value) != 1)
		value = -1;
	if (fclose(file) != 0)
		return -1;
	return value;
}

/* Fills tracer_pid and seccomp_mode from /proc/self/status. */
static void read_own_status(struct probe_report *report)
{
	char *line = NULL;
	size_t size = 0;
	FILE *file;

	report->tracer_pid = 0;
	report->seccomp_mode = -1;
	file = fopen("/proc/self/status", "re");
	if (!file)
		return;
	while (getline(&line, &size, file) != -1) {
		if (sscanf(line, "TracerPid: %d", &report->tracer_pid) == 1)
			continue;
		if (sscanf(line, "Seccomp: %d", &report->seccomp_mode) == 1)
			continue;
	}
	free(line);
	if (fclose(file) != 0)
		return;
}

/* Names the process that traces us, so the message can say "strace" or "gdb". */
static void read_tracer_comm(struct probe_report *report)
{
	char path[64];
	FILE *file;
	size_t len;

	report->tracer_comm[0] = '\0';
	if (report->tracer_pid <= 0)
		return;
	if (snprintf(path, sizeof(path), "/proc/%d/comm", report->tracer_pid) < 0)
		return;
	file = fopen(path, "re");
	if (!file)
		return;
	if (!fgets(report->tracer_comm, sizeof(report->tracer_comm), file))
		report->tracer_comm[0] = '\0';
	len = strlen(report->tracer_comm);
	if (len > 0 && report->tracer_comm[len - 1] == '\n')
		report->tracer_comm[len - 1] = '\0';
	if (fclose(file) != 0)
		return;
}

/* Explains an EPERM from ptrace with the most likely cause on this host. */
static void explain_ptrace_eperm(const struct probe_report *report, struct facility *f)
{
	if (report->tracer_pid > 0) {
		facility_set(f, false,
			     "vmctl is itself traced by pid %d (%s), and a process can have only one tracer: run vmctl outside strace -f / gdb",
			     report->tracer_pid,
			     report->tracer_comm[0] ? report->tracer_comm : "unknown");
	} else if (report->yama_ptrace_scope == 3) {
		facility_set(f, false,
			     "ptrace is disabled by policy: /proc/sys/kernel/yama/ptrace_scope is 3, which only a reboot can lower");
	} else if (report->seccomp_mode == 2) {
		facility_set(f, false,
			     "ptrace is forbidden by the seccomp sandbox this process runs in (a container?): allow ptrace in its profile, e.g. docker run --security-opt seccomp=unconfined --cap-add SYS_PTRACE");
	} else {
		facility_set(f, false,
			     "ptrace is forbidden by a security policy (an LSM such as AppArmor or SELinux, or the container runtime): allow ptrace of child processes for this user");
	}
}

/* Waits for a child, retrying on EINTR; returns its status or -1. */
static int wait_child(pid_t pid, int *status)
{
	pid_t ret;

	do {
		ret = waitpid(pid, status, __WALL);
	} while (ret == -1 && errno == EINTR);
	return ret == pid ? 0 : -1;
}

/* Kills and reaps a child we no longer need; failures leave nothing to undo. */
static void reap_child(pid_t pid)
{
	int status;

	if (kill(pid, SIGKILL) == -1 && errno != ESRCH)
		return;
	if (wait_child(pid, &status) == -1)
		return;
}

/*
 * Runs fn in a forked child and reports its result: fn returns 0 on success
 * or the errno that made it fail, which travels back as the exit status
 * (every errno fits in 8 bits).
 */
static void try_in_child(int (*fn)(void), struct facility *f, const char *what)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid == -1) {
		facility_set(f, false, "fork failed: %s", strerror(errno));
		return;
	}
	if (pid == 0)
		_exit(fn());
	if (wait_child(pid, &status) == -1) {
		facility_set(f, false, "waitpid failed: %s", strerror(errno));
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		facility_set(f, true, "%s works", what);
	else if (WIFEXITED(status))
		facility_set(f, false, "%s failed: %s", what, strerror(WEXITSTATUS(status)));
	else
		facility_set(f, false, "%s: probe child killed by signal %d", what,
			     WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* Installs a one-instruction allow-everything filter with the given flags. */
static int install_allow_filter(unsigned int flags)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(insns) / sizeof(insns[0]),
		.filter = insns,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) == -1)
		return errno;
	return 0;
}

static int child_seccomp_filter(void)
{
	return install_allow_filter(0);
}

static int child_seccomp_user_notif(void)
{
	/* With NEW_LISTENER a successful install returns the notification fd. */
	return install_allow_filter(SECCOMP_FILTER_FLAG_NEW_LISTENER);
}

/*
 * SECCOMP_IOCTL_NOTIF_ADDFD (Linux 5.9), how the kernel hands a guest
 * process a file: on a listener with no notification pending, a request
 * for a bogus id is ENOENT where the ioctl exists.
 */
static int child_seccomp_addfd(void)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = 1, .filter = insns };
	struct seccomp_notif_addfd add = { .id = 1, .srcfd = 0 };
	int listener;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return errno;
	listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (listener == -1)
		return errno;
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add) == 0 || errno != ENOENT)
		return errno ? errno : EINVAL;
	return 0;
}

/*
 * The namespaces guest processes get (sandbox.c): what this user may
 * make. Root makes mount, network and IPC namespaces with its own
 * privilege; anyone else needs a user namespace first.
 */
static int child_namespaces(void)
{
	int flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;

	if (geteuid() != 0)
		flags |= CLONE_NEWUSER;
	return unshare(flags) == -1 ? errno : 0;
}

/* Landlock's ABI version, 0 when the host has none. */
static void probe_landlock(struct facility *f)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, 1U /* LANDLOCK_CREATE_RULESET_VERSION */);

	if (abi > 0)
		facility_set(f, true, "ABI %ld", abi);
	else
		facility_set(f, false, "not in this kernel or not enabled: %s", strerror(errno));
}

/* Reads vm_read_pattern out of a child blocked on a pipe, which is not traced. */
static void probe_process_vm_readv(struct facility *f)
{
	char buf[sizeof(vm_read_pattern)];
	struct iovec local = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct iovec remote = {
		.iov_base = (void *)vm_read_pattern,
		.iov_len = sizeof(vm_read_pattern),
	};
	int pipefd[2];
	ssize_t got;
	char byte;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) == -1) {
		facility_set(f, false, "pipe2 failed: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid == -1) {
		facility_set(f, false, "fork failed: %s", strerror(errno));
		if (close(pipefd[0]) == -1 || close(pipefd[1]) == -1)
			return;
		return;
	}
	if (pid == 0) {
		/* Block until the parent has read our memory (EOF on the pipe). */
		if (close(pipefd[1]) == -1)
			_exit(1);
		if (read(pipefd[0], &byte, 1) == -1)
			_exit(1);
		_exit(0);
	}
	if (close(pipefd[0]) == -1) {
		facility_set(f, false, "close failed: %s", strerror(errno));
		reap_child(pid);
		return;
	}
	got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (got == (ssize_t)sizeof(buf) && memcmp(buf, vm_read_pattern, sizeof(buf)) == 0)
		facility_set(f, true, "process_vm_readv works");
	else if (got == -1)
		facility_set(f, false, "process_vm_readv failed: %s", strerror(errno));
	else
		facility_set(f, false, "process_vm_readv read %zd bytes that do not match", got);
	if (close(pipefd[1]) == -1) {
		reap_child(pid);
		return;
	}
	reap_child(pid);
}

/* A helper-patch request on a stopped tracee: EIO means the request does not exist. */
static void probe_helper_request(pid_t pid, int request, const char *name, struct facility *f)
{
	long ret;

	ret = ptrace((enum __ptrace_request)request, pid, NULL, NULL);
	if (ret == -1 && errno == EIO)
		facility_set(f, false, "absent: %s (0x%x) gives EIO", name, request);
	else if (ret == -1)
		facility_set(f, true, "present: %s (0x%x) answers a null request with %s",
			     name, request, strerror(errno));
	else
		facility_set(f, true, "present: %s (0x%x) returned %ld", name, request, ret);
}

/* The tracee: asks to be traced, stops itself, then makes the getppid the tracer waits for. */
static void sysemu_tracee(int errfd)
{
	int err;

	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) == -1) {
		err = errno;
		if (write(errfd, &err, sizeof(err)) != (ssize_t)sizeof(err))
			_exit(2);
		_exit(1);
	}
	if (close(errfd) == -1)
		_exit(2);
	if (kill(getpid(), SIGSTOP) == -1)
		_exit(2);
	/* Under SYSEMU this never runs on the host; the tracer sees it and kills us. */
	if (syscall(SYS_getppid) == -1)
		_exit(3);
	_exit(0);
}

/*
 * Resumes the stopped tracee with PTRACE_SYSEMU until it stops at getppid;
 * the helper requests are probed while it is stopped there.
 */
static void run_sysemu_stops(struct probe_report *report, pid_t pid)
{
	struct user_regs_struct regs;
	int status;
	int stops;

	if (ptrace(PTRACE_SETOPTIONS, pid, NULL,
		   (void *)(PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD)) == -1) {
		facility_set(&report->sysemu, false, "PTRACE_SETOPTIONS failed: %s", strerror(errno));
		return;
	}
	for (stops = 0; stops < MAX_SYSEMU_STOPS; stops++) {
		if (ptrace(PTRACE_SYSEMU, pid, NULL, NULL) == -1) {
			facility_set(&report->sysemu, false, "PTRACE_SYSEMU failed: %s",
				     errno == EIO ? "not supported by this kernel" : strerror(errno));
			return;
		}
		if (wait_child(pid, &status) == -1) {
			facility_set(&report->sysemu, false, "waitpid failed: %s", strerror(errno));
			return;
		}
		if (!WIFSTOPPED(status)) {
			facility_set(&report->sysemu, false,
				     "the tracee ran its syscalls natively and ended instead of stopping");
			return;
		}
		if (WSTOPSIG(status) != (SIGTRAP | 0x80))
			continue;
		if (ptrace(PTRACE_GETREGS, pid, NULL, &regs) == -1) {
			facility_set(&report->sysemu, false, "PTRACE_GETREGS failed: %s", strerror(errno));
			return;
		}
		if (regs.orig_rax != SYS_getppid)
			continue;
		facility_set(&report->sysemu, true, "getppid stopped at entry with orig_rax %llu",
			     regs.orig_rax);
		probe_helper_request(pid, PTRACE_VMCTL_SYSCALL_ROUNDTRIP,
				     "PTRACE_VMCTL_SYSCALL_ROUNDTRIP", &report->helper_roundtrip);
		probe_helper_request(pid, PTRACE_VMCTL_MM_BATCH,
				     "PTRACE_VMCTL_MM_BATCH", &report->helper_mm_batch);
		return;
	}
	facility_set(&report->sysemu, false, "no getppid stop after %d PTRACE_SYSEMU stops", stops);
}

static void probe_ptrace(struct probe_report *report)
{
	int pipefd[2];
	int status;
	ssize_t got;
	pid_t pid;
	int err;

	facility_set(&report->sysemu, false, "not probed: ptrace is refused");
	facility_set(&report->helper_roundtrip, false, "not probed: ptrace is refused");
	facility_set(&report->helper_mm_batch, false, "not probed: ptrace is refused");

	if (pipe2(pipefd, O_CLOEXEC) == -1) {
		facility_set(&report->ptrace, false, "pipe2 failed: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid == -1) {
		facility_set(&report->ptrace, false, "fork failed: %s", strerror(errno));
		if (close(pipefd[0]) == -1 || close(pipefd[1]) == -1)
			return;
		return;
	}
	if (pid == 0) {
		if (close(pipefd[0]) == -1)
			_exit(2);
		sysemu_tracee(pipefd[1]);
	}
	if (close(pipefd[1]) == -1) {
		facility_set(&report->ptrace, false, "close failed: %s", strerror(errno));
		reap_child(pid);
		return;
	}
	if (wait_child(pid, &status) == -1) {
		facility_set(&report->ptrace, false, "waitpid failed: %s", strerror(errno));
		reap_child(pid);
		return;
	}
	if (WIFSTOPPED(status)) {
		facility_set(&report->ptrace, true, "a child can be traced");
		run_sysemu_stops(report, pid);
	} else {
		got = read(pipefd[0], &err, sizeof(err));
		if (got == (ssize_t)sizeof(err) && (err == EPERM || err == EACCES))
			explain_ptrace_eperm(report, &report->ptrace);
		else if (got == (ssize_t)sizeof(err))
			facility_set(&report->ptrace, false, "PTRACE_TRACEME failed: %s", strerror(err));
		else
			facility_set(&report->ptrace, false, "the tracee ended before stopping (status 0x%x)", status);
	}
	if (close(pipefd[0]) == -1) {
		reap_child(pid);
		return;
	}
	reap_child(pid);
}

/* Writes s as a JSON string literal. */
static void json_string(const char *s)
{
	const unsigned char *p;

	putchar('"');
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void json_facility(const char *key, const struct facility *f, bool last)
{
	printf("  \"%s\": {\"available\": %s, \"reason\": ", key, f->available ? "true" : "false");
	json_string(f->reason);
	printf("}%s\n", last ? "" : ",");
}

static void print_report(const struct probe_report *report)
{
	printf("{\n  \"kernel_release\": ");
	json_string(report->uts.release);
	printf(",\n  \"arch\": ");
	json_string(report->uts.machine);
	printf(",\n  \"tracer_pid\": %d,\n  \"tracer_comm\": ", report->tracer_pid);
	json_string(report->tracer_comm);
	printf(",\n  \"seccomp_mode\": %d,\n", report->seccomp_mode);
	printf("  \"yama_ptrace_scope\": %d,\n", report->yama_ptrace_scope);
	json_facility("ptrace", &report->ptrace, false);
	json_facility("ptrace_sysemu", &report->sysemu, false);
	json_facility("seccomp_filter", &report->seccomp_filter, false);
	json_facility("seccomp_user_notif", &report->seccomp_user_notif, false);
	json_facility("process_vm_readv", &report->process_vm_readv, false);
	json_facility("helper_syscall_roundtrip", &report->helper_roundtrip, false);
	json_facility("seccomp_addfd", &report->seccomp_addfd, false);
	json_facility("namespaces", &report->namespaces, false);
	json_facility("landlock", &report->landlock, false);
	json_facility("helper_mm_batch", &report->helper_mm_batch, true);
	printf("}\n");
}

int main(void)
{
	static struct probe_report report;

	alarm(PROBE_TIMEOUT_SECONDS);
	if (uname(&report.uts) == -1) {
		fprintf(stderr, "vmctl-probe: uname: %s\n", strerror(errno));
		return 1;
	}
	read_own_status(&report);
	read_tracer_comm(&report);
	report.yama_ptrace_scope = read_int_file("/proc/sys/kernel/yama/ptrace_scope");

	probe_ptrace(&report);
	try_in_child(child_seccomp_filter, &report.seccomp_filter, "SECCOMP_SET_MODE_FILTER");
	try_in_child(child_seccomp_user_notif, &report.seccomp_user_notif,
		     "SECCOMP_FILTER_FLAG_NEW_LISTENER");
	probe_process_vm_readv(&report.process_vm_readv);
	try_in_child(child_seccomp_addfd, &report.seccomp_addfd, "SECCOMP_IOCTL_NOTIF_ADDFD");
	try_in_child(child_namespaces, &report.namespaces,
		     geteuid() == 0 ? "unshare of mount, network and IPC namespaces" :
		     "unshare of user, mount, network and IPC namespaces");
	probe_landlock(&report.landlock);

	print_report(&report);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "vmctl-probe: writing the report failed\n");
		return 1;
	}
	return 0;
}
