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
import { Charge, kernelMemory } from '../memory-budget.ts';
import { badWrite, hostErrno } from './overlay-fs.ts';
import { nowTimespec, Pipe } from './pipe.ts';
import {
  dtypeOfMode, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT,
  S_IFREG, S_IFSOCK,
  type Cred, type DirEntry, type FileOps, type FileSystem, type Inode, type IoContext, type SetAttr, type Stat,
  type StatFs, type Timespec,
} from './types.ts';
import { PAGE_SIZE, parseTmpfsOptions, showTmpfsOptions, type TmpfsParams } from './tmpfs-options.ts';
import { pagesUp, TmpfsSpace } from './tmpfs-space.ts';
import { PageRanges } from './page-ranges.ts';

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
  /** size=, nr_inodes= (and mode=, uid=, gid=, which the fields above give too) as mount(2) gave them */
  params?: TmpfsParams;
  /**
   * The memory the defaults are half of (tmpfs(5): half of RAM): the
   * guest's (--mem); without one, the limit of the guest's budget, or the host's.
   */
  ramBytes?: number;
}

const S_ISUID = 0o4000, S_ISGID = 0o2000, S_IXGRP = 0o010;
const O_ACCMODE = 3, O_RDONLY = 0, O_TRUNC = 0o1000;
const FALLOC_FL_KEEP_SIZE = 1;
/** Linux keeps a symlink target of at most this many bytes in the inode; a longer one takes a page (mm/shmem.c). */
const SHORT_SYMLINK_LEN = 128;
/** What one run of a tmpfs file's allocated pages costs the guest's memory (two numbers in two arrays, rounded up). */
const RUN_COST = 64;
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

/**
 * A regular file: its bytes in a host memfd. Its pages are charged to the
 * mount's space as Linux's shmem charges them, when they come to exist: a
 * write or fallocate charges the pages it fills, truncating up or writing
 * past the end leaves holes that cost nothing, truncating down gives pages
 * back. Only the kernel writes the memfd (read(2) of a hole allocates
 * nothing), so it knows which pages exist (`pages`) without asking the host.
 *
 * A mapping is different: a fault on a hole of a mapped memfd allocates a
 * page with no syscall, for a read fault too (shmem_fault), so no check
 * could see it; Linux sees it in its fault handler and raises SIGBUS when
 * the mount is full. Here a file whose memfd was handed out for mmap is
 * charged for every page below its end from then on, and growing it
 * charges the growth: the bound holds, at the price of refusing the mmap
 * of a sparse file whose holes do not fit (ENOMEM), and the truncate that
 * would grow a mapped file past the limit (ENOSPC), where Linux would only
 * fail a later page fault.
 */
class TmpFile extends TmpNode {
  readonly type = S_IFREG;
  private memfd = -1;
  private bytes = 0;
  private opens = 0;
  private freed = false;
  /** the pages that exist; undefined once mapped (then every page below the end counts) */
  private pages: PageRanges | undefined = new PageRanges();
  /** pages charged to the mount for this file */
  private charged = 0;
  /** runs of `pages` charged to the guest's memory, as the kernel's own objects */
  private runsCharged = 0;

  override get size(): number {
    return this.bytes;
  }

  /**
   * st_blocks: the pages the file has, as Linux counts them (fallocated
   * ones too, which here are charged but left to the host to allocate when
   * written); a mapped file's are the host's own count of what faults took.
   */
  protected override blocks(): number {
    if (this.pages) return this.pages.total * (PAGE_SIZE / 512);
    if (this.memfd < 0) return 0;
    try {
      return Number(fstatSync(this.memfd).blocks);
    } catch {
      return this.charged * (PAGE_SIZE / 512);
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

  /** Pages a write of [pos, end) makes exist: its holes, or (mapped) its part past what is charged. */
  private newPages(pos: number, end: number): number {
    const first = Math.floor(pos / PAGE_SIZE), last = pagesUp(end);
    if (!this.pages) return Math.max(0, last - this.charged);
    return last - first - this.pages.countIn(first, last);
  }

  /** The longest write from `pos` towards `end` that `free` more pages hold (shmem stops at the first page it cannot allocate). */
  private bytesThatFit(pos: number, end: number, free: number): number {
    const first = Math.floor(pos / PAGE_SIZE), last = pagesUp(end);
    const stop = this.pages ? this.pages.prefixWithHoles(first, last, free) : Math.max(first, this.charged + free);
    return Math.max(0, Math.min(end, stop * PAGE_SIZE) - pos);
  }

  /** [pos, pos + n) now exists: charge it against the `reserved` pages taken for it; give back the rest. */
  private settle(reserved: number, pos: number, n: number): void {
    let used = 0;
    if (n > 0 && this.pages) {
      used = this.pages.add(Math.floor(pos / PAGE_SIZE), pagesUp(pos + n));
      this.chargeRuns();
    } else if (n > 0) {
      used = Math.max(0, pagesUp(pos + n) - this.charged);
    }
    this.fs.space.putBlocks(reserved - used);
    this.charged += used;
  }

  /**
   * Each run of `pages` is an object of the kernel's: charged to the
   * guest's memory (after the fact: a write adds at most one), so that
   * scattering pages cannot grow the kernel's heap without bound.
   */
  private chargeRuns(): void {
    const runs = this.pages?.runs ?? 0;
    if (runs > this.runsCharged) kernelMemory.force((runs - this.runsCharged) * RUN_COST, Charge.Heap);
    else kernelMemory.uncharge((this.runsCharged - runs) * RUN_COST, Charge.Heap);
    this.runsCharged = runs;
  }

  /**
   * A write through `put` (bytes moved into the memfd at a position, or
   * -errno), as shmem's write_begin does it: page by page until a page
   * cannot be allocated, so a write that does not fit moves what fits and
   * returns that count; the next one gets ENOSPC.
   */
  private writeSpan(pos: number, len: number, put: (at: number, off: number, n: number) => number): number {
    const end = pos + len;
    let n = len;
    let reserved = this.newPages(pos, end);
    // New pages may make a new run of them: that must fit in the guest's memory too.
    if (reserved > 0 && this.pages && !kernelMemory.fits(RUN_COST, Charge.Heap)) return -E.ENOSPC;
    if (!this.fs.space.takeBlocks(reserved)) {
      n = this.bytesThatFit(pos, end, this.fs.space.freeBlocks());
      reserved = this.newPages(pos, pos + n);
      if (n === 0 || !this.fs.space.takeBlocks(reserved)) return -E.ENOSPC;
    }
    const r = put(pos, 0, n);
    this.settle(reserved, pos, r > 0 ? r : 0);
    if (r > 0 && pos + r > this.bytes) this.bytes = pos + r;
    return r;
  }

  protected override truncate(size: number): number {
    if (size < 0 || !Number.isSafeInteger(size)) return -E.EINVAL;
    if (size === this.bytes) return 0;
    const fd = this.hostFd();
    if (fd < 0) return fd;
    // Growing leaves a hole, which costs nothing, unless a mapping could fill it.
    const grow = this.pages ? 0 : Math.max(0, pagesUp(size) - this.charged);
    if (!this.fs.space.takeBlocks(grow)) return -E.ENOSPC;
    try {
      ftruncateSync(fd, size);
    } catch (e) {
      this.fs.space.putBlocks(grow);
      return hostErrno(e);
    }
    this.bytes = size;
    this.charged += grow;
    // Pages past the new end are gone; the one holding it stays, part zeroed.
    const gone = this.pages ? this.pages.truncate(pagesUp(size)) : Math.max(0, this.charged - pagesUp(size));
    this.chargeRuns();
    this.fs.space.putBlocks(gone);
    this.charged -= gone;
    return 0;
  }

  /**
   * fallocate(2) as shmem_fallocate() does it for mode 0 and
   * FALLOC_FL_KEEP_SIZE: every page of [offset, offset + len) comes to
   * exist, all or nothing (ENOSPC), and with mode 0 the size grows to
   * cover it. The pages are charged, so no later write of them can fail;
   * the host allocates them only when written (a hole reads as the zeros a
   * fallocated page holds), so a guest cannot make the host commit
   * gigabytes it never uses. Punching holes, and keeping pages past the end
   * (KEEP_SIZE beyond it), would need a host fallocate: EOPNOTSUPP.
   */
  fallocate(mode: number, offset: number, len: number): number {
    const keepSize = (mode & FALLOC_FL_KEEP_SIZE) !== 0;
    if (mode & ~FALLOC_FL_KEEP_SIZE) return -E.EOPNOTSUPP;
    const end = offset + len;
    if (!Number.isSafeInteger(end)) return -E.EFBIG;
    if (keepSize && end > this.bytes) return -E.EOPNOTSUPP;
    const fd = this.hostFd();
    if (fd < 0) return fd;
    const reserved = this.newPages(offset, end);
    if (reserved > 0 && this.pages && !kernelMemory.fits(RUN_COST, Charge.Heap)) return -E.ENOSPC;
    if (!this.fs.space.takeBlocks(reserved)) return -E.ENOSPC;
    if (end > this.bytes) {
      try {
        ftruncateSync(fd, end);
      } catch (e) {
        this.fs.space.putBlocks(reserved);
        return hostErrno(e);
      }
    }
    this.settle(reserved, offset, len);
    if (end > this.bytes) this.bytes = end;
    this.mtime = this.ctime = nowTimespec();
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
    const n = this.writeSpan(pos, data.length, (at, off, len) => {
      try {
        return writeSync(fd, data, off, len, at);
      } catch (e) {
        return hostErrno(e);
      }
    });
    if (n > 0) this.wrote(ctx);
    return n;
  }

  writeFromGuest(ctx: IoContext, addr: number, len: number, pos: number): number {
    const bad = badWrite(pos, len);
    if (bad || len === 0) return bad;
    const fd = this.hostFd();
    if (fd < 0) return fd;
    const n = this.writeSpan(pos, len, (at, off, count) => ctx.guestToFile(fd, at, addr + off, count));
    if (n > 0) this.wrote(ctx);
    return n;
  }

  /** After a write: the times and the set-id bits as a write leaves them. */
  private wrote(ctx: IoContext): void {
    this.mtime = this.ctime = nowTimespec();
    // A write by someone without CAP_FSETID drops set-id bits (file_remove_privs).
    if (ctx.cred.euid !== 0 && this.perm & (S_ISUID | S_ISGID)) {
      this.perm &= ~S_ISUID;
      if (this.perm & S_IXGRP) this.perm &= ~S_ISGID;
    }
  }

  /**
   * The memfd for mmap: from now on any fault on a hole may allocate a
   * page (see the class comment), so every page below the end is charged
   * first; ENOMEM when they do not fit.
   */
  private mapFd(): number {
    const fd = this.hostFd();
    if (fd < 0 || !this.pages) return fd;
    const holes = pagesUp(this.bytes) - this.pages.total;
    if (!this.fs.space.takeBlocks(holes)) return -E.ENOMEM;
    this.charged += holes;
    this.pages = undefined;
    this.chargeRuns();
    return fd;
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
      fallocate: (_f, mode, offset, len) => this.fallocate(mode, offset, len),
      poll: () => POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM,
      hostFd: () => this.mapFd(),
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
    this.fs.space.putBlocks(this.charged);
    this.charged = 0;
    this.bytes = 0;
    this.pages = undefined;
    this.chargeRuns();
    this.fs.space.putInode();
  }
}

class TmpSymlink extends TmpNode {
  readonly type = S_IFLNK;

  /** `long`: the target took a page of the mount's space (taken by the caller) */
  constructor(fs: Tmpfs, readonly target: string, uid: number, gid: number, private readonly long: boolean) {
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
    if (this.links > 0) return;
    if (this.long) this.fs.space.putBlocks(1);
    this.fs.space.putInode();
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
    if (this.links === 0) this.fs.space.putInode();
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
    if (this.links === 0) this.fs.space.putInode();
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

  /**
   * EEXIST / EINVAL / ENOENT (dead directory) checks shared by every
   * create, then the inode it takes of the mount's nr_inodes (ENOSPC): a
   * caller that returns 0 makes the node, or gives the inode back.
   */
  private canCreate(name: string): number {
    if (isBadName(name)) return -E.EINVAL;
    const r = this.nameTaken(name);
    return r < 0 ? r : this.fs.space.takeInode();
  }

  /** ENOENT in a dead directory, EEXIST for a name in use, else 0. */
  private nameTaken(name: string): number {
    if (this.removed) return -E.ENOENT;
    return this.entries.has(name) ? -E.EEXIST : 0;
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
    const type = mode & S_IFMT;
    const known = type === S_IFREG || type === 0 || type === S_IFIFO || type === S_IFCHR || type === S_IFBLK ||
      type === S_IFSOCK;
    const r = known ? this.canCreate(name) : isBadName(name) ? -E.EINVAL : this.nameTaken(name);
    if (r < 0) return r;
    if (!known) return -E.EINVAL; // mknod(2): EINVAL for a directory or an unknown type
    const o = this.owner(cred);
    let node: TmpNode;
    if (type === S_IFREG || type === 0) node = new TmpFile(this.fs, mode, o.uid, o.gid);
    else if (type === S_IFIFO) node = new TmpFifo(this.fs, mode, o.uid, o.gid);
    else node = new TmpSpecial(this.fs, type, mode, type === S_IFSOCK ? 0 : rdev, o.uid, o.gid);
    this.attach(name, node);
    return 0;
  }

  symlink(name: string, target: string, cred: Cred): number {
    const r = this.canCreate(name);
    if (r < 0) return r;
    const long = Buffer.byteLength(target) > SHORT_SYMLINK_LEN;
    if (long && !this.fs.space.takeBlocks(1)) {
      this.fs.space.putInode();
      return -E.ENOSPC;
    }
    const o = this.owner(cred);
    this.attach(name, new TmpSymlink(this.fs, target, o.uid, o.gid, long));
    return 0;
  }

  /** Each extra hard link takes an inode of nr_inodes, as Linux's shmem_link() counts one. */
  link(name: string, target: Inode): number {
    if (isBadName(name)) return -E.EINVAL;
    const taken = this.nameTaken(name);
    if (taken < 0) return taken;
    if (!(target instanceof TmpNode) || target.fs !== this.fs) return -E.EXDEV;
    if (target.type === S_IFDIR) return -E.EPERM;
    // linkat(2) of an open but deleted file: ENOENT (unless O_TMPFILE, not supported here).
    if (target.links === 0) return -E.ENOENT;
    const r = this.fs.space.takeInode();
    if (r < 0) return r;
    this.attach(name, target);
    return 0;
  }

  unlink(name: string): number {
    const node = this.entries.get(name);
    if (!node) return -E.ENOENT;
    if (node.type === S_IFDIR) return -E.EISDIR; // unlink(2) on Linux
    this.detach(name);
    this.nameGone(node);
    return 0;
  }

  /**
   * A name of a non-directory went: the inode an extra link took comes
   * back (shmem_unlink), and the last name lets the inode go once unused.
   */
  private nameGone(node: Inode): void {
    if (!(node instanceof TmpNode)) return;
    if (node.links > 0) this.fs.space.putInode();
    else node.unlinked();
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

  /** Remove every name below this directory, as rm -r would (Tmpfs.release). */
  clear(): void {
    for (const [name, node] of [...this.entries]) {
      this.detach(name);
      if (node instanceof TmpDir) {
        node.clear();
        this.kill(node);
      } else {
        this.nameGone(node);
      }
    }
  }

  private kill(d: TmpDir): void {
    d.removed = true;
    d.ctime = nowTimespec();
    this.fs.space.putInode();
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
      else this.nameGone(dst);
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
  /** size= and nr_inodes=, and what is used of them */
  readonly space: TmpfsSpace;
  private nextIno = 1;
  /** what /proc/mounts shows besides the limits (mode=, uid=, gid= stay as first mounted) */
  private readonly shown: { mode: number; uid: number; gid: number; inode64: boolean; noswap: boolean };

  constructor(readonly dev: number, readonly createMemfd: CreateMemfd, opts: TmpfsOptions = {}) {
    this.type = opts.type ?? 'tmpfs';
    this.devices = opts.devices ?? new Map();
    const p = opts.params ?? {};
    const ramBytes = opts.ramBytes ?? (kernelMemory.limit < Number.MAX_SAFE_INTEGER ? kernelMemory.limit : totalmem());
    this.space = new TmpfsSpace(ramBytes, p);
    const mode = p.mode ?? opts.mode ?? 0o1777, uid = p.uid ?? opts.uid ?? 0, gid = p.gid ?? opts.gid ?? 0;
    this.shown = { mode, uid, gid, inode64: p.inode64 ?? false, noswap: p.noswap ?? false };
    this.space.forceInode();
    this.root = new TmpDir(this, mode, uid, gid);
  }

  allocIno(): number {
    return this.nextIno++;
  }

  /** mount -o remount: size= and nr_inodes= change; 0 or -EINVAL (a bad option, or a limit below what is used). */
  remount(data: string): number {
    const p = parseTmpfsOptions(data, this.space.ramBytes);
    return typeof p === 'number' ? p : this.space.remount(p);
  }

  /**
   * The last mount went (umount): every name goes, as kill_litter_super()
   * drops a tmpfs's dentries; a file still open lives until it is closed.
   * /dev's devtmpfs is one instance that every mount of it shows: it stays.
   */
  release(): void {
    if (this.type === 'tmpfs') this.root.clear();
  }

  /** The tmpfs options /proc/mounts shows after the generic ones. */
  showOptions(): string {
    return showTmpfsOptions({ ...this.shown, blocks: this.space.maxBlocks, inodes: this.space.maxInodes }, this.space.ramBytes);
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
    const { blocks, bfree, files, ffree } = this.space.statfs();
    return { type: TMPFS_MAGIC, bsize: PAGE_SIZE, blocks, bfree, bavail: bfree, files, ffree, namelen: 255 };
  }
}
