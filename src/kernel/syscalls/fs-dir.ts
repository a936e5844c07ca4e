/**
 * Directory and namespace syscalls: listing (getdents64), creating and
 * removing names (mkdir, unlink, rmdir, link, symlink, mknod, rename),
 * the cwd and root of a process (chdir, fchdir, getcwd, chroot), and
 * mounts (mount, umount2).
 *
 * The errno order follows fs/namei.c: the parent is resolved first, then
 * "." / ".." / "/" as the last component, then the read-only mount, then
 * the name itself, then permission (may_create, may_delete), then the
 * filesystem's own answer.
 */
import { E } from '../errno.ts';
import type { Kernel } from '../kernel.ts';
import {
  AT_EMPTY_PATH, AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, fileLocation, lookupAt, lookupAtFlags, lookupParentAt,
} from '../lookup.ts';
import type { Task } from '../task.ts';
import { holdFor } from '../memory-budget.ts';
import { locInode, locPath, type Location } from '../vfs/path-walk.ts';
import {
  DT_DIR, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK,
  type DirEntry, type FileSystem, type Inode, type OpenFile, type Stat,
} from '../vfs/types.ts';
import { getFile, O_PATH } from './fs-io.ts';
import { inodePermission, mountOf, onReadOnlyMount, permissionOf, S_ISGID, S_ISUID, S_ISVTX } from './fs-meta.ts';
import type { SyscallFamily } from './table.ts';

const MAY_EXEC = 1, MAY_WRITE = 2, MAY_READ = 4;

/** renameat2(2) flags (include/uapi/linux/fs.h). */
export const RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2, RENAME_WHITEOUT = 4;

/**
 * Filesystem factories by type name, for mount(2). The boot code fills
 * it ('proc', 'tmpfs', ...); a factory gets mount(2)'s source and data
 * strings and returns a filesystem or -errno (EINVAL for bad options).
 */
export const filesystemTypes = new Map<string, (k: Kernel, source: string, data: string) => FileSystem | number>();

function pidOf(t: Task): number {
  return t.proc.mm.hostPid;
}

/** A path argument as getname() takes it: EFAULT, ENAMETOOLONG, and ENOENT for "". */
function readPath(k: Kernel, t: Task, ptr: number): string | number {
  const p = k.mem.readPath(pidOf(t), ptr);
  return p === '' ? -E.ENOENT : p;
}

/** Same (dev, ino): inodes are compared by identity numbers, never by object (types.ts). */
function sameInode(a: Inode, b: Inode): boolean {
  return a.fs.dev === b.fs.dev && a.ino === b.ino;
}

function childPath(dir: Location, name: string): string {
  const p = locPath(dir);
  return p === '/' ? '/' + name : p + '/' + name;
}

/** Is something mounted on `name` in `dir` (EBUSY for removing or renaming it)? */
function isMountpoint(k: Kernel, dir: Location, name: string): boolean {
  return k.mounts.mountAt(childPath(dir, name)) !== undefined;
}

/** The path names the root: "/" or "///" (LAST_ROOT in namei). */
function isRootPath(path: string): boolean {
  return path.length > 0 && path.replace(/\/+$/, '') === '';
}

function lookupChild(dir: Location, name: string): Inode | number {
  const d = locInode(dir);
  if (!d.lookup) return -E.ENOTDIR;
  return d.lookup(name);
}

/** may_create(): write and search permission on the directory. */
function mayCreate(t: Task, dir: Inode): number {
  return inodePermission(t.proc.cred, dir, MAY_WRITE | MAY_EXEC);
}

/**
 * may_delete(): write and search on the directory, the sticky-bit rule
 * (only the file's or directory's owner, or root), then the type checks:
 * ENOTDIR when a directory is expected, EISDIR when it is not.
 */
function mayDelete(t: Task, dir: Inode, victim: Inode, isDir: boolean): number {
  const cred = t.proc.cred;
  const dst = dir.getattr();
  if (typeof dst === 'number') return dst;
  const vst = victim.getattr();
  if (typeof vst === 'number') return vst;
  const p = permissionOf(cred, dst, MAY_WRITE | MAY_EXEC);
  if (p < 0) return p;
  if ((dst.mode & S_ISVTX) && cred.fsuid !== 0 && cred.fsuid !== vst.uid && cred.fsuid !== dst.uid) return -E.EPERM;
  const victimIsDir = victim.type === S_IFDIR;
  if (isDir && !victimIsDir) return -E.ENOTDIR;
  if (!isDir && victimIsDir) return -E.EISDIR;
  return 0;
}

/** Where a new name goes, checked as filename_create() does. */
interface NewName {
  dir: Location;
  name: string;
}

/**
 * filename_create(): resolve the parent; "." and ".." are EEXIST, so is
 * an existing name; a trailing slash on a non-directory is ENOENT; then
 * EROFS; then may_create (EACCES) unless the caller checks it later.
 */
function prepareCreate(k: Kernel, t: Task, dirfd: number, path: string, isDir: boolean, checkPerm = true): NewName | number {
  const par = lookupParentAt(k, t, dirfd, path);
  if (typeof par === 'number') return par;
  if (par.name === '.' || par.name === '..') return -E.EEXIST;
  const existing = lookupChild(par.dir, par.name);
  if (typeof existing !== 'number' || isMountpoint(k, par.dir, par.name)) return -E.EEXIST;
  if (existing !== -E.ENOENT) return existing;
  if (par.trailingSlash && !isDir) return -E.ENOENT;
  if (onReadOnlyMount(k, par.dir)) return -E.EROFS;
  if (checkPerm) {
    const p = mayCreate(t, locInode(par.dir));
    if (p < 0) return p;
  }
  return { dir: par.dir, name: par.name };
}

// ----- listing -----

/** What one entry of a directory snapshot costs the kernel's heap, besides its name (measured about 50 bytes). */
const DIRENT_COST = 64;

/** '.' and '..' then the filesystem's entries: one snapshot per open directory, f.pos indexes it. */
function dirSnapshot(f: OpenFile): DirEntry[] | number {
  if (f.dirCache) return f.dirCache;
  const list = f.ops.readdir ? f.ops.readdir(f) : f.inode.readdir ? f.inode.readdir() : -E.ENOTDIR;
  if (typeof list === 'number') return list;
  const self = f.inode;
  let parentIno = self.ino;
  const loc = f.location;
  // A filesystem's root is its own '..' (dir_emit_dotdot of a mount root).
  if (loc && loc.length >= 2 && !sameInode(self, self.fs.root)) parentIno = loc[loc.length - 2]!.inode.ino;
  const out: DirEntry[] = [{ name: '.', ino: self.ino, type: DT_DIR }, { name: '..', ino: parentIno, type: DT_DIR }];
  for (const e of list) if (e.name !== '.' && e.name !== '..') out.push(e);
  // The snapshot lives as long as the open directory: the guest's memory (a big directory opened many times).
  let bytes = 0;
  for (const e of out) bytes += DIRENT_COST + e.name.length;
  if (!holdFor(f, bytes)) return -E.ENOMEM;
  f.dirCache = out;
  return out;
}

/** Record size of struct linux_dirent64: d_ino, d_off, d_reclen, d_type, name, NUL, 8-aligned. */
function dirent64Size(nameBytes: number): number {
  return (19 + nameBytes + 1 + 7) & ~7;
}

/** Record size of the old struct linux_dirent: d_ino, d_off, d_reclen, name, NUL, pad, d_type last. */
function direntSize(nameBytes: number): number {
  return (18 + nameBytes + 2 + 7) & ~7;
}

/**
 * Fill `count` bytes with records from the snapshot starting at f.pos.
 * EINVAL if not even one record fits; the position moves only once the
 * records are in guest memory.
 */
function fillDirents(k: Kernel, t: Task, fd: number, dirp: number, count: number, old: boolean): number {
  const f = getFile(t, fd);
  if (typeof f === 'number') return f;
  if (f.flags & O_PATH) return -E.EBADF;
  if (f.inode.type !== S_IFDIR) return -E.ENOTDIR;
  const list = dirSnapshot(f);
  if (typeof list === 'number') return list;
  // The callback keeps the count as an int (struct getdents_callback in
  // fs/readdir.c): past INT_MAX it is negative, and no record fits.
  const cap = count > 0x7fffffff ? 0 : Math.min(count, 1 << 20);
  const buf = Buffer.alloc(Math.max(0, cap));
  let off = 0, i = f.pos;
  for (; i < list.length; i++) {
    const e = list[i]!;
    const name = Buffer.from(e.name, 'utf8');
    const size = old ? direntSize(name.length) : dirent64Size(name.length);
    if (off + size > cap) break;
    buf.writeUInt32LE(e.ino % 4294967296, off);
    buf.writeUInt32LE(Math.floor(e.ino / 4294967296), off + 4);
    buf.writeUInt32LE(i + 1, off + 8); // d_off: the position after this record
    buf.writeUInt32LE(0, off + 12);
    buf.writeUInt16LE(size, off + 16);
    if (old) {
      name.copy(buf, off + 18);
      buf.writeUInt8(e.type, off + size - 1);
    } else {
      buf.writeUInt8(e.type, off + 18);
      name.copy(buf, off + 19);
    }
    off += size;
  }
  if (off === 0 && i < list.length) return -E.EINVAL;
  if (off > 0) {
    const w = k.mem.write(pidOf(t), dirp, buf.subarray(0, off));
    if (w < 0) return w;
  }
  f.pos = i;
  return off;
}

/** Getdents64 implements Linux syscall getdents64(2). */
function sysGetdents64(k: Kernel, t: Task, fd: number, dirp: number, count: number): number {
  return fillDirents(k, t, fd | 0, dirp, count >>> 0, false);
}

/** Getdents implements Linux syscall getdents(2) (struct linux_dirent, d_type in the last byte). */
function sysGetdents(k: Kernel, t: Task, fd: number, dirp: number, count: number): number {
  return fillDirents(k, t, fd | 0, dirp, count >>> 0, true);
}

// ----- creating names -----

function doMkdir(k: Kernel, t: Task, dirfd: number, pathPtr: number, mode: number): number {
  const path = readPath(k, t, pathPtr);
  if (typeof path === 'number') return path;
  const nn = prepareCreate(k, t, dirfd, path, true);
  if (typeof nn === 'number') return nn;
  const dir = locInode(nn.dir);
  if (!dir.mkdir) return -E.EPERM;
  return dir.mkdir(nn.name, mode & 0o1777 & ~t.proc.fs.umask, t.proc.cred);
}

/** Mkdir implements Linux syscall mkdir(2). */
function sysMkdir(k: Kernel, t: Task, pathPtr: number, mode: number): number {
  return doMkdir(k, t, AT_FDCWD, pathPtr, mode >>> 0);
}

/** Mkdirat implements Linux syscall mkdirat(2). */
function sysMkdirat(k: Kernel, t: Task, dirfd: number, pathPtr: number, mode: number): number {
  return doMkdir(k, t, dirfd | 0, pathPtr, mode >>> 0);
}

/**
 * mknod: may_mknod() first (EPERM for directories, EINVAL for unknown
 * types; type 0 is a regular file); device nodes need root and a
 * filesystem that has them.
 */
function doMknod(k: Kernel, t: Task, dirfd: number, pathPtr: number, mode: number, dev: number): number {
  let type = mode & S_IFMT;
  switch (type) {
    case 0: type = S_IFREG; break;
    case S_IFREG: case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK: break;
    case S_IFDIR: return -E.EPERM;
    default: return -E.EINVAL;
  }
  const path = readPath(k, t, pathPtr);
  if (typeof path === 'number') return path;
  const nn = prepareCreate(k, t, dirfd, path, false);
  if (typeof nn === 'number') return nn;
  const dir = locInode(nn.dir);
  const perm = mode & 0o7777 & ~t.proc.fs.umask;
  const cred = t.proc.cred;
  if (type === S_IFREG) {
    if (dir.mknod) return dir.mknod(nn.name, S_IFREG | perm, 0, cred);
    if (!dir.create) return -E.EACCES;
    const r = dir.create(nn.name, perm, cred);
    return typeof r === 'number' ? r : 0;
  }
  if ((type === S_IFCHR || type === S_IFBLK) && cred.euid !== 0) return -E.EPERM;
  if (!dir.mknod) return -E.EPERM;
  return dir.mknod(nn.name, type | perm, type === S_IFCHR || type === S_IFBLK ? dev : 0, cred);
}

/** Mknod implements Linux syscall mknod(2). */
function sysMknod(k: Kernel, t: Task, pathPtr: number, mode: number, dev: number): number {
  return doMknod(k, t, AT_FDCWD, pathPtr, mode >>> 0, dev >>> 0);
}

/** Mknodat implements Linux syscall mknodat(2). */
function sysMknodat(k: Kernel, t: Task, dirfd: number, pathPtr: number, mode: number, dev: number): number {
  return doMknod(k, t, dirfd | 0, pathPtr, mode >>> 0, dev >>> 0);
}

function doSymlink(k: Kernel, t: Task, targetPtr: number, dirfd: number, pathPtr: number): number {
  const target = readPath(k, t, targetPtr);
  if (typeof target === 'number') return target;
  if (target === '') return -E.ENOENT;
  const path = readPath(k, t, pathPtr);
  if (typeof path === 'number') return path;
  const nn = prepareCreate(k, t, dirfd, path, false);
  if (typeof nn === 'number') return nn;
  const dir = locInode(nn.dir);
  if (!dir.symlink) return -E.EPERM;
  return dir.symlink(nn.name, target, t.proc.cred);
}

/** Symlink implements Linux syscall symlink(2). */
function sysSymlink(k: Kernel, t: Task, targetPtr: number, pathPtr: number): number {
  return doSymlink(k, t, targetPtr, AT_FDCWD, pathPtr);
}

/** Symlinkat implements Linux syscall symlinkat(2). */
function sysSymlinkat(k: Kernel, t: Task, targetPtr: number, dirfd: number, pathPtr: number): number {
  return doSymlink(k, t, targetPtr, dirfd | 0, pathPtr);
}

/**
 * may_linkat() with fs.protected_hardlinks=1 (the default): a non-owner
 * may link only a regular, non-set-id file it can read and write.
 */
function mayLink(t: Task, st: Stat): number {
  const cred = t.proc.cred;
  if (cred.fsuid === 0 || cred.fsuid === st.uid) return 0;
  if ((st.mode & S_IFMT) !== S_IFREG) return -E.EPERM;
  if (st.mode & S_ISUID) return -E.EPERM;
  if ((st.mode & (S_ISGID | 0o010)) === (S_ISGID | 0o010)) return -E.EPERM;
  if (permissionOf(cred, st, MAY_READ | MAY_WRITE) < 0) return -E.EPERM;
  return 0;
}

function doLink(k: Kernel, t: Task, olddirfd: number, oldPtr: number, newdirfd: number, newPtr: number, flags: number): number {
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return -E.EINVAL;
  const oldPath = k.mem.readPath(pidOf(t), oldPtr);
  if (typeof oldPath === 'number') return oldPath;
  if (oldPath === '' && !(flags & AT_EMPTY_PATH)) return -E.ENOENT;
  // Linking an open file by descriptor needs CAP_DAC_READ_SEARCH.
  if ((flags & AT_EMPTY_PATH) && oldPath === '' && t.proc.cred.euid !== 0) return -E.ENOENT;
  const src = oldPath === '' && (flags & AT_EMPTY_PATH)
    ? lookupAtFlags(k, t, olddirfd, '', AT_EMPTY_PATH)
    : lookupAt(k, t, olddirfd, oldPath, (flags & AT_SYMLINK_FOLLOW) !== 0);
  if (typeof src === 'number') return src;
  const newPath = readPath(k, t, newPtr);
  if (typeof newPath === 'number') return newPath;
  const nn = prepareCreate(k, t, newdirfd, newPath, false, false);
  if (typeof nn === 'number') return nn;
  if (mountOf(k, src) !== mountOf(k, nn.dir)) return -E.EXDEV;
  const inode = locInode(src);
  if (inode.fs.dev !== locInode(nn.dir).fs.dev) return -E.EXDEV;
  const st = inode.getattr();
  if (typeof st === 'number') return st;
  const ml = mayLink(t, st);
  if (ml < 0) return ml;
  const dir = locInode(nn.dir);
  const mc = mayCreate(t, dir);
  if (mc < 0) return mc;
  if (!dir.link) return -E.EPERM;
  if (inode.type === S_IFDIR) return -E.EPERM;
  return dir.link(nn.name, inode);
}

/** Link implements Linux syscall link(2). */
function sysLink(k: Kernel, t: Task, oldPtr: number, newPtr: number): number {
  return doLink(k, t, AT_FDCWD, oldPtr, AT_FDCWD, newPtr, 0);
}

/** Linkat implements Linux syscall linkat(2). */
function sysLinkat(k: Kernel, t: Task, olddirfd: number, oldPtr: number, newdirfd: number, newPtr: number, flags: number): number {
  return doLink(k, t, olddirfd | 0, oldPtr, newdirfd | 0, newPtr, flags >>> 0);
}

// ----- removing names -----

/** do_unlinkat(): "." ".." and "/" are EISDIR; a trailing slash means a directory was named. */
function doUnlink(k: Kernel, t: Task, dirfd: number, path: string): number {
  const par = lookupParentAt(k, t, dirfd, path);
  if (typeof par === 'number') return par;
  if (isRootPath(path) || par.name === '.' || par.name === '..') return -E.EISDIR;
  if (onReadOnlyMount(k, par.dir)) return -E.EROFS;
  const victim = lookupChild(par.dir, par.name);
  if (typeof victim === 'number') return victim;
  if (par.trailingSlash) return victim.type === S_IFDIR ? -E.EISDIR : -E.ENOTDIR;
  const dir = locInode(par.dir);
  const md = mayDelete(t, dir, victim, false);
  if (md < 0) return md;
  if (!dir.unlink) return -E.EPERM;
  if (isMountpoint(k, par.dir, par.name)) return -E.EBUSY;
  return dir.unlink(par.name);
}

/** do_rmdir(): ".." is ENOTEMPTY, "." EINVAL, "/" EBUSY; mountpoints are EBUSY. */
function doRmdir(k: Kernel, t: Task, dirfd: number, path: string): number {
  const par = lookupParentAt(k, t, dirfd, path);
  if (typeof par === 'number') return par;
  if (isRootPath(path)) return -E.EBUSY;
  if (par.name === '..') return -E.ENOTEMPTY;
  if (par.name === '.') return -E.EINVAL;
  if (onReadOnlyMount(k, par.dir)) return -E.EROFS;
  const victim = lookupChild(par.dir, par.name);
  if (typeof victim === 'number') return victim;
  const dir = locInode(par.dir);
  const md = mayDelete(t, dir, victim, true);
  if (md < 0) return md;
  if (sameInode(victim, victim.fs.root)) return -E.EBUSY;
  if (!dir.rmdir) return -E.EPERM;
  if (isMountpoint(k, par.dir, par.name)) return -E.EBUSY;
  return dir.rmdir(par.name);
}

/** Unlink implements Linux syscall unlink(2). */
function sysUnlink(k: Kernel, t: Task, pathPtr: number): number {
  const path = readPath(k, t, pathPtr);
  if (typeof path === 'number') return path;
  return doUnlink(k, t, AT_FDCWD, path);
}

/** Rmdir implements Linux syscall rmdir(2). */
function sysRmdir(k: Kernel, t: Task, pathPtr: number): number {
  const path = readPath(k, t, pathPtr);
  if (typeof path === 'number') return path;
  return doRmdir(k, t, AT_FDCWD, path);
}

/** Unlinkat implements Linux syscall unlinkat(2). */
function sysUnlinkat(k: Kernel, t: Task, dirfd: number, pathPtr: number, flags: number): number {
  const fl = flags >>> 0;
  if (fl & ~AT_REMOVEDIR) return -E.EINVAL;
  const path = readPath(k, t, pathPtr);
  if (typeof path === 'number') return path;
  return fl & AT_REMOVEDIR ? doRmdir(k, t, dirfd | 0, path) : doUnlink(k, t, dirfd | 0, path);
}

// ----- rename -----

/** Does the location pass through `inode` (is `inode` the location or one of its ancestors)? */
function passesThrough(loc: Location, inode: Inode): boolean {
  return loc.some((e) => sameInode(e.inode, inode));
}

/** do_renameat2() and vfs_rename(), in Linux's order of checks. */
function doRename(k: Kernel, t: Task, olddirfd: number, oldPtr: number, newdirfd: number, newPtr: number, flags: number): number {
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) return -E.EINVAL;
  if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)) return -E.EINVAL;
  // No filesystem of ours has whiteouts (overlay's upper layer keeps its own).
  if (flags & RENAME_WHITEOUT) return -E.EINVAL;
  const oldPath = readPath(k, t, oldPtr);
  if (typeof oldPath === 'number') return oldPath;
  const newPath = readPath(k, t, newPtr);
  if (typeof newPath === 'number') return newPath;
  const op = lookupParentAt(k, t, olddirfd, oldPath);
  if (typeof op === 'number') return op;
  const np = lookupParentAt(k, t, newdirfd, newPath);
  if (typeof np === 'number') return np;
  if (mountOf(k, op.dir) !== mountOf(k, np.dir)) return -E.EXDEV;
  const oldDir = locInode(op.dir), newDir = locInode(np.dir);
  if (oldDir.fs.dev !== newDir.fs.dev) return -E.EXDEV;
  if (isRootPath(oldPath) || op.name === '.' || op.name === '..') return -E.EBUSY;
  if (isRootPath(newPath) || np.name === '.' || np.name === '..') return flags & RENAME_NOREPLACE ? -E.EEXIST : -E.EBUSY;
  if (onReadOnlyMount(k, op.dir)) return -E.EROFS;

  const src = lookupChild(op.dir, op.name);
  if (typeof src === 'number') return src;
  const dstR = lookupChild(np.dir, np.name);
  if (typeof dstR === 'number' && dstR !== -E.ENOENT) return dstR;
  const dst = typeof dstR === 'number' ? undefined : dstR;
  if ((flags & RENAME_NOREPLACE) && dst) return -E.EEXIST;
  if (flags & RENAME_EXCHANGE) {
    if (!dst) return -E.ENOENT;
    if (dst.type !== S_IFDIR && np.trailingSlash) return -E.ENOTDIR;
  }
  if (src.type !== S_IFDIR) {
    if (op.trailingSlash) return -E.ENOTDIR;
    if (np.trailingSlash && !(flags & RENAME_EXCHANGE)) return -E.ENOTDIR;
  }
  // Source must not be an ancestor of the target, nor the target of the source.
  if (passesThrough(np.dir, src)) return -E.EINVAL;
  if (dst && passesThrough(op.dir, dst)) return flags & RENAME_EXCHANGE ? -E.EINVAL : -E.ENOTEMPTY;
  if (dst && sameInode(src, dst)) return 0;

  const srcIsDir = src.type === S_IFDIR;
  let r = mayDelete(t, oldDir, src, srcIsDir);
  if (r < 0) return r;
  if (!dst) r = mayCreate(t, newDir);
  else r = mayDelete(t, newDir, dst, flags & RENAME_EXCHANGE ? dst.type === S_IFDIR : srcIsDir);
  if (r < 0) return r;
  if (!oldDir.rename) return -E.EPERM;
  if (isMountpoint(k, op.dir, op.name) || (dst && isMountpoint(k, np.dir, np.name))) return -E.EBUSY;
  if (sameInode(src, src.fs.root)) return -E.EBUSY;
  // Moving a directory to a new parent rewrites its '..': write access to it is needed.
  if (srcIsDir && !sameInode(oldDir, newDir) && t.proc.cred.fsuid !== 0) {
    r = inodePermission(t.proc.cred, src, MAY_WRITE);
    if (r < 0) return r;
  }
  return oldDir.rename(op.name, newDir, np.name, flags);
}

/** Rename implements Linux syscall rename(2). */
function sysRename(k: Kernel, t: Task, oldPtr: number, newPtr: number): number {
  return doRename(k, t, AT_FDCWD, oldPtr, AT_FDCWD, newPtr, 0);
}

/** Renameat implements Linux syscall renameat(2). */
function sysRenameat(k: Kernel, t: Task, olddirfd: number, oldPtr: number, newdirfd: number, newPtr: number): number {
  return doRename(k, t, olddirfd | 0, oldPtr, newdirfd | 0, newPtr, 0);
}

/** Renameat2 implements Linux syscall renameat2(2). */
function sysRenameat2(k: Kernel, t: Task, olddirfd: number, oldPtr: number, newdirfd: number, newPtr: number, flags: number): number {
  return doRename(k, t, olddirfd | 0, oldPtr, newdirfd | 0, newPtr, flags >>> 0);
}

// ----- cwd and root -----

/** A directory to enter: ENOTDIR, then search permission (EACCES). */
function enterable(t: Task, loc: Location): number {
  const inode = locInode(loc);
  if (inode.type !== S_IFDIR) return -E.ENOTDIR;
  return inodePermission(t.proc.cred, inode, MAY_EXEC);
}

/** Chdir implements Linux syscall chdir(2). */
function sysChdir(k: Kernel, t: Task, pathPtr: number): number {
  const path = readPath(k, t, pathPtr);
  if (typeof path === 'number') return path;
  const loc = lookupAt(k, t, AT_FDCWD, path, true);
  if (typeof loc === 'number') return loc;
  const r = enterable(t, loc);
  if (r < 0) return r;
  t.proc.fs.cwd = loc;
  return 0;
}

/** Fchdir implements Linux syscall fchdir(2). O_PATH descriptors may be used. */
function sysFchdir(_k: Kernel, t: Task, fd: number): number {
  const f = getFile(t, fd | 0);
  if (typeof f === 'number') return f;
  const loc = fileLocation(t, f);
  const r = enterable(t, loc);
  if (r < 0) return r;
  t.proc.fs.cwd = loc;
  return 0;
}

/**
 * The cwd as the process sees it: relative to its root; a cwd outside the
 * root (after chroot) is "(unreachable)" + its path, as d_path() gives.
 */
export function cwdPath(t: Task): string {
  const { root, cwd } = t.proc.fs;
  let under = cwd.length >= root.length;
  for (let i = 0; under && i < root.length; i++) {
    if (!sameInode(root[i]!.inode, cwd[i]!.inode)) under = false;
  }
  if (!under) return '(unreachable)' + locPath(cwd);
  if (cwd.length === root.length) return '/';
  return '/' + cwd.slice(root.length).map((e) => e.name).join('/');
}

/**
 * Getcwd implements Linux syscall getcwd(2): the length with the NUL,
 * ERANGE if it does not fit, ENOENT once the directory was removed.
 */
function sysGetcwd(k: Kernel, t: Task, buf: number, size: number): number {
  const st = locInode(t.proc.fs.cwd).getattr();
  if (typeof st !== 'number' && st.nlink === 0) return -E.ENOENT;
  const path = Buffer.from(cwdPath(t) + '\0', 'utf8');
  if (path.length > 4096) return -E.ENAMETOOLONG;
  // size is a size_t: a negative register value is a huge size.
  if (size >= 0 && path.length > size) return -E.ERANGE;
  const w = k.mem.write(pidOf(t), buf, path);
  return w < 0 ? w : path.length;
}

/** Chroot implements Linux syscall chroot(2): lookup errors, then EACCES, then EPERM for non-root. */
function sysChroot(k: Kernel, t: Task, pathPtr: number): number {
  const path = readPath(k, t, pathPtr);
  if (typeof path === 'number') return path;
  const loc = lookupAt(k, t, AT_FDCWD, path, true);
  if (typeof loc === 'number') return loc;
  const r = enterable(t, loc);
  if (r < 0) return r;
  if (t.proc.cred.euid !== 0) return -E.EPERM;
  t.proc.fs.root = loc;
  return 0;
}

// ----- mounts -----

const MS_RDONLY = 0x1, MS_NOSUID = 0x2, MS_NODEV = 0x4, MS_NOEXEC = 0x8, MS_SYNCHRONOUS = 0x10,
  MS_REMOUNT = 0x20, MS_MANDLOCK = 0x40, MS_DIRSYNC = 0x80, MS_NOSYMFOLLOW = 0x100, MS_NOATIME = 0x400,
  MS_NODIRATIME = 0x800, MS_BIND = 0x1000, MS_MOVE = 0x2000, MS_REC = 0x4000, MS_SILENT = 0x8000,
  MS_POSIXACL = 0x10000, MS_UNBINDABLE = 0x20000, MS_PRIVATE = 0x40000, MS_SLAVE = 0x80000,
  MS_SHARED = 0x100000, MS_RELATIME = 0x200000, MS_KERNMOUNT = 0x400000, MS_I_VERSION = 0x800000,
  MS_STRICTATIME = 0x1000000, MS_LAZYTIME = 0x2000000, MS_NOUSER = 0x80000000;
const MS_MGC_MSK = 0xffff0000, MS_MGC_VAL = 0xc0ed0000;
const MS_KNOWN = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_SYNCHRONOUS | MS_REMOUNT | MS_MANDLOCK |
  MS_DIRSYNC | MS_NOSYMFOLLOW | MS_NOATIME | MS_NODIRATIME | MS_BIND | MS_MOVE | MS_REC | MS_SILENT |
  MS_POSIXACL | MS_UNBINDABLE | MS_PRIVATE | MS_SLAVE | MS_SHARED | MS_RELATIME | MS_KERNMOUNT |
  MS_I_VERSION | MS_STRICTATIME | MS_LAZYTIME;
const MS_PROPAGATION = MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE;

const MNT_FORCE = 1, MNT_DETACH = 2, MNT_EXPIRE = 4, UMOUNT_NOFOLLOW = 8;

/** The fourth field of /proc/mounts for these flags, then the filesystem's own options. */
function mountOptions(flags: number, data: string): string {
  const o = [flags & MS_RDONLY ? 'ro' : 'rw'];
  if (flags & MS_NOSUID) o.push('nosuid');
  if (flags & MS_NODEV) o.push('nodev');
  if (flags & MS_NOEXEC) o.push('noexec');
  if (flags & MS_SYNCHRONOUS) o.push('sync');
  if (flags & MS_MANDLOCK) o.push('mand');
  if (flags & MS_DIRSYNC) o.push('dirsync');
  if (flags & MS_NOSYMFOLLOW) o.push('nosymfollow');
  if (flags & MS_NOATIME) o.push('noatime');
  else if (!(flags & MS_STRICTATIME)) o.push('relatime');
  if (flags & MS_NODIRATIME) o.push('nodiratime');
  for (const d of data.split(',')) if (d !== '' && !o.includes(d)) o.push(d);
  return o.join(',');
}

/** An optional string argument of mount(2): NULL is undefined; up to a page, as copy_mount_string(). */
function readMountString(k: Kernel, t: Task, ptr: number): string | undefined | number {
  if (ptr === 0) return undefined;
  const s = k.mem.readCString(pidOf(t), ptr, 4096);
  return s === -E.ENAMETOOLONG ? -E.EINVAL : s;
}

/** The data page of mount(2): up to 4096 bytes to the first NUL; EFAULT only if none is readable. */
function readMountData(k: Kernel, t: Task, ptr: number): string | number {
  if (ptr === 0) return '';
  const b = k.mem.readPartial(pidOf(t), ptr, 4096);
  if (b.length === 0) return -E.EFAULT;
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString('utf8');
}

/** A filesystem whose root is a directory (or file) inside another: what a bind mount shows. */
function subtreeOf(fs: FileSystem, root: Inode): FileSystem {
  if (sameInode(fs.root, root)) return fs;
  return { type: fs.type, dev: fs.dev, root, statfs: () => fs.statfs() };
}

/**
 * Mount implements Linux syscall mount(2): new mounts of the types in
 * `filesystemTypes`, bind mounts (MS_REC binds only the top mount),
 * propagation changes (accepted: there is one mount namespace), and
 * remounts that keep the read-only state. MS_MOVE is not supported.
 */
function sysMount(k: Kernel, t: Task, sourcePtr: number, targetPtr: number, typePtr: number, flagsArg: number, dataPtr: number): number {
  // Copied in Linux's order: type, source, data, then the target's lookup.
  const type = readMountString(k, t, typePtr);
  if (typeof type === 'number') return type;
  const source = readMountString(k, t, sourcePtr);
  if (typeof source === 'number') return source;
  const data = readMountData(k, t, dataPtr);
  if (typeof data === 'number') return data;
  const target = readPath(k, t, targetPtr);
  if (typeof target === 'number') return target;
  const loc = lookupAt(k, t, AT_FDCWD, target, true);
  if (typeof loc === 'number') return loc;

  let flags = flagsArg >>> 0;
  if (((flags & MS_MGC_MSK) >>> 0) === MS_MGC_VAL) flags = (flags & ~MS_MGC_MSK) >>> 0;
  if (flags & MS_NOUSER) return -E.EINVAL;
  if (flags & ~MS_KNOWN) return -E.EINVAL;
  if (t.proc.cred.euid !== 0) return -E.EPERM;
  const targetPath = locPath(loc);
  const here = k.mounts.mountAt(targetPath);

  if (flags & MS_REMOUNT) {
    if (!here) return -E.EINVAL;
    // The mount table cannot change options in place: only a remount that keeps ro/rw is honoured.
    const wasRo = here.options.split(',').includes('ro');
    if (wasRo !== ((flags & MS_RDONLY) !== 0)) return -E.EINVAL;
    // The filesystem's own options (tmpfs's size=) change as its reconfigure allows;
    // MS_BIND|MS_REMOUNT changes only the mount's flags (do_reconfigure_mnt).
    return flags & MS_BIND ? 0 : here.fs.remount?.(data) ?? 0;
  }
  if (flags & MS_BIND) {
    if (source === undefined || source === '') return -E.EINVAL;
    const src = lookupAt(k, t, AT_FDCWD, source, true);
    if (typeof src === 'number') return src;
    const srcInode = locInode(src);
    if ((srcInode.type === S_IFDIR) !== (locInode(loc).type === S_IFDIR)) return -E.ENOTDIR;
    const from = mountOf(k, src);
    return k.mounts.mount(subtreeOf(srcInode.fs, srcInode), targetPath, from?.source ?? 'none', from?.options ?? 'rw');
  }
  if (flags & MS_PROPAGATION) {
    const prop = flags & ~(MS_REC | MS_SILENT);
    if (prop & (prop - 1)) return -E.EINVAL;
    return here ? 0 : -E.EINVAL;
  }
  if (flags & MS_MOVE) return -E.EINVAL;

  if (type === undefined) return -E.EINVAL;
  const factory = filesystemTypes.get(type);
  if (!factory) return -E.ENODEV;
  if (locInode(loc).type !== S_IFDIR) return -E.ENOTDIR;
  const fs = factory(k, source ?? '', data);
  if (typeof fs === 'number') return fs;
  // A filesystem that shows its own options (tmpfs) has them parsed; /proc/mounts asks it.
  return k.mounts.mount(fs, targetPath, source || 'none', mountOptions(flags, fs.showOptions ? '' : data));
}

/**
 * Is the mount at `path` still in use: a cwd, a root or an open file under
 * it (EBUSY unless MNT_DETACH)? A location is under the mount when its path
 * is and it passes through the mount's root there, so a file open on the
 * directory the mount covers does not count.
 */
function mountBusy(k: Kernel, path: string, mountRoot: Inode): boolean {
  const depth = path === '/' ? 0 : path.split('/').length - 1;
  const under = (loc: Location | undefined): boolean => {
    if (!loc || loc.length <= depth) return false;
    const p = locPath(loc);
    if (p !== path && !p.startsWith(path === '/' ? '/' : path + '/')) return false;
    return sameInode(loc[depth]!.inode, mountRoot);
  };
  for (const p of k.procs.values()) {
    if (!p.alive) continue;
    if (under(p.fs.cwd) || under(p.fs.root)) return true;
    for (const [, f] of p.files.entries()) if (under(f.location)) return true;
  }
  return false;
}

/** Mounts asked to expire once (MNT_EXPIRE): the second ask unmounts. */
const expiring = new Set<string>();

/** Umount2 implements Linux syscall umount2(2). */
function sysUmount2(k: Kernel, t: Task, targetPtr: number, flagsArg: number): number {
  const flags = flagsArg >>> 0;
  if (flags & ~(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW)) return -E.EINVAL;
  if (t.proc.cred.euid !== 0) return -E.EPERM;
  const target = readPath(k, t, targetPtr);
  if (typeof target === 'number') return target;
  const loc = lookupAt(k, t, AT_FDCWD, target, !(flags & UMOUNT_NOFOLLOW));
  if (typeof loc === 'number') return loc;
  const path = locPath(loc);
  const m = k.mounts.mountAt(path);
  if (!m) return -E.EINVAL;
  if (flags & MNT_EXPIRE) {
    if (flags & (MNT_FORCE | MNT_DETACH)) return -E.EINVAL;
    if (mountBusy(k, path, m.fs.root)) return -E.EBUSY;
    if (!expiring.has(path)) {
      expiring.add(path);
      return -E.EAGAIN;
    }
  } else if (!(flags & MNT_DETACH) && mountBusy(k, path, m.fs.root)) {
    return -E.EBUSY;
  }
  const r = k.mounts.umount(path);
  if (r === 0) expiring.delete(path);
  // The last mount of a filesystem went with nothing left under it: what it holds goes
  // (a tmpfs's files, as kill_litter_super() drops them), and the guest has its memory back.
  if (r === 0 && !k.mounts.list().some((o) => o.fs.dev === m.fs.dev) && !mountBusy(k, path, m.fs.root)) {
    m.fs.release?.();
  }
  return r;
}

export const fsDirSyscalls: SyscallFamily = {
  getdents64: sysGetdents64, getdents: sysGetdents,
  mkdir: sysMkdir, mkdirat: sysMkdirat, mknod: sysMknod, mknodat: sysMknodat,
  symlink: sysSymlink, symlinkat: sysSymlinkat, link: sysLink, linkat: sysLinkat,
  unlink: sysUnlink, unlinkat: sysUnlinkat, rmdir: sysRmdir,
  rename: sysRename, renameat: sysRenameat, renameat2: sysRenameat2,
  chdir: sysChdir, fchdir: sysFchdir, getcwd: sysGetcwd, chroot: sysChroot,
  mount: sysMount, umount2: sysUmount2,
};
