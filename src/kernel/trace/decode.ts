/**
 * Syscall arguments and results as strace shows them: paths as strings,
 * flags as names (O_RDONLY|O_CLOEXEC), structs by field ({st_mode=S_IFREG|0644,
 * st_size=6, ...}), buffers quoted and cut to a size ("abc"...), errors by
 * name and meaning (-1 ENOENT (No such file or directory)).
 *
 * Each syscall has a signature: one kind per argument. Input arguments are
 * decoded when the call enters; output arguments (read's data, stat's
 * struct) when it returns, and only if it succeeded. Decoding reads guest
 * memory but never fails: what cannot be read shows as its address.
 *
 * Flag and constant names come from the syscall families' exported
 * constants; the few those keep private (clone, fcntl, wait, lseek) are
 * listed here.
 */
import { posix } from 'node:path';
import { MAP_ANONYMOUS, MAP_DENYWRITE, MAP_EXECUTABLE, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_GROWSDOWN, MAP_HUGETLB,
  MAP_LOCKED, MAP_NONBLOCK, MAP_NORESERVE, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED, MAP_SHARED_VALIDATE, MAP_STACK,
  MAP_SYNC, PROT_EXEC, PROT_READ, PROT_WRITE } from '../address-space.ts';
import { errnoName } from '../errno.ts';
import { readI64, readU64 } from '../guest-memory.ts';
import type { Kernel } from '../kernel.ts';
import { AT_EMPTY_PATH, AT_FDCWD, AT_NO_AUTOMOUNT, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, AT_SYMLINK_NOFOLLOW } from '../lookup.ts';
import { SA_NOCLDSTOP, SA_NOCLDWAIT, SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_RESTART, SA_RESTORER, SA_SIGINFO,
  SIG_DFL, SIG_IGN, SIGNAL_NAMES } from '../signal-state.ts';
import { NR, SYSCALL_NAMES } from '../syscall-names.ts';
import { RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT, cwdPath } from '../syscalls/fs-dir.ts';
import { O_ACCMODE, O_APPEND, O_ASYNC, O_CLOEXEC, O_CREAT, O_DIRECT, O_DIRECTORY, O_DSYNC, O_EXCL, O_LARGEFILE,
  O_NOATIME, O_NOCTTY, O_NOFOLLOW, O_NONBLOCK, O_PATH, O_RDONLY, O_RDWR, O_SYNC, O_TMPFILE, O_TRUNC,
  O_WRONLY } from '../syscalls/fs-io.ts';
import { AT_EACCESS, R_OK, STAT_SIZE, STATFS_SIZE, STATX_ATIME, STATX_BASIC_STATS, STATX_BLOCKS, STATX_BTIME,
  STATX_CTIME, STATX_GID, STATX_INO, STATX_MODE, STATX_MTIME, STATX_NLINK, STATX_SIZE, STATX_STRUCT_SIZE,
  STATX_TYPE, STATX_UID, S_ISGID, S_ISUID, S_ISVTX, UTIME_NOW, UTIME_OMIT, W_OK, X_OK } from '../syscalls/fs-meta.ts';
import { FUTEX_CLOCK_REALTIME, FUTEX_CMP_REQUEUE, FUTEX_CMP_REQUEUE_PI, FUTEX_FD, FUTEX_LOCK_PI, FUTEX_LOCK_PI2,
  FUTEX_PRIVATE_FLAG, FUTEX_REQUEUE, FUTEX_TRYLOCK_PI, FUTEX_UNLOCK_PI, FUTEX_WAIT, FUTEX_WAIT_BITSET,
  FUTEX_WAIT_REQUEUE_PI, FUTEX_WAKE, FUTEX_WAKE_BITSET, FUTEX_WAKE_OP, GRND_INSECURE, GRND_NONBLOCK, GRND_RANDOM,
  RLIMIT_NAMES } from '../syscalls/misc.ts';
import { SIG_BLOCK, SIG_SETMASK, SIG_UNBLOCK } from '../syscalls/signal.ts';
import { CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC_RAW, CLOCK_PROCESS_CPUTIME_ID,
  CLOCK_REALTIME, CLOCK_REALTIME_COARSE, CLOCK_TAI, CLOCK_THREAD_CPUTIME_ID, ITIMER_PROF, ITIMER_REAL,
  ITIMER_VIRTUAL, TIMER_ABSTIME } from '../syscalls/time.ts';
import type { Task } from '../task.ts';
import { major, minor } from '../vfs/mounts.ts';
import { FIONBIO, FIONREAD, TCFLSH, TCGETA, TCGETS, TCGETS2, TCSBRK, TCSBRKP, TCSETA, TCSETAF, TCSETAW, TCSETS,
  TCSETS2, TCSETSF, TCSETSF2, TCSETSW, TCSETSW2, TCXONC, TIOCCBRK, TIOCEXCL, TIOCGDEV, TIOCGETD, TIOCGEXCL,
  TIOCGPGRP, TIOCGSID, TIOCGWINSZ, TIOCNOTTY, TIOCNXCL, TIOCOUTQ, TIOCSBRK, TIOCSCTTY, TIOCSETD, TIOCSPGRP,
  TIOCSTI, TIOCSWINSZ, TIOCVHANGUP } from '../vfs/tty.ts';
import { POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLPRI, POLLRDNORM, POLLWRNORM, S_IFBLK, S_IFCHR, S_IFDIR,
  S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK } from '../vfs/types.ts';

// ----- constants the syscall families keep private -----

/** clone(2) flags (include/uapi/linux/sched.h); the low byte is the exit signal. */
const CLONE_FLAGS: Flag[] = [
  ['CLONE_VM', 0x100], ['CLONE_FS', 0x200], ['CLONE_FILES', 0x400], ['CLONE_SIGHAND', 0x800],
  ['CLONE_PIDFD', 0x1000], ['CLONE_PTRACE', 0x2000], ['CLONE_VFORK', 0x4000], ['CLONE_PARENT', 0x8000],
  ['CLONE_THREAD', 0x10000], ['CLONE_NEWNS', 0x20000], ['CLONE_SYSVSEM', 0x40000], ['CLONE_SETTLS', 0x80000],
  ['CLONE_PARENT_SETTID', 0x100000], ['CLONE_CHILD_CLEARTID', 0x200000], ['CLONE_DETACHED', 0x400000],
  ['CLONE_UNTRACED', 0x800000], ['CLONE_CHILD_SETTID', 0x1000000], ['CLONE_NEWCGROUP', 0x2000000],
  ['CLONE_NEWUTS', 0x4000000], ['CLONE_NEWIPC', 0x8000000], ['CLONE_NEWUSER', 0x10000000],
  ['CLONE_NEWPID', 0x20000000], ['CLONE_NEWNET', 0x40000000], ['CLONE_IO', 0x80000000],
];

/** fcntl(2) commands (include/uapi/asm-generic/fcntl.h, linux/fcntl.h). */
const FCNTL_CMDS: Record<number, string> = {
  0: 'F_DUPFD', 1: 'F_GETFD', 2: 'F_SETFD', 3: 'F_GETFL', 4: 'F_SETFL', 5: 'F_GETLK', 6: 'F_SETLK', 7: 'F_SETLKW',
  8: 'F_SETOWN', 9: 'F_GETOWN', 36: 'F_OFD_GETLK', 37: 'F_OFD_SETLK', 38: 'F_OFD_SETLKW', 1030: 'F_DUPFD_CLOEXEC',
  1031: 'F_SETPIPE_SZ', 1032: 'F_GETPIPE_SZ', 1033: 'F_ADD_SEALS', 1034: 'F_GET_SEALS',
};
const F_DUPFD = 0, F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, F_DUPFD_CLOEXEC = 1030, F_SETPIPE_SZ = 1031,
  F_SETOWN = 8;
const FD_CLOEXEC = 1;

/** wait4/waitid options (include/uapi/linux/wait.h). */
const WAIT_OPTIONS: Flag[] = [
  ['WNOHANG', 1], ['WUNTRACED', 2], ['WEXITED', 4], ['WCONTINUED', 8], ['WNOWAIT', 0x01000000],
  ['__WNOTHREAD', 0x20000000], ['__WALL', 0x40000000], ['__WCLONE', 0x80000000],
];
const ID_TYPES = ['P_ALL', 'P_PID', 'P_PGID', 'P_PIDFD'];
const WHENCE = ['SEEK_SET', 'SEEK_CUR', 'SEEK_END', 'SEEK_DATA', 'SEEK_HOLE'];
const ARCH_PRCTL: Record<number, string> = {
  0x1001: 'ARCH_SET_GS', 0x1002: 'ARCH_SET_FS', 0x1003: 'ARCH_GET_FS', 0x1004: 'ARCH_GET_GS',
  0x1011: 'ARCH_GET_CPUID', 0x1012: 'ARCH_SET_CPUID',
};
const PRCTL: Record<number, string> = {
  1: 'PR_SET_PDEATHSIG', 2: 'PR_GET_PDEATHSIG', 3: 'PR_GET_DUMPABLE', 4: 'PR_SET_DUMPABLE', 15: 'PR_SET_NAME',
  16: 'PR_GET_NAME', 22: 'PR_SET_SECCOMP', 36: 'PR_SET_CHILD_SUBREAPER', 37: 'PR_GET_CHILD_SUBREAPER',
  38: 'PR_SET_NO_NEW_PRIVS', 39: 'PR_GET_NO_NEW_PRIVS',
};
const PR_SET_NAME = 15;
const PROT_SEM = 0x8, PROT_GROWSDOWN = 0x01000000, PROT_GROWSUP = 0x02000000;
const MAP_32BIT = 0x40;
const POLLRDBAND = 0x080, POLLWRBAND = 0x200, POLLRDHUP = 0x2000;

// ----- flag tables from the families' constants -----

type Flag = readonly [name: string, mask: number];

const OPEN_FLAGS: Flag[] = [
  ['O_CREAT', O_CREAT], ['O_EXCL', O_EXCL], ['O_NOCTTY', O_NOCTTY], ['O_TRUNC', O_TRUNC], ['O_APPEND', O_APPEND],
  ['O_NONBLOCK', O_NONBLOCK], ['O_SYNC', O_SYNC], ['O_DSYNC', O_DSYNC], ['O_ASYNC', O_ASYNC], ['O_DIRECT', O_DIRECT],
  ['O_LARGEFILE', O_LARGEFILE], ['O_TMPFILE', O_TMPFILE], ['O_DIRECTORY', O_DIRECTORY], ['O_NOFOLLOW', O_NOFOLLOW],
  ['O_NOATIME', O_NOATIME], ['O_CLOEXEC', O_CLOEXEC], ['O_PATH', O_PATH],
];
const ACCESS_MODES = ['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'];
const PROT_FLAGS: Flag[] = [
  ['PROT_READ', PROT_READ], ['PROT_WRITE', PROT_WRITE], ['PROT_EXEC', PROT_EXEC], ['PROT_SEM', PROT_SEM],
  ['PROT_GROWSDOWN', PROT_GROWSDOWN], ['PROT_GROWSUP', PROT_GROWSUP],
];
const MAP_TYPES: Record<number, string> = {
  [MAP_SHARED]: 'MAP_SHARED', [MAP_PRIVATE]: 'MAP_PRIVATE', [MAP_SHARED_VALIDATE]: 'MAP_SHARED_VALIDATE',
};
const MAP_FLAGS: Flag[] = [
  ['MAP_FIXED', MAP_FIXED], ['MAP_ANONYMOUS', MAP_ANONYMOUS], ['MAP_32BIT', MAP_32BIT], ['MAP_GROWSDOWN', MAP_GROWSDOWN],
  ['MAP_DENYWRITE', MAP_DENYWRITE], ['MAP_EXECUTABLE', MAP_EXECUTABLE], ['MAP_LOCKED', MAP_LOCKED],
  ['MAP_NORESERVE', MAP_NORESERVE], ['MAP_POPULATE', MAP_POPULATE], ['MAP_NONBLOCK', MAP_NONBLOCK],
  ['MAP_STACK', MAP_STACK], ['MAP_HUGETLB', MAP_HUGETLB], ['MAP_SYNC', MAP_SYNC],
  ['MAP_FIXED_NOREPLACE', MAP_FIXED_NOREPLACE],
];
const AT_FLAGS: Flag[] = [
  ['AT_SYMLINK_NOFOLLOW', AT_SYMLINK_NOFOLLOW], ['AT_SYMLINK_FOLLOW', AT_SYMLINK_FOLLOW],
  ['AT_NO_AUTOMOUNT', AT_NO_AUTOMOUNT], ['AT_EMPTY_PATH', AT_EMPTY_PATH], ['AT_STATX_FORCE_SYNC', 0x2000],
  ['AT_STATX_DONT_SYNC', 0x4000],
];
const UNLINK_FLAGS: Flag[] = [['AT_REMOVEDIR', AT_REMOVEDIR]];
const ACCESS_FLAGS: Flag[] = [['AT_EACCESS', AT_EACCESS], ...AT_FLAGS];
const ACCESS_BITS: Flag[] = [['R_OK', R_OK], ['W_OK', W_OK], ['X_OK', X_OK]];
const SA_FLAGS: Flag[] = [
  ['SA_NOCLDSTOP', SA_NOCLDSTOP], ['SA_NOCLDWAIT', SA_NOCLDWAIT], ['SA_SIGINFO', SA_SIGINFO],
  ['SA_RESTORER', SA_RESTORER], ['SA_ONSTACK', SA_ONSTACK], ['SA_RESTART', SA_RESTART], ['SA_NODEFER', SA_NODEFER],
  ['SA_RESETHAND', SA_RESETHAND],
];
const POLL_FLAGS: Flag[] = [
  ['POLLIN', POLLIN], ['POLLPRI', POLLPRI], ['POLLOUT', POLLOUT], ['POLLERR', POLLERR], ['POLLHUP', POLLHUP],
  ['POLLNVAL', POLLNVAL], ['POLLRDNORM', POLLRDNORM], ['POLLRDBAND', POLLRDBAND], ['POLLWRNORM', POLLWRNORM],
  ['POLLWRBAND', POLLWRBAND], ['POLLRDHUP', POLLRDHUP],
];
const SIGHOW = { [SIG_BLOCK]: 'SIG_BLOCK', [SIG_UNBLOCK]: 'SIG_UNBLOCK', [SIG_SETMASK]: 'SIG_SETMASK' } as Record<number, string>;
const CLOCKS: Record<number, string> = {
  [CLOCK_REALTIME]: 'CLOCK_REALTIME', [CLOCK_MONOTONIC]: 'CLOCK_MONOTONIC',
  [CLOCK_PROCESS_CPUTIME_ID]: 'CLOCK_PROCESS_CPUTIME_ID', [CLOCK_THREAD_CPUTIME_ID]: 'CLOCK_THREAD_CPUTIME_ID',
  [CLOCK_MONOTONIC_RAW]: 'CLOCK_MONOTONIC_RAW', [CLOCK_REALTIME_COARSE]: 'CLOCK_REALTIME_COARSE',
  [CLOCK_MONOTONIC_COARSE]: 'CLOCK_MONOTONIC_COARSE', [CLOCK_BOOTTIME]: 'CLOCK_BOOTTIME', [CLOCK_TAI]: 'CLOCK_TAI',
};
const ITIMERS: Record<number, string> = { [ITIMER_REAL]: 'ITIMER_REAL', [ITIMER_VIRTUAL]: 'ITIMER_VIRTUAL', [ITIMER_PROF]: 'ITIMER_PROF' };
const FUTEX_OPS: Record<number, string> = {
  [FUTEX_WAIT]: 'FUTEX_WAIT', [FUTEX_WAKE]: 'FUTEX_WAKE', [FUTEX_FD]: 'FUTEX_FD', [FUTEX_REQUEUE]: 'FUTEX_REQUEUE',
  [FUTEX_CMP_REQUEUE]: 'FUTEX_CMP_REQUEUE', [FUTEX_WAKE_OP]: 'FUTEX_WAKE_OP', [FUTEX_LOCK_PI]: 'FUTEX_LOCK_PI',
  [FUTEX_UNLOCK_PI]: 'FUTEX_UNLOCK_PI', [FUTEX_TRYLOCK_PI]: 'FUTEX_TRYLOCK_PI', [FUTEX_WAIT_BITSET]: 'FUTEX_WAIT_BITSET',
  [FUTEX_WAKE_BITSET]: 'FUTEX_WAKE_BITSET', [FUTEX_WAIT_REQUEUE_PI]: 'FUTEX_WAIT_REQUEUE_PI',
  [FUTEX_CMP_REQUEUE_PI]: 'FUTEX_CMP_REQUEUE_PI', [FUTEX_LOCK_PI2]: 'FUTEX_LOCK_PI2',
};
const FUTEX_TIMED = new Set([FUTEX_WAIT, FUTEX_WAIT_BITSET, FUTEX_LOCK_PI, FUTEX_LOCK_PI2, FUTEX_WAIT_REQUEUE_PI]);
const RENAME_FLAGS: Flag[] = [
  ['RENAME_NOREPLACE', RENAME_NOREPLACE], ['RENAME_EXCHANGE', RENAME_EXCHANGE], ['RENAME_WHITEOUT', RENAME_WHITEOUT],
];
const GRND_FLAGS: Flag[] = [['GRND_NONBLOCK', GRND_NONBLOCK], ['GRND_RANDOM', GRND_RANDOM], ['GRND_INSECURE', GRND_INSECURE]];
const STATX_MASK: Flag[] = [
  ['STATX_BASIC_STATS', STATX_BASIC_STATS], ['STATX_TYPE', STATX_TYPE], ['STATX_MODE', STATX_MODE],
  ['STATX_NLINK', STATX_NLINK], ['STATX_UID', STATX_UID], ['STATX_GID', STATX_GID], ['STATX_ATIME', STATX_ATIME],
  ['STATX_MTIME', STATX_MTIME], ['STATX_CTIME', STATX_CTIME], ['STATX_INO', STATX_INO], ['STATX_SIZE', STATX_SIZE],
  ['STATX_BLOCKS', STATX_BLOCKS], ['STATX_BTIME', STATX_BTIME],
];
const FILE_TYPES: Record<number, string> = {
  [S_IFREG]: 'S_IFREG', [S_IFDIR]: 'S_IFDIR', [S_IFLNK]: 'S_IFLNK', [S_IFCHR]: 'S_IFCHR', [S_IFBLK]: 'S_IFBLK',
  [S_IFIFO]: 'S_IFIFO', [S_IFSOCK]: 'S_IFSOCK',
};
const IOCTLS: Record<number, string> = {
  [TCGETS]: 'TCGETS', [TCSETS]: 'TCSETS', [TCSETSW]: 'TCSETSW', [TCSETSF]: 'TCSETSF', [TCGETA]: 'TCGETA',
  [TCSETA]: 'TCSETA', [TCSETAW]: 'TCSETAW', [TCSETAF]: 'TCSETAF', [TCSBRK]: 'TCSBRK', [TCXONC]: 'TCXONC',
  [TCFLSH]: 'TCFLSH', [TIOCEXCL]: 'TIOCEXCL', [TIOCNXCL]: 'TIOCNXCL', [TIOCSCTTY]: 'TIOCSCTTY',
  [TIOCGPGRP]: 'TIOCGPGRP', [TIOCSPGRP]: 'TIOCSPGRP', [TIOCOUTQ]: 'TIOCOUTQ', [TIOCSTI]: 'TIOCSTI',
  [TIOCGWINSZ]: 'TIOCGWINSZ', [TIOCSWINSZ]: 'TIOCSWINSZ', [FIONREAD]: 'FIONREAD', [FIONBIO]: 'FIONBIO',
  [TIOCNOTTY]: 'TIOCNOTTY', [TIOCSETD]: 'TIOCSETD', [TIOCGETD]: 'TIOCGETD', [TCSBRKP]: 'TCSBRKP',
  [TIOCSBRK]: 'TIOCSBRK', [TIOCCBRK]: 'TIOCCBRK', [TIOCGSID]: 'TIOCGSID', [TCGETS2 >>> 0]: 'TCGETS2',
  [TCSETS2]: 'TCSETS2', [TCSETSW2]: 'TCSETSW2', [TCSETSF2]: 'TCSETSF2', [TIOCGDEV >>> 0]: 'TIOCGDEV',
  [TIOCVHANGUP]: 'TIOCVHANGUP', [TIOCGEXCL >>> 0]: 'TIOCGEXCL', 0x5450: 'FIONCLEX', 0x5451: 'FIOCLEX',
};

// ----- signatures -----

/**
 * What one argument is. Input kinds are decoded at entry; the `o...`
 * kinds are outputs, decoded at exit when the call succeeded.
 */
type Kind =
  | 'int' | 'uint' | 'long' | 'hex' | 'off' | 'fd' | 'dirfd' | 'path' | 'target' | 'str' | 'ibuf'
  | 'oflags' | 'omode' | 'mode' | 'accmode' | 'atflags' | 'unlinkflags' | 'accessflags' | 'prot' | 'mflags'
  | 'clone' | 'sig' | 'sighow' | 'isigset' | 'isigaction' | 'whence' | 'fcntlcmd' | 'fcntlarg' | 'ioctl'
  | 'clockid' | 'timerflags' | 'futexop' | 'futexarg' | 'itimespec' | 'itimeval' | 'utimens' | 'argv' | 'envp'
  | 'wopts' | 'idtype' | 'rlimres' | 'irlimit' | 'archcode' | 'prctlopt' | 'grndflags' | 'renameflags'
  | 'pipeflags' | 'statxmask' | 'pollfds' | 'iiov' | 'itimer' | 'prctlarg'
  | 'obuf' | 'ostr' | 'oiov' | 'ostat' | 'ostatx' | 'ostatfs' | 'otimespec' | 'otimeval' | 'osigset'
  | 'osigaction' | 'ostatus' | 'oint' | 'ofds' | 'outsname' | 'orlimit' | 'odirents';

interface ArgSpec {
  readonly kind: Kind;
  /** the argument holding this one's length, count or flags; -1 for none */
  readonly ref: number;
}

type RetKind = 'int' | 'hex' | 'oct' | 'none';

interface Signature {
  readonly args: readonly ArgSpec[];
  readonly ret: RetKind;
}

/** name → "kind kind:ref ..." (ref: index of the argument it depends on). */
const SIGNATURES: Partial<Record<keyof typeof NR, string>> = {
  read: 'fd obuf:2 uint', write: 'fd ibuf:2 uint', open: 'path oflags omode:1', close: 'fd',
  stat: 'path ostat', fstat: 'fd ostat', lstat: 'path ostat', poll: 'pollfds:1 uint int', lseek: 'fd long whence',
  mmap: 'hex uint prot mflags fd off', mprotect: 'hex uint prot', munmap: 'hex uint', brk: 'hex',
  rt_sigaction: 'sig isigaction osigaction uint', rt_sigprocmask: 'sighow isigset osigset uint', rt_sigreturn: '',
  ioctl: 'fd ioctl hex', pread64: 'fd obuf:2 uint long', pwrite64: 'fd ibuf:2 uint long', readv: 'fd oiov:2 int',
  writev: 'fd iiov:2 int', access: 'path accmode', pipe: 'ofds', select: 'int hex hex hex itimeval',
  sched_yield: '', mremap: 'hex uint uint hex hex', msync: 'hex uint int', mincore: 'hex uint hex',
  madvise: 'hex uint int', dup: 'fd', dup2: 'fd fd', pause: '', nanosleep: 'itimespec hex',
  getitimer: 'itimer hex', alarm: 'uint', setitimer: 'itimer hex hex', getpid: '', sendfile: 'fd fd hex uint',
  socket: 'int int int', connect: 'fd hex int', accept: 'fd hex hex', sendto: 'fd ibuf:2 uint hex hex int',
  recvfrom: 'fd obuf:2 uint hex hex hex', sendmsg: 'fd hex hex', recvmsg: 'fd hex hex', shutdown: 'fd int',
  bind: 'fd hex int', listen: 'fd int', getsockname: 'fd hex hex', getpeername: 'fd hex hex',
  socketpair: 'int int int ofds', setsockopt: 'fd int int hex int', getsockopt: 'fd int int hex hex',
  clone: 'clone hex hex hex hex', fork: '', vfork: '', execve: 'path argv envp', exit: 'int', wait4: 'int ostatus wopts hex',
  kill: 'int sig', uname: 'outsname', fcntl: 'fd fcntlcmd fcntlarg:1', flock: 'fd int', fsync: 'fd', fdatasync: 'fd',
  truncate: 'path long', ftruncate: 'fd long', getdents: 'fd odirents uint', getdents64: 'fd odirents uint', getcwd: 'ostr uint', chdir: 'path',
  fchdir: 'fd', rename: 'path path', mkdir: 'path mode', rmdir: 'path', creat: 'path mode', link: 'path path',
  unlink: 'path', symlink: 'target path', readlink: 'path ostr uint', chmod: 'path mode', fchmod: 'fd mode',
  chown: 'path int int', fchown: 'fd int int', lchown: 'path int int', umask: 'mode', gettimeofday: 'otimeval hex', settimeofday: 'itimeval hex',
  getrlimit: 'rlimres orlimit', getrusage: 'int hex', sysinfo: 'hex', times: 'hex', getuid: '', getgid: '',
  setuid: 'int', setgid: 'int', geteuid: '', getegid: '', setpgid: 'int int', getppid: '', getpgrp: '', setsid: '',
  setreuid: 'int int', setregid: 'int int', getgroups: 'int hex', setgroups: 'int hex', setresuid: 'int int int',
  getresuid: 'oint oint oint', setresgid: 'int int int', getresgid: 'oint oint oint', getpgid: 'int',
  setfsuid: 'int', setfsgid: 'int', getsid: 'int', capget: 'hex hex', capset: 'hex hex',
  rt_sigpending: 'osigset uint', rt_sigtimedwait: 'isigset hex itimespec uint', rt_sigqueueinfo: 'int sig hex',
  rt_sigsuspend: 'isigset uint', sigaltstack: 'hex hex', utime: 'path hex', mknod: 'path mode hex',
  personality: 'hex', statfs: 'path ostatfs', fstatfs: 'fd ostatfs', sched_setparam: 'int hex',
  sched_getparam: 'int hex', sched_setscheduler: 'int int hex', sched_getscheduler: 'int',
  sched_get_priority_max: 'int', sched_get_priority_min: 'int', mlock: 'hex uint', munlock: 'hex uint',
  mlockall: 'int', munlockall: '', prctl: 'prctlopt prctlarg:0 hex hex hex', arch_prctl: 'archcode hex',
  setrlimit: 'rlimres irlimit', chroot: 'path', sync: '', mount: 'str path str hex hex', umount2: 'path int',
  sethostname: 'ibuf:1 int', setdomainname: 'ibuf:1 int', gettid: '', tkill: 'int sig', time: 'hex',
  futex: 'hex futexop int futexarg:1 hex int', sched_setaffinity: 'int uint hex', sched_getaffinity: 'int uint hex',
  set_tid_address: 'hex', restart_syscall: '', clock_settime: 'clockid itimespec', clock_gettime: 'clockid otimespec',
  clock_getres: 'clockid otimespec', clock_nanosleep: 'clockid timerflags itimespec hex', exit_group: 'int',
  tgkill: 'int int sig', utimes: 'path hex', waitid: 'idtype int hex wopts hex', openat: 'dirfd path oflags omode:2',
  mkdirat: 'dirfd path mode', mknodat: 'dirfd path mode hex', fchownat: 'dirfd path int int atflags',
  futimesat: 'dirfd path hex', newfstatat: 'dirfd path ostat atflags', unlinkat: 'dirfd path unlinkflags',
  renameat: 'dirfd path dirfd path', linkat: 'dirfd path dirfd path atflags', symlinkat: 'target dirfd path',
  readlinkat: 'dirfd path ostr uint', fchmodat: 'dirfd path mode', faccessat: 'dirfd path accmode',
  pselect6: 'int hex hex hex itimespec hex', ppoll: 'pollfds:1 uint itimespec isigset uint',
  set_robust_list: 'hex uint', get_robust_list: 'int hex hex', utimensat: 'dirfd path utimens atflags',
  dup3: 'fd fd pipeflags', pipe2: 'ofds pipeflags', preadv: 'fd oiov:2 int long', pwritev: 'fd iiov:2 int long',
  rt_tgsigqueueinfo: 'int int sig hex', prlimit64: 'int rlimres irlimit orlimit', getcpu: 'oint oint hex',
  getrandom: 'obuf:1 uint grndflags', statx: 'dirfd path atflags statxmask ostatx',
  faccessat2: 'dirfd path accmode accessflags', renameat2: 'dirfd path dirfd path renameflags',
  rseq: 'hex uint int hex', clone3: 'hex uint', close_range: 'fd fd uint', memfd_create: 'str uint',
  openat2: 'dirfd path hex uint', execveat: 'dirfd path argv envp atflags', accept4: 'fd hex hex int',
  epoll_create1: 'int', eventfd2: 'uint int', pidfd_open: 'int uint', mlock2: 'hex uint int',
  pkey_mprotect: 'hex uint prot int', sched_getattr: 'int hex uint uint', membarrier: 'int uint int',
  copy_file_range: 'fd hex fd hex uint uint',
};

const RETURNS: Partial<Record<keyof typeof NR, RetKind>> = {
  mmap: 'hex', brk: 'hex', mremap: 'hex', shmat: 'hex', umask: 'oct', exit: 'none', exit_group: 'none',
};

/** Syscalls whose path arguments name a link itself, not what it points to. */
const NOFOLLOW = new Set<number>([
  NR.lstat, NR.readlink, NR.readlinkat, NR.unlink, NR.unlinkat, NR.rmdir, NR.rename, NR.renameat, NR.renameat2,
  NR.symlink, NR.symlinkat, NR.link, NR.linkat, NR.lchown, NR.mkdir, NR.mkdirat, NR.mknod, NR.mknodat,
]);

const SIGS: (Signature | undefined)[] = [];
for (const [name, text] of Object.entries(SIGNATURES)) {
  const args = text.split(' ').filter(Boolean).map((w): ArgSpec => {
    const [kind, ref] = w.split(':');
    return { kind: kind as Kind, ref: ref === undefined ? -1 : Number(ref) };
  });
  SIGS[(NR as Record<string, number>)[name]!] = { args, ret: RETURNS[name as keyof typeof NR] ?? 'int' };
}

/** The name of syscall `nr` ("syscall_999" for numbers without one). */
export function syscallName(nr: number): string {
  return SYSCALL_NAMES[nr] ?? `syscall_${nr}`;
}

// ----- decoding -----

/** Where decoding reads from and how much of a buffer it shows. */
export interface DecodeContext {
  readonly k: Kernel;
  readonly t: Task;
  /** --strace-size: bytes of a buffer shown */
  readonly size: number;
}

/** Arguments decoded at entry; `undefined` marks an output decoded at exit. */
export type EnterTexts = (string | undefined)[];

const OUTPUT_KINDS = new Set<Kind>(['obuf', 'ostr', 'oiov', 'ostat', 'ostatx', 'ostatfs', 'otimespec', 'otimeval',
  'osigset', 'osigaction', 'ostatus', 'oint', 'ofds', 'outsname', 'orlimit', 'odirents']);

/** Decode the inputs of syscall `nr` at entry. */
export function decodeEnter(c: DecodeContext, nr: number, args: readonly number[]): EnterTexts {
  const sig = SIGS[nr];
  if (!sig) return unknownArgs(args);
  const out: EnterTexts = [];
  for (let i = 0; i < sig.args.length; i++) {
    const spec = sig.args[i]!;
    if (OUTPUT_KINDS.has(spec.kind)) {
      out.push(undefined);
      continue;
    }
    const text = decodeInput(c, spec, args[i] ?? 0, args);
    if (text === null) break; // the argument is absent in this form of the call (open's mode without O_CREAT)
    out.push(text);
  }
  return out;
}

/** The outputs of syscall `nr` after it returned `result` (a value or -errno), and a note on the result. */
export function decodeExit(c: DecodeContext, nr: number, args: readonly number[], texts: EnterTexts, result: number):
  { args: string[]; note: string | undefined } {
  const sig = SIGS[nr];
  const done: string[] = [];
  for (let i = 0; i < texts.length; i++) {
    const text = texts[i];
    if (text !== undefined) {
      done.push(text);
      continue;
    }
    const v = args[i] ?? 0;
    done.push(result < 0 ? pointer(v) : safe(() => decodeOutput(c, sig!.args[i]!, v, args, result), pointer(v)));
  }
  const note = result >= 0 ? safe(() => resultNote(c, nr, args, result), undefined) : undefined;
  return { args: done, note };
}

/** How many leading arguments were decoded at entry (strace's `<unfinished ...>` shows those). */
export function enterPrefix(texts: EnterTexts): string[] {
  const out: string[] = [];
  for (const t of texts) {
    if (t === undefined) break;
    out.push(t);
  }
  return out;
}

/** `= 3`, `= 0x7f12a000`, `= -1 ENOENT (No such file or directory)`, `= ?`. */
export function formatResult(nr: number, result: number | undefined, strerror: (e: number) => string): string {
  if (result === undefined) return '?';
  const kind = SIGS[nr]?.ret ?? 'int';
  if (kind === 'none') return '?';
  if (result < 0 && result > -4096) {
    const errno = -result;
    // The kernel-internal restart codes never reach the guest: strace shows them as "?".
    const shown = errno >= 512 ? '?' : '-1';
    return `${shown} ${errnoName(errno)} (${strerror(errno)})`;
  }
  if (kind === 'hex') return hex(result);
  if (kind === 'oct') return octal(result);
  return String(result);
}

function unknownArgs(args: readonly number[]): string[] {
  let n = args.length;
  while (n > 0 && args[n - 1] === 0) n--;
  return args.slice(0, n).map(hex);
}

function safe<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

function decodeInput(c: DecodeContext, spec: ArgSpec, v: number, args: readonly number[]): string | null {
  switch (spec.kind) {
    case 'int': return String(v | 0);
    case 'uint': return String(v >= 0 ? v : v + 2 ** 64);
    case 'long': return String(v);
    case 'hex': return pointer(v);
    case 'off': return v === 0 ? '0' : hex(v);
    case 'fd': return String(v | 0);
    case 'dirfd': return (v | 0) === AT_FDCWD ? 'AT_FDCWD' : String(v | 0);
    case 'path': case 'target': return cString(c, v, 4096, Infinity);
    case 'str': return cString(c, v, 4096, c.size);
    case 'ibuf': return buffer(c, v, args[spec.ref] ?? 0);
    case 'oflags': return openFlags(v >>> 0);
    case 'omode': return (args[spec.ref]! & O_CREAT) || (args[spec.ref]! & O_TMPFILE) === O_TMPFILE ? octal(v & 0o7777) : null;
    case 'mode': return v & S_IFMT ? fileMode(v >>> 0) : octal(v & 0o7777);
    case 'accmode': return (v & 7) === 0 ? 'F_OK' : flags(v >>> 0, ACCESS_BITS);
    case 'atflags': return flags(v >>> 0, AT_FLAGS);
    case 'unlinkflags': return flags(v >>> 0, UNLINK_FLAGS);
    case 'accessflags': return flags(v >>> 0, ACCESS_FLAGS);
    case 'prot': return (v >>> 0) === 0 ? 'PROT_NONE' : flags(v >>> 0, PROT_FLAGS);
    case 'mflags': return mapFlags(v >>> 0);
    case 'clone': return cloneFlags(v >>> 0);
    case 'sig': return signalName(v | 0);
    case 'sighow': return SIGHOW[v | 0] ?? String(v | 0);
    case 'isigset': return v === 0 ? 'NULL' : sigsetAt(c, v);
    case 'isigaction': return v === 0 ? 'NULL' : sigactionAt(c, v);
    case 'whence': return WHENCE[v | 0] ?? String(v | 0);
    case 'fcntlcmd': return FCNTL_CMDS[v | 0] ?? String(v | 0);
    case 'fcntlarg': return fcntlArg(args[spec.ref]! | 0, v);
    case 'ioctl': return IOCTLS[v >>> 0] ?? hex(v >>> 0);
    case 'clockid': return CLOCKS[v | 0] ?? String(v | 0);
    case 'timerflags': return (v & TIMER_ABSTIME) ? 'TIMER_ABSTIME' : String(v | 0);
    case 'futexop': return futexOp(v | 0);
    case 'futexarg': return FUTEX_TIMED.has(args[spec.ref]! & 127) ? (v === 0 ? 'NULL' : timespecAt(c, v)) : String(v >>> 0);
    case 'itimespec': return v === 0 ? 'NULL' : timespecAt(c, v);
    case 'itimeval': return v === 0 ? 'NULL' : timevalAt(c, v);
    case 'utimens': return v === 0 ? 'NULL' : utimensAt(c, v);
    case 'argv': return argvAt(c, v);
    case 'envp': return envpAt(c, v);
    case 'wopts': return flags(v >>> 0, WAIT_OPTIONS);
    case 'idtype': return ID_TYPES[v | 0] ?? String(v | 0);
    case 'rlimres': return RLIMIT_NAMES[v | 0] ? `RLIMIT_${RLIMIT_NAMES[v | 0]!.toUpperCase()}` : String(v | 0);
    case 'irlimit': return v === 0 ? 'NULL' : rlimitAt(c, v);
    case 'archcode': return ARCH_PRCTL[v | 0] ?? hex(v);
    case 'prctlopt': return PRCTL[v | 0] ?? String(v | 0);
    case 'prctlarg': return (args[spec.ref]! | 0) === PR_SET_NAME ? cString(c, v, 16, c.size) : pointer(v);
    case 'grndflags': return flags(v >>> 0, GRND_FLAGS);
    case 'renameflags': return flags(v >>> 0, RENAME_FLAGS);
    case 'pipeflags': return flags(v >>> 0, OPEN_FLAGS);
    case 'statxmask': return flags(v >>> 0, STATX_MASK);
    case 'itimer': return ITIMERS[v | 0] ?? String(v | 0);
    case 'pollfds': return pollfdsAt(c, v, args[spec.ref] ?? 0, false);
    case 'iiov': return iovecAt(c, v, args[spec.ref] ?? 0, Infinity);
    default: return pointer(v);
  }
}

function decodeOutput(c: DecodeContext, spec: ArgSpec, v: number, args: readonly number[], result: number): string {
  if (v === 0) return 'NULL';
  switch (spec.kind) {
    case 'obuf': return buffer(c, v, result);
    case 'ostr': return buffer(c, v, result, true);
    case 'oiov': return iovecAt(c, v, args[spec.ref] ?? 0, result);
    case 'ostat': return statAt(c, v);
    case 'ostatx': return statxAt(c, v);
    case 'ostatfs': return statfsAt(c, v);
    case 'otimespec': return timespecAt(c, v);
    case 'otimeval': return timevalAt(c, v);
    case 'osigset': return sigsetAt(c, v);
    case 'osigaction': return sigactionAt(c, v);
    case 'ostatus': return waitStatusAt(c, v);
    case 'oint': return intsAt(c, v, 1);
    case 'ofds': return intsAt(c, v, 2);
    case 'outsname': return utsnameAt(c, v);
    case 'orlimit': return rlimitAt(c, v);
    case 'odirents': return direntsAt(c, v, result);
    default: return pointer(v);
  }
}

/** What strace shows after some results: the revents of poll, the flags F_GETFL returned. */
function resultNote(c: DecodeContext, nr: number, args: readonly number[], result: number): string | undefined {
  switch (nr) {
    case NR.poll: case NR.ppoll:
      return result > 0 ? pollfdsAt(c, args[0]!, args[1]!, true) : result === 0 ? 'Timeout' : undefined;
    case NR.fcntl: {
      const cmd = args[1]! | 0;
      if (cmd === F_GETFL) return `flags ${openFlags(result)}`;
      if (cmd === F_GETFD) return result & FD_CLOEXEC ? 'flags FD_CLOEXEC' : undefined;
      return undefined;
    }
    case NR.select: case NR.pselect6:
      return result === 0 ? 'Timeout' : undefined;
    default:
      return undefined;
  }
}

// ----- scalars -----

export function hex(v: number): string {
  return v < 0 ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
}

function pointer(v: number): string {
  return v === 0 ? 'NULL' : hex(v < 0 ? v + 2 ** 64 : v);
}

/** C's "%#03o", as strace prints modes: 000, 022, 0644. */
function octal(v: number): string {
  return v === 0 ? '000' : `0${v.toString(8)}`.padStart(3, '0');
}

/** `A|B|0x40` for `v` by a table of names (multi-bit names first); "0" for none. */
function flags(v: number, table: readonly Flag[]): string {
  const parts: string[] = [];
  let rest = v >>> 0;
  for (const [name, mask] of table) {
    const m = mask >>> 0;
    if (m !== 0 && ((rest & m) >>> 0) === m) {
      parts.push(name);
      rest = (rest & ~m) >>> 0;
    }
  }
  if (rest !== 0) parts.push(hex(rest));
  return parts.length > 0 ? parts.join('|') : '0';
}

function openFlags(v: number): string {
  const acc = ACCESS_MODES[v & O_ACCMODE]!;
  const rest = (v & ~O_ACCMODE) >>> 0;
  return rest === 0 ? acc : `${acc}|${flags(rest, OPEN_FLAGS)}`;
}

function mapFlags(v: number): string {
  const type = MAP_TYPES[v & 3] ?? hex(v & 3);
  const rest = (v & ~3) >>> 0;
  return rest === 0 ? type : `${type}|${flags(rest, MAP_FLAGS)}`;
}

function cloneFlags(v: number): string {
  const sig = v & 0xff;
  const rest = (v & ~0xff) >>> 0;
  const parts = rest === 0 ? [] : [flags(rest, CLONE_FLAGS)];
  if (sig !== 0) parts.push(signalName(sig));
  return parts.length > 0 ? parts.join('|') : '0';
}

export function signalName(sig: number): string {
  if (SIGNAL_NAMES[sig]) return SIGNAL_NAMES[sig]!;
  if (sig === 32) return 'SIGRTMIN';
  if (sig > 32 && sig <= 64) return `SIGRT_${sig - 32}`;
  return String(sig);
}

function futexOp(v: number): string {
  const base = FUTEX_OPS[v & 127] ?? String(v & 127);
  let s = v & FUTEX_PRIVATE_FLAG ? `${base}_PRIVATE` : base;
  if (v & FUTEX_CLOCK_REALTIME) s += '|FUTEX_CLOCK_REALTIME';
  return s;
}

function fcntlArg(cmd: number, v: number): string | null {
  switch (cmd) {
    case F_GETFD: case F_GETFL: case 9 /* F_GETOWN */: case 1032 /* F_GETPIPE_SZ */: case 1034 /* F_GET_SEALS */:
      return null;
    case F_SETFD: return v & FD_CLOEXEC ? 'FD_CLOEXEC' : String(v | 0);
    case F_SETFL: return openFlags(v >>> 0);
    case F_DUPFD: case F_DUPFD_CLOEXEC: case F_SETPIPE_SZ: case F_SETOWN: return String(v | 0);
    default: return pointer(v);
  }
}

function fileMode(mode: number): string {
  const type = FILE_TYPES[mode & S_IFMT];
  const perm = mode & 0o7777;
  const extra = [mode & S_ISUID ? 'S_ISUID' : '', mode & S_ISGID ? 'S_ISGID' : '', mode & S_ISVTX ? 'S_ISVTX' : '']
    .filter(Boolean);
  const parts = [type ?? octal(mode & S_IFMT), ...extra];
  return `${parts.join('|')}|${octal(perm & 0o777)}`;
}

// ----- guest memory -----

function hostPid(c: DecodeContext): number {
  return c.t.proc.mm.hostPid;
}

function readBytes(c: DecodeContext, addr: number, len: number): Buffer | undefined {
  if (addr === 0 || len < 0) return undefined;
  const b = c.k.mem.read(hostPid(c), addr, len);
  return typeof b === 'number' ? undefined : b;
}

/** A NUL-terminated string, quoted, cut to `shown` bytes. */
function cString(c: DecodeContext, addr: number, max: number, shown: number): string {
  if (addr === 0) return 'NULL';
  const s = c.k.mem.readCString(hostPid(c), addr, max);
  if (typeof s === 'number') return hex(addr);
  return quote(Buffer.from(s, 'utf8'), shown);
}

/**
 * `len` bytes at `addr`, quoted and cut to --strace-size. `text`: a
 * string the call returned (getcwd, readlink), ending at a NUL if any.
 */
function buffer(c: DecodeContext, addr: number, len: number, text = false): string {
  if (addr === 0) return 'NULL';
  const want = Math.max(0, Math.min(len, text ? 4096 : c.size));
  const b = want === 0 ? Buffer.alloc(0) : c.k.mem.readPartial(hostPid(c), addr, want);
  if (want > 0 && b.length === 0) return hex(addr);
  if (!text) return quote(b, c.size, len > c.size);
  const nul = b.indexOf(0);
  return quote(nul >= 0 ? b.subarray(0, nul) : b, c.size);
}

/**
 * strace's quoting: printable ASCII as is, \t \n \v \f \r \" \\ escaped,
 * other bytes as octal (\0, \177); `...` after the quote when cut.
 */
export function quote(b: Uint8Array, shown: number, cut = b.length > shown): string {
  const n = Math.min(b.length, shown);
  let s = '"';
  for (let i = 0; i < n; i++) {
    const ch = b[i]!;
    switch (ch) {
      case 0x22: s += '\\"'; break;
      case 0x5c: s += '\\\\'; break;
      case 0x09: s += '\\t'; break;
      case 0x0a: s += '\\n'; break;
      case 0x0b: s += '\\v'; break;
      case 0x0c: s += '\\f'; break;
      case 0x0d: s += '\\r'; break;
      default:
        if (ch >= 0x20 && ch < 0x7f) {
          s += String.fromCharCode(ch);
        } else {
          const next = i + 1 < n ? b[i + 1]! : 0;
          // Minimal octal digits unless a digit follows, which would join the escape.
          s += '\\' + (next >= 0x30 && next <= 0x37 ? ch.toString(8).padStart(3, '0') : ch.toString(8));
        }
    }
  }
  return s + '"' + (cut ? '...' : '');
}

function statAt(c: DecodeContext, addr: number): string {
  const b = readBytes(c, addr, STAT_SIZE);
  if (!b) return hex(addr);
  const mode = b.readUInt32LE(24);
  const type = mode & S_IFMT;
  const rdev = readU64(b, 40);
  const sizeOrDev = type === S_IFCHR || type === S_IFBLK ? `st_rdev=makedev(${hex(major(rdev))}, ${hex(minor(rdev))})`
    : `st_size=${readI64(b, 48)}`;
  return `{st_mode=${fileMode(mode)}, ${sizeOrDev}, ...}`;
}

function statxAt(c: DecodeContext, addr: number): string {
  const b = readBytes(c, addr, STATX_STRUCT_SIZE);
  if (!b) return hex(addr);
  return `{stx_mask=${flags(b.readUInt32LE(0), STATX_MASK)}, stx_attributes=0, stx_mode=${fileMode(b.readUInt16LE(28))}, ` +
    `stx_size=${readU64(b, 40)}, ...}`;
}

function statfsAt(c: DecodeContext, addr: number): string {
  const b = readBytes(c, addr, STATFS_SIZE);
  if (!b) return hex(addr);
  return `{f_type=${hex(readU64(b, 0))}, f_bsize=${readI64(b, 8)}, f_blocks=${readU64(b, 16)}, ` +
    `f_bfree=${readU64(b, 24)}, f_bavail=${readU64(b, 32)}, ...}`;
}

function timespecAt(c: DecodeContext, addr: number): string {
  const b = readBytes(c, addr, 16);
  if (!b) return hex(addr);
  return `{tv_sec=${readI64(b, 0)}, tv_nsec=${readI64(b, 8)}}`;
}

function timevalAt(c: DecodeContext, addr: number): string {
  const b = readBytes(c, addr, 16);
  if (!b) return hex(addr);
  return `{tv_sec=${readI64(b, 0)}, tv_usec=${readI64(b, 8)}}`;
}

function utimensAt(c: DecodeContext, addr: number): string {
  const b = readBytes(c, addr, 32);
  if (!b) return hex(addr);
  const one = (off: number) => {
    const nsec = readI64(b, off + 8);
    if (nsec === UTIME_NOW) return 'UTIME_NOW';
    if (nsec === UTIME_OMIT) return 'UTIME_OMIT';
    return `{tv_sec=${readI64(b, off)}, tv_nsec=${nsec}}`;
  };
  return `[${one(0)}, ${one(16)}]`;
}

/** A sigset as strace shows it: [INT CHLD], or ~[...] when most signals are in it. */
function sigsetAt(c: DecodeContext, addr: number): string {
  const b = readBytes(c, addr, 8);
  if (!b) return hex(addr);
  return sigsetText(BigInt(b.readUInt32LE(0)) | (BigInt(b.readUInt32LE(4)) << 32n));
}

function sigsetText(mask: bigint): string {
  const set: number[] = [];
  for (let s = 1; s <= 64; s++) if (mask & (1n << BigInt(s - 1))) set.push(s);
  const short = (s: number) => signalName(s).replace(/^SIG/, '');
  if (set.length > 32) {
    const out: number[] = [];
    for (let s = 1; s <= 64; s++) if (!(mask & (1n << BigInt(s - 1)))) out.push(s);
    return `~[${out.map(short).join(' ')}]`;
  }
  return `[${set.map(short).join(' ')}]`;
}

/** struct kernel_sigaction of x86_64: handler, flags, restorer, mask (8 bytes each). */
function sigactionAt(c: DecodeContext, addr: number): string {
  const b = readBytes(c, addr, 32);
  if (!b) return hex(addr);
  const handler = readU64(b, 0);
  const flagsV = readU64(b, 8);
  const h = handler === SIG_DFL ? 'SIG_DFL' : handler === SIG_IGN ? 'SIG_IGN' : hex(handler);
  const mask = BigInt(b.readUInt32LE(24)) | (BigInt(b.readUInt32LE(28)) << 32n);
  let s = `{sa_handler=${h}, sa_mask=${sigsetText(mask)}, sa_flags=${flags(flagsV >>> 0, SA_FLAGS)}`;
  if (flagsV & SA_RESTORER) s += `, sa_restorer=${hex(readU64(b, 16))}`;
  return s + '}';
}

function waitStatusAt(c: DecodeContext, addr: number): string {
  const b = readBytes(c, addr, 4);
  if (!b) return hex(addr);
  const s = b.readInt32LE(0);
  const sig = s & 0x7f;
  let text: string;
  if (sig === 0) text = `WIFEXITED(s) && WEXITSTATUS(s) == ${(s >> 8) & 0xff}`;
  else if (sig === 0x7f) text = `WIFSTOPPED(s) && WSTOPSIG(s) == ${signalName((s >> 8) & 0xff)}`;
  else if (s === 0xffff) text = 'WIFCONTINUED(s)';
  else text = `WIFSIGNALED(s) && WTERMSIG(s) == ${signalName(sig)}${s & 0x80 ? ' && WCOREDUMP(s)' : ''}`;
  return `[{${text}}]`;
}

function intsAt(c: DecodeContext, addr: number, n: number): string {
  const b = readBytes(c, addr, 4 * n);
  if (!b) return hex(addr);
  const vals: number[] = [];
  for (let i = 0; i < n; i++) vals.push(b.readInt32LE(4 * i));
  return `[${vals.join(', ')}]`;
}

function utsnameAt(c: DecodeContext, addr: number): string {
  const b = readBytes(c, addr, 65 * 6);
  if (!b) return hex(addr);
  const field = (i: number) => {
    const f = b.subarray(65 * i, 65 * (i + 1));
    const nul = f.indexOf(0);
    return quote(nul >= 0 ? f.subarray(0, nul) : f, Infinity);
  };
  return `{sysname=${field(0)}, nodename=${field(1)}, release=${field(2)}, version=${field(3)}, machine=${field(4)}, ...}`;
}

function rlimitAt(c: DecodeContext, addr: number): string {
  const b = readBytes(c, addr, 16);
  if (!b) return hex(addr);
  const lim = (off: number) => (b.readUInt32LE(off + 4) === 0xffffffff && b.readUInt32LE(off) === 0xffffffff
    ? 'RLIM64_INFINITY' : String(readU64(b, off)));
  return `{rlim_cur=${lim(0)}, rlim_max=${lim(8)}}`;
}

/** getdents64 output: its address and how many entries it holds, as strace shows it. */
function direntsAt(c: DecodeContext, addr: number, len: number): string {
  const b = readBytes(c, addr, len);
  if (!b) return hex(addr);
  let n = 0;
  for (let off = 0; off + 19 <= len; n++) {
    const reclen = b.readUInt16LE(off + 16);
    if (reclen === 0) break;
    off += reclen;
  }
  return `${hex(addr)} /* ${n} entries */`;
}

/** struct pollfd[n]: {fd, events} at entry; {fd, revents} of the ready ones after. */
function pollfdsAt(c: DecodeContext, addr: number, count: number, revents: boolean): string {
  const n = Math.min(count >>> 0, 1024);
  if (addr === 0) return 'NULL';
  const b = readBytes(c, addr, 8 * n);
  if (!b) return hex(addr);
  const items: string[] = [];
  for (let i = 0; i < n; i++) {
    const fd = b.readInt32LE(8 * i);
    if (revents) {
      const r = b.readUInt16LE(8 * i + 6);
      if (r !== 0) items.push(`{fd=${fd}, revents=${flags(r, POLL_FLAGS)}}`);
    } else {
      items.push(`{fd=${fd}, events=${flags(b.readUInt16LE(8 * i + 4), POLL_FLAGS)}}`);
    }
  }
  return `[${items.join(', ')}]`;
}

/** struct iovec[n], each buffer quoted; `total` bytes in all (the result of readv). */
function iovecAt(c: DecodeContext, addr: number, count: number, total: number): string {
  const n = Math.min(count >>> 0, 1024);
  if (addr === 0) return 'NULL';
  const b = readBytes(c, addr, 16 * n);
  if (!b) return hex(addr);
  const items: string[] = [];
  let left = total;
  for (let i = 0; i < n; i++) {
    const base = readU64(b, 16 * i);
    const len = readU64(b, 16 * i + 8);
    const data = buffer(c, base, Math.max(0, Math.min(len, left)));
    left -= Math.min(len, left);
    items.push(`{iov_base=${data}, iov_len=${len}}`);
    if (i >= 31 && n > 32) {
      items.push('...');
      break;
    }
  }
  return `[${items.join(', ')}]`;
}

function argvAt(c: DecodeContext, addr: number): string {
  if (addr === 0) return 'NULL';
  const items: string[] = [];
  for (let i = 0; i < 4096; i++) {
    const p = c.k.mem.readU64(hostPid(c), addr + 8 * i);
    if (p < 0) return items.length === 0 ? hex(addr) : `[${items.join(', ')}, ...]`;
    if (p === 0) break;
    if (i >= 32) {
      items.push('...');
      break;
    }
    items.push(cString(c, p, 128 * 1024, c.size));
  }
  return `[${items.join(', ')}]`;
}

function envpAt(c: DecodeContext, addr: number): string {
  if (addr === 0) return 'NULL';
  let n = 0;
  for (; n < 65536; n++) {
    const p = c.k.mem.readU64(hostPid(c), addr + 8 * n);
    if (p < 0) return hex(addr);
    if (p === 0) break;
  }
  return `${hex(addr)} /* ${n} var${n === 1 ? '' : 's'} */`;
}

// ----- paths of a call, for --inject path= and the host path of a trace line -----

/** The path arguments of syscall `nr` as absolute guest paths (lexically resolved against the cwd or dirfd). */
export function guestPathsOf(k: Kernel, t: Task, nr: number, args: readonly number[]): string[] {
  const sig = SIGS[nr];
  if (!sig) return [];
  const out: string[] = [];
  for (let i = 0; i < sig.args.length; i++) {
    const kind = sig.args[i]!.kind;
    if (kind === 'fd' && i === 0) {
      const f = t.proc.files.get(args[0]! | 0);
      if (f) out.push(f.path);
      continue;
    }
    if (kind !== 'path') continue;
    const p = k.mem.readPath(t.proc.mm.hostPid, args[i]!);
    if (typeof p === 'number') continue;
    const dirfd = i > 0 && sig.args[i - 1]!.kind === 'dirfd' ? args[i - 1]! | 0 : AT_FDCWD;
    out.push(absoluteGuestPath(t, dirfd, p));
  }
  return out;
}

/** `path` made absolute the way the call would start its walk: at the root, the cwd or `dirfd`. */
export function absoluteGuestPath(t: Task, dirfd: number, path: string): string {
  if (path.startsWith('/')) return posix.normalize(path);
  let base: string;
  if (dirfd === AT_FDCWD) {
    base = cwdPath(t);
  } else {
    const f = t.proc.files.get(dirfd);
    base = f ? f.path : '/';
  }
  return posix.resolve(base.startsWith('/') ? base : '/', path);
}

/**
 * The last path argument of `nr` with its dirfd and whether the walk follows
 * a final symlink: what the host path of a trace line is looked up from.
 */
export function lastPathArg(nr: number, args: readonly number[]): { index: number; dirfd: number; follow: boolean } | undefined {
  const sig = SIGS[nr];
  if (!sig) return undefined;
  for (let i = sig.args.length - 1; i >= 0; i--) {
    if (sig.args[i]!.kind !== 'path') continue;
    const dirfd = i > 0 && sig.args[i - 1]!.kind === 'dirfd' ? args[i - 1]! | 0 : AT_FDCWD;
    let follow = !NOFOLLOW.has(nr);
    const flagIdx = sig.args.findIndex((a) => a.kind === 'atflags' || a.kind === 'accessflags');
    if (flagIdx >= 0 && (args[flagIdx]! & AT_SYMLINK_NOFOLLOW)) follow = false;
    return { index: i, dirfd, follow };
  }
  return undefined;
}

/** Does the call name a file by an fd as its first argument (read, fstat, ...)? */
export function firstArgIsFd(nr: number): boolean {
  return SIGS[nr]?.args[0]?.kind === 'fd';
}
