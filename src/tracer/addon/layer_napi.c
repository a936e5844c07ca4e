// SPDX-License-Identifier: GPL-2.0-only
/*
 * Node-API glue of the overlay layers' host operations (layer_ops.c),
 * wrapped for TypeScript by src/kernel/vfs/host-layer.ts. Paths are
 * relative to a layer; every function answers a number (0, a count, an
 * fd, or -errno) unless it says otherwise. A stat goes into a
 * Float64Array the caller keeps (LAYER_STAT_* below), the guest
 * metadata of a file comes in as one too (LAYER_META_*), so no call
 * allocates an object.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <node_api.h>

#include "layer_ops.h"
#include "tracer.h"

/* Slots of a stat array; mirrored in src/kernel/vfs/host-layer.ts. */
enum {
	LAYER_STAT_DEV, LAYER_STAT_INO_HI, LAYER_STAT_INO_LO, LAYER_STAT_MODE,
	LAYER_STAT_NLINK, LAYER_STAT_UID, LAYER_STAT_GID, LAYER_STAT_RDEV,
	LAYER_STAT_SIZE, LAYER_STAT_BLKSIZE, LAYER_STAT_BLOCKS,
	LAYER_STAT_ATIME, LAYER_STAT_ATIME_NS, LAYER_STAT_MTIME, LAYER_STAT_MTIME_NS,
	LAYER_STAT_CTIME, LAYER_STAT_CTIME_NS,
	LAYER_STAT_META, LAYER_STAT_META_UID, LAYER_STAT_META_GID,
	LAYER_STAT_META_MODE, LAYER_STAT_META_RDEV,
	LAYER_STAT_SLOTS,
};

/* Slots of a metadata array: uid, gid, type | mode, rdev. */
enum { LAYER_META_UID, LAYER_META_GID, LAYER_META_MODE, LAYER_META_RDEV, LAYER_META_SLOTS };

static int args(napi_env env, napi_callback_info info, size_t want, napi_value *argv)
{
	size_t argc = want;

	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)
		return -1;
	if (argc < want) {
		napi_throw_type_error(env, NULL, "vmctl layer: too few arguments");
		return -1;
	}
	return 0;
}

static napi_value num(napi_env env, double v)
{
	napi_value r;

	if (napi_create_double(env, v, &r) != napi_ok)
		return NULL;
	return r;
}

static int int_arg(napi_env env, napi_value v, int64_t *out)
{
	if (napi_get_value_int64(env, v, out) != napi_ok) {
		napi_throw_type_error(env, NULL, "vmctl layer: expected a number");
		return -1;
	}
	return 0;
}

static int bool_arg(napi_env env, napi_value v, bool *out)
{
	if (napi_get_value_bool(env, v, out) != napi_ok) {
		napi_throw_type_error(env, NULL, "vmctl layer: expected a boolean");
		return -1;
	}
	return 0;
}

/* A string argument into @buf; -1 (thrown) if it is not one, -ENAMETOOLONG if it does not fit. */
static int str_arg(napi_env env, napi_value v, char *buf, size_t size)
{
	size_t len;

	if (napi_get_value_string_utf8(env, v, buf, size, &len) != napi_ok) {
		napi_throw_type_error(env, NULL, "vmctl layer: expected a string");
		return -1;
	}
	/* (a string that filled the buffer may have been cut: too long either way) */
	return len >= size - 1 ? -ENAMETOOLONG : 0;
}

/* The data of a Float64Array of at least @min slots; NULL (thrown) if not one. */
static double *f64_arg(napi_env env, napi_value v, size_t min)
{
	napi_typedarray_type type;
	napi_value ab;
	size_t len, off;
	void *data;

	if (napi_get_typedarray_info(env, v, &type, &len, &data, &ab, &off) != napi_ok ||
	    type != napi_float64_array || len < min) {
		napi_throw_type_error(env, NULL, "vmctl layer: expected a Float64Array");
		return NULL;
	}
	return data;
}

/* An optional metadata array (null or undefined: none); 0, or -1 (thrown). */
static int meta_arg(napi_env env, napi_value v, struct layer_meta *m, const struct layer_meta **out)
{
	napi_valuetype t;
	double *d;

	if (napi_typeof(env, v, &t) != napi_ok)
		return -1;
	if (t == napi_null || t == napi_undefined) {
		*out = NULL;
		return 0;
	}
	d = f64_arg(env, v, LAYER_META_SLOTS);
	if (!d)
		return -1;
	m->present = 1;
	m->uid = (uint32_t)d[LAYER_META_UID];
	m->gid = (uint32_t)d[LAYER_META_GID];
	m->mode = (uint32_t)d[LAYER_META_MODE];
	m->rdev = (dev_t)d[LAYER_META_RDEV];
	*out = m;
	return 0;
}

static void put_stat(double *o, const struct stat *st, const struct layer_meta *m)
{
	o[LAYER_STAT_DEV] = (double)st->st_dev;
	o[LAYER_STAT_INO_HI] = (double)(st->st_ino >> 32);
	o[LAYER_STAT_INO_LO] = (double)(st->st_ino & 0xffffffffu);
	o[LAYER_STAT_MODE] = st->st_mode;
	o[LAYER_STAT_NLINK] = (double)st->st_nlink;
	o[LAYER_STAT_UID] = st->st_uid;
	o[LAYER_STAT_GID] = st->st_gid;
	o[LAYER_STAT_RDEV] = (double)st->st_rdev;
	o[LAYER_STAT_SIZE] = (double)st->st_size;
	o[LAYER_STAT_BLKSIZE] = (double)st->st_blksize;
	o[LAYER_STAT_BLOCKS] = (double)st->st_blocks;
	o[LAYER_STAT_ATIME] = (double)st->st_atim.tv_sec;
	o[LAYER_STAT_ATIME_NS] = (double)st->st_atim.tv_nsec;
	o[LAYER_STAT_MTIME] = (double)st->st_mtim.tv_sec;
	o[LAYER_STAT_MTIME_NS] = (double)st->st_mtim.tv_nsec;
	o[LAYER_STAT_CTIME] = (double)st->st_ctim.tv_sec;
	o[LAYER_STAT_CTIME_NS] = (double)st->st_ctim.tv_nsec;
	o[LAYER_STAT_META] = m && m->present;
	if (m && m->present) {
		o[LAYER_STAT_META_UID] = m->uid;
		o[LAYER_STAT_META_GID] = m->gid;
		o[LAYER_STAT_META_MODE] = m->mode;
		o[LAYER_STAT_META_RDEV] = (double)m->rdev;
	}
}

/* layerOpen(path, upper) -> layer (its root's fd) */
static napi_value js_open(napi_env env, napi_callback_info info)
{
	napi_value argv[2];
	char path[PATH_MAX];
	bool upper;
	int err;

	if (args(env, info, 2, argv) < 0 || (err = str_arg(env, argv[0], path, sizeof(path))) == -1)
		return NULL;
	if (bool_arg(env, argv[1], &upper) < 0)
		return NULL;
	return num(env, err < 0 ? err : layer_open(path, upper));
}

/* layerPath(layer) -> the root's host path now, or -errno */
static napi_value js_path(napi_env env, napi_callback_info info)
{
	napi_value argv[1], r;
	char path[PATH_MAX];
	int64_t layer;
	int n;

	if (args(env, info, 1, argv) < 0 || int_arg(env, argv[0], &layer) < 0)
		return NULL;
	n = layer_path((int)layer, path, sizeof(path));
	if (n < 0)
		return num(env, n);
	if (napi_create_string_utf8(env, path, (size_t)n, &r) != napi_ok)
		return NULL;
	return r;
}

/* layerStat(layer, rel, wantMeta, out) */
static napi_value js_stat(napi_env env, napi_callback_info info)
{
	napi_value argv[4];
	struct layer_meta meta;
	char rel[PATH_MAX];
	struct stat st;
	int64_t layer;
	bool want;
	double *out;
	int err;

	if (args(env, info, 4, argv) < 0 || int_arg(env, argv[0], &layer) < 0 ||
	    (err = str_arg(env, argv[1], rel, sizeof(rel))) == -1 ||
	    bool_arg(env, argv[2], &want) < 0 ||
	    !(out = f64_arg(env, argv[3], LAYER_STAT_SLOTS)))
		return NULL;
	if (!err)
		err = layer_stat((int)layer, rel, want, &st, &meta);
	if (!err)
		put_stat(out, &st, &meta);
	return num(env, err);
}

/* layerProbe(layer, dirRel, name, flags, out) -> LAYER_PROBE_* found, or -errno */
static napi_value js_probe(napi_env env, napi_callback_info info)
{
	char dir[PATH_MAX], name[NAME_MAX + 2];
	struct layer_meta meta;
	napi_value argv[5];
	int64_t layer, flags;
	struct stat st;
	double *out;
	int r, n;

	if (args(env, info, 5, argv) < 0 || int_arg(env, argv[0], &layer) < 0 ||
	    (r = str_arg(env, argv[1], dir, sizeof(dir))) == -1 ||
	    (n = str_arg(env, argv[2], name, sizeof(name))) == -1 ||
	    int_arg(env, argv[3], &flags) < 0 || !(out = f64_arg(env, argv[4], LAYER_STAT_SLOTS)))
		return NULL;
	if (r || n)
		return num(env, r ? r : n);
	r = layer_probe((int)layer, dir, name, (int)flags, &st, &meta);
	if (r >= 0 && (r & LAYER_PROBE_FOUND))
		put_stat(out, &st, &meta);
	return num(env, r);
}

/* layerOpenFile(layer, rel, flags, mode, meta|null, out) -> fd; out has the xattr of a file opened for writing */
static napi_value js_open_file(napi_env env, napi_callback_info info)
{
	struct layer_meta meta, found;
	const struct layer_meta *mp;
	napi_value argv[6];
	char rel[PATH_MAX];
	int64_t layer, flags, mode;
	struct stat st;
	double *out;
	int r;

	if (args(env, info, 6, argv) < 0 || int_arg(env, argv[0], &layer) < 0 ||
	    (r = str_arg(env, argv[1], rel, sizeof(rel))) == -1 ||
	    int_arg(env, argv[2], &flags) < 0 || int_arg(env, argv[3], &mode) < 0 ||
	    meta_arg(env, argv[4], &meta, &mp) < 0 || !(out = f64_arg(env, argv[5], LAYER_STAT_SLOTS)))
		return NULL;
	if (!r)
		r = layer_open_file((int)layer, rel, (int)flags, (mode_t)mode, mp, &st, &found);
	if (r >= 0)
		put_stat(out, &st, mp ? mp : &found);
	return num(env, r);
}

/* layerReopen(fd, flags, out) -> a new fd on the same regular file */
static napi_value js_reopen(napi_env env, napi_callback_info info)
{
	napi_value argv[3];
	int64_t fd, flags;
	struct stat st;
	double *out;
	int r;

	if (args(env, info, 3, argv) < 0 || int_arg(env, argv[0], &fd) < 0 ||
	    int_arg(env, argv[1], &flags) < 0 || !(out = f64_arg(env, argv[2], LAYER_STAT_SLOTS)))
		return NULL;
	r = layer_reopen((int)fd, (int)flags, &st);
	if (r >= 0)
		put_stat(out, &st, NULL);
	return num(env, r);
}

/* layerMkdir(layer, rel, mode, meta|null) */
static napi_value js_mkdir(napi_env env, napi_callback_info info)
{
	const struct layer_meta *mp;
	struct layer_meta meta;
	napi_value argv[4];
	char rel[PATH_MAX];
	int64_t layer, mode;
	int r;

	if (args(env, info, 4, argv) < 0 || int_arg(env, argv[0], &layer) < 0 ||
	    (r = str_arg(env, argv[1], rel, sizeof(rel))) == -1 ||
	    int_arg(env, argv[2], &mode) < 0 || meta_arg(env, argv[3], &meta, &mp) < 0)
		return NULL;
	return num(env, r ? r : layer_mkdir((int)layer, rel, (mode_t)mode, mp));
}

/* layerMkfifo(layer, rel, mode) */
static napi_value js_mkfifo(napi_env env, napi_callback_info info)
{
	napi_value argv[3];
	char rel[PATH_MAX];
	int64_t layer, mode;
	int r;

	if (args(env, info, 3, argv) < 0 || int_arg(env, argv[0], &layer) < 0 ||
	    (r = str_arg(env, argv[1], rel, sizeof(rel))) == -1 || int_arg(env, argv[2], &mode) < 0)
		return NULL;
	return num(env, r ? r : layer_mkfifo((int)layer, rel, (mode_t)mode));
}

/* layerSymlink(layer, rel, target) */
static napi_value js_symlink(napi_env env, napi_callback_info info)
{
	char rel[PATH_MAX], target[PATH_MAX];
	napi_value argv[3];
	int64_t layer;
	int r, t;

	if (args(env, info, 3, argv) < 0 || int_arg(env, argv[0], &layer) < 0 ||
	    (r = str_arg(env, argv[1], rel, sizeof(rel))) == -1 ||
	    (t = str_arg(env, argv[2], target, sizeof(target))) == -1)
		return NULL;
	return num(env, r ? r : t ? t : layer_symlink((int)layer, rel, target));
}

/* layerUnlink(layer, rel, isDir) */
static napi_value js_unlink(napi_env env, napi_callback_info info)
{
	napi_value argv[3];
	char rel[PATH_MAX];
	int64_t layer;
	bool dir;
	int r;

	if (args(env, info, 3, argv) < 0 || int_arg(env, argv[0], &layer) < 0 ||
	    (r = str_arg(env, argv[1], rel, sizeof(rel))) == -1 ||
	    bool_arg(env, argv[2], &dir) < 0)
		return NULL;
	return num(env, r ? r : layer_unlink((int)layer, rel, dir));
}

/* layerRename(layer, from, to, flags) and layerLink(layer, from, to) */
static napi_value two_paths(napi_env env, napi_callback_info info, int link)
{
	char from[PATH_MAX], to[PATH_MAX];
	int64_t layer, flags = 0;
	napi_value argv[4];
	int a, b;

	if (args(env, info, link ? 3 : 4, argv) < 0 || int_arg(env, argv[0], &layer) < 0 ||
	    (a = str_arg(env, argv[1], from, sizeof(from))) == -1 ||
	    (b = str_arg(env, argv[2], to, sizeof(to))) == -1 ||
	    (!link && int_arg(env, argv[3], &flags) < 0))
		return NULL;
	if (a || b)
		return num(env, a ? a : b);
	if (link)
		return num(env, layer_link((int)layer, from, to));
	return num(env, layer_rename((int)layer, from, to, (unsigned int)flags));
}

static napi_value js_rename(napi_env env, napi_callback_info info)
{
	return two_paths(env, info, 0);
}

static napi_value js_link(napi_env env, napi_callback_info info)
{
	return two_paths(env, info, 1);
}

/* layerReadlink(layer, rel) -> the target string, or -errno */
static napi_value js_readlink(napi_env env, napi_callback_info info)
{
	char rel[PATH_MAX], target[PATH_MAX];
	napi_value argv[2], s;
	int64_t layer;
	ssize_t n;
	int r;

	if (args(env, info, 2, argv) < 0 || int_arg(env, argv[0], &layer) < 0 ||
	    (r = str_arg(env, argv[1], rel, sizeof(rel))) == -1)
		return NULL;
	if (r)
		return num(env, r);
	n = layer_readlink((int)layer, rel, target, sizeof(target));
	if (n < 0)
		return num(env, (double)n);
	if (napi_create_string_utf8(env, target, (size_t)n, &s) != napi_ok)
		return NULL;
	return s;
}

/* layerSetMeta(layer, rel, meta|null, hostMode) */
static napi_value js_set_meta(napi_env env, napi_callback_info info)
{
	const struct layer_meta *mp;
	struct layer_meta meta;
	napi_value argv[4];
	char rel[PATH_MAX];
	int64_t layer, host_mode;
	int r;

	if (args(env, info, 4, argv) < 0 || int_arg(env, argv[0], &layer) < 0 ||
	    (r = str_arg(env, argv[1], rel, sizeof(rel))) == -1 ||
	    meta_arg(env, argv[2], &meta, &mp) < 0 || int_arg(env, argv[3], &host_mode) < 0)
		return NULL;
	return num(env, r ? r : layer_set_meta((int)layer, rel, mp, (int)host_mode));
}

/* layerChown(layer, rel, uid, gid) */
static napi_value js_chown(napi_env env, napi_callback_info info)
{
	napi_value argv[4];
	char rel[PATH_MAX];
	int64_t layer, uid, gid;
	int r;

	if (args(env, info, 4, argv) < 0 || int_arg(env, argv[0], &layer) < 0 ||
	    (r = str_arg(env, argv[1], rel, sizeof(rel))) == -1 ||
	    int_arg(env, argv[2], &uid) < 0 || int_arg(env, argv[3], &gid) < 0)
		return NULL;
	return num(env, r ? r : layer_chown((int)layer, rel, (uid_t)uid, (gid_t)gid));
}

/* layerUtimes(layer, rel, atimeSec, atimeNsec, mtimeSec, mtimeNsec); a nsec of UTIME_OMIT leaves that time */
static napi_value js_utimes(napi_env env, napi_callback_info info)
{
	struct timespec ts[2];
	napi_value argv[6];
	char rel[PATH_MAX];
	int64_t layer, v[4];
	int r, i;

	if (args(env, info, 6, argv) < 0 || int_arg(env, argv[0], &layer) < 0 ||
	    (r = str_arg(env, argv[1], rel, sizeof(rel))) == -1)
		return NULL;
	for (i = 0; i < 4; i++)
		if (int_arg(env, argv[2 + i], &v[i]) < 0)
			return NULL;
	ts[0].tv_sec = v[0];
	ts[0].tv_nsec = v[1];
	ts[1].tv_sec = v[2];
	ts[1].tv_nsec = v[3];
	return num(env, r ? r : layer_utimes((int)layer, rel, ts));
}

/* layerReadDir(layer, rel) -> linux_dirent64 records (dirents.c), or -errno */
static napi_value js_read_dir(napi_env env, napi_callback_info info)
{
	napi_value argv[2], buf;
	char rel[PATH_MAX], *recs;
	napi_status st;
	int64_t layer;
	size_t len;
	int r;

	if (args(env, info, 2, argv) < 0 || int_arg(env, argv[0], &layer) < 0 ||
	    (r = str_arg(env, argv[1], rel, sizeof(rel))) == -1)
		return NULL;
	if (!r)
		r = layer_read_dir((int)layer, rel, &recs, &len);
	if (r)
		return num(env, r);
	st = napi_create_buffer_copy(env, len, recs, NULL, &buf);
	free(recs);
	return st == napi_ok ? buf : NULL;
}

/* layerStatfs(layer, out): bsize, blocks, bfree, bavail, files, ffree */
static napi_value js_statfs(napi_env env, napi_callback_info info)
{
	napi_value argv[2];
	struct statfs s;
	int64_t layer;
	double *out;
	int r;

	if (args(env, info, 2, argv) < 0 || int_arg(env, argv[0], &layer) < 0 || !(out = f64_arg(env, argv[1], 6)))
		return NULL;
	r = layer_statfs((int)layer, &s);
	if (!r) {
		out[0] = (double)s.f_bsize;
		out[1] = (double)s.f_blocks;
		out[2] = (double)s.f_bfree;
		out[3] = (double)s.f_bavail;
		out[4] = (double)s.f_files;
		out[5] = (double)s.f_ffree;
	}
	return num(env, r);
}

/* layerFdStat(fd, out): fstat and xattr of an open file */
static napi_value js_fd_stat(napi_env env, napi_callback_info info)
{
	struct layer_meta meta;
	napi_value argv[2];
	struct stat st;
	double *out;
	int64_t fd;
	int r;

	if (args(env, info, 2, argv) < 0 || int_arg(env, argv[0], &fd) < 0 ||
	    !(out = f64_arg(env, argv[1], LAYER_STAT_SLOTS)))
		return NULL;
	r = layer_fd_stat((int)fd, &st, &meta);
	if (!r)
		put_stat(out, &st, &meta);
	return num(env, r);
}

/* layerFdSetMeta(fd, meta|null, hostMode) */
static napi_value js_fd_set_meta(napi_env env, napi_callback_info info)
{
	const struct layer_meta *mp;
	struct layer_meta meta;
	napi_value argv[3];
	int64_t fd, host_mode;

	if (args(env, info, 3, argv) < 0 || int_arg(env, argv[0], &fd) < 0 ||
	    meta_arg(env, argv[1], &meta, &mp) < 0 || int_arg(env, argv[2], &host_mode) < 0)
		return NULL;
	return num(env, layer_fd_set_meta((int)fd, mp, (int)host_mode));
}

/* layerCopy(inFd, outFd) -> bytes copied */
static napi_value js_copy(napi_env env, napi_callback_info info)
{
	napi_value argv[2];
	int64_t in, out;

	if (args(env, info, 2, argv) < 0 || int_arg(env, argv[0], &in) < 0 || int_arg(env, argv[1], &out) < 0)
		return NULL;
	return num(env, (double)layer_copy((int)in, (int)out));
}

/* layerLock(path) -> the fd holding the lock, -EWOULDBLOCK if another process holds it */
static napi_value js_lock(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	char path[PATH_MAX];
	int r;

	if (args(env, info, 1, argv) < 0 || (r = str_arg(env, argv[0], path, sizeof(path))) == -1)
		return NULL;
	return num(env, r ? r : layer_lock(path));
}

/* Adds this file's functions to the addon's exports; 0 or -1 (thrown). */
int layer_ops_register(napi_env env, napi_value exports)
{
	static const struct {
		const char *name;
		napi_callback cb;
	} fns[] = {
		{ "layerOpen", js_open },
		{ "layerPath", js_path },
		{ "layerStat", js_stat },
		{ "layerProbe", js_probe },
		{ "layerOpenFile", js_open_file },
		{ "layerReopen", js_reopen },
		{ "layerMkdir", js_mkdir },
		{ "layerMkfifo", js_mkfifo },
		{ "layerSymlink", js_symlink },
		{ "layerUnlink", js_unlink },
		{ "layerRename", js_rename },
		{ "layerLink", js_link },
		{ "layerReadlink", js_readlink },
		{ "layerSetMeta", js_set_meta },
		{ "layerChown", js_chown },
		{ "layerUtimes", js_utimes },
		{ "layerReadDir", js_read_dir },
		{ "layerStatfs", js_statfs },
		{ "layerFdStat", js_fd_stat },
		{ "layerFdSetMeta", js_fd_set_meta },
		{ "layerCopy", js_copy },
		{ "layerLock", js_lock },
	};
	napi_value fn;
	size_t i;

	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, NULL, &fn) != napi_ok ||
		    napi_set_named_property(env, exports, fns[i].name, fn) != napi_ok)
			return -1;
	}
	return 0;
}
