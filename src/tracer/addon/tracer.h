/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmctl tracer: the host side of the guest kernel.
 *
 * Everything here runs on the Node main thread, which is the ptracer of
 * every guest thread: ptrace requests are only valid from the thread that
 * attached, so the guest kernel (JavaScript) and the tracer share it.
 */
#ifndef VMCTL_TRACER_H
#define VMCTL_TRACER_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

/* How a tracee is stopped, as far as injection cares. */
enum stop_kind {
	STOP_NONE = 0,		/* running, or unknown */
	STOP_SYSEMU_ENTRY,	/* at a PTRACE_SYSEMU syscall-entry stop */
	STOP_SYSCALL_EXIT,	/* at a syscall-exit stop (after an injection) */
	STOP_SECCOMP,		/* at a PTRACE_EVENT_SECCOMP stop (accelerated mode) */
	STOP_OTHER,		/* event, group or signal-delivery stop */
};

/* What wait_event() reports; mirrored in src/platform/tracer-addon.ts. */
enum event_kind {
	EV_SYSCALL = 1,		/* syscall entry; regs valid */
	EV_EXITED = 2,		/* a = exit code */
	EV_KILLED = 3,		/* a = signal, b = core dumped */
	EV_SIGNAL = 4,		/* signal-delivery stop; a = sig, b = si_code,
				 * c/d = si_addr lo/hi */
	EV_STOPPED = 5,		/* any other stop (event, group); a = status>>8 */
	EV_INTERRUPTED = 6,	/* the event loop has work; no tracee event */
	EV_NOCHILD = 7,		/* nothing left to wait for */
};

struct tracer_event {
	int32_t kind;
	int32_t tid;
	int32_t a, b, c, d;
};

/* What tracer_count() counts; mirrored in src/platform/tracer-addon.ts. */
enum count_kind {
	COUNT_GUEST_STOPS,	/* stops and ends of guest threads reported */
	COUNT_INJECTIONS,	/* host system calls injected into a guest */
	COUNT_INJECT_STOPS,	/* the stops those took */
	COUNT_BATCHES,		/* stub batches run */
	COUNT_BATCH_STOPS,	/* the stops those took */
	COUNT_HELPER_ROUNDTRIPS, /* stops returned by the helper's round trip */
	COUNT_HELPER_MM_BATCHES, /* the helper's address-space batches */
	COUNT_FDS_PASSED,	/* files handed to guest processes (SECCOMP_IOCTL_NOTIF_ADDFD) */
	COUNT_KINDS,
};

/*
 * The instruction pointer of the kernel's notification calls: in the
 * kernel half of the address space, where no user instruction runs, so
 * that only the tracer (which sets it at a syscall-entry stop) can make
 * a syscall that has it (seccomp_filter.c).
 */
#define GUEST_NOTIFY_IP 0xffffffffffff0000ULL

/* The namespaces guests join, by kind. */
enum { NS_USER, NS_MNT, NS_NET, NS_IPC, NS_UTS, NS_KINDS };

/* What sandbox_zygote() is told (sandbox.c). */
struct sandbox_spec {
	const char *mount_dir;	/* an existing directory to mount the empty root over */
	int pids_max;		/* the guest's --pids-max: the host process limit just above it */
	int ns_fd[NS_KINDS];	/* sandbox_namespaces(): the namespaces to join, -1 for none */
	unsigned int ns_layers;	/* ... and the CONFINE_* layers they make */
};

/* Layers of confinement in force (bits), for guests and for the kernel. */
#define CONFINE_NO_NEW_PRIVS	(1U << 0)
#define CONFINE_NOT_ROOT	(1U << 1)	/* vmctl is root; guests are uid/gid 65534 */
#define CONFINE_USERNS		(1U << 2)
#define CONFINE_MOUNTNS		(1U << 3)
#define CONFINE_EMPTY_ROOT	(1U << 4)
#define CONFINE_NETNS		(1U << 5)
#define CONFINE_IPCNS		(1U << 6)
#define CONFINE_LANDLOCK_FS	(1U << 7)
#define CONFINE_LANDLOCK_NET	(1U << 8)
#define CONFINE_LANDLOCK_SCOPE	(1U << 9)
#define CONFINE_RLIMITS		(1U << 10)
#define CONFINE_NPROC		(1U << 11)
#define CONFINE_SECCOMP		(1U << 12)
#define CONFINE_NO_CAPS		(1U << 13)	/* seen in the zygote's /proc status after exec */
#define CONFINE_KERNEL_LANDLOCK	(1U << 14)

enum sandbox_step {
	SANDBOX_STEP_NONE,
	SANDBOX_STEP_NAMESPACES,
	SANDBOX_STEP_NOBODY,
	SANDBOX_STEP_NNP,
	SANDBOX_STEP_SECCOMP,
	SANDBOX_STEP_EXEC,
};

/* What the zygote's child reports before it execs. */
struct sandbox_report {
	unsigned int layers;
	int failed_step;	/* enum sandbox_step; SANDBOX_STEP_NONE: all required steps held */
	int error;		/* errno of the failed step */
};

/* sandbox.c */
unsigned int sandbox_namespaces(struct sandbox_spec *spec);
int sandbox_zygote(const struct sandbox_spec *spec, int stub_fd, struct sandbox_report *rep);
int sandbox_kernel(const char *const *ro, unsigned int nro, const char *const *rw, unsigned int nrw);
int landlock_abi(void);

/* ptrace_ops.c */
int tracer_spawn_zygote(const char *stub_path, int accelerated, const struct sandbox_spec *spec,
			pid_t *zygote, unsigned int *layers, char *err, size_t errlen);
uint64_t tracer_stub_page(void);
int tracer_wait(struct tracer_event *ev, struct user_regs_struct *regs);
int tracer_resume(pid_t tid, const struct user_regs_struct *regs, int sig);
long tracer_inject(pid_t tid, long nr, const uint64_t a[6], pid_t *child);
int tracer_inject_fds(pid_t tid, const int *kernel_fds, int n, int first_fd);
int tracer_batch(pid_t tid, uint64_t batch_rip, uint64_t table, long count,
		 long *result);
int tracer_adopt(pid_t child);
void tracer_set_stop(pid_t tid, enum stop_kind kind);
void tracer_regs_changed(pid_t tid);
void tracer_note_resumed(pid_t tid);
void tracer_forget(pid_t tid);
void tracer_flush_deferred(void);
unsigned long tracer_round_trips(void);
unsigned long tracer_count(enum count_kind kind);
int tracer_placement_init(void);
int tracer_placement_pin(pid_t tid);

/* helper.c: the host helper patch, where the host kernel has it */
#define HELPER_HAVE_ROUNDTRIP	(1 << 0)
#define HELPER_HAVE_MM_BATCH	(1 << 1)
#define HELPER_USE_ROUNDTRIP	(1 << 2)
#define HELPER_USE_MM_BATCH	(1 << 3)
struct ptrace_vmctl_mm_op;
void helper_probe(pid_t stopped, int enable);
unsigned int helper_status(void);
int helper_roundtrip_enabled(int seccomp);
unsigned long helper_roundtrips(void);
unsigned long helper_mm_batches(void);
int helper_roundtrip(pid_t tid, int seccomp, struct user_regs_struct *regs,
		     int *status, int *have_regs);
long helper_mm_batch(pid_t tid, struct ptrace_vmctl_mm_op *ops, unsigned int nr);

/* debug_ops.c: the gdb stub's single-step */
int tracer_step(pid_t tid, const struct user_regs_struct *regs, int emulate);

/* seccomp_filter.c */
struct sock_filter;
int base_filter(struct sock_filter *ins, unsigned int cap, unsigned short *len);
int mode_filter(struct sock_filter *ins, unsigned int cap, unsigned short *len,
		int accelerated, uint64_t stub_lo, uint64_t stub_hi);

/* wakeup.c */
int wakeup_init(int uv_fd, char *err, size_t errlen);
void wakeup_arm(long long deadline);
void wakeup_disarm(void);
int wakeup_take_pending(void);

/* terminal.c */
int terminal_save(int fd);
int terminal_restore(void);

/* dirents.c */
int read_dirents_fd(int fd, char **out, size_t *out_len);

/* layer_ops.c: the overlay layers' host operations, as addon exports */
struct napi_env__;
struct napi_value__;
int layer_ops_register(struct napi_env__ *env, struct napi_value__ *exports);

/* file_io.c */
ssize_t guest_copy(pid_t pid, uint64_t addr, void *buf, size_t len, int to_guest);
long guest_poke(pid_t pid, uint64_t addr, const void *buf, size_t len);
long file_to_guest(int fd, uint64_t pos, pid_t pid, uint64_t addr, size_t len);
long guest_to_file(int fd, uint64_t pos, pid_t pid, uint64_t addr, size_t len);

#endif
