/**
 * Path arguments of syscalls: `dirfd` + path (openat(2) "dirfd" rules),
 * resolved in the calling process's root and cwd, and opening a resolved
 * location into an open file description.
 */
import { E } from './errno.ts';
import type { Kernel } from './kernel.ts';
import { ioContext } from './io-context.ts';
import type { Task } from './task.ts';
import { locInode, locPath, resolve, resolveParent, type Location, type WalkContext } from './vfs/path-walk.ts';
import { OpenFile, S_IFDIR } from './vfs/types.ts';

export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_SYMLINK_FOLLOW = 0x400;
export const AT_NO_AUTOMOUNT = 0x800;
export const AT_EMPTY_PATH = 0x1000;

export function walkContext(k: Kernel, t: Task): WalkContext {
  return { root: t.proc.fs.root, mounts: k.mounts };
}

/** Where a relative path starts: the cwd, or the directory `dirfd` names. */
export function startOf(t: Task, dirfd: number, path: string): Location | number {
  if (path.startsWith('/')) return t.proc.fs.root;
  if (dirfd === AT_FDCWD) return t.proc.fs.cwd;
  const f = t.proc.files.get(dirfd);
  if (!f) return -E.EBADF;
  const loc = fileLocation(t, f);
  if (locInode(loc).type !== S_IFDIR) return -E.ENOTDIR;
  return loc;
}

/** The location a file was opened at (for *at calls relative to a dirfd). */
export function fileLocation(t: Task, f: OpenFile): Location {
  if (f.location) return f.location;
  return [...t.proc.fs.root, { name: f.path.replace(/^\/+/, ''), inode: f.inode }];
}

export function lookupAt(k: Kernel, t: Task, dirfd: number, path: string, follow: boolean): Location | number {
  const start = startOf(t, dirfd, path);
  if (typeof start === 'number') return start;
  return resolve(walkContext(k, t), start, path, { followLast: follow });
}

/** `path` of a *at call honouring AT_EMPTY_PATH (the dirfd itself). */
export function lookupAtFlags(k: Kernel, t: Task, dirfd: number, path: string, flags: number): Location | number {
  if (path === '' && flags & AT_EMPTY_PATH) {
    if (dirfd === AT_FDCWD) return t.proc.fs.cwd;
    const f = t.proc.files.get(dirfd);
    if (!f) return -E.EBADF;
    return fileLocation(t, f);
  }
  return lookupAt(k, t, dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW));
}

export function lookupParentAt(k: Kernel, t: Task, dirfd: number, path: string) {
  const start = startOf(t, dirfd, path);
  if (typeof start === 'number') return start;
  return resolveParent(walkContext(k, t), start, path);
}

/** Flags that act at open(2) only: do_dentry_open() drops them from f_flags, so F_GETFL never shows them. */
const OPEN_TIME_FLAGS = 0o100 /* O_CREAT */ | 0o200 /* O_EXCL */ | 0o400 /* O_NOCTTY */ | 0o1000 /* O_TRUNC */;
/** A 64-bit kernel opens every file O_LARGEFILE (build_open_flags(), force_o_largefile()): F_GETFL shows it. */
const O_LARGEFILE = 0o100000;

/**
 * Open a resolved location: a new open file description (not yet in any fd
 * table) with `flags`; the filesystem is asked with `openFlags` (open(2)
 * minus O_TRUNC for a file the call has just created).
 */
export function openLocation(k: Kernel, t: Task, loc: Location, flags: number, openFlags = flags): OpenFile | number {
  const inode = locInode(loc);
  if (!inode.open) return -E.ENXIO;
  const ops = inode.open(openFlags, ioContext(k, t));
  if (typeof ops === 'number') return ops;
  const f = new OpenFile(inode, (flags & ~OPEN_TIME_FLAGS) | O_LARGEFILE, ops, locPath(loc));
  f.location = loc;
  return f;
}
