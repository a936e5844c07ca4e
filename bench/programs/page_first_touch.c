/*
 * First touch of a page: one write to each page of a big anonymous mapping,
 * each one a page fault. Replacing an exhausted mapping is setup, not
 * counted (bench_excluded). One op is one page.
 */
#include "bench.h"
#include <sys/mman.h>

#define REGION (64L << 20)

static char *region;
static long next_off = REGION;

static void op(long n)
{
	long page = sysconf(_SC_PAGESIZE);

	for (long i = 0; i < n; i++) {
		if (next_off >= REGION) {
			double t0 = bench_now();

			if (region && munmap(region, REGION) < 0)
				bench_die("munmap");
			region = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (region == MAP_FAILED)
				bench_die("mmap");
			next_off = 0;
			bench_excluded += bench_now() - t0;
		}
		region[next_off] = 1;
		next_off += page;
	}
}

int main(int argc, char **argv)
{
	bench_report("page_first_touch", op, bench_target_s(argc, argv));
	return 0;
}
