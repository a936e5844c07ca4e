// SPDX-License-Identifier: GPL-2.0-only
/*
 * The host terminal goes back to its original mode on every way out,
 * a crash of the kernel process included: the mode is saved before the
 * console goes raw, and fatal signal handlers restore it before dying.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "tracer.h"

static struct termios saved;
static int saved_fd = -1;

static void restore_and_die(int sig)
{
	if (saved_fd >= 0)
		tcsetattr(saved_fd, TCSANOW, &saved);
	/* SA_RESETHAND put the default action back: die of the same signal */
	raise(sig);
}

int terminal_save(int fd)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
	struct sigaction sa;
	size_t i;

	if (tcgetattr(fd, &saved) < 0)
		return -errno;
	saved_fd = fd;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = restore_and_die;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	for (i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		if (sigaction(fatal[i], &sa, NULL) < 0)
			return -errno;
	return 0;
}

int terminal_restore(void)
{
	if (saved_fd < 0)
		return 0;
	if (tcsetattr(saved_fd, TCSANOW, &saved) < 0)
		return -errno;
	return 0;
}
