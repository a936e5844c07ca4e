/*
 * tmpfill DIR: the ways a file grows on a full tmpfs, one line per call,
 * "what = result" (a count, or the errno's name). DIR is a tmpfs of 64 KiB
 * (16 pages), empty. The results are those of Linux's shmem (mm/shmem.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

static char buf[1 << 16];
static char path[4096];

static void show(const char *what, long r) {
	if (r >= 0) printf("%s = %ld\n", what, r);
	else printf("%s = %s\n", what, errno == ENOSPC ? "ENOSPC" : errno == EOPNOTSUPP ? "EOPNOTSUPP" : strerror(errno));
}

static const char *in(const char *dir, const char *name) {
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return path;
}

static void blocks(const char *what, int fd) {
	struct stat st;
	struct statfs sf;
	fstat(fd, &st);
	fstatfs(fd, &sf);
	printf("%s: size %ld st_blocks %ld; fs blocks %ld free %ld\n", what, (long)st.st_size, (long)st.st_blocks,
		(long)sf.f_blocks, (long)sf.f_bfree);
}

int main(int argc, char **argv) {
	if (argc < 2) return 2;
	const char *dir = argv[1];
	setvbuf(stdout, NULL, _IONBF, 0);
	memset(buf, 'x', sizeof buf);
	int fd = open(in(dir, "f"), O_CREAT | O_RDWR | O_TRUNC, 0644);
	show("pwrite 100 at 1000", pwrite(fd, buf, 100, 1000));
	/* 1 MB at most: a tmpfs that ignored its size would fill the host */
	for (int i = 0; i < 100; i++) {
		ssize_t r = write(fd, buf, 10000);
		if (r == 10000) continue;
		printf("after %d full writes of 10000: ", i);
		show("write", r);
		if (r < 0) break;
	}
	blocks("full", fd);
	show("ftruncate up 100M", ftruncate(fd, 100 << 20));
	blocks("sparse", fd);
	show("pwrite into a hole", pwrite(fd, buf, 100, 50 << 20));
	show("pwrite over data", pwrite(fd, buf, 100, 0));
	errno = posix_fallocate(fd, 0, 100 << 20);
	show("posix_fallocate whole file", errno ? -1 : 0);
	errno = posix_fallocate(fd, 0, 4096);
	show("posix_fallocate allocated page", errno ? -1 : 0);
	int fd2 = open(in(dir, "new"), O_CREAT | O_RDWR, 0644);
	show("create when full", fd2 >= 0 ? 0 : -1);
	show("write to it", write(fd2, buf, 1));
	show("mkdir when full", mkdir(in(dir, "d"), 0755));
	show("short symlink", symlink("abc", in(dir, "s")));
	memset(path, 0, sizeof path);
	char target[300];
	memset(target, 'a', sizeof target - 1);
	target[sizeof target - 1] = 0;
	show("long symlink", symlink(target, in(dir, "s2")));
	show("ftruncate to 8192", ftruncate(fd, 8192));
	blocks("shrunk", fd);
	show("write 64K to the new file", write(fd2, buf, sizeof buf));
	blocks("refilled", fd2);
	show("unlink f", unlink(in(dir, "f")));
	close(fd);
	blocks("f gone", fd2);
	return 0;
}
