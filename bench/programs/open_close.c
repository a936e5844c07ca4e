/* open+close of an existing file in the program directory: path lookup and fd table work. */
#include "bench.h"
#include <fcntl.h>

static void op(long n)
{
	for (long i = 0; i < n; i++) {
		int fd = open("data.bin", O_RDONLY);

		if (fd < 0)
			bench_die("open data.bin");
		close(fd);
	}
}

int main(int argc, char **argv)
{
	bench_report("open_close", op, bench_target_s(argc, argv));
	return 0;
}
