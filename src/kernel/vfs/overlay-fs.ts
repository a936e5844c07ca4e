/**
 * The guest root: a host directory `lower`, never written, under a host
 * directory `upper` that takes every change (copy-on-write, kept across
 * boots), merged the way Linux's overlayfs merges them
 * (Documentation/filesystems/overlayfs.rst).
 *
 * The layers are the kernel's, not the host's. Every host operation on
 * them goes through host-layer.ts: it resolves beneath the layer's root
 * fd and follows no symlink anywhere in the path (openat2
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so a directory someone
 * replaced by a symlink on the host is never followed (the walk fails
 * with ELOOP), and no host path of a layer reaches node:fs here. No fd
 * of a directory is kept from one operation to the next: each walks
 * from the layer's root again.
 *
 * On-disk format of the upper layer (aufs-style whiteouts, so it needs
 * no privileges):
 *   - `.wh.<name>`     an empty file: <name> of the lower layer is deleted;
 *   - `.wh..wh..opq`   in a directory: it is opaque, nothing of the lower
 *                      layer shows through (a directory removed and made
 *                      again, or moved by rename);
 *   - `.wh..wh..tmp.*` a copy-up or mkdir in progress, renamed into place
 *                      when complete so a crash never leaves half a file;
 *   - `.wh..wh..nodes` in a directory: some of its regular host files are
 *                      device nodes or sockets of the guest's (below), so
 *                      a listing asks their xattr for their type;
 *   - the xattr `user.containers.override_stat` = "uid:gid:mode:type" on
 *     regular files and directories, as fuse-overlayfs and rootless
 *     podman's containers/storage write it ("0:0:4755:file",
 *     "0:0:0666:char-1-3"): the guest's owner, permission and set-id
 *     bits, and what a device node or socket is. These are the kernel's
 *     own metadata: the host file is the invoking user's, with its
 *     permission bits but no set-id or sticky bit and its owner's access
 *     (overlay-meta.ts), and a guest's device node or socket is an empty
 *     regular host file. A guest chmod 4755 leaves no set-id file on the
 *     host, a chown to root no root-owned one, a mknod no device node.
 *     Symlinks and FIFOs cannot carry user xattrs (xattr(7)) and grant
 *     nothing on the host: they keep their owner as host owner (FIFOs
 *     their permission bits, never set-id ones), and a guest FIFO is a
 *     host FIFO the kernel never opens (a Pipe of its own stands in).
 *     A file with no xattr (lower files, files an older vmctl wrote) shows
 *     its host metadata; a change to it writes the xattr and drops any
 *     set-id bit from the host file.
 *   - Where the upper filesystem refuses user xattrs (tmpfs before Linux
 *     6.6, some network filesystems), the host metadata stays the truth
 *     as it was before the xattr, and what could only be kept as real
 *     host privilege is refused with EPERM: set-id bits, device nodes,
 *     sockets (`xattrs` is false).
 * Names starting with `.wh.` are hidden from the guest and refused (EPERM).
 *
 * Inodes are named by their path relative to the root. One live object per
 * path (a weak map): rename moves the objects below it, unlink and rmdir
 * mark them dead, so a cwd follows its directory.
 *
 * A live object also knows which layer holds its copy (`upper`). While the
 * kernel runs, nothing but the kernel writes the layers (the lower one is
 * never written, the upper one is this instance's, locked by
 * src/guest/instance-lock.ts), and every change it makes to the upper
 * layer goes through copy-up, create or rename here, which keep that
 * knowledge; so an open or a stat asks the host about one layer, and a
 * name in a directory with no upper copy is looked for in the lower layer
 * only. A fresh lookup asks the host again. The guest metadata a live
 * object read from its xattr is read again only once the kernel changed
 * the upper layer or the host file changed (upperAttrs): a stat then
 * costs what an lstat does.
 */
import { closeSync, fchownSync, fstatSync, ftruncateSync, mkdirSync, readSync, writeSync } from 'node:fs';
import { E } from '../errno.ts';
import type { HostDirent } from './host-dirents.ts';
import {
  copyHostFile, type GuestMeta, HostLayer, type HostStat, hostFileStat, reopenHostFile, setHostFileMeta,
} from './host-layer.ts';
import { guestMetaOf, guestStat, hostModeOf, IdMap, keptAsRegular } from './overlay-meta.ts';
import { Pipe } from './pipe.ts';
import type { DeviceOpen } from './tmpfs.ts';
import {
  DT_DIR, DT_REG, DT_UNKNOWN, dtypeOfMode, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, S_IFBLK, S_IFCHR, S_IFDIR,
  S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK,
  type Cred, type DirEntry, type FileOps, type FileSystem, type Inode, type IoContext, type OpenFile, type SetAttr,
  type Stat, type StatFs, type Timespec,
} from './types.ts';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
/** In a directory: some regular host files there are the guest's device nodes or sockets. */
export const NODES_MARKER = '.wh..wh..nodes';
const TMP_PREFIX = '.wh..wh..tmp.';
const OVERLAYFS_SUPER_MAGIC = 0x794c7630;

const O_ACCMODE = 3, O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_TRUNC = 0o1000;
const RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2, RENAME_WHITEOUT = 4;
const S_ISUID = 0o4000, S_ISGID = 0o2000, S_IXGRP = 0o010;
/** Longest single read served at once; read(2) may return less than asked. */
const MAX_IO = 1 << 24;

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

/** The type the guest sees: its xattr's, else the host's. */
function typeOf(st: HostStat): number {
  return (st.meta?.mode ?? st.mode) & S_IFMT;
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
  readonly st: HostStat;
  readonly inUpper: boolean;
  /** directories: the lower layer shows through below this one */
  readonly merged: boolean;
  readonly ino: number;
}

/** An open host file of the overlay, and what the host said of it then. */
interface HostOpen {
  readonly fd: number;
  readonly lower: boolean;
  readonly st: HostStat;
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
  /** the upper copy's guest metadata as last read, and what that copy was then (see OverlayFs.upperAttrs) */
  cached: { readonly gen: number; readonly ino: bigint; readonly ctime: Timespec; readonly meta: GuestMeta | undefined } | undefined;

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

  mknod(name: string, mode: number, rdev: number, cred: Cred): number {
    return this.fs.mknod(this, name, mode, rdev, cred);
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

  open(flags: number, ctx: IoContext): FileOps | number {
    return this.fs.open(this, flags, ctx);
  }
}

export class OverlayFs implements FileSystem {
  readonly type = 'overlay';
  readonly root: Inode;
  /** host paths of the layers' roots, for trace lines and /proc: never used to reach a file */
  readonly lower: string;
  readonly upper: string;
  /** the upper layer keeps guest metadata in xattrs; false: its filesystem refuses user xattrs */
  readonly xattrs: boolean;
  private readonly lowerLayer: HostLayer;
  private readonly upperLayer: HostLayer;
  private readonly ids = new IdMap();
  /** added to lower-layer inode numbers when the layers are different host filesystems */
  private readonly lowerInoTag: number;
  private readonly live = new Map<string, WeakRef<OverlayInode>>();
  private readonly finalizer = new FinalizationRegistry<{ rel: string }>((key) => {
    if (this.live.get(key.rel)?.deref() === undefined) this.live.delete(key.rel);
  });
  private tmpSeq = 0;
  /**
   * Bumped by every change the kernel makes to the upper layer: a guest
   * metadata an inode read before it is read again (upperAttrs). The
   * host's ctime would say so too, but not within one tick of a coarse
   * clock, nor for another hard link of a file whose ctime it saw.
   */
  private metaGen = 0;
  /**
   * What the last getattr of a directory said about its mode and group:
   * a create asks for them right after open(2)'s permission check did.
   * Only setattr changes them (copy-up copies them), and it forgets this.
   */
  private lastDirAttr: { readonly n: OverlayInode; readonly mode: number; readonly gid: number } | undefined;

  /**
   * `lower` and `upper` are host directories (`upper`, a state directory,
   * is made 0700 if missing); `dev` is st_dev of every inode; `devices`
   * the drivers of character device nodes by rdev (devfs.ts's memDevices:
   * a node made by `mknod` opens them, as on a tmpfs). A missing lower is
   * a configuration error of vmctl, not of a guest, so it throws.
   */
  constructor(lower: string, upper: string, readonly dev: number,
    private readonly devices: ReadonlyMap<number, DeviceOpen> = new Map()) {
    this.lowerLayer = HostLayer.open(lower, false);
    const lowerRoot = this.lowerLayer.stat('');
    if (typeof lowerRoot === 'number' || (lowerRoot.mode & S_IFMT) !== S_IFDIR) {
      throw new Error(`overlay: lower ${lower} is not a directory`);
    }
    // The state directory itself, the one host path node:fs is given here.
    const fresh = mkdirSync(upper, { recursive: true, mode: 0o700 }) !== undefined;
    this.upperLayer = HostLayer.open(upper, true);
    const lowerPath = this.lowerLayer.path(), upperPath = this.upperLayer.path();
    this.lower = typeof lowerPath === 'string' ? lowerPath : lower;
    this.upper = typeof upperPath === 'string' ? upperPath : upper;
    this.xattrs = this.settleRoot(fresh, lowerRoot);
    const upperRoot = this.upperLayer.stat('');
    if (typeof upperRoot === 'number') throw new Error(`overlay: cannot stat upper ${upper} (errno ${-upperRoot})`);
    this.lowerInoTag = upperRoot.dev === lowerRoot.dev ? 0 : 2 ** 52;
    const merged = !this.upperExists(OPAQUE_MARKER);
    this.root = this.intern('', S_IFDIR, merged, merged ? this.inoOf(lowerRoot, true) : this.inoOf(upperRoot, false), true);
  }

  /**
   * The upper root's guest metadata, and whether the upper filesystem
   * keeps xattrs. A new upper root stands for the lower root as the guest
   * saw it; one an older vmctl wrote (no xattr) keeps its host metadata.
   * With xattrs the host directory is then made 0700 (a state directory);
   * without, its host mode is the guest's "/" and stays as it is.
   */
  private settleRoot(fresh: boolean, lowerRoot: HostStat): boolean {
    const up = this.upperLayer.stat('', true);
    if (typeof up === 'number') throw new Error(`overlay: cannot stat upper ${this.upper} (errno ${-up})`);
    if (!up.meta) {
      const r = this.upperLayer.setMeta('', guestMetaOf(fresh ? lowerRoot : up, this.ids), -1);
      if (r === -E.EOPNOTSUPP) {
        if (fresh) {
          this.upperLayer.setMeta('', undefined, lowerRoot.mode & 0o1777);
          this.giveHost('', lowerRoot.uid, lowerRoot.gid);
          this.upperLayer.utimes('', lowerRoot.atime, lowerRoot.mtime);
        }
        return false;
      }
      if (r < 0) throw new Error(`overlay: cannot write the guest metadata of upper ${this.upper} (errno ${-r})`);
    }
    this.upperLayer.setMeta('', undefined, 0o700);
    if (fresh) this.upperLayer.utimes('', lowerRoot.atime, lowerRoot.mtime);
    return true;
  }

  /** statfs(2) of the root: the upper layer's host filesystem, where writes go. */
  statfs(): StatFs {
    const s = this.upperLayer.statfs();
    if (typeof s === 'number') {
      return { type: OVERLAYFS_SUPER_MAGIC, bsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, namelen: 255 };
    }
    return { type: OVERLAYFS_SUPER_MAGIC, ...s, namelen: 255 };
  }

  /** The host file behind `n` for trace lines: its upper copy if there is one, else its lower one. */
  hostPathOf(n: Inode): { layer: 'upper' | 'lower'; path: string } | undefined {
    if (!(n instanceof OverlayInode) || n.fs !== this || n.dead) return undefined;
    const at = (root: string) => (n.rel === '' ? root : `${root}/${n.rel}`);
    if (this.upperExists(n.rel)) return { layer: 'upper', path: at(this.upper) };
    if (typeof this.lowerLayer.stat(n.rel) !== 'number') return { layer: 'lower', path: at(this.lower) };
    return undefined;
  }

  // ----- the layers -----

  /** lstat of `rel` in the upper layer, with the guest metadata of its xattr. */
  private upperStat(rel: string): HostStat | number {
    return this.upperLayer.stat(rel, this.xattrs);
  }

  private upperExists(rel: string): boolean {
    return typeof this.upperLayer.stat(rel) !== 'number';
  }

  private lowerExists(rel: string): boolean {
    return typeof this.lowerLayer.stat(rel) !== 'number';
  }

  /**
   * st_ino: the host's, made unique across layers on different host
   * filesystems and folded into a safe integer.
   */
  private inoOf(st: HostStat, fromLower: boolean): number {
    return this.foldIno(st.ino, fromLower);
  }

  /** inoOf() of a host inode number (d_ino of a listing is st_ino). */
  private foldIno(hostIno: bigint, fromLower: boolean): number {
    let ino = hostIno;
    if (ino >= 2n ** 52n) ino = (ino ^ (ino >> 52n)) & (2n ** 52n - 1n);
    return Number(ino) + (fromLower ? this.lowerInoTag : 0);
  }

  /** The host mode for guest bits `perm` of an upper file: overlay-meta.ts's, or without xattrs the bits themselves. */
  private hostMode(hostType: number, perm: number): number {
    if (this.xattrs) return hostModeOf(hostType, perm);
    return perm & (hostType === S_IFDIR ? 0o1777 : 0o777);
  }

  /** The xattr of a new upper file, when the upper layer keeps them. */
  private metaFor(mode: number, uid: number, gid: number, rdev = 0): GuestMeta | undefined {
    return this.xattrs ? { uid, gid, mode, rdev } : undefined;
  }

  /**
   * Give upper `rel` host owner `uid`:`gid`, for what keeps its owner on
   * the host (symlinks, FIFOs; everything without xattrs). An
   * unprivileged vmctl cannot give files away: they stay its own (shown
   * as root), which is no error.
   */
  private giveHost(rel: string, uid: number, gid: number): number {
    const r = this.upperLayer.chown(rel, uid, gid);
    return r < 0 && !this.ids.identity ? 0 : r;
  }

  /** An empty marker file `rel` in the upper layer (a whiteout, the opaque or nodes marker). */
  private makeMarker(rel: string): number {
    const f = this.upperLayer.create(rel, O_WRONLY, 0o600);
    if (typeof f === 'number') return f === -E.EEXIST ? 0 : f;
    closeSync(f.fd);
    return 0;
  }

  /** Upper `rel` and everything below it, gone (leftovers of a crash, the hidden entries of a removed directory). */
  private removeTree(rel: string): void {
    const st = this.upperLayer.stat(rel);
    if (typeof st === 'number') return;
    if ((st.mode & S_IFMT) !== S_IFDIR) {
      this.upperLayer.unlink(rel);
      return;
    }
    const entries = this.upperLayer.readDir(rel);
    if (typeof entries !== 'number') for (const e of entries) this.removeTree(childRel(rel, e.name));
    this.upperLayer.unlink(rel, true);
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
    // The upper layer's questions (the entry, its whiteout, whether it is opaque) in one walk.
    const found = dir.upper === false ? -E.ENOENT : this.upperLayer.probe(dir.rel, name, this.xattrs, dir.merged, dir.merged);
    if (typeof found === 'number') {
      if (found !== -E.ENOENT && found !== -E.ENOTDIR) return found;
    } else if (found.st) {
      const up = found.st;
      const type = typeOf(up);
      if (type !== S_IFDIR || !dir.merged) return { type, st: up, inUpper: true, merged: false, ino: this.inoOf(up, false) };
      const lo = this.lowerLayer.stat(rel);
      const merged = typeof lo !== 'number' && (lo.mode & S_IFMT) === S_IFDIR && !found.opaque;
      // A merged directory keeps its lower inode number: copy-up does not change st_ino.
      return { type, st: up, inUpper: true, merged, ino: merged ? this.inoOf(lo as HostStat, true) : this.inoOf(up, false) };
    }
    if (!dir.merged || (typeof found !== 'number' && found.whiteout)) return -E.ENOENT;
    const lo = this.lowerLayer.stat(rel);
    if (typeof lo === 'number') return lo === -E.ENOTDIR ? -E.ENOENT : lo;
    const type = lo.mode & S_IFMT;
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
    const n = this.intern(rel, p.type, p.merged, p.ino, p.inUpper);
    if (p.inUpper && this.xattrs) n.cached = { gen: this.metaGen, ino: p.st.ino, ctime: p.st.ctime, meta: p.st.meta };
    return n;
  }

  /**
   * The merged listing: upper entries, then lower ones not shadowed or
   * whited out. Inode numbers and types come from the host listing as
   * probe() would find them; lstat is asked only about an upper directory
   * over a lower one (is it opaque?), what the host could not type, and,
   * in a directory with the nodes marker, regular files (which may be
   * device nodes or sockets).
   */
  readdir(dir: OverlayInode): DirEntry[] | number {
    if (dir.type !== S_IFDIR) return -E.ENOTDIR;
    if (dir.dead) return [];
    const up = dir.upper ? this.upperLayer.readDir(dir.rel) : -E.ENOENT;
    const lo = dir.merged ? this.lowerLayer.readDir(dir.rel) : [];
    if (typeof up === 'number' && (up !== -E.ENOENT || !dir.merged)) return up;
    if (typeof lo === 'number') return lo;
    const out: DirEntry[] = [];
    const hidden = new Set<string>();
    const upper = typeof up === 'number' ? [] : up;
    const nodes = upper.some((e) => e.name === NODES_MARKER);
    const lowerByName = upper.length > 0 && lo.length > 0 ? new Map(lo.map((e) => [e.name, e])) : undefined;
    for (const e of upper) {
      if (e.name.startsWith(WHITEOUT_PREFIX)) {
        hidden.add(e.name.slice(WHITEOUT_PREFIX.length));
        continue;
      }
      hidden.add(e.name);
      const d = this.upperEntry(dir, nodes && e.type === DT_REG ? { ...e, type: DT_UNKNOWN } : e, lowerByName?.get(e.name));
      if (d) out.push(d);
    }
    // What the upper listing did not name nor whiteout is the lower entry itself.
    for (const e of lo) {
      if (hidden.has(e.name) || e.name.startsWith(WHITEOUT_PREFIX)) continue;
      if (e.type !== DT_UNKNOWN) {
        out.push({ name: e.name, ino: this.foldIno(e.ino, true), type: e.type });
        continue;
      }
      const st = this.lowerLayer.stat(childRel(dir.rel, e.name));
      if (typeof st !== 'number') out.push({ name: e.name, ino: this.inoOf(st, true), type: dtypeOfMode(st.mode) });
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
      && !this.upperExists(childRel(childRel(dir.rel, e.name), OPAQUE_MARKER));
    return { name: e.name, ino: merged ? this.foldIno(lower.ino, true) : this.foldIno(e.ino, false), type: e.type };
  }

  // ----- attributes -----

  getattr(n: OverlayInode): Stat | number {
    if (n.dead) return this.deadStat(n);
    let fromLower = !n.upper;
    let st = fromLower ? this.lowerLayer.stat(n.rel) : this.upperAttrs(n);
    // Only a host change behind the kernel's back moves a copy: then the other layer is asked too.
    if (st === -E.ENOENT) {
      fromLower = !fromLower;
      st = fromLower ? this.lowerLayer.stat(n.rel) : this.upperAttrs(n);
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

  /**
   * lstat and guest metadata of `n`'s upper copy. The xattr is read again
   * only when the copy may have changed since: the kernel changed the
   * upper layer (metaGen), or the host says it is another file or was
   * changed (st_ino, st_ctime). A stat then costs what an lstat does.
   */
  private upperAttrs(n: OverlayInode): HostStat | number {
    if (!this.xattrs) return this.upperLayer.stat(n.rel);
    const c = n.cached;
    if (c && c.gen === this.metaGen) {
      const st = this.upperLayer.stat(n.rel);
      if (typeof st === 'number') return st;
      if (st.ino === c.ino && st.ctime.sec === c.ctime.sec && st.ctime.nsec === c.ctime.nsec) return { ...st, meta: c.meta };
    }
    const st = this.upperLayer.stat(n.rel, true);
    n.cached = typeof st === 'number' ? undefined : { gen: this.metaGen, ino: st.ino, ctime: st.ctime, meta: st.meta };
    return st;
  }

  private toStat(st: HostStat, ino: number): Stat {
    return guestStat(st, ino, this.dev, this.ids);
  }

  /** fstat of an open file whose name is gone: its host fd if open, else the last known attributes. */
  private deadStat(n: OverlayInode): Stat | number {
    for (const fd of n.openFds) {
      const st = hostFileStat(fd);
      if (typeof st !== 'number') return { ...this.toStat(st, n.ino), nlink: 0 };
    }
    return n.lastStat ? { ...n.lastStat, nlink: 0 } : -E.ENOENT;
  }

  /** chmod, chown, truncate, utimes: copy up, then change the upper copy. */
  setattr(n: OverlayInode, a: SetAttr): number {
    this.lastDirAttr = undefined;
    this.metaGen++;
    if (n.dead) return this.setattrDead(n, a);
    if (a.size !== undefined) {
      if (n.type === S_IFDIR) return -E.EISDIR;
      if (n.type !== S_IFREG) return -E.EINVAL;
      if (a.size < 0 || !Number.isSafeInteger(a.size)) return -E.EINVAL;
    }
    if (a.mode !== undefined && n.type === S_IFLNK) return -E.EOPNOTSUPP;
    // Truncating to nothing needs no copy of the old data.
    let r = this.copyUp(n.rel, a.size !== 0);
    if (r < 0) return r;
    if (a.size !== undefined) {
      const f = this.upperLayer.open(n.rel, O_WRONLY);
      if (typeof f === 'number') return f;
      try {
        ftruncateSync(f.fd, a.size);
      } catch (e) {
        r = hostErrno(e);
      } finally {
        closeSync(f.fd);
      }
      if (r < 0) return r;
    }
    r = this.changeOwnerMode(n.rel, a);
    if (r < 0) return r;
    if (a.atime || a.mtime) return this.upperLayer.utimes(n.rel, a.atime, a.mtime);
    return 0;
  }

  /**
   * The owner and mode `a` asks for, on upper `rel` (copied up already).
   * A regular file or directory takes them in its xattr, written too when
   * it had none yet or a set-id bit was found on the host file, so that
   * a change to a file of an older upper layer leaves no host set-id bit.
   */
  private changeOwnerMode(rel: string, a: SetAttr): number {
    const st = this.upperStat(rel);
    if (typeof st === 'number') return st;
    const hostType = st.mode & S_IFMT;
    const owner = a.uid !== undefined || a.gid !== undefined;
    if (hostType !== S_IFREG && hostType !== S_IFDIR) {
      // Symlinks and FIFOs keep their owner on the host: they carry no xattr and grant nothing there.
      if (owner) {
        const r = this.giveHost(rel, a.uid === undefined ? -1 : this.ids.hostUid(a.uid), a.gid === undefined ? -1 : this.ids.hostGid(a.gid));
        if (r < 0) return r;
      }
      return a.mode === undefined ? 0 : this.upperLayer.setMeta(rel, undefined, a.mode & 0o777);
    }
    if (!this.xattrs) return this.changeHostOwnerMode(rel, st, a);
    if (!owner && a.mode === undefined && st.meta && !(st.mode & (S_ISUID | S_ISGID))) return 0;
    const m = guestMetaOf(st, this.ids);
    const meta: GuestMeta = {
      uid: a.uid ?? m.uid, gid: a.gid ?? m.gid, rdev: m.rdev,
      mode: a.mode === undefined ? m.mode : (m.mode & S_IFMT) | (a.mode & 0o7777),
    };
    return this.upperLayer.setMeta(rel, meta, hostModeOf(hostType, meta.mode & 0o7777));
  }

  /** changeOwnerMode() where the upper layer keeps no xattrs: the host's owner and bits, never set-id ones. */
  private changeHostOwnerMode(rel: string, st: HostStat, a: SetAttr): number {
    if (a.mode !== undefined && a.mode & (S_ISUID | S_ISGID)) return -E.EPERM;
    if (a.uid !== undefined || a.gid !== undefined) {
      const r = this.upperLayer.chown(rel, a.uid === undefined ? -1 : this.ids.hostUid(a.uid),
        a.gid === undefined ? -1 : this.ids.hostGid(a.gid));
      if (r < 0) return r;
    }
    if (a.mode === undefined && !(st.mode & (S_ISUID | S_ISGID))) return 0;
    return this.upperLayer.setMeta(rel, undefined, this.hostMode(st.mode & S_IFMT, a.mode ?? st.mode & 0o7777));
  }

  /** fchmod/ftruncate/... of an open file whose name is gone: through its host fd. */
  private setattrDead(n: OverlayInode, a: SetAttr): number {
    const fd = [...n.openFds][0];
    if (fd === undefined) return -E.ENOENT;
    try {
      if (a.size !== undefined) ftruncateSync(fd, a.size);
      if (a.uid === undefined && a.gid === undefined && a.mode === undefined) return 0;
      const st = hostFileStat(fd);
      if (typeof st === 'number') return st;
      if (this.xattrs) {
        const m = guestMetaOf(st, this.ids);
        const meta: GuestMeta = {
          uid: a.uid ?? m.uid, gid: a.gid ?? m.gid, rdev: m.rdev,
          mode: a.mode === undefined ? m.mode : (m.mode & S_IFMT) | (a.mode & 0o7777),
        };
        return setHostFileMeta(fd, meta, hostModeOf(S_IFREG, meta.mode & 0o7777));
      }
      if (a.mode !== undefined && a.mode & (S_ISUID | S_ISGID)) return -E.EPERM;
      if (a.uid !== undefined || a.gid !== undefined) {
        fchownSync(fd, a.uid === undefined ? -1 : this.ids.hostUid(a.uid), a.gid === undefined ? -1 : this.ids.hostGid(a.gid));
      }
      return a.mode === undefined ? 0 : setHostFileMeta(fd, undefined, a.mode & 0o777);
    } catch (e) {
      return hostErrno(e);
    }
  }

  readlink(n: OverlayInode): string | number {
    if (n.type !== S_IFLNK) return -E.EINVAL;
    if (n.dead) return -E.ENOENT;
    const first = (n.upper ? this.upperLayer : this.lowerLayer).readlink(n.rel);
    if (first !== -E.ENOENT) return first;
    return (n.upper ? this.lowerLayer : this.upperLayer).readlink(n.rel);
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
    const up = this.upperLayer.stat(rel);
    if (typeof up !== 'number') return 0;
    if (up !== -E.ENOENT) return up;
    const lo = this.lowerLayer.stat(rel);
    if (typeof lo === 'number') return lo;
    const parent = parentRel(rel);
    const r = this.copyUp(parent);
    if (r < 0) return r;
    const before = this.upperLayer.stat(parent);
    const c = this.copyUpOne(rel, lo, data);
    if (c < 0) return c;
    this.lastDirAttr = undefined;
    if (typeof before !== 'number') this.upperLayer.utimes(parent, before.atime, before.mtime);
    const n = this.liveAt(rel);
    if (n) {
      n.upper = true;
      n.copyUps++;
      if (n.type !== S_IFDIR) {
        const now = this.upperLayer.stat(rel);
        if (typeof now !== 'number') n.ino = this.inoOf(now, false);
      }
    }
    return 0;
  }

  /**
   * One lower entry into the upper layer, with its guest metadata (the
   * lower file's host metadata, as the guest saw it) in the xattr, or
   * without xattrs its owner where the host allows and its bits less any
   * set-id one. A device node or socket becomes an empty regular file
   * whose xattr says what it is.
   */
  private copyUpOne(rel: string, lo: HostStat, data: boolean): number {
    const type = lo.mode & S_IFMT;
    const perm = lo.mode & 0o7777;
    const meta = this.xattrs ? guestMetaOf(lo, this.ids) : undefined;
    let r: number;
    switch (type) {
      case S_IFDIR:
        r = this.upperLayer.mkdir(rel, this.hostMode(S_IFDIR, perm), meta);
        if (r >= 0 && !meta) r = this.giveHost(rel, lo.uid, lo.gid);
        break;
      case S_IFREG:
        return this.copyFileUp(rel, lo, data, meta);
      case S_IFLNK: {
        const target = this.lowerLayer.readlink(rel);
        r = typeof target === 'number' ? target : this.upperLayer.symlink(rel, target);
        if (r >= 0) r = this.giveHost(rel, lo.uid, lo.gid);
        break;
      }
      case S_IFIFO:
        r = this.upperLayer.mkfifo(rel, perm & 0o777);
        if (r >= 0) r = this.giveHost(rel, lo.uid, lo.gid);
        break;
      default: {
        // Without the xattr a device node or socket could only be a real one.
        if (!meta) return -E.EPERM;
        r = this.markNodes(parentRel(rel));
        const f = r < 0 ? r : this.upperLayer.create(rel, O_WRONLY, hostModeOf(S_IFREG, perm & 0o666), meta);
        if (typeof f === 'number') r = f;
        else closeSync(f.fd);
      }
    }
    if (r >= 0) r = this.upperLayer.utimes(rel, lo.atime, lo.mtime);
    return r;
  }

  /** A regular file's copy-up: built under a temporary name, renamed into place when complete. */
  private copyFileUp(rel: string, lo: HostStat, data: boolean, meta: GuestMeta | undefined): number {
    const tmp = this.tmpRel(parentRel(rel));
    const out = this.upperLayer.create(tmp, O_WRONLY, this.hostMode(S_IFREG, lo.mode & 0o7777), meta);
    if (typeof out === 'number') return out;
    let r = 0;
    try {
      if (data && lo.size > 0) {
        const inp = this.lowerLayer.open(rel, O_RDONLY);
        if (typeof inp === 'number') {
          r = inp;
        } else {
          r = Math.min(0, copyHostFile(inp.fd, out.fd));
          closeSync(inp.fd);
        }
      }
    } finally {
      closeSync(out.fd);
    }
    if (r >= 0 && !meta) r = this.giveHost(tmp, lo.uid, lo.gid);
    if (r >= 0) r = this.upperLayer.utimes(tmp, lo.atime, lo.mtime);
    if (r >= 0) r = this.upperLayer.rename(tmp, rel);
    if (r < 0) this.upperLayer.unlink(tmp);
    return r;
  }

  private tmpRel(dirRel: string): string {
    return childRel(dirRel, `${TMP_PREFIX}${process.pid}.${++this.tmpSeq}`);
  }

  /** Copy up a directory and everything the lower layer has below it. */
  private copyUpTree(dir: DirRef): number {
    const r = this.copyUp(dir.rel);
    if (r < 0 || !dir.merged) return r;
    const entries = this.lowerLayer.readDir(dir.rel);
    if (typeof entries === 'number') return entries;
    for (const { name } of entries) {
      const p = this.probe(dir, name);
      if (typeof p === 'number') continue;
      const rel = childRel(dir.rel, name);
      const c = p.type === S_IFDIR ? this.copyUpTree({ rel, merged: p.merged }) : this.copyUp(rel);
      if (c < 0) return c;
    }
    return 0;
  }

  /** Upper directory `dirRel` holds (or is about to) a device node or socket kept as a regular file. */
  private markNodes(dirRel: string): number {
    return this.makeMarker(childRel(dirRel, NODES_MARKER));
  }

  // ----- creating names -----

  private owner(dir: OverlayInode, cred: Cred): { uid: number; gid: number; sgid: boolean } {
    const st = this.lastDirAttr?.n === dir ? this.lastDirAttr : this.getattr(dir);
    // inode(7): in a set-group-ID directory new files take the directory's group.
    const sgid = typeof st !== 'number' && (st.mode & S_ISGID) !== 0;
    return { uid: cred.fsuid, gid: sgid ? (st as Stat).gid : cred.fsgid, sgid };
  }

  /**
   * Checks and copy-up before making `name` in `dir`. Returns the new
   * relative path and the whiteout of that name that must go afterwards
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
    const up = dir.upper && !exclusive ? this.upperLayer.stat(rel) : -E.ENOENT;
    if (typeof up !== 'number') return -E.EEXIST;
    if (up !== -E.ENOENT && up !== -E.ENOTDIR) return up;
    // A whiteout hides only what the lower layer shows through `dir` (see probe).
    const wh = childRel(dir.rel, WHITEOUT_PREFIX + name);
    const whiteout = dir.upper && dir.merged && this.upperExists(wh);
    let lowerHas = false;
    if (dir.merged) {
      const lo = this.lowerLayer.stat(rel);
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
    if (wh) this.upperLayer.unlink(wh);
  }

  /** The object of a regular file just made at `rel` with host stat `st`, for the live map. */
  private internNew(rel: string, st: HostStat): OverlayInode {
    const known = this.liveAt(rel);
    if (!known) return this.intern(rel, S_IFREG, false, this.inoOf(st, false), true);
    known.upper = true;
    return known;
  }

  create(dir: OverlayInode, name: string, mode: number, cred: Cred): Inode | number {
    this.metaGen++;
    const prep = this.prepareCreate(dir, name, true);
    if (typeof prep === 'number') return prep;
    const o = this.owner(dir, cred);
    const perm = mode & 0o7777;
    const f = this.upperLayer.create(prep.rel, O_WRONLY, this.hostMode(S_IFREG, perm), this.metaFor(S_IFREG | perm, o.uid, o.gid));
    if (typeof f === 'number') return f;
    closeSync(f.fd);
    if (!this.xattrs) {
      const r = this.giveHost(prep.rel, this.ids.hostUid(o.uid), this.ids.hostGid(o.gid));
      if (r < 0) {
        this.upperLayer.unlink(prep.rel);
        return r;
      }
    }
    this.dropWhiteout(prep.whiteout);
    return this.internNew(prep.rel, f.st);
  }

  /**
   * mkdir(2). Where the lower layer has the name (it was deleted), the new
   * directory is opaque: it is built under a temporary name with its
   * marker and renamed into place.
   */
  mkdir(dir: OverlayInode, name: string, mode: number, cred: Cred): number {
    this.metaGen++;
    const prep = this.prepareCreate(dir, name);
    if (typeof prep === 'number') return prep;
    const o = this.owner(dir, cred);
    const perm = (mode & 0o1777) | (o.sgid ? S_ISGID : 0);
    const hostMode = this.hostMode(S_IFDIR, perm);
    const build = prep.lowerHas ? this.tmpRel(dir.rel) : prep.rel;
    // A temporary one is the owner's own until its marker is in.
    let r = this.upperLayer.mkdir(build, build === prep.rel ? hostMode : 0o700, this.metaFor(S_IFDIR | perm, o.uid, o.gid));
    if (r < 0) return r;
    if (build !== prep.rel) {
      r = this.makeMarker(childRel(build, OPAQUE_MARKER));
      if (r >= 0) r = this.upperLayer.setMeta(build, undefined, hostMode);
    }
    if (r >= 0 && !this.xattrs) r = this.giveHost(build, this.ids.hostUid(o.uid), this.ids.hostGid(o.gid));
    if (r >= 0 && build !== prep.rel) r = this.upperLayer.rename(build, prep.rel);
    if (r < 0) {
      this.removeTree(build);
      return r;
    }
    this.dropWhiteout(prep.whiteout);
    return 0;
  }

  /**
   * mknod(2): regular files, FIFOs (host FIFOs, which the kernel never
   * opens), and device nodes and sockets kept as empty regular host files
   * whose xattr says what they are (EPERM where there is no xattr).
   */
  mknod(dir: OverlayInode, name: string, mode: number, rdev: number, cred: Cred): number {
    this.metaGen++;
    const type = mode & S_IFMT;
    if (type === S_IFREG || type === 0) {
      const r = this.create(dir, name, mode, cred);
      return typeof r === 'number' ? r : 0;
    }
    if (type !== S_IFIFO && type !== S_IFCHR && type !== S_IFBLK && type !== S_IFSOCK) return -E.EINVAL;
    if (type !== S_IFIFO && !this.xattrs) return -E.EPERM;
    const prep = this.prepareCreate(dir, name);
    if (typeof prep === 'number') return prep;
    const o = this.owner(dir, cred);
    const perm = mode & 0o7777;
    let r: number;
    if (type === S_IFIFO) {
      r = this.upperLayer.mkfifo(prep.rel, perm & 0o777);
      if (r >= 0) r = this.giveHost(prep.rel, this.ids.hostUid(o.uid), this.ids.hostGid(o.gid));
    } else {
      // The marker first: a crash in between leaves a marker with no node, which costs a listing a few lstats.
      r = this.markNodes(dir.rel);
      const meta = { uid: o.uid, gid: o.gid, mode: type | perm, rdev: type === S_IFSOCK ? 0 : rdev };
      const f = r < 0 ? r : this.upperLayer.create(prep.rel, O_WRONLY, hostModeOf(S_IFREG, perm & 0o666), meta);
      if (typeof f === 'number') r = f;
      else closeSync(f.fd);
    }
    if (r < 0) return r;
    this.dropWhiteout(prep.whiteout);
    return 0;
  }

  symlink(dir: OverlayInode, name: string, target: string, cred: Cred): number {
    this.metaGen++;
    if (target === '') return -E.ENOENT; // symlink(2)
    const prep = this.prepareCreate(dir, name);
    if (typeof prep === 'number') return prep;
    const o = this.owner(dir, cred);
    let r = this.upperLayer.symlink(prep.rel, target);
    if (r >= 0) r = this.giveHost(prep.rel, this.ids.hostUid(o.uid), this.ids.hostGid(o.gid));
    if (r < 0) return r;
    this.dropWhiteout(prep.whiteout);
    return 0;
  }

  link(dir: OverlayInode, name: string, target: Inode): number {
    this.metaGen++;
    if (!(target instanceof OverlayInode) || target.fs !== this) return -E.EXDEV;
    if (target.type === S_IFDIR) return -E.EPERM;
    if (target.dead) return -E.ENOENT;
    const prep = this.prepareCreate(dir, name);
    if (typeof prep === 'number') return prep;
    let r = this.copyUp(target.rel);
    if (r >= 0 && keptAsRegular(target.type)) r = this.markNodes(dir.rel);
    if (r >= 0) r = this.upperLayer.link(target.rel, prep.rel);
    if (r < 0) return r;
    this.dropWhiteout(prep.whiteout);
    return 0;
  }

  // ----- removing names -----

  /** Hide lower `name` of `dir` (copied up already) if the lower layer has it. */
  private whiteout(dir: DirRef, name: string): number {
    if (!dir.merged || !this.lowerExists(childRel(dir.rel, name))) return 0;
    return this.makeMarker(childRel(dir.rel, WHITEOUT_PREFIX + name));
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
    this.metaGen++;
    if (dir.type !== S_IFDIR) return -E.ENOTDIR;
    if (dir.dead) return -E.ENOENT;
    if (isBadName(name)) return -E.EINVAL;
    const p = this.probe(dir, name);
    if (typeof p === 'number') return p;
    if (p.type === S_IFDIR) return -E.EISDIR; // unlink(2) on Linux
    const rel = childRel(dir.rel, name);
    const st = this.toStat(p.st, p.ino);
    let r = this.copyUp(dir.rel);
    // Whiteout first: a crash in between leaves the upper entry, which wins.
    if (r >= 0) r = this.whiteout(dir, name);
    if (r >= 0 && p.inUpper) r = this.upperLayer.unlink(rel);
    if (r < 0) return r;
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

  /** Remove what only the upper copy of an empty merged directory holds: whiteouts, its markers, leftovers. */
  private clearHidden(rel: string): void {
    const entries = this.upperLayer.readDir(rel);
    if (typeof entries === 'number') return;
    for (const { name } of entries) if (name.startsWith(WHITEOUT_PREFIX)) this.removeTree(childRel(rel, name));
  }

  rmdir(dir: OverlayInode, name: string): number {
    this.metaGen++;
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
    let r = this.copyUp(dir.rel);
    if (r >= 0) r = this.whiteout(dir, name);
    if (r >= 0 && p.inUpper) {
      this.clearHidden(rel);
      r = this.upperLayer.unlink(rel, true);
    }
    if (r < 0) return r;
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
    this.metaGen++;
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
    if (target?.type === S_IFDIR && target.inUpper) this.clearHidden(dstRel);
    if (src.type === S_IFDIR) r = this.markOpaqueIfLower(newDir, newName, srcRel);
    if (r >= 0 && keptAsRegular(src.type)) r = this.markNodes(newDir.rel);
    if (r >= 0) r = this.whiteout(oldDir, oldName);
    if (r >= 0) r = this.upperLayer.rename(srcRel, dstRel);
    if (r < 0) return r;
    this.upperLayer.unlink(childRel(newDir.rel, WHITEOUT_PREFIX + newName));
    if (target) this.kill(dstRel, dstStat);
    this.moveLive([[srcRel, dstRel]], src.type === S_IFDIR);
    return 0;
  }

  /** A directory about to appear at `newName` of `newDir` hides the lower one there. */
  private markOpaqueIfLower(newDir: OverlayInode, newName: string, upperRel: string): number {
    if (!newDir.merged || !this.lowerExists(childRel(newDir.rel, newName))) return 0;
    return this.makeMarker(childRel(upperRel, OPAQUE_MARKER));
  }

  /** RENAME_EXCHANGE: both copied up, swapped through a temporary name (not atomic on the host). */
  private exchange(oldDir: OverlayInode, aRel: string, a: Probe, newDir: OverlayInode, bRel: string, b: Probe): number {
    let r = this.copyUp(oldDir.rel);
    if (r >= 0) r = this.copyUp(newDir.rel);
    for (const [rel, p] of [[aRel, a], [bRel, b]] as const) {
      if (r >= 0) r = p.type === S_IFDIR ? this.copyUpTree({ rel, merged: p.merged }) : this.copyUp(rel);
    }
    if (r < 0) return r;
    const tmp = this.tmpRel(oldDir.rel);
    if (a.type === S_IFDIR) r = this.markOpaqueIfLower(newDir, baseName(bRel), aRel);
    if (r >= 0 && b.type === S_IFDIR) r = this.markOpaqueIfLower(oldDir, baseName(aRel), bRel);
    if (r >= 0 && keptAsRegular(a.type)) r = this.markNodes(newDir.rel);
    if (r >= 0 && keptAsRegular(b.type)) r = this.markNodes(oldDir.rel);
    if (r >= 0) r = this.upperLayer.rename(aRel, tmp);
    if (r >= 0) r = this.upperLayer.rename(bRel, aRel);
    if (r >= 0) r = this.upperLayer.rename(tmp, bRel);
    if (r < 0) return r;
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
      const st = this.upperLayer.stat(rel);
      if (typeof st !== 'number') n.ino = this.inoOf(st, false);
      this.live.set(rel, new WeakRef(n));
    }
  }

  // ----- open -----

  open(n: OverlayInode, flags: number, ctx: IoContext): FileOps | number {
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
      case S_IFCHR: {
        // The kernel's own driver for its number, as a tmpfs node opens; never a host device.
        const st = this.getattr(n);
        if (typeof st === 'number') return st;
        const drv = this.devices.get(st.rdev);
        return drv ? drv(flags, ctx, st.rdev) : -E.ENXIO;
      }
      default:
        return -E.ENXIO; // open(2): a socket, or a block device no driver serves
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
    return new OverlayFileOps(n, first.fd, first.lower, trunc, writing ? this.setIdOf(first.st) : undefined);
  }

  /** The guest's metadata of an open file when it has set-id bits a write may have to drop, else undefined. */
  private setIdOf(st: HostStat): GuestMeta | undefined {
    const m = guestMetaOf(st, this.ids);
    return m.mode & (S_ISUID | S_ISGID) ? m : undefined;
  }

  /**
   * A write by someone without CAP_FSETID drops set-user-ID, and
   * set-group-ID of a group-executable file (file_remove_privs()), as
   * the current metadata of open file `fd` has them.
   */
  dropSetIdOnWrite(fd: number): void {
    this.metaGen++;
    const st = hostFileStat(fd);
    if (typeof st === 'number') return;
    const m = guestMetaOf(st, this.ids);
    let mode = m.mode & ~S_ISUID;
    if (mode & S_IXGRP) mode &= ~S_ISGID;
    if (mode === m.mode) return;
    setHostFileMeta(fd, this.xattrs ? { ...m, mode } : undefined, this.hostMode(S_IFREG, mode & 0o7777));
  }

  /**
   * Open the copy that counts: the upper one if the inode has one (always
   * so for writing: the caller copied up first), else the lower one, read-only.
   */
  openHost(n: OverlayInode, acc: number, trunc: boolean): HostOpen | number {
    // A deleted file still open somewhere (open of /proc/PID/fd/N): reopen that description's file.
    if (n.dead) {
      const fd = n.openFds.values().next();
      if (fd.done) return -E.ENOENT;
      const r = reopenHostFile(fd.value, this.hostFlags(acc, trunc));
      return typeof r === 'number' ? r : { fd: r.fd, lower: false, st: r.st };
    }
    // Writing: the caller copied the file up first.
    if (acc !== O_RDONLY || trunc) return this.openUpper(n.rel, acc, trunc);
    // Only a host change behind the kernel's back takes the copy away: then the other layer's is read.
    const r = this.openRead(n.rel, !n.upper);
    return r === -E.ENOENT ? this.openRead(n.rel, n.upper) : r;
  }

  private openRead(rel: string, lower: boolean): HostOpen | number {
    const r = (lower ? this.lowerLayer : this.upperLayer).open(rel, O_RDONLY);
    return typeof r === 'number' ? r : { fd: r.fd, lower, st: r.st };
  }

  /** O_RDWR even for O_WRONLY: a shared writable mapping needs a readable fd (mmap(2), EACCES). */
  private hostFlags(acc: number, trunc: boolean): number {
    return (acc === O_RDONLY ? O_RDONLY : O_RDWR) | (trunc ? O_TRUNC : 0);
  }

  private openUpper(rel: string, acc: number, trunc: boolean): HostOpen | number {
    let r = this.upperLayer.open(rel, this.hostFlags(acc, trunc));
    if (r === -E.EACCES && acc === O_WRONLY) r = this.upperLayer.open(rel, O_WRONLY | (trunc ? O_TRUNC : 0));
    if (typeof r === 'number') return r;
    // A set-id bit an older vmctl left on the host file goes before it is written.
    if (r.st.mode & (S_ISUID | S_ISGID)) {
      this.metaGen++;
      this.changeOwnerMode(rel, {});
    }
    return { fd: r.fd, lower: false, st: r.st };
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

  /**
   * The host open had O_TRUNC (see FileOps.truncated). `setId`: opened
   * for writing, the file had set-id bits, which a write by someone other
   * than root drops.
   */
  constructor(private readonly n: OverlayInode, private fd: number, private lower: boolean, readonly truncated: boolean,
    private setId: GuestMeta | undefined) {
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

  private wrote(ctx: IoContext): void {
    if (!this.setId || ctx.cred.euid === 0) return;
    this.setId = undefined;
    this.n.fs.dropSetIdOnWrite(this.fd);
  }

  read(_f: OpenFile, _ctx: IoContext, len: number, pos: number): Uint8Array | number {
    return readAt(this.current(), len, pos);
  }

  write(_f: OpenFile, ctx: IoContext, data: Uint8Array, pos: number): number {
    const n = writeAt(this.fd, data, pos);
    if (n > 0) this.wrote(ctx);
    return n;
  }

  readToGuest(_f: OpenFile, ctx: IoContext, addr: number, len: number, pos: number): number {
    if (pos < 0) return -E.EINVAL;
    return ctx.fileToGuest(this.current(), pos, addr, Math.min(len, MAX_IO));
  }

  writeFromGuest(_f: OpenFile, ctx: IoContext, addr: number, len: number, pos: number): number {
    const bad = badWrite(pos, len);
    if (bad) return bad;
    const n = ctx.guestToFile(this.fd, pos, addr, len);
    if (n > 0) this.wrote(ctx);
    return n;
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
