/**
 * File metadata syscalls: the stat family, statx, statfs, access checks,
 * mode and ownership changes, timestamps, readlink.
 *
 * The VFS does no permission checks of its own (types.ts): the rules of
 * credentials against modes (generic_permission, inode_owner_or_capable,
 * chown_ok) live here, and fs-dir.ts uses them for directory changes.
 * The guest user is root by default, so most of them are bypasses; they
 * matter once a guest program drops to another uid.
 */
import { E } from '../errno.ts';
import { readI64, writeU64 } from '../guest-memory.ts';
import type { Kernel } from '../kernel.ts';
import { AT_EMPTY_PATH, AT_FDCWD, AT_NO_AUTOMOUNT, AT_SYMLINK_NOFOLLOW, lookupAt, lookupAtFlags } from '../lookup.ts';
import type { Task } from '../task.ts';
import { major, minor, type Mount } from '../vfs/mounts.ts';
import { locInode, locPath, type Location } from '../vfs/path-walk.ts';
import { nowTimespec } from '../vfs/pipe.ts';
import {
  S_IFDIR, S_IFLNK, S_IFMT, S_IFREG,
  type Cred, type Inode, type OpenFile, type SetAttr, type Stat, type StatFs, type Timespec,
} from '../vfs/types.ts';
import { getFile, O_PATH } from './fs-io.ts';
import type { SyscallFamily } from './table.ts';

export const S_ISUID = 0o4000, S_ISGID = 0o2000, S_ISVTX = 0o1000;
const S_IXGRP = 0o010;

/** access(2) mode bits, also the MAY_* bits of permission checks. */
export const F_OK = 0, X_OK = 1, W_OK = 2, R_OK = 4;
const MAY_EXEC = X_OK, MAY_WRITE = W_OK, MAY_READ = R_OK;

/** faccessat2(2): check with the effective ids instead of the real ones. */
export const AT_EACCESS = 0x200;
/** statx(2) sync flags (include/uapi/linux/fcntl.h). */
const AT_STATX_FORCE_SYNC = 0x2000, AT_STATX_DONT_SYNC = 0x4000;
const AT_STATX_SYNC_TYPE = AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC;

/** statx(2) mask bits (include/uapi/linux/stat.h). */
export const STATX_TYPE = 0x1, STATX_MODE = 0x2, STATX_NLINK = 0x4, STATX_UID = 0x8, STATX_GID = 0x10,
  STATX_ATIME = 0x20, STATX_MTIME = 0x40, STATX_CTIME = 0x80, STATX_INO = 0x100, STATX_SIZE = 0x200,
  STATX_BLOCKS = 0x400, STATX_BASIC_STATS = 0x7ff, STATX_BTIME = 0x800, STATX__RESERVED = 0x80000000;

/** utimensat(2) special nanosecond values. */
export const UTIME_NOW = (1 << 30) - 1, UTIME_OMIT = (1 << 30) - 2;

/** statfs f_flags (include/linux/statfs.h). */
const ST_RDONLY = 0x1, ST_NOSUID = 0x2, ST_NODEV = 0x4, ST_NOEXEC = 0x8, ST_SYNCHRONOUS = 0x10, ST_VALID = 0x20,
  ST_MANDLOCK = 0x40, ST_NOATIME = 0x400, ST_NODIRATIME = 0x800, ST_RELATIME = 0x1000;

// ----- struct layouts -----

/** sizeof(struct stat) on x86_64. */
export const STAT_SIZE = 144;
/** sizeof(struct statx). */
export const STATX_STRUCT_SIZE = 256;
/** sizeof(struct statfs) on x86_64. */
export const STATFS_SIZE = 120;

/** Where encodeStat() builds the struct; its padding and reserved fields stay zero. */
const statScratch = Buffer.alloc(STAT_SIZE);

/**
 * struct stat of x86_64 (arch/x86/include/uapi/asm/stat.h), in a buffer
 * the next call reuses: copy it out to the guest before encoding another.
 */
export function encodeStat(st: Stat): Buffer {
  const b = statScratch;
  writeU64(b, 0, st.dev);
  writeU64(b, 8, st.ino);
  writeU64(b, 16, st.nlink);
  b.writeUInt32LE(st.mode >>> 0, 24);
  b.writeUInt32LE(st.uid >>> 0, 28);
  b.writeUInt32LE(st.gid >>> 0, 32);
  writeU64(b, 40, st.rdev);
  writeU64(b, 48, st.size);
  writeU64(b, 56, st.blksize);
  writeU64(b, 64, st.blocks);
  writeU64(b, 72, st.atime.sec);
  writeU64(b, 80, st.atime.nsec);
  writeU64(b, 88, st.mtime.sec);
  writeU64(b, 96, st.mtime.nsec);
  writeU64(b, 104, st.ctime.sec);
  writeU64(b, 112, st.ctime.nsec);
  return b;
}

function statxTimestamp(b: Buffer, off: number, ts: Timespec): void {
  writeU64(b, off, ts.sec);
  b.writeUInt32LE(ts.nsec >>> 0, off + 8);
}

/** struct statx (include/uapi/linux/stat.h); we know the basic stats, not btime. */
export function encodeStatx(st: Stat): Buffer {
  const b = Buffer.alloc(STATX_STRUCT_SIZE);
  b.writeUInt32LE(STATX_BASIC_STATS, 0);
  b.writeUInt32LE(st.blksize >>> 0, 4);
  writeU64(b, 8, 0); // stx_attributes
  b.writeUInt32LE(st.nlink >>> 0, 16);
  b.writeUInt32LE(st.uid >>> 0, 20);
  b.writeUInt32LE(st.gid >>> 0, 24);
  b.writeUInt16LE(st.mode & 0xffff, 28);
  writeU64(b, 32, st.ino);
  writeU64(b, 40, st.size);
  writeU64(b, 48, st.blocks);
  writeU64(b, 56, 0); // stx_attributes_mask
  statxTimestamp(b, 64, st.atime);
  // stx_btime (80) stays zero: STATX_BTIME is not in the mask.
  statxTimestamp(b, 96, st.ctime);
  statxTimestamp(b, 112, st.mtime);
  b.writeUInt32LE(major(st.rdev), 128);
  b.writeUInt32LE(minor(st.rdev), 132);
  b.writeUInt32LE(major(st.dev), 136);
  b.writeUInt32LE(minor(st.dev), 140);
  return b;
}

/** struct statfs of x86_64 (all fields 64-bit; f_fsid is two ints). */
export function encodeStatfs(s: StatFs, dev: number, flags: number): Buffer {
  const b = Buffer.alloc(STATFS_SIZE);
  writeU64(b, 0, s.type);
  writeU64(b, 8, s.bsize);
  writeU64(b, 16, s.blocks);
  writeU64(b, 24, s.bfree);
  writeU64(b, 32, s.bavail);
  writeU64(b, 40, s.files);
  writeU64(b, 48, s.ffree);
  writeU64(b, 56, dev); // f_fsid: huge_encode_dev(s_dev), as most filesystems give
  writeU64(b, 64, s.namelen);
  writeU64(b, 72, s.bsize); // f_frsize
  writeU64(b, 80, flags);
  return b;
}

// ----- credentials against modes -----

function inGroup(cred: Cred, gid: number): boolean {
  return cred.fsgid === gid || cred.groups.includes(gid);
}

/**
 * generic_permission(): may `cred` (its fsuid/fsgid) access an inode with
 * `st` for `mask` (MAY_READ|MAY_WRITE|MAY_EXEC)? Root passes read and
 * write always, and exec on directories or when any x bit is set.
 * Returns 0 or -EACCES.
 */
export function permissionOf(cred: Cred, st: Stat, mask: number): number {
  mask &= MAY_READ | MAY_WRITE | MAY_EXEC;
  if (mask === 0) return 0;
  if (cred.fsuid === 0) {
    const isDir = (st.mode & S_IFMT) === S_IFDIR;
    if (!(mask & MAY_EXEC) || isDir || (st.mode & 0o111)) return 0;
    return -E.EACCES;
  }
  let bits: number;
  if (cred.fsuid === st.uid) bits = (st.mode >> 6) & 7;
  else if (inGroup(cred, st.gid)) bits = (st.mode >> 3) & 7;
  else bits = st.mode & 7;
  return (bits & mask) === mask ? 0 : -E.EACCES;
}

/** permissionOf() for an inode: -errno from getattr, -EACCES, or 0. */
export function inodePermission(cred: Cred, inode: Inode, mask: number): number {
  const st = inode.getattr();
  if (typeof st === 'number') return st;
  return permissionOf(cred, st, mask);
}

/** inode_owner_or_capable(): the file's owner, or root (CAP_FOWNER). */
export function ownerOrRoot(cred: Cred, st: Stat): boolean {
  return cred.fsuid === 0 || cred.fsuid === st.uid;
}

/**
 * The mount a location lies on: the topmost mount at the longest prefix of
 * its guest path. Undefined when the kernel has no mount table entry for it.
 */
export function mountOf(k: Kernel, loc: Location): Mount | undefined {
  let p = locPath(loc);
  for (;;) {
    const m = k.mounts.mountAt(p);
    if (m) return m;
    if (p === '/') return undefined;
    const i = p.lastIndexOf('/');
    p = i <= 0 ? '/' : p.slice(0, i);
  }
}

function hasOption(m: Mount | undefined, opt: string): boolean {
  return m !== undefined && m.options.split(',').includes(opt);
}

/** Is the location on a mount that was mounted read-only (EROFS for changes)? */
export function onReadOnlyMount(k: Kernel, loc: Location): boolean {
  return hasOption(mountOf(k, loc), 'ro');
}

/** statfs f_flags from a mount's options. */
function statfsFlags(m: Mount | undefined): number {
  let f = ST_VALID;
  if (hasOption(m, 'ro')) f |= ST_RDONLY;
  if (hasOption(m, 'nosuid')) f |= ST_NOSUID;
  if (hasOption(m, 'nodev')) f |= ST_NODEV;
  if (hasOption(m, 'noexec')) f |= ST_NOEXEC;
  if (hasOption(m, 'sync')) f |= ST_SYNCHRONOUS;
  if (hasOption(m, 'mand')) f |= ST_MANDLOCK;
  if (hasOption(m, 'noatime')) f |= ST_NOATIME;
  if (hasOption(m, 'nodiratime')) f |= ST_NODIRATIME;
  if (hasOption(m, 'relatime')) f |= ST_RELATIME;
  return f;
}

/** Where an open file lies, for mount flags; undefined for pipes and other anonymous files. */
function fileLoc(f: OpenFile): Location | undefined {
  return f.location;
}

/** Regular files, dirs and symlinks are what a read-only mount protects (special_file() is not). */
function protectedByRo(type: number): boolean {
  return type === S_IFREG || type === S_IFDIR || type === S_IFLNK;
}

// ----- the stat family -----

function pidOf(t: Task): number {
  return t.proc.mm.hostPid;
}

function writeStat(k: Kernel, t: Task, inode: Inode, buf: number): number {
  const st = inode.getattr();
  if (typeof st === 'number') return st;
  return k.mem.write(pidOf(t), buf, encodeStat(st));
}

/** A path argument, or '' for a NULL pointer when AT_EMPTY_PATH allows it (Linux 6.11). */
function readPathOrEmpty(k: Kernel, t: Task, ptr: number, flags: number): string | number {
  if (ptr === 0 && (flags & AT_EMPTY_PATH)) return '';
  return k.mem.readPath(pidOf(t), ptr);
}

/** A path that must not be empty: ENOENT for "" (getname()), before any dirfd is looked at. */
function readNonEmptyPath(k: Kernel, t: Task, ptr: number): string | number {
  const p = k.mem.readPath(pidOf(t), ptr);
  if (typeof p === 'number') return p;
  return p === '' ? -E.ENOENT : p;
}

/** Stat implements Linux syscall stat(2). */
function sysStat(k: Kernel, t: Task, pathPtr: number, buf: number): number {
  const path = readNonEmptyPath(k, t, pathPtr);
  if (typeof path === 'number') return path;
  const loc = lookupAt(k, t, AT_FDCWD, path, true);
  if (typeof loc === 'number') return loc;
  return writeStat(k, t, locInode(loc), buf);
}

/** Lstat implements Linux syscall lstat(2). */
function sysLstat(k: Kernel, t: Task, pathPtr: number, buf: number): number {
  const path = readNonEmptyPath(k, t, pathPtr);
  if (typeof path === 'number') return path;
  const loc = lookupAt(k, t, AT_FDCWD, path, false);
  if (typeof loc === 'number') return loc;
  return writeStat(k, t, locInode(loc), buf);
}

/** Fstat implements Linux syscall fstat(2). O_PATH descriptors may be used. */
function sysFstat(k: Kernel, t: Task, fd: number, buf: number): number {
  const f = getFile(t, fd | 0);
  if (typeof f === 'number') return f;
  return writeStat(k, t, f.inode, buf);
}

/** Resolve the dirfd+path+flags of a *at call that takes AT_EMPTY_PATH and AT_SYMLINK_NOFOLLOW. */
function lookupForAt(k: Kernel, t: Task, dirfd: number, path: string, flags: number): Location | number {
  if (path === '' && !(flags & AT_EMPTY_PATH)) return -E.ENOENT;
  return lookupAtFlags(k, t, dirfd, path, flags);
}

/** Newfstatat implements Linux syscall newfstatat(2) (fstatat). */
function sysNewfstatat(k: Kernel, t: Task, dirfd: number, pathPtr: number, buf: number, flags: number): number {
  const fl = flags >>> 0;
  if (fl & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT)) return -E.EINVAL;
  const path = readPathOrEmpty(k, t, pathPtr, fl);
  if (typeof path === 'number') return path;
  const loc = lookupForAt(k, t, dirfd | 0, path, fl);
  if (typeof loc === 'number') return loc;
  return writeStat(k, t, locInode(loc), buf);
}

/** Statx implements Linux syscall statx(2). Every basic field is filled whatever the mask asks. */
function sysStatx(k: Kernel, t: Task, dirfd: number, pathPtr: number, flags: number, mask: number, buf: number): number {
  const fl = flags >>> 0, m = mask >>> 0;
  if (m & STATX__RESERVED) return -E.EINVAL;
  if ((fl & AT_STATX_SYNC_TYPE) === AT_STATX_SYNC_TYPE) return -E.EINVAL;
  if (fl & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE)) return -E.EINVAL;
  const path = readPathOrEmpty(k, t, pathPtr, fl);
  if (typeof path === 'number') return path;
  const loc = lookupForAt(k, t, dirfd | 0, path, fl);
  if (typeof loc === 'number') return loc;
  const st = locInode(loc).getattr();
  if (typeof st === 'number') return st;
  return k.mem.write(pidOf(t), buf, encodeStatx(st));
}

function writeStatfs(k: Kernel, t: Task, inode: Inode, m: Mount | undefined, buf: number): number {
  const s = inode.fs.statfs();
  return k.mem.write(pidOf(t), buf, encodeStatfs(s, inode.fs.dev, statfsFlags(m)));
}

/** Statfs implements Linux syscall statfs(2). */
function sysStatfs(k: Kernel, t: Task, pathPtr: number, buf: number): number {
  const path = readNonEmptyPath(k, t, pathPtr);
  if (typeof path === 'number') return path;
  const loc = lookupAt(k, t, AT_FDCWD, path, true);
  if (typeof loc === 'number') return loc;
  return writeStatfs(k, t, locInode(loc), mountOf(k, loc), buf);
}

/** Fstatfs implements Linux syscall fstatfs(2). */
function sysFstatfs(k: Kernel, t: Task, fd: number, buf: number): number {
  const f = getFile(t, fd | 0);
  if (typeof f === 'number') return f;
  const loc = fileLoc(f);
  return writeStatfs(k, t, f.inode, loc ? mountOf(k, loc) : undefined, buf);
}

// ----- access -----

/**
 * The access check of access/faccessat/faccessat2: with the real ids unless
 * AT_EACCESS; then EROFS for a write check on a read-only mount.
 */
function doAccess(k: Kernel, t: Task, dirfd: number, pathPtr: number, mode: number, flags: number): number {
  if (mode & ~(R_OK | W_OK | X_OK)) return -E.EINVAL;
  if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -E.EINVAL;
  const path = k.mem.readPath(pidOf(t), pathPtr);
  if (typeof path === 'number') return path;
  const loc = lookupForAt(k, t, dirfd, path, flags);
  if (typeof loc === 'number') return loc;
  const inode = locInode(loc);
  const st = inode.getattr();
  if (typeof st === 'number') return st;
  const c = t.proc.cred;
  const cred: Cred = (flags & AT_EACCESS) ? c : { ...c, fsuid: c.uid, fsgid: c.gid };
  const r = permissionOf(cred, st, mode);
  if (r < 0) return r;
  if ((mode & W_OK) && protectedByRo(st.mode & S_IFMT) && onReadOnlyMount(k, loc)) return -E.EROFS;
  return 0;
}

/** Access implements Linux syscall access(2). */
function sysAccess(k: Kernel, t: Task, pathPtr: number, mode: number): number {
  return doAccess(k, t, AT_FDCWD, pathPtr, mode | 0, 0);
}

/** Faccessat implements Linux syscall faccessat(2) (the kernel call has no flags). */
function sysFaccessat(k: Kernel, t: Task, dirfd: number, pathPtr: number, mode: number): number {
  return doAccess(k, t, dirfd | 0, pathPtr, mode | 0, 0);
}

/** Faccessat2 implements Linux syscall faccessat2(2). */
function sysFaccessat2(k: Kernel, t: Task, dirfd: number, pathPtr: number, mode: number, flags: number): number {
  return doAccess(k, t, dirfd | 0, pathPtr, mode | 0, flags >>> 0);
}

// ----- mode and ownership -----

function setattr(inode: Inode, attr: SetAttr): number {
  if (!inode.setattr) return -E.EPERM;
  const r = inode.setattr(attr);
  return r < 0 ? r : 0;
}

/**
 * chmod_common(): only the owner or root; a non-root owner outside the
 * file's group loses S_ISGID (setattr_prepare).
 */
function doChmod(k: Kernel, t: Task, inode: Inode, loc: Location | undefined, mode: number): number {
  const st = inode.getattr();
  if (typeof st === 'number') return st;
  if (loc && onReadOnlyMount(k, loc)) return -E.EROFS;
  const cred = t.proc.cred;
  if (!ownerOrRoot(cred, st)) return -E.EPERM;
  let m = mode & 0o7777;
  if (cred.fsuid !== 0 && !inGroup(cred, st.gid)) m &= ~S_ISGID;
  return setattr(inode, { mode: m });
}

/** Chmod implements Linux syscall chmod(2). */
function sysChmod(k: Kernel, t: Task, pathPtr: number, mode: number): number {
  return sysFchmodat(k, t, AT_FDCWD, pathPtr, mode);
}

/** Fchmod implements Linux syscall fchmod(2). */
function sysFchmod(k: Kernel, t: Task, fd: number, mode: number): number {
  const f = getFile(t, fd | 0);
  if (typeof f === 'number') return f;
  if (f.flags & O_PATH) return -E.EBADF;
  return doChmod(k, t, f.inode, fileLoc(f), mode >>> 0);
}

/** Fchmodat implements Linux syscall fchmodat(2) (the kernel call has no flags; symlinks are followed). */
function sysFchmodat(k: Kernel, t: Task, dirfd: number, pathPtr: number, mode: number): number {
  const path = readNonEmptyPath(k, t, pathPtr);
  if (typeof path === 'number') return path;
  const loc = lookupAt(k, t, dirfd | 0, path, true);
  if (typeof loc === 'number') return loc;
  return doChmod(k, t, locInode(loc), loc, mode >>> 0);
}

/**
 * chown_common(): root may give any owner; the owner may only keep its uid
 * and pick a group it belongs to (chown_ok, chgrp_ok). -1 leaves an id
 * unchanged. A non-directory loses S_ISUID, and S_ISGID when group-exec.
 */
function doChown(k: Kernel, t: Task, inode: Inode, loc: Location | undefined, uidArg: number, gidArg: number): number {
  const uid = uidArg | 0, gid = gidArg | 0;
  const st = inode.getattr();
  if (typeof st === 'number') return st;
  if (loc && onReadOnlyMount(k, loc)) return -E.EROFS;
  const cred = t.proc.cred;
  const root = cred.fsuid === 0;
  const attr: SetAttr = {};
  if (uid !== -1) {
    if (!root && !(cred.fsuid === st.uid && (uid >>> 0) === st.uid)) return -E.EPERM;
    attr.uid = uid >>> 0;
  }
  if (gid !== -1) {
    if (!root && !(cred.fsuid === st.uid && ((gid >>> 0) === st.gid || inGroup(cred, gid >>> 0)))) return -E.EPERM;
    attr.gid = gid >>> 0;
  }
  if ((st.mode & S_IFMT) !== S_IFDIR) {
    let m = st.mode & 0o7777;
    if (m & S_ISUID) m &= ~S_ISUID;
    if ((m & (S_ISGID | S_IXGRP)) === (S_ISGID | S_IXGRP)) m &= ~S_ISGID;
    if (m !== (st.mode & 0o7777)) attr.mode = m;
  }
  return setattr(inode, attr);
}

/** Chown implements Linux syscall chown(2). */
function sysChown(k: Kernel, t: Task, pathPtr: number, uid: number, gid: number): number {
  return sysFchownat(k, t, AT_FDCWD, pathPtr, uid, gid, 0);
}

/** Lchown implements Linux syscall lchown(2). */
function sysLchown(k: Kernel, t: Task, pathPtr: number, uid: number, gid: number): number {
  return sysFchownat(k, t, AT_FDCWD, pathPtr, uid, gid, AT_SYMLINK_NOFOLLOW);
}

/** Fchown implements Linux syscall fchown(2). */
function sysFchown(k: Kernel, t: Task, fd: number, uid: number, gid: number): number {
  const f = getFile(t, fd | 0);
  if (typeof f === 'number') return f;
  if (f.flags & O_PATH) return -E.EBADF;
  return doChown(k, t, f.inode, fileLoc(f), uid, gid);
}

/** Fchownat implements Linux syscall fchownat(2). */
function sysFchownat(k: Kernel, t: Task, dirfd: number, pathPtr: number, uid: number, gid: number, flags: number): number {
  const fl = flags >>> 0;
  if (fl & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -E.EINVAL;
  const path = k.mem.readPath(pidOf(t), pathPtr);
  if (typeof path === 'number') return path;
  const loc = lookupForAt(k, t, dirfd | 0, path, fl);
  if (typeof loc === 'number') return loc;
  return doChown(k, t, locInode(loc), loc, uid, gid);
}

// ----- timestamps -----

/** A time to set: explicit, UTIME_NOW or UTIME_OMIT in nsec, as utimensat takes it. */
type TimeArg = Timespec;

function nsecValid(nsec: number): boolean {
  return nsec === UTIME_NOW || nsec === UTIME_OMIT || (nsec >= 0 && nsec <= 999_999_999);
}

/**
 * vfs_utimes(): nanoseconds are checked once the file is found (EINVAL);
 * `times` undefined means "now" for both. Setting both to
 * now needs ownership or write access (EACCES); any explicit time needs
 * ownership (EPERM). Root may do either.
 */
function doUtimes(k: Kernel, t: Task, inode: Inode, loc: Location | undefined, times: [TimeArg, TimeArg] | undefined): number {
  if (times && (!nsecValid(times[0].nsec) || !nsecValid(times[1].nsec))) return -E.EINVAL;
  if (times && times[0].nsec === UTIME_NOW && times[1].nsec === UTIME_NOW) times = undefined;
  const st = inode.getattr();
  if (typeof st === 'number') return st;
  if (loc && onReadOnlyMount(k, loc)) return -E.EROFS;
  const cred = t.proc.cred;
  if (!times) {
    if (!ownerOrRoot(cred, st) && permissionOf(cred, st, MAY_WRITE) < 0) return -E.EACCES;
  } else if (!ownerOrRoot(cred, st)) {
    return -E.EPERM;
  }
  const now = nowTimespec();
  const pick = (ts: TimeArg | undefined): Timespec | undefined => {
    if (!ts || ts.nsec === UTIME_NOW) return now;
    if (ts.nsec === UTIME_OMIT) return undefined;
    return ts;
  };
  const attr: SetAttr = {};
  const a = pick(times?.[0]), m = pick(times?.[1]);
  if (a) attr.atime = a;
  if (m) attr.mtime = m;
  return setattr(inode, attr);
}

/** Read struct timespec[2] (16 bytes each). */
function readTimespecPair(k: Kernel, t: Task, ptr: number): [TimeArg, TimeArg] | number {
  const b = k.mem.read(pidOf(t), ptr, 32);
  if (typeof b === 'number') return b;
  return [{ sec: readI64(b, 0), nsec: readI64(b, 8) }, { sec: readI64(b, 16), nsec: readI64(b, 24) }];
}

/** Read struct timeval[2]: EINVAL for a usec outside [0, 1e6) (do_utimes of utimes(2)). */
function readTimevalPair(k: Kernel, t: Task, ptr: number): [TimeArg, TimeArg] | number {
  const b = k.mem.read(pidOf(t), ptr, 32);
  if (typeof b === 'number') return b;
  const out: TimeArg[] = [];
  for (let i = 0; i < 2; i++) {
    const sec = readI64(b, 16 * i), usec = readI64(b, 16 * i + 8);
    if (usec < 0 || usec >= 1_000_000) return -E.EINVAL;
    out.push({ sec, nsec: usec * 1000 });
  }
  return [out[0]!, out[1]!];
}

/**
 * do_utimes(): a NULL path with a real dirfd changes the file the dirfd
 * names (flags must be 0 then); otherwise a path lookup.
 */
function utimesAt(k: Kernel, t: Task, dirfd: number, pathPtr: number, times: [TimeArg, TimeArg] | undefined, flags: number): number {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -E.EINVAL;
  if (pathPtr === 0 && dirfd !== AT_FDCWD) {
    if (flags) return -E.EINVAL;
    const f = getFile(t, dirfd);
    if (typeof f === 'number') return f;
    if (f.flags & O_PATH) return -E.EBADF;
    return doUtimes(k, t, f.inode, fileLoc(f), times);
  }
  const path = k.mem.readPath(pidOf(t), pathPtr);
  if (typeof path === 'number') return path;
  const loc = lookupForAt(k, t, dirfd, path, flags);
  if (typeof loc === 'number') return loc;
  return doUtimes(k, t, locInode(loc), loc, times);
}

/** Utimensat implements Linux syscall utimensat(2). */
function sysUtimensat(k: Kernel, t: Task, dirfd: number, pathPtr: number, timesPtr: number, flags: number): number {
  let times: [TimeArg, TimeArg] | undefined;
  if (timesPtr) {
    const r = readTimespecPair(k, t, timesPtr);
    if (typeof r === 'number') return r;
    // Nothing to do: Linux does not even look the path up.
    if (r[0].nsec === UTIME_OMIT && r[1].nsec === UTIME_OMIT) return 0;
    times = r;
  }
  return utimesAt(k, t, dirfd | 0, pathPtr, times, flags >>> 0);
}

/** Utime implements Linux syscall utime(2): struct utimbuf {actime, modtime}, NULL for now. */
function sysUtime(k: Kernel, t: Task, pathPtr: number, timesPtr: number): number {
  let times: [TimeArg, TimeArg] | undefined;
  if (timesPtr) {
    const b = k.mem.read(pidOf(t), timesPtr, 16);
    if (typeof b === 'number') return b;
    times = [{ sec: readI64(b, 0), nsec: 0 }, { sec: readI64(b, 8), nsec: 0 }];
  }
  const path = readNonEmptyPath(k, t, pathPtr);
  if (typeof path === 'number') return path;
  const loc = lookupAt(k, t, AT_FDCWD, path, true);
  if (typeof loc === 'number') return loc;
  return doUtimes(k, t, locInode(loc), loc, times);
}

/** Futimesat implements Linux syscall futimesat(2): utimes relative to a dirfd. */
function sysFutimesat(k: Kernel, t: Task, dirfd: number, pathPtr: number, timesPtr: number): number {
  let times: [TimeArg, TimeArg] | undefined;
  if (timesPtr) {
    const r = readTimevalPair(k, t, timesPtr);
    if (typeof r === 'number') return r;
    times = r;
  }
  return utimesAt(k, t, dirfd | 0, pathPtr, times, 0);
}

/** Utimes implements Linux syscall utimes(2). */
function sysUtimes(k: Kernel, t: Task, pathPtr: number, timesPtr: number): number {
  return sysFutimesat(k, t, AT_FDCWD, pathPtr, timesPtr);
}

// ----- readlink -----

/** The text of a symlink inode; magic links without text give their target's path. */
export function linkText(inode: Inode): string | number {
  if (inode.readlink) return inode.readlink();
  if (inode.magicLink) {
    const m = inode.magicLink();
    return typeof m === 'number' ? m : m.path;
  }
  return -E.EINVAL;
}

/**
 * do_readlinkat(): EINVAL for bufsiz <= 0 and for a non-symlink; an empty
 * path names the dirfd itself (ENOENT unless it is a symlink). The text is
 * cut to bufsiz without a NUL.
 */
function doReadlink(k: Kernel, t: Task, dirfd: number, pathPtr: number, buf: number, bufsiz: number): number {
  if (bufsiz <= 0) return -E.EINVAL;
  const path = k.mem.readPath(pidOf(t), pathPtr);
  if (typeof path === 'number') return path;
  const empty = path === '';
  const loc = lookupAtFlags(k, t, dirfd, path, AT_SYMLINK_NOFOLLOW | (empty ? AT_EMPTY_PATH : 0));
  if (typeof loc === 'number') return loc;
  const inode = locInode(loc);
  if (inode.type !== S_IFLNK) return empty ? -E.ENOENT : -E.EINVAL;
  const text = linkText(inode);
  if (typeof text === 'number') return text;
  const bytes = Buffer.from(text, 'utf8');
  const out = bytes.subarray(0, Math.min(bytes.length, bufsiz));
  const w = k.mem.write(pidOf(t), buf, out);
  return w < 0 ? w : out.length;
}

/** Readlink implements Linux syscall readlink(2). */
function sysReadlink(k: Kernel, t: Task, pathPtr: number, buf: number, bufsiz: number): number {
  return doReadlink(k, t, AT_FDCWD, pathPtr, buf, bufsiz | 0);
}

/** Readlinkat implements Linux syscall readlinkat(2). */
function sysReadlinkat(k: Kernel, t: Task, dirfd: number, pathPtr: number, buf: number, bufsiz: number): number {
  return doReadlink(k, t, dirfd | 0, pathPtr, buf, bufsiz | 0);
}

export const fsMetaSyscalls: SyscallFamily = {
  stat: sysStat, lstat: sysLstat, fstat: sysFstat, newfstatat: sysNewfstatat, statx: sysStatx,
  statfs: sysStatfs, fstatfs: sysFstatfs,
  access: sysAccess, faccessat: sysFaccessat, faccessat2: sysFaccessat2,
  chmod: sysChmod, fchmod: sysFchmod, fchmodat: sysFchmodat,
  chown: sysChown, fchown: sysFchown, lchown: sysLchown, fchownat: sysFchownat,
  utimensat: sysUtimensat, utime: sysUtime, utimes: sysUtimes, futimesat: sysFutimesat,
  readlink: sysReadlink, readlinkat: sysReadlinkat,
};
