/*
 * What the mechanism floors share: a tracee that calls getppid until the
 * answer is 0, and the one seccomp filter they install (getppid is sent to
 * the tracer or the listener with ACTION, every other syscall runs).
 * One op of a floor is one getppid served by its parent, no kernel logic at all.
 */
#ifndef FLOOR_H
#define FLOOR_H

#include "bench.h"
#include <stddef.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* The tracee's loop: every getppid is answered by the parent; 0 means stop. */
static void floor_tracee_loop(void)
{
	while (syscall(SYS_getppid) != 0)
		;
	_exit(0);
}

/* Installs "getppid -> ACTION, everything else -> ALLOW"; returns the seccomp() result. */
__attribute__((unused)) static long floor_install_filter(unsigned int action, unsigned int flags)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		bench_die("prctl(PR_SET_NO_NEW_PRIVS)");
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

/*
 * The ptrace floors' tracee: traced from its start, with the filter sending
 * getppid to the tracer when @seccomp_trace, stopped once; then given
 * @options and resumed with @resume. Returns its pid.
 */
__attribute__((unused)) static pid_t floor_start_traced(int seccomp_trace, long options,
							 enum __ptrace_request resume)
{
	pid_t child = fork();
	int status;

	if (child < 0)
		bench_die("fork");
	if (child == 0) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
			_exit(1);
		if (seccomp_trace && floor_install_filter(SECCOMP_RET_TRACE, 0) < 0)
			_exit(1);
		syscall(SYS_kill, syscall(SYS_getpid), SIGSTOP);
		floor_tracee_loop();
	}
	if (waitpid(child, &status, __WALL) != child || !WIFSTOPPED(status))
		bench_die("waitpid (initial stop)");
	if (ptrace(PTRACE_SETOPTIONS, child, 0, options) < 0)
		bench_die("PTRACE_SETOPTIONS");
	if (ptrace(resume, child, 0, 0) < 0)
		bench_die("resuming the tracee");
	return child;
}

#endif
