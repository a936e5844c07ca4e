/*
 * tmpmap DIR: how vmctl keeps a tmpfs (DIR, 64 KiB, empty) within its size
 * when its files are mapped: a fault on a hole of a mapping allocates a
 * page without a syscall, so a mapped file is charged for every page below
 * its end. One line per step: "what = result" (a count, "ok", "failed" or
 * the errno's name).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <unistd.h>

static char buf[8192];

static void show(const char *what, long r) {
	if (r >= 0) printf("%s = %ld\n", what, r);
	else printf("%s = %s\n", what, errno == ENOSPC ? "ENOSPC" : errno == ENOMEM ? "ENOMEM" : strerror(errno));
}

static long freeBlocks(int fd) {
	struct statfs sf;
	fstatfs(fd, &sf);
	return (long)sf.f_bfree;
}

int main(int argc, char **argv) {
	char path[4096];
	if (argc < 2) return 2;
	setvbuf(stdout, NULL, _IONBF, 0);
	memset(buf, 'm', sizeof buf);
	snprintf(path, sizeof path, "%s/dense", argv[1]);
	int fd = open(path, O_CREAT | O_RDWR, 0644);
	show("write 8192", write(fd, buf, sizeof buf));
	show("free pages", freeBlocks(fd));
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("mmap dense = %s\n", m == MAP_FAILED ? "failed" : "ok");
	if (m != MAP_FAILED) {
		m[0] = 'M';
		char c;
		pread(fd, &c, 1, 0);
		printf("write through the mapping seen by read = %c\n", c);
	}
	show("free pages after mmap", freeBlocks(fd));
	show("ftruncate the mapped file to 1M", ftruncate(fd, 1 << 20));
	show("ftruncate the mapped file to 32K", ftruncate(fd, 32768));
	show("free pages", freeBlocks(fd));
	snprintf(path, sizeof path, "%s/sparse", argv[1]);
	int sp = open(path, O_CREAT | O_RDWR, 0644);
	show("ftruncate a new file to 1M", ftruncate(sp, 1 << 20));
	show("free pages", freeBlocks(sp));
	void *s = mmap(NULL, 1 << 20, PROT_READ, MAP_SHARED, sp, 0);
	printf("mmap the sparse file = %s\n", s == MAP_FAILED ? "failed" : "ok");
	show("ftruncate it to 16K", ftruncate(sp, 16384));
	s = mmap(NULL, 16384, PROT_READ, MAP_SHARED, sp, 0);
	printf("mmap the sparse 16K file = %s\n", s == MAP_FAILED ? "failed" : "ok");
	show("free pages", freeBlocks(sp));
	return 0;
}
