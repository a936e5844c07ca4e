/*
 * timeit LABEL PROGRAM [ARGS...]: runs PROGRAM, waits for it and prints
 *   TIME LABEL NS STATUS
 * the wall time measured inside the setting, so a guest's boot is not counted.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long long t0;
	pid_t pid;
	int status = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: timeit LABEL PROGRAM [ARGS...]\n");
		return 2;
	}
	t0 = now_ns();
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		perror(argv[2]);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		return 1;
	}
	printf("TIME %s %lld %d\n", argv[1], now_ns() - t0,
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	fflush(stdout);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
