/**
 * Syscall classes for `--strace=CLASS` and `--inject`, as strace's
 * `-e trace=%file` etc. define them (strace(1), "-e trace=%class").
 */
import { NR } from '../syscall-names.ts';

type Name = keyof typeof NR;

const FILE: Name[] = [
  'open', 'openat', 'openat2', 'creat', 'stat', 'lstat', 'newfstatat', 'statx', 'statfs', 'access', 'faccessat',
  'faccessat2', 'chmod', 'fchmodat', 'chown', 'lchown', 'fchownat', 'utime', 'utimes', 'utimensat', 'futimesat',
  'readlink', 'readlinkat', 'mkdir', 'mkdirat', 'mknod', 'mknodat', 'symlink', 'symlinkat', 'link', 'linkat',
  'unlink', 'unlinkat', 'rmdir', 'rename', 'renameat', 'renameat2', 'chdir', 'chroot', 'truncate', 'execve',
  'execveat', 'mount', 'umount2', 'swapon', 'swapoff', 'pivot_root', 'setxattr', 'lsetxattr', 'getxattr',
  'lgetxattr', 'listxattr', 'llistxattr', 'removexattr', 'lremovexattr', 'uselib', 'acct', 'quotactl',
  'inotify_add_watch', 'fanotify_mark', 'name_to_handle_at', 'open_tree', 'move_mount', 'fspick', 'mount_setattr',
];

const PROCESS: Name[] = [
  'clone', 'clone3', 'fork', 'vfork', 'execve', 'execveat', 'exit', 'exit_group', 'wait4', 'waitid', 'kill',
  'tkill', 'tgkill', 'rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'pidfd_open', 'pidfd_send_signal', 'pidfd_getfd',
];

const SIGNAL: Name[] = [
  'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'rt_sigpending', 'rt_sigsuspend', 'rt_sigtimedwait',
  'rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'kill', 'tkill', 'tgkill', 'sigaltstack', 'pause', 'signalfd',
  'signalfd4', 'pidfd_send_signal', 'restart_syscall',
];

const MEMORY: Name[] = [
  'mmap', 'munmap', 'mprotect', 'brk', 'mremap', 'msync', 'mincore', 'madvise', 'mlock', 'munlock', 'mlockall',
  'munlockall', 'mlock2', 'pkey_mprotect', 'remap_file_pages', 'mbind', 'set_mempolicy', 'get_mempolicy',
  'migrate_pages', 'move_pages', 'shmat', 'shmdt', 'process_madvise', 'memfd_secret',
];

const NETWORK: Name[] = [
  'socket', 'socketpair', 'bind', 'listen', 'accept', 'accept4', 'connect', 'getsockname', 'getpeername',
  'sendto', 'recvfrom', 'sendmsg', 'recvmsg', 'sendmmsg', 'recvmmsg', 'shutdown', 'setsockopt', 'getsockopt',
];

/** Calls taking or returning a file descriptor. */
const DESC: Name[] = [
  'read', 'write', 'open', 'openat', 'openat2', 'creat', 'close', 'close_range', 'fstat', 'newfstatat', 'statx',
  'poll', 'ppoll', 'select', 'pselect6', 'lseek', 'mmap', 'ioctl', 'pread64', 'pwrite64', 'readv', 'writev',
  'preadv', 'pwritev', 'preadv2', 'pwritev2', 'pipe', 'pipe2', 'dup', 'dup2', 'dup3', 'sendfile', 'fcntl', 'flock',
  'fsync', 'fdatasync', 'ftruncate', 'getdents', 'getdents64', 'fchdir', 'fchmod', 'fchmodat', 'fchown',
  'fchownat', 'fstatfs', 'readahead', 'fsetxattr', 'fgetxattr', 'flistxattr', 'fremovexattr', 'epoll_create',
  'epoll_create1', 'epoll_ctl', 'epoll_wait', 'epoll_pwait', 'epoll_pwait2', 'eventfd', 'eventfd2', 'signalfd',
  'signalfd4', 'timerfd_create', 'timerfd_settime', 'timerfd_gettime', 'inotify_init', 'inotify_init1',
  'memfd_create', 'copy_file_range', 'splice', 'tee', 'vmsplice', 'fallocate', 'faccessat', 'faccessat2',
  'mkdirat', 'mknodat', 'unlinkat', 'renameat', 'renameat2', 'linkat', 'symlinkat', 'readlinkat', 'utimensat',
  'futimesat', 'execveat', 'pidfd_open', 'pidfd_getfd', 'sync_file_range', 'syncfs',
];

/** Class name → its syscall names. */
export const SYSCALL_CLASSES: Readonly<Record<string, readonly Name[]>> = {
  file: FILE,
  process: PROCESS,
  signal: SIGNAL,
  memory: MEMORY,
  network: NETWORK,
  desc: DESC,
};

/** Syscall numbers of class `name` ("file" or "%file"), or undefined for no such class. */
export function classMembers(name: string): number[] | undefined {
  const members = SYSCALL_CLASSES[name.replace(/^%/, '')];
  return members?.map((n) => NR[n]);
}
