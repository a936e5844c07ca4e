// SPDX-License-Identifier: GPL-2.0-only
/*
 * Single-stepping a guest thread, for the gdb stub of the guest kernel
 * (src/kernel/debug/). The thread must be ptrace-stopped; it is resumed
 * for one instruction, and its next stop (a SIGTRAP, or the syscall it
 * stepped into) comes back through tracer_wait() like any other.
 *
 * Strict mode must not let the stepped instruction be a host syscall:
 * PTRACE_SYSEMU_SINGLESTEP stops it at the syscall's entry instead.
 * Accelerated mode steps with PTRACE_SINGLESTEP: the seccomp filter still
 * stops every syscall the guest kernel serves.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <linux/ptrace.h>

#include "tracer.h"

/* si_code of a PTRACE_EVENT_SECCOMP stop, as PTRACE_GETSIGINFO reports it */
#define SECCOMP_STOP_CODE (SIGTRAP | (PTRACE_EVENT_SECCOMP << 8))

/* 1 if @tid sits at a seccomp stop, 0 if at another stop, -errno if gone. */
static int at_seccomp_stop(pid_t tid)
{
	siginfo_t si;

	if (ptrace(PTRACE_GETSIGINFO, tid, 0, &si) < 0)
		return -errno;
	return si.si_code == SECCOMP_STOP_CODE;
}

/*
 * A syscall skipped at a seccomp stop still runs the syscall-exit work,
 * and with single-step set that work reports a step trap before any
 * instruction ran (report_single_step() in kernel/entry/syscall-common.c).
 * Wait for that trap so that the real step starts after it.
 */
static int wait_exit_trap(pid_t tid)
{
	int status;

	for (;;) {
		if (waitpid(tid, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			tracer_forget(tid);
			return -ESRCH;
		}
		/* any stop will do: the step below resumes from it */
		return 0;
	}
}

/*
 * Resume @tid with @regs for one instruction; @emulate: strict mode
 * (PTRACE_SYSEMU_SINGLESTEP). Returns 0 or -errno.
 */
int tracer_step(pid_t tid, const struct user_regs_struct *regs, int emulate)
{
	struct user_regs_struct r = *regs;
	int seccomp, ret;

	seccomp = at_seccomp_stop(tid);
	if (seccomp < 0)
		return seccomp;
	tracer_regs_changed(tid);
	/* served by the guest kernel: the host must skip it (as tracer_resume) */
	if (seccomp)
		r.orig_rax = (uint64_t)-1;
	if (ptrace(PTRACE_SETREGS, tid, 0, &r) < 0)
		return -errno;
	if (seccomp) {
		if (ptrace(PTRACE_SINGLESTEP, tid, 0, 0) < 0)
			return -errno;
		ret = wait_exit_trap(tid);
		if (ret < 0)
			return ret;
	}
	if (ptrace(emulate ? PTRACE_SYSEMU_SINGLESTEP : PTRACE_SINGLESTEP, tid, 0, 0) < 0)
		return -errno;
	tracer_note_resumed(tid);
	return 0;
}
