/**
 * The guest root: a host directory `lower`, never written, under a host
 * directory `upper` that takes every change (copy-on-write, kept across
 * boots), merged the way Linux's overlayfs merges them
 * (Documentation/filesystems/overlayfs.rst).
 *
 * On-disk format of the upper layer (aufs-style, so it needs no xattrs
 * and no privileges):
 *   - `.wh.<name>`     an empty file: <name> of the lower layer is deleted;
 *   - `.wh..wh..opq`   in a directory: it is opaque, nothing of the lower
 *                      layer shows through (a directory removed and made
 *                      again, or moved by rename);
 *   - `.wh..wh..tmp.*` a copy-up or mkdir in progress, renamed into place
 *                      when complete so a crash never leaves half a file.
 * Names starting with `.wh.` are hidden from the guest and refused (EPERM).
 *
 * Inodes are named by their path relative to the root. One live object per
 * path (a weak map): rename moves the objects below it, unlink and rmdir
 * mark them dead, so a cwd follows its directory and a stale object can
 * never send a host path through a component that has since become a
 * symlink. The host is only ever asked about paths whose every component
 * was found to be a directory by lstat, and files are opened O_NOFOLLOW.
 *
 * A live object also knows which layer holds its copy (`upper`). While the
 * kernel runs, nothing but the kernel writes the layers (the lower one is
 * never written, the upper one is this boot's), and every change it makes
 * to the upper layer goes through copy-up, create or rename here, which
 * keep that knowledge; so an open or a stat asks the host about one layer,
 * and a name in a directory with no upper copy is looked for in the lower
 * layer only. A fresh lookup asks the host again.
 */
import { execFileSync } from 'node:child_process';
import {
  type BigIntStats, closeSync, constants, fchmodSync, fchownSync, fstatSync, ftruncateSync, linkSync, lchownSync,
  lstatSync, lutimesSync, mkdirSync, openSync, readdirSync, readlinkSync, readSync, realpathSync, renameSync,
  rmdirSync, rmSync, statfsSync, symlinkSync, unlinkSync, writeSync, chmodSync,
} from 'node:fs';
import { E } from '../errno.ts';
import { type HostDirent, hostDirents } from './host-dirents.ts';
import { Pipe } from './pipe.ts';
import {
  DT_DIR, DT_UNKNOWN, dtypeOfMode, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO,
  S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK,
  type Cred, type DirEntry, type FileOps, type FileSystem, type Inode, type IoContext, type OpenFile, type SetAttr,
  type Stat, type StatFs, type Timespec,
} from './types.ts';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
const TMP_PREFIX = '.wh..wh..tmp.';
const OVERLAYFS_SUPER_MAGIC = 0x794c7630;

const O_ACCMODE = 3, O_RDONLY = 0, O_TRUNC = 0o1000;
const RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2, RENAME_WHITEOUT = 4;
const S_ISGID = 0o2000;
/** Longest single read served at once; read(2) may return less than asked. */
const MAX_IO = 1 << 24;
const COPY_CHUNK = 1 << 20;
const { O_CREAT, O_EXCL, O_NOFOLLOW, O_RDWR, O_WRONLY } = constants;

/** Node's error for a failed host call, as -errno (EIO for what has no errno). */
export function hostErrno(e: unknown): number {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && Object.hasOwn(E, code)) return -E[code as keyof typeof E];
  return -E.EIO;
}

function isBadName(name: string): boolean {
  return name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0');
}

function childRel(parent: string, name: string): string {
  return parent === '' ? name : parent + '/' + name;
}

function parentRel(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

function baseName(rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}

function within(rel: string, top: string): boolean {
  return rel === top || rel.startsWith(top + '/');
}

function timespec(ns: bigint): Timespec {
  return { sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) };
}

/** Seconds as Node's utimes takes them (a double: sub-microsecond digits are lost). */
function seconds(t: Timespec): number {
  return t.sec + t.nsec / 1e9;
}

/**
 * Host ids as the guest sees them. Run as root, vmctl shows host ids as
 * they are; run as an ordinary user, that user's own uid and gid appear
 * as 0, so the guest user is root of its own files.
 */
class IdMap {
  private readonly uid = process.getuid?.() ?? 0;
  private readonly gid = process.getgid?.() ?? 0;
  readonly identity = this.uid === 0;

  guestUid(h: number): number {
    return !this.identity && h === this.uid ? 0 : h;
  }

  guestGid(h: number): number {
    return !this.identity && h === this.gid ? 0 : h;
  }

  hostUid(g: number): number {
    return !this.identity && g === 0 ? this.uid : g;
  }

  hostGid(g: number): number {
    return !this.identity && g === 0 ? this.gid : g;
  }
}

/** A directory as probe needs it: where it is, and whether the lower layer shows through it. */
interface DirRef {
  readonly rel: string;
  readonly merged: boolean;
  /** false: known to have no upper copy, so no upper entry or whiteout is below it */
  readonly upper?: boolean;
}

/** What a name is, found by lstat of the layers (see OverlayFs.probe). */
interface Probe {
  readonly type: number;
  readonly st: BigIntStats;
  readonly inUpper: boolean;
  /** directories: the lower layer shows through below this one */
  readonly merged: boolean;
  readonly ino: number;
}

class OverlayInode implements Inode {
  /** shared with the finalizer, which must not hold the inode itself */
  readonly key: { rel: string };
  dead = false;
  /** what getattr said just before the last name went (fstat of a deleted file) */
  lastStat: Stat | undefined;
  /** bumped on copy-up: descriptions open on the lower copy move to the upper one */
  copyUps = 0;
  /** host fds of open descriptions, for fstat once the name is gone */
  readonly openFds = new Set<number>();
  /** FIFOs: the pipe every opener shares (fifo(7)) */
  pipe: Pipe | undefined;

  constructor(
    readonly fs: OverlayFs,
    rel: string,
    readonly type: number,
    public merged: boolean,
    public ino: number,
    /** the copy that counts is the upper layer's (see the file comment) */
    public upper: boolean,
  ) {
    this.key = { rel };
  }

  get rel(): string {
    return this.key.rel;
  }

  getattr(): Stat | number {
    return this.fs.getattr(this);
  }

  setattr(a: SetAttr): number {
    return this.fs.setattr(this, a);
  }

  lookup(name: string): Inode | number {
    return this.fs.lookup(this, name);
  }

  readdir(): DirEntry[] | number {
    return this.fs.readdir(this);
  }

  create(name: string, mode: number, cred: Cred): Inode | number {
    return this.fs.create(this, name, mode, cred);
  }

  mkdir(name: string, mode: number, cred: Cred): number {
    return this.fs.mkdir(this, name, mode, cred);
  }

  mknod(name: string, mode: number, _rdev: number, cred: Cred): number {
    return this.fs.mknod(this, name, mode, cred);
  }

  symlink(name: string, target: string, cred: Cred): number {
    return this.fs.symlink(this, name, target, cred);
  }

  link(name: string, target: Inode): number {
    return this.fs.link(this, name, target);
  }

  unlink(name: string): number {
    return this.fs.unlink(this, name);
  }

  rmdir(name: string): number {
    return this.fs.rmdir(this, name);
  }

  rename(oldName: string, newDir: Inode, newName: string, flags: number): number {
    return this.fs.rename(this, oldName, newDir, newName, flags);
  }

  readlink(): string | number {
    return this.fs.readlink(this);
  }

  open(flags: number): FileOps | number {
    return this.fs.open(this, flags);
  }
}

export class OverlayFs implements FileSystem {
  readonly type = 'overlay';
  readonly root: Inode;
  readonly lower: string;
  readonly upper: string;
  private readonly ids = new IdMap();
  /** added to lower-layer inode numbers when the layers are different host filesystems */
  private readonly lowerInoTag: number;
  private readonly live = new Map<string, WeakRef<OverlayInode>>();
  private readonly finalizer = new FinalizationRegistry<{ rel: string }>((key) => {
    if (this.live.get(key.rel)?.deref() === undefined) this.live.delete(key.rel);
  });
  private tmpSeq = 0;
  /**
   * What the last getattr of a directory said about its mode and group:
   * a create asks for them right after open(2)'s permission check did.
   * Only setattr changes them (copy-up copies them), and it forgets this.
   */
  private lastDirAttr: { readonly n: OverlayInode; readonly mode: number; readonly gid: number } | undefined;

  /**
   * `lower` and `upper` are host directories (`upper` is made if missing);
   * `dev` is st_dev of every inode. A missing lower is a configuration
   * error of vmctl, not of a guest, so it throws.
   */
  constructor(lower: string, upper: string, readonly dev: number) {
    this.lower = realpathSync(lower);
    if (!lstatSync(this.lower).isDirectory()) throw new Error(`overlay: lower ${lower} is not a directory`);
    const lowerRoot = lstatSync(this.lower, { bigint: true });
    const fresh = mkdirSync(upper, { recursive: true, mode: 0o755 }) !== undefined;
    this.upper = realpathSync(upper);
    // A new upper root takes the lower root's owner, mode and times, as
    // the guest saw them before anything was written.
    if (fresh) this.copyAttrs(this.upper, lowerRoot, false);
    const upperRoot = lstatSync(this.upper, { bigint: true });
    this.lowerInoTag = upperRoot.dev === lowerRoot.dev ? 0 : 2 ** 52;
    const merged = !this.exists(this.upperPath(OPAQUE_MARKER));
    this.root = this.intern('', S_IFDIR, merged, merged ? this.inoOf(lowerRoot, true) : this.inoOf(upperRoot, false), true);
  }

  /** statfs(2) of the root: the upper layer's host filesystem, where writes go. */
  statfs(): StatFs {
    try {
      const s = statfsSync(this.upper);
      return { type: OVERLAYFS_SUPER_MAGIC, bsize: s.bsize, blocks: s.blocks, bfree: s.bfree, bavail: s.bavail,
        files: s.files, ffree: s.ffree, namelen: 255 };
    } catch {
      return { type: OVERLAYFS_SUPER_MAGIC, bsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, namelen: 255 };
    }
  }

  // ----- host paths and lstat -----

  private upperPath(rel: string): string {
    return rel === '' ? this.upper : this.upper + '/' + rel;
  }

  private lowerPath(rel: string): string {
    return rel === '' ? this.lower : this.lower + '/' + rel;
  }

  private layerPath(rel: string, lower: boolean): string {
    return lower ? this.lowerPath(rel) : this.upperPath(rel);
  }

  private lstat(path: string): BigIntStats | number {
    try {
      return lstatSync(path, { bigint: true, throwIfNoEntry: false }) ?? -E.ENOENT;
    } catch (e) {
      return hostErrno(e);
    }
  }

  private exists(path: string): boolean {
    return typeof this.lstat(path) !== 'number';
  }

  /**
   * st_ino: the host's, made unique across layers on different host
   * filesystems and folded into a safe integer.
   */
  private inoOf(st: BigIntStats, fromLower: boolean): number {
    return this.foldIno(st.ino, fromLower);
  }

  /** inoOf() of a host inode number (d_ino of a listing is st_ino). */
  private foldIno(hostIno: bigint, fromLower: boolean): number {
    let ino = hostIno;
    if (ino >= 2n ** 52n) ino = (ino ^ (ino >> 52n)) & (2n ** 52n - 1n);
    return Number(ino) + (fromLower ? this.lowerInoTag : 0);
  }

  // ----- lookup -----

  /**
   * What `name` in `dir` is: the upper entry if there is one; else, if
   * the lower layer shows through `dir` and no whiteout hides it, the
   * lower entry. A directory of the upper layer merges with the lower one
   * of the same path unless it is opaque.
   */
  probe(dir: DirRef, name: string): Probe | number {
    if (name.startsWith(WHITEOUT_PREFIX)) return -E.ENOENT;
    const rel = childRel(dir.rel, name);
    const up = dir.upper === false ? -E.ENOENT : this.lstat(this.upperPath(rel));
    if (typeof up !== 'number') {
      const type = Number(up.mode) & S_IFMT;
      if (type !== S_IFDIR || !dir.merged) return { type, st: up, inUpper: true, merged: false, ino: this.inoOf(up, false) };
      const lo = this.lstat(this.lowerPath(rel));
      const merged = typeof lo !== 'number' && lo.isDirectory() && !this.exists(this.upperPath(childRel(rel, OPAQUE_MARKER)));
      // A merged directory keeps its lower inode number: copy-up does not change st_ino.
      return { type, st: up, inUpper: true, merged, ino: merged ? this.inoOf(lo as BigIntStats, true) : this.inoOf(up, false) };
    }
    if (up !== -E.ENOENT && up !== -E.ENOTDIR) return up;
    if (!dir.merged) return -E.ENOENT;
    if (dir.upper !== false && this.exists(this.upperPath(childRel(dir.rel, WHITEOUT_PREFIX + name)))) return -E.ENOENT;
    const lo = this.lstat(this.lowerPath(rel));
    if (typeof lo === 'number') return lo === -E.ENOTDIR ? -E.ENOENT : lo;
    const type = Number(lo.mode) & S_IFMT;
    return { type, st: lo, inUpper: false, merged: type === S_IFDIR, ino: this.inoOf(lo, true) };
  }

  private intern(rel: string, type: number, merged: boolean, ino: number, upper: boolean): OverlayInode {
    const n = new OverlayInode(this, rel, type, merged, ino, upper);
    this.live.set(rel, new WeakRef(n));
    this.finalizer.register(n, n.key);
    return n;
  }

  private liveAt(rel: string): OverlayInode | undefined {
    return this.live.get(rel)?.deref();
  }

  lookup(dir: OverlayInode, name: string): Inode | number {
    if (dir.type !== S_IFDIR) return -E.ENOTDIR;
    if (dir.dead) return -E.ENOENT;
    if (isBadName(name)) return -E.ENOENT;
    const rel = childRel(dir.rel, name);
    const known = this.liveAt(rel);
    if (known) return known;
    const p = this.probe(dir, name);
    if (typeof p === 'number') return p;
    return this.intern(rel, p.type, p.merged, p.ino, p.inUpper);
  }

  /**
   * The merged listing: upper entries, then lower ones not shadowed or
   * whited out. Inode numbers and types come from the host listing as
   * probe() would find them; lstat is asked only about an upper directory
   * over a lower one (is it opaque?) and what the host could not type.
   */
  readdir(dir: OverlayInode): DirEntry[] | number {
    if (dir.type !== S_IFDIR) return -E.ENOTDIR;
    if (dir.dead) return [];
    const up = dir.upper ? this.entries(this.upperPath(dir.rel)) : -E.ENOENT;
    const lo = dir.merged ? this.entries(this.lowerPath(dir.rel)) : [];
    if (typeof up === 'number' && (up !== -E.ENOENT || !dir.merged)) return up;
    if (typeof lo === 'number') return lo;
    const out: DirEntry[] = [];
    const hidden = new Set<string>();
    const upper = typeof up === 'number' ? [] : up;
    const lowerByName = upper.length > 0 && lo.length > 0 ? new Map(lo.map((e) => [e.name, e])) : undefined;
    for (const e of upper) {
      if (e.name.startsWith(WHITEOUT_PREFIX)) {
        hidden.add(e.name.slice(WHITEOUT_PREFIX.length));
        continue;
      }
      hidden.add(e.name);
      const d = this.upperEntry(dir, e, lowerByName?.get(e.name));
      if (d) out.push(d);
    }
    // What the upper listing did not name nor whiteout is the lower entry itself.
    for (const e of lo) {
      if (hidden.has(e.name) || e.name.startsWith(WHITEOUT_PREFIX)) continue;
      if (e.type !== DT_UNKNOWN) {
        out.push({ name: e.name, ino: this.foldIno(e.ino, true), type: e.type });
        continue;
      }
      const st = this.lstat(this.lowerPath(childRel(dir.rel, e.name)));
      if (typeof st !== 'number') out.push({ name: e.name, ino: this.inoOf(st, true), type: dtypeOfMode(Number(st.mode)) });
    }
    return out;
  }

  /** probe()'s answer for upper entry `e` of `dir`, from the listings (`lower`: the lower entry of that name). */
  private upperEntry(dir: OverlayInode, e: HostDirent, lower: HostDirent | undefined): DirEntry | undefined {
    if (e.type === DT_UNKNOWN || lower?.type === DT_UNKNOWN) {
      const p = this.probe(dir, e.name);
      return typeof p === 'number' ? undefined : { name: e.name, ino: p.ino, type: dtypeOfMode(p.type) };
    }
    // A merged directory keeps its lower inode number (see probe).
    const merged = e.type === DT_DIR && dir.merged && lower?.type === DT_DIR
      && !this.exists(this.upperPath(childRel(childRel(dir.rel, e.name), OPAQUE_MARKER)));
    return { name: e.name, ino: merged ? this.foldIno(lower.ino, true) : this.foldIno(e.ino, false), type: e.type };
  }

  /** A host directory's entries (hostDirents), names only typed DT_UNKNOWN without the addon. */
  private entries(path: string): HostDirent[] | number {
    const native = hostDirents(path);
    if (native !== undefined) return native;
    const names = this.list(path);
    return typeof names === 'number' ? names : names.map((name) => ({ name, ino: 0n, type: DT_UNKNOWN }));
  }

  private list(path: string): string[] | number {
    try {
      return readdirSync(path);
    } catch (e) {
      return hostErrno(e);
    }
  }

  // ----- attributes -----

  getattr(n: OverlayInode): Stat | number {
    if (n.dead) return this.deadStat(n);
    let fromLower = !n.upper;
    let st = this.lstat(this.layerPath(n.rel, fromLower));
    // Only a host change behind the kernel's back moves a copy: then the other layer is asked too.
    if (st === -E.ENOENT) {
      fromLower = !fromLower;
      st = this.lstat(this.layerPath(n.rel, fromLower));
    }
    if (typeof st === 'number') return st;
    if (n.type !== S_IFDIR) n.ino = this.inoOf(st, fromLower);
    const s = this.toStat(st, n.ino);
    if (n.type === S_IFDIR) {
      // overlayfs shows nlink 1 for a merged directory: its subdirectory count is unknown.
      if (n.merged && !fromLower) s.nlink = 1;
      this.lastDirAttr = { n, mode: s.mode, gid: s.gid };
    }
    return s;
  }

  private toStat(st: BigIntStats, ino: number): Stat {
    return {
      dev: this.dev, ino, mode: Number(st.mode), nlink: Number(st.nlink),
      uid: this.ids.guestUid(Number(st.uid)), gid: this.ids.guestGid(Number(st.gid)),
      rdev: Number(st.rdev), size: Number(st.size), blksize: Number(st.blksize), blocks: Number(st.blocks),
      atime: timespec(st.atimeNs), mtime: timespec(st.mtimeNs), ctime: timespec(st.ctimeNs),
    };
  }

  /** fstat of an open file whose name is gone: its host fd if open, else the last known attributes. */
  private deadStat(n: OverlayInode): Stat | number {
    for (const fd of n.openFds) {
      try {
        return { ...this.toStat(fstatSync(fd, { bigint: true }), n.ino), nlink: 0 };
      } catch {
        // fall back to the last known attributes
      }
    }
    return n.lastStat ? { ...n.lastStat, nlink: 0 } : -E.ENOENT;
  }

  /** chmod, chown, truncate, utimes: copy up, then change the upper copy. */
  setattr(n: OverlayInode, a: SetAttr): number {
    this.lastDirAttr = undefined;
    if (n.dead) return this.setattrDead(n, a);
    if (a.size !== undefined) {
      if (n.type === S_IFDIR) return -E.EISDIR;
      if (n.type !== S_IFREG) return -E.EINVAL;
      if (a.size < 0 || !Number.isSafeInteger(a.size)) return -E.EINVAL;
    }
    if (a.mode !== undefined && n.type === S_IFLNK) return -E.EOPNOTSUPP;
    // Truncating to nothing needs no copy of the old data.
    const r = this.copyUp(n.rel, a.size !== 0);
    if (r < 0) return r;
    const path = this.upperPath(n.rel);
    try {
      if (a.size !== undefined) {
        const fd = openSync(path, O_WRONLY | O_NOFOLLOW);
        try {
          ftruncateSync(fd, a.size);
        } finally {
          closeSync(fd);
        }
      }
      // Owner before mode: chown(2) clears set-id bits an explicit mode may set again.
      if (a.uid !== undefined || a.gid !== undefined) {
        lchownSync(path, a.uid === undefined ? -1 : this.ids.hostUid(a.uid),
          a.gid === undefined ? -1 : this.ids.hostGid(a.gid));
      }
      if (a.mode !== undefined) chmodSync(path, a.mode & 0o7777);
      if (a.atime || a.mtime) {
        const cur = this.lstat(path);
        if (typeof cur === 'number') return cur;
        lutimesSync(path, seconds(a.atime ?? timespec(cur.atimeNs)), seconds(a.mtime ?? timespec(cur.mtimeNs)));
      }
    } catch (e) {
      return hostErrno(e);
    }
    return 0;
  }

  /** fchmod/ftruncate/... of an open file whose name is gone: through its host fd. */
  private setattrDead(n: OverlayInode, a: SetAttr): number {
    const fd = [...n.openFds][0];
    if (fd === undefined) return -E.ENOENT;
    try {
      if (a.size !== undefined) ftruncateSync(fd, a.size);
      if (a.uid !== undefined || a.gid !== undefined) {
        fchownSync(fd, a.uid === undefined ? -1 : this.ids.hostUid(a.uid), a.gid === undefined ? -1 : this.ids.hostGid(a.gid));
      }
      if (a.mode !== undefined) fchmodSync(fd, a.mode & 0o7777);
    } catch (e) {
      return hostErrno(e);
    }
    return 0;
  }

  readlink(n: OverlayInode): string | number {
    if (n.type !== S_IFLNK) return -E.EINVAL;
    if (n.dead) return -E.ENOENT;
    try {
      return readlinkSync(this.layerPath(n.rel, !n.upper));
    } catch (e) {
      if (hostErrno(e) !== -E.ENOENT) return hostErrno(e);
    }
    try {
      return readlinkSync(this.layerPath(n.rel, n.upper));
    } catch (e) {
      return hostErrno(e);
    }
  }

  // ----- copy-up -----

  /**
   * Make `rel` exist in the upper layer, parents first, each with the
   * lower copy's owner, mode and times (and content, unless `data` is
   * false: it is about to be truncated). The parent's times are put back
   * afterwards: copying up is not a change the guest made.
   */
  private copyUp(rel: string, data = true): number {
    if (this.liveAt(rel)?.upper) return 0;
    const up = this.lstat(this.upperPath(rel));
    if (typeof up !== 'number') return 0;
    if (up !== -E.ENOENT) return up;
    const lo = this.lstat(this.lowerPath(rel));
    if (typeof lo === 'number') return lo;
    const parent = parentRel(rel);
    const r = this.copyUp(parent);
    if (r < 0) return r;
    const before = this.lstat(this.upperPath(parent));
    const c = this.copyUpOne(rel, lo, data);
    if (c < 0) return c;
    // An unprivileged copy cannot always keep the owner.
    this.lastDirAttr = undefined;
    if (typeof before !== 'number') this.restoreTimes(this.upperPath(parent), before);
    const n = this.liveAt(rel);
    if (n) {
      n.upper = true;
      n.copyUps++;
      if (n.type !== S_IFDIR) {
        const now = this.lstat(this.upperPath(rel));
        if (typeof now !== 'number') n.ino = this.inoOf(now, false);
      }
    }
    return 0;
  }

  private copyUpOne(rel: string, lo: BigIntStats, data: boolean): number {
    const type = Number(lo.mode) & S_IFMT;
    const dst = this.upperPath(rel);
    const tmp = this.tmpPath(parentRel(rel));
    try {
      switch (type) {
        case S_IFDIR:
          mkdirSync(dst, 0o700);
          this.copyAttrs(dst, lo, false);
          return 0;
        case S_IFREG:
          this.copyData(this.lowerPath(rel), tmp, data ? Number(lo.size) : 0);
          this.copyAttrs(tmp, lo, false);
          renameSync(tmp, dst);
          return 0;
        case S_IFLNK:
          symlinkSync(readlinkSync(this.lowerPath(rel)), dst);
          this.copyAttrs(dst, lo, true);
          return 0;
        case S_IFIFO:
          this.mkfifo(dst, Number(lo.mode) & 0o7777);
          this.copyAttrs(dst, lo, false);
          return 0;
        default:
          // Device nodes and sockets cannot be made without privileges we do not use.
          return -E.EPERM;
      }
    } catch (e) {
      rmSync(tmp, { force: true });
      return hostErrno(e);
    }
  }

  private tmpPath(dirRel: string): string {
    return this.upperPath(childRel(dirRel, `${TMP_PREFIX}${process.pid}.${++this.tmpSeq}`));
  }

  /** Copy `len` bytes of the lower file at `src` into a new file `dst`, never following a symlink. */
  private copyData(src: string, dst: string, len: number): void {
    const out = openSync(dst, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW, 0o600);
    try {
      if (len === 0) return;
      const inp = openSync(src, constants.O_RDONLY | O_NOFOLLOW);
      try {
        const buf = Buffer.allocUnsafe(Math.min(COPY_CHUNK, len));
        for (let pos = 0; ;) {
          const n = readSync(inp, buf, 0, buf.length, pos);
          if (n === 0) break;
          for (let off = 0; off < n;) off += writeSync(out, buf, off, n - off, pos + off);
          pos += n;
        }
      } finally {
        closeSync(inp);
      }
    } finally {
      closeSync(out);
    }
  }

  /** Owner (best effort when not root), then mode, then times, from host stat `st`. */
  private copyAttrs(path: string, st: BigIntStats, isLink: boolean): void {
    try {
      lchownSync(path, Number(st.uid), Number(st.gid));
    } catch (e) {
      if (this.ids.identity) throw e;
    }
    if (!isLink) chmodSync(path, Number(st.mode) & 0o7777);
    this.restoreTimes(path, st);
  }

  private restoreTimes(path: string, st: BigIntStats): void {
    lutimesSync(path, seconds(timespec(st.atimeNs)), seconds(timespec(st.mtimeNs)));
  }

  /** Node has no mkfifo(3): the host's mkfifo(1) makes one (rare: guest mknod of a FIFO). */
  private mkfifo(path: string, perm: number): void {
    try {
      execFileSync('mkfifo', ['-m', perm.toString(8), '--', path], { stdio: 'ignore' });
    } catch (e) {
      const err = new Error('mkfifo failed') as NodeJS.ErrnoException;
      err.code = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'EPERM' : 'EIO';
      throw err;
    }
  }

  /** Copy up a directory and everything the lower layer has below it. */
  private copyUpTree(dir: DirRef): number {
    const r = this.copyUp(dir.rel);
    if (r < 0 || !dir.merged) return r;
    const names = this.list(this.lowerPath(dir.rel));
    if (typeof names === 'number') return names;
    for (const name of names) {
      const p = this.probe(dir, name);
      if (typeof p === 'number') continue;
      const rel = childRel(dir.rel, name);
      const c = p.type === S_IFDIR ? this.copyUpTree({ rel, merged: p.merged }) : this.copyUp(rel);
      if (c < 0) return c;
    }
    return 0;
  }

  // ----- creating names -----

  private owner(dir: OverlayInode, cred: Cred): { uid: number; gid: number; sgid: boolean } {
    const st = this.lastDirAttr?.n === dir ? this.lastDirAttr : this.getattr(dir);
    // inode(7): in a set-group-ID directory new files take the directory's group.
    const sgid = typeof st !== 'number' && (st.mode & S_ISGID) !== 0;
    return { uid: cred.fsuid, gid: sgid ? (st as Stat).gid : cred.fsgid, sgid };
  }

  private chownNew(path: string, uid: number, gid: number): void {
    try {
      lchownSync(path, this.ids.hostUid(uid), this.ids.hostGid(gid));
    } catch (e) {
      // An unprivileged vmctl cannot give files away; they stay the host user's (shown as root).
      if (this.ids.identity) throw e;
    }
  }

  /**
   * Give an entry just made (an fd on it, or its path; host stat `st`) the
   * guest's owner and permission bits `perm`. The host is asked to change
   * only what it did not give the entry by itself (umask, a default ACL,
   * set-id bits, another owner): each change is a write to its journal.
   */
  private settleNew(entry: number | string, st: BigIntStats, uid: number, gid: number, perm: number): void {
    const hostUid = this.ids.hostUid(uid), hostGid = this.ids.hostGid(gid);
    let chowned = false;
    if (Number(st.uid) !== hostUid || Number(st.gid) !== hostGid) {
      try {
        if (typeof entry === 'number') fchownSync(entry, hostUid, hostGid);
        else lchownSync(entry, hostUid, hostGid);
        chowned = true;
      } catch (e) {
        // An unprivileged vmctl cannot give files away; they stay the host user's (shown as root).
        if (this.ids.identity) throw e;
      }
    }
    // Owner before mode: chown(2) clears set-id bits an explicit mode may set again.
    if (!chowned && (Number(st.mode) & 0o7777) === perm) return;
    if (typeof entry === 'number') fchmodSync(entry, perm);
    else chmodSync(entry, perm);
  }

  /**
   * Checks and copy-up before making `name` in `dir`. Returns the new
   * relative path and whether a whiteout of that name must go afterwards
   * (made first, then the whiteout removed: a crash leaves the new entry).
   * `exclusive`: the caller makes the upper entry with a host call that
   * fails with EEXIST by itself (O_EXCL), so the upper layer is not asked.
   */
  private prepareCreate(dir: OverlayInode, name: string, exclusive = false):
    { rel: string; whiteout: string | undefined; lowerHas: boolean } | number {
    if (dir.type !== S_IFDIR) return -E.ENOTDIR;
    if (dir.dead) return -E.ENOENT;
    if (isBadName(name)) return -E.EINVAL;
    if (name.startsWith(WHITEOUT_PREFIX)) return -E.EPERM;
    // probe()'s questions, each asked once: the answers are wanted below too.
    const rel = childRel(dir.rel, name);
    const up = dir.upper && !exclusive ? this.lstat(this.upperPath(rel)) : -E.ENOENT;
    if (typeof up !== 'number') return -E.EEXIST;
    if (up !== -E.ENOENT && up !== -E.ENOTDIR) return up;
    // A whiteout hides only what the lower layer shows through `dir` (see probe).
    const wh = this.upperPath(childRel(dir.rel, WHITEOUT_PREFIX + name));
    const whiteout = dir.upper && dir.merged && this.exists(wh);
    let lowerHas = false;
    if (dir.merged) {
      const lo = this.lstat(this.lowerPath(rel));
      lowerHas = typeof lo !== 'number';
      // A lower entry shows unless whited out; so does an error asking about it.
      if (!whiteout && lowerHas) return -E.EEXIST;
      if (!whiteout && typeof lo === 'number' && lo !== -E.ENOENT && lo !== -E.ENOTDIR) return lo;
    }
    const r = this.copyUp(dir.rel);
    if (r < 0) return r;
    return { rel, whiteout: whiteout ? wh : undefined, lowerHas };
  }

  private dropWhiteout(wh: string | undefined): void {
    if (wh) rmSync(wh, { force: true });
  }

  /** The object of a regular file just made at `rel` with host stat `st`, for the live map. */
  private internNew(rel: string, st: BigIntStats): OverlayInode {
    const known = this.liveAt(rel);
    if (!known) return this.intern(rel, S_IFREG, false, this.inoOf(st, false), true);
    known.upper = true;
    return known;
  }

  create(dir: OverlayInode, name: string, mode: number, cred: Cred): Inode | number {
    const prep = this.prepareCreate(dir, name, true);
    if (typeof prep === 'number') return prep;
    const o = this.owner(dir, cred);
    const perm = mode & 0o7777;
    let st: BigIntStats;
    try {
      // Made with its permission bits already: settleNew puts right what the host did not give.
      const fd = openSync(this.upperPath(prep.rel), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW, perm & 0o777);
      try {
        st = fstatSync(fd, { bigint: true });
        this.settleNew(fd, st, o.uid, o.gid, perm);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      return hostErrno(e);
    }
    this.dropWhiteout(prep.whiteout);
    return this.internNew(prep.rel, st);
  }

  /**
   * mkdir(2). Where the lower layer has the name (it was deleted), the new
   * directory is opaque: it is built under a temporary name with its
   * marker and renamed into place.
   */
  mkdir(dir: OverlayInode, name: string, mode: number, cred: Cred): number {
    const prep = this.prepareCreate(dir, name);
    if (typeof prep === 'number') return prep;
    const o = this.owner(dir, cred);
    const perm = (mode & 0o1777) | (o.sgid ? S_ISGID : 0);
    const path = this.upperPath(prep.rel);
    const build = prep.lowerHas ? this.tmpPath(dir.rel) : path;
    try {
      // Made in place with its permission bits already (settleNew puts right what the host did not give);
      // a temporary one stays the host's own until its marker is in.
      mkdirSync(build, build === path ? perm & 0o777 : 0o700);
      try {
        if (prep.lowerHas) closeSync(openSync(build + '/' + OPAQUE_MARKER, O_CREAT | O_EXCL | O_WRONLY, 0o600));
        this.settleNew(build, lstatSync(build, { bigint: true }), o.uid, o.gid, perm);
        if (build !== path) renameSync(build, path);
      } catch (e) {
        rmSync(build, { recursive: true, force: true });
        throw e;
      }
    } catch (e) {
      return hostErrno(e);
    }
    this.dropWhiteout(prep.whiteout);
    return 0;
  }

  /** mknod(2): regular files and FIFOs; device nodes and sockets get EPERM. */
  mknod(dir: OverlayInode, name: string, mode: number, cred: Cred): number {
    const type = mode & S_IFMT;
    if (type === S_IFREG || type === 0) {
      const r = this.create(dir, name, mode, cred);
      return typeof r === 'number' ? r : 0;
    }
    if (type === S_IFDIR) return -E.EINVAL;
    if (type === S_IFCHR || type === S_IFBLK || type === S_IFSOCK) return -E.EPERM;
    if (type !== S_IFIFO) return -E.EINVAL;
    const prep = this.prepareCreate(dir, name);
    if (typeof prep === 'number') return prep;
    const path = this.upperPath(prep.rel);
    const o = this.owner(dir, cred);
    try {
      this.mkfifo(path, mode & 0o7777);
      this.chownNew(path, o.uid, o.gid);
      chmodSync(path, mode & 0o7777);
    } catch (e) {
      return hostErrno(e);
    }
    this.dropWhiteout(prep.whiteout);
    return 0;
  }

  symlink(dir: OverlayInode, name: string, target: string, cred: Cred): number {
    if (target === '') return -E.ENOENT; // symlink(2)
    const prep = this.prepareCreate(dir, name);
    if (typeof prep === 'number') return prep;
    const path = this.upperPath(prep.rel);
    const o = this.owner(dir, cred);
    try {
      symlinkSync(target, path);
      this.chownNew(path, o.uid, o.gid);
    } catch (e) {
      return hostErrno(e);
    }
    this.dropWhiteout(prep.whiteout);
    return 0;
  }

  link(dir: OverlayInode, name: string, target: Inode): number {
    if (!(target instanceof OverlayInode) || target.fs !== this) return -E.EXDEV;
    if (target.type === S_IFDIR) return -E.EPERM;
    if (target.dead) return -E.ENOENT;
    const prep = this.prepareCreate(dir, name);
    if (typeof prep === 'number') return prep;
    const r = this.copyUp(target.rel);
    if (r < 0) return r;
    try {
      linkSync(this.upperPath(target.rel), this.upperPath(prep.rel));
    } catch (e) {
      return hostErrno(e);
    }
    this.dropWhiteout(prep.whiteout);
    return 0;
  }

  // ----- removing names -----

  /** Hide lower `name` of `dir` (copied up already) if the lower layer has it. */
  private whiteout(dir: DirRef, name: string): void {
    if (!dir.merged || !this.exists(this.lowerPath(childRel(dir.rel, name)))) return;
    try {
      closeSync(openSync(this.upperPath(childRel(dir.rel, WHITEOUT_PREFIX + name)), O_CREAT | O_EXCL | O_WRONLY, 0o600));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }

  /**
   * The object at `rel` is gone: mark it dead, remembering `st` for fstat.
   * Nothing lives below it: a directory goes only when empty.
   */
  private kill(rel: string, st: Stat | number): void {
    const n = this.liveAt(rel);
    this.live.delete(rel);
    if (!n) return;
    n.dead = true;
    if (typeof st !== 'number') n.lastStat = st;
  }

  unlink(dir: OverlayInode, name: string): number {
    if (dir.type !== S_IFDIR) return -E.ENOTDIR;
    if (dir.dead) return -E.ENOENT;
    if (isBadName(name)) return -E.EINVAL;
    const p = this.probe(dir, name);
    if (typeof p === 'number') return p;
    if (p.type === S_IFDIR) return -E.EISDIR; // unlink(2) on Linux
    const rel = childRel(dir.rel, name);
    const st = this.toStat(p.st, p.ino);
    const r = this.copyUp(dir.rel);
    if (r < 0) return r;
    try {
      // Whiteout first: a crash in between leaves the upper entry, which wins.
      this.whiteout(dir, name);
      if (p.inUpper) unlinkSync(this.upperPath(rel));
    } catch (e) {
      return hostErrno(e);
    }
    this.kill(rel, st);
    return 0;
  }

  /** Is the merged directory `rel` empty? (rmdir and rename over a directory) */
  private mergedEmpty(rel: string, merged: boolean, upper: boolean): boolean | number {
    const tmp = new OverlayInode(this, rel, S_IFDIR, merged, 0, upper);
    const entries = this.readdir(tmp);
    if (typeof entries === 'number') return entries;
    return entries.length === 0;
  }

  /** Remove what only the upper copy of an empty merged directory holds: whiteouts, its marker, leftovers. */
  private clearHidden(rel: string): void {
    const names = this.list(this.upperPath(rel));
    if (typeof names === 'number') return;
    for (const n of names) if (n.startsWith(WHITEOUT_PREFIX)) rmSync(this.upperPath(childRel(rel, n)), { recursive: true, force: true });
  }

  rmdir(dir: OverlayInode, name: string): number {
    if (dir.type !== S_IFDIR) return -E.ENOTDIR;
    if (dir.dead) return -E.ENOENT;
    if (isBadName(name)) return -E.EINVAL;
    const p = this.probe(dir, name);
    if (typeof p === 'number') return p;
    if (p.type !== S_IFDIR) return -E.ENOTDIR;
    const rel = childRel(dir.rel, name);
    const empty = this.mergedEmpty(rel, p.merged, p.inUpper);
    if (typeof empty === 'number') return empty;
    if (!empty) return -E.ENOTEMPTY;
    const st = this.toStat(p.st, p.ino);
    const r = this.copyUp(dir.rel);
    if (r < 0) return r;
    try {
      this.whiteout(dir, name);
      if (p.inUpper) {
        this.clearHidden(rel);
        rmdirSync(this.upperPath(rel));
      }
    } catch (e) {
      return hostErrno(e);
    }
    this.kill(rel, st);
    return 0;
  }

  // ----- rename -----

  /**
   * rename(2)/renameat2(2). Whatever moves is copied up first; a directory
   * with lower content is copied up whole and becomes opaque at its new
   * name (overlayfs without redirect_dir answers EXDEV instead, which
   * rename(2) callers other than mv(1) rarely handle).
   */
  rename(oldDir: OverlayInode, oldName: string, newDirIn: Inode, newName: string, flags: number): number {
    if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) return -E.EINVAL;
    if (flags & RENAME_NOREPLACE && flags & RENAME_EXCHANGE) return -E.EINVAL;
    if (flags & RENAME_WHITEOUT) return -E.EINVAL;
    if (!(newDirIn instanceof OverlayInode) || newDirIn.fs !== this) return -E.EXDEV;
    const newDir = newDirIn;
    if (oldDir.type !== S_IFDIR || newDir.type !== S_IFDIR) return -E.ENOTDIR;
    if (oldDir.dead || newDir.dead) return -E.ENOENT;
    if (isBadName(oldName) || isBadName(newName)) return -E.EINVAL;
    if (newName.startsWith(WHITEOUT_PREFIX)) return -E.EPERM;
    const src = this.probe(oldDir, oldName);
    if (typeof src === 'number') return src;
    const dst = this.probe(newDir, newName);
    if (typeof dst === 'number' && dst !== -E.ENOENT) return dst;
    const srcRel = childRel(oldDir.rel, oldName);
    const dstRel = childRel(newDir.rel, newName);
    const target = typeof dst === 'number' ? undefined : dst;
    if (flags & RENAME_EXCHANGE) {
      if (!target) return -E.ENOENT;
      if (src.type === S_IFDIR && within(dstRel, srcRel)) return -E.EINVAL;
      if (target.type === S_IFDIR && within(srcRel, dstRel)) return -E.EINVAL;
      if (srcRel === dstRel) return 0;
      return this.exchange(oldDir, srcRel, src, newDir, dstRel, target);
    }
    // rename(2): the same file under both names: nothing happens, successfully.
    if (srcRel === dstRel) return 0;
    if (target && target.inUpper === src.inUpper && target.st.dev === src.st.dev && target.st.ino === src.st.ino) return 0;
    if (target && flags & RENAME_NOREPLACE) return -E.EEXIST;
    if (src.type === S_IFDIR) {
      if (within(dstRel, srcRel)) return -E.EINVAL;
      if (target) {
        if (target.type !== S_IFDIR) return -E.ENOTDIR;
        const empty = this.mergedEmpty(dstRel, target.merged, target.inUpper);
        if (typeof empty === 'number') return empty;
        if (!empty) return -E.ENOTEMPTY;
      }
    } else if (target?.type === S_IFDIR) return -E.EISDIR;

    const dstStat = target ? this.toStat(target.st, target.ino) : -E.ENOENT;
    let r = this.copyUp(oldDir.rel);
    if (r >= 0) r = this.copyUp(newDir.rel);
    if (r >= 0) r = src.type === S_IFDIR ? this.copyUpTree({ rel: srcRel, merged: src.merged }) : this.copyUp(srcRel);
    if (r < 0) return r;
    const dstWhiteout = this.upperPath(childRel(newDir.rel, WHITEOUT_PREFIX + newName));
    try {
      if (target?.type === S_IFDIR && target.inUpper) this.clearHidden(dstRel);
      if (src.type === S_IFDIR) this.markOpaqueIfLower(newDir, newName, srcRel);
      this.whiteout(oldDir, oldName);
      renameSync(this.upperPath(srcRel), this.upperPath(dstRel));
      rmSync(dstWhiteout, { force: true });
    } catch (e) {
      return hostErrno(e);
    }
    if (target) this.kill(dstRel, dstStat);
    this.moveLive([[srcRel, dstRel]], src.type === S_IFDIR);
    return 0;
  }

  /** A directory about to appear at `newName` of `newDir` hides the lower one there. */
  private markOpaqueIfLower(newDir: OverlayInode, newName: string, upperRel: string): void {
    if (!newDir.merged || !this.exists(this.lowerPath(childRel(newDir.rel, newName)))) return;
    try {
      closeSync(openSync(this.upperPath(childRel(upperRel, OPAQUE_MARKER)), O_CREAT | O_EXCL | O_WRONLY, 0o600));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }

  /** RENAME_EXCHANGE: both copied up, swapped through a temporary name (not atomic on the host). */
  private exchange(oldDir: OverlayInode, aRel: string, a: Probe, newDir: OverlayInode, bRel: string, b: Probe): number {
    let r = this.copyUp(oldDir.rel);
    if (r >= 0) r = this.copyUp(newDir.rel);
    for (const [rel, p] of [[aRel, a], [bRel, b]] as const) {
      if (r >= 0) r = p.type === S_IFDIR ? this.copyUpTree({ rel, merged: p.merged }) : this.copyUp(rel);
    }
    if (r < 0) return r;
    const tmp = this.tmpPath(oldDir.rel);
    try {
      if (a.type === S_IFDIR) this.markOpaqueIfLower(newDir, baseName(bRel), aRel);
      if (b.type === S_IFDIR) this.markOpaqueIfLower(oldDir, baseName(aRel), bRel);
      renameSync(this.upperPath(aRel), tmp);
      renameSync(this.upperPath(bRel), this.upperPath(aRel));
      renameSync(tmp, this.upperPath(bRel));
    } catch (e) {
      return hostErrno(e);
    }
    this.moveLive([[aRel, bRel], [bRel, aRel]], a.type === S_IFDIR || b.type === S_IFDIR);
    return 0;
  }

  /**
   * Live objects follow a rename. What moved is fully in the upper layer
   * now, below an opaque or lower-less name: nothing merges below it.
   */
  private moveLive(moves: ReadonlyArray<readonly [string, string]>, dirs: boolean): void {
    const moved: [OverlayInode, string][] = [];
    // Only a directory has objects below it; a file moves alone, without a scan.
    const candidates: [string, WeakRef<OverlayInode>][] = dirs ? [...this.live]
      : moves.flatMap(([from]) => {
        const ref = this.live.get(from);
        return ref ? [[from, ref] as [string, WeakRef<OverlayInode>]] : [];
      });
    for (const [r, ref] of candidates) {
      const m = moves.find(([from]) => within(r, from));
      if (!m) continue;
      this.live.delete(r);
      const n = ref.deref();
      if (n) moved.push([n, m[1] + r.slice(m[0].length)]);
    }
    for (const [n, rel] of moved) {
      n.key.rel = rel;
      n.merged = false;
      n.upper = true;
      const st = this.lstat(this.upperPath(rel));
      if (typeof st !== 'number') n.ino = this.inoOf(st, false);
      this.live.set(rel, new WeakRef(n));
    }
  }

  // ----- open -----

  open(n: OverlayInode, flags: number): FileOps | number {
    if (n.dead) return n.type === S_IFREG ? this.openFile(n, flags) : -E.ENOENT;
    const acc = flags & O_ACCMODE;
    switch (n.type) {
      case S_IFDIR:
        if (acc !== O_RDONLY) return -E.EISDIR;
        return new OverlayDirOps(n);
      case S_IFREG:
        return this.openFile(n, flags);
      case S_IFIFO:
        // Never the host FIFO (its open would block the kernel): a pipe of ours, shared by openers.
        n.pipe ??= new Pipe();
        return n.pipe.openFifo(flags);
      case S_IFLNK:
        return -E.ELOOP;
      case S_IFCHR:
      case S_IFBLK:
        // The root is a "nodev" mount: its device nodes do not open (mount(8), EACCES as Linux gives).
        return -E.EACCES;
      default:
        return -E.ENXIO; // open(2): a socket
    }
  }

  private openFile(n: OverlayInode, flags: number): FileOps | number {
    const acc = flags & O_ACCMODE;
    if (acc === O_ACCMODE) return -E.EINVAL;
    const trunc = (flags & O_TRUNC) !== 0;
    const writing = acc !== O_RDONLY || trunc;
    if (writing && !n.dead) {
      const r = this.copyUp(n.rel, !trunc);
      if (r < 0) return r;
    }
    const first = this.openHost(n, acc, trunc);
    if (typeof first === 'number') return first;
    return new OverlayFileOps(n, first.fd, first.lower, trunc);
  }

  /**
   * Open the copy that counts: the upper one if the inode has one (always
   * so for writing: the caller copied up first), else the lower one, read-only.
   */
  openHost(n: OverlayInode, acc: number, trunc: boolean): { fd: number; lower: boolean } | number {
    // A deleted file still open somewhere (open of /proc/PID/fd/N): reopen that description's file.
    if (n.dead) {
      const fd = n.openFds.values().next();
      return fd.done ? -E.ENOENT : this.openUpper(`/proc/self/fd/${fd.value}`, acc, trunc);
    }
    // Writing: the caller copied the file up first.
    if (acc !== O_RDONLY || trunc) return this.openUpper(this.upperPath(n.rel), acc, trunc);
    // Only a host change behind the kernel's back takes the copy away: then the other layer's is read.
    const r = this.openRead(n.rel, !n.upper);
    return r === -E.ENOENT ? this.openRead(n.rel, n.upper) : r;
  }

  private openRead(rel: string, lower: boolean): { fd: number; lower: boolean } | number {
    try {
      return { fd: openSync(this.layerPath(rel, lower), constants.O_RDONLY | O_NOFOLLOW), lower };
    } catch (e) {
      return hostErrno(e);
    }
  }

  private openUpper(path: string, acc: number, trunc: boolean): { fd: number; lower: boolean } | number {
    const extra = O_NOFOLLOW | (trunc ? O_TRUNC : 0);
    try {
      if (acc === O_RDONLY && !trunc) return { fd: openSync(path, constants.O_RDONLY | O_NOFOLLOW), lower: false };
      try {
        // O_RDWR even for O_WRONLY: a shared writable mapping needs a readable fd (mmap(2), EACCES).
        return { fd: openSync(path, O_RDWR | extra), lower: false };
      } catch (e) {
        if (acc !== O_WRONLY || hostErrno(e) !== -E.EACCES) throw e;
        return { fd: openSync(path, O_WRONLY | extra), lower: false };
      }
    } catch (e) {
      return hostErrno(e);
    }
  }
}

/** An open directory of the overlay: getdents64 lists the merged directory. */
class OverlayDirOps implements FileOps {
  readonly seekable = true;

  constructor(private readonly n: OverlayInode) {}

  readdir(): DirEntry[] | number {
    return this.n.fs.readdir(this.n);
  }

  poll(): number {
    return POLLIN | POLLRDNORM;
  }
}

/** An open regular file of the overlay: a host fd on the copy that counts. */
class OverlayFileOps implements FileOps {
  readonly seekable = true;
  private open = true;
  /** n.copyUps when `fd` was opened */
  private seen: number;

  /** The host open had O_TRUNC (see FileOps.truncated). */
  constructor(private readonly n: OverlayInode, private fd: number, private lower: boolean, readonly truncated: boolean) {
    this.seen = n.copyUps;
    n.openFds.add(fd);
  }

  /** A read-only description on the lower copy moves to the upper copy once it exists (overlayfs since 4.19). */
  private current(): number {
    const n = this.n;
    if (this.lower && n.copyUps !== this.seen && !n.dead) {
      const again = n.fs.openHost(n, O_RDONLY, false);
      if (typeof again !== 'number' && !again.lower) {
        n.openFds.delete(this.fd);
        closeSync(this.fd);
        this.fd = again.fd;
        this.lower = again.lower;
        n.openFds.add(this.fd);
      }
      this.seen = n.copyUps;
    }
    return this.fd;
  }

  read(_f: OpenFile, _ctx: IoContext, len: number, pos: number): Uint8Array | number {
    return readAt(this.current(), len, pos);
  }

  write(_f: OpenFile, _ctx: IoContext, data: Uint8Array, pos: number): number {
    return writeAt(this.fd, data, pos);
  }

  readToGuest(_f: OpenFile, ctx: IoContext, addr: number, len: number, pos: number): number {
    if (pos < 0) return -E.EINVAL;
    return ctx.fileToGuest(this.current(), pos, addr, Math.min(len, MAX_IO));
  }

  writeFromGuest(_f: OpenFile, ctx: IoContext, addr: number, len: number, pos: number): number {
    const bad = badWrite(pos, len);
    return bad || ctx.guestToFile(this.fd, pos, addr, len);
  }

  poll(): number {
    return POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM;
  }

  hostFd(): number {
    return this.current();
  }

  release(): void {
    if (!this.open) return;
    this.open = false;
    this.n.openFds.delete(this.fd);
    try {
      closeSync(this.fd);
    } catch {
      // already closed: nothing to do
    }
  }
}

function readAt(fd: number, len: number, pos: number): Uint8Array | number {
  if (pos < 0) return -E.EINVAL;
  let n = Math.min(len, MAX_IO);
  try {
    // Do not allocate a huge buffer for a small file.
    if (n > 65536) n = Math.max(0, Math.min(n, Number(fstatSync(fd).size) - pos));
    if (n <= 0) return 0;
    // Not zeroed: what the read does not fill is cut off below.
    const buf = Buffer.allocUnsafe(n);
    const got = readSync(fd, buf, 0, n, pos);
    if (got === 0) return 0;
    return got === n ? buf : buf.subarray(0, got);
  } catch (e) {
    return hostErrno(e);
  }
}

/** -EINVAL or -EFBIG for a write of `len` at `pos` that cannot be made, else 0. */
export function badWrite(pos: number, len: number): number {
  if (pos < 0) return -E.EINVAL;
  if (pos + len > Number.MAX_SAFE_INTEGER) return -E.EFBIG;
  return 0;
}

function writeAt(fd: number, data: Uint8Array, pos: number): number {
  const bad = badWrite(pos, data.length);
  if (bad) return bad;
  try {
    return writeSync(fd, data, 0, data.length, pos);
  } catch (e) {
    return hostErrno(e);
  }
}
