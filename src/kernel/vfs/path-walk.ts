/**
 * Path resolution (path_resolution(7)), done entirely by the guest kernel:
 * one component at a time, over inodes, with `..`, symlinks and mounts
 * handled here. A filesystem is only ever asked to look up one plain name
 * in one of its directories, so no lookup can leave the guest root: `..`
 * at the root stays at the root, and an absolute symlink restarts at the
 * guest's root, not the host's.
 */
import { E } from '../errno.ts';
import { S_IFDIR, S_IFLNK, type Inode } from './types.ts';

export interface PathEntry {
  readonly name: string;
  readonly inode: Inode;
}

/** A resolved location: the chain of directories from the root down. */
export type Location = readonly PathEntry[];

export const PATH_MAX = 4096;
export const NAME_MAX = 255;
const MAX_SYMLINKS = 40;

export function locInode(loc: Location): Inode {
  return loc[loc.length - 1]!.inode;
}

export function locPath(loc: Location): string {
  if (loc.length <= 1) return '/';
  let s = '';
  for (let i = 1; i < loc.length; i++) s += '/' + loc[i]!.name;
  return s;
}

/** Where mounted filesystems cover directories, by absolute guest path. */
export interface MountLookup {
  /** root inode of the filesystem mounted at `path`, if any */
  mountedAt(path: string): Inode | undefined;
  /**
   * Could a mount point end in a component called `name`? False lets the
   * walk step into `name` without building its path to ask `mountedAt`.
   */
  mayCover?(name: string): boolean;
}

export interface WalkContext {
  /** the process's root (chroot) */
  root: Location;
  mounts: MountLookup;
}

export interface WalkOptions {
  /** follow a symlink in the last component (not O_NOFOLLOW / AT_SYMLINK_NOFOLLOW / lstat) */
  followLast: boolean;
}

interface WalkState {
  links: number;
}

function isDir(i: Inode): boolean {
  return i.type === S_IFDIR;
}

function splitPath(path: string): string[] {
  const out: string[] = [];
  for (const c of path.split('/')) if (c !== '') out.push(c);
  return out;
}

function childPath(stack: PathEntry[], name: string): string {
  const parent = locPath(stack);
  return parent === '/' ? '/' + name : parent + '/' + name;
}

/**
 * Resolve `path` from `start` (the cwd or a dirfd's location).
 * Returns the full location of the final inode, or -errno.
 */
export function resolve(ctx: WalkContext, start: Location, path: string, opts: WalkOptions): Location | number {
  if (path.length === 0) return -E.ENOENT;
  if (path.length >= PATH_MAX) return -E.ENAMETOOLONG;
  const st: WalkState = { links: 0 };
  const follow = opts.followLast || path.endsWith('/');
  const r = walk(ctx, [...start], path, follow, st);
  if (typeof r === 'number') return r;
  if (path.endsWith('/') && !isDir(locInode(r))) return -E.ENOTDIR;
  return r;
}

/**
 * Resolve all but the last component, for calls that create or remove a
 * name. Returns the parent directory's location and the last name
 * ('.' or '..' are returned as is: callers decide EEXIST/EINVAL/EBUSY).
 */
export function resolveParent(ctx: WalkContext, start: Location, path: string):
  { dir: Location; name: string; trailingSlash: boolean } | number {
  if (path.length === 0) return -E.ENOENT;
  if (path.length >= PATH_MAX) return -E.ENAMETOOLONG;
  const trailingSlash = /\/+$/.test(path) && path.replace(/\/+$/, '') !== '';
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed === '') return { dir: ctx.root, name: '.', trailingSlash: false };
  const slash = trimmed.lastIndexOf('/');
  const name = trimmed.slice(slash + 1);
  if (name.length > NAME_MAX) return -E.ENAMETOOLONG;
  let dir: Location | number;
  if (slash < 0) dir = start;
  else if (slash === 0) dir = ctx.root;
  else dir = walk(ctx, [...start], trimmed.slice(0, slash), true, { links: 0 });
  if (typeof dir === 'number') return dir;
  if (!isDir(locInode(dir))) return -E.ENOTDIR;
  return { dir, name, trailingSlash };
}

function walk(ctx: WalkContext, stack: PathEntry[], path: string, followLast: boolean, st: WalkState): PathEntry[] | number {
  if (path.startsWith('/')) stack = [...ctx.root];
  const rootDepth = ctx.root.length;
  const comps = splitPath(path);
  for (let i = 0; i < comps.length; i++) {
    const c = comps[i]!;
    const last = i === comps.length - 1;
    const cur = stack[stack.length - 1]!.inode;
    if (!isDir(cur)) return -E.ENOTDIR;
    if (c.length > NAME_MAX) return -E.ENAMETOOLONG;
    if (c === '.') continue;
    if (c === '..') {
      if (stack.length > rootDepth) stack.pop();
      continue;
    }
    if (!cur.lookup) return -E.ENOTDIR;
    let child = cur.lookup(c);
    if (typeof child === 'number') return child;
    const mounted = ctx.mounts.mayCover?.(c) === false ? undefined : ctx.mounts.mountedAt(childPath(stack, c));
    if (mounted) child = mounted;
    if (child.type === S_IFLNK && (!last || followLast)) {
      if (++st.links > MAX_SYMLINKS) return -E.ELOOP;
      if (child.magicLink) {
        const m = child.magicLink();
        if (typeof m === 'number') return m;
        const target = walk(ctx, [...ctx.root], m.path, true, st);
        // A deleted file or a pipe has no path: land on the inode itself.
        stack = typeof target === 'number' || target[target.length - 1]!.inode.ino !== m.inode.ino
          ? [...ctx.root, { name: m.path.replace(/^\/+/, ''), inode: m.inode }]
          : target;
        continue;
      }
      const text = child.readlink?.();
      if (text === undefined) return -E.EINVAL;
      if (typeof text === 'number') return text;
      if (text === '') return -E.ENOENT;
      const r = walk(ctx, stack, text, true, st);
      if (typeof r === 'number') return r;
      stack = r;
      continue;
    }
    stack.push({ name: c, inode: child });
  }
  return stack;
}
