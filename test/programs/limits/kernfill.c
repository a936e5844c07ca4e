/*
 * kernfill files|sigqueue: fills one more thing the kernel holds for the
 * guest until it is refused, and prints "KIND N errno NAME".
 *   files: opens /dev/null (RLIMIT_NOFILE raised to its hard limit first),
 *          at most 20000 times;
 *   dirs: makes a directory of 2000 files in DIR (argv[2]), then opens it
 *          and reads one entry, keeping it open, at most 1000 times;
 *   sigqueue: queues SIGRTMIN to itself, blocked, with RLIMIT_SIGPENDING
 *          set to 10, at most 1000 times.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *errname(int e) {
	switch (e) {
	case 0: return "none";
	case EAGAIN: return "EAGAIN";
	case EMFILE: return "EMFILE";
	case ENFILE: return "ENFILE";
	case ENOMEM: return "ENOMEM";
	default: return strerror(e);
	}
}

int main(int argc, char **argv) {
	struct rlimit rl;
	long n = 0;
	int err = 0;
	if (argc < 2) return 2;
	if (!strcmp(argv[1], "files")) {
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		for (; n < 20000; n++) if (open("/dev/null", O_RDONLY) < 0) { err = errno; break; }
	} else if (!strcmp(argv[1], "dirs") && argc > 2) {
		char path[4096], buf[64];
		snprintf(path, sizeof path, "%s/d", argv[2]);
		if (mkdir(path, 0755) < 0) return 3;
		for (int i = 0; i < 2000; i++) {
			snprintf(path, sizeof path, "%s/d/%d", argv[2], i);
			int fd = open(path, O_CREAT | O_WRONLY, 0644);
			if (fd < 0) return 3;
			close(fd);
		}
		snprintf(path, sizeof path, "%s/d", argv[2]);
		for (; n < 1000; n++) {
			int fd = open(path, O_RDONLY | O_DIRECTORY);
			if (fd < 0) { err = errno; break; }
			if (syscall(SYS_getdents64, fd, buf, sizeof buf) < 0) { err = errno; break; }
		}
	} else if (!strcmp(argv[1], "sigqueue")) {
		rl.rlim_cur = rl.rlim_max = 10;
		if (setrlimit(RLIMIT_SIGPENDING, &rl) < 0) return 3;
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGRTMIN);
		sigprocmask(SIG_BLOCK, &set, NULL);
		union sigval v = { 0 };
		for (; n < 1000; n++) if (sigqueue(getpid(), SIGRTMIN, v) < 0) { err = errno; break; }
	} else {
		return 2;
	}
	printf("%s %ld errno %s\n", argv[1], n, errname(err));
	return 0;
}
