/* fork+exit+wait: a child that exits at once, reaped by its parent. */
#include "bench.h"
#include <sys/wait.h>

static void op(long n)
{
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		int status;

		if (pid < 0)
			bench_die("fork");
		if (pid == 0)
			_exit(0);
		if (waitpid(pid, &status, 0) != pid)
			bench_die("waitpid");
	}
}

int main(int argc, char **argv)
{
	bench_report("fork_exit_wait", op, bench_target_s(argc, argv));
	return 0;
}
