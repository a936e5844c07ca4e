/**
 * Where a guest file lives on the host, for trace lines: the root
 * filesystem's copy-on-write upper layer or its read-only lower layer.
 * Files of tmpfs, procfs and devfs have no host path.
 */
import type { Kernel } from '../kernel.ts';
import { lookupAt } from '../lookup.ts';
import { NR } from '../syscall-names.ts';
import type { Task } from '../task.ts';
import { OverlayFs } from '../vfs/overlay-fs.ts';
import { locInode } from '../vfs/path-walk.ts';
import type { Inode } from '../vfs/types.ts';
import { lastPathArg } from './decode.ts';

export interface HostPath {
  layer: 'upper' | 'lower';
  path: string;
}

/** The host file behind an inode of the overlay root, as the overlay reaches it (its upper copy first). */
export function hostPathOfInode(inode: Inode): HostPath | undefined {
  const fs = inode.fs;
  return fs instanceof OverlayFs ? fs.hostPathOf(inode) : undefined;
}

const OPENS = new Set<number>([NR.open, NR.openat, NR.openat2, NR.creat]);
const EXECS = new Set<number>([NR.execve, NR.execveat]);

/**
 * The host file a successful path syscall ended on: the file an open
 * returned, the program an exec loaded, else what its last path argument
 * names now (so nothing for unlink, the new name for rename).
 */
export function hostPathOfCall(k: Kernel, t: Task, nr: number, args: readonly number[], result: number): HostPath | undefined {
  if (result < 0) return undefined;
  if (OPENS.has(nr)) {
    const f = t.proc.files.get(result);
    return f ? hostPathOfInode(f.inode) : undefined;
  }
  if (EXECS.has(nr)) {
    const exe = t.proc.mm.exeInode;
    return exe ? hostPathOfInode(exe) : undefined;
  }
  const arg = lastPathArg(nr, args);
  if (!arg) return undefined;
  const path = k.mem.readPath(t.proc.mm.hostPid, args[arg.index]!);
  if (typeof path === 'number' || path === '') return undefined;
  // /proc/self and friends resolve against the current task, as during the call.
  const saved = k.current;
  k.current = t;
  try {
    const loc = lookupAt(k, t, arg.dirfd, path, arg.follow);
    return typeof loc === 'number' ? undefined : hostPathOfInode(locInode(loc));
  } finally {
    k.current = saved;
  }
}
