/*
 * pipesize UID: F_GETPIPE_SZ / F_SETPIPE_SZ as root and then as user UID,
 * one line per call: "what = result" (the size, or the errno's name).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void show(const char *what, long r) {
	if (r >= 0) printf("%s = %ld\n", what, r);
	else printf("%s = %s\n", what, errno == EPERM ? "EPERM" : errno == EINVAL ? "EINVAL" : errno == EBUSY ? "EBUSY"
		: errno == EBADF ? "EBADF" : strerror(errno));
}

int main(int argc, char **argv) {
	int fd[2], big[2], mine[2];
	char data[12288];
	memset(data, 'x', sizeof data);
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2 || pipe(fd) < 0 || pipe(big) < 0) return 2;
	show("default", fcntl(fd[0], F_GETPIPE_SZ));
	show("set 0", fcntl(fd[1], F_SETPIPE_SZ, 0));
	show("set 4097", fcntl(fd[1], F_SETPIPE_SZ, 4097));
	show("set -1", fcntl(fd[1], F_SETPIPE_SZ, -1));
	show("set 2G+1", fcntl(fd[1], F_SETPIPE_SZ, (1U << 31) + 1));
	show("set 16384", fcntl(fd[1], F_SETPIPE_SZ, 16384));
	show("write 12288", write(fd[1], data, sizeof data));
	show("set 4096 holding 3 pages", fcntl(fd[1], F_SETPIPE_SZ, 4096));
	show("set 12288", fcntl(fd[1], F_SETPIPE_SZ, 12288));
	show("get", fcntl(fd[0], F_GETPIPE_SZ));
	int file = open("/proc/self/stat", O_RDONLY);
	show("get on a file", fcntl(file, F_GETPIPE_SZ));
	show("set on a file", fcntl(file, F_SETPIPE_SZ, 4096));
	/* CAP_SYS_RESOURCE passes pipe-max-size (a root without it, as in some containers, gets EPERM) */
	show("set 2M as root", fcntl(big[1], F_SETPIPE_SZ, 2 << 20));
	if (setuid(atoi(argv[1])) < 0) return 3;
	if (pipe(mine) < 0) return 2;
	show("new pipe as user", fcntl(mine[0], F_GETPIPE_SZ));
	show("set 2M as user", fcntl(mine[1], F_SETPIPE_SZ, 2 << 20));
	show("set 1M as user", fcntl(mine[1], F_SETPIPE_SZ, 1 << 20));
	show("set 2M as user after 1M", fcntl(mine[1], F_SETPIPE_SZ, 2 << 20));
	show("set 8192 as user", fcntl(mine[1], F_SETPIPE_SZ, 8192));
	return 0;
}
