/**
 * The VFS contract every filesystem of the guest kernel implements.
 *
 * Errors are negative errno numbers (`-E.ENOENT`), never exceptions.
 * An inode is one object per lookup at most: identity is (fs.dev, ino),
 * never object identity. Paths never appear here: the path walk
 * (path-walk.ts) owns names, `..`, symlinks and mounts, so no filesystem
 * can be asked for something outside the guest root.
 */
import type { WaitQueue } from '../wait-queue.ts';
import type { Location } from './path-walk.ts';

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

/** d_type values of getdents64 (include/linux/fs_types.h: DT_*). */
export const DT_UNKNOWN = 0, DT_FIFO = 1, DT_CHR = 2, DT_DIR = 4, DT_BLK = 6, DT_REG = 8, DT_LNK = 10, DT_SOCK = 12;

export function dtypeOfMode(mode: number): number {
  return (mode & S_IFMT) >>> 12;
}

export interface Timespec {
  sec: number;
  nsec: number;
}

export interface Stat {
  dev: number;
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  blksize: number;
  blocks: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
}

export interface DirEntry {
  name: string;
  ino: number;
  /** DT_* */
  type: number;
}

/** Fields `setattr` may change; absent means unchanged. */
export interface SetAttr {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: Timespec;
  mtime?: Timespec;
}

/** Who asks: credentials for permission checks and ownership of new files. */
export interface Cred {
  uid: number;
  gid: number;
  euid: number;
  egid: number;
  fsuid: number;
  fsgid: number;
  groups: number[];
}

export interface StatFs {
  type: number;
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  namelen: number;
}

export interface FileSystem {
  /** Name as /proc/filesystems and /proc/mounts show it ("tmpfs", "proc"). */
  readonly type: string;
  /** st_dev of every inode here. */
  readonly dev: number;
  readonly root: Inode;
  statfs(): StatFs;
  /** mount -o remount with these filesystem options (mount(2)'s data): 0 or -errno. Absent: options cannot change. */
  remount?(data: string): number;
  /** The filesystem's own options as /proc/mounts shows them (after ro/rw and the other generic ones). */
  showOptions?(): string;
  /** Its last mount is gone and nothing refers to it: free what it holds (a tmpfs's files). */
  release?(): void;
}

/** poll(2) event bits (include/uapi/asm-generic/poll.h). */
export const POLLIN = 0x001, POLLPRI = 0x002, POLLOUT = 0x004, POLLERR = 0x008, POLLHUP = 0x010,
  POLLNVAL = 0x020, POLLRDNORM = 0x040, POLLWRNORM = 0x100;

/** The context a file operation runs in: the calling guest thread. */
export interface IoContext {
  /** guest tid and pid of the caller */
  readonly tid: number;
  readonly pid: number;
  readonly cred: Cred;
  /** session id and process group of the caller (tty job control) */
  readonly sid: number;
  readonly pgid: number;
  /** the caller's controlling terminal (a Tty), if any */
  readonly ctty: unknown;
  /** Send signal `sig` to every process of group `pgid`. */
  signalPgrp(pgid: number, sig: number): void;
  /** Is process group `pgid` orphaned (job control: no SIGTTIN/SIGTSTP stop then)? */
  pgrpOrphaned(pgid: number): boolean;
  /** Does the caller block or ignore `sig`? (SIGTTOU/SIGTTIN rules of the tty) */
  ignoresSignal(sig: number): boolean;
  /**
   * Bytes between host file `fd` at `pos` and the caller's memory at `addr`,
   * up to `len`, with no copy in the kernel's heap (Platform.fileToGuest):
   * the count moved, short at end of file or where the caller's buffer
   * faults (-EFAULT if nothing moved), or -errno.
   */
  fileToGuest(fd: number, pos: number, addr: number, len: number): number;
  guestToFile(fd: number, pos: number, addr: number, len: number): number;
}

/**
 * Operations of an open file description. Reads and writes that cannot
 * proceed return -E.EAGAIN and name the wait queues (`waitQueues`) whose
 * wake-up means "try again": the syscall layer blocks (or returns EAGAIN
 * under O_NONBLOCK), so no filesystem knows about blocking.
 */
export interface FileOps {
  read?(f: OpenFile, ctx: IoContext, len: number, pos: number): Uint8Array | number;
  write?(f: OpenFile, ctx: IoContext, data: Uint8Array, pos: number): number;
  /**
   * read and write straight between the file and the caller's memory at
   * `addr`, with no buffer in the kernel's heap: a file held as a host fd
   * moves its bytes in the addon (IoContext.fileToGuest), where a fault in
   * the caller's buffer ends the transfer short, as Linux's filemap_read()
   * and generic_perform_write() do; a device that discards what is written
   * does not read the buffer at all. read(2), pread64(2), write(2) and
   * pwrite64(2) use them when present.
   */
  readToGuest?(f: OpenFile, ctx: IoContext, addr: number, len: number, pos: number): number;
  writeFromGuest?(f: OpenFile, ctx: IoContext, addr: number, len: number, pos: number): number;
  /** Current readiness (POLL* bits). */
  poll?(f: OpenFile): number;
  /** Queues that are woken when readiness may have changed. */
  waitQueues?(f: OpenFile): WaitQueue[];
  /** ioctl with the raw argument; returns result or -errno. The ctx gives memory access. */
  ioctl?(f: OpenFile, ctx: IoctlContext, cmd: number, arg: number): number;
  /**
   * Put back bytes a read took but could not deliver (the guest's buffer
   * faulted): a stream keeps its data, as Linux's pipe_read does.
   */
  unread?(f: OpenFile, data: Uint8Array): void;
  /** Called once when the last descriptor of the description is closed. */
  release?(f: OpenFile): void;
  /** Directory listing, for getdents64; default: inode.readdir(). */
  readdir?(f: OpenFile): DirEntry[] | number;
  /** Host fd backing this file, for mmap of files (regular files, memfds). */
  hostFd?(f: OpenFile): number;
  /** fallocate(2) with a valid mode, offset >= 0 and len > 0: 0 or -errno. Absent: EOPNOTSUPP. */
  fallocate?(f: OpenFile, mode: number, offset: number, len: number): number;
  /** The open emptied the file already (O_TRUNC, with do_truncate's times): open(2) need not truncate again. */
  readonly truncated?: boolean;
  /** seek policy: 'normal' (files), 'none' (pipes, ttys: ESPIPE) */
  readonly seekable?: boolean;
  /** lseek(2) of its own, given a valid `whence` (the driver's llseek): the new position or -errno. */
  llseek?(f: OpenFile, offset: number, whence: number): number;
  /** for fsync: host fd to sync, handled by hostFd */
}

export interface IoctlContext extends IoContext {
  readMem(addr: number, len: number): Uint8Array | number;
  writeMem(addr: number, data: Uint8Array): number;
  /** Make `tty` the controlling terminal of the caller's session (TIOCSCTTY). */
  setCtty(tty: unknown): number;
  /** is the caller a session leader? */
  readonly sessionLeader: boolean;
  /** process group exists in the caller's session? */
  pgrpInSession(pgid: number): boolean;
}

export interface Inode {
  readonly fs: FileSystem;
  readonly ino: number;
  /** S_IF* type bits, constant for the inode's life */
  readonly type: number;
  getattr(): Stat | number;
  setattr?(attr: SetAttr): number;

  // directories
  lookup?(name: string): Inode | number;
  readdir?(): DirEntry[] | number;
  create?(name: string, mode: number, cred: Cred): Inode | number;
  mkdir?(name: string, mode: number, cred: Cred): number;
  mknod?(name: string, mode: number, rdev: number, cred: Cred): number;
  symlink?(name: string, target: string, cred: Cred): number;
  link?(name: string, target: Inode): number;
  unlink?(name: string): number;
  rmdir?(name: string): number;
  /** rename `oldName` here to `newName` in `newDir` (same fs); RENAME_* flags */
  rename?(oldName: string, newDir: Inode, newName: string, flags: number): number;

  // symlinks
  readlink?(): string | number;
  /**
   * Magic links (/proc/PID/fd/N, /proc/PID/exe): the path walk continues at
   * the returned target instead of following readlink() text.
   */
  magicLink?(): { inode: Inode; path: string; file?: OpenFile } | number;

  /** Open: returns the ops for a new description; flags are open(2) flags. */
  open?(flags: number, ctx: IoContext): FileOps | number;
}

/** An open file description (shared by dup'ed fds and across fork). */
export class OpenFile {
  pos = 0;
  refs = 0;
  /** per-description private data of the filesystem (pipe end, dir cursor) */
  priv: unknown;
  /** listing snapshot for getdents64 */
  dirCache: DirEntry[] | undefined;
  /** where it was opened, for *at calls relative to it and fchdir (set by the kernel) */
  location: Location | undefined;

  constructor(
    public readonly inode: Inode,
    /** open(2) access mode and status flags (O_APPEND, O_NONBLOCK, ...) */
    public flags: number,
    public readonly ops: FileOps,
    /** guest path it was opened by, for /proc/PID/fd and traces */
    public readonly path: string,
  ) {}
}
