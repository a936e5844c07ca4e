// SPDX-License-Identifier: GPL-2.0-only
/*
 * Node-API bindings of the tracer. Each function is a thin, synchronous
 * wrapper: registers and events travel through typed arrays shared with
 * JavaScript once at init, so a guest syscall costs no allocation here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/ptrace.h>
#include <node_api.h>

#include "ptrace-vmctl.h"
#include "tracer.h"

/* libuv, as exported by the node binary; uv.h is not needed for one call */
struct uv_loop_s;
int uv_backend_fd(const struct uv_loop_s *loop);

static struct uv_loop_s *uv_loop;
static struct user_regs_struct *shared_regs;
static struct tracer_event *shared_event;
static int32_t *shared_aux;
static struct user_regs_struct *shared_resume_regs;
static napi_ref shared_refs[4];
static bool guest_accelerated;

#define CHECK(env, call)						\
	do {								\
		if ((call) != napi_ok) {				\
			napi_throw_error(env, NULL, "vmctl tracer: " #call " failed"); \
			return NULL;					\
		}							\
	} while (0)

static napi_value make_int(napi_env env, int64_t v)
{
	napi_value r;

	if (napi_create_double(env, (double)v, &r) != napi_ok)
		return NULL;
	return r;
}

static int get_args(napi_env env, napi_callback_info info, size_t want,
		    napi_value *argv)
{
	size_t argc = want;

	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)
		return -1;
	if (argc < want) {
		napi_throw_type_error(env, NULL, "vmctl tracer: too few arguments");
		return -1;
	}
	return 0;
}

static int arg_i32(napi_env env, napi_value v, int32_t *out)
{
	if (napi_get_value_int32(env, v, out) != napi_ok) {
		napi_throw_type_error(env, NULL, "vmctl tracer: expected a number");
		return -1;
	}
	return 0;
}

/* JS numbers carry 64-bit register values: -1 must become ~0. */
static int arg_u64(napi_env env, napi_value v, uint64_t *out)
{
	double d;

	if (napi_get_value_double(env, v, &d) != napi_ok) {
		napi_throw_type_error(env, NULL, "vmctl tracer: expected a number");
		return -1;
	}
	if (d >= 9223372036854775807.0)
		*out = (uint64_t)d;
	else
		*out = (uint64_t)(int64_t)d;
	return 0;
}

static int arg_bytes(napi_env env, napi_value v, void **data, size_t *len)
{
	napi_typedarray_type type;
	napi_value ab;
	size_t off;

	if (napi_get_typedarray_info(env, v, &type, len, data, &ab, &off) != napi_ok) {
		napi_throw_type_error(env, NULL, "vmctl tracer: expected a typed array");
		return -1;
	}
	if (type != napi_uint8_array && type != napi_int32_array) {
		napi_throw_type_error(env, NULL, "vmctl tracer: expected Uint8Array or Int32Array");
		return -1;
	}
	if (type == napi_int32_array)
		*len *= 4;
	return 0;
}

/* The data of a typed array JavaScript shares for good, of at least @min bytes; NULL (thrown) if not. */
static void *shared_array(napi_env env, napi_value v, size_t min)
{
	size_t len;
	void *data;

	if (arg_bytes(env, v, &data, &len) < 0)
		return NULL;
	if (len < min) {
		napi_throw_range_error(env, NULL, "vmctl tracer: shared buffer too small");
		return NULL;
	}
	return data;
}

/* A JS array of strings as C strings in @buf, pointers in @ptrs; -1 (thrown) on error. */
static int string_array(napi_env env, napi_value arr, const char **ptrs, unsigned int max,
			unsigned int *n, char *buf, size_t buflen)
{
	uint32_t len, i;
	size_t used = 0;

	if (napi_get_array_length(env, arr, &len) != napi_ok || len > max) {
		napi_throw_type_error(env, NULL, "vmctl tracer: expected an array of at most 64 paths");
		return -1;
	}
	for (i = 0; i < len; i++) {
		napi_value e;
		size_t got;

		if (napi_get_element(env, arr, i, &e) != napi_ok ||
		    napi_get_value_string_utf8(env, e, buf + used, buflen - used, &got) != napi_ok ||
		    used + got + 1 >= buflen) {
			napi_throw_type_error(env, NULL, "vmctl tracer: bad path list");
			return -1;
		}
		ptrs[i] = buf + used;
		used += got + 1;
	}
	*n = len;
	return 0;
}

/*
 * init(stubPath, regs: Int32Array(54), event: Int32Array(6), aux: Int32Array(8),
 *      resumeRegs: Int32Array(54), accelerated: boolean, helper: boolean,
 *      mountDir: string, pidsMax: number, kernelRo: string[] | null,
 *      kernelRw: string[] | null) -> zygote pid
 * @regs: the registers of each event; @resumeRegs: those resume() sets.
 * @helper: use the host helper patch where the host kernel has it.
 * @mountDir, @pidsMax: the guests' confinement (struct sandbox_spec).
 * @kernelRo, @kernelRw: where this thread may read, and write, once it
 * confines itself with Landlock (sandbox.c); null: it does not.
 * In that order: the guests' namespaces, this thread's confinement, the
 * zygote (which must come after it, to stay traceable, and joins them).
 */
static unsigned int confined_layers;

static napi_value js_init(napi_env env, napi_callback_info info)
{
	static char robuf[32 * 1024], rwbuf[32 * 1024];
	static const char *ro[64], *rw[64];
	napi_value argv[11];
	napi_valuetype type;
	char path[4096], mount_dir[4096], err[512];
	struct sandbox_spec spec;
	bool accel = false, helper = false, confine = false;
	unsigned int nro = 0, nrw = 0, guest_layers = 0;
	char oom_old[16];
	ssize_t oom_len;
	int oom_fd;
	int32_t pids_max;
	size_t len;
	pid_t zygote;
	int i, ret;

	if (get_args(env, info, 11, argv) < 0)
		return NULL;
	CHECK(env, napi_get_value_bool(env, argv[5], &accel));
	CHECK(env, napi_get_value_bool(env, argv[6], &helper));
	CHECK(env, napi_get_value_string_utf8(env, argv[0], path, sizeof(path), &len));
	CHECK(env, napi_get_value_string_utf8(env, argv[7], mount_dir, sizeof(mount_dir), &len));
	if (arg_i32(env, argv[8], &pids_max) < 0)
		return NULL;
	CHECK(env, napi_typeof(env, argv[9], &type));
	if (type == napi_object) {
		confine = true;
		if (string_array(env, argv[9], ro, 64, &nro, robuf, sizeof(robuf)) < 0 ||
		    string_array(env, argv[10], rw, 64, &nrw, rwbuf, sizeof(rwbuf)) < 0)
			return NULL;
	}
	shared_regs = shared_array(env, argv[1], sizeof(*shared_regs));
	shared_event = shared_array(env, argv[2], sizeof(*shared_event));
	shared_aux = shared_array(env, argv[3], 8 * sizeof(*shared_aux));
	shared_resume_regs = shared_array(env, argv[4], sizeof(*shared_resume_regs));
	if (!shared_regs || !shared_event || !shared_aux || !shared_resume_regs)
		return NULL;
	/* keep the shared arrays alive for as long as the addon is */
	for (i = 0; i < 4; i++)
		CHECK(env, napi_create_reference(env, argv[i + 1], 1, &shared_refs[i]));
	CHECK(env, napi_get_uv_event_loop(env, &uv_loop));
	if (wakeup_init(uv_backend_fd(uv_loop), err, sizeof(err)) < 0) {
		napi_throw_error(env, NULL, err);
		return NULL;
	}
	spec.mount_dir = mount_dir;
	spec.pids_max = pids_max;
	(void)sandbox_namespaces(&spec);
	/*
	 * Guests get the highest OOM score. A confined zygote may not write
	 * /proc, so it inherits the score from this process, which raises its
	 * own for the fork and then lowers it back (an unprivileged process
	 * may go back down to where it started: proc(5)), through an fd it
	 * opens before confining itself.
	 */
	oom_fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
	oom_len = oom_fd < 0 ? -1 : pread(oom_fd, oom_old, sizeof(oom_old), 0);
	if (confine) {
		ret = sandbox_kernel(ro, nro, rw, nrw);
		if (ret < 0) {
			snprintf(err, sizeof(err), "vmctl could not confine its kernel with Landlock: %s", strerror(-ret));
			napi_throw_error(env, NULL, err);
			return NULL;
		}
		confined_layers |= (unsigned int)ret;
	}
	if (oom_len > 0 && pwrite(oom_fd, "1000", 4, 0) != 4)
		oom_len = -1;
	ret = tracer_spawn_zygote(path, accel, &spec, &zygote, &guest_layers, err, sizeof(err));
	if (oom_len > 0 && pwrite(oom_fd, oom_old, (size_t)oom_len, 0) != oom_len)
		fprintf(stderr, "vmctl: could not restore its own OOM score: %s\n", strerror(errno));
	if (oom_fd >= 0)
		close(oom_fd);
	for (i = 0; i < NS_KINDS; i++)
		if (spec.ns_fd[i] >= 0)
			close(spec.ns_fd[i]);
	if (ret < 0) {
		napi_throw_error(env, NULL, err);
		return NULL;
	}
	confined_layers |= guest_layers;
	guest_accelerated = accel;
	helper_probe(zygote, helper);
	/*
	 * After the zygote: guests start with every CPU. Best effort: without
	 * placement guests still run, only slower.
	 */
	if (!getenv("VMCTL_NO_PLACEMENT") && tracer_placement_init() == 0)
		(void)tracer_placement_pin(zygote);
	return make_int(env, zygote);
}

/* containment() -> [stub page address, CONFINE_* layers of the guests] */
static napi_value js_containment(napi_env env, napi_callback_info info)
{
	napi_value out, v;

	(void)info;
	CHECK(env, napi_create_array_with_length(env, 2, &out));
	CHECK(env, napi_create_double(env, (double)tracer_stub_page(), &v));
	CHECK(env, napi_set_element(env, out, 0, v));
	CHECK(env, napi_create_uint32(env, confined_layers, &v));
	CHECK(env, napi_set_element(env, out, 1, v));
	return out;
}

/*
 * wait(deadline) -> event kind; fills the shared event and regs.
 * @deadline: the guest kernel's next timer, CLOCK_MONOTONIC ms (-1: none).
 * libuv's own timers are not consulted: the kernel keeps its timers itself
 * and the loop's idle handles would make libuv's timeout always zero here.
 */
static napi_value js_wait(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	uint64_t deadline;
	int ret;

	if (get_args(env, info, 1, argv) < 0 || arg_u64(env, argv[0], &deadline) < 0)
		return NULL;
	wakeup_arm((long long)deadline);
	ret = tracer_wait(shared_event, shared_regs);
	if (ret < 0)
		return make_int(env, ret);
	return make_int(env, shared_event->kind);
}

/* idle(): the kernel returns to the event loop with no guest running */
static napi_value js_idle(napi_env env, napi_callback_info info)
{
	(void)env;
	(void)info;
	tracer_flush_deferred();
	wakeup_disarm();
	return NULL;
}

/*
 * resume(tid, sig) -> 0 | -errno, with the registers of the shared
 * resumeRegs array: one call per guest syscall, so no typed array is
 * looked into here.
 */
static napi_value js_resume(napi_env env, napi_callback_info info)
{
	napi_value argv[2];
	int32_t tid, sig;

	if (get_args(env, info, 2, argv) < 0 || arg_i32(env, argv[0], &tid) < 0 ||
	    arg_i32(env, argv[1], &sig) < 0)
		return NULL;
	return make_int(env, tracer_resume(tid, shared_resume_regs, sig));
}


/* inject(tid, nr, a0..a5) -> result, through the stub page; a new child's pid in aux[0] */
static napi_value js_inject(napi_env env, napi_callback_info info)
{
	napi_value argv[8];
	uint64_t nr, a[6];
	int32_t tid;
	pid_t child = 0;
	long ret;
	int i;

	if (get_args(env, info, 8, argv) < 0 || arg_i32(env, argv[0], &tid) < 0 ||
	    arg_u64(env, argv[1], &nr) < 0)
		return NULL;
	for (i = 0; i < 6; i++)
		if (arg_u64(env, argv[2 + i], &a[i]) < 0)
			return NULL;
	tracer_flush_deferred();
	ret = tracer_inject(tid, (long)nr, a, &child);
	shared_aux[0] = child;
	return make_int(env, ret);
}

/*
 * injectFds(tid, kernelFds: Int32Array, firstFd) -> first new fd | -errno:
 * the kernel's files into a guest's host process (SECCOMP_IOCTL_NOTIF_ADDFD),
 * at firstFd and on, or the lowest free numbers when firstFd < 0.
 */
static napi_value js_inject_fds(napi_env env, napi_callback_info info)
{
	napi_value argv[3];
	int32_t tid, first;
	void *data;
	size_t len;

	if (get_args(env, info, 3, argv) < 0 || arg_i32(env, argv[0], &tid) < 0 ||
	    arg_bytes(env, argv[1], &data, &len) < 0 || arg_i32(env, argv[2], &first) < 0)
		return NULL;
	tracer_flush_deferred();
	return make_int(env, tracer_inject_fds(tid, data, (int)(len / sizeof(int32_t)), first));
}

/* step(tid, regs: Int32Array, emulate) -> 0 | -errno: one instruction, for gdb */
static napi_value js_step(napi_env env, napi_callback_info info)
{
	napi_value argv[3];
	int32_t tid, emulate;
	void *regs;
	size_t len;

	if (get_args(env, info, 3, argv) < 0 || arg_i32(env, argv[0], &tid) < 0 ||
	    arg_bytes(env, argv[1], &regs, &len) < 0 || arg_i32(env, argv[2], &emulate) < 0)
		return NULL;
	if (len < sizeof(struct user_regs_struct)) {
		napi_throw_range_error(env, NULL, "vmctl tracer: regs buffer too small");
		return NULL;
	}
	tracer_flush_deferred();
	return make_int(env, tracer_step(tid, regs, emulate));
}

/*
 * batch(tid, batchRip, table, count) -> calls done | -errno; the result of
 * the call that failed (or of the last one) in aux[1] (low) and aux[2]
 */
static napi_value js_batch(napi_env env, napi_callback_info info)
{
	napi_value argv[4];
	uint64_t rip, table, count;
	int32_t tid;
	long result = 0;
	int done;

	if (get_args(env, info, 4, argv) < 0 || arg_i32(env, argv[0], &tid) < 0 ||
	    arg_u64(env, argv[1], &rip) < 0 || arg_u64(env, argv[2], &table) < 0 ||
	    arg_u64(env, argv[3], &count) < 0)
		return NULL;
	tracer_flush_deferred();
	done = tracer_batch(tid, rip, table, (long)count, &result);
	shared_aux[1] = (int32_t)(uint32_t)(uint64_t)result;
	shared_aux[2] = (int32_t)(uint32_t)((uint64_t)result >> 32);
	return make_int(env, done);
}

/* adopt(pid) -> 0 | -errno: the first stop of a child a batch's clone made */
static napi_value js_adopt(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	int32_t pid;

	if (get_args(env, info, 1, argv) < 0 || arg_i32(env, argv[0], &pid) < 0)
		return NULL;
	tracer_flush_deferred();
	return make_int(env, tracer_adopt(pid));
}

/*
 * guestFilter() -> Uint8Array: the struct sock_filter program of this
 * boot's mode, which a fresh process installs last (seccomp_filter.c)
 */
static napi_value js_guest_filter(napi_env env, napi_callback_info info)
{
	struct sock_filter insns[256];
	unsigned short len;
	napi_value ab, out;
	uint64_t stub = tracer_stub_page();
	void *data;
	int ret;

	(void)info;
	ret = mode_filter(insns, sizeof(insns) / sizeof(insns[0]), &len, guest_accelerated, stub, stub + 4096);
	if (ret < 0) {
		napi_throw_error(env, NULL, "vmctl tracer: the guest seccomp filter does not assemble");
		return NULL;
	}
	CHECK(env, napi_create_arraybuffer(env, len * sizeof(*insns), &data, &ab));
	memcpy(data, insns, len * sizeof(*insns));
	CHECK(env, napi_create_typedarray(env, napi_uint8_array, len * sizeof(*insns), ab, 0, &out));
	return out;
}

static napi_value regs_op(napi_env env, napi_callback_info info, int req)
{
	napi_value argv[2];
	int32_t tid;
	size_t len, need;
	void *buf;

	if (get_args(env, info, 2, argv) < 0 || arg_i32(env, argv[0], &tid) < 0 ||
	    arg_bytes(env, argv[1], &buf, &len) < 0)
		return NULL;
	need = (req == PTRACE_GETREGS || req == PTRACE_SETREGS) ?
		sizeof(struct user_regs_struct) : sizeof(struct user_fpregs_struct);
	if (len < need) {
		napi_throw_range_error(env, NULL, "vmctl tracer: register buffer too small");
		return NULL;
	}
	tracer_flush_deferred();
	if (req == PTRACE_SETREGS)
		tracer_regs_changed(tid);
	if (ptrace(req, tid, 0, buf) < 0)
		return make_int(env, -errno);
	return make_int(env, 0);
}

static napi_value js_get_regs(napi_env env, napi_callback_info info)
{
	return regs_op(env, info, PTRACE_GETREGS);
}

static napi_value js_set_regs(napi_env env, napi_callback_info info)
{
	return regs_op(env, info, PTRACE_SETREGS);
}

static napi_value js_get_fpregs(napi_env env, napi_callback_info info)
{
	return regs_op(env, info, PTRACE_GETFPREGS);
}

static napi_value js_set_fpregs(napi_env env, napi_callback_info info)
{
	return regs_op(env, info, PTRACE_SETFPREGS);
}

/*
 * mem(op, pid, addr, buf, off, len) -> bytes moved | -errno
 * op 0: read, 1: write (process_vm_readv/writev: honours page protection,
 * as a guest's own access would), 2: forced write through /proc/pid/mem
 * (the kernel writing into read-only text, e.g. a breakpoint or relocation).
 */
static napi_value js_mem(napi_env env, napi_callback_info info)
{
	napi_value argv[6];
	int32_t op, pid, off, n;
	uint64_t addr;
	size_t len;
	void *buf;
	ssize_t r;

	if (get_args(env, info, 6, argv) < 0 || arg_i32(env, argv[0], &op) < 0 ||
	    arg_i32(env, argv[1], &pid) < 0 || arg_u64(env, argv[2], &addr) < 0 ||
	    arg_bytes(env, argv[3], &buf, &len) < 0 || arg_i32(env, argv[4], &off) < 0 ||
	    arg_i32(env, argv[5], &n) < 0)
		return NULL;
	if (off < 0 || n < 0 || (size_t)off + (size_t)n > len) {
		napi_throw_range_error(env, NULL, "vmctl tracer: buffer range out of bounds");
		return NULL;
	}
	if (n == 0)
		return make_int(env, 0);
	if (op == 0 || op == 1)
		r = guest_copy(pid, addr, (char *)buf + off, (size_t)n, op == 1);
	else
		return make_int(env, guest_poke(pid, addr, (char *)buf + off, (size_t)n));
	return make_int(env, r < 0 ? -errno : r);
}

/*
 * readv(pid, ranges: Float64Array, count, buf) -> bytes read | -errno:
 * @count ranges of @pid's memory (address, length pairs) read one after
 * the other into @buf in one process_vm_readv. A range that cannot be
 * read ends the copy there (the count says how far it got).
 */
static napi_value js_readv(napi_env env, napi_callback_info info)
{
	struct iovec local, remote[IOV_MAX];
	napi_value argv[4];
	napi_typedarray_type type;
	int32_t pid, count, i;
	size_t len, nranges, off, total = 0;
	napi_value ab;
	double *ranges;
	void *buf;
	ssize_t r;

	if (get_args(env, info, 4, argv) < 0 || arg_i32(env, argv[0], &pid) < 0 ||
	    arg_i32(env, argv[2], &count) < 0 || arg_bytes(env, argv[3], &buf, &len) < 0)
		return NULL;
	CHECK(env, napi_get_typedarray_info(env, argv[1], &type, &nranges, (void **)&ranges, &ab, &off));
	if (type != napi_float64_array || count < 0 || count > IOV_MAX || (size_t)count * 2 > nranges) {
		napi_throw_range_error(env, NULL, "vmctl tracer: bad readv ranges");
		return NULL;
	}
	for (i = 0; i < count; i++) {
		remote[i].iov_base = (void *)(uintptr_t)(uint64_t)ranges[2 * i];
		remote[i].iov_len = (size_t)ranges[2 * i + 1];
		total += remote[i].iov_len;
	}
	if (total > len) {
		napi_throw_range_error(env, NULL, "vmctl tracer: readv buffer too small");
		return NULL;
	}
	if (total == 0)
		return make_int(env, 0);
	local.iov_base = buf;
	local.iov_len = total;
	r = process_vm_readv(pid, &local, 1, remote, (unsigned long)count, 0);
	return make_int(env, r < 0 ? -errno : r);
}

/* signal(op, tgid, tid, sig): 0 kill, 1 tgkill, 2 PTRACE_INTERRUPT -> 0 | -errno */
static napi_value js_signal(napi_env env, napi_callback_info info)
{
	napi_value argv[4];
	int32_t op, tgid, tid, sig;
	long r;

	if (get_args(env, info, 4, argv) < 0 || arg_i32(env, argv[0], &op) < 0 ||
	    arg_i32(env, argv[1], &tgid) < 0 || arg_i32(env, argv[2], &tid) < 0 ||
	    arg_i32(env, argv[3], &sig) < 0)
		return NULL;
	tracer_flush_deferred();
	if (op == 0)
		r = kill(tgid, sig);
	else if (op == 1)
		r = syscall(SYS_tgkill, tgid, tid, sig);
	else
		r = ptrace(PTRACE_INTERRUPT, tid, 0, 0);
	return make_int(env, r < 0 ? -errno : 0);
}

/* memfd(name) -> fd | -errno: backing store of tmpfs files, mappable by guests */
static napi_value js_memfd(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	char name[256];
	size_t len;
	int fd;

	if (get_args(env, info, 1, argv) < 0)
		return NULL;
	CHECK(env, napi_get_value_string_utf8(env, argv[0], name, sizeof(name), &len));
	fd = memfd_create(name, MFD_CLOEXEC);
	return make_int(env, fd < 0 ? -errno : fd);
}

/* poll(fd, events, timeoutMs) -> revents | -errno: waits out EAGAIN on host stdio */
static napi_value js_poll(napi_env env, napi_callback_info info)
{
	napi_value argv[3];
	int32_t fd, events, timeout;
	struct pollfd p;
	int r;

	if (get_args(env, info, 3, argv) < 0 || arg_i32(env, argv[0], &fd) < 0 ||
	    arg_i32(env, argv[1], &events) < 0 || arg_i32(env, argv[2], &timeout) < 0)
		return NULL;
	p.fd = fd;
	p.events = (short)events;
	p.revents = 0;
	do {
		r = poll(&p, 1, timeout);
	} while (r < 0 && errno == EINTR);
	return make_int(env, r < 0 ? -errno : p.revents);
}

/* forget(tid): a tracee the kernel has reaped by other means */
static napi_value js_forget(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	int32_t tid;

	if (get_args(env, info, 1, argv) < 0 || arg_i32(env, argv[0], &tid) < 0)
		return NULL;
	tracer_forget(tid);
	return NULL;
}

/* terminalSave(fd) / terminalRestore() -> 0 | -errno */
static napi_value js_terminal_save(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	int32_t fd;

	if (get_args(env, info, 1, argv) < 0 || arg_i32(env, argv[0], &fd) < 0)
		return NULL;
	return make_int(env, terminal_save(fd));
}

static napi_value js_terminal_restore(napi_env env, napi_callback_info info)
{
	(void)info;
	return make_int(env, terminal_restore());
}

static napi_value js_round_trips(napi_env env, napi_callback_info info)
{
	(void)info;
	return make_int(env, (int64_t)tracer_round_trips());
}

/*
 * mmBatch(tid, ops: Uint8Array, count, data: Uint8Array[]) -> done | -errno
 * @ops holds @count struct ptrace_vmctl_mm_op; the buf of a WRITE is an
 * index into @data, replaced here by the address of those bytes.
 */
static napi_value js_mm_batch(napi_env env, napi_callback_info info)
{
	struct ptrace_vmctl_mm_op *ops;
	napi_value argv[4], elem;
	uint32_t i, n_data;
	int32_t tid, count;
	size_t len, dlen;
	void *buf, *data;

	if (get_args(env, info, 4, argv) < 0 || arg_i32(env, argv[0], &tid) < 0 ||
	    arg_bytes(env, argv[1], &buf, &len) < 0 || arg_i32(env, argv[2], &count) < 0)
		return NULL;
	CHECK(env, napi_get_array_length(env, argv[3], &n_data));
	if (count < 0 || (size_t)count * sizeof(*ops) > len ||
	    ((uintptr_t)buf % _Alignof(struct ptrace_vmctl_mm_op))) {
		napi_throw_range_error(env, NULL, "vmctl tracer: bad mm batch buffer");
		return NULL;
	}
	ops = buf;
	for (i = 0; i < (uint32_t)count; i++) {
		if (ops[i].op != PTRACE_VMCTL_MM_WRITE)
			continue;
		if (ops[i].buf >= n_data) {
			napi_throw_range_error(env, NULL, "vmctl tracer: mm batch write without data");
			return NULL;
		}
		CHECK(env, napi_get_element(env, argv[3], (uint32_t)ops[i].buf, &elem));
		if (arg_bytes(env, elem, &data, &dlen) < 0)
			return NULL;
		if (dlen < ops[i].len) {
			napi_throw_range_error(env, NULL, "vmctl tracer: mm batch write longer than its data");
			return NULL;
		}
		ops[i].buf = (uint64_t)(uintptr_t)data;
	}
	tracer_flush_deferred();
	return make_int(env, helper_mm_batch(tid, ops, (unsigned int)count));
}

/* count(kind) -> tracer_count(kind): round trips by kind */
static napi_value js_count(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	int32_t kind;

	if (get_args(env, info, 1, argv) < 0 || arg_i32(env, argv[0], &kind) < 0)
		return NULL;
	return make_int(env, kind < 0 ? 0 : (int64_t)tracer_count((enum count_kind)kind));
}

/* helperStatus() -> HELPER_* bits: what the host offers and what is used */
static napi_value js_helper_status(napi_env env, napi_callback_info info)
{
	(void)info;
	return make_int(env, helper_status());
}

/*
 * fileIo(op, fd, pos, pid, addr, len) -> bytes moved | -errno: op 0 reads
 * the host file into guest memory (read(2)), op 1 writes guest memory
 * into it (write(2)); see file_io.c.
 */
static napi_value js_file_io(napi_env env, napi_callback_info info)
{
	napi_value argv[6];
	int32_t op, fd, pid, len;
	uint64_t pos, addr;

	if (get_args(env, info, 6, argv) < 0 || arg_i32(env, argv[0], &op) < 0 ||
	    arg_i32(env, argv[1], &fd) < 0 || arg_u64(env, argv[2], &pos) < 0 ||
	    arg_i32(env, argv[3], &pid) < 0 || arg_u64(env, argv[4], &addr) < 0 ||
	    arg_i32(env, argv[5], &len) < 0)
		return NULL;
	if (len <= 0)
		return make_int(env, len < 0 ? -EINVAL : 0);
	if (op == 0)
		return make_int(env, file_to_guest(fd, pos, pid, addr, (size_t)len));
	return make_int(env, guest_to_file(fd, pos, pid, addr, (size_t)len));
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */)
{
	static const struct {
		const char *name;
		napi_callback cb;
	} fns[] = {
		{ "init", js_init },
		{ "wait", js_wait },
		{ "idle", js_idle },
		{ "resume", js_resume },
		{ "inject", js_inject },
		{ "injectFds", js_inject_fds },
		{ "containment", js_containment },
		{ "batch", js_batch },
		{ "adopt", js_adopt },
		{ "guestFilter", js_guest_filter },
		{ "step", js_step },
		{ "getRegs", js_get_regs },
		{ "setRegs", js_set_regs },
		{ "getFpRegs", js_get_fpregs },
		{ "setFpRegs", js_set_fpregs },
		{ "mem", js_mem },
		{ "readv", js_readv },
		{ "signal", js_signal },
		{ "memfd", js_memfd },
		{ "poll", js_poll },
		{ "forget", js_forget },
		{ "roundTrips", js_round_trips },
		{ "mmBatch", js_mm_batch },
		{ "helperStatus", js_helper_status },
		{ "count", js_count },
		{ "terminalSave", js_terminal_save },
		{ "terminalRestore", js_terminal_restore },
		{ "fileIo", js_file_io },
	};
	napi_value fn;
	size_t i;

	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH,
					 fns[i].cb, NULL, &fn) != napi_ok ||
		    napi_set_named_property(env, exports, fns[i].name, fn) != napi_ok)
			return NULL;
	}
	if (layer_ops_register(env, exports) < 0)
		return NULL;
	return exports;
}
