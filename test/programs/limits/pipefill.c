/*
 * pipefill [MAX]: makes pipes and fills each with non-blocking writes
 * until it is full, keeping every pipe open, until something fails other
 * than a full pipe or MAX pipes (default 512) are full. Prints "pipes P full F bytes B errno NAME (in CALL)": the
 * pipes made, the number filled to the brim, the bytes they hold, and the
 * error that stopped it. RLIMIT_NOFILE is raised to its hard limit first.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static char buf[65536];

static const char *errname(int e) {
	switch (e) {
	case ENOMEM: return "ENOMEM";
	case EMFILE: return "EMFILE";
	case ENFILE: return "ENFILE";
	case ENOSPC: return "ENOSPC";
	case 0: return "none";
	default: return strerror(e);
	}
}

int main(int argc, char **argv) {
	long max = argc > 1 ? atol(argv[1]) : 512;
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	memset(buf, 'p', sizeof buf);
	long pipes = 0, full = 0, bytes = 0;
	int err = 0;
	const char *call = "";
	while (full < max) {
		int fd[2];
		if (pipe2(fd, O_NONBLOCK) < 0) { err = errno; call = "pipe2"; break; }
		pipes++;
		for (;;) {
			ssize_t n = write(fd[1], buf, sizeof buf);
			if (n > 0) { bytes += n; continue; }
			if (n < 0 && errno == EAGAIN) { full++; break; }
			err = errno;
			call = "write";
			break;
		}
		if (err) break;
	}
	printf("pipes %ld full %ld bytes %ld errno %s (in %s)\n", pipes, full, bytes, errname(err), call);
	return 0;
}
