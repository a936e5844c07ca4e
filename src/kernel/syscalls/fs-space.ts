/**
 * Space of files: fallocate(2). The checks are vfs_fallocate()'s, in its
 * order (fs/open.c); the work is the filesystem's (tmpfs allocates pages
 * against its size=), and a filesystem without it gives EOPNOTSUPP, on
 * which glibc's posix_fallocate falls back to writing.
 */
import { E } from '../errno.ts';
import type { Kernel } from '../kernel.ts';
import type { Task } from '../task.ts';
import { S_IFDIR, S_IFIFO, S_IFMT, S_IFREG } from '../vfs/types.ts';
import { getFile, writable } from './fs-io.ts';
import type { SyscallFamily } from './table.ts';

const FALLOC_FL_KEEP_SIZE = 0x01, FALLOC_FL_PUNCH_HOLE = 0x02, FALLOC_FL_COLLAPSE_RANGE = 0x08,
  FALLOC_FL_ZERO_RANGE = 0x10, FALLOC_FL_INSERT_RANGE = 0x20, FALLOC_FL_UNSHARE_RANGE = 0x40,
  FALLOC_FL_WRITE_ZEROES = 0x80;
const FALLOC_FL_MODE_MASK = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_ZERO_RANGE |
  FALLOC_FL_INSERT_RANGE | FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_WRITE_ZEROES;
/** MAX_LFS_FILESIZE on 64-bit; offsets past what a double holds exactly are past it here too. */
const MAX_FILE_SIZE = Number.MAX_SAFE_INTEGER;

/** vfs_fallocate(): the modes are exclusive, and only some take FALLOC_FL_KEEP_SIZE. */
function modeValid(mode: number): boolean {
  if (mode & ~(FALLOC_FL_MODE_MASK | FALLOC_FL_KEEP_SIZE)) return false;
  switch (mode & FALLOC_FL_MODE_MASK) {
    case 0: case FALLOC_FL_UNSHARE_RANGE: case FALLOC_FL_ZERO_RANGE: return true;
    case FALLOC_FL_PUNCH_HOLE: return (mode & FALLOC_FL_KEEP_SIZE) !== 0;
    case FALLOC_FL_COLLAPSE_RANGE: case FALLOC_FL_INSERT_RANGE: case FALLOC_FL_WRITE_ZEROES:
      return (mode & FALLOC_FL_KEEP_SIZE) === 0;
    default: return false;
  }
}

/** Fallocate implements Linux syscall fallocate(2). */
function sysFallocate(_k: Kernel, t: Task, fd: number, modeArg: number, offset: number, len: number): number {
  const f = getFile(t, fd | 0);
  if (typeof f === 'number') return f;
  const mode = modeArg >>> 0;
  if (offset < 0 || len <= 0) return -E.EINVAL;
  if (!modeValid(mode)) return -E.EOPNOTSUPP;
  if (!writable(f)) return -E.EBADF;
  const type = f.inode.type & S_IFMT;
  if (type === S_IFIFO) return -E.ESPIPE;
  if (type === S_IFDIR) return -E.EISDIR;
  if (type !== S_IFREG) return -E.ENODEV;
  if (offset + len > MAX_FILE_SIZE) return -E.EFBIG;
  return f.ops.fallocate?.(f, mode, offset, len) ?? -E.EOPNOTSUPP;
}

export const fsSpaceSyscalls: SyscallFamily = {
  fallocate: sysFallocate,
};
