/* mmap of 1 MiB anonymous memory, a write to each of its pages, munmap. */
#include "bench.h"
#include <sys/mman.h>

#define SIZE (1 << 20)

static void op(long n)
{
	long page = sysconf(_SC_PAGESIZE);

	for (long i = 0; i < n; i++) {
		char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			bench_die("mmap");
		for (long off = 0; off < SIZE; off += page)
			p[off] = 1;
		if (munmap(p, SIZE) < 0)
			bench_die("munmap");
	}
}

int main(int argc, char **argv)
{
	bench_report("mmap_touch_munmap", op, bench_target_s(argc, argv));
	return 0;
}
