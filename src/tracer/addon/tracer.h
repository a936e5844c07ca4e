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
	COUNT_KINDS,
};

/* ptrace_ops.c */
int tracer_spawn_zygote(const char *stub_path, int accelerated, pid_t *zygote,
			char *err, size_t errlen);
int tracer_wait(struct tracer_event *ev, struct user_regs_struct *regs);
int tracer_resume(pid_t tid, const struct user_regs_struct *regs, int sig);
long tracer_inject(pid_t tid, uint64_t sys_rip, long nr, const uint64_t a[6],
		   pid_t *child);
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
const struct sock_filter *guest_filter(unsigned short *len);

/* wakeup.c */
int wakeup_init(int uv_fd, char *err, size_t errlen);
void wakeup_arm(long long deadline);
void wakeup_disarm(void);
int wakeup_take_pending(void);

/* terminal.c */
int terminal_save(int fd);
int terminal_restore(void);

/* dirents.c */
int read_dirents(const char *path, char **out, size_t *out_len);

/* layer_ops.c: the overlay layers' host operations, as addon exports */
struct napi_env__;
struct napi_value__;
int layer_ops_register(struct napi_env__ *env, struct napi_value__ *exports);

/* file_io.c */
ssize_t guest_copy(pid_t pid, uint64_t addr, void *buf, size_t len, int to_guest);
long file_to_guest(int fd, uint64_t pos, pid_t pid, uint64_t addr, size_t len);
long guest_to_file(int fd, uint64_t pos, pid_t pid, uint64_t addr, size_t len);

#endif
