/*
 * A program for gdb to debug inside a guest (test/gdb.test.ts).
 * No argument: main calls bump(1), which reads and writes a global and a
 * local, prints the result and exits with 7.
 * "spin": computes until gdb sets `release` (no syscall in the loop, so
 * the stub must interrupt a running thread), then exits with 3.
 */
#include <stdio.h>
#include <string.h>

int counter = 41;
volatile int release;
volatile unsigned long spins;

__attribute__((noinline)) int bump(int by)
{
	int local = counter + by;

	counter = local;
	return local * 2;
}

int main(int argc, char **argv)
{
	int r;

	if (argc > 1 && strcmp(argv[1], "spin") == 0) {
		printf("spinning\n");
		fflush(stdout);
		while (!release)
			spins++;
		printf("released after spinning\n");
		return 3;
	}
	r = bump(1);
	printf("bumped to %d, result %d\n", counter, r);
	return 7;
}
