/**
 * tmpfs: a filesystem held in the kernel's memory (/tmp, /dev, /dev/shm).
 * Directories are Maps, regular files keep their bytes in a host memfd
 * (created lazily through the kernel's `createMemfd`) so a guest can mmap
 * them through `hostFd`, FIFOs share one Pipe per inode, and device nodes
 * open through a registry of drivers keyed by rdev, as Linux dispatches
 * character devices by number (devices(7) numbers; see devfs.ts).
 */
import { closeSync, fstatSync, ftruncateSync, readSync, writeSync } from 'node:fs';
import { totalmem } from 'node:os';
import { E } from '../errno.ts';
import { badWrite, hostErrno } from './overlay-fs.ts';
import { nowTimespec, Pipe } from './pipe.ts';
import {
  dtypeOfMode, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT,
  S_IFREG, S_IFSOCK,
  type Cred, type DirEntry, type FileOps, type FileSystem, type Inode, type IoContext, type SetAttr, type Stat,
  type StatFs, type Timespec,
} from './types.ts';

export const TMPFS_MAGIC = 0x01021994;

/** Makes a host memfd for a file's data: returns a host fd or -errno. */
export type CreateMemfd = (name: string) => number;

/** A character device driver: what open(2) of a node with its rdev gets. */
export type DeviceOpen = (flags: number, ctx: IoContext, rdev: number) => FileOps | number;

export interface TmpfsOptions {
  /** permission bits of the root directory (tmpfs(5) "mode=", default 01777) */
  mode?: number;
  uid?: number;
  gid?: number;
  /** type shown in /proc/mounts (default "tmpfs"; /dev uses "devtmpfs") */
  type?: string;
  /** drivers for character device nodes, by rdev; a node without one opens with ENXIO */
  devices?: ReadonlyMap<number, DeviceOpen>;
  /** size reported by statfs (tmpfs(5) "size=", default half of RAM) */
  sizeLimit?: number;
}

const S_ISUID = 0o4000, S_ISGID = 0o2000, S_IXGRP = 0o010;
const O_ACCMODE = 3, O_RDONLY = 0, O_TRUNC = 0o1000;
const RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2, RENAME_WHITEOUT = 4;
/** Linux's tmpfs counts directory sizes in these units (mm/shmem.c BOGO_DIRENT_SIZE). */
const BOGO_DIRENT_SIZE = 20;
/** Longest single read served at once; read(2) may return less than asked. */
const MAX_IO = 1 << 24;
const DAY_SEC = 24 * 3600;

function isBadName(name: string): boolean {
  return name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0');
}

function before(a: Timespec, b: Timespec): boolean {
  return a.sec < b.sec || (a.sec === b.sec && a.nsec <= b.nsec);
}

/** The parts every tmpfs inode has: metadata, getattr/setattr. */
abstract class TmpNode implements Inode {
  abstract readonly type: number;
  readonly ino: number;
  perm: number;
  uid: number;
  gid: number;
  /** names pointing here (directories compute theirs) */
  links = 0;
  rdev = 0;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;

  constructor(readonly fs: Tmpfs, perm: number, uid: number, gid: number) {
    this.ino = fs.allocIno();
    this.perm = perm & 0o7777;
    this.uid = uid;
    this.gid = gid;
    this.atime = this.mtime = this.ctime = nowTimespec();
  }

  get nlink(): number {
    return this.links;
  }

  get size(): number {
    return 0;
  }

  protected blocks(): number {
    return 0;
  }

  getattr(): Stat | number {
    return {
      dev: this.fs.dev, ino: this.ino, mode: this.type | this.perm, nlink: this.nlink, uid: this.uid, gid: this.gid,
      rdev: this.rdev, size: this.size, blksize: 4096, blocks: this.blocks(),
      atime: this.atime, mtime: this.mtime, ctime: this.ctime,
    };
  }

  setattr(a: SetAttr): number {
    const now = nowTimespec();
    if (a.size !== undefined) {
      const r = this.truncate(a.size);
      if (r < 0) return r;
      this.mtime = now;
    }
    if (a.uid !== undefined || a.gid !== undefined) {
      if (a.uid !== undefined) this.uid = a.uid;
      if (a.gid !== undefined) this.gid = a.gid;
      // chown(2): set-user-ID goes, set-group-ID too if group-executable (root included since 2.2.13).
      if (this.type !== S_IFDIR) {
        this.perm &= ~S_ISUID;
        if (this.perm & S_IXGRP) this.perm &= ~S_ISGID;
      }
    }
    if (a.mode !== undefined) this.perm = a.mode & 0o7777;
    if (a.atime) this.atime = a.atime;
    if (a.mtime) this.mtime = a.mtime;
    this.ctime = now;
    return 0;
  }

  protected truncate(_size: number): number {
    return this.type === S_IFDIR ? -E.EISDIR : -E.EINVAL;
  }

  /** relatime (mount(8)): atime moves only if older than mtime/ctime or a day old. */
  touchAtime(): void {
    const now = nowTimespec();
    if (before(this.atime, this.mtime) || before(this.atime, this.ctime) || now.sec - this.atime.sec >= DAY_SEC) {
      this.atime = now;
    }
  }

  /** The last name went: free what the inode holds once nothing has it open. */
  unlinked(): void {}
}

class TmpFile extends TmpNode {
  readonly type = S_IFREG;
  private memfd = -1;
  private bytes = 0;
  private opens = 0;
  private freed = false;

  override get size(): number {
    return this.bytes;
  }

  protected override blocks(): number {
    if (this.memfd < 0) return 0;
    try {
      return Number(fstatSync(this.memfd).blocks);
    } catch {
      return Math.ceil(this.bytes / 512);
    }
  }

  /** The memfd, made on first need so empty files cost no host fd. */
  private hostFd(): number {
    if (this.memfd >= 0) return this.memfd;
    let fd: number;
    try {
      fd = this.fs.createMemfd(`tmpfs:${this.ino}`);
    } catch (e) {
      return hostErrno(e);
    }
    if (fd < 0) return fd;
    this.memfd = fd;
    return fd;
  }

  protected override truncate(size: number): number {
    if (size < 0 || !Number.isSafeInteger(size)) return -E.EINVAL;
    if (size === this.bytes) return 0;
    const fd = this.hostFd();
    if (fd < 0) return fd;
    try {
      ftruncateSync(fd, size);
    } catch (e) {
      return hostErrno(e);
    }
    this.fs.usedBytes += size - this.bytes;
    this.bytes = size;
    return 0;
  }

  /** The bytes a read of `len` at `pos` gets (atime stamped): 0 at or past the end, or -errno. */
  private readSpan(len: number, pos: number): number {
    if (pos < 0) return -E.EINVAL;
    const n = Math.min(len, this.bytes - pos, MAX_IO);
    this.touchAtime();
    return n <= 0 || this.memfd < 0 ? 0 : n;
  }

  read(len: number, pos: number): Uint8Array | number {
    const n = this.readSpan(len, pos);
    if (n <= 0) return n;
    const buf = new Uint8Array(n);
    let got = 0;
    try {
      while (got < n) {
        const r = readSync(this.memfd, buf, got, n - got, pos + got);
        if (r === 0) break;
        got += r;
      }
    } catch (e) {
      return hostErrno(e);
    }
    return got === n ? buf : buf.subarray(0, got);
  }

  readToGuest(ctx: IoContext, addr: number, len: number, pos: number): number {
    const n = this.readSpan(len, pos);
    return n <= 0 ? n : ctx.fileToGuest(this.memfd, pos, addr, n);
  }

  write(ctx: IoContext, data: Uint8Array, pos: number): number {
    const bad = badWrite(pos, data.length);
    if (bad || data.length === 0) return bad;
    const fd = this.hostFd();
    if (fd < 0) return fd;
    let n: number;
    try {
      n = writeSync(fd, data, 0, data.length, pos);
    } catch (e) {
      return hostErrno(e);
    }
    this.wrote(ctx, pos, n);
    return n;
  }

  writeFromGuest(ctx: IoContext, addr: number, len: number, pos: number): number {
    const bad = badWrite(pos, len);
    if (bad || len === 0) return bad;
    const fd = this.hostFd();
    if (fd < 0) return fd;
    const n = ctx.guestToFile(fd, pos, addr, len);
    if (n >= 0) this.wrote(ctx, pos, n);
    return n;
  }

  /** After `n` bytes were written at `pos`: the size, the times and the set-id bits as a write leaves them. */
  private wrote(ctx: IoContext, pos: number, n: number): void {
    if (pos + n > this.bytes) {
      this.fs.usedBytes += pos + n - this.bytes;
      this.bytes = pos + n;
    }
    this.mtime = this.ctime = nowTimespec();
    // A write by someone without CAP_FSETID drops set-id bits (file_remove_privs).
    if (ctx.cred.euid !== 0 && this.perm & (S_ISUID | S_ISGID)) {
      this.perm &= ~S_ISUID;
      if (this.perm & S_IXGRP) this.perm &= ~S_ISGID;
    }
  }

  open(flags: number): FileOps | number {
    // open(2): O_TRUNC truncates a regular file whatever the access mode,
    // and stamps mtime/ctime even when it was empty already (do_truncate).
    if (flags & O_TRUNC) {
      const r = this.setattr({ size: 0 });
      if (r < 0) return r;
    }
    this.opens++;
    let open = true;
    return {
      seekable: true,
      truncated: (flags & O_TRUNC) !== 0,
      read: (_f, _ctx, len, pos) => this.read(len, pos),
      write: (_f, ctx, data, pos) => this.write(ctx, data, pos),
      readToGuest: (_f, ctx, addr, len, pos) => this.readToGuest(ctx, addr, len, pos),
      writeFromGuest: (_f, ctx, addr, len, pos) => this.writeFromGuest(ctx, addr, len, pos),
      poll: () => POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM,
      hostFd: () => this.hostFd(),
      release: () => {
        if (!open) return;
        open = false;
        this.opens--;
        this.unlinked();
      },
    };
  }

  override unlinked(): void {
    if (this.links > 0 || this.opens > 0 || this.freed) return;
    this.freed = true;
    if (this.memfd >= 0) {
      try {
        closeSync(this.memfd);
      } catch {
        // nothing to undo: the fd is gone either way
      }
      this.memfd = -1;
    }
    this.fs.usedBytes -= this.bytes;
    this.bytes = 0;
    this.fs.inodes--;
  }
}

class TmpSymlink extends TmpNode {
  readonly type = S_IFLNK;

  constructor(fs: Tmpfs, readonly target: string, uid: number, gid: number) {
    super(fs, 0o777, uid, gid);
  }

  override get size(): number {
    return Buffer.byteLength(this.target);
  }

  readlink(): string {
    this.touchAtime();
    return this.target;
  }

  override setattr(a: SetAttr): number {
    // Symlink permissions are always 0777 (symlink(7)); lchmod is not a thing on Linux.
    if (a.mode !== undefined) return -E.EOPNOTSUPP;
    return super.setattr(a);
  }

  override unlinked(): void {
    if (this.links === 0) this.fs.inodes--;
  }
}

class TmpFifo extends TmpNode {
  readonly type = S_IFIFO;
  private pipe: Pipe | undefined;

  /** Every opener of the FIFO shares this inode's pipe (fifo(7)); see Pipe.openFifo for blocking opens. */
  open(flags: number): FileOps | number {
    this.pipe ??= new Pipe();
    return this.pipe.openFifo(flags);
  }

  override get size(): number {
    return 0;
  }

  override unlinked(): void {
    if (this.links === 0) this.fs.inodes--;
  }
}

/** Character and block devices and sockets: nodes whose open is not about data here. */
class TmpSpecial extends TmpNode {
  constructor(fs: Tmpfs, readonly type: number, perm: number, rdev: number, uid: number, gid: number) {
    super(fs, perm, uid, gid);
    this.rdev = rdev;
  }

  open(flags: number, ctx: IoContext): FileOps | number {
    if (this.type === S_IFSOCK) return -E.ENXIO; // open(2): ENXIO for a UNIX domain socket
    const drv = this.type === S_IFCHR ? this.fs.devices.get(this.rdev) : undefined;
    return drv ? drv(flags, ctx, this.rdev) : -E.ENXIO;
  }

  override unlinked(): void {
    if (this.links === 0) this.fs.inodes--;
  }
}

export class TmpDir extends TmpNode {
  readonly type = S_IFDIR;
  readonly entries = new Map<string, Inode>();
  /** for "is this a subdirectory of that" on rename; the root is its own parent */
  parent: TmpDir;
  /** rmdir'ed: an empty, dead directory that may still be someone's cwd */
  removed = false;
  private subdirs = 0;

  constructor(fs: Tmpfs, perm: number, uid: number, gid: number, parent?: TmpDir) {
    super(fs, perm, uid, gid);
    this.parent = parent ?? this;
  }

  override get nlink(): number {
    return this.removed ? 0 : 2 + this.subdirs;
  }

  override get size(): number {
    return (2 + this.entries.size) * BOGO_DIRENT_SIZE;
  }

  /** Add a name; link counts and directory times follow. */
  attach(name: string, node: Inode, now = nowTimespec()): void {
    this.entries.set(name, node);
    if (node.type === S_IFDIR) this.subdirs++;
    if (node instanceof TmpDir) node.parent = this;
    else if (node instanceof TmpNode) node.links++;
    this.mtime = this.ctime = now;
  }

  /** Remove a name; the caller calls `unlinked` or re-attaches (rename). */
  detach(name: string, now = nowTimespec()): Inode | undefined {
    const node = this.entries.get(name);
    if (!node) return undefined;
    this.entries.delete(name);
    if (node.type === S_IFDIR) this.subdirs--;
    if (node instanceof TmpNode && !(node instanceof TmpDir)) node.links--;
    if (node instanceof TmpNode) node.ctime = now;
    this.mtime = this.ctime = now;
    return node;
  }

  lookup(name: string): Inode | number {
    return this.entries.get(name) ?? -E.ENOENT;
  }

  readdir(): DirEntry[] {
    this.touchAtime();
    const out: DirEntry[] = [];
    for (const [name, node] of this.entries) out.push({ name, ino: node.ino, type: dtypeOfMode(node.type) });
    return out;
  }

  /** Owner of a new node: the caller's fsuid, and the directory's group if it is set-group-ID (inode(7)). */
  private owner(cred: Cred): { uid: number; gid: number } {
    return { uid: cred.fsuid, gid: this.perm & S_ISGID ? this.gid : cred.fsgid };
  }

  /** EEXIST / EINVAL / ENOENT (dead directory) checks shared by every create. */
  private canCreate(name: string): number {
    if (isBadName(name)) return -E.EINVAL;
    if (this.removed) return -E.ENOENT;
    if (this.entries.has(name)) return -E.EEXIST;
    return 0;
  }

  create(name: string, mode: number, cred: Cred): Inode | number {
    const r = this.canCreate(name);
    if (r < 0) return r;
    const o = this.owner(cred);
    const f = new TmpFile(this.fs, mode, o.uid, o.gid);
    this.attach(name, f);
    return f;
  }

  mkdir(name: string, mode: number, cred: Cred): number {
    const r = this.canCreate(name);
    if (r < 0) return r;
    const o = this.owner(cred);
    // mkdir(2): only the permission bits and sticky bit count; set-group-ID is inherited.
    const perm = (mode & 0o1777) | (this.perm & S_ISGID);
    this.attach(name, new TmpDir(this.fs, perm, o.uid, o.gid, this));
    return 0;
  }

  mknod(name: string, mode: number, rdev: number, cred: Cred): number {
    const r = this.canCreate(name);
    if (r < 0) return r;
    const o = this.owner(cred);
    const type = mode & S_IFMT;
    let node: TmpNode;
    if (type === S_IFREG || type === 0) node = new TmpFile(this.fs, mode, o.uid, o.gid);
    else if (type === S_IFIFO) node = new TmpFifo(this.fs, mode, o.uid, o.gid);
    else if (type === S_IFCHR || type === S_IFBLK || type === S_IFSOCK) {
      node = new TmpSpecial(this.fs, type, mode, type === S_IFSOCK ? 0 : rdev, o.uid, o.gid);
    } else return -E.EINVAL; // mknod(2): EINVAL for a directory or an unknown type
    this.attach(name, node);
    return 0;
  }

  symlink(name: string, target: string, cred: Cred): number {
    const r = this.canCreate(name);
    if (r < 0) return r;
    const o = this.owner(cred);
    this.attach(name, new TmpSymlink(this.fs, target, o.uid, o.gid));
    return 0;
  }

  link(name: string, target: Inode): number {
    const r = this.canCreate(name);
    if (r < 0) return r;
    if (!(target instanceof TmpNode) || target.fs !== this.fs) return -E.EXDEV;
    if (target.type === S_IFDIR) return -E.EPERM;
    // linkat(2) of an open but deleted file: ENOENT (unless O_TMPFILE, not supported here).
    if (target.links === 0) return -E.ENOENT;
    this.attach(name, target);
    return 0;
  }

  unlink(name: string): number {
    const node = this.entries.get(name);
    if (!node) return -E.ENOENT;
    if (node.type === S_IFDIR) return -E.EISDIR; // unlink(2) on Linux
    this.detach(name);
    if (node instanceof TmpNode) node.unlinked();
    return 0;
  }

  rmdir(name: string): number {
    if (isBadName(name)) return -E.EINVAL;
    const node = this.entries.get(name);
    if (!node) return -E.ENOENT;
    if (node.type !== S_IFDIR) return -E.ENOTDIR;
    if (node instanceof TmpDir && node.entries.size > 0) return -E.ENOTEMPTY;
    this.detach(name);
    if (node instanceof TmpDir) this.kill(node);
    return 0;
  }

  private kill(d: TmpDir): void {
    d.removed = true;
    d.ctime = nowTimespec();
    this.fs.inodes--;
  }

  /** Is this directory `d` or below it? (rename(2): EINVAL moving a directory under itself) */
  private within(d: TmpDir): boolean {
    for (let cur: TmpDir = this; ; cur = cur.parent) {
      if (cur === d) return true;
      if (cur.parent === cur) return false;
    }
  }

  /** rename(2) and renameat2(2) with RENAME_NOREPLACE and RENAME_EXCHANGE. */
  rename(oldName: string, newDir: Inode, newName: string, flags: number): number {
    if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) return -E.EINVAL;
    if (flags & RENAME_NOREPLACE && flags & RENAME_EXCHANGE) return -E.EINVAL;
    if (flags & RENAME_WHITEOUT) return -E.EINVAL; // overlay whiteouts have no meaning on this tmpfs
    if (isBadName(oldName) || isBadName(newName)) return -E.EINVAL;
    if (!(newDir instanceof TmpDir) || newDir.fs !== this.fs) return -E.EXDEV;
    if (newDir.removed) return -E.ENOENT;
    const src = this.entries.get(oldName);
    if (!src) return -E.ENOENT;
    const dst = newDir.entries.get(newName);
    if (flags & RENAME_EXCHANGE) {
      if (!dst) return -E.ENOENT;
      if (src instanceof TmpDir && newDir.within(src)) return -E.EINVAL;
      if (dst instanceof TmpDir && this.within(dst)) return -E.EINVAL;
      if (src === dst) return 0;
      const now = nowTimespec();
      this.detach(oldName, now);
      newDir.detach(newName, now);
      this.attach(oldName, dst, now);
      newDir.attach(newName, src, now);
      return 0;
    }
    // rename(2): two names of one inode: nothing happens, successfully.
    if (src === dst) return 0;
    if (dst && flags & RENAME_NOREPLACE) return -E.EEXIST;
    if (src.type === S_IFDIR) {
      if (src instanceof TmpDir && newDir.within(src)) return -E.EINVAL;
      if (dst && dst.type !== S_IFDIR) return -E.ENOTDIR;
      if (dst instanceof TmpDir && dst.entries.size > 0) return -E.ENOTEMPTY;
    } else if (dst && dst.type === S_IFDIR) return -E.EISDIR;
    const now = nowTimespec();
    if (dst) {
      newDir.detach(newName, now);
      if (dst instanceof TmpDir) this.kill(dst);
      else if (dst instanceof TmpNode) dst.unlinked();
    }
    this.detach(oldName, now);
    newDir.attach(newName, src, now);
    return 0;
  }

  open(flags: number): FileOps | number {
    if ((flags & O_ACCMODE) !== O_RDONLY) return -E.EISDIR;
    return {
      seekable: true,
      readdir: () => (this.removed ? [] : this.readdir()),
      poll: () => POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM,
    };
  }
}

export class Tmpfs implements FileSystem {
  readonly type: string;
  readonly root: TmpDir;
  readonly devices: ReadonlyMap<number, DeviceOpen>;
  /** bytes of file data held, for statfs */
  usedBytes = 0;
  /** live inodes, for statfs */
  inodes = 0;
  private nextIno = 1;
  private readonly sizeLimit: number;

  constructor(readonly dev: number, readonly createMemfd: CreateMemfd, opts: TmpfsOptions = {}) {
    this.type = opts.type ?? 'tmpfs';
    this.devices = opts.devices ?? new Map();
    this.sizeLimit = opts.sizeLimit ?? Math.floor(totalmem() / 2);
    this.root = new TmpDir(this, opts.mode ?? 0o1777, opts.uid ?? 0, opts.gid ?? 0);
  }

  allocIno(): number {
    this.inodes++;
    return this.nextIno++;
  }

  /**
   * Put an inode made elsewhere (the console, /dev/tty) into directory
   * `dir` of this tmpfs under `name`: lookups return it as it is, so its
   * own getattr/open/ioctl serve it. Returns 0 or -errno.
   */
  addInode(dir: Inode, name: string, inode: Inode): number {
    if (!(dir instanceof TmpDir) || dir.fs !== this) return -E.ENOTDIR;
    if (isBadName(name)) return -E.EINVAL;
    if (dir.entries.has(name)) return -E.EEXIST;
    dir.attach(name, inode);
    return 0;
  }

  statfs(): StatFs {
    const blocks = Math.floor(this.sizeLimit / 4096);
    const free = Math.max(0, blocks - Math.ceil(this.usedBytes / 4096));
    const files = Math.max(1 << 20, this.inodes);
    return { type: TMPFS_MAGIC, bsize: 4096, blocks, bfree: free, bavail: free, files,
      ffree: files - this.inodes, namelen: 255 };
  }
}
