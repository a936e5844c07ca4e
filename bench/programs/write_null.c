/* write of 1 byte to /dev/null: a syscall that reads one byte of the caller's memory. */
#include "bench.h"
#include <fcntl.h>

static int fd;

static void op(long n)
{
	for (long i = 0; i < n; i++)
		if (write(fd, "x", 1) != 1)
			bench_die("write /dev/null");
}

int main(int argc, char **argv)
{
	fd = open("/dev/null", O_WRONLY);
	if (fd < 0)
		bench_die("open /dev/null");
	bench_report("write_null", op, bench_target_s(argc, argv));
	return 0;
}
