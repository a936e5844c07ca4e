/* getppid: the cheapest syscall there is; under a tracer, the pure cost of one stop. */
#include "bench.h"
#include <sys/syscall.h>

static void op(long n)
{
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
}

int main(int argc, char **argv)
{
	bench_report("getppid", op, bench_target_s(argc, argv));
	return 0;
}
