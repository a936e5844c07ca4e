/**
 * The mount table: which filesystem covers which guest directory, by
 * absolute guest path. The path walk (path-walk.ts) asks `mountedAt` for
 * every component it steps into; /proc/mounts and /proc/filesystems are
 * rendered from here.
 */
import { E } from '../errno.ts';
import type { MountLookup } from './path-walk.ts';
import type { FileSystem, Inode } from './types.ts';

/**
 * dev_t from major and minor, glibc's encoding (sys/sysmacros.h,
 * gnu_dev_makedev): minor bits 0-7 and 20-31, major bits 8-19 and 32-43.
 * Arithmetic rather than bit operators: the high parts pass 2^31.
 */
export function makedev(major: number, minor: number): number {
  return (minor & 0xff) + (major & 0xfff) * 0x100 + Math.floor(minor / 0x100) * 0x100000 +
    Math.floor(major / 0x1000) * 0x100000000;
}

export function major(dev: number): number {
  return Math.floor(dev / 0x100) % 0x1000 + Math.floor(dev / 0x100000000) * 0x1000;
}

export function minor(dev: number): number {
  return (dev % 0x100) + (Math.floor(dev / 0x100000) % 0x1000) * 0x100;
}

let nextAnonMinor = 16;

/**
 * A fresh st_dev for a filesystem with no block device: major 0, as
 * Linux's get_anon_bdev() gives tmpfs, proc and overlay.
 */
export function allocDev(): number {
  return makedev(0, nextAnonMinor++);
}

export interface Mount {
  readonly fs: FileSystem;
  /** absolute, normalised guest path ("/", "/proc", "/dev/shm") */
  readonly path: string;
  /** first field of /proc/mounts ("proc", "tmpfs", "overlay") */
  readonly source: string;
  /** fourth field of /proc/mounts ("rw,nosuid,nodev") */
  readonly options: string;
}

/** Collapse slashes and drop a trailing one; undefined if not absolute or has `.`/`..`. */
function normalise(path: string): string | undefined {
  if (!path.startsWith('/')) return undefined;
  const comps = path.split('/').filter((c) => c !== '');
  if (comps.some((c) => c === '.' || c === '..')) return undefined;
  return '/' + comps.join('/');
}

/** Is `path` what normalise() makes of it? (Cheaper to ask than to normalise.) */
function isNormal(path: string): boolean {
  return path === '/' || (path.startsWith('/') && !path.endsWith('/') && !/\/\/|\/\.\.?(\/|$)/.test(path));
}

/** The last component of a normalised path ('' for "/"). */
function lastName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * /proc/mounts escapes space, tab, newline and backslash as octal
 * (fs/proc_namespace.c, mangle()), so each line stays six fields.
 */
function mangle(s: string): string {
  return s.replace(/[ \t\n\\]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
}

/**
 * A mount's options as /proc/mounts shows them: the generic ones it was
 * mounted with, then what the filesystem says of itself now (tmpfs's
 * size=, which a remount changes), each once.
 */
function shownOptions(m: Mount): string {
  const own = m.fs.showOptions?.() ?? '';
  if (own === '') return m.options;
  const o = m.options.split(',');
  for (const opt of own.split(',')) if (!o.includes(opt)) o.push(opt);
  return o.join(',');
}

/** /proc/sys/fs/mount-max's default: the most mounts one mount namespace may have. */
const MOUNT_MAX = 100000;

/** Types /proc/filesystems lists; `nodev`: needs no block device. */
const DEFAULT_TYPES: ReadonlyArray<readonly [string, boolean]> = [
  ['sysfs', true], ['tmpfs', true], ['devtmpfs', true], ['proc', true], ['pipefs', true],
  ['devpts', true], ['overlay', true],
];

export class MountTable implements MountLookup {
  /** in mount order; a later mount on the same path covers an earlier one */
  private readonly mounts: Mount[] = [];
  private readonly types = new Map<string, boolean>(DEFAULT_TYPES);
  /** the topmost mount at each mount point */
  private readonly top = new Map<string, Mount>();
  /** last components of the mount points, with how many mounts end in each */
  private readonly lastNames = new Map<string, number>();

  /**
   * Mount `fs` at absolute guest `path`. The caller has checked that `path`
   * is a directory. ENOSPC past fs.mount-max mounts (count_mounts()), so
   * that mounting in a loop cannot grow the kernel without bound.
   */
  mount(fs: FileSystem, path: string, source: string, options = 'rw'): number {
    const p = normalise(path);
    if (p === undefined) return -E.EINVAL;
    if (this.mounts.length >= MOUNT_MAX) return -E.ENOSPC;
    const m: Mount = { fs, path: p, source, options };
    this.mounts.push(m);
    this.top.set(p, m);
    const name = lastName(p);
    this.lastNames.set(name, (this.lastNames.get(name) ?? 0) + 1);
    if (!this.types.has(fs.type)) this.types.set(fs.type, true);
    return 0;
  }

  /**
   * Remove the topmost mount at `path`: EINVAL if nothing is mounted there,
   * EBUSY for the root or while another mount sits below it (umount(2)).
   */
  umount(path: string): number {
    const p = normalise(path);
    if (p === undefined) return -E.EINVAL;
    if (p === '/') return -E.EBUSY;
    const i = this.mounts.map((m) => m.path).lastIndexOf(p);
    if (i < 0) return -E.EINVAL;
    if (this.mounts.some((m) => m.path.startsWith(p + '/'))) return -E.EBUSY;
    this.mounts.splice(i, 1);
    const under = this.mounts.map((m) => m.path).lastIndexOf(p);
    if (under >= 0) this.top.set(p, this.mounts[under]!);
    else this.top.delete(p);
    const name = lastName(p), left = this.lastNames.get(name)! - 1;
    if (left === 0) this.lastNames.delete(name);
    else this.lastNames.set(name, left);
    return 0;
  }

  /** The topmost mount at exactly `path`. */
  mountAt(path: string): Mount | undefined {
    // Paths the kernel builds are normalised already: one map lookup.
    if (isNormal(path)) return this.top.get(path);
    const p = normalise(path);
    return p === undefined ? undefined : this.top.get(p);
  }

  mountedAt(path: string): Inode | undefined {
    return this.mountAt(path)?.fs.root;
  }

  mayCover(name: string): boolean {
    return this.lastNames.has(name);
  }

  /** Root of the filesystem mounted at "/", if any. */
  get root(): Inode | undefined {
    return this.mountedAt('/');
  }

  /** Every mount, in mount order. */
  list(): readonly Mount[] {
    return this.mounts;
  }

  /** Let /proc/filesystems list a type that is not mounted yet. */
  registerType(type: string, nodev = true): void {
    this.types.set(type, nodev);
  }

  /** /proc/mounts (proc(5)): "source target fstype options 0 0" per mount. */
  procMounts(): string {
    return this.mounts
      .map((m) => `${mangle(m.source)} ${mangle(m.path)} ${m.fs.type} ${mangle(shownOptions(m))} 0 0\n`)
      .join('');
  }

  /** /proc/filesystems: "nodev\t<type>" or "\t<type>" per known type. */
  filesystems(): string {
    let s = '';
    for (const [type, nodev] of this.types) s += `${nodev ? 'nodev' : ''}\t${type}\n`;
    return s;
  }
}
