/**
 * One layer of the guest root on the host (the overlay's read-only lower
 * directory or its upper directory), reached only through the tracer
 * addon's layer operations (src/tracer/addon/layer_ops.c): the layer's
 * root is opened once, and every operation walks from that fd with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so no symlink anywhere
 * in a path is followed and nothing outside the layer is reached.
 * Paths here are relative to the layer root ("" is the root itself).
 *
 * The guest's own metadata of an upper file (owner, permission and
 * set-id bits, the type and number of a device node) is the
 * `user.containers.override_stat` xattr, "uid:gid:mode:type" as
 * fuse-overlayfs and containers/storage keep it; `HostStat.meta` is it
 * parsed, `GuestMeta` what is written.
 */
import { hostBuildDir } from '../../paths.ts';
import { loadTracerAddon } from '../../platform/tracer-addon.ts';
import { parseDirents, type HostDirent } from './host-dirents.ts';
import type { StatFs, Timespec } from './types.ts';

/** The guest's metadata of a file, as the override xattr holds it. */
export interface GuestMeta {
  readonly uid: number;
  readonly gid: number;
  /** S_IFMT type | permission and set-id bits */
  readonly mode: number;
  /** device nodes: makedev(major, minor) */
  readonly rdev: number;
}

/** lstat(2) of a layer file, and its override xattr when asked for and present. */
export interface HostStat {
  readonly dev: number;
  readonly ino: bigint;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly rdev: number;
  readonly size: number;
  readonly blksize: number;
  readonly blocks: number;
  readonly atime: Timespec;
  readonly mtime: Timespec;
  readonly ctime: Timespec;
  readonly meta: GuestMeta | undefined;
}

/** statfs of a layer's host filesystem: what layer_napi.c fills of StatFs. */
export type HostStatFs = Omit<StatFs, 'type' | 'namelen'>;

/** What layer_napi.c exports. */
interface LayerAddon {
  layerOpen(path: string, upper: boolean): number;
  layerPath(layer: number): string | number;
  layerStat(layer: number, rel: string, wantMeta: boolean, out: Float64Array): number;
  layerProbe(layer: number, dirRel: string, name: string, flags: number, out: Float64Array): number;
  layerOpenFile(layer: number, rel: string, flags: number, mode: number, meta: Float64Array | null, out: Float64Array): number;
  layerReopen(fd: number, flags: number, out: Float64Array): number;
  layerMkdir(layer: number, rel: string, mode: number, meta: Float64Array | null): number;
  layerMkfifo(layer: number, rel: string, mode: number): number;
  layerSymlink(layer: number, rel: string, target: string): number;
  layerUnlink(layer: number, rel: string, dir: boolean): number;
  layerRename(layer: number, from: string, to: string, flags: number): number;
  layerLink(layer: number, from: string, to: string): number;
  layerReadlink(layer: number, rel: string): string | number;
  layerSetMeta(layer: number, rel: string, meta: Float64Array | null, hostMode: number): number;
  layerChown(layer: number, rel: string, uid: number, gid: number): number;
  layerUtimes(layer: number, rel: string, atimeSec: number, atimeNsec: number, mtimeSec: number, mtimeNsec: number): number;
  layerReadDir(layer: number, rel: string): Buffer | number;
  layerStatfs(layer: number, out: Float64Array): number;
  layerFdStat(fd: number, out: Float64Array): number;
  layerFdSetMeta(fd: number, meta: Float64Array | null, hostMode: number): number;
  layerCopy(inFd: number, outFd: number): number;
}

/** What HostLayer.probe() found of a name in the upper layer. */
export interface HostProbe {
  /** its lstat, with its xattr when asked for; undefined: it is not there */
  readonly st: HostStat | undefined;
  /** it is not there, and its whiteout is */
  readonly whiteout: boolean;
  /** a directory with the opaque marker */
  readonly opaque: boolean;
}

/* layer_ops.h's LAYER_PROBE_* */
const PROBE_FOUND = 1, PROBE_META = 2, PROBE_WHITEOUT = 4, PROBE_OPAQUE = 8;

/** utimensat(2)'s "leave this time as it is". */
export const UTIME_OMIT = (1 << 30) - 2;

const O_CREAT = 0o100, O_EXCL = 0o200;

/* Slots of layer_napi.c's stat array. */
const DEV = 0, INO_HI = 1, INO_LO = 2, MODE = 3, NLINK = 4, UID = 5, GID = 6, RDEV = 7, SIZE = 8, BLKSIZE = 9,
  BLOCKS = 10, ATIME = 11, MTIME = 13, CTIME = 15, META = 17, META_UID = 18, META_GID = 19, META_MODE = 20,
  META_RDEV = 21, STAT_SLOTS = 22;

/* Calls are synchronous, on the kernel's one thread: one array of each serves them all. */
const statBuf = new Float64Array(STAT_SLOTS);
const metaBuf = new Float64Array(4);
const statfsBuf = new Float64Array(6);

let addon: LayerAddon | undefined;

/** The addon's layer operations; a build without them is vmctl's to fix (`vmctl build-host`). */
function native(): LayerAddon {
  if (addon) return addon;
  const a = loadTracerAddon(hostBuildDir) as unknown as Partial<LayerAddon>;
  if (typeof a.layerOpen !== 'function') {
    throw new Error(`the tracer addon in ${hostBuildDir} has no layer operations: run \`vmctl build-host\``);
  }
  addon = a as LayerAddon;
  return addon;
}

function timespecAt(i: number): Timespec {
  return { sec: statBuf[i]!, nsec: statBuf[i + 1]! };
}

/** The stat array as layer_napi.c filled it. */
function readStat(): HostStat {
  const b = statBuf;
  return {
    dev: b[DEV]!, ino: (BigInt(b[INO_HI]!) << 32n) | BigInt(b[INO_LO]!), mode: b[MODE]!, nlink: b[NLINK]!,
    uid: b[UID]!, gid: b[GID]!, rdev: b[RDEV]!, size: b[SIZE]!, blksize: b[BLKSIZE]!, blocks: b[BLOCKS]!,
    atime: timespecAt(ATIME), mtime: timespecAt(MTIME), ctime: timespecAt(CTIME),
    meta: b[META] ? { uid: b[META_UID]!, gid: b[META_GID]!, mode: b[META_MODE]!, rdev: b[META_RDEV]! } : undefined,
  };
}

function metaArg(meta: GuestMeta | undefined): Float64Array | null {
  if (!meta) return null;
  metaBuf[0] = meta.uid;
  metaBuf[1] = meta.gid;
  metaBuf[2] = meta.mode;
  metaBuf[3] = meta.rdev;
  return metaBuf;
}

export class HostLayer {
  private constructor(private readonly fd: number) {}

  /**
   * The layer whose root is host directory `path` (symlinks on the way
   * to it followed: it is vmctl's configuration, not a guest's). The
   * upper layer's walks never cross a mount point. Throws: a layer that
   * cannot be opened is vmctl's configuration error.
   */
  static open(path: string, upper: boolean): HostLayer {
    const fd = native().layerOpen(path, upper);
    if (fd < 0) throw new Error(`cannot open ${path} as a layer of the guest root (errno ${-fd})`);
    return new HostLayer(fd);
  }

  /** The root's host path now (for trace lines and /proc's hiding of host paths). */
  path(): string | number {
    return native().layerPath(this.fd);
  }

  /** lstat(2) of `rel`, with its override xattr when `meta` (upper layer files). */
  stat(rel: string, meta = false): HostStat | number {
    const r = native().layerStat(this.fd, rel, meta, statBuf);
    return r < 0 ? r : readStat();
  }

  /**
   * `name` in directory `dirRel` as a lookup asks about it, with one walk
   * to the directory: its lstat (and xattr when `meta`), whether its
   * whiteout is there when it is not (`whiteout`), whether a directory is
   * opaque (`opaque`). -errno when the directory cannot be reached (ENOENT
   * and ENOTDIR: nothing of it in this layer) or the name not asked about.
   */
  probe(dirRel: string, name: string, meta: boolean, whiteout: boolean, opaque: boolean): HostProbe | number {
    const flags = (meta ? PROBE_META : 0) | (whiteout ? PROBE_WHITEOUT : 0) | (opaque ? PROBE_OPAQUE : 0);
    const r = native().layerProbe(this.fd, dirRel, name, flags, statBuf);
    if (r < 0) return r;
    return { st: r & PROBE_FOUND ? readStat() : undefined, whiteout: (r & PROBE_WHITEOUT) !== 0, opaque: (r & PROBE_OPAQUE) !== 0 };
  }

  /** open(2) of regular file `rel` (never a FIFO or device put in its place: ENXIO). */
  open(rel: string, flags: number): { fd: number; st: HostStat } | number {
    const fd = native().layerOpenFile(this.fd, rel, flags, 0, null, statBuf);
    return fd < 0 ? fd : { fd, st: readStat() };
  }

  /** A new regular file `rel` (O_EXCL), open with `flags`, host mode `hostMode`, xattr `meta`. */
  create(rel: string, flags: number, hostMode: number, meta?: GuestMeta): { fd: number; st: HostStat } | number {
    const fd = native().layerOpenFile(this.fd, rel, flags | O_CREAT | O_EXCL, hostMode, metaArg(meta), statBuf);
    return fd < 0 ? fd : { fd, st: readStat() };
  }

  mkdir(rel: string, hostMode: number, meta?: GuestMeta): number {
    return native().layerMkdir(this.fd, rel, hostMode, metaArg(meta));
  }

  mkfifo(rel: string, hostMode: number): number {
    return native().layerMkfifo(this.fd, rel, hostMode);
  }

  symlink(rel: string, target: string): number {
    return native().layerSymlink(this.fd, rel, target);
  }

  /** unlink(2), or rmdir(2) when `dir`. */
  unlink(rel: string, dir = false): number {
    return native().layerUnlink(this.fd, rel, dir);
  }

  rename(from: string, to: string, flags = 0): number {
    return native().layerRename(this.fd, from, to, flags);
  }

  link(from: string, to: string): number {
    return native().layerLink(this.fd, from, to);
  }

  readlink(rel: string): string | number {
    return native().layerReadlink(this.fd, rel);
  }

  /**
   * Host mode `hostMode` (-1: unchanged; never set-id bits, whatever is
   * asked) then xattr `meta` (undefined: not written) of `rel`: regular
   * files and directories; FIFOs take a mode only.
   */
  setMeta(rel: string, meta: GuestMeta | undefined, hostMode: number): number {
    return native().layerSetMeta(this.fd, rel, metaArg(meta), hostMode);
  }

  /** lchown(2) of `rel` itself. */
  chown(rel: string, uid: number, gid: number): number {
    return native().layerChown(this.fd, rel, uid, gid);
  }

  /** utimensat(2) of `rel` itself; an absent time is left as it is. */
  utimes(rel: string, atime: Timespec | undefined, mtime: Timespec | undefined): number {
    return native().layerUtimes(this.fd, rel, atime?.sec ?? 0, atime?.nsec ?? UTIME_OMIT,
      mtime?.sec ?? 0, mtime?.nsec ?? UTIME_OMIT);
  }

  /** Directory `rel`'s entries with inode numbers and types as lstat gives them (dirents.c). */
  readDir(rel: string): HostDirent[] | number {
    const recs = native().layerReadDir(this.fd, rel);
    return typeof recs === 'number' ? recs : parseDirents(recs);
  }

  statfs(): HostStatFs | number {
    const r = native().layerStatfs(this.fd, statfsBuf);
    if (r < 0) return r;
    const b = statfsBuf;
    return { bsize: b[0]!, blocks: b[1]!, bfree: b[2]!, bavail: b[3]!, files: b[4]!, ffree: b[5]! };
  }
}

/** A new description of the regular file host fd `fd` is open on (a deleted file opened again). */
export function reopenHostFile(fd: number, flags: number): { fd: number; st: HostStat } | number {
  const nfd = native().layerReopen(fd, flags, statBuf);
  return nfd < 0 ? nfd : { fd: nfd, st: readStat() };
}

/** fstat(2) and the override xattr of an open layer file. */
export function hostFileStat(fd: number): HostStat | number {
  const r = native().layerFdStat(fd, statBuf);
  return r < 0 ? r : readStat();
}

/** HostLayer.setMeta() through an open regular file. */
export function setHostFileMeta(fd: number, meta: GuestMeta | undefined, hostMode: number): number {
  return native().layerFdSetMeta(fd, metaArg(meta), hostMode);
}

/** All of host file `inFd` into `outFd`, from their starts: bytes copied or -errno. */
export function copyHostFile(inFd: number, outFd: number): number {
  return native().layerCopy(inFd, outFd);
}
