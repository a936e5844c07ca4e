// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz: a system call fuzzer for vmctl's guest kernel.
 *
 *     fuzz run [--calls N] [--seed S] [--children P] [--per-child M]
 *              [--child I] [--trace] [--stuck-ms T] [--int80] [--skip NAME,...]
 *
 * The parent (pid 1 of the guest, under `exec`) forks up to P children at a
 * time; child I draws its calls from its own seed (derived from S and I), so
 * a run is reproducible and one child can be run alone (--child I, with
 * --trace printing each call before it is made). No draw depends on what a
 * call returned or on where address-space randomization put anything, so a
 * child makes the same calls in every run of a kernel that keeps its
 * registers (the results, and so how long it lives, may differ). Each child makes up to M
 * raw system calls: a number (every x86-64 syscall, the gaps between them,
 * numbers past the end, x32 and high-bit variants), and six arguments drawn
 * from pools of interesting values of the kind its signature asks for
 * (descriptors of many kinds, paths good and bad, pointers into valid,
 * read-only, PROT_NONE and unmapped memory, kernel-half and non-canonical
 * addresses, huge lengths and offsets, flag words with random bits, structs
 * of random bytes), plus a share of values from every pool whatever the
 * signature says.
 *
 * The parent watches: it prints a heartbeat every second (`fuzz: hb ...`;
 * vmctl's driver, scripts/fuzz.ts, calls the guest hung when they stop),
 * continues a child that a signal stopped, and kills a child whose call
 * made no progress for T ms, printing the call (`fuzz: stuck ...`). Every
 * child has an interval timer whose SIGALRM (caught, without SA_RESTART)
 * interrupts a blocking call within 25 ms, so a child stuck for T ms sits
 * in a wait that a signal did not end. A child that survives SIGKILL is a
 * kernel bug (`fuzz: BUG unkillable ...`).
 *
 * What only the fuzzer itself would suffer is handled by design, not left
 * out (see sanitize()): the clone family runs through an assembler stub in
 * which a new process or thread exits at once, touching no memory; exit and
 * rt_sigreturn are rare; the parent ignores every signal it can, and the
 * two it cannot never reach it (kill and friends aimed at it, at pid 1 or at
 * their groups are aimed at the child itself, and a CLONE_PARENT child never
 * has SIGKILL or SIGSTOP for its exit signal); SIGALRM keeps its handler,
 * mask and timer; memory calls that would unmap or remap the program's own
 * image, heap, stack or the shared status page go to the child's arena
 * instead, except one in 64; and lengths that would make the host populate
 * or lock gigabytes are cut, since the host is shared. The parent acts only
 * on what it keeps in its own memory: a child that writes over its status
 * page is killed, not believed.
 * int $0x80 is opt-in (--int80): on a kernel whose containment is broken it
 * would run i386 system calls on the host with paths of this program's
 * choosing.
 *
 * Any other argv[1] makes the program exit 0 at once: a fuzzed execve may
 * run this very binary with arguments of its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define MAX_CHILDREN 16
#define NR_TABLE 470
#define TRACE_FD 1023
/* Where the fixture lives; children work in FIX_DIR. */
#define FIX_DIR "/tmp/fuzz"
/* Children between two clean-ups of the files the fuzzed calls made. */
#define HOUSEKEEP_EVERY 200
/* A populating or locking mapping is cut to this (the host is shared). */
#define POPULATE_CAP (64UL << 20)
/* A child that cannot set up exits with this plus the step that failed. */
#define SETUP_FAILED 90
/* A child that could not put back what it runs on (arena, watchdog, TLS) ends with this. */
#define REPAIR_FAILED 89

/* ---------- the random number generator: splitmix64 ---------- */

static uint64_t rng_state;

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd(void)
{
	return splitmix(&rng_state);
}

/* Uniform in [0, n), n > 0. */
static uint64_t below(uint64_t n)
{
	return rnd() % n;
}

/* True with probability 1/n. */
static int one_in(uint64_t n)
{
	return below(n) == 0;
}

/* ---------- the syscall table: name and argument kinds ---------- */

/*
 * Argument kinds, one letter per argument:
 *   f fd          d dirfd       b buffer      s path        n length
 *   o offset      F flags       O open flags  M mmap flags  P prot
 *   C clone flags W wait opts   m mode        i int         p pid
 *   g signal      a address     v iovec ptr   c count       t time ptr
 *   S struct ptr  u uid/gid     A argv ptr    k clock id    w cmd/which
 *   I ioctl cmd   K fcntl cmd   X futex op    x anything
 * Arguments past the signature are drawn from every pool: a kernel that
 * reads an argument it should ignore meets garbage.
 */
struct sysent {
	const char *name;
	const char *sig;
};

#define S(n, sig) [SYS_##n] = { #n, sig }
#define SN(nr, n, sig) [nr] = { #n, sig }

static const struct sysent systab[NR_TABLE] = {
	S(read, "fbn"), S(write, "fbn"), S(open, "sOm"), S(close, "f"),
	S(stat, "sS"), S(fstat, "fS"), S(lstat, "sS"), S(poll, "Sci"),
	S(lseek, "fow"), S(mmap, "anPMfo"), S(mprotect, "anP"),
	S(munmap, "an"), S(brk, "a"), S(rt_sigaction, "gSSn"),
	S(rt_sigprocmask, "wSSn"), S(rt_sigreturn, "x"), S(ioctl, "fIb"),
	S(pread64, "fbno"), S(pwrite64, "fbno"), S(readv, "fvc"),
	S(writev, "fvc"), S(access, "si"), S(pipe, "S"), S(select, "cSSSt"),
	S(sched_yield, ""), S(mremap, "annMa"), S(msync, "anF"),
	S(mincore, "anb"), S(madvise, "anw"), S(shmget, "inF"),
	S(shmat, "ibF"), S(shmctl, "iwS"), S(dup, "f"), S(dup2, "ff"),
	S(pause, ""), S(nanosleep, "tt"), S(getitimer, "wS"), S(alarm, "i"),
	S(setitimer, "wSS"), S(getpid, ""), S(sendfile, "ffSn"),
	S(socket, "iFi"), S(connect, "fSn"), S(accept, "fSS"),
	S(sendto, "fbnFSn"), S(recvfrom, "fbnFSS"), S(sendmsg, "fSF"),
	S(recvmsg, "fSF"), S(shutdown, "fi"), S(bind, "fSn"), S(listen, "fi"),
	S(getsockname, "fSS"), S(getpeername, "fSS"), S(socketpair, "iFiS"),
	S(setsockopt, "fiiSn"), S(getsockopt, "fiiSS"), S(clone, "CaSSx"),
	S(fork, ""), S(vfork, ""), S(execve, "sAA"), S(exit, "i"),
	S(wait4, "pSWS"), S(kill, "pg"), S(uname, "S"), S(semget, "iiF"),
	S(semop, "iSc"), S(semctl, "iiwx"), S(shmdt, "a"), S(msgget, "iF"),
	S(msgsnd, "iSnF"), S(msgrcv, "iSniF"), S(msgctl, "iwS"),
	S(fcntl, "fKx"), S(flock, "fi"), S(fsync, "f"), S(fdatasync, "f"),
	S(truncate, "so"), S(ftruncate, "fo"), S(getdents, "fbn"),
	S(getcwd, "bn"), S(chdir, "s"), S(fchdir, "f"), S(rename, "ss"),
	S(mkdir, "sm"), S(rmdir, "s"), S(creat, "sm"), S(link, "ss"),
	S(unlink, "s"), S(symlink, "ss"), S(readlink, "sbn"), S(chmod, "sm"),
	S(fchmod, "fm"), S(chown, "suu"), S(fchown, "fuu"), S(lchown, "suu"),
	S(umask, "m"), S(gettimeofday, "SS"), S(getrlimit, "wS"),
	S(getrusage, "wS"), S(sysinfo, "S"), S(times, "S"), S(ptrace, "wpaa"),
	S(getuid, ""), S(syslog, "wbn"), S(getgid, ""), S(setuid, "u"),
	S(setgid, "u"), S(geteuid, ""), S(getegid, ""), S(setpgid, "pp"),
	S(getppid, ""), S(getpgrp, ""), S(setsid, ""), S(setreuid, "uu"),
	S(setregid, "uu"), S(getgroups, "cS"), S(setgroups, "cS"),
	S(setresuid, "uuu"), S(getresuid, "SSS"), S(setresgid, "uuu"),
	S(getresgid, "SSS"), S(getpgid, "p"), S(setfsuid, "u"),
	S(setfsgid, "u"), S(getsid, "p"), S(capget, "SS"), S(capset, "SS"),
	S(rt_sigpending, "Sn"), S(rt_sigtimedwait, "SStn"),
	S(rt_sigqueueinfo, "pgS"), S(rt_sigsuspend, "Sn"),
	S(sigaltstack, "SS"), S(utime, "sS"), S(mknod, "smi"),
	S(uselib, "s"), S(personality, "F"), S(ustat, "iS"), S(statfs, "sS"),
	S(fstatfs, "fS"), S(sysfs, "wxx"), S(getpriority, "wp"),
	S(setpriority, "wpi"), S(sched_setparam, "pS"),
	S(sched_getparam, "pS"), S(sched_setscheduler, "pwS"),
	S(sched_getscheduler, "p"), S(sched_get_priority_max, "w"),
	S(sched_get_priority_min, "w"), S(sched_rr_get_interval, "pt"),
	S(mlock, "an"), S(munlock, "an"), S(mlockall, "F"),
	S(munlockall, ""), S(vhangup, ""), S(modify_ldt, "wSn"),
	S(pivot_root, "ss"), S(_sysctl, "S"), S(prctl, "wxxxx"),
	S(arch_prctl, "wa"), S(adjtimex, "S"), S(setrlimit, "wS"),
	S(chroot, "s"), S(sync, ""), S(acct, "s"), S(settimeofday, "SS"),
	S(mount, "sssFS"), S(umount2, "sF"), S(swapon, "sF"), S(swapoff, "s"),
	S(reboot, "iiwS"), S(sethostname, "bn"), S(setdomainname, "bn"),
	S(iopl, "i"), S(ioperm, "nni"), S(create_module, "sn"),
	S(init_module, "bnS"), S(delete_module, "sF"),
	S(get_kernel_syms, "S"), S(query_module, "swbnS"),
	S(quotactl, "wsiS"), S(nfsservctl, "wSS"), S(getpmsg, "fSSSS"),
	S(putpmsg, "fSSiF"), S(afs_syscall, "x"), S(tuxcall, "x"),
	S(security, "x"), S(gettid, ""), S(readahead, "fon"),
	S(setxattr, "ssbnF"), S(lsetxattr, "ssbnF"), S(fsetxattr, "fsbnF"),
	S(getxattr, "ssbn"), S(lgetxattr, "ssbn"), S(fgetxattr, "fsbn"),
	S(listxattr, "sbn"), S(llistxattr, "sbn"), S(flistxattr, "fbn"),
	S(removexattr, "ss"), S(lremovexattr, "ss"), S(fremovexattr, "fs"),
	S(tkill, "pg"), S(time, "S"), S(futex, "bXitbi"),
	S(sched_setaffinity, "pnS"), S(sched_getaffinity, "pnS"),
	S(set_thread_area, "S"), S(io_setup, "iS"), S(io_destroy, "x"),
	S(io_getevents, "xiiSt"), S(io_submit, "xcS"), S(io_cancel, "xSS"),
	S(get_thread_area, "S"), S(lookup_dcookie, "xbn"),
	S(epoll_create, "i"), S(epoll_ctl_old, "x"), S(epoll_wait_old, "x"),
	S(remap_file_pages, "aniiF"), S(getdents64, "fbn"),
	S(set_tid_address, "b"), S(restart_syscall, ""),
	S(semtimedop, "iSct"), S(fadvise64, "fonw"), S(timer_create, "kSS"),
	S(timer_settime, "iFSS"), S(timer_gettime, "iS"),
	S(timer_getoverrun, "i"), S(timer_delete, "i"),
	S(clock_settime, "kt"), S(clock_gettime, "kt"), S(clock_getres, "kt"),
	S(clock_nanosleep, "kFtt"), S(exit_group, "i"),
	S(epoll_wait, "fSii"), S(epoll_ctl, "fwfS"), S(tgkill, "ppg"),
	S(utimes, "sS"), S(vserver, "x"), S(mbind, "anwSnF"),
	S(set_mempolicy, "wSn"), S(get_mempolicy, "SSnaF"),
	S(mq_open, "sOmS"), S(mq_unlink, "s"), S(mq_timedsend, "fbnit"),
	S(mq_timedreceive, "fbnSt"), S(mq_notify, "fS"),
	S(mq_getsetattr, "fSS"), S(kexec_load, "xcSF"), S(waitid, "wpSWS"),
	S(add_key, "ssbni"), S(request_key, "sssi"), S(keyctl, "wxxxx"),
	S(ioprio_set, "wpi"), S(ioprio_get, "wp"), S(inotify_init, ""),
	S(inotify_add_watch, "fsF"), S(inotify_rm_watch, "fi"),
	S(migrate_pages, "pnSS"), S(openat, "dsOm"), S(mkdirat, "dsm"),
	S(mknodat, "dsmi"), S(fchownat, "dsuuF"), S(futimesat, "dsS"),
	S(newfstatat, "dsSF"), S(unlinkat, "dsF"), S(renameat, "dsds"),
	S(linkat, "dsdsF"), S(symlinkat, "sds"), S(readlinkat, "dsbn"),
	S(fchmodat, "dsm"), S(faccessat, "dsi"), S(pselect6, "cSSStS"),
	S(ppoll, "SctSn"), S(unshare, "C"), S(set_robust_list, "Sn"),
	S(get_robust_list, "pSS"), S(splice, "fSfSnF"), S(tee, "ffnF"),
	S(sync_file_range, "fooF"), S(vmsplice, "fvcF"),
	S(move_pages, "pcSSSF"), S(utimensat, "dsSF"),
	S(epoll_pwait, "fSiiSn"), S(signalfd, "fSn"),
	S(timerfd_create, "kF"), S(eventfd, "i"), S(fallocate, "fwoo"),
	S(timerfd_settime, "fFSS"), S(timerfd_gettime, "fS"),
	S(accept4, "fSSF"), S(signalfd4, "fSnF"), S(eventfd2, "iF"),
	S(epoll_create1, "F"), S(dup3, "ffF"), S(pipe2, "SF"),
	S(inotify_init1, "F"), S(preadv, "fvcoo"), S(pwritev, "fvcoo"),
	S(rt_tgsigqueueinfo, "ppgS"), S(perf_event_open, "SpifF"),
	S(recvmmsg, "fScFt"), S(fanotify_init, "FF"),
	S(fanotify_mark, "fFFds"), S(prlimit64, "pwSS"),
	S(name_to_handle_at, "dsSSF"), S(open_by_handle_at, "fSO"),
	S(clock_adjtime, "kS"), S(syncfs, "f"), S(sendmmsg, "fScF"),
	S(setns, "fC"), S(getcpu, "SSS"), S(process_vm_readv, "pvcvcF"),
	S(process_vm_writev, "pvcvcF"), S(kcmp, "ppwxx"),
	S(finit_module, "fsF"), S(sched_setattr, "pSF"),
	S(sched_getattr, "pSnF"), S(renameat2, "dsdsF"), S(seccomp, "wFS"),
	S(getrandom, "bnF"), S(memfd_create, "sF"),
	S(kexec_file_load, "ffnsF"), S(bpf, "wSn"), S(execveat, "dsAAF"),
	S(userfaultfd, "F"), S(membarrier, "wFi"), S(mlock2, "anF"),
	S(copy_file_range, "fSfSnF"), S(preadv2, "fvcooF"),
	S(pwritev2, "fvcooF"), S(pkey_mprotect, "anPi"), S(pkey_alloc, "FF"),
	S(pkey_free, "i"), S(statx, "dsFFS"), S(io_pgetevents, "xiiStS"),
	S(rseq, "SnFi"), S(pidfd_send_signal, "fgSF"),
	S(io_uring_setup, "iS"), S(io_uring_enter, "fiiFSn"),
	S(io_uring_register, "fwSi"), S(open_tree, "dsF"),
	S(move_mount, "dsdsF"), S(fsopen, "sF"), S(fsconfig, "fwsSi"),
	S(fsmount, "fFF"), S(fspick, "dsF"), S(pidfd_open, "pF"),
	S(clone3, "Sn"), S(close_range, "ffF"), S(openat2, "dsSn"),
	S(pidfd_getfd, "ffF"), S(faccessat2, "dsiF"),
	S(process_madvise, "fvcwF"), S(epoll_pwait2, "fSitSn"),
	S(mount_setattr, "dsFSn"), S(quotactl_fd, "fwiS"),
	S(landlock_create_ruleset, "SnF"), S(landlock_add_rule, "fwSF"),
	S(landlock_restrict_self, "fF"), S(memfd_secret, "F"),
	S(process_mrelease, "fF"), S(futex_waitv, "ScFtk"),
	S(set_mempolicy_home_node, "annF"),
	/* newer than this libc's headers */
	SN(451, cachestat, "fSSF"), SN(452, fchmodat2, "dsmF"),
	SN(453, map_shadow_stack, "anF"), SN(454, futex_wake, "bxiF"),
	SN(455, futex_wait, "bxxFtk"), SN(456, futex_requeue, "SFii"),
	SN(457, statmount, "SSnF"), SN(458, listmount, "SSnF"),
	SN(459, lsm_get_self_attr, "wSSF"), SN(460, lsm_set_self_attr, "wSnF"),
	SN(461, lsm_list_modules, "SSF"), SN(462, mseal, "anF"),
	SN(463, setxattrat, "dsFsSn"), SN(464, getxattrat, "dsFsSn"),
	SN(465, listxattrat, "dsFbn"), SN(466, removexattrat, "dsFs"),
	SN(467, open_tree_attr, "dsFSn"), SN(468, file_getattr, "dsSnF"),
	SN(469, file_setattr, "dsSnF"),
};

#define NR_MSEAL 462

/* The x86-64 kernel dispatches on the low 32 bits of rax, as an int. */
static int nr_of(uint64_t raw)
{
	return (int)(uint32_t)raw;
}

static const struct sysent *entry_of(uint64_t raw)
{
	int nr = nr_of(raw);

	if (nr < 0 || nr >= NR_TABLE || !systab[nr].name)
		return NULL;
	return &systab[nr];
}

/* ---------- shared status: one slot per running child ---------- */

/*
 * What a child reports to the parent, in a MAP_SHARED page. Only reports:
 * a fuzzed call may still zero or remap that page (one memory call in 64 is
 * let through whatever it covers), so the parent keeps everything it acts
 * on (pids, quotas) in its own memory, struct kid.
 */
struct slot {
	volatile uint64_t magic;	/* written by the parent only: SLOT_MAGIC ^ the child's index */
	volatile uint64_t calls;	/* calls made */
	volatile uint64_t nr;	/* the call in progress (or the last one) */
	volatile uint64_t args[6];
	volatile int in_call;
};

static struct slot *slots;
#define SLOT_MAGIC 0x66757a7a736c6f74ULL

/* The parent's own record of a running child. */
struct kid {
	int pid;	/* 0: free */
	int index;	/* which child */
	struct slot *slot;
	uint64_t quota;
	uint64_t seen_calls;
	long long seen_ms;
	long long killed_ms;
	int reported_unkillable;
};

static struct kid kids[MAX_CHILDREN];

/* ---------- options ---------- */

static struct {
	uint64_t calls;
	uint64_t seed;
	int children;
	int per_child;
	long long child;	/* -1: all */
	int trace;
	int stuck_ms;
	int int80;
	/* syscalls never drawn (--skip read,write), to look past a bug that is known */
	unsigned char skip[NR_TABLE];
} opt = { 100000, 1, 3, 500, -1, 0, 2000, 0, { 0 } };

/* ---------- child state ---------- */

/*
 * The arena: the child's own memory that pointer arguments point into.
 *   pages 0-15   random bytes (buffers, structs)
 *   pages 16-19  templates: paths, iovecs, times, argv arrays
 *   page  20     read-only random bytes
 *   page  21     PROT_NONE
 *   page  22     read-write, followed by
 *   page  23     nothing (unmapped), so a buffer can run off page 22
 */
#define ARENA_PAGES 24
#define ARENA_LEN (ARENA_PAGES * PAGE)
#define DATA_LEN (16 * PAGE)
#define TPL_OFF (16 * PAGE)
#define RO_OFF (20 * PAGE)
#define NONE_OFF (21 * PAGE)
#define EDGE_OFF (23 * PAGE)	/* first unmapped byte */

static char *arena;
static uint64_t arena_epoch;

/* Addresses of template objects inside the arena. */
#define MAX_PATHS 80
#define MAX_TPL 24
static uint64_t paths[MAX_PATHS];
static int npaths;
static uint64_t iovecs[MAX_TPL], times_[MAX_TPL], argvs[MAX_TPL], structs[MAX_TPL];
static int niovecs, ntimes, nargvs, nstructs;

#define MAX_FDS 48
static int fds[MAX_FDS], nfds;
static int dirfds[8], ndirfds;

/* Ranges a memory call may not touch (the program's own image, heap, stack, status page). */
#define MAX_RANGES 8
static uint64_t prot_lo[MAX_RANGES], prot_hi[MAX_RANGES];
static int nprot;
/* Mappings found in /proc/self/maps that are none of ours (vdso, ...). */
#define MAX_FOREIGN 16
static uint64_t foreign[MAX_FOREIGN];
static int nforeign;

static int self_pid, parent_pid, cur_pgid, locked_future;
static uint64_t saved_fs, saved_gs;
static int child_index;

extern char __executable_start[];

/* ---------- raw system calls ---------- */

static long raw6(long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
	long ret;
	register uint64_t r10 __asm__("r10") = a3;
	register uint64_t r8 __asm__("r8") = a4;
	register uint64_t r9 __asm__("r9") = a5;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

/* struct sigaction as rt_sigaction(2) takes it: libc's refuses signals 32 and 33, which it keeps for itself. */
struct ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

static long set_disposition(int sig, void *handler)
{
	struct ksigaction ka = { handler, 0, NULL, 0 };

	return raw6(SYS_rt_sigaction, (uint64_t)sig, (uint64_t)&ka, 0, 8, 0, 0);
}

/*
 * clone, fork, vfork, clone3: in the new process or thread (rax 0) the stub
 * calls exit at once, on registers alone: it may be running on a stack of
 * the fuzzer's choosing, or on the parent's own stack (CLONE_VM|CLONE_VFORK),
 * or with a TLS base that is garbage.
 */
static long raw_clone(uint64_t nr, const uint64_t *a)
{
	long ret;
	register uint64_t r10 __asm__("r10") = a[3];
	register uint64_t r8 __asm__("r8") = a[4];
	register uint64_t r9 __asm__("r9") = a[5];

	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "mov $60, %%eax\n\t"
			 "xor %%edi, %%edi\n\t"
			 "syscall\n\t"
			 "ud2\n"
			 "1:"
			 : "=a"(ret)
			 : "a"(nr), "D"(a[0]), "S"(a[1]), "d"(a[2]), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

/* An i386 system call through int $0x80 (--int80 only). */
static long raw_int80(uint64_t nr, const uint64_t *a)
{
	long ret;

	__asm__ volatile("push %%rbp\n\t"
			 "mov %[a5], %%rbp\n\t"
			 "int $0x80\n\t"
			 "pop %%rbp"
			 : "=a"(ret)
			 : "a"(nr), "b"(a[0]), "c"(a[1]), "d"(a[2]), "S"(a[3]), "D"(a[4]), [a5] "r"(a[5])
			 : "memory");
	return ret;
}

static int is_clone_nr(int nr)
{
	nr &= ~0x40000000;	/* x32 numbers of the same calls */
	return nr == SYS_clone || nr == SYS_fork || nr == SYS_vfork || nr == SYS_clone3;
}

static long long now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------- pools ---------- */

#define TASK_SIZE_MAX 0x7ffffffff000ULL

static const uint64_t pool_ints[] = {
	0, 1, 2, 3, 4, 7, 8, 16, 31, 32, 63, 64, 100, 127, 128, 255, 256,
	1023, 1024, 4095, 4096, 4097, 65535, 65536, 0x7fffffff, 0x80000000,
	0xffffffff, 0x100000000ULL, 0x7fffffffffffffffULL,
	0x8000000000000000ULL, (uint64_t)-1, (uint64_t)-2, (uint64_t)-4095,
	(uint64_t)-4096, 1ULL << 53, (1ULL << 53) + 1, 0xfffffffe,
};

static const uint64_t pool_lens[] = {
	0, 1, 2, 7, 8, 15, 16, 24, 64, 100, 128, 512, 4095, 4096, 4097,
	8192, 65536, 1UL << 20, 0x7ffff000, 0x7fffffff, 0x80000000,
	0xffffffff, 0x100000000ULL, 1ULL << 47, TASK_SIZE_MAX,
	0x7fffffffffffffffULL, 0x8000000000000000ULL, (uint64_t)-1,
	(uint64_t)-2, (uint64_t)-4096,
};

static const uint64_t pool_offsets[] = {
	0, 1, 2, 511, 4096, 4097, 1UL << 31, 1ULL << 32, 1ULL << 40,
	(1ULL << 53) - 1, 0x7ffffffffffff000ULL, 0x7ffffffffffffff0ULL,
	0x7fffffffffffffffULL, 0x8000000000000000ULL, (uint64_t)-1,
	(uint64_t)-4096, (uint64_t)-2,
};

/* Bad pointers: NULL and near it, the kernel half, non-canonical, the top of user space. */
static const uint64_t pool_badptr[] = {
	0, 1, 16, 4095, 4096, 0x10000, 0x7ffffffff000ULL,
	0x7fffffffffffULL, 0x800000000000ULL, 0x4000000000000000ULL,
	0x8000000000000000ULL, 0xffff800000000000ULL, 0xffffffff80000000ULL,
	0xffffffffff600000ULL, 0xfffffffffffff000ULL, 0xffffffffffffffffULL,
	0x0000100000000000ULL,
};

static const uint64_t open_bits[] = {
	O_WRONLY, O_RDWR, 3, O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC, O_APPEND,
	O_NONBLOCK, O_DSYNC, O_ASYNC, O_DIRECT, O_LARGEFILE, O_DIRECTORY,
	O_NOFOLLOW, O_NOATIME, O_CLOEXEC, O_SYNC, O_PATH, O_TMPFILE,
	020000000 /* __O_TMPFILE */, 0x80000000,
};

static const uint64_t mmap_bits[] = {
	MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE, MAP_FIXED, MAP_ANONYMOUS,
	MAP_32BIT, MAP_GROWSDOWN, MAP_DENYWRITE, MAP_EXECUTABLE, MAP_LOCKED,
	MAP_NORESERVE, MAP_POPULATE, MAP_NONBLOCK, MAP_STACK, MAP_HUGETLB,
	MAP_SYNC, MAP_FIXED_NOREPLACE, 0x8000000 /* MAP_UNINITIALIZED */,
	30U << 26 /* MAP_HUGE_1GB */,
};

static const uint64_t clone_bits[] = {
	0x100, 0x200, 0x400, 0x800, 0x1000, 0x2000, 0x4000, 0x8000, 0x10000,
	0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000, 0x800000,
	0x1000000, 0x2000000, 0x4000000, 0x8000000, 0x10000000, 0x20000000,
	0x40000000, 0x80000000, 0x100000000ULL, 0x200000000ULL,
};

static const uint64_t wait_bits[] = {
	WNOHANG, WUNTRACED, WEXITED, WCONTINUED, WNOWAIT, 0x20000000,
	0x40000000, 0x80000000, 0x10,
};

static const uint64_t ioctl_cmds[] = {
	0x5401 /* TCGETS */, 0x5402 /* TCSETS */, 0x5403, 0x5404,
	0x540b /* TCFLSH */, 0x540e /* TIOCSCTTY */, 0x540f /* TIOCGPGRP */,
	0x5410 /* TIOCSPGRP */, 0x5412 /* TIOCSTI */, 0x5413 /* TIOCGWINSZ */,
	0x5414 /* TIOCSWINSZ */, 0x541b /* FIONREAD */, 0x5421 /* FIONBIO */,
	0x5422 /* TIOCNOTTY */, 0x5429 /* TIOCGSID */, 0x5450 /* FIONCLEX */,
	0x5451 /* FIOCLEX */, 0x5452 /* FIOASYNC */, 0x80045430 /* TIOCGPTN */,
	0x40045431 /* TIOCSPTLCK */, 0x80086601 /* FS_IOC_GETFLAGS */,
	0x80081272 /* BLKGETSIZE64 */, 0x4b3a /* KDSETMODE */, 0x5460,
	0xc0185879, 0,
};

static const uint64_t fcntl_cmds[] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 36, 37, 38,
	1024, 1025, 1026, 1030, 1031, 1032, 1033, 1034, 1035, 1036, 1037,
	1038, 1039, 1040,
};

static uint64_t pick(const uint64_t *pool, size_t n)
{
	return pool[below(n)];
}
#define PICK(pool) pick(pool, sizeof(pool) / sizeof(pool[0]))

/* Some bits of @bits, sometimes with random ones besides. */
static uint64_t pick_bits(const uint64_t *bits, size_t n)
{
	uint64_t v = 0;
	int k = (int)below(5);

	while (k-- > 0)
		v |= bits[below(n)];
	if (one_in(6))
		v |= 1ULL << below(32);
	return v;
}
#define PICK_BITS(bits) pick_bits(bits, sizeof(bits) / sizeof(bits[0]))

static uint64_t small_int(void)
{
	switch (below(4)) {
	case 0:
		return below(8);
	case 1:
		return below(70);
	case 2:
		return (uint64_t)-(int64_t)below(5);
	default:
		return PICK(pool_ints);
	}
}

static uint64_t random_flags(void)
{
	switch (below(6)) {
	case 0:
		return 0;
	case 1:
		return 1ULL << below(32);
	case 2:
		return (1ULL << below(32)) | (1ULL << below(32));
	case 3:
		return rnd() & 0xffffffff;
	case 4:
		return rnd();
	default:
		return below(16);
	}
}

/* A pointer into the arena: buffers and structs. */
static uint64_t arena_ptr(void)
{
	uint64_t base = (uint64_t)arena;

	switch (below(10)) {
	case 0:
		return base + below(16) * PAGE;	/* page aligned */
	case 1:
		return base + below(DATA_LEN);	/* anywhere, unaligned */
	case 2:
		return base + below(DATA_LEN / 8) * 8;
	case 3:
		return base + EDGE_OFF - 1 - below(64);	/* runs off into unmapped */
	case 4:
		return base + RO_OFF + below(PAGE);	/* read-only */
	case 5:
		return base + NONE_OFF + below(PAGE);	/* PROT_NONE */
	case 6:
		return base + EDGE_OFF + below(PAGE);	/* unmapped */
	case 7:
		return (uint64_t)__executable_start + below(PAGE);	/* program text */
	case 8:
		return base + DATA_LEN - 8 - below(8) * 8;
	default:
		return base + below(DATA_LEN - 512);
	}
}

static uint64_t bad_ptr(void)
{
	if (one_in(4))
		return PICK(pool_badptr) + (one_in(2) ? below(4096) : 0);
	return PICK(pool_badptr);
}

static uint64_t gen_fd(void)
{
	switch (below(12)) {
	case 0:
		return (uint64_t)-1;
	case 1:
		return below(40);
	case 2:
		return PICK(pool_ints);
	case 3:
		/* a pool descriptor with high bits set: the kernel takes an unsigned int */
		return (nfds ? (uint64_t)fds[below(nfds)] : 0) | (rnd() << 32);
	default:
		return nfds ? (uint64_t)fds[below(nfds)] : below(10);
	}
}

static uint64_t gen_dirfd(void)
{
	switch (below(6)) {
	case 0:
	case 1:
		return (uint64_t)(int64_t)AT_FDCWD;
	case 2:
		return ndirfds ? (uint64_t)dirfds[below(ndirfds)] : (uint64_t)(int64_t)AT_FDCWD;
	default:
		return gen_fd();
	}
}

static uint64_t gen_pid(void)
{
	switch (below(8)) {
	case 0:
		return 0;
	case 1:
		return (uint64_t)self_pid;
	case 2:
		return (uint64_t)-(int64_t)self_pid;
	case 3:
		return below(64);
	case 4:
		return (uint64_t)-1;
	case 5:
		return (uint64_t)parent_pid;
	case 6:
		return PICK(pool_ints);
	default:
		return (uint64_t)(int64_t)(int)rnd();
	}
}

static uint64_t gen_addr(void)
{
	uint64_t base = (uint64_t)arena;

	switch (below(10)) {
	case 0:
	case 1:
		return base + below(ARENA_PAGES) * PAGE;
	case 2:
		return base + below(ARENA_LEN);
	case 3:
		return nforeign ? foreign[below(nforeign)] : base;
	case 4:
		return bad_ptr();
	case 5:
		return (rnd() & (TASK_SIZE_MAX - 1)) & ~(PAGE - 1);
	case 6:
		return 0;
	case 7:
		return 0x10000 * below(64);
	default:
		return base;
	}
}

static uint64_t gen_mode(void)
{
	static const uint64_t modes[] = {
		0, 0644, 0755, 0777, 07777, 04755, 02755, 01777, 0100644,
		0010600, 0020666, 0060660, 0140777, 0040755, 0120777, 0xffffffff,
	};

	return one_in(5) ? rnd() & 0xffffffff : PICK(modes);
}

static uint64_t gen_one(char kind);

/* A value from any pool at all. */
static uint64_t gen_any(void)
{
	static const char kinds[] = "fdbsnoFOMPCWmipgavctSuAkwIKX";

	return gen_one(kinds[below(sizeof(kinds) - 1)]);
}

static uint64_t gen_one(char kind)
{
	switch (kind) {
	case 'f':
		return gen_fd();
	case 'd':
		return gen_dirfd();
	case 'b':
	case 'S':
		if (one_in(8))
			return bad_ptr();
		if (kind == 'S' && nstructs && one_in(3))
			return structs[below(nstructs)];
		return arena_ptr();
	case 's':
		if (one_in(10))
			return one_in(2) ? bad_ptr() : arena_ptr();
		return paths[below(npaths)];
	case 'n':
		return one_in(3) ? below(300) : PICK(pool_lens);
	case 'o':
		return one_in(3) ? below(10000) : PICK(pool_offsets);
	case 'F':
		return random_flags();
	case 'O':
		return one_in(5) ? random_flags() : PICK_BITS(open_bits);
	case 'M':
		return one_in(5) ? random_flags() : PICK_BITS(mmap_bits);
	case 'P':
		return one_in(5) ? random_flags() : below(8);
	case 'C':
		return one_in(5) ? random_flags() : (PICK_BITS(clone_bits) | (one_in(2) ? SIGCHLD : below(70)));
	case 'W':
		return one_in(5) ? random_flags() : PICK_BITS(wait_bits);
	case 'm':
		return gen_mode();
	case 'i':
	case 'c':
		return small_int();
	case 'p':
		return gen_pid();
	case 'g':
		return one_in(10) ? PICK(pool_ints) : below(66);
	case 'a':
		return gen_addr();
	case 'v':
		if (one_in(6))
			return one_in(2) ? bad_ptr() : arena_ptr();
		return iovecs[below(niovecs)];
	case 't':
		if (one_in(6))
			return one_in(3) ? 0 : bad_ptr();
		return times_[below(ntimes)];
	case 'u':
		return one_in(2) ? below(3) : PICK(pool_ints);
	case 'A':
		if (one_in(6))
			return one_in(2) ? 0 : bad_ptr();
		return argvs[below(nargvs)];
	case 'k':
		return one_in(4) ? (uint64_t)(int64_t)(int)rnd() : below(13);
	case 'w':
		return one_in(4) ? PICK(pool_ints) : below(20);
	case 'I':
		return one_in(5) ? rnd() & 0xffffffff : PICK(ioctl_cmds);
	case 'K':
		return one_in(8) ? rnd() & 0xffffffff : PICK(fcntl_cmds);
	case 'X':
		/* futex op: the command, sometimes FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME */
		return below(14) | (one_in(2) ? 128 : 0) | (one_in(4) ? 256 : 0) | (one_in(10) ? rnd() & 0xffff : 0);
	default:
		return gen_any();
	}
}

/* ---------- the arena and its templates ---------- */

static void fill_random(char *p, size_t len, uint64_t seed)
{
	size_t i;
	uint64_t s = seed;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t v = splitmix(&s);

		memcpy(p + i, &v, 8);
	}
}

static char *tpl_cur;

static uint64_t tpl_put(const void *src, size_t len)
{
	char *at = tpl_cur;

	if (at + len > arena + TPL_OFF + 4 * PAGE)
		return (uint64_t)arena;	/* full: any valid address will do */
	memcpy(at, src, len);
	tpl_cur += (len + 15) & ~15UL;
	return (uint64_t)at;
}

static uint64_t tpl_str(const char *s)
{
	return tpl_put(s, strlen(s) + 1);
}

/* Paths: the fixture, every file system, and malformed ones. */
static const char *const fixed_paths[] = {
	"/", "/tmp", FIX_DIR, FIX_DIR "/f0", FIX_DIR "/f1", FIX_DIR "/f2",
	FIX_DIR "/d0", FIX_DIR "/d0/x", FIX_DIR "/link", FIX_DIR "/loop",
	FIX_DIR "/dangling", FIX_DIR "/fifo", FIX_DIR "/new", FIX_DIR "/d0/new",
	FIX_DIR "/f0/", FIX_DIR "/f0/x", "//tmp///fuzz//f1", "/fuzzroot",
	"/fuzzroot-new", "/fuzzdir", "/fuzzdir/sub", "/bin", "/bin/busybox",
	"/bin/sh", "/fuzz", "/proc", "/proc/self", "/proc/self/maps",
	"/proc/self/status", "/proc/self/stat", "/proc/self/fd",
	"/proc/self/fd/0", "/proc/self/fd/3", "/proc/self/exe",
	"/proc/self/cwd", "/proc/self/root/tmp", "/proc/self/mem",
	"/proc/self/task", "/proc/1/status", "/proc/meminfo", "/proc/mounts",
	"/proc/sys", "/dev", "/dev/null", "/dev/zero", "/dev/full",
	"/dev/urandom", "/dev/tty", "/dev/console", "/dev/ptmx", "/dev/shm",
	"/dev/shm/x", "", ".", "..", "f0", "new", "d0/../f0", "/nonexistent",
	"/../../..", "/tmp/..", "/proc/self/fd/99",
};

static void build_templates(void)
{
	char big[5000];
	int i;

	tpl_cur = arena + TPL_OFF;
	npaths = 0;
	for (i = 0; i < (int)(sizeof(fixed_paths) / sizeof(fixed_paths[0])) && npaths < MAX_PATHS; i++)
		paths[npaths++] = tpl_str(fixed_paths[i]);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	paths[npaths++] = tpl_str(big);	/* longer than PATH_MAX */
	memset(big, 'b', 300);
	big[300] = 0;
	paths[npaths++] = tpl_str(big);	/* a name longer than NAME_MAX */
	memcpy(big, FIX_DIR "/", 10);
	memset(big + 10, 'c', 4085);
	big[4095] = 0;
	paths[npaths++] = tpl_str(big);	/* exactly PATH_MAX with its NUL */
	/* unterminated strings: one runs into PROT_NONE, one off the end of page 22 */
	paths[npaths++] = (uint64_t)arena + NONE_OFF - 8;
	memset(arena + EDGE_OFF - 8, 'z', 8);
	paths[npaths++] = (uint64_t)arena + EDGE_OFF - 8;

	/* iovecs: good, partly bad, huge and negative lengths */
	niovecs = 0;
	for (i = 0; i < MAX_TPL - 4; i++) {
		struct iovec v[8];
		int n = 1 + (int)below(8), j;

		for (j = 0; j < n; j++) {
			v[j].iov_base = (void *)(one_in(6) ? bad_ptr() : arena_ptr());
			v[j].iov_len = one_in(4) ? PICK(pool_lens) : below(600);
		}
		iovecs[niovecs++] = tpl_put(v, n * sizeof(v[0]));
	}

	/* timespecs (and timevals, itimervals: the same words) */
	{
		static const int64_t tv[][4] = {
			{ 0, 0, 0, 0 }, { 0, 1000, 0, 0 }, { 0, 999999999, 0, 1 },
			{ 0, 1000000000, 0, 0 }, { -1, 0, 0, 0 }, { 0, -1, 0, 0 },
			{ 1, 0, 0, 0 }, { 0, 20000000, 0, 5000 },
			{ INT64_MAX, 999999999, INT64_MAX, 0 }, { INT64_MIN, 0, 0, 0 },
			{ 0, 1, 0, 1 }, { 0x7fffffff, 0, 1, 0 },
		};

		ntimes = 0;
		for (i = 0; i < (int)(sizeof(tv) / sizeof(tv[0])); i++)
			times_[ntimes++] = tpl_put(tv[i], sizeof(tv[i]));
	}

	/* argv and envp arrays */
	{
		uint64_t v[4];

		nargvs = 0;
		v[0] = tpl_str("true"), v[1] = 0;
		argvs[nargvs++] = tpl_put(v, 16);
		v[0] = 0;
		argvs[nargvs++] = tpl_put(v, 8);
		v[0] = tpl_str("/fuzz"), v[1] = 0;
		argvs[nargvs++] = tpl_put(v, 16);
		v[0] = tpl_str("sh"), v[1] = tpl_str("-c"), v[2] = tpl_str("exit 3"), v[3] = 0;
		argvs[nargvs++] = tpl_put(v, 32);
		v[0] = tpl_str("A=B"), v[1] = 0;
		argvs[nargvs++] = tpl_put(v, 16);
		v[0] = arena_ptr(), v[1] = bad_ptr(), v[2] = 0;
		argvs[nargvs++] = tpl_put(v, 24);
		v[0] = (uint64_t)arena + RO_OFF, v[1] = 0;
		argvs[nargvs++] = tpl_put(v, 16);
	}

	/* small structs of plausible words: zeros, ones, small numbers, our descriptors */
	{
		uint64_t w[16];
		int j;

		nstructs = 0;
		memset(w, 0, sizeof(w));
		structs[nstructs++] = tpl_put(w, sizeof(w));
		memset(w, 0xff, sizeof(w));
		structs[nstructs++] = tpl_put(w, sizeof(w));
		/*
		 * No pointer into the program's own text here: a struct may be a
		 * sigaction, and a handler there would run the fuzzer's own code
		 * at a random point when an asynchronous signal comes, which
		 * makes a child's calls differ from one run to the next.
		 */
		for (i = 0; i < 10; i++) {
			for (j = 0; j < 16; j++) {
				uint64_t p = arena_ptr();

				if (p >= (uint64_t)__executable_start && p < (uint64_t)__executable_start + PAGE)
					p = (uint64_t)arena;
				w[j] = one_in(2) ? small_int() : (one_in(2) ? gen_fd() : p);
			}
			structs[nstructs++] = tpl_put(w, sizeof(w));
		}
	}
}

/* Maps the arena afresh at the same address: after a memory call changed it. */
static int restore_arena(void)
{
	char *p = mmap(arena, ARENA_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

	if (p != arena)
		return -1;
	fill_random(arena, DATA_LEN, rng_state ^ ++arena_epoch);
	fill_random(arena + RO_OFF, PAGE, arena_epoch * 7919);
	if (mprotect(arena + RO_OFF, PAGE, PROT_READ) != 0 ||
	    mprotect(arena + NONE_OFF, PAGE, PROT_NONE) != 0 ||
	    munmap(arena + EDGE_OFF, PAGE) != 0)
		return -1;
	return 0;
}

/* ---------- child setup ---------- */

static void add_fd(int fd)
{
	if (fd >= 0 && nfds < MAX_FDS)
		fds[nfds++] = fd;
}

static void add_dirfd(int fd)
{
	add_fd(fd);
	if (fd >= 0 && ndirfds < 8)
		dirfds[ndirfds++] = fd;
}

/*
 * Earlier children may have turned any of these paths into a FIFO (mknod,
 * rename of the fixture's own): O_NONBLOCK so that opening one does not
 * wait for a writer or reader that never comes.
 */
static void open_fd_pool(void)
{
	int p[2];
	long r;

	/* the console: vmctl's stdin (the driver gives /dev/null) */
	add_fd(0);
	add_fd(open(FIX_DIR "/f0", O_RDWR | O_CREAT | O_NONBLOCK, 0644));
	add_fd(open(FIX_DIR "/f1", O_RDONLY | O_NONBLOCK));
	add_fd(open(FIX_DIR "/f2", O_WRONLY | O_APPEND | O_NONBLOCK));
	add_fd(open("/fuzzroot", O_RDONLY | O_NONBLOCK));
	add_fd(open("/fuzzroot", O_RDWR | O_NONBLOCK));	/* copied up into the overlay's upper layer */
	add_dirfd(open("/", O_RDONLY | O_DIRECTORY | O_NONBLOCK));
	add_dirfd(open("/tmp", O_RDONLY | O_DIRECTORY | O_NONBLOCK));
	add_dirfd(open(FIX_DIR, O_RDONLY | O_DIRECTORY | O_NONBLOCK));
	add_dirfd(open(FIX_DIR "/d0", O_RDONLY | O_DIRECTORY | O_NONBLOCK));
	add_dirfd(open("/proc", O_RDONLY | O_DIRECTORY | O_NONBLOCK));
	add_dirfd(open("/fuzzdir", O_RDONLY | O_DIRECTORY | O_NONBLOCK));
	add_dirfd(open(FIX_DIR, O_PATH | O_DIRECTORY));
	add_fd(open(FIX_DIR "/link", O_PATH | O_NOFOLLOW));
	add_fd(open("/proc/self/status", O_RDONLY | O_NONBLOCK));
	add_fd(open("/proc/self/maps", O_RDONLY | O_NONBLOCK));
	add_fd(open("/proc/meminfo", O_RDONLY | O_NONBLOCK));
	add_fd(open("/dev/null", O_RDWR | O_NONBLOCK));
	add_fd(open("/dev/zero", O_RDWR | O_NONBLOCK));
	add_fd(open("/dev/full", O_RDWR | O_NONBLOCK));
	add_fd(open("/dev/urandom", O_RDONLY | O_NONBLOCK));
	add_fd(open("/dev/tty", O_RDWR | O_NONBLOCK));
	add_fd(open("/dev/console", O_RDONLY | O_NONBLOCK));
	add_fd(open(FIX_DIR "/fifo", O_RDWR | O_NONBLOCK));
	if (pipe(p) == 0) {
		add_fd(p[0]);
		add_fd(p[1]);
	}
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0) {
		add_fd(p[0]);
		add_fd(p[1]);
	}
	/* kinds the kernel may not have yet: each only if it opens */
	add_fd((int)syscall(SYS_memfd_create, "fuzz", 0));
	add_fd((int)syscall(SYS_eventfd2, 0, 0));
	add_fd((int)syscall(SYS_epoll_create1, 0));
	add_fd((int)syscall(SYS_timerfd_create, CLOCK_MONOTONIC, 0));
	add_fd((int)syscall(SYS_inotify_init1, 0));
	add_fd((int)syscall(SYS_socket, 1 /* AF_UNIX */, 1 /* SOCK_STREAM */, 0));
	r = syscall(SYS_pidfd_open, self_pid, 0);
	add_fd((int)r);
	if (nfds > 0)
		add_fd(fcntl(fds[1 % nfds], F_DUPFD_CLOEXEC, 100));
}

static void add_protected(uint64_t lo, uint64_t hi)
{
	if (nprot < MAX_RANGES && hi > lo) {
		prot_lo[nprot] = lo & ~(PAGE - 1);
		prot_hi[nprot] = (hi + PAGE - 1) & ~(PAGE - 1);
		nprot++;
	}
}

static int is_protected(uint64_t lo, uint64_t hi)
{
	int i;

	for (i = 0; i < nprot; i++)
		if (lo < prot_hi[i] && prot_lo[i] < hi)
			return 1;
	return 0;
}

/* Our own image, heap and stack may not be unmapped; mappings that are none of ours are targets. */
static void find_ranges(void)
{
	char line[512];
	uint64_t sp = (uint64_t)__builtin_frame_address(0);
	int found_stack = 0;
	FILE *f;

	add_protected((uint64_t)__executable_start, (uint64_t)sbrk(0) + (1UL << 20));
	add_protected((uint64_t)slots, (uint64_t)slots + PAGE);
	f = fopen("/proc/self/maps", "r");
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		if (strstr(line, "[stack]")) {
			add_protected(lo - (8UL << 20), hi);
			found_stack = 1;
		} else if (!is_protected(lo, hi) && !(lo >= (uint64_t)arena && hi <= (uint64_t)arena + ARENA_LEN) &&
			   nforeign < MAX_FOREIGN) {
			foreign[nforeign++] = lo;
		}
	}
	if (f && fclose(f) != 0)
		perror("/proc/self/maps");
	if (!found_stack)
		add_protected(sp - (16UL << 20), sp + (1UL << 20));
}

static void on_alarm(int sig)
{
	(void)sig;
}

static const struct itimerval tick = { { 0, 25000 }, { 0, 25000 } };

static long arm_alarm(void)
{
	return raw6(SYS_setitimer, ITIMER_REAL, (uint64_t)&tick, 0, 0, 0, 0);
}

static long unblock_alarm(void)
{
	uint64_t set = 1ULL << (SIGALRM - 1);

	return raw6(SYS_rt_sigprocmask, SIG_UNBLOCK, (uint64_t)&set, 0, 8, 0, 0);
}

/*
 * Everything a child runs on. Calls of earlier children may have taken away
 * files (even /dev or /tmp, by umount2): what is missing is done without.
 * Returns 0, or the step that failed.
 */
static int child_setup(void)
{
	struct sigaction sa;
	sigset_t all;
	int sig, null;

	self_pid = getpid();
	if (setpgid(0, 0) != 0)
		return 1;
	cur_pgid = self_pid;
	for (sig = 1; sig < 65; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && set_disposition(sig, SIG_DFL) != 0)
			return 2;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART: a blocked call ends with EINTR */
	if (sigaction(SIGALRM, &sa, NULL) != 0)
		return 2;
	sigemptyset(&all);
	if (sigprocmask(SIG_SETMASK, &all, NULL) != 0)
		return 3;
	/* from here on a call that blocks (on what earlier children left behind) ends with EINTR */
	if (arm_alarm() != 0)
		return 9;
	if (chdir(FIX_DIR) != 0 && chdir("/") != 0)
		return 4;
	/* the driver's stdout must carry only the parent's lines */
	if (opt.trace && dup2(2, TRACE_FD) != TRACE_FD)
		return 5;
	null = open("/dev/null", O_RDWR | O_NONBLOCK);
	if (null >= 0) {
		if (dup2(null, 1) != 1 || dup2(null, 2) != 2 || close(null) != 0)
			return 6;
	} else if ((close(1) != 0 && errno != EBADF) || (close(2) != 0 && errno != EBADF)) {
		return 6;
	}
	/*
	 * A PROT_NONE page on each side: a loop that runs away in the arena
	 * (the fuzzer's own code, when a signal frame did not give its registers
	 * back whole) faults there instead of writing over the status page.
	 */
	arena = mmap(NULL, ARENA_LEN + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (arena == MAP_FAILED)
		return 7;
	arena += PAGE;
	if (restore_arena() != 0)
		return 7;
	build_templates();
	open_fd_pool();
	find_ranges();
	if (syscall(SYS_arch_prctl, 0x1003 /* ARCH_GET_FS */, &saved_fs) != 0 ||
	    syscall(SYS_arch_prctl, 0x1004 /* ARCH_GET_GS */, &saved_gs) != 0)
		return 8;
	return 0;
}

/* ---------- choosing and sanitizing calls ---------- */

static uint64_t pick_nr(void)
{
	if (!one_in(12)) {
		for (;;) {
			uint64_t nr = below(NR_TABLE);

			if (systab[nr].name)
				return nr;
		}
	}
	switch (below(8)) {
	case 0:
		return 335 + below(424 - 335);	/* the gap */
	case 1:
		return NR_TABLE + below(600);	/* past the end */
	case 2:
		return 0x40000000 | below(548);	/* x32 */
	case 3:
		return (uint64_t)-1 - below(3);
	case 4:
		return (rnd() << 32) | below(NR_TABLE);	/* high bits set */
	case 5:
		return 0x7fffffff - below(2);
	case 6:
		return 0x80000000 | below(NR_TABLE);
	default:
		return rnd();
	}
}

/* Aims a signal meant for a protected process (pid 1, the parent, their groups, everyone) at ourselves. */
static uint64_t safe_target(uint64_t arg)
{
	int pid = (int)arg;

	if (pid == 0)
		return cur_pgid == self_pid ? arg : (uint64_t)self_pid;
	if (pid == -1 || pid == 1 || pid == parent_pid || pid == -parent_pid || pid == INT32_MIN)
		return (uint64_t)self_pid;
	if (pid < 0 && -pid != cur_pgid)
		return (uint64_t)self_pid;
	return arg;
}

/*
 * Keeps a memory call off our own image, heap, stack and status page (but
 * one in 64). Whether a range touches them depends on where the address
 * space layout randomization put them, so the draws are made whatever the
 * answer: a child's sequence of calls must be the same in every run.
 */
static void keep_off(uint64_t *addr, uint64_t *len)
{
	uint64_t lo = *addr, hi = lo + *len;
	int let_through = one_in(64), unaligned = one_in(8), shorten = one_in(2);
	uint64_t page = below(ARENA_PAGES), offset = below(PAGE), pages = below(ARENA_PAGES + 1);

	if (hi < lo)
		hi = UINT64_MAX;
	if (*len == 0)
		hi = lo + 1;
	if (!is_protected(lo, hi) || let_through)
		return;
	*addr = (uint64_t)arena + page * PAGE + (unaligned ? offset : 0);
	if (*len > ARENA_LEN || shorten)
		*len = pages * PAGE;
}

/*
 * Returns 0 to make the call, -1 to draw another. Changes only what would
 * harm the fuzzer alone (or the shared host), never what would reach the
 * kernel with arguments it has to judge.
 */
static int sanitize(uint64_t raw, uint64_t *a)
{
	int nr = nr_of(raw);

	switch (nr) {
	case SYS_exit:
	case SYS_exit_group:
	case SYS_rt_sigreturn:
		return one_in(32) ? 0 : -1;
	case SYS_kill:
	case SYS_tkill:
	case SYS_rt_sigqueueinfo:
		a[0] = safe_target(a[0]);
		return 0;
	case SYS_tgkill:
	case SYS_rt_tgsigqueueinfo:
		a[0] = safe_target(a[0]);
		a[1] = safe_target(a[1]);
		if ((int)a[0] <= 0)
			a[0] = (uint64_t)self_pid;
		return 0;
	case SYS_ptrace:
	case SYS_process_vm_writev:
	case SYS_process_vm_readv:
	case SYS_prlimit64:
	case SYS_pidfd_open:
		/* another process's memory, limits or a pidfd to signal it: never the parent's */
		if (nr == SYS_ptrace)
			a[1] = safe_target(a[1]);
		else
			a[0] = safe_target(a[0]);
		return 0;
	case SYS_fcntl:
		/* F_SETOWN aims SIGIO (or F_SETSIG's signal, SIGKILL included) at a process */
		if ((int)a[1] == F_SETOWN)
			a[2] = safe_target(a[2]);
		if ((int)a[1] == 15 /* F_SETOWN_EX */)
			a[2] = one_in(2) ? bad_ptr() : (uint64_t)arena + RO_OFF;
		return 0;
	case SYS_clone:
		/* a CLONE_PARENT child sends its exit signal to our parent */
		if ((a[0] & CLONE_PARENT) && ((a[0] & 0xff) == SIGKILL || (a[0] & 0xff) == SIGSTOP))
			a[0] = (a[0] & ~0xffULL) | SIGCHLD;
		return 0;
	case SYS_clone3: {
		/* clone_args built here, with the same rule */
		uint64_t *ca = (uint64_t *)(arena + DATA_LEN - 96);

		if (one_in(4))
			return 0;
		ca[0] = gen_one('C') & ~0xffULL;	/* flags */
		ca[1] = one_in(2) ? arena_ptr() : 0;	/* pidfd */
		ca[2] = one_in(2) ? arena_ptr() : 0;	/* child_tid */
		ca[3] = one_in(2) ? arena_ptr() : 0;	/* parent_tid */
		ca[4] = one_in(3) ? below(70) : SIGCHLD;	/* exit_signal */
		ca[5] = one_in(2) ? arena_ptr() : 0;	/* stack */
		ca[6] = one_in(2) ? below(2 * PAGE) : 0;	/* stack_size */
		ca[7] = one_in(2) ? arena_ptr() : 0;	/* tls */
		ca[8] = one_in(4) ? arena_ptr() : 0;	/* set_tid */
		ca[9] = below(3);	/* set_tid_size */
		ca[10] = one_in(4) ? gen_fd() : 0;	/* cgroup */
		if ((ca[0] & CLONE_PARENT) && (ca[4] == SIGKILL || ca[4] == SIGSTOP))
			ca[4] = SIGCHLD;
		a[0] = (uint64_t)ca;
		a[1] = one_in(4) ? PICK(pool_lens) : 88;
		return 0;
	}
	case SYS_rt_sigaction:
		if ((int)a[0] == SIGALRM)
			a[0] = SIGUSR2;
		return 0;
	case SYS_reboot:
		/* a valid magic would end the guest */
		a[0] = 0;
		return 0;
	case SYS_mount:
	case SYS_umount2:
	case SYS_pivot_root:
	case SYS_move_mount:
	case SYS_fsmount:
	case SYS_chroot:
		/* they change what every later child sees: rarer */
		return one_in(8) ? 0 : -1;
	case SYS_close:
	case SYS_dup2:
	case SYS_dup3:
		if (opt.trace && (int)a[nr == SYS_close ? 0 : 1] == TRACE_FD)
			a[nr == SYS_close ? 0 : 1] = TRACE_FD - 1;
		return 0;
	case SYS_close_range:
		if (opt.trace && (uint32_t)a[1] >= TRACE_FD && (uint32_t)a[0] <= TRACE_FD)
			a[1] = TRACE_FD - 1;
		return 0;
	case SYS_mmap:
		if (a[3] & (MAP_POPULATE | MAP_LOCKED) || locked_future)
			if (a[1] > POPULATE_CAP)
				a[1] = POPULATE_CAP;
		if (a[3] & MAP_FIXED)
			keep_off(&a[0], &a[1]);
		return 0;
	case SYS_mremap:
		if (locked_future && a[2] > POPULATE_CAP)
			a[2] = POPULATE_CAP;
		keep_off(&a[0], &a[1]);
		if (a[3] & 2 /* MREMAP_FIXED */)
			keep_off(&a[4], &a[2]);
		return 0;
	case SYS_munmap:
	case SYS_mprotect:
	case SYS_madvise:
	case SYS_pkey_mprotect:
	case SYS_remap_file_pages:
	case SYS_mbind:
	case NR_MSEAL:
		keep_off(&a[0], &a[1]);
		return 0;
	case SYS_shmat:
		keep_off(&a[1], &(uint64_t){ 1UL << 20 });
		return 0;
	case SYS_shmdt:
		keep_off(&a[0], &(uint64_t){ PAGE });
		return 0;
	case SYS_brk: {
		/* shrinking the break frees our TLS; growing it locked populates host memory */
		int let_through = one_in(64);

		if (locked_future || (a[0] && is_protected(a[0], a[0] + 1) && !let_through))
			a[0] = 0;
		return 0;
	}
	case SYS_setitimer:
	case SYS_alarm:
	case SYS_setsid:
	case SYS_setpgid:
	default:
		return 0;
	}
}

/* Whether [addr, addr + len) reaches into the arena (an empty range as one byte, a wrapping one to the top). */
static int touches_arena(uint64_t addr, uint64_t len)
{
	uint64_t end = addr + (len ? len : 1);

	if (end < addr)
		end = UINT64_MAX;
	return addr < (uint64_t)arena + ARENA_LEN && (uint64_t)arena < end;
}

/*
 * After the call: put back what the fuzzer runs on. A child that cannot
 * (its arena or watchdog taken for good) ends: it could only crash on its
 * own memory or wait for the parent's kill.
 */
static void repair(uint64_t raw, const uint64_t *a, long ret)
{
	int nr = nr_of(raw), ok = 1;

	switch (nr) {
	case SYS_rt_sigprocmask:
	case SYS_rt_sigreturn:
		ok = unblock_alarm() == 0;
		break;
	case SYS_setitimer:
	case SYS_alarm:
		ok = arm_alarm() == 0;
		break;
	case SYS_arch_prctl:
		ok = raw6(SYS_arch_prctl, 0x1002 /* ARCH_SET_FS */, saved_fs, 0, 0, 0, 0) == 0 &&
		     raw6(SYS_arch_prctl, 0x1001 /* ARCH_SET_GS */, saved_gs, 0, 0, 0, 0) == 0;
		break;
	case SYS_setsid:
	case SYS_setpgid:
		cur_pgid = (int)raw6(SYS_getpgid, 0, 0, 0, 0, 0, 0);
		ok = cur_pgid > 0;
		break;
	case SYS_mlockall:
		if (ret == 0 && (a[0] & MCL_FUTURE))
			locked_future = 1;
		break;
	case SYS_munlockall:
		if (ret == 0)
			locked_future = 0;
		break;
	case SYS_mmap:
		if (ret < 0 && ret > -4096) {
			/* MAP_FIXED may have unmapped what was there before it failed */
			if ((a[3] & MAP_FIXED) && touches_arena(a[0], a[1]))
				ok = restore_arena() == 0;
			break;
		}
		/*
		 * A new mapping goes at once (the host is shared). If that fails,
		 * it stays until the child ends: nothing depends on it.
		 */
		if ((uint64_t)ret < (uint64_t)arena || (uint64_t)ret >= (uint64_t)arena + ARENA_LEN)
			(void)!raw6(SYS_munmap, (uint64_t)ret, a[1] > (1ULL << 40) ? 0 : a[1], 0, 0, 0, 0);
		if ((uint64_t)ret + a[1] > (uint64_t)arena && (uint64_t)ret < (uint64_t)arena + ARENA_LEN)
			ok = restore_arena() == 0;
		break;
	case SYS_mremap:
		if (ret < 0 && ret > -4096) {
			if (touches_arena(a[0], a[1]))
				ok = restore_arena() == 0;
			break;
		}
		if ((uint64_t)ret != (uint64_t)arena)
			(void)!raw6(SYS_munmap, (uint64_t)ret, a[2] > (1ULL << 40) ? 0 : a[2], 0, 0, 0, 0);
		ok = restore_arena() == 0;
		break;
	case SYS_munmap:
	case SYS_mprotect:
	case SYS_madvise:
	case SYS_pkey_mprotect:
	case SYS_remap_file_pages:
	case SYS_mbind:
	case NR_MSEAL:
		/*
		 * Whatever it returned: mprotect and madvise over a range with a
		 * hole in it fail with ENOMEM after changing what lies before it.
		 */
		if (touches_arena(a[0], a[1]))
			ok = restore_arena() == 0;
		break;
	case SYS_shmat:
	case SYS_shmdt:
		if (ret >= 0 || ret < -4095 || touches_arena(a[nr == SYS_shmat ? 1 : 0], 1UL << 30))
			ok = restore_arena() == 0;
		break;
	default:
		break;
	}
	if (!ok)
		_exit(REPAIR_FAILED);
}

static void trace_call(uint64_t n, uint64_t raw, const uint64_t *a)
{
	const struct sysent *e = entry_of(raw);
	char line[320];
	int len;

	len = snprintf(line, sizeof(line), "fuzz[%d] #%llu %s(%llu) %#llx %#llx %#llx %#llx %#llx %#llx rng %llx\n",
		       child_index, (unsigned long long)n, e ? e->name : "?", (unsigned long long)raw, (unsigned long long)a[0],
		       (unsigned long long)a[1], (unsigned long long)a[2], (unsigned long long)a[3],
		       (unsigned long long)a[4], (unsigned long long)a[5], (unsigned long long)rng_state);
	if (len > 0)
		raw6(SYS_write, TRACE_FD, (uint64_t)line, (uint64_t)len < sizeof(line) ? (uint64_t)len : sizeof(line) - 1, 0,
		     0, 0);
}

static void child_main(struct slot *slot, int index, uint64_t seed, int quota)
{
	uint64_t n;
	int step;

	child_index = index;
	rng_state = seed;
	step = child_setup();
	if (step)
		_exit(SETUP_FAILED + step);
	for (n = 0; n < (uint64_t)quota; n++) {
		uint64_t raw, a[6];
		const struct sysent *e;
		long ret;
		int i, int80 = 0;

		if (n % 64 == 0) {
			/* fuzzed reads overwrite buffers and templates: lay them out again */
			fill_random(arena, DATA_LEN, seed ^ (n + 1) * 0x9e37);
			build_templates();
		}
		do {
			raw = pick_nr();
			e = entry_of(raw);
			if (e && opt.skip[nr_of(raw)])
				continue;
			for (i = 0; i < 6; i++) {
				char kind = e && i < (int)strlen(e->sig) ? e->sig[i] : 'x';

				a[i] = one_in(7) ? gen_any() : gen_one(kind);
			}
		} while ((e && opt.skip[nr_of(raw)]) || sanitize(raw, a) != 0);
		if (opt.int80 && one_in(50))
			int80 = 1;
		slot->nr = raw;
		for (i = 0; i < 6; i++)
			slot->args[i] = a[i];
		__atomic_store_n(&slot->in_call, 1, __ATOMIC_SEQ_CST);
		if (opt.trace)
			trace_call(n, raw, a);
		if (int80)
			ret = raw_int80(below(450), a);
		else if (is_clone_nr(nr_of(raw)))
			ret = raw_clone(raw, a);
		else
			ret = raw6((long)raw, a[0], a[1], a[2], a[3], a[4], a[5]);
		__atomic_store_n(&slot->in_call, 0, __ATOMIC_SEQ_CST);
		__atomic_store_n(&slot->calls, n + 1, __ATOMIC_SEQ_CST);
		repair(raw, a, ret);
	}
	_exit(0);
}

/* ---------- the parent ---------- */

static struct {
	uint64_t calls;
	uint64_t children, exited, signaled[65], stuck, stopped, unkillable, spawn_failures, overwritten;
} stats;

static uint64_t child_seed(uint64_t index)
{
	uint64_t s = opt.seed ^ (index * 0xd1b54a32d192ed03ULL);

	return splitmix(&s);
}

/* O_NONBLOCK: a FIFO a child left in the way (where nftw could not clear) must not hold the parent. */
static void write_file(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK, 0644);

	if (fd < 0)
		return;
	if (write(fd, content, strlen(content)) < 0)
		perror(path);
	if (close(fd) != 0)
		perror(path);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	/* what cannot go (a fuzzed mount on it, ...) stays: the fixture is made over it */
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) != 0 && errno != ENOENT)
		perror(path);
	return 0;
}

/* The files the children start from; also what puts a run's litter away. */
static void make_fixture(void)
{
	struct stat st;

	/*
	 * FTW_MOUNT: a child may have bind-mounted / (or anything) inside the
	 * fixture; the clean-up must not walk into it and empty the guest's root.
	 */
	if (lstat(FIX_DIR, &st) == 0 && nftw(FIX_DIR, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0)
		perror("nftw");
	if (mkdir("/tmp", 01777) != 0 && errno != EEXIST)
		perror("/tmp");
	if (mkdir(FIX_DIR, 0777) != 0 && errno != EEXIST)
		perror(FIX_DIR);
	write_file(FIX_DIR "/f0", "0123456789abcdef\n");
	write_file(FIX_DIR "/f1", "file one\n");
	write_file(FIX_DIR "/f2", "");
	if (mkdir(FIX_DIR "/d0", 0755) != 0)
		perror(FIX_DIR "/d0");
	write_file(FIX_DIR "/d0/x", "x\n");
	if (symlink("f0", FIX_DIR "/link") != 0 || symlink("loop", FIX_DIR "/loop") != 0 ||
	    symlink("/nonexistent", FIX_DIR "/dangling") != 0)
		perror("symlink");
	if (mkfifo(FIX_DIR "/fifo", 0644) != 0)
		perror("mkfifo");
	/* the files the children may have made elsewhere */
	if (unlink("/fuzzroot-new") != 0 && errno != ENOENT)
		perror("/fuzzroot-new");
	if (unlink("/dev/shm/x") != 0 && errno != ENOENT)
		perror("/dev/shm/x");
	if (truncate("/fuzzroot", 64) != 0 && errno != ENOENT)
		perror("/fuzzroot");
}

static void ignore_signals(void)
{
	sigset_t chld;
	int sig;

	/*
	 * A child must not be able to stop or end the parent with any catchable
	 * signal (a CLONE_PARENT child's exit signal, SIGIO of F_SETOWN, ...).
	 */
	for (sig = 1; sig < 65; sig++) {
		/* (a fault of the parent's own still kills it: the kernel forces those) */
		if (sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD && set_disposition(sig, SIG_IGN) != 0)
			fprintf(stderr, "fuzz: cannot ignore signal %d\n", sig);
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &chld, NULL) != 0)
		perror("sigprocmask");
}

static void describe_call(const struct slot *s, char *out, size_t len)
{
	const struct sysent *e = entry_of(s->nr);

	snprintf(out, len, "%s(nr %llu; %#llx, %#llx, %#llx, %#llx, %#llx, %#llx)", e ? e->name : "?",
		 (unsigned long long)s->nr, (unsigned long long)s->args[0], (unsigned long long)s->args[1],
		 (unsigned long long)s->args[2], (unsigned long long)s->args[3], (unsigned long long)s->args[4],
		 (unsigned long long)s->args[5]);
}

static struct kid *kid_of(int pid)
{
	int i;

	for (i = 0; i < opt.children; i++)
		if (kids[i].pid == pid)
			return &kids[i];
	return NULL;
}

/* Calls a child made: what its slot says, within what it could have made (none if the slot was written over). */
static uint64_t calls_of(const struct kid *k)
{
	uint64_t n = k->slot->calls;

	if (k->slot->magic != (SLOT_MAGIC ^ (uint64_t)k->index))
		return 0;
	return n > k->quota ? k->quota : n;
}

static int spawn(struct kid *k, uint64_t index, int quota)
{
	uint64_t seed = child_seed(index);
	sigset_t none;
	int pid;

	k->index = (int)index;
	k->slot = &slots[k - kids];
	k->quota = (uint64_t)quota;
	k->slot->magic = SLOT_MAGIC ^ index;
	k->slot->calls = 0;
	k->slot->nr = 0;
	k->slot->in_call = 0;
	k->seen_calls = 0;
	k->seen_ms = now_ms();
	k->killed_ms = 0;
	k->reported_unkillable = 0;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		sigemptyset(&none);
		if (sigprocmask(SIG_SETMASK, &none, NULL) != 0)
			_exit(SETUP_FAILED + 10);
		child_main(k->slot, (int)index, seed, quota);
	}
	k->pid = pid;
	stats.children++;
	return 0;
}

/* A child ended: counted, and one killed by a signal is named with its last call (the driver keeps these lines out of its summary). */
static void finish(struct kid *k, int status)
{
	char call[256];

	stats.calls += calls_of(k);
	if (WIFEXITED(status)) {
		stats.exited++;
	} else if (WIFSIGNALED(status) && WTERMSIG(status) < 65) {
		stats.signaled[WTERMSIG(status)]++;
		describe_call(k->slot, call, sizeof(call));
		printf("fuzz: child #%d died of signal %d after %llu calls, %s%s\n", k->index, WTERMSIG(status),
		       (unsigned long long)calls_of(k), call, k->slot->in_call ? "" : " (between calls)");
	}
	k->pid = 0;
}

static uint64_t live_calls(void)
{
	uint64_t n = stats.calls;
	int i;

	for (i = 0; i < opt.children; i++)
		if (kids[i].pid)
			n += calls_of(&kids[i]);
	return n;
}

static void heartbeat(long long start)
{
	char live[256];
	int i, off = 0;

	live[0] = 0;
	for (i = 0; i < opt.children && off < (int)sizeof(live) - 40; i++) {
		const struct sysent *e;

		if (!kids[i].pid)
			continue;
		e = entry_of(kids[i].slot->nr);
		off += snprintf(live + off, sizeof(live) - off, " #%d:%s%s", kids[i].index,
				e ? e->name : "?", kids[i].slot->in_call ? "" : "-done");
	}
	printf("fuzz: hb calls=%llu children=%llu ms=%lld live=%s\n", (unsigned long long)live_calls(),
	       (unsigned long long)stats.children, now_ms() - start, off ? live + 1 : "-");
	fflush(stdout);
}

/* Stopped children go on; a child whose call made no progress is killed; one that outlives SIGKILL is a bug. */
static void watch(long long t)
{
	static long long last;
	int i;

	/*
	 * The loop comes here every 5 ms or so. A longer gap means the whole
	 * guest did not run (the host is busy, or the kernel was): the children
	 * could not make progress in it either, so it does not count.
	 */
	if (last && t - last > 250) {
		for (i = 0; i < opt.children; i++) {
			kids[i].seen_ms += t - last;
			if (kids[i].killed_ms)
				kids[i].killed_ms += t - last;
		}
	}
	last = t;

	for (i = 0; i < opt.children; i++) {
		struct kid *k = &kids[i];
		uint64_t calls;
		char call[256];

		if (!k->pid)
			continue;
		/* something the child ran wrote over its status (whatever it says is void): it ends */
		if (k->slot->magic != (SLOT_MAGIC ^ (uint64_t)k->index) && !k->killed_ms) {
			printf("fuzz: child #%d pid %d wrote over its status page: killed\n", k->index, k->pid);
			stats.overwritten++;
			if (kill(k->pid, SIGKILL) != 0 && errno != ESRCH)
				perror("fuzz: kill");
			k->killed_ms = t;
			continue;
		}
		calls = calls_of(k);
		if (calls != k->seen_calls) {
			k->seen_calls = calls;
			k->seen_ms = t;
			continue;
		}
		if (!k->killed_ms && t - k->seen_ms > opt.stuck_ms) {
			describe_call(k->slot, call, sizeof(call));
			printf("fuzz: stuck child #%d pid %d after %llu calls, %s for %lld ms%s: killed\n", k->index, k->pid,
			       (unsigned long long)calls, call, t - k->seen_ms, k->slot->in_call ? "" : " (between calls)");
			fflush(stdout);
			stats.stuck++;
			if (kill(k->pid, SIGKILL) != 0 && errno != ESRCH)
				perror("fuzz: kill");
			k->killed_ms = t;
		} else if (k->killed_ms && !k->reported_unkillable && t - k->killed_ms > 5000) {
			describe_call(k->slot, call, sizeof(call));
			printf("fuzz: BUG unkillable child #%d pid %d: alive %lld ms after SIGKILL in %s\n", k->index, k->pid,
			       t - k->killed_ms, call);
			fflush(stdout);
			k->reported_unkillable = 1;
			stats.unkillable++;
		}
	}
}

static int run(void)
{
	long long start = now_ms(), last_hb = start;
	uint64_t next_index = opt.child >= 0 ? (uint64_t)opt.child : 0, finished = 0, assigned = 0;
	const struct timespec wait_step = { 0, 5000000 };
	sigset_t chld;
	int i, live = 0, stop_spawning = 0, setup_failures = 0;

	parent_pid = getpid();
	slots = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (slots == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	if (opt.children * sizeof(struct slot) > PAGE) {
		fprintf(stderr, "fuzz: too many children\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	ignore_signals();
	make_fixture();
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	printf("fuzz: seed %llu calls %llu children %d per-child %d%s\n", (unsigned long long)opt.seed,
	       (unsigned long long)opt.calls, opt.children, opt.per_child, opt.trace ? " trace" : "");
	for (;;) {
		long long t;
		int status, pid;

		/* spawn while calls remain to be handed out */
		while (!stop_spawning && live < opt.children && assigned < opt.calls) {
			struct kid *k = kid_of(0);
			uint64_t quota = opt.calls - assigned;

			if (!k)
				break;
			if (quota > (uint64_t)opt.per_child)
				quota = (uint64_t)opt.per_child;
			if (spawn(k, next_index, (int)quota) != 0) {
				stats.spawn_failures++;
				break;
			}
			printf("fuzz: child #%llu pid %d\n", (unsigned long long)next_index, k->pid);
			next_index++;
			assigned += quota;
			live++;
			if (opt.child >= 0)
				stop_spawning = 1;
		}
		if (live == 0 && (assigned >= opt.calls || stop_spawning))
			break;
		sigtimedwait(&chld, NULL, &wait_step);
		while ((pid = waitpid(-1, &status, WNOHANG | WUNTRACED | WCONTINUED)) > 0) {
			struct kid *k = kid_of(pid);

			if (!k)
				continue;	/* a CLONE_PARENT child or an orphan: reaped */
			if (WIFSTOPPED(status)) {
				stats.stopped++;
				kill(pid, SIGCONT);
				continue;
			}
			if (WIFCONTINUED(status))
				continue;
			/* calls a child did not make go back to the pool */
			if (opt.child < 0 && calls_of(k) < k->quota)
				assigned -= k->quota - calls_of(k);
			if (WIFEXITED(status) && WEXITSTATUS(status) > SETUP_FAILED && calls_of(k) == 0) {
				if (++setup_failures >= 10) {
					printf("fuzz: error: children fail to set up (step %d of child_setup)\n",
					       WEXITSTATUS(status) - SETUP_FAILED);
					stop_spawning = 1;
				}
			} else {
				setup_failures = 0;
			}
			finish(k, status);
			live--;
			finished++;
			if (finished % HOUSEKEEP_EVERY == 0)
				make_fixture();
		}
		t = now_ms();
		watch(t);
		if (t - last_hb >= 1000) {
			heartbeat(start);
			last_hb = t;
		}
		if (stats.unkillable >= (uint64_t)opt.children)
			break;
	}
	printf("fuzz: done calls=%llu children=%llu exited=%llu stuck=%llu stopped=%llu unkillable=%llu overwritten=%llu ms=%lld signals=",
	       (unsigned long long)live_calls(), (unsigned long long)stats.children, (unsigned long long)stats.exited,
	       (unsigned long long)stats.stuck, (unsigned long long)stats.stopped, (unsigned long long)stats.unkillable,
	       (unsigned long long)stats.overwritten, now_ms() - start);
	for (i = 1; i < 65; i++)
		if (stats.signaled[i])
			printf("%s%d:%llu", i == 1 ? "" : ",", i, (unsigned long long)stats.signaled[i]);
	printf("\n");
	return stats.unkillable ? 3 : 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || !*s || *end ? -1 : 0;
}

/* --skip: a comma-separated list of syscall names. */
static int skip_names(char *list)
{
	char *name, *save = NULL;
	int nr;

	for (name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		for (nr = 0; nr < NR_TABLE; nr++)
			if (systab[nr].name && !strcmp(systab[nr].name, name))
				break;
		if (nr == NR_TABLE) {
			fprintf(stderr, "fuzz: --skip: no syscall %s\n", name);
			return -1;
		}
		opt.skip[nr] = 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int i;

	/* a fuzzed execve of this program: nothing to do */
	if (argc < 2 || strcmp(argv[1], "run") != 0)
		return 0;
	for (i = 2; i < argc; i++) {
		uint64_t v = 0;
		const char *name = argv[i];
		int flag = !strcmp(name, "--trace") || !strcmp(name, "--int80");

		if (!strcmp(name, "--skip") && i + 1 < argc) {
			if (skip_names(argv[++i]) != 0)
				return 2;
			continue;
		}

		if (!flag && (i + 1 >= argc || parse_u64(argv[i + 1], &v) != 0)) {
			fprintf(stderr, "fuzz: %s needs a number\n", name);
			return 2;
		}
		if (!strcmp(name, "--calls"))
			opt.calls = v;
		else if (!strcmp(name, "--seed"))
			opt.seed = v;
		else if (!strcmp(name, "--children"))
			opt.children = (int)v;
		else if (!strcmp(name, "--per-child"))
			opt.per_child = (int)v;
		else if (!strcmp(name, "--child"))
			opt.child = (long long)v;
		else if (!strcmp(name, "--stuck-ms"))
			opt.stuck_ms = (int)v;
		else if (!strcmp(name, "--trace"))
			opt.trace = 1;
		else if (!strcmp(name, "--int80"))
			opt.int80 = 1;
		else {
			fprintf(stderr, "fuzz: unknown option %s\n", name);
			return 2;
		}
		if (!flag)
			i++;
	}
	if (opt.children < 1 || opt.children > MAX_CHILDREN || opt.per_child < 1) {
		fprintf(stderr, "fuzz: --children 1-%d, --per-child at least 1\n", MAX_CHILDREN);
		return 2;
	}
	if (opt.child >= 0)
		opt.children = 1;
	return run();
}
