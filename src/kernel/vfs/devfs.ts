/**
 * /dev: a tmpfs populated with the memory devices of mem(4), null(4),
 * zero(4), full(4) and random(4), the console and /dev/tty supplied by
 * the kernel, and the usual links into /proc/self/fd. Device nodes open
 * through `memDevices` by rdev, so a guest's own `mknod c 1 3` works too.
 */
import { randomFillSync } from 'node:crypto';
import { E } from '../errno.ts';
import { makedev } from './mounts.ts';
import { type CreateMemfd, type DeviceOpen, Tmpfs } from './tmpfs.ts';
import { POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, S_IFCHR, type Cred, type FileOps, type Inode, type OpenFile } from './types.ts';

/** Longest read served at once; read(2) of a character device may return less. */
const MAX_IO = 1 << 24;
const ALWAYS_READY = POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM;

/** Major 1, "mem" (Documentation/admin-guide/devices.txt). */
export const DEV_NULL = makedev(1, 3);
export const DEV_ZERO = makedev(1, 5);
export const DEV_FULL = makedev(1, 7);
export const DEV_RANDOM = makedev(1, 8);
export const DEV_URANDOM = makedev(1, 9);

function zeros(len: number): Uint8Array {
  return new Uint8Array(Math.max(0, Math.min(len, MAX_IO)));
}

/**
 * Devices keep no state: one ops object per device serves every open.
 * `write` gets the bytes written; a device that never looks at them gives
 * `discard`, which gets their count, so a write to it does not read the
 * caller's buffer at all: write_null() and write_full() in
 * drivers/char/mem.c do not, and a bad buffer is no EFAULT there.
 */
function device(
  read: (len: number) => Uint8Array | number,
  write: ((data: Uint8Array) => number) | { discard: (len: number) => number },
): DeviceOpen {
  // lseek on these succeeds, and the position stays 0 (drivers/char/mem.c
  // null_lseek; random's noop_llseek, as its reads do not move it).
  const common: FileOps = {
    seekable: true,
    llseek: (f: OpenFile) => (f.pos = 0),
    read: (_f, _ctx, len) => read(len),
    poll: () => ALWAYS_READY,
  };
  const ops: FileOps = typeof write === 'function'
    ? { ...common, write: (_f, _ctx, data) => write(data) }
    : { ...common, write: (_f, _ctx, data) => write.discard(data.length), writeFromGuest: (_f, _ctx, _addr, len) => write.discard(len) };
  return () => ops;
}

/** Drivers of the mem devices by rdev, for any tmpfs that holds device nodes. */
export const memDevices: ReadonlyMap<number, DeviceOpen> = new Map<number, DeviceOpen>([
  [DEV_NULL, device(() => 0, { discard: (len) => len })],
  [DEV_ZERO, device(zeros, { discard: (len) => len })],
  [DEV_FULL, device(zeros, { discard: () => -E.ENOSPC })],
  [DEV_RANDOM, device((len) => randomFillSync(zeros(len)), (d) => d.length)],
  [DEV_URANDOM, device((len) => randomFillSync(zeros(len)), (d) => d.length)],
]);

const ROOT: Cred = { uid: 0, gid: 0, euid: 0, egid: 0, fsuid: 0, fsgid: 0, groups: [] };

/**
 * A new /dev. `extra.console` and `extra.tty` are the kernel's console
 * device and /dev/tty alias inodes, placed as they are. The kernel mounts
 * a tmpfs on the empty `shm` directory.
 */
export function createDevfs(dev: number, createMemfd: CreateMemfd, extra: { console: Inode; tty: Inode }): Tmpfs {
  const fs = new Tmpfs(dev, createMemfd, { mode: 0o755, type: 'devtmpfs', devices: memDevices });
  const root = fs.root;
  const must = (r: number, what: string): void => {
    if (r < 0) throw new Error(`devfs: cannot create ${what} (errno ${-r})`);
  };
  const nodes: ReadonlyArray<readonly [string, number]> = [
    ['null', DEV_NULL], ['zero', DEV_ZERO], ['full', DEV_FULL], ['random', DEV_RANDOM], ['urandom', DEV_URANDOM],
  ];
  for (const [name, rdev] of nodes) must(root.mknod(name, S_IFCHR | 0o666, rdev, ROOT), name);
  must(fs.addInode(root, 'console', extra.console), 'console');
  must(fs.addInode(root, 'tty', extra.tty), 'tty');
  must(root.symlink('stdin', '/proc/self/fd/0', ROOT), 'stdin');
  must(root.symlink('stdout', '/proc/self/fd/1', ROOT), 'stdout');
  must(root.symlink('stderr', '/proc/self/fd/2', ROOT), 'stderr');
  must(root.symlink('fd', '/proc/self/fd', ROOT), 'fd');
  must(root.mkdir('shm', 0o1777, ROOT), 'shm');
  must(root.mkdir('pts', 0o755, ROOT), 'pts');
  return fs;
}
