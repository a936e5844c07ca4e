/**
 * The guest's mount tree at boot: the copy-on-write root, /dev, /dev/shm,
 * /proc and /tmp, and the filesystem types mount(2) can create later.
 */
import type { KernelBootOptions } from './boot-options.ts';
import type { HostConsole } from './host-console.ts';
import type { Kernel } from './kernel.ts';
import { createProcView, hostRootPrefixes } from './proc-view.ts';
import { filesystemTypes } from './syscalls/fs-dir.ts';
import { createDevfs, memDevices } from './vfs/devfs.ts';
import { allocDev, MountTable } from './vfs/mounts.ts';
import { OverlayFs } from './vfs/overlay-fs.ts';
import type { Location } from './vfs/path-walk.ts';
import { createProcfs } from './vfs/procfs.ts';
import { Tmpfs } from './vfs/tmpfs.ts';
import { parseTmpfsOptions } from './vfs/tmpfs-options.ts';
import type { Cred, FileSystem, Inode } from './vfs/types.ts';

const ROOT_CRED: Cred = { uid: 0, gid: 0, euid: 0, egid: 0, fsuid: 0, fsgid: 0, groups: [] };

/** A directory the kernel mounts on must exist in the root; make it in the upper layer if not. */
function ensureDir(root: Inode, name: string, mode: number): void {
  if (typeof root.lookup?.(name) === 'number') root.mkdir?.(name, mode, ROOT_CRED);
}

export function mountKernelFilesystems(k: Kernel, opts: KernelBootOptions, console: HostConsole):
  { rootLocation: Location; devfs: FileSystem } {
  const mounts = new MountTable();
  k.mounts = mounts;
  const memfd = (name: string) => k.platform.memfd(name);

  // A device node a guest makes on its root opens the drivers /dev's nodes open.
  const root = new OverlayFs(opts.lowerRoot, opts.upperRoot, allocDev(), memDevices);
  mounts.mount(root, '/', 'overlay', 'rw,relatime');
  hostRootPrefixes.splice(0, hostRootPrefixes.length, ...[root.upper, root.lower].sort((a, b) => b.length - a.length));
  ensureDir(root.root, 'dev', 0o755);
  ensureDir(root.root, 'proc', 0o555);
  ensureDir(root.root, 'tmp', 0o1777);

  // /dev's own inodes (console, tty) are made before the tmpfs holding them.
  const devDev = allocDev();
  let devfs: FileSystem | undefined;
  const devInfo: FileSystem = {
    type: 'devtmpfs', dev: devDev,
    get root() { return devfs!.root; },
    statfs: () => devfs!.statfs(),
  };
  devfs = createDevfs(devDev, memfd, {
    console: console.consoleInode(devInfo, 900001),
    tty: console.ttyAliasInode(devInfo, 900002),
  });
  mounts.mount(devfs, '/dev', 'devtmpfs', 'rw,nosuid,relatime,mode=755');
  // Every tmpfs defaults to half the guest's memory (tmpfs(5): half of RAM); all of them share that memory.
  const ramBytes = opts.memBytes;
  mounts.mount(new Tmpfs(allocDev(), memfd, { ramBytes }), '/dev/shm', 'tmpfs', 'rw,nosuid,nodev');

  const view = createProcView(k);
  const newProc = () => createProcfs(view, allocDev());
  mounts.mount(newProc(), '/proc', 'proc', 'rw,nosuid,nodev,noexec,relatime');
  mounts.mount(new Tmpfs(allocDev(), memfd, { ramBytes }), '/tmp', 'tmpfs', 'rw,nosuid,nodev');

  filesystemTypes.set('proc', () => newProc());
  filesystemTypes.set('tmpfs', (_k, _source, data) => {
    const params = parseTmpfsOptions(data, ramBytes);
    return typeof params === 'number' ? params : new Tmpfs(allocDev(), memfd, { params, ramBytes });
  });
  filesystemTypes.set('devtmpfs', () => devfs!);

  return { rootLocation: [{ name: '', inode: root.root }], devfs };
}
