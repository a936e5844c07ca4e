/**
 * File I/O syscalls: open, read, write and friends, descriptors, fcntl,
 * ioctl, pipes.
 */
import { Reg } from '../../platform/regs.ts';
import { E } from '../errno.ts';
import { accessOk } from '../guest-memory.ts';
import { ioContext } from '../io-context.ts';
import type { Kernel } from '../kernel.ts';
import { AT_FDCWD, lookupAt, lookupParentAt, openLocation } from '../lookup.ts';
import { sendToThread } from '../signals.ts';
import { SIGPIPE, SI_USER } from '../signal-state.ts';
import type { Task } from '../task.ts';
import { locInode } from '../vfs/path-walk.ts';
import { createPipe, pipefs, pipeOf } from '../vfs/pipe.ts';
import { setPipeSize } from '../vfs/pipe-size.ts';
import { releaseFor } from '../memory-budget.ts';
import { OpenFile, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, S_IFSOCK, type FileOps } from '../vfs/types.ts';
import { inodePermission, onReadOnlyMount, R_OK, W_OK, X_OK } from './fs-meta.ts';
import { BLOCK } from '../syscall-result.ts';
import type { SyscallFamily } from './table.ts';

export const O_ACCMODE = 3, O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0o100, O_EXCL = 0o200,
  O_NOCTTY = 0o400, O_TRUNC = 0o1000, O_APPEND = 0o2000, O_NONBLOCK = 0o4000, O_DSYNC = 0o10000,
  O_ASYNC = 0o20000, O_DIRECT = 0o40000, O_LARGEFILE = 0o100000, O_DIRECTORY = 0o200000,
  O_NOFOLLOW = 0o400000, O_NOATIME = 0o1000000, O_CLOEXEC = 0o2000000, O_SYNC = 0o4010000,
  O_PATH = 0o10000000, O_TMPFILE = 0o20200000;
/** O_TMPFILE's own bit; O_TMPFILE is it and O_DIRECTORY (include/uapi/asm-generic/fcntl.h). */
const __O_TMPFILE = 0o20000000;

const VALID_OPEN_FLAGS = O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC |
  O_ASYNC | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_SYNC | O_PATH | O_TMPFILE;
/** Flags F_SETFL may change (fcntl(2)). */
const SETFL_MASK = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;

/** Largest single transfer, like MAX_RW_COUNT. */
const MAX_RW = 0x7ffff000;
/** Bytes moved through the kernel per read/write call at most (short counts are legal). */
const CHUNK = 1 << 20;

export function getFile(t: Task, fd: number): OpenFile | number {
  const f = t.proc.files.get(fd);
  return f ?? -E.EBADF;
}

function readable(f: OpenFile): boolean {
  const m = f.flags & O_ACCMODE;
  return !(f.flags & O_PATH) && (m === O_RDONLY || m === O_RDWR);
}

function writable(f: OpenFile): boolean {
  const m = f.flags & O_ACCMODE;
  return !(f.flags & O_PATH) && (m === O_WRONLY || m === O_RDWR);
}

/**
 * open(2)/openat(2). Checks flags first (unknown bits are ignored by Linux
 * for open, but O_TMPFILE without O_DIRECTORY semantics is EINVAL).
 */
export function doOpen(k: Kernel, t: Task, dirfd: number, path: string, flags: number, mode: number): number {
  // build_open_how() (fs/open.c): O_PATH beats everything else, so an open
  // with every flag set is an O_PATH|O_DIRECTORY|O_NOFOLLOW lookup.
  if (flags & O_PATH) flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  // build_open_flags(), in its order: O_CREAT|O_DIRECTORY is EINVAL (Linux
  // 6.4+), which also covers O_TMPFILE|O_CREAT; O_TMPFILE's own bit needs
  // O_DIRECTORY beside it and an access mode that may write (3 may).
  if ((flags & O_CREAT) && (flags & O_DIRECTORY)) return -E.EINVAL;
  if (flags & __O_TMPFILE) {
    if (!(flags & O_DIRECTORY) || (flags & O_ACCMODE) === O_RDONLY) return -E.EINVAL;
    return -E.EOPNOTSUPP;
  }
  // Access mode 3 is allowed: it needs read and write permission and gives
  // a descriptor for ioctls only (open(2), "File access mode").
  const acc = flags & O_ACCMODE;
  let loc = lookupAt(k, t, dirfd, path, !(flags & O_NOFOLLOW) && !((flags & O_CREAT) && (flags & O_EXCL)));
  let created = false;
  if (typeof loc === 'number') {
    if (loc !== -E.ENOENT || !(flags & O_CREAT)) return loc;
    const par = lookupParentAt(k, t, dirfd, path);
    if (typeof par === 'number') return par;
    if (par.trailingSlash) return -E.EISDIR;
    const dir = locInode(par.dir);
    if (!dir.create) return -E.EACCES;
    const perm = inodePermission(t.proc.cred, dir, W_OK | X_OK);
    if (perm < 0) return perm;
    if (onReadOnlyMount(k, par.dir)) return -E.EROFS;
    const made = dir.create(par.name, (mode & 0o7777 & ~t.proc.fs.umask), t.proc.cred);
    if (typeof made === 'number') return made;
    loc = [...par.dir, { name: par.name, inode: made }];
    created = true;
  } else if ((flags & O_CREAT) && (flags & O_EXCL)) {
    return -E.EEXIST;
  }
  const inode = locInode(loc);
  // do_open(): O_DIRECTORY on anything but a directory is ENOTDIR, a symlink
  // that O_NOFOLLOW left as the last component included; only then does
  // may_open() refuse to open a symlink (ELOOP) unless it is O_PATH.
  if ((flags & O_DIRECTORY) && inode.type !== S_IFDIR) return -E.ENOTDIR;
  if (inode.type === S_IFLNK) return (flags & O_PATH) ? openPath(t, loc, flags) : -E.ELOOP;
  if (inode.type === S_IFDIR && (acc !== O_RDONLY || (flags & O_CREAT && !(flags & O_PATH)))) return -E.EISDIR;
  if (flags & O_PATH) return openPath(t, loc, flags);
  // do_open(): a file this call created is neither checked against its new
  // mode (open(O_CREAT|O_RDWR, 0444) gives a writable fd) nor truncated.
  const trunc = !created && (flags & O_TRUNC) !== 0;
  const wantWrite = acc !== O_RDONLY || trunc;
  if (!created) {
    const perm = inodePermission(t.proc.cred, inode, (acc !== O_WRONLY ? R_OK : 0) | (wantWrite ? W_OK : 0));
    // O_TRUNC with access mode 3 truncates too; with O_RDONLY Linux truncates as well (unspecified by POSIX).
    if (perm < 0) return perm;
    if (wantWrite && (inode.type === S_IFREG || inode.type === S_IFDIR) && onReadOnlyMount(k, loc)) return -E.EROFS;
  }
  const f = openLocation(k, t, loc, flags, trunc ? flags : flags & ~O_TRUNC);
  if (typeof f === 'number') return f;
  if (trunc && inode.type === S_IFREG && acc !== O_RDONLY && !f.ops.truncated) {
    const r = inode.setattr?.({ size: 0 });
    if (typeof r === 'number' && r < 0) {
      f.ops.release?.(f);
      return r;
    }
  }
  const fd = t.proc.files.install(f, (flags & O_CLOEXEC) !== 0);
  if (fd < 0) f.ops.release?.(f);
  return fd;
}

/** O_PATH: a descriptor that only names a location. */
function openPath(t: Task, loc: import('../vfs/path-walk.ts').Location, flags: number): number {
  const ops: FileOps = {};
  const f = new OpenFile(locInode(loc), flags, ops, loc.length <= 1 ? '/' : '/' + loc.slice(1).map((e) => e.name).join('/'));
  f.location = loc;
  return t.proc.files.install(f, (flags & O_CLOEXEC) !== 0);
}

function sysOpen(k: Kernel, t: Task, path: number, flags: number, mode: number): number {
  return sysOpenat(k, t, AT_FDCWD, path, flags, mode);
}

function sysOpenat(k: Kernel, t: Task, dirfd: number, pathPtr: number, flags: number, mode: number): number {
  const path = k.mem.readPath(t.proc.mm.hostPid, pathPtr);
  if (typeof path === 'number') return path;
  return doOpen(k, t, dirfd | 0, path, flags >>> 0 & VALID_OPEN_FLAGS, mode >>> 0);
}

function sysCreat(k: Kernel, t: Task, path: number, mode: number): number {
  return sysOpenat(k, t, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

function sysClose(_k: Kernel, t: Task, fd: number): number {
  return t.proc.files.close(fd | 0);
}

/**
 * The read path shared by read, readv, pread64: returns the bytes read, or
 * blocks the thread on the file's wait queues when nothing is there yet.
 * The file position moves only once the bytes reached the guest (consume).
 */
function readFrom(k: Kernel, t: Task, f: OpenFile, len: number, pos: number | undefined): Uint8Array | number {
  if (!readable(f)) return -E.EBADF;
  if (f.inode.type === S_IFDIR) return -E.EISDIR;
  if (!f.ops.read) return -E.EINVAL;
  const at = pos ?? f.pos;
  const r = f.ops.read(f, ioContext(k, t), Math.min(len, CHUNK), at);
  if (typeof r === 'number') {
    if (r === -E.EAGAIN && !(f.flags & O_NONBLOCK)) return k.block(t, f.ops.waitQueues?.(f) ?? []);
    return r;
  }
  return r;
}

/** The bytes reached the guest: advance the position of a plain read. */
function consume(f: OpenFile, pos: number | undefined, n: number): void {
  if (pos === undefined && f.ops.seekable !== false) f.pos += n;
}

/** A read whose bytes could not be delivered: streams get them back. */
function undeliverable(f: OpenFile, data: Uint8Array): number {
  f.ops.unread?.(f, data);
  return -E.EFAULT;
}

/**
 * access_ok() on a read or write buffer: the whole of `count` bytes from
 * `buf` lies in the user address space. vfs_read() and vfs_write()
 * (fs/read_write.c) check it before anything moves, so a count that runs
 * past the top fails with EFAULT even where the file would have given or
 * taken only a few bytes. A count with the sign bit set (a size_t past
 * SSIZE_MAX) is a negative number here and fails the same way.
 */
function userBuffer(buf: number, count: number): boolean {
  return count >= 0 && accessOk(buf, count);
}

/**
 * rw_verify_area() (fs/read_write.c) for a pread/pwrite: the end of the
 * range must still be a loff_t. An offset past 2^53 is not an exact number,
 * so that one is checked on the 64 bits of its register (the fourth
 * argument's, r10).
 */
function rangeOverflows(t: Task, pos: number, count: number): boolean {
  if (pos + count < 2 ** 53) return false;
  const raw = t.regs.raw;
  const exact = (BigInt(raw[2 * Reg.R10 + 1]!) << 32n) | BigInt(raw[2 * Reg.R10]! >>> 0);
  return exact + BigInt(count) > 0x7fffffffffffffffn;
}

/** A regular file's read at an offset too large to be exact: past its end, as every such file's is. */
function pastEndOfFile(f: OpenFile, pos: number): boolean {
  if (pos < 2 ** 53 || f.inode.type !== S_IFREG) return false;
  const st = f.inode.getattr();
  return typeof st !== 'number' && st.size <= pos;
}

/** Read implements Linux syscall read(2), with vfs_read()'s checks in its order. */
function sysRead(k: Kernel, t: Task, fd: number, buf: number, count: number): number {
  const f = getFile(t, fd | 0);
  if (typeof f === 'number') return f;
  if (!readable(f)) return -E.EBADF;
  if (!userBuffer(buf, count)) return -E.EFAULT;
  // generic_read_dir(): EISDIR even for a count of 0.
  if (f.inode.type === S_IFDIR) return -E.EISDIR;
  if (count === 0) return 0;
  if (f.ops.readToGuest) return readToGuest(k, t, f, buf, count, undefined);
  const r = readFrom(k, t, f, Math.min(count, MAX_RW), undefined);
  if (typeof r === 'number') return r;
  const n = scatter(k, t, f, [{ base: buf, len: r.length }], r);
  if (n < 0) return undeliverable(f, r);
  consume(f, undefined, n);
  return n;
}

/** read/pread64 straight into the guest's buffer (FileOps.readToGuest). */
function readToGuest(k: Kernel, t: Task, f: OpenFile, buf: number, count: number, pos: number | undefined): number {
  if (f.inode.type === S_IFDIR) return -E.EISDIR;
  const n = f.ops.readToGuest!(f, ioContext(k, t), buf, Math.min(count, MAX_RW), pos ?? f.pos);
  if (n > 0) consume(f, pos, n);
  return n;
}

/**
 * Pread64 implements Linux syscall pread64(2): ksys_pread64() refuses a
 * negative offset before it looks the descriptor up, then a file without
 * positional reads (ESPIPE), then vfs_read()'s checks.
 */
function sysPread64(k: Kernel, t: Task, fd: number, buf: number, count: number, pos: number): number {
  if (pos < 0) return -E.EINVAL;
  const f = getFile(t, fd | 0);
  if (typeof f === 'number') return f;
  if (f.ops.seekable === false) return -E.ESPIPE;
  if (!readable(f)) return -E.EBADF;
  if (!userBuffer(buf, count)) return -E.EFAULT;
  if (rangeOverflows(t, pos, count)) return -E.EINVAL;
  if (f.inode.type === S_IFDIR) return -E.EISDIR;
  if (count === 0 || pastEndOfFile(f, pos)) return 0;
  if (f.ops.readToGuest) return readToGuest(k, t, f, buf, count, pos);
  const r = readFrom(k, t, f, Math.min(count, MAX_RW), pos);
  if (typeof r === 'number') return r;
  const n = scatter(k, t, f, [{ base: buf, len: r.length }], r);
  return n < 0 ? undeliverable(f, r) : n;
}

/**
 * Where a write goes: under O_APPEND the end of the file, for pwrite too
 * (pwrite(2), BUGS: Linux appends "regardless of the value of offset");
 * else `pos` (pwrite) or the file position.
 */
function writePosition(f: OpenFile, pos: number | undefined): number {
  if (f.flags & O_APPEND) {
    const st = f.inode.getattr();
    if (typeof st !== 'number') return st.size;
  }
  return pos ?? f.pos;
}

function writeFrom(k: Kernel, t: Task, f: OpenFile, data: Uint8Array, pos: number | undefined): number {
  if (!writable(f)) return -E.EBADF;
  if (!f.ops.write) return -E.EINVAL;
  const at = writePosition(f, pos);
  const r = f.ops.write(f, ioContext(k, t), data, at);
  if (r === -E.EAGAIN && !(f.flags & O_NONBLOCK)) return k.block(t, f.ops.waitQueues?.(f) ?? []);
  if (r === -E.EPIPE) sendToThread(k, t, { signo: SIGPIPE, code: SI_USER, pid: t.pid, uid: t.proc.cred.uid });
  if (r > 0 && pos === undefined && f.ops.seekable !== false) f.pos = at + r;
  return r;
}

/** Write implements Linux syscall write(2), with vfs_write()'s checks in its order. */
function sysWrite(k: Kernel, t: Task, fd: number, buf: number, count: number): number {
  const f = getFile(t, fd | 0);
  if (typeof f === 'number') return f;
  if (!writable(f)) return -E.EBADF;
  if (!userBuffer(buf, count)) return -E.EFAULT;
  if (count === 0) return 0;
  if (f.ops.writeFromGuest) return writeFromGuest(k, t, f, buf, count, undefined);
  return writeAllBlocking(k, t, f, buf, Math.min(count, MAX_RW));
}

/** write/pwrite64 straight from the guest's buffer (FileOps.writeFromGuest). */
function writeFromGuest(k: Kernel, t: Task, f: OpenFile, buf: number, count: number, pos: number | undefined): number {
  const at = writePosition(f, pos);
  const r = f.ops.writeFromGuest!(f, ioContext(k, t), buf, Math.min(count, MAX_RW), at);
  if (r > 0 && pos === undefined) f.pos = at + r;
  return r;
}

/**
 * A blocking write to a pipe or terminal goes on until all of it is
 * written (pipe(7)); a signal then ends it with the count written so far.
 * Progress lives in t.syscallState across the retries.
 */
function writeAllBlocking(k: Kernel, t: Task, f: OpenFile, buf: number, count: number): number {
  const st = (t.syscallState as { done: number } | undefined) ?? { done: 0 };
  const data = k.mem.read(t.proc.mm.hostPid, buf + st.done, Math.min(count - st.done, CHUNK));
  if (typeof data === 'number') return st.done > 0 ? st.done : data;
  const r = writeFrom(k, t, f, data, undefined);
  if (r === BLOCK) return st.done > 0 ? blockWithProgress(t, st) : r;
  if (r < 0) return st.done > 0 ? st.done : r;
  st.done += r;
  const streaming = f.ops.seekable === false && !(f.flags & O_NONBLOCK);
  if (st.done < count && streaming && r > 0) {
    t.syscallState = st;
    t.interruptResult = st.done;
    return k.block(t, f.ops.waitQueues?.(f) ?? []);
  }
  return st.done;
}

function blockWithProgress(t: Task, st: { done: number }): number {
  t.syscallState = st;
  t.interruptResult = st.done;
  return BLOCK;
}

/** Pwrite64 implements Linux syscall pwrite64(2), in ksys_pwrite64()'s and vfs_write()'s order (see sysPread64). */
function sysPwrite64(k: Kernel, t: Task, fd: number, buf: number, count: number, pos: number): number {
  if (pos < 0) return -E.EINVAL;
  const f = getFile(t, fd | 0);
  if (typeof f === 'number') return f;
  if (f.ops.seekable === false) return -E.ESPIPE;
  if (!writable(f)) return -E.EBADF;
  if (!userBuffer(buf, count)) return -E.EFAULT;
  if (rangeOverflows(t, pos, count)) return -E.EINVAL;
  if (count === 0) return 0;
  if (f.ops.writeFromGuest) return writeFromGuest(k, t, f, buf, count, pos);
  const data = k.mem.read(t.proc.mm.hostPid, buf, Math.min(count, MAX_RW, CHUNK));
  if (typeof data === 'number') return data;
  return writeFrom(k, t, f, data, pos);
}

function sysReadv(k: Kernel, t: Task, fd: number, iov: number, cnt: number): number {
  const f = getFile(t, fd | 0);
  if (typeof f === 'number') return f;
  const vec = k.mem.readIovec(t.proc.mm.hostPid, iov, cnt | 0);
  if (typeof vec === 'number') return vec;
  const total = vec.reduce((s, v) => s + v.len, 0);
  if (total === 0) return readable(f) ? 0 : -E.EBADF;
  const r = readFrom(k, t, f, total, undefined);
  if (typeof r === 'number') return r;
  const n = scatter(k, t, f, vec, r);
  if (n < 0) return undeliverable(f, r);
  if (n < r.length) f.ops.unread?.(f, r.subarray(n));
  consume(f, undefined, n);
  return n;
}

/**
 * Copies what a read gave into the guest's buffers, in order, and returns
 * how much got there (-EFAULT for nothing). A stream's bytes (a pipe's,
 * FileOps.unread) go a buffer at a time or not at all, as pipe_read()
 * copies whole pipe buffers and leaves one it could not copy in the pipe;
 * a file's or a device's stop at the first byte that faults, as
 * filemap_read() and read_iter_zero() return what copy_to_iter() copied.
 */
function scatter(k: Kernel, t: Task, f: OpenFile, vec: readonly { base: number; len: number }[], data: Uint8Array): number {
  const pid = t.proc.mm.hostPid;
  let off = 0;
  for (const v of vec) {
    if (off >= data.length) break;
    const n = Math.min(v.len, data.length - off);
    if (n === 0) continue;
    const part = data.subarray(off, off + n);
    const w = f.ops.unread ? (k.mem.write(pid, v.base, part) < 0 ? 0 : n) : Math.max(0, k.mem.writePartial(pid, v.base, part));
    off += w;
    if (w < n) return off > 0 ? off : -E.EFAULT;
  }
  return off;
}

function gather(k: Kernel, t: Task, vec: { base: number; len: number }[]): Uint8Array | number {
  const parts: Buffer[] = [];
  let total = 0;
  for (const v of vec) {
    if (v.len === 0) continue;
    const n = Math.min(v.len, CHUNK - total);
    if (n <= 0) break;
    const b = k.mem.read(t.proc.mm.hostPid, v.base, n);
    if (typeof b === 'number') return b;
    parts.push(b);
    total += n;
  }
  return Buffer.concat(parts);
}

function sysWritev(k: Kernel, t: Task, fd: number, iov: number, cnt: number): number {
  const f = getFile(t, fd | 0);
  if (typeof f === 'number') return f;
  if (!writable(f)) return -E.EBADF;
  const vec = k.mem.readIovec(t.proc.mm.hostPid, iov, cnt | 0);
  if (typeof vec === 'number') return vec;
  if (f.ops.writeFromGuest) return writevFromGuest(k, t, f, vec, undefined);
  const data = gather(k, t, vec);
  if (typeof data === 'number') return data;
  if (data.length === 0) return 0;
  return writeFrom(k, t, f, data, undefined);
}

/**
 * writev/pwritev straight from each guest buffer in turn, as
 * generic_perform_write() walks its iov_iter: a buffer that faults ends
 * the write with what the ones before it gave (EFAULT only if nothing).
 */
function writevFromGuest(k: Kernel, t: Task, f: OpenFile, vec: readonly { base: number; len: number }[], pos: number | undefined): number {
  let done = 0;
  for (const v of vec) {
    if (v.len === 0) continue;
    const r = writeFromGuest(k, t, f, v.base, v.len, pos === undefined ? undefined : pos + done);
    if (r < 0) return done > 0 ? done : r;
    done += r;
    if (r < v.len) break;
  }
  return done;
}

function sysPreadv(k: Kernel, t: Task, fd: number, iov: number, cnt: number, pos: number): number {
  const f = getFile(t, fd | 0);
  if (typeof f === 'number') return f;
  if (pos < 0) return -E.EINVAL;
  if (f.ops.seekable === false) return -E.ESPIPE;
  const vec = k.mem.readIovec(t.proc.mm.hostPid, iov, cnt | 0);
  if (typeof vec === 'number') return vec;
  const total = vec.reduce((s, v) => s + v.len, 0);
  if (total === 0) return 0;
  const r = readFrom(k, t, f, total, pos);
  if (typeof r === 'number') return r;
  return scatter(k, t, f, vec, r);
}

function sysPwritev(k: Kernel, t: Task, fd: number, iov: number, cnt: number, pos: number): number {
  const f = getFile(t, fd | 0);
  if (typeof f === 'number') return f;
  if (pos < 0) return -E.EINVAL;
  if (f.ops.seekable === false) return -E.ESPIPE;
  if (!writable(f)) return -E.EBADF;
  const vec = k.mem.readIovec(t.proc.mm.hostPid, iov, cnt | 0);
  if (typeof vec === 'number') return vec;
  if (f.ops.writeFromGuest) return writevFromGuest(k, t, f, vec, pos);
  const data = gather(k, t, vec);
  if (typeof data === 'number') return data;
  return writeFrom(k, t, f, data, pos);
}

const SEEK_SET = 0, SEEK_CUR = 1, SEEK_END = 2, SEEK_DATA = 3, SEEK_HOLE = 4;

function sysLseek(_k: Kernel, t: Task, fd: number, offset: number, whence: number): number {
  const f = getFile(t, fd | 0);
  if (typeof f === 'number') return f;
  if (f.ops.seekable === false) return -E.ESPIPE;
  // ksys_lseek(): a whence past SEEK_MAX is refused before any driver sees it.
  if ((whence | 0) < SEEK_SET || (whence | 0) > SEEK_HOLE) return -E.EINVAL;
  if (f.ops.llseek) return f.ops.llseek(f, offset, whence | 0);
  let base: number;
  switch (whence | 0) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = f.pos; break;
    case SEEK_END: case SEEK_DATA: case SEEK_HOLE: {
      const st = f.inode.getattr();
      if (typeof st === 'number') return st;
      if ((whence | 0) === SEEK_END) { base = st.size; break; }
      if (offset < 0 || offset >= st.size) return -E.ENXIO;
      if ((whence | 0) === SEEK_DATA) { f.pos = offset; return offset; }
      f.pos = st.size;
      return st.size;
    }
    default: return -E.EINVAL;
  }
  const pos = base + offset;
  if (pos < 0) return -E.EINVAL;
  if (f.inode.type === S_IFDIR && pos === 0) {
    f.dirCache = undefined;
    releaseFor(f);
  }
  f.pos = pos;
  return pos;
}

function sysDup(_k: Kernel, t: Task, fd: number): number {
  const f = getFile(t, fd | 0);
  if (typeof f === 'number') return f;
  return t.proc.files.install(f, false);
}

function sysDup3(_k: Kernel, t: Task, oldfd: number, newfd: number, flags: number): number {
  if ((flags >>> 0) & ~O_CLOEXEC) return -E.EINVAL;
  if ((oldfd | 0) === (newfd | 0)) return -E.EINVAL;
  const f = getFile(t, oldfd | 0);
  if (typeof f === 'number') return f;
  return t.proc.files.installAt(newfd | 0, f, (flags & O_CLOEXEC) !== 0);
}

function sysDup2(k: Kernel, t: Task, oldfd: number, newfd: number): number {
  if ((oldfd | 0) === (newfd | 0)) {
    const f = getFile(t, oldfd | 0);
    return typeof f === 'number' ? f : newfd | 0;
  }
  return sysDup3(k, t, oldfd, newfd, 0);
}

const F_DUPFD = 0, F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, F_GETLK = 5, F_SETLK = 6, F_SETLKW = 7,
  F_SETOWN = 8, F_GETOWN = 9, F_DUPFD_CLOEXEC = 1030, F_GETPIPE_SZ = 1032, F_SETPIPE_SZ = 1031, F_ADD_SEALS = 1033,
  F_GET_SEALS = 1034, F_OFD_GETLK = 36, F_OFD_SETLK = 37, F_OFD_SETLKW = 38;
const FD_CLOEXEC = 1;
const F_RDLCK = 0, F_WRLCK = 1, F_UNLCK = 2;

/** fcntl(2). Record locks: the kernel serves one process-wide lock table (locks.ts). */
function sysFcntl(k: Kernel, t: Task, fd: number, cmd: number, arg: number): number {
  const f = getFile(t, fd | 0);
  if (typeof f === 'number') return f;
  switch (cmd | 0) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      const min = arg | 0;
      if (min < 0 || min >= t.proc.files.limit) return -E.EINVAL;
      return t.proc.files.install(f, (cmd | 0) === F_DUPFD_CLOEXEC, min);
    }
    case F_GETFD: return t.proc.files.getCloexec(fd | 0) ? FD_CLOEXEC : 0;
    case F_SETFD: t.proc.files.setCloexec(fd | 0, (arg & FD_CLOEXEC) !== 0); return 0;
    case F_GETFL: return f.flags & ~O_CLOEXEC;
    case F_SETFL: f.flags = (f.flags & ~SETFL_MASK) | ((arg >>> 0) & SETFL_MASK); return 0;
    case F_GETOWN: return 0;
    case F_SETOWN: return 0;
    case F_GETPIPE_SZ: return pipeOf(f.ops)?.capacity ?? -E.EBADF;
    case F_SETPIPE_SZ: {
      const p = pipeOf(f.ops);
      return p ? setPipeSize(p, arg, t.proc.cred.euid === 0) : -E.EBADF;
    }
    case F_GETLK: case F_SETLK: case F_SETLKW: case F_OFD_GETLK: case F_OFD_SETLK: case F_OFD_SETLKW:
      return recordLock(k, t, f, cmd | 0, arg);
    case F_ADD_SEALS: case F_GET_SEALS: return -E.EINVAL;
    default: return -E.EINVAL;
  }
}

/** struct flock: l_type i16, l_whence i16, l_start i64, l_len i64, l_pid i32 */
interface Lock { owner: number; file: OpenFile; type: number; start: number; end: number }
const locks = new Map<object, Lock[]>();

function recordLock(k: Kernel, t: Task, f: OpenFile, cmd: number, arg: number): number {
  const pid = t.proc.mm.hostPid;
  const b = k.mem.read(pid, arg, 32);
  if (typeof b === 'number') return b;
  const type = b.readInt16LE(0), whence = b.readInt16LE(2);
  const start0 = Number(b.readBigInt64LE(8)), len = Number(b.readBigInt64LE(16));
  if (type !== F_RDLCK && type !== F_WRLCK && type !== F_UNLCK) return -E.EINVAL;
  let base = 0;
  if (whence === SEEK_CUR) base = f.pos;
  else if (whence === SEEK_END) {
    const st = f.inode.getattr();
    if (typeof st === 'number') return st;
    base = st.size;
  } else if (whence !== SEEK_SET) return -E.EINVAL;
  let start = base + start0, end = len === 0 ? Infinity : start + len;
  if (len < 0) { end = start; start = start + len; }
  if (start < 0) return -E.EINVAL;
  const key = f.inode.fs.dev + ':' + f.inode.ino;
  const keyObj = lockKey(key);
  const list = locks.get(keyObj) ?? [];
  const owner = t.proc.pid;
  const conflict = list.find((l) => l.owner !== owner && l.start < end && start < l.end &&
    (l.type === F_WRLCK || type === F_WRLCK));
  if (cmd === F_GETLK || cmd === F_OFD_GETLK) {
    if (type === F_UNLCK) return -E.EINVAL;
    if (!conflict) b.writeInt16LE(F_UNLCK, 0);
    else {
      b.writeInt16LE(conflict.type, 0);
      b.writeInt16LE(SEEK_SET, 2);
      b.writeBigInt64LE(BigInt(conflict.start), 8);
      b.writeBigInt64LE(BigInt(conflict.end === Infinity ? 0 : conflict.end - conflict.start), 16);
      b.writeInt32LE(conflict.owner, 24);
    }
    return k.mem.write(pid, arg, b);
  }
  if (type !== F_UNLCK && conflict) {
    if (cmd === F_SETLKW || cmd === F_OFD_SETLKW) return -E.EAGAIN; // no deadlock detection: fail like SETLK
    return -E.EAGAIN;
  }
  if (type !== F_UNLCK && !readable(f) && type === F_RDLCK) return -E.EBADF;
  if (type === F_WRLCK && !writable(f)) return -E.EBADF;
  // Replace this owner's locks over [start, end) with the new one.
  const kept: Lock[] = [];
  for (const l of list) {
    if (l.owner !== owner || l.end <= start || l.start >= end) { kept.push(l); continue; }
    if (l.start < start) kept.push({ ...l, end: start });
    if (l.end > end) kept.push({ ...l, start: end });
  }
  if (type !== F_UNLCK) kept.push({ owner, file: f, type, start, end });
  locks.set(keyObj, kept);
  return 0;
}

const lockKeys = new Map<string, object>();
function lockKey(k: string): object {
  let o = lockKeys.get(k);
  if (!o) { o = {}; lockKeys.set(k, o); }
  return o;
}

const FIONBIO = 0x5421, FIOCLEX = 0x5451, FIONCLEX = 0x5450;

function sysIoctl(k: Kernel, t: Task, fd: number, cmd: number, arg: number): number {
  const f = getFile(t, fd | 0);
  if (typeof f === 'number') return f;
  const c = cmd >>> 0;
  switch (c) {
    case FIOCLEX: t.proc.files.setCloexec(fd | 0, true); return 0;
    case FIONCLEX: t.proc.files.setCloexec(fd | 0, false); return 0;
    case FIONBIO: {
      const v = k.mem.readI32(t.proc.mm.hostPid, arg);
      if (v === undefined) return -E.EFAULT;
      f.flags = v ? f.flags | O_NONBLOCK : f.flags & ~O_NONBLOCK;
      return 0;
    }
  }
  if (!f.ops.ioctl) return -E.ENOTTY;
  return f.ops.ioctl(f, ioContext(k, t), c, arg);
}

function sysPipe2(k: Kernel, t: Task, fds: number, flags: number): number {
  if ((flags >>> 0) & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT)) return -E.EINVAL;
  const p = createPipe(pipefs, nextPipeIno++);
  const r = new OpenFile(p.inode, O_RDONLY | (flags & O_NONBLOCK), p.readOps, `pipe:[${p.inode.ino}]`);
  const w = new OpenFile(p.inode, O_WRONLY | (flags & O_NONBLOCK), p.writeOps, `pipe:[${p.inode.ino}]`);
  const cloexec = (flags & O_CLOEXEC) !== 0;
  const rfd = t.proc.files.install(r, cloexec);
  if (rfd < 0) {
    r.ops.release?.(r);
    w.ops.release?.(w);
    return rfd;
  }
  const wfd = t.proc.files.install(w, cloexec);
  if (wfd < 0) {
    t.proc.files.close(rfd);
    w.ops.release?.(w);
    return wfd;
  }
  const b = Buffer.alloc(8);
  b.writeInt32LE(rfd, 0);
  b.writeInt32LE(wfd, 4);
  // Undo on a bad pointer, like gVisor's pipe2: no descriptors leak.
  if (k.mem.write(t.proc.mm.hostPid, fds, b) < 0) {
    t.proc.files.close(rfd);
    t.proc.files.close(wfd);
    return -E.EFAULT;
  }
  return 0;
}
let nextPipeIno = 1000;

function sysPipe(k: Kernel, t: Task, fds: number): number {
  return sysPipe2(k, t, fds, 0);
}

function sysFsync(_k: Kernel, t: Task, fd: number): number {
  const f = getFile(t, fd | 0);
  return typeof f === 'number' ? f : 0;
}

function sysFtruncate(_k: Kernel, t: Task, fd: number, len: number): number {
  const f = getFile(t, fd | 0);
  if (typeof f === 'number') return f;
  if (len < 0) return -E.EINVAL;
  if (!writable(f)) return -E.EINVAL;
  if (f.inode.type === S_IFDIR) return -E.EISDIR;
  if (f.inode.type !== S_IFREG) return -E.EINVAL;
  return f.inode.setattr?.({ size: len }) ?? -E.EPERM;
}

function sysTruncate(k: Kernel, t: Task, pathPtr: number, len: number): number {
  const path = k.mem.readPath(t.proc.mm.hostPid, pathPtr);
  if (typeof path === 'number') return path;
  if (len < 0) return -E.EINVAL;
  const loc = lookupAt(k, t, AT_FDCWD, path, true);
  if (typeof loc === 'number') return loc;
  const inode = locInode(loc);
  if (inode.type === S_IFDIR) return -E.EISDIR;
  if (inode.type !== S_IFREG) return -E.EINVAL;
  return inode.setattr?.({ size: len }) ?? -E.EPERM;
}

/**
 * sendfile(2): in-kernel copy, used by busybox cp. do_sendfile()'s order:
 * the input fd (EBADF; ESPIPE for an offset on a stream), then the output
 * fd; a pipe or socket as input has no splice_read, so do_splice_read()
 * says EINVAL (the host's 6.18 does), never a wait on it.
 */
function sysSendfile(k: Kernel, t: Task, outFd: number, inFd: number, offPtr: number, count: number): number {
  const pid = t.proc.mm.hostPid;
  let pos: number | undefined;
  if (offPtr) {
    // (sendfile64 copies the offset in before it looks at either fd)
    const p = k.mem.readU64(pid, offPtr);
    if (p < 0) return -E.EFAULT;
    pos = p;
  }
  const inp = getFile(t, inFd | 0);
  if (typeof inp === 'number') return inp;
  if (!readable(inp)) return -E.EBADF;
  const stream = inp.inode.type === S_IFIFO || inp.inode.type === S_IFSOCK;
  if (pos !== undefined && stream) return -E.ESPIPE;
  const out = getFile(t, outFd | 0);
  if (typeof out === 'number') return out;
  if (!writable(out)) return -E.EBADF;
  if (stream) return -E.EINVAL;
  const data = readFrom(k, t, inp, Math.min(count, CHUNK), pos);
  if (typeof data === 'number') return data;
  if (data.length === 0) return 0;
  const w = writeFrom(k, t, out, data, undefined);
  if (w < 0) {
    inp.ops.unread?.(inp, data);
    return w;
  }
  if (w < data.length) inp.ops.unread?.(inp, data.subarray(w));
  if (offPtr) k.mem.writeU64(pid, offPtr, pos! + w);
  else consume(inp, undefined, w);
  return w;
}

export const fsIoSyscalls: SyscallFamily = {
  open: sysOpen, openat: sysOpenat, creat: sysCreat, close: sysClose,
  read: sysRead, write: sysWrite, pread64: sysPread64, pwrite64: sysPwrite64,
  readv: sysReadv, writev: sysWritev, preadv: sysPreadv, pwritev: sysPwritev,
  lseek: sysLseek, dup: sysDup, dup2: sysDup2, dup3: sysDup3, fcntl: sysFcntl, ioctl: sysIoctl,
  pipe: sysPipe, pipe2: sysPipe2, fsync: sysFsync, fdatasync: sysFsync, ftruncate: sysFtruncate,
  truncate: sysTruncate, sendfile: sysSendfile,
};

export { readable, writable };
