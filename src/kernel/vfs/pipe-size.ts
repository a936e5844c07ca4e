/**
 * A pipe's capacity as fcntl(2) F_GETPIPE_SZ / F_SETPIPE_SZ and
 * /proc/sys/fs/pipe-max-size see it (pipe(7), "/proc files"): sizes are
 * rounded up to a power-of-two number of pages, and only a privileged
 * caller (CAP_SYS_RESOURCE: the guest's root) may grow a pipe past
 * pipe-max-size. See fs/pipe.c: round_pipe_size, pipe_set_size.
 */
import { E } from '../errno.ts';
import type { Pipe } from './pipe.ts';

const PAGE_SIZE = 4096;

/** The sysctls of pipes: what root may change through /proc/sys/fs. */
export const pipeSysctl = {
  /** pipe-max-size: the most an unprivileged F_SETPIPE_SZ may ask (default 1 MiB) */
  maxSize: 1048576,
};

/** round_pipe_size(): a page at least, else the next power of two; 0 (invalid) above 2 GiB. */
export function roundPipeSize(size: number): number {
  if (size > 2 ** 31) return 0;
  if (size < PAGE_SIZE) return PAGE_SIZE;
  return 2 ** Math.ceil(Math.log2(size));
}

/**
 * F_SETPIPE_SZ with fcntl's unsigned int argument: the new capacity in
 * bytes, EINVAL for a size past 2 GiB, EPERM for an unprivileged caller
 * growing the pipe past pipe-max-size, EBUSY when the buffered data would
 * not fit.
 */
export function setPipeSize(pipe: Pipe, arg: number, privileged: boolean): number {
  const size = roundPipeSize(arg >>> 0);
  if (size === 0) return -E.EINVAL;
  if (size > pipe.capacity && size > pipeSysctl.maxSize && !privileged) return -E.EPERM;
  return pipe.resize(size);
}

/** A write to /proc/sys/fs/pipe-max-size (proc_dopipe_max_size): stored rounded; 0 or -EINVAL. */
export function setPipeMaxSize(text: string): number {
  const m = /^\s*(\d+)\s*$/.exec(text);
  if (!m) return -E.EINVAL;
  const size = roundPipeSize(Number(m[1]));
  if (size === 0) return -E.EINVAL;
  pipeSysctl.maxSize = size;
  return 0;
}
