// SPDX-License-Identifier: GPL-2.0-only
/*
 * A host directory listed in one call, for the guest root's directory
 * listing: each entry's name, inode number and type as getdents64 gives
 * them, so the kernel needs no lstat per entry. Directories (a host mount
 * point's d_ino is the covered inode, not the one stat shows) and entries
 * of DT_UNKNOWN are asked fstatat, so d_ino is st_ino for each of them.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tracer.h"

struct dirent64_rec {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

#define DIRENT_CHUNK 32768

static unsigned char dtype_of_mode(mode_t mode)
{
	return (unsigned char)((mode & S_IFMT) >> 12);
}

/* Fill in d_ino and d_type from fstatat where getdents64 cannot be trusted for them. */
static void settle_entries(int dirfd, char *buf, size_t len)
{
	struct dirent64_rec *d;
	struct stat st;
	size_t off;

	for (off = 0; off < len; off += d->d_reclen) {
		d = (struct dirent64_rec *)(buf + off);
		if (d->d_type != DT_DIR && d->d_type != DT_UNKNOWN)
			continue;
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		/* Gone meanwhile: left DT_UNKNOWN, the caller's lstat drops it. */
		if (fstatat(dirfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			d->d_type = DT_UNKNOWN;
			continue;
		}
		d->d_ino = st.st_ino;
		d->d_type = dtype_of_mode(st.st_mode);
	}
}

/* Read all of a directory's records; 0 or -errno. */
static int read_all(int fd, char **out, size_t *out_len)
{
	size_t len = 0, cap = DIRENT_CHUNK;
	char *buf, *bigger;
	long n;

	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (cap - len < DIRENT_CHUNK / 2) {
			bigger = realloc(buf, cap * 2);
			if (!bigger) {
				free(buf);
				return -ENOMEM;
			}
			buf = bigger;
			cap *= 2;
		}
		n = syscall(SYS_getdents64, fd, buf + len, cap - len);
		if (n < 0) {
			n = -errno;
			free(buf);
			return (int)n;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

/*
 * The linux_dirent64 records of the directory open as `fd` into a
 * malloc'd *out the caller frees, d_ino and d_type those of lstat; 0 or
 * -errno.
 */
int read_dirents_fd(int fd, char **out, size_t *out_len)
{
	int err;

	err = read_all(fd, out, out_len);
	if (!err)
		settle_entries(fd, *out, *out_len);
	return err;
}
