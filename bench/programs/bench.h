/*
 * The timing harness every micro benchmark shares: one operation, run N
 * times, N chosen so that the measurement lasts about the target time.
 *
 *   usage: PROGRAM [TARGET_MS]        (default 600)
 *   prints: RESULT NAME MEDIAN_NS MIN_NS MAX_NS N
 *
 * N grows geometrically until one run takes a twentieth of the target, then
 * three runs of about a third of the target each are timed; the median of
 * the three is the figure, min and max show the spread (this is a shared,
 * noisy machine). Everything is static and uses only raw libc, so the same
 * binary runs natively, under vmctl, User-Mode Linux and PRoot.
 */
#ifndef BENCH_H
#define BENCH_H

#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

__attribute__((unused)) static void bench_die(const char *what)
{
	perror(what);
	exit(1);
}

static double bench_target_s(int argc, char **argv)
{
	double ms = argc > 1 ? atof(argv[1]) : 600.0;

	return (ms > 0 ? ms : 600.0) / 1000.0;
}

/* Setup time an operation spends outside what it measures (remapping a region); subtracted. */
static double bench_excluded;

static double bench_time(void (*op)(long), long n)
{
	double t0 = bench_now();

	bench_excluded = 0;
	op(n);
	return bench_now() - t0 - bench_excluded;
}

static int bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Times op(n) as described above and prints the RESULT line. */
static void bench_report(const char *name, void (*op)(long), double target)
{
	long n = 1, chunk;
	double t, per[3];
	int i;

	bench_time(op, 1); /* warm-up: the first call pays for cold caches and lazy setup */
	for (;;) {
		t = bench_time(op, n);
		if (t >= target / 20 || n >= (1L << 40))
			break;
		n *= t < target / 2000 ? 10 : 2;
	}
	chunk = (long)((double)n * (target / 3) / (t > 0 ? t : 1e-9));
	if (chunk < 1)
		chunk = 1;
	for (i = 0; i < 3; i++)
		per[i] = bench_time(op, chunk) / (double)chunk * 1e9;
	qsort(per, 3, sizeof(per[0]), bench_cmp);
	printf("RESULT %s %.1f %.1f %.1f %ld\n", name, per[1], per[0], per[2], chunk);
	fflush(stdout);
}

#endif
