// SPDX-License-Identifier: GPL-2.0-only
/*
 * The wakeup thread: lets the tracer block in waitpid() on the Node main
 * thread and still hear about the Node event loop (console input, timers,
 * sockets, SIGWINCH).
 *
 * While armed it polls libuv's backend fd with libuv's next timer as the
 * timeout. When the loop has work it sets `pending` and signals the main
 * thread, repeating every millisecond until the main thread takes the
 * pending flag (a signal that lands just before waitpid() is entered would
 * otherwise be lost). The fast path, a guest syscall served while the loop
 * is quiet, costs no extra host call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tracer.h"

static int ctl_fd = -1;
static int loop_fd = -1;
static pid_t main_tid;
static atomic_int armed;
static atomic_int pending;
static atomic_llong deadline_ms = -1;	/* CLOCK_MONOTONIC ms, -1: none */

static void on_wakeup_signal(int sig)
{
	(void)sig;	/* only here to make waitpid() return EINTR */
}

static int wakeup_signal(void)
{
	return SIGRTMIN + 5;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void drain_ctl(void)
{
	uint64_t v;

	if (read(ctl_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		perror("vmctl wakeup: read");
}

static void *wakeup_main(void *unused)
{
	struct pollfd p[2];
	long long d;
	int timeout, r;

	(void)unused;
	for (;;) {
		p[0].fd = ctl_fd;
		p[0].events = POLLIN;
		p[1].fd = loop_fd;
		p[1].events = POLLIN;
		timeout = -1;
		d = atomic_load(&deadline_ms);
		if (atomic_load(&armed) && d >= 0) {
			long long left = d - now_ms();

			timeout = left < 0 ? 0 : (int)(left > 1000000 ? 1000000 : left);
		}
		r = poll(p, atomic_load(&armed) ? 2 : 1, timeout);
		if (r < 0) {
			if (errno != EINTR)
				usleep(1000);
			continue;
		}
		if (r > 0 && (p[0].revents & POLLIN)) {
			drain_ctl();
			continue;
		}
		if (!atomic_load(&armed))
			continue;
		if (r == 0 && (d < 0 || now_ms() < d))
			continue;
		atomic_store(&pending, 1);
		while (atomic_load(&pending) && atomic_load(&armed)) {
			if (syscall(SYS_tgkill, getpid(), main_tid,
				    wakeup_signal()) < 0)
				break;
			r = poll(p, 1, 1);
			if (r > 0)
				drain_ctl();
		}
	}
	return NULL;
}

int wakeup_init(int uv_fd, char *err, size_t errlen)
{
	struct sigaction sa;
	pthread_attr_t attr;
	pthread_t thread;
	int ret;

	if (ctl_fd >= 0)
		return 0;
	loop_fd = uv_fd;
	main_tid = (pid_t)syscall(SYS_gettid);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_wakeup_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: waitpid must return */
	if (sigaction(wakeup_signal(), &sa, NULL) < 0) {
		snprintf(err, errlen, "sigaction: %s", strerror(errno));
		return -1;
	}
	ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ctl_fd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		return -1;
	}
	ret = pthread_attr_init(&attr);
	if (!ret)
		ret = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (!ret)
		ret = pthread_create(&thread, &attr, wakeup_main, NULL);
	if (ret) {
		snprintf(err, errlen, "pthread_create: %s", strerror(ret));
		return -1;
	}
	pthread_attr_destroy(&attr);
	return 0;
}

static void kick(void)
{
	uint64_t one = 1;

	if (write(ctl_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		perror("vmctl wakeup: write");
}

/*
 * Arm before blocking in waitpid. @deadline is libuv's next timer in
 * CLOCK_MONOTONIC ms (-1: none); the thread is only kicked when
 * something changed, so a steady stream of guest syscalls costs nothing.
 */
void wakeup_arm(long long deadline)
{
	long long d = deadline;
	int changed = 0;

	if (atomic_load(&deadline_ms) != d) {
		atomic_store(&deadline_ms, d);
		changed = 1;
	}
	if (!atomic_load(&armed)) {
		atomic_store(&armed, 1);
		changed = 1;
	}
	if (changed)
		kick();
}

void wakeup_disarm(void)
{
	atomic_store(&armed, 0);
	atomic_store(&pending, 0);
}

int wakeup_take_pending(void)
{
	if (!atomic_load(&pending))
		return 0;
	atomic_store(&pending, 0);
	atomic_store(&armed, 0);
	return 1;
}
