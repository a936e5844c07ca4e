/**
 * The busybox root filesystem, assembled for real from Debian's
 * busybox-static (or the host's static busybox) into a private cache, and
 * the checks made on a --rootfs directory.
 */
import { execa } from 'execa';
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBusyboxRootfs } from '../src/rootfs/busybox.ts';
import { isStaticX86_64, readElfInfo } from '../src/rootfs/elf.ts';
import { resolveInRoot } from '../src/rootfs/in-root.ts';
import { validateRootfsDir } from '../src/rootfs/resolve.ts';

let scratch: string;
let savedCache: string | undefined;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'vmctl-rootfs-test-'));
  savedCache = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = join(scratch, 'cache');
});

afterAll(async () => {
  if (savedCache === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = savedCache;
  await rm(scratch, { recursive: true, force: true });
});

describe('the busybox root filesystem', () => {
  let root: string;
  beforeAll(async () => {
    root = await ensureBusyboxRootfs();
  });

  it('is assembled once, under the cache directory', async () => {
    expect(root.startsWith(join(scratch, 'cache', 'vmctl', 'rootfs', 'busybox-'))).toBe(true);
    expect(await ensureBusyboxRootfs()).toBe(root);
  });

  it('holds a static x86_64 busybox that runs natively', async () => {
    const busybox = join(root, 'bin/busybox');
    expect(isStaticX86_64(await readElfInfo(busybox))).toBe(true);
    const { stdout } = await execa(busybox, ['echo', 'hello']);
    expect(stdout).toBe('hello');
  });

  it('links every applet relatively to /bin/busybox', async () => {
    expect(await readlink(join(root, 'bin/sh'))).toBe('busybox');
    expect(await readlink(join(root, 'usr/bin/awk'))).toBe('../../bin/busybox');
    expect(await resolveInRoot(root, '/usr/bin/awk')).toBe(join(root, 'bin/busybox'));
  });

  it('has the directories and /etc a guest expects', async () => {
    for (const dir of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'dev', 'tmp', 'root', 'home', 'var']) {
      expect((await stat(join(root, dir))).isDirectory()).toBe(true);
    }
    expect((await stat(join(root, 'tmp'))).mode & 0o1777).toBe(0o1777);
    expect(await readFile(join(root, 'etc/passwd'), 'utf8')).toMatch(/^root:x:0:0:root:\/root:\/bin\/sh$/m);
    expect(await readFile(join(root, 'etc/group'), 'utf8')).toMatch(/^root:x:0:$/m);
    expect((await readFile(join(root, 'etc/hostname'), 'utf8')).trim()).toBe('vmctl');
    expect(await readFile(join(root, 'etc/profile'), 'utf8')).toContain("PS1='vmctl:\\w\\$ '");
  });

  it('has an executable /sbin/init script that mounts /proc and starts a shell', async () => {
    const init = join(root, 'sbin/init');
    expect((await lstat(init)).isFile()).toBe(true);
    expect((await stat(init)).mode & 0o111).toBe(0o111);
    const text = await readFile(init, 'utf8');
    expect(text.startsWith('#!/bin/sh\n')).toBe(true);
    expect(text).toContain('mount -t proc proc /proc');
    expect(text).toMatch(/exec .*\/bin\/sh/);
  });

  it('is accepted as a --rootfs', async () => {
    expect(await validateRootfsDir(root)).toBe(root);
  });
});

describe('resolveInRoot', () => {
  it('follows absolute and relative links without leaving the root', async () => {
    const root = join(scratch, 'walk');
    await mkdir(join(root, 'bin'), { recursive: true });
    await writeFile(join(root, 'bin/real'), '');
    await symlink('/bin/real', join(root, 'bin/abs'));
    await symlink('../../../../bin/real', join(root, 'bin/up'));
    await symlink('/etc/passwd', join(root, 'bin/host'));
    expect(await resolveInRoot(root, '/bin/abs')).toBe(join(root, 'bin/real'));
    expect(await resolveInRoot(root, '/bin/up')).toBe(join(root, 'bin/real'));
    expect(await resolveInRoot(root, '/../../bin/real')).toBe(join(root, 'bin/real'));
    // The host's /etc/passwd exists, the root's does not.
    expect(await resolveInRoot(root, '/bin/host')).toBeUndefined();
  });

  it('gives up on a symlink loop', async () => {
    const root = join(scratch, 'loop');
    await mkdir(root, { recursive: true });
    await symlink('/a', join(root, 'a'));
    expect(await resolveInRoot(root, '/a')).toBeUndefined();
  });
});

describe('validateRootfsDir', () => {
  it('rejects a /bin/sh that is not x86_64', async () => {
    const root = join(scratch, 'arm');
    await mkdir(join(root, 'bin'), { recursive: true });
    const header = Buffer.alloc(64);
    Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(header);
    header.writeUInt16LE(183, 18); // EM_AARCH64
    await writeFile(join(root, 'bin/sh'), header);
    await expect(validateRootfsDir(root)).rejects.toThrow('/bin/sh is not an x86_64 program');
  });

  it('accepts a shell script as /bin/sh', async () => {
    const root = join(scratch, 'script');
    await mkdir(join(root, 'bin'), { recursive: true });
    await writeFile(join(root, 'bin/sh'), '#!/bin/busybox sh\n');
    expect(await validateRootfsDir(root)).toBe(root);
  });
});
