// SPDX-License-Identifier: GPL-2.0-only
/*
 * Defence in depth: what a guest's host processes may do on the host if,
 * despite everything, one of them ran a host syscall the kernel did not
 * choose. The injection design (ptrace_ops.c) is what keeps guests from
 * doing that; this file makes the result worthless.
 *
 * The zygote confines itself between fork() and exec of the stub, and
 * every guest process is forked from it, so all of them inherit:
 *   - its own user, mount, IPC, network and UTS namespaces where the host
 *     allows them (user_namespaces(7)), with an empty, read-only tmpfs as
 *     its whole filesystem (pivot_root(2) then detaching the old root, as
 *     container runtimes do);
 *   - no privilege: run by root, it becomes uid/gid 65534 (nobody, as
 *     gVisor's sandbox does) with no supplementary groups; in any case it
 *     is not root in its user namespace, so the exec drops every
 *     capability (capabilities(7), "Capabilities and execution of
 *     programs by root"), and the bounding and ambient sets are emptied;
 *   - no_new_privs, so nothing can gain privilege again;
 *   - Landlock (landlock(7)), where the host has it: no filesystem access
 *     at all (the stub binary may be executed, once), no TCP bind or
 *     connect, no signal or abstract unix socket outside its domain;
 *   - limits: no core dumps, no locked memory, a few fds, and where it has
 *     a user namespace of its own (ucounts are per namespace), a host
 *     process limit just above the guest's --pids-max; its OOM score is
 *     the highest, so host memory pressure ends guest processes first;
 *   - the base seccomp filter (seccomp_filter.c), whose listener fd it
 *     hands to the kernel.
 * Each layer the host refuses is reported, not fatal, except those that
 * must hold for vmctl to run guests at all: no_new_privs, leaving root,
 * and the seccomp filter.
 *
 * vmctl's own kernel thread confines itself with Landlock too (before it
 * forks the zygote, so the guests' domain nests in the kernel's and the
 * kernel may still trace them): to the guest's layers, its state and
 * build directories, and what Node itself needs.
 *
 * Only raw system calls between fork() and exec: the child of a
 * multithreaded process may not use malloc or stdio.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <stdio.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "tracer.h"

/* Landlock's ABI, declared here: the build host's headers may predate it. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct ll_path_beneath_attr {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

#define LL_CREATE_RULESET_VERSION	(1U << 0)
#define LL_RULE_PATH_BENEATH		1
#define LL_FS_EXECUTE			(1ULL << 0)
#define LL_FS_WRITE_FILE		(1ULL << 1)
#define LL_FS_READ_FILE			(1ULL << 2)
#define LL_FS_READ_DIR			(1ULL << 3)
#define LL_FS_TRUNCATE			(1ULL << 14)
#define LL_FS_IOCTL_DEV			(1ULL << 15)
#define LL_NET_BIND_TCP			(1ULL << 0)
#define LL_NET_CONNECT_TCP		(1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET	(1ULL << 0)
#define LL_SCOPE_SIGNAL			(1ULL << 1)

/* The guest's uid and gid on the host when vmctl runs as root. */
#define NOBODY 65534

/* Every filesystem right the host's Landlock ABI knows. */
static uint64_t ll_fs_rights(int abi)
{
	uint64_t all = (1ULL << 13) - 1;	/* ABI 1: EXECUTE .. MAKE_SYM */

	if (abi >= 2)
		all |= 1ULL << 13;		/* REFER */
	if (abi >= 3)
		all |= LL_FS_TRUNCATE;
	if (abi >= 5)
		all |= LL_FS_IOCTL_DEV;
	return all;
}

static size_t ll_attr_size(int abi)
{
	if (abi >= 6)
		return sizeof(struct ll_ruleset_attr);
	if (abi >= 4)
		return offsetof(struct ll_ruleset_attr, scoped);
	return offsetof(struct ll_ruleset_attr, handled_access_net);
}

int landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);

	return abi < 0 ? 0 : (int)abi;
}

static int write_all(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, buf, len);
	if (n < 0)
		n = -errno;
	if (close(fd) < 0 && n >= 0)
		n = -errno;
	return n == (ssize_t)len ? 0 : (n < 0 ? (int)n : -EIO);
}

/* "INSIDE OUTSIDE 1\n" without stdio. */
static size_t id_map_line(char *buf, unsigned int inside, unsigned int outside)
{
	unsigned int vals[2] = { inside, outside };
	char digits[12];
	size_t len = 0;
	int v, n;

	for (v = 0; v < 2; v++) {
		unsigned int x = vals[v];

		n = 0;
		do {
			digits[n++] = (char)('0' + x % 10);
			x /= 10;
		} while (x);
		while (n)
			buf[len++] = digits[--n];
		buf[len++] = ' ';
	}
	buf[len++] = '1';
	buf[len++] = '\n';
	return len;
}

/*
 * Map the caller's own ids into the user namespace it just made: the only
 * map an unprivileged process may write for itself, after giving up
 * setgroups(2) (user_namespaces(7), "Defining user and group ID mappings").
 */
static int map_own_ids(uid_t uid, gid_t gid)
{
	char line[40];
	size_t len;
	int ret;

	ret = write_all("/proc/self/setgroups", "deny", 4);
	if (ret < 0)
		return ret;
	len = id_map_line(line, uid, uid);
	ret = write_all("/proc/self/uid_map", line, len);
	if (ret < 0)
		return ret;
	len = id_map_line(line, gid, gid);
	return write_all("/proc/self/gid_map", line, len);
}

/*
 * The whole filesystem becomes one empty read-only tmpfs, mounted over
 * @dir in a mount namespace of our own: nothing of the host can be
 * named by path afterwards.
 */
static int empty_root(const char *dir)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	if (mount("vmctl-empty", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=4k,nr_inodes=2,mode=0") < 0)
		return -errno;
	if (chdir(dir) < 0)
		return -errno;
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return -errno;
	if (umount2(".", MNT_DETACH) < 0)
		return -errno;
	if (chdir("/") < 0)
		return -errno;
	/* read-only too: best effort, the tmpfs holds 4 KiB and no inode to spare */
	(void)mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	return 0;
}

/* Root leaves root: no groups, then gid, then uid (which clears the capabilities). */
static int become_nobody(void)
{
	if (setgroups(0, NULL) < 0)
		return -errno;
	if (setresgid(NOBODY, NOBODY, NOBODY) < 0)
		return -errno;
	if (setresuid(NOBODY, NOBODY, NOBODY) < 0)
		return -errno;
	return 0;
}

static void drop_capability_sets(void)
{
	int cap;

	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	/* needs CAP_SETPCAP, which a process without a namespace of its own lacks: then there is nothing to drop */
	for (cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL)
			break;
}

static int set_limit(int resource, rlim_t value)
{
	struct rlimit r = { .rlim_cur = value, .rlim_max = value };

	return setrlimit(resource, &r) < 0 ? -errno : 0;
}

/* No filesystem, no TCP, no signal or abstract socket outside the domain; the stub may be executed. */
static int landlock_guest(int abi, int stub_fd, unsigned int *layers)
{
	struct ll_ruleset_attr attr = { 0 };
	struct ll_path_beneath_attr stub = {
		.allowed_access = LL_FS_EXECUTE | LL_FS_READ_FILE,
		.parent_fd = stub_fd,
	};
	int ruleset, ret = 0;

	attr.handled_access_fs = ll_fs_rights(abi);
	if (abi >= 4)
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
	if (abi >= 6)
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, ll_attr_size(abi), 0);
	if (ruleset < 0)
		return -errno;
	if (syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &stub, 0) < 0 ||
	    syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
		ret = -errno;
	if (close(ruleset) < 0 && ret == 0)
		ret = -errno;
	if (ret == 0) {
		*layers |= CONFINE_LANDLOCK_FS;
		if (abi >= 4)
			*layers |= CONFINE_LANDLOCK_NET;
		if (abi >= 6)
			*layers |= CONFINE_LANDLOCK_SCOPE;
	}
	return ret;
}

/* The namespaces the guests join, made by a child of ours before the kernel confines itself. */
static const struct {
	int flag;
	const char *name;
} ns_kinds[NS_KINDS] = {
	[NS_USER] = { CLONE_NEWUSER, "user" },
	[NS_MNT] = { CLONE_NEWNS, "mnt" },
	[NS_NET] = { CLONE_NEWNET, "net" },
	[NS_IPC] = { CLONE_NEWIPC, "ipc" },
	[NS_UTS] = { CLONE_NEWUTS, "uts" },
};

/* The namespace maker: make them, say which, hold them until the parent's end of @hold closes. */
static void namespace_child(int ready, int hold, int hold_w, const char *mount_dir)
{
	const int others = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUTS;
	unsigned int layers = 0;
	char c;

	if (close(hold_w) < 0)
		_exit(1);

	if (geteuid() == 0) {
		/*
		 * Root makes them with its own privilege: they belong to the
		 * host's user namespace, where the guests (uid 65534) can
		 * change nothing of them.
		 */
		if (unshare(others) == 0)
			layers |= CONFINE_MOUNTNS | CONFINE_NETNS | CONFINE_IPCNS;
	} else if (unshare(CLONE_NEWUSER | others) == 0 && map_own_ids(getuid(), getgid()) == 0) {
		/*
		 * Anyone else needs a user namespace to make the others; it
		 * maps only the user's own ids, and the user is not root in
		 * it, so the guests' exec drops every capability it gives.
		 */
		layers |= CONFINE_USERNS | CONFINE_MOUNTNS | CONFINE_NETNS | CONFINE_IPCNS;
	}
	if ((layers & CONFINE_MOUNTNS) && empty_root(mount_dir) == 0)
		layers |= CONFINE_EMPTY_ROOT;
	if (write(ready, &layers, sizeof(layers)) != (ssize_t)sizeof(layers))
		_exit(1);
	if (read(hold, &c, 1) < 0)
		_exit(1);
	_exit(0);
}

/*
 * Make the namespaces the guests will live in, with their empty root,
 * and keep them as fds in @spec (-1 for those the host refused). This
 * comes before the kernel's own Landlock confinement, which forbids
 * mounting; the zygote, forked after it (so that the kernel may still
 * trace it), joins them with setns(2). Returns the layers made.
 */
unsigned int sandbox_namespaces(struct sandbox_spec *spec)
{
	int ready[2], hold[2], status, k;
	unsigned int layers = 0;
	pid_t pid;

	for (k = 0; k < NS_KINDS; k++)
		spec->ns_fd[k] = -1;
	if (pipe2(ready, O_CLOEXEC) < 0)
		return 0;
	if (pipe2(hold, O_CLOEXEC) < 0) {
		close(ready[0]);
		close(ready[1]);
		return 0;
	}
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		namespace_child(ready[1], hold[0], hold[1], spec->mount_dir);
	}
	close(ready[1]);
	close(hold[0]);
	if (pid > 0 && read(ready[0], &layers, sizeof(layers)) == (ssize_t)sizeof(layers)) {
		for (k = 0; k < NS_KINDS; k++) {
			char path[64];

			if (k == NS_USER && !(layers & CONFINE_USERNS))
				continue;
			if (k != NS_USER && !(layers & CONFINE_MOUNTNS))
				continue;
			snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ns_kinds[k].name);
			spec->ns_fd[k] = open(path, O_RDONLY | O_CLOEXEC);
			if (spec->ns_fd[k] < 0)
				layers = 0;
		}
	} else {
		layers = 0;
	}
	close(ready[0]);
	close(hold[1]);		/* the child's read returns: it goes */
	if (pid > 0)
		while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR)
			;
	if (!layers)
		for (k = 0; k < NS_KINDS; k++) {
			if (spec->ns_fd[k] >= 0)
				close(spec->ns_fd[k]);
			spec->ns_fd[k] = -1;
		}
	spec->ns_layers = layers;
	return layers;
}

int sandbox_zygote(const struct sandbox_spec *spec, int stub_fd, struct sandbox_report *rep)
{
	int root = geteuid() == 0;
	struct sock_filter insns[16];
	struct sock_fprog prog;
	unsigned short len;
	int abi, ret, k;

	rep->layers = 0;
	rep->failed_step = 0;
	rep->error = 0;

	/* host memory pressure ends guest processes first (proc(5), oom_score_adj) */
	(void)write_all("/proc/self/oom_score_adj", "1000", 4);

	/* the user namespace first: it gives the right to join the others (setns(2)) */
	for (k = 0; k < NS_KINDS; k++) {
		if (spec->ns_fd[k] >= 0 && setns(spec->ns_fd[k], ns_kinds[k].flag) < 0) {
			rep->failed_step = SANDBOX_STEP_NAMESPACES;
			rep->error = errno;
			return -1;
		}
	}
	rep->layers |= spec->ns_layers;
	/* setns(CLONE_NEWNS) moved root and cwd to the empty root: nothing else is in view */
	if (root) {
		/* while it may: without CAP_SETPCAP the bounding set stays */
		drop_capability_sets();
		ret = become_nobody();
		if (ret < 0) {
			rep->failed_step = SANDBOX_STEP_NOBODY;
			rep->error = -ret;
			return -1;
		}
		rep->layers |= CONFINE_NOT_ROOT;
		/* unmapped, it still gives the guests a process count of their own (ucounts) */
		if (unshare(CLONE_NEWUSER) == 0)
			rep->layers |= CONFINE_USERNS;
	}
	drop_capability_sets();

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		rep->failed_step = SANDBOX_STEP_NNP;
		rep->error = errno;
		return -1;
	}
	rep->layers |= CONFINE_NO_NEW_PRIVS;

	if (set_limit(RLIMIT_CORE, 0) == 0 && set_limit(RLIMIT_MEMLOCK, 0) == 0 &&
	    set_limit(RLIMIT_NOFILE, 64) == 0)
		rep->layers |= CONFINE_RLIMITS;
	if ((rep->layers & CONFINE_USERNS) && spec->pids_max > 0 &&
	    set_limit(RLIMIT_NPROC, (rlim_t)spec->pids_max + 16) == 0)
		rep->layers |= CONFINE_NPROC;

	abi = landlock_abi();
	if (abi > 0)
		(void)landlock_guest(abi, stub_fd, &rep->layers);

	ret = base_filter(insns, sizeof(insns) / sizeof(insns[0]), &len);
	if (ret < 0) {
		rep->failed_step = SANDBOX_STEP_SECCOMP;
		rep->error = -ret;
		return -1;
	}
	prog.len = len;
	prog.filter = insns;
	ret = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (ret < 0) {
		rep->failed_step = SANDBOX_STEP_SECCOMP;
		rep->error = errno;
		return -1;
	}
	rep->layers |= CONFINE_SECCOMP;
	return ret;
}

/*
 * vmctl's own kernel thread: Landlock lets it read and execute under
 * @ro and change anything under @rw, and nothing else. Landlock confines
 * the calling thread and what it creates (landlock_restrict_self(2)):
 * this is the thread that serves every guest syscall and makes every
 * host call for a guest; Node's helper threads started before it are
 * not confined. Returns the layers in force (CONFINE_KERNEL_LANDLOCK) or
 * -errno; 0 when the host has no Landlock.
 */
int sandbox_kernel(const char *const *ro, unsigned int nro, const char *const *rw, unsigned int nrw)
{
	int abi = landlock_abi();
	struct ll_ruleset_attr attr = { 0 };
	uint64_t all, read = LL_FS_EXECUTE | LL_FS_READ_FILE | LL_FS_READ_DIR;
	int ruleset, ret = 0;
	unsigned int i;

	if (abi <= 0)
		return 0;
	all = ll_fs_rights(abi);
	attr.handled_access_fs = all;
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr,
			       offsetof(struct ll_ruleset_attr, handled_access_net), 0);
	if (ruleset < 0)
		return -errno;
	for (i = 0; i < nro + nrw && ret == 0; i++) {
		const char *path = i < nro ? ro[i] : rw[i - nro];
		struct ll_path_beneath_attr rule = { 0 };
		struct stat st;
		int fd = open(path, O_PATH | O_CLOEXEC);

		if (fd < 0) {
			if (errno == ENOENT)
				continue;	/* nothing there to allow */
			ret = -errno;
			break;
		}
		rule.parent_fd = fd;
		rule.allowed_access = i < nro ? read : all;
		/* a file takes only the rights of files */
		if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
			rule.allowed_access &= LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE |
					       LL_FS_TRUNCATE | LL_FS_IOCTL_DEV;
		if (syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &rule, 0) < 0)
			ret = -errno;
		if (close(fd) < 0 && ret == 0)
			ret = -errno;
	}
	if (ret == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		ret = -errno;
	if (ret == 0 && syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
		ret = -errno;
	if (close(ruleset) < 0 && ret == 0)
		ret = -errno;
	return ret < 0 ? ret : (int)CONFINE_KERNEL_LANDLOCK;
}
