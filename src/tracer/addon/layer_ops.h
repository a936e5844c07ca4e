/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The overlay layers' host operations (layer_ops.c), for their Node-API
 * glue (layer_napi.c). Every function returns 0, a count or an fd, or
 * -errno; none follows a symlink or leaves its layer.
 */
#ifndef VMCTL_LAYER_OPS_H
#define VMCTL_LAYER_OPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <time.h>

/* The xattr fuse-overlayfs and containers/storage keep a file's real owner and mode in. */
#define LAYER_META_XATTR "user.containers.override_stat"
/* Long enough for "4294967295:4294967295:7777:block-4294967295-4294967295". */
#define LAYER_META_MAX 64

/* A guest's own metadata of a host file, as the xattr holds it. */
struct layer_meta {
	int present;		/* 0: the file has no (valid) xattr */
	uint32_t uid, gid;
	uint32_t mode;		/* S_IFMT type | 07777 permission bits */
	dev_t rdev;		/* device nodes only */
};

/* layer_probe()'s flags, asked and answered; mirrored in src/kernel/vfs/host-layer.ts */
#define LAYER_PROBE_FOUND	1	/* answer: the name is there, its stat filled in */
#define LAYER_PROBE_META	2	/* ask: its xattr too */
#define LAYER_PROBE_WHITEOUT	4	/* ask/answer: its whiteout, when it is not there */
#define LAYER_PROBE_OPAQUE	8	/* ask/answer: a directory's opaque marker */

int layer_open(const char *path, int upper);
int layer_probe(int layer, const char *dir_rel, const char *name, int flags,
		struct stat *st, struct layer_meta *meta);
int layer_path(int layer, char *buf, size_t size);
int layer_stat(int layer, const char *rel, int want_meta, struct stat *st,
	       struct layer_meta *meta);
int layer_open_file(int layer, const char *rel, int flags, mode_t mode,
		    const struct layer_meta *meta, struct stat *st,
		    struct layer_meta *found);
int layer_reopen(int fd, int flags, struct stat *st);
int layer_mkdir(int layer, const char *rel, mode_t mode,
		const struct layer_meta *meta);
int layer_mkfifo(int layer, const char *rel, mode_t mode);
int layer_symlink(int layer, const char *rel, const char *target);
int layer_unlink(int layer, const char *rel, int dir);
int layer_rename(int layer, const char *from, const char *to,
		 unsigned int flags);
int layer_link(int layer, const char *from, const char *to);
ssize_t layer_readlink(int layer, const char *rel, char *buf, size_t size);
int layer_set_meta(int layer, const char *rel, const struct layer_meta *meta,
		   int host_mode);
int layer_chown(int layer, const char *rel, uid_t uid, gid_t gid);
int layer_utimes(int layer, const char *rel, const struct timespec ts[2]);
int layer_read_dir(int layer, const char *rel, char **out, size_t *len);
int layer_statfs(int layer, struct statfs *sfs);
int layer_fd_stat(int fd, struct stat *st, struct layer_meta *meta);
int layer_fd_set_meta(int fd, const struct layer_meta *meta, int host_mode);
long layer_copy(int in, int out);
int layer_lock(const char *path);

#endif
