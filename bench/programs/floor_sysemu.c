/*
 * The PTRACE_SYSEMU floor: a tracer and a tracee, and per getppid exactly
 * what a SKAS tracer must do at the least: the entry stop (waitpid),
 * PTRACE_GETREGS, PTRACE_SETREGS with the result in rax, PTRACE_SYSEMU.
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

	if (waitpid(child, &status, __WALL) != child || !WIFSTOPPED(status))
		bench_die("waitpid (sysemu stop)");
	if (ptrace(PTRACE_GETREGS, child, 0, &regs) < 0)
		bench_die("PTRACE_GETREGS");
	regs.rax = regs.orig_rax == SYS_getppid ? result : -38 /* ENOSYS */;
	if (ptrace(PTRACE_SETREGS, child, 0, &regs) < 0)
		bench_die("PTRACE_SETREGS");
}

static void op(long n)
{
	for (long i = 0; i < n; i++) {
		serve(1);
		if (ptrace(PTRACE_SYSEMU, child, 0, 0) < 0)
			bench_die("PTRACE_SYSEMU");
	}
}

int main(int argc, char **argv)
{
	int status;

	child = floor_start_traced(0, PTRACE_O_EXITKILL, PTRACE_SYSEMU);
	bench_report("floor_sysemu", op, bench_target_s(argc, argv));
	serve(0);
	ptrace(PTRACE_CONT, child, 0, 0);
	waitpid(child, &status, __WALL);
	return 0;
}
