// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host operations on the layers of the guest root (the overlay's lower
 * and upper directories): every path is resolved beneath its layer's
 * root with no symlink followed anywhere (openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), and the guest's ownership, mode bits and device
 * numbers live in an xattr, never as real host metadata.
 *
 * A layer is a directory fd opened once (layer_open); each operation
 * opens what it needs from that fd again, so a directory that someone
 * replaced by a symlink, or moved away, since the last operation is never
 * followed: the walk fails with ELOOP (openat2(2)). Nothing is cached.
 * The last component is acted on through its parent's fd with the *at()
 * calls and AT_SYMLINK_NOFOLLOW / O_NOFOLLOW (getxattrat(2) where the
 * host has it, Linux 6.13), or through an O_PATH fd of its own (whose
 * inode cannot change under us) by /proc/self/fd/N for the calls that
 * take no fd (chmod, getxattr, setxattr: fchmod and f*xattr refuse
 * O_PATH fds, up to 6.18 at least).
 *
 * The upper layer's walks add RESOLVE_NO_XDEV: it is vmctl's own
 * directory, and a mount inside it is not ours. The lower layer is the
 * user's root filesystem, mounts included.
 *
 * Host modes: whatever the caller asks, a host file made or changed here
 * never carries set-user-ID or set-group-ID bits, and only a directory
 * keeps the sticky bit (inode(7)); the guest's bits live in the xattr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "layer_ops.h"
#include "tracer.h"

/* resolve flags of each open layer, by its root fd; 0: not a layer */
static uint64_t *layer_resolve;
static size_t layer_slots;

#define COPY_CHUNK (1 << 20)

static uint64_t resolve_of(int layer)
{
	if (layer < 0 || (size_t)layer >= layer_slots)
		return 0;
	return layer_resolve[layer];
}

/*
 * A path below a layer root as the overlay names it: components
 * separated by single slashes, none empty, "." or ".."; "" is the root.
 * RESOLVE_BENEATH would stop a ".." from leaving the layer anyway; this
 * refuses what the overlay never sends.
 */
static int valid_rel(const char *rel)
{
	const char *p = rel, *end;
	size_t len;

	if (!*rel)
		return 1;
	for (;;) {
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (!*end)
			return 1;
		p = end + 1;
	}
}

/* openat2(2) of @rel beneath @layer, never through a symlink; an fd or -errno. */
static int walk(int layer, const char *rel, uint64_t flags, mode_t mode)
{
	struct open_how how = {
		.flags = flags | O_NOFOLLOW | O_CLOEXEC,
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = resolve_of(layer),
	};
	long fd;
	int tries;

	if (!how.resolve)
		return -EBADF;
	if (!valid_rel(rel))
		return -EINVAL;
	/* EAGAIN: a rename raced the walk (openat2(2) says to retry). */
	for (tries = 0; tries < 8; tries++) {
		fd = syscall(SYS_openat2, layer, *rel ? rel : ".", &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		if (errno != EAGAIN && errno != EINTR)
			break;
	}
	return -errno;
}

/* The directory holding @rel's last component, O_PATH; *name points at that component in @rel. */
static int open_parent(int layer, const char *rel, const char **name)
{
	const char *slash = strrchr(rel, '/');
	char dir[PATH_MAX];
	size_t len;

	if (!*rel || !valid_rel(rel))
		return -EINVAL;
	if (!slash) {
		*name = rel;
		return walk(layer, "", O_PATH | O_DIRECTORY, 0);
	}
	len = (size_t)(slash - rel);
	if (len >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, rel, len);
	dir[len] = '\0';
	*name = slash + 1;
	return walk(layer, dir, O_PATH | O_DIRECTORY, 0);
}

/* close(2) of an fd whose errors could only come from a bug; keeps a pending error. */
static int close_keep(int fd, int err)
{
	if (close(fd) < 0 && !err)
		return -errno;
	return err;
}

/* "/proc/self/fd/N": the inode an O_PATH fd holds, for calls that take a path only. */
static int fd_path(int fd, char buf[32])
{
	int n = snprintf(buf, 32, "/proc/self/fd/%d", fd);

	return n < 0 || n >= 32 ? -ENAMETOOLONG : 0;
}

/* The host mode bits a layer file may have: no set-id bits, sticky on directories only. */
static mode_t host_bits(mode_t mode, int dir)
{
	return mode & (dir ? 01777 : 0777);
}

/* ----- the override xattr: "uid:gid:mode:type", as containers/storage writes it ----- */

/*
 * FormatContainersOverrideXattrDevice in containers/storage's
 * pkg/idtools/idtools.go: "%d:%d:%04o:%s", the type one of file, dir,
 * symlink, pipe, socket, block-MAJOR-MINOR, char-MAJOR-MINOR.
 */
static int meta_format(const struct layer_meta *m, char *buf, size_t size)
{
	char type[32];
	int n;

	switch (m->mode & S_IFMT) {
	case S_IFDIR:
		n = snprintf(type, sizeof(type), "dir");
		break;
	case S_IFLNK:
		n = snprintf(type, sizeof(type), "symlink");
		break;
	case S_IFIFO:
		n = snprintf(type, sizeof(type), "pipe");
		break;
	case S_IFSOCK:
		n = snprintf(type, sizeof(type), "socket");
		break;
	case S_IFBLK:
		n = snprintf(type, sizeof(type), "block-%u-%u", major(m->rdev), minor(m->rdev));
		break;
	case S_IFCHR:
		n = snprintf(type, sizeof(type), "char-%u-%u", major(m->rdev), minor(m->rdev));
		break;
	default:
		n = snprintf(type, sizeof(type), "file");
		break;
	}
	if (n < 0 || (size_t)n >= sizeof(type))
		return -EINVAL;
	n = snprintf(buf, size, "%u:%u:%04o:%s", m->uid, m->gid, m->mode & 07777, type);
	return n < 0 || (size_t)n >= size ? -EINVAL : n;
}

/* One unsigned number of @base ending at @stop (or the end); advances *p past it. */
static int parse_num(const char **p, int base, char stop, unsigned long max, uint32_t *out)
{
	unsigned long v;
	char *end;

	if (**p < '0' || **p > '9')
		return -1;
	errno = 0;
	v = strtoul(*p, &end, base);
	if (errno || v > max || (*end != stop && *end != '\0'))
		return -1;
	*out = (uint32_t)v;
	*p = end;
	return 0;
}

/* "char-1-3", "block-8-0": the device number; 0 or -1. */
static int parse_dev(const char *s, dev_t *rdev)
{
	uint32_t maj, min;

	if (parse_num(&s, 10, '-', UINT32_MAX, &maj) < 0 || *s++ != '-' ||
	    parse_num(&s, 10, '-', UINT32_MAX, &min) < 0)
		return -1;
	*rdev = makedev(maj, min);
	return 0;
}

/*
 * parseOverrideXattr in containers/storage: uid and gid in decimal, the
 * mode in octal, the type optional (the host file's then). A type is
 * taken only where vmctl would have written it: a directory is a
 * directory; a regular host file may stand for a pipe, socket or device
 * node. Anything malformed is no xattr: the host metadata counts.
 */
static void meta_parse(const char *s, mode_t host_type, struct layer_meta *m)
{
	uint32_t perm;
	mode_t type = host_type;

	m->present = 0;
	m->rdev = 0;
	if (parse_num(&s, 10, ':', UINT32_MAX, &m->uid) < 0 || *s++ != ':' ||
	    parse_num(&s, 10, ':', UINT32_MAX, &m->gid) < 0 || *s++ != ':' ||
	    parse_num(&s, 8, ':', 07777, &perm) < 0)
		return;
	if (*s == ':' && host_type == S_IFREG) {
		s++;
		if (!strncmp(s, "pipe", 4))
			type = S_IFIFO;
		else if (!strncmp(s, "socket", 6))
			type = S_IFSOCK;
		else if (!strncmp(s, "char", 4) || !strncmp(s, "block", 5)) {
			type = s[0] == 'c' ? S_IFCHR : S_IFBLK;
			if (parse_dev(strchr(s, '-') ? strchr(s, '-') + 1 : "", &m->rdev) < 0)
				return;
		}
	}
	m->mode = type | perm;
	m->present = 1;
}

#ifndef __NR_getxattrat
#define __NR_getxattrat 464	/* x86_64, Linux 6.13 */
#endif

/* getxattrat(2)'s argument block (include/uapi/linux/xattr.h, which older headers lack). */
struct getxattrat_args {
	uint64_t value;
	uint32_t size;
	uint32_t flags;
};

/* Set once getxattrat(2) answered ENOSYS: read through /proc/self/fd instead. */
static int no_getxattrat;

/*
 * The xattr of @name in directory @dir, never through a symlink:
 * getxattrat(2) walks one component only. -ENOSYS before Linux 6.13.
 */
static ssize_t getxattr_at(int dir, const char *name, char *buf, size_t size)
{
	struct getxattrat_args args = { .value = (uint64_t)(uintptr_t)buf, .size = (uint32_t)size };
	long n;

	if (no_getxattrat)
		return -ENOSYS;
	n = syscall(__NR_getxattrat, dir, name, AT_SYMLINK_NOFOLLOW, LAYER_META_XATTR, &args, sizeof(args));
	if (n >= 0)
		return n;
	if (errno == ENOSYS)
		no_getxattrat = 1;
	return -errno;
}

/* The xattr of the inode an fd (of any kind) holds; a missing or unreadable one is none. */
static void read_meta(int fd, int o_path, mode_t host_type, struct layer_meta *m)
{
	char buf[LAYER_META_MAX + 1], path[32];
	ssize_t n;

	m->present = 0;
	if (host_type != S_IFREG && host_type != S_IFDIR)
		return;		/* xattr(7): user attributes are for files and directories */
	if (o_path) {
		if (fd_path(fd, path) < 0)
			return;
		n = getxattr(path, LAYER_META_XATTR, buf, LAYER_META_MAX);
	} else {
		n = fgetxattr(fd, LAYER_META_XATTR, buf, LAYER_META_MAX);
	}
	if (n <= 0)
		return;
	buf[n] = '\0';
	meta_parse(buf, host_type, m);
}

/* Write @meta on the file an fd holds (O_PATH or not); 0 or -errno (EOPNOTSUPP: no user xattrs here). */
static int write_meta(int fd, int o_path, const struct layer_meta *meta)
{
	char value[LAYER_META_MAX], path[32];
	int n, err;

	n = meta_format(meta, value, sizeof(value));
	if (n < 0)
		return n;
	if (!o_path)
		return fsetxattr(fd, LAYER_META_XATTR, value, (size_t)n, 0) < 0 ? -errno : 0;
	err = fd_path(fd, path);
	if (err < 0)
		return err;
	return setxattr(path, LAYER_META_XATTR, value, (size_t)n, 0) < 0 ? -errno : 0;
}

/* ----- layers ----- */

/* Open a layer's root directory; its fd names the layer from now on. */
int layer_open(const char *path, int upper)
{
	uint64_t resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
	uint64_t *bigger;
	size_t slots;
	int fd;

	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if ((size_t)fd >= layer_slots) {
		slots = (size_t)fd + 64;
		bigger = realloc(layer_resolve, slots * sizeof(*bigger));
		if (!bigger)
			return close_keep(fd, -ENOMEM);
		memset(bigger + layer_slots, 0, (slots - layer_slots) * sizeof(*bigger));
		layer_resolve = bigger;
		layer_slots = slots;
	}
	layer_resolve[fd] = resolve | (upper ? RESOLVE_NO_XDEV : 0);
	return fd;
}

/* The host path of a layer's root as the kernel names it now; its length or -errno. */
int layer_path(int layer, char *buf, size_t size)
{
	char path[32];
	ssize_t n;
	int err;

	if (!resolve_of(layer))
		return -EBADF;
	err = fd_path(layer, path);
	if (err < 0)
		return err;
	n = readlink(path, buf, size - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n >= size - 1)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return (int)n;
}

/* The xattr of @name in directory @dir, whose lstat says it is a regular file or directory. */
static int meta_at(int dir, const char *name, mode_t host_type, struct layer_meta *meta)
{
	char buf[LAYER_META_MAX + 1];
	ssize_t n;
	int fd;

	n = getxattr_at(dir, name, buf, LAYER_META_MAX);
	if (n == -ENOSYS) {
		fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		read_meta(fd, 1, host_type, meta);
		return close_keep(fd, 0);
	}
	if (n > 0) {
		buf[n] = '\0';
		meta_parse(buf, host_type, meta);
	}
	return 0;
}

/*
 * lstat(2) and the xattr of @rel through its directory: fstatat(2) and
 * getxattrat(2) of the last component, with no /proc walk. (A name
 * replaced between the two gives the new file's xattr with the old
 * file's stat: only a host process can do that, and it stays beneath.)
 */
static int stat_meta_at(int layer, const char *rel, struct stat *st, struct layer_meta *meta)
{
	const char *name;
	int dir, err = 0;

	dir = open_parent(layer, rel, &name);
	if (dir < 0)
		return dir;
	if (fstatat(dir, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		err = -errno;
	else if (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode))
		err = meta_at(dir, name, st->st_mode & S_IFMT, meta);
	return close_keep(dir, err);
}

/*
 * What the overlay asks about @name in directory @dir_rel of the upper
 * layer when it looks a name up, with one walk to the directory: its
 * lstat (and xattr when LAYER_PROBE_META), whether the whiteout ".wh.NAME"
 * is there (LAYER_PROBE_WHITEOUT, when there is no NAME) and whether a
 * directory NAME is opaque (LAYER_PROBE_OPAQUE). LAYER_PROBE_FOUND etc.
 * say what was found; -errno if the directory cannot be walked to or
 * NAME cannot be asked about (ENOENT and ENOTDIR: nothing there).
 */
int layer_probe(int layer, const char *dir_rel, const char *name, int flags,
		struct stat *st, struct layer_meta *meta)
{
	char other[NAME_MAX + 1 + sizeof(".wh..wh..opq")];
	struct stat wst;
	int dir, sub, n, found = 0, err = 0;

	meta->present = 0;
	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	dir = walk(layer, dir_rel, O_PATH | O_DIRECTORY, 0);
	if (dir < 0)
		return dir;
	if (fstatat(dir, name, st, AT_SYMLINK_NOFOLLOW) == 0) {
		found = LAYER_PROBE_FOUND;
		if ((flags & LAYER_PROBE_META) && (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode)))
			err = meta_at(dir, name, st->st_mode & S_IFMT, meta);
		if (!err && (flags & LAYER_PROBE_OPAQUE) && S_ISDIR(st->st_mode)) {
			sub = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				err = -errno;
			} else {
				if (fstatat(sub, ".wh..wh..opq", &wst, AT_SYMLINK_NOFOLLOW) == 0)
					found |= LAYER_PROBE_OPAQUE;
				err = close_keep(sub, 0);
			}
		}
	} else if (errno != ENOENT) {
		err = -errno;
	} else if (flags & LAYER_PROBE_WHITEOUT) {
		n = snprintf(other, sizeof(other), ".wh.%s", name);
		if (n < 0 || (size_t)n >= sizeof(other))
			err = -ENAMETOOLONG;
		else if (fstatat(dir, other, &wst, AT_SYMLINK_NOFOLLOW) == 0)
			found |= LAYER_PROBE_WHITEOUT;
	}
	err = close_keep(dir, err);
	return err ? err : found;
}

/* lstat(2) of @rel, and its override xattr when @want_meta. */
int layer_stat(int layer, const char *rel, int want_meta, struct stat *st,
	       struct layer_meta *meta)
{
	int fd, err = 0;

	meta->present = 0;
	if (want_meta && *rel)
		return stat_meta_at(layer, rel, st, meta);
	fd = walk(layer, rel, O_PATH, 0);
	if (fd < 0)
		return fd;
	if (fstat(fd, st) < 0)
		err = -errno;
	else if (want_meta)
		read_meta(fd, 1, st->st_mode & S_IFMT, meta);
	return close_keep(fd, err);
}

/* Give a file just made its exact host mode (the umask took bits away) and its xattr. */
static int settle_new(int fd, mode_t mode, const struct layer_meta *meta, struct stat *st)
{
	if (fstat(fd, st) < 0)
		return -errno;
	if ((st->st_mode & 07777) != mode) {
		if (fchmod(fd, mode) < 0)
			return -errno;
		st->st_mode = (st->st_mode & S_IFMT) | mode;
	}
	return meta ? write_meta(fd, 0, meta) : 0;
}

/*
 * open(2) of regular file @rel: O_CREAT|O_EXCL makes it anew with host
 * mode @mode and xattr @meta. The fd is O_NONBLOCK and O_NOCTTY, so that
 * a FIFO or device put in the file's place cannot block vmctl, and
 * anything but a regular file is refused (ENXIO) once open. *st is its
 * fstat; *found its xattr when opened for writing (whoever writes must
 * know its set-id bits), else none.
 */
int layer_open_file(int layer, const char *rel, int flags, mode_t mode,
		    const struct layer_meta *meta, struct stat *st,
		    struct layer_meta *found)
{
	const char *name;
	int dir, fd, err;

	flags |= O_NONBLOCK | O_NOCTTY;
	mode = host_bits(mode, 0);
	found->present = 0;
	if (!(flags & O_CREAT)) {
		fd = walk(layer, rel, (uint64_t)flags, 0);
		if (fd < 0)
			return fd;
		if (fstat(fd, st) < 0)
			return close_keep(fd, -errno);
		if (!S_ISREG(st->st_mode))
			return close_keep(fd, -ENXIO);
		if ((flags & O_ACCMODE) != O_RDONLY)
			read_meta(fd, 0, S_IFREG, found);
		return fd;
	}
	/* Only ever a new file: one that exists may be someone else's to settle. */
	if (!(flags & O_EXCL))
		return -EINVAL;
	/* Made through its directory, so that a failure after it can take the new name away. */
	dir = open_parent(layer, rel, &name);
	if (dir < 0)
		return dir;
	fd = openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return close_keep(dir, -errno);
	err = settle_new(fd, mode, meta, st);
	if (err) {
		if (unlinkat(dir, name, 0) < 0)
			err = -errno;
		err = close_keep(fd, err);
		return close_keep(dir, err);
	}
	err = close_keep(dir, 0);
	return err ? close_keep(fd, err) : fd;
}

/* A new description of the regular file @fd holds, with @flags (opening a deleted file again). */
int layer_reopen(int fd, int flags, struct stat *st)
{
	char path[32];
	int nfd, err;

	err = fd_path(fd, path);
	if (err < 0)
		return err;
	nfd = open(path, (flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW)) | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (nfd < 0)
		return -errno;
	if (fstat(nfd, st) < 0)
		return close_keep(nfd, -errno);
	if (!S_ISREG(st->st_mode))
		return close_keep(nfd, -ENXIO);
	return nfd;
}

/* mkdir(2) of @rel with host mode @mode and xattr @meta; taken back if the settling fails. */
int layer_mkdir(int layer, const char *rel, mode_t mode, const struct layer_meta *meta)
{
	const char *name;
	struct stat st;
	int dir, fd, err;

	mode = host_bits(mode, 1);
	dir = open_parent(layer, rel, &name);
	if (dir < 0)
		return dir;
	if (mkdirat(dir, name, mode) < 0)
		return close_keep(dir, -errno);
	fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
	} else {
		err = settle_new(fd, mode, meta, &st);
		err = close_keep(fd, err);
	}
	if (err && unlinkat(dir, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		err = -errno;
	return close_keep(dir, err);
}

/* mkfifo(3) of @rel: a FIFO is no privilege, and the kernel never opens it (its own pipe stands in). */
int layer_mkfifo(int layer, const char *rel, mode_t mode)
{
	const char *name;
	struct stat st;
	char path[32];
	int dir, fd, err = 0;

	mode = host_bits(mode, 0);
	dir = open_parent(layer, rel, &name);
	if (dir < 0)
		return dir;
	if (mknodat(dir, name, S_IFIFO | mode, 0) < 0)
		return close_keep(dir, -errno);
	/* The umask may have taken bits away: put them back on what was made, never on what replaced it. */
	fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return close_keep(dir, -errno);
	if (fstat(fd, &st) < 0)
		err = -errno;
	else if (!S_ISFIFO(st.st_mode))
		err = -EEXIST;
	else if ((st.st_mode & 07777) != mode) {
		err = fd_path(fd, path);
		if (!err && chmod(path, mode) < 0)
			err = -errno;
	}
	err = close_keep(fd, err);
	return close_keep(dir, err);
}

int layer_symlink(int layer, const char *rel, const char *target)
{
	const char *name;
	int dir, err;

	dir = open_parent(layer, rel, &name);
	if (dir < 0)
		return dir;
	err = symlinkat(target, dir, name) < 0 ? -errno : 0;
	return close_keep(dir, err);
}

/* unlink(2), or rmdir(2) when @dir. */
int layer_unlink(int layer, const char *rel, int dir)
{
	const char *name;
	int pfd, err;

	pfd = open_parent(layer, rel, &name);
	if (pfd < 0)
		return pfd;
	err = unlinkat(pfd, name, dir ? AT_REMOVEDIR : 0) < 0 ? -errno : 0;
	return close_keep(pfd, err);
}

/*
 * The parents of @from and @to, for a call naming two entries of the
 * layer: 0 with both open (the caller closes them), or -errno with none.
 */
static int open_two_parents(int layer, const char *from, const char *to, int *from_dir,
			    const char **from_name, int *to_dir, const char **to_name)
{
	*from_dir = open_parent(layer, from, from_name);
	if (*from_dir < 0)
		return *from_dir;
	*to_dir = open_parent(layer, to, to_name);
	if (*to_dir < 0)
		return close_keep(*from_dir, *to_dir);
	return 0;
}

/* renameat2(2) within the layer. */
int layer_rename(int layer, const char *from, const char *to, unsigned int flags)
{
	const char *from_name, *to_name;
	int from_dir, to_dir, err;

	err = open_two_parents(layer, from, to, &from_dir, &from_name, &to_dir, &to_name);
	if (err < 0)
		return err;
	err = renameat2(from_dir, from_name, to_dir, to_name, flags) < 0 ? -errno : 0;
	err = close_keep(to_dir, err);
	return close_keep(from_dir, err);
}

/* link(2) within the layer; a symlink is linked itself, never its target. */
int layer_link(int layer, const char *from, const char *to)
{
	const char *from_name, *to_name;
	int from_dir, to_dir, err;

	err = open_two_parents(layer, from, to, &from_dir, &from_name, &to_dir, &to_name);
	if (err < 0)
		return err;
	err = linkat(from_dir, from_name, to_dir, to_name, 0) < 0 ? -errno : 0;
	err = close_keep(to_dir, err);
	return close_keep(from_dir, err);
}

/* readlink(2) of @rel into @buf; its length or -errno (ENAMETOOLONG if it does not fit). */
ssize_t layer_readlink(int layer, const char *rel, char *buf, size_t size)
{
	const char *name;
	ssize_t n;
	int dir, err;

	dir = open_parent(layer, rel, &name);
	if (dir < 0)
		return dir;
	n = readlinkat(dir, name, buf, size);
	if (n < 0)
		n = -errno;
	else if ((size_t)n >= size)
		n = -ENAMETOOLONG;
	err = close_keep(dir, 0);
	return err < 0 ? err : n;
}

/*
 * The guest's metadata of @rel changes: host mode @host_mode (-1: as it
 * is) first, so that the xattr can be written even where the old mode
 * denied it to its owner, then xattr @meta (NULL: none written). Only a
 * FIFO's host mode may change besides: a symlink has none (EOPNOTSUPP,
 * as chmod of a symlink gives), and nothing else carries an xattr.
 */
int layer_set_meta(int layer, const char *rel, const struct layer_meta *meta, int host_mode)
{
	struct stat st;
	char path[32];
	mode_t type;
	int fd, err;

	fd = walk(layer, rel, O_PATH, 0);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return close_keep(fd, -errno);
	type = st.st_mode & S_IFMT;
	if ((meta && type != S_IFREG && type != S_IFDIR) ||
	    (host_mode >= 0 && type != S_IFREG && type != S_IFDIR && type != S_IFIFO))
		return close_keep(fd, -EOPNOTSUPP);
	err = fd_path(fd, path);
	if (!err && host_mode >= 0 && (st.st_mode & 07777) != host_bits((mode_t)host_mode, type == S_IFDIR) &&
	    chmod(path, host_bits((mode_t)host_mode, type == S_IFDIR)) < 0)
		err = -errno;
	if (!err && meta)
		err = write_meta(fd, 1, meta);
	return close_keep(fd, err);
}

/* lchown(2) of @rel: of the file itself, whatever it is (the caller keeps to its policy). */
int layer_chown(int layer, const char *rel, uid_t uid, gid_t gid)
{
	int fd, err;

	fd = walk(layer, rel, O_PATH, 0);
	if (fd < 0)
		return fd;
	err = fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0 ? -errno : 0;
	return close_keep(fd, err);
}

/* utimensat(2) of @rel itself (UTIME_OMIT leaves a time as it is). */
int layer_utimes(int layer, const char *rel, const struct timespec ts[2])
{
	const char *name;
	int dir, err;

	if (!*rel) {
		/* the root: no parent to act through, and never a symlink */
		if (!resolve_of(layer))
			return -EBADF;
		return utimensat(layer, ".", ts, 0) < 0 ? -errno : 0;
	}
	dir = open_parent(layer, rel, &name);
	if (dir < 0)
		return dir;
	err = utimensat(dir, name, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	return close_keep(dir, err);
}

/* The linux_dirent64 records of directory @rel (dirents.c), malloc'd into *out. */
int layer_read_dir(int layer, const char *rel, char **out, size_t *len)
{
	int fd, err;

	*out = NULL;
	fd = walk(layer, rel, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	err = read_dirents_fd(fd, out, len);
	err = close_keep(fd, err);
	if (err && *out) {
		free(*out);
		*out = NULL;
	}
	return err;
}

int layer_statfs(int layer, struct statfs *sfs)
{
	if (!resolve_of(layer))
		return -EBADF;
	return fstatfs(layer, sfs) < 0 ? -errno : 0;
}

/* fstat(2) and the xattr of an open regular file (one whose name is gone). */
int layer_fd_stat(int fd, struct stat *st, struct layer_meta *meta)
{
	meta->present = 0;
	if (fstat(fd, st) < 0)
		return -errno;
	read_meta(fd, 0, st->st_mode & S_IFMT, meta);
	return 0;
}

/* layer_set_meta() through an open regular file. */
int layer_fd_set_meta(int fd, const struct layer_meta *meta, int host_mode)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EOPNOTSUPP;
	if (host_mode >= 0 && (st.st_mode & 07777) != host_bits((mode_t)host_mode, 0) &&
	    fchmod(fd, host_bits((mode_t)host_mode, 0)) < 0)
		return -errno;
	return meta ? write_meta(fd, 0, meta) : 0;
}

/* Copy all of @in to @out from their starts (copy-up); bytes copied or -errno. */
long layer_copy(int in, int out)
{
	loff_t in_pos = 0, out_pos = 0;
	ssize_t n, w;
	long total = 0;
	char *buf;

	for (;;) {
		n = copy_file_range(in, &in_pos, out, &out_pos, COPY_CHUNK, 0);
		if (n == 0)
			return total;
		if (n < 0)
			break;
		total += n;
	}
	/* copy_file_range(2) is refused across some filesystems and by some: bytes the plain way. */
	if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return -errno;
	buf = malloc(COPY_CHUNK);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		n = pread(in, buf, COPY_CHUNK, in_pos);
		if (n <= 0)
			break;
		for (w = 0; w < n;) {
			ssize_t k = pwrite(out, buf + w, (size_t)(n - w), out_pos + w);

			if (k < 0) {
				n = -1;
				break;
			}
			w += k;
		}
		if (n < 0)
			break;
		in_pos += n;
		out_pos += n;
		total += n;
	}
	n = n < 0 ? -errno : 0;
	free(buf);
	return n < 0 ? n : total;
}

/*
 * The instance lock: an exclusive flock(2) on @path (made 0600 if
 * missing), held by the returned fd until vmctl exits or dies; -EWOULDBLOCK
 * when another process holds it.
 */
int layer_lock(const char *path)
{
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return close_keep(fd, -errno);
	return fd;
}
