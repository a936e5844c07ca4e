/* pread of 4 KiB at offset 0 of a file: one syscall that copies a page of data to the caller. */
#include "bench.h"
#include <fcntl.h>

static int fd;
static char buf[4096];

static void op(long n)
{
	for (long i = 0; i < n; i++)
		if (pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
			bench_die("pread data.bin");
}

int main(int argc, char **argv)
{
	fd = open("data.bin", O_RDONLY);
	if (fd < 0)
		bench_die("open data.bin");
	bench_report("pread_4k", op, bench_target_s(argc, argv));
	return 0;
}
