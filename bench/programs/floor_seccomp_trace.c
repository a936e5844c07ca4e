/*
 * The seccomp SECCOMP_RET_TRACE floor: the tracee's filter sends getppid to
 * the tracer (PTRACE_O_TRACESECCOMP); per getppid: the seccomp stop,
 * PTRACE_GETREGS, PTRACE_SETREGS (orig_rax = -1 skips the syscall, rax is
 * the result), PTRACE_CONT.
 */
#include "floor.h"
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>

static pid_t child;

static void serve(long result)
{
	struct user_regs_struct regs;
	int status;

	if (waitpid(child, &status, __WALL) != child)
		bench_die("waitpid");
	if (!WIFSTOPPED(status) || status >> 8 != (SIGTRAP | (PTRACE_EVENT_SECCOMP << 8))) {
		fprintf(stderr, "floor_seccomp_trace: unexpected status %#x\n", status);
		exit(1);
	}
	if (ptrace(PTRACE_GETREGS, child, 0, &regs) < 0)
		bench_die("PTRACE_GETREGS");
	regs.orig_rax = -1;
	regs.rax = result;
	if (ptrace(PTRACE_SETREGS, child, 0, &regs) < 0)
		bench_die("PTRACE_SETREGS");
}

static void op(long n)
{
	for (long i = 0; i < n; i++) {
		serve(1);
		if (ptrace(PTRACE_CONT, child, 0, 0) < 0)
			bench_die("PTRACE_CONT");
	}
}

int main(int argc, char **argv)
{
	int status;

	child = floor_start_traced(1, PTRACE_O_EXITKILL | PTRACE_O_TRACESECCOMP, PTRACE_CONT);
	bench_report("floor_seccomp_trace", op, bench_target_s(argc, argv));
	serve(0);
	ptrace(PTRACE_CONT, child, 0, 0);
	waitpid(child, &status, __WALL);
	return 0;
}
