/* fork+exec+wait of ./true, the suite's own static true in the program directory. */
#include "bench.h"
#include <stdio.h>
#include <sys/wait.h>

static void op(long n)
{
	static char *const argv[] = { "true", NULL };
	static char *const envp[] = { NULL };

	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		int status;

		if (pid < 0)
			bench_die("fork");
		if (pid == 0) {
			execve("./true", argv, envp);
			perror("execve ./true");
			_exit(127);
		}
		if (waitpid(pid, &status, 0) != pid)
			bench_die("waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "./true failed: status %#x\n", status);
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	bench_report("fork_exec_wait", op, bench_target_s(argc, argv));
	return 0;
}
