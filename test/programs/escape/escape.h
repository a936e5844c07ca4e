/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the escape programs (test/programs/escape/, test/escape.test.ts)
 * share: a bounded attack loop, a sibling thread, and one output protocol.
 *
 * Every program prints, per attack, one result line the test reads:
 *
 *     ESCAPE <attack> won <what the guest saw: tries=<n> ...>
 *     ESCAPE <attack> held <what the guest saw: tries=<n> ...>
 *
 * (the mlock attack, judged by the host side alone, prints "ESCAPE mlock
 * done"). "won" means the guest itself could tell the attack worked (it
 * mapped a host file, an injected call returned what only the host's call
 * would, a probe told host pids apart).
 * The test does not trust either word alone: it judges by the host's state
 * (marker files created, removed, changed) and by what leaked into the
 * output. Every loop is bounded by a number of tries and by a time.
 */
#ifndef ESCAPE_H
#define ESCAPE_H

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline __attribute__((noreturn, format(printf, 1, 2)))
void die(const char *fmt, ...)
{
	va_list ap;
	int ok;

	va_start(ap, fmt);
	ok = fputs("escape: ", stderr) != EOF && vfprintf(stderr, fmt, ap) >= 0 &&
	     fputc('\n', stderr) != EOF;
	va_end(ap);
	/* with stderr gone too, only the exit status is left to tell */
	exit(ok ? 2 : 3);
}

/* One line to stdout, flushed at once: the test reads it as it comes. */
static inline __attribute__((format(printf, 1, 2)))
void say(const char *fmt, ...)
{
	va_list ap;
	int ok;

	va_start(ap, fmt);
	ok = vprintf(fmt, ap) >= 0;
	va_end(ap);
	if (!ok || putchar('\n') == EOF || fflush(stdout) != 0)
		exit(2);
}

/* snprintf that dies rather than cut or fail. */
static inline __attribute__((format(printf, 3, 4)))
void xsnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		die("xsnprintf: %d bytes do not fit in %zu", n, size);
}

static inline double now_s(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		die("clock_gettime: %s", strerror(errno));
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline long parse_long(const char *s, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0')
		die("bad %s: %s", what, s);
	return v;
}

/* A sibling thread of the attack: started once, stopped by its flag. */
struct sibling {
	pthread_t thread;
	volatile int stop;
	volatile int running;
};

static inline void sibling_start(struct sibling *s, void *(*fn)(void *))
{
	int err;

	s->stop = 0;
	s->running = 0;
	err = pthread_create(&s->thread, NULL, fn, s);
	if (err != 0)
		die("pthread_create: %s", strerror(err));
	/* the race needs the sibling spinning before the first try */
	while (!s->running)
		;
}

static inline void sibling_stop(struct sibling *s)
{
	int err;

	s->stop = 1;
	err = pthread_join(s->thread, NULL);
	if (err != 0)
		die("pthread_join: %s", strerror(err));
}

#endif /* ESCAPE_H */
