// SPDX-License-Identifier: GPL-2.0-only
/*
 * The vmctl host helper patch (host-patch/), used where the running host
 * kernel carries it:
 *
 *  - PTRACE_VMCTL_SYSCALL_ROUNDTRIP answers a PTRACE_SYSEMU stop (strict
 *    mode) or a PTRACE_EVENT_SECCOMP stop (accelerated mode) and waits for
 *    the tracee's next stop in one host system call, waking each side on
 *    the other's CPU;
 *  - PTRACE_VMCTL_MM_BATCH maps, unmaps, protects and writes in a stopped
 *    tracee's address space with no code of ours mapped there.
 *
 * Both are probed once, on the zygote, at start: on a kernel without the
 * patch they fail with EIO, as any unknown request does, and the tracer
 * keeps to plain ptrace. host-patch/README.md documents the ABI.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "ptrace-vmctl.h"
#include "tracer.h"

static int have_roundtrip, have_mm_batch;
static int use_roundtrip, use_mm_batch;
/* a first version of the patch answered PTRACE_SYSEMU stops only */
static int no_seccomp_roundtrip;
static unsigned long n_roundtrips, n_mm_batches;

static int request_exists(pid_t stopped, int request)
{
	/*
	 * A null argument: the patched kernel answers EFAULT (or EINVAL) and
	 * changes nothing; an unpatched one knows no such request: EIO.
	 */
	return ptrace((enum __ptrace_request)request, stopped, NULL, NULL) == -1 &&
	       errno != EIO;
}

void helper_probe(pid_t stopped, int enable)
{
	have_roundtrip = request_exists(stopped, PTRACE_VMCTL_SYSCALL_ROUNDTRIP);
	have_mm_batch = request_exists(stopped, PTRACE_VMCTL_MM_BATCH);
	use_roundtrip = enable && have_roundtrip;
	use_mm_batch = enable && have_mm_batch;
}

unsigned int helper_status(void)
{
	return (have_roundtrip ? HELPER_HAVE_ROUNDTRIP : 0) |
	       (have_mm_batch ? HELPER_HAVE_MM_BATCH : 0) |
	       (use_roundtrip ? HELPER_USE_ROUNDTRIP : 0) |
	       (use_mm_batch ? HELPER_USE_MM_BATCH : 0);
}

int helper_roundtrip_enabled(int seccomp)
{
	return use_roundtrip && !(seccomp && no_seccomp_roundtrip);
}

unsigned long helper_roundtrips(void)
{
	return n_roundtrips;
}

unsigned long helper_mm_batches(void)
{
	return n_mm_batches;
}

/*
 * Answer @tid's PTRACE_SYSEMU stop (@seccomp: its PTRACE_EVENT_SECCOMP
 * stop, @regs skipping the system call) with @regs and wait for its next
 * stop.
 * Returns 0 with *status set (and @regs holding the new stop's registers
 * when *have_regs), or:
 *  -EAGAIN  nothing happened, the tracee is still in its stop (the request
 *           refused it): answer it the plain way;
 *  -EINTR   the tracee runs (a signal ended the wait): collect its next
 *           stop with waitpid();
 *  -errno   anything else after the tracee was resumed.
 */
int helper_roundtrip(pid_t tid, int seccomp, struct user_regs_struct *regs,
		     int *status, int *have_regs)
{
	struct ptrace_vmctl_roundtrip rt = {
		.regs = (uint64_t)(uintptr_t)regs,
		.regs_size = sizeof(*regs),
		.flags = seccomp ? PTRACE_VMCTL_RT_SECCOMP : 0,
	};

	if (ptrace((enum __ptrace_request)PTRACE_VMCTL_SYSCALL_ROUNDTRIP, tid,
		   NULL, &rt) == 0) {
		n_roundtrips++;
		*status = rt.status;
		*have_regs = !!(rt.out_flags & PTRACE_VMCTL_RT_REGS);
		return 0;
	}
	switch (errno) {
	case EINTR:
	case ECHILD:
		/* the tracee was resumed before the wait failed */
		return -errno;
	case EFAULT:
		/*
		 * Only our own buffers can fault, and the kernel checks them
		 * before anything happens; still, registers may have been set,
		 * and the plain way sets them again.
		 */
		return -EAGAIN;
	default:
		/*
		 * EINVAL (not the stop we said), ESRCH (gone): nothing
		 * changed. We know a seccomp stop when we see one: EINVAL
		 * there is a kernel without PTRACE_VMCTL_RT_SECCOMP. A kernel
		 * that refuses the request for a reason of its own would
		 * refuse it every time: stop asking.
		 */
		if (errno == EINVAL && seccomp)
			no_seccomp_roundtrip = 1;
		else if (errno != EINVAL && errno != ESRCH)
			use_roundtrip = 0;
		return -EAGAIN;
	}
}

/*
 * Run @nr operations in stopped tracee @tid's address space. Returns how
 * many succeeded (ops[n].result holds the error of the one that did not),
 * or -errno when the batch was refused as a whole; -ENOSYS when the host
 * has no such request or it is not in use.
 */
long helper_mm_batch(pid_t tid, struct ptrace_vmctl_mm_op *ops, unsigned int nr)
{
	struct ptrace_vmctl_mm_batch b = {
		.ops = (uint64_t)(uintptr_t)ops,
		.nr_ops = nr,
	};
	long done;

	if (!use_mm_batch)
		return -ENOSYS;
	done = ptrace((enum __ptrace_request)PTRACE_VMCTL_MM_BATCH, tid, NULL, &b);
	if (done < 0)
		return -errno;
	n_mm_batches++;
	return done;
}
