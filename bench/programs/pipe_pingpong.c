/*
 * Pipe ping-pong between two processes: the parent writes one byte, the
 * child reads it and writes it back on a second pipe. One op is a round
 * trip: two writes, two reads and two wake-ups of a blocked reader.
 */
#include "bench.h"
#include <signal.h>
#include <sys/wait.h>

static int to_child[2], to_parent[2];

static void op(long n)
{
	char c = 'p';

	for (long i = 0; i < n; i++) {
		if (write(to_child[1], &c, 1) != 1 || read(to_parent[0], &c, 1) != 1)
			bench_die("ping-pong");
	}
}

int main(int argc, char **argv)
{
	pid_t child;
	char c;

	if (pipe(to_child) < 0 || pipe(to_parent) < 0)
		bench_die("pipe");
	child = fork();
	if (child < 0)
		bench_die("fork");
	if (child == 0) {
		close(to_child[1]);
		close(to_parent[0]);
		while (read(to_child[0], &c, 1) == 1)
			if (write(to_parent[1], &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(to_child[0]);
	close(to_parent[1]);
	bench_report("pipe_pingpong", op, bench_target_s(argc, argv));
	close(to_child[1]);
	waitpid(child, NULL, 0);
	return 0;
}
