/**
 * The VFS building blocks on real host directories and real fds: the
 * overlay root, tmpfs, pipes, /dev and the mount table with the path walk.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { E } from '../src/kernel/errno.ts';
import { WaitQueue } from '../src/kernel/wait-queue.ts';
import { buildHost } from '../src/host/build.ts';
import { createDevfs, DEV_NULL, memDevices } from '../src/kernel/vfs/devfs.ts';
import { allocDev, major, makedev, minor, MountTable } from '../src/kernel/vfs/mounts.ts';
import { OPAQUE_MARKER, OverlayFs } from '../src/kernel/vfs/overlay-fs.ts';
import { locInode, locPath, resolve, resolveParent, type Location, type WalkContext } from '../src/kernel/vfs/path-walk.ts';
import { createAnonPipe, Pipe, PIPE_BUF, PIPE_CAPACITY } from '../src/kernel/vfs/pipe.ts';
import { TMPFS_MAGIC, Tmpfs } from '../src/kernel/vfs/tmpfs.ts';
import {
  OpenFile, POLLERR, POLLHUP, POLLIN, POLLOUT, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG,
  type Cred, type FileOps, type Inode, type IoContext, type Stat,
} from '../src/kernel/vfs/types.ts';

const O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_TRUNC = 0o1000, O_NONBLOCK = 0o4000;
const RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2;

const ROOT: Cred = { uid: 0, gid: 0, euid: 0, egid: 0, fsuid: 0, fsgid: 0, groups: [] };
const USER: Cred = { uid: 1000, gid: 1000, euid: 1000, egid: 1000, fsuid: 1000, fsgid: 1000, groups: [] };

function ctxOf(cred: Cred): IoContext {
  return {
    tid: 1, pid: 1, cred, sid: 1, pgid: 1, ctty: undefined,
    signalPgrp: () => {}, pgrpOrphaned: () => false, ignoresSignal: () => false,
    // (these tests call read and write, which carry their bytes in buffers)
    fileToGuest: () => -E.EFAULT, guestToFile: () => -E.EFAULT,
  };
}
const CTX = ctxOf(ROOT);

const scratch = fs.mkdtempSync(join(tmpdir(), 'vmctl-vfs-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

let seq = 0;
function freshDir(tag: string): string {
  const d = join(scratch, `${tag}-${++seq}`);
  fs.mkdirSync(d);
  return d;
}

/** Stand-in for the tracer's memfd_create: an unlinked temp file. */
function memfd(name: string): number {
  const p = join(scratch, `memfd-${name.replace(/\W/g, '_')}-${++seq}`);
  const fd = fs.openSync(p, 'w+');
  fs.unlinkSync(p);
  return fd;
}

function ok<T>(r: T | number): T {
  if (typeof r === 'number') throw new Error(`unexpected errno ${r}`);
  return r;
}

function stat(i: Inode): Stat {
  return ok(i.getattr());
}

function look(dir: Inode, ...names: string[]): Inode {
  let cur = dir;
  for (const n of names) cur = ok(cur.lookup!(n));
  return cur;
}

function openF(i: Inode, flags: number): OpenFile {
  const ops = ok(i.open!(flags, CTX));
  const f = new OpenFile(i, flags, ops, '/test');
  f.refs = 1;
  return f;
}

function readAll(f: OpenFile): string {
  const parts: Buffer[] = [];
  for (let pos = 0; ;) {
    const r = f.ops.read!(f, CTX, 4096, pos);
    if (typeof r === 'number') {
      expect(r).toBe(0);
      break;
    }
    if (r.length === 0) break;
    parts.push(Buffer.from(r));
    pos += r.length;
  }
  return Buffer.concat(parts).toString();
}

function catFile(i: Inode): string {
  const f = openF(i, O_RDONLY);
  const s = readAll(f);
  f.ops.release?.(f);
  return s;
}

function writeFile(i: Inode, text: string, flags = O_WRONLY | O_TRUNC, pos = 0): void {
  const f = openF(i, flags);
  expect(f.ops.write!(f, CTX, Buffer.from(text), pos)).toBe(Buffer.byteLength(text));
  f.ops.release?.(f);
}

function names(dir: Inode): string[] {
  return ok(dir.readdir!()).map((e) => e.name).sort();
}

/** Everything about a host tree that a write could change: types, modes, owners, times, bytes, links. */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (rel: string): void => {
    const p = rel === '' ? root : join(root, rel);
    const st = fs.lstatSync(p, { bigint: true });
    let body = '';
    if (st.isFile()) body = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    else if (st.isSymbolicLink()) body = fs.readlinkSync(p);
    out.set(rel, [st.mode, st.uid, st.gid, st.size, st.nlink, st.ino, st.mtimeNs, st.ctimeNs, body].join(' '));
    if (st.isDirectory()) for (const n of fs.readdirSync(p).sort()) visit(rel === '' ? n : `${rel}/${n}`);
  };
  visit('');
  return out;
}

/** A small static-userland-like lower root. */
function makeLower(): string {
  const lower = freshDir('lower');
  fs.mkdirSync(join(lower, 'etc'));
  fs.writeFileSync(join(lower, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  fs.writeFileSync(join(lower, 'etc/hostname'), 'guest\n');
  fs.mkdirSync(join(lower, 'bin'));
  fs.writeFileSync(join(lower, 'bin/busybox'), Buffer.alloc(200_000, 7), { mode: 0o755 });
  fs.chmodSync(join(lower, 'bin/busybox'), 0o4755);
  fs.symlinkSync('busybox', join(lower, 'bin/sh'));
  fs.symlinkSync('/bin/busybox', join(lower, 'bin/abs'));
  fs.symlinkSync('../../../../../../../etc', join(lower, 'escape'));
  fs.symlinkSync('/', join(lower, 'rootlink'));
  fs.symlinkSync('loop2', join(lower, 'loop1'));
  fs.symlinkSync('loop1', join(lower, 'loop2'));
  fs.mkdirSync(join(lower, 'usr/share/doc'), { recursive: true });
  fs.writeFileSync(join(lower, 'usr/share/doc/README'), 'read me\n');
  fs.writeFileSync(join(lower, 'usr/share/doc/COPYING'), 'GPL\n');
  fs.mkdirSync(join(lower, 'dev'));
  fs.mkdirSync(join(lower, 'tmp'), { mode: 0o1777 });
  fs.mkdirSync(join(lower, 'proc'));
  fs.utimesSync(join(lower, 'etc/passwd'), 1_000_000_000, 1_000_000_000);
  fs.utimesSync(join(lower, 'usr/share/doc'), 1_100_000_000, 1_100_000_000);
  return lower;
}

describe('OverlayFs', () => {
  // The layers are reached through the tracer addon's layer operations.
  beforeAll(() => buildHost({ quiet: true }), 600_000);

  let lower: string;
  let upper: string;
  let ov: OverlayFs;
  let before: Map<string, string>;

  beforeEach(() => {
    lower = makeLower();
    upper = join(freshDir('state'), 'upper');
    before = snapshot(lower);
    ov = new OverlayFs(lower, upper, allocDev());
  });

  const lowerUnchanged = (): void => expect(snapshot(lower)).toEqual(before);

  it('shows the lower layer through an empty upper', () => {
    expect(names(ov.root)).toEqual(['bin', 'dev', 'escape', 'etc', 'loop1', 'loop2', 'proc', 'rootlink', 'tmp', 'usr']);
    expect(catFile(look(ov.root, 'etc', 'passwd'))).toBe('root:x:0:0:root:/root:/bin/sh\n');
    expect(ok(look(ov.root, 'bin', 'sh').readlink!())).toBe('busybox');
    const st = stat(look(ov.root, 'bin', 'busybox'));
    expect(st.mode).toBe(S_IFREG | 0o4755);
    expect(st.size).toBe(200_000);
    expect(st.dev).toBe(ov.dev);
    expect(st.ino).toBe(look(ov.root, 'bin', 'busybox').ino);
    expect(ov.root.lookup!('nope')).toBe(-E.ENOENT);
    expect(ov.statfs().namelen).toBe(255);
    lowerUnchanged();
  });

  it('lists each entry with the inode number and type stat gives it, in every kind of directory', async () => {
    await buildHost({ quiet: true });
    const etc = look(ov.root, 'etc');
    writeFile(ok(etc.create!('motd', 0o644, ROOT)), 'hi\n'); // upper only, in a merged directory
    writeFile(look(etc, 'hostname'), 'copied\n'); // copied up
    expect(etc.unlink!('passwd')).toBe(0); // whiteout
    expect(etc.mkdir!('new.d', 0o755, ROOT)).toBe(0); // upper-only directory
    expect(etc.symlink!('link', 'motd', ROOT)).toBe(0);
    const doc = look(ov.root, 'usr', 'share', 'doc');
    expect(doc.unlink!('README')).toBe(0);
    expect(doc.unlink!('COPYING')).toBe(0);
    expect(look(ov.root, 'usr', 'share').rmdir!('doc')).toBe(0);
    expect(look(ov.root, 'usr', 'share').mkdir!('doc', 0o755, ROOT)).toBe(0); // opaque over a lower one
    for (const fsys of [ov, new OverlayFs(lower, upper, allocDev())]) {
      const seen: string[] = [];
      const visit = (dir: Inode, path: string): void => {
        for (const e of ok(dir.readdir!())) {
          // a fresh filesystem's lookup probes the host itself; the first one's objects are live
          const child = ok(dir.lookup!(e.name));
          const st = stat(child);
          seen.push(path + e.name);
          expect([path + e.name, e.ino, e.type]).toEqual([path + e.name, st.ino, (st.mode & 0o170000) >>> 12]);
          if (child.type === S_IFDIR) visit(child, path + e.name + '/');
        }
      };
      visit(fsys.root, '/');
      expect(seen).toEqual(expect.arrayContaining(
        ['/etc/motd', '/etc/hostname', '/etc/new.d', '/etc/link', '/usr/share/doc', '/bin/busybox']));
      expect(seen).not.toContain('/etc/passwd');
    }
    // a merged directory keeps its lower inode number, in the listing as in stat
    const usr = ok(ov.root.readdir!()).find((e) => e.name === 'usr')!;
    expect(usr.ino).toBe(Number(fs.lstatSync(join(lower, 'usr')).ino));
  });

  it('says when its open truncated the file, so open(2) does not truncate twice', () => {
    const passwd = look(ov.root, 'etc', 'passwd');
    const keep = openF(passwd, O_WRONLY);
    expect(keep.ops.truncated).toBe(false);
    keep.ops.release?.(keep);
    expect(stat(passwd).size).toBeGreaterThan(0);
    const f = openF(passwd, O_WRONLY | O_TRUNC);
    expect(f.ops.truncated).toBe(true);
    f.ops.release?.(f);
    expect(stat(passwd).size).toBe(0);
    expect(fs.statSync(join(upper, 'etc/passwd')).size).toBe(0);
    lowerUnchanged();
  });

  it('creates, writes and reads files in the upper layer only', () => {
    const etc = look(ov.root, 'etc');
    const f = ok(etc.create!('motd', 0o640, USER));
    writeFile(f, 'hello\n');
    expect(catFile(look(ov.root, 'etc', 'motd'))).toBe('hello\n');
    const st = stat(f);
    expect(st.mode).toBe(S_IFREG | 0o640);
    expect([st.uid, st.gid]).toEqual([1000, 1000]);
    expect(fs.readFileSync(join(upper, 'etc/motd'), 'utf8')).toBe('hello\n');
    expect(etc.create!('motd', 0o644, ROOT)).toBe(-E.EEXIST);
    expect(etc.create!('.wh.sneaky', 0o644, ROOT)).toBe(-E.EPERM);
    expect(etc.mkdir!('.wh..wh..opq', 0o755, ROOT)).toBe(-E.EPERM);
    expect(etc.lookup!('.wh.passwd')).toBe(-E.ENOENT);
    lowerUnchanged();
  });

  it('copies a file up on open for write, keeping mode, owner, times and other bytes', () => {
    const bb = look(ov.root, 'bin', 'busybox');
    const f = openF(bb, O_RDWR);
    expect(f.ops.write!(f, CTX, Buffer.from('ELF'), 1)).toBe(3);
    expect(f.ops.hostFd!(f)).toBeGreaterThanOrEqual(0);
    f.ops.release?.(f);
    const host = fs.readFileSync(join(upper, 'bin/busybox'));
    expect(host.length).toBe(200_000);
    expect(host.subarray(0, 5)).toEqual(Buffer.from([7, 0x45, 0x4c, 0x46, 7]));
    // the set-user-ID bit is the guest's metadata, not on the host
    expect(fs.statSync(join(upper, 'bin/busybox')).mode & 0o7777).toBe(0o755);
    expect(stat(bb).mode).toBe(S_IFREG | 0o4755);
    // the parent came up with the lower directory's attributes
    expect(fs.statSync(join(upper, 'bin')).mode).toBe(fs.statSync(join(lower, 'bin')).mode);
    lowerUnchanged();
  });

  it('chmod, chown, utimes and truncate copy up and leave the lower alone', () => {
    const pw = look(ov.root, 'etc', 'passwd');
    const lowerMtime = stat(pw).mtime;
    expect(pw.setattr!({ mode: 0o600 })).toBe(0);
    let st = stat(pw);
    expect(st.mode).toBe(S_IFREG | 0o600);
    expect(st.mtime.sec).toBe(lowerMtime.sec); // chmod does not touch mtime; copy-up kept it
    expect(catFile(pw)).toBe('root:x:0:0:root:/root:/bin/sh\n');
    expect(pw.setattr!({ uid: 1000, gid: 100 })).toBe(0);
    st = stat(pw);
    expect([st.uid, st.gid]).toEqual([1000, 100]);
    expect(pw.setattr!({ mtime: { sec: 1234567890, nsec: 500_000_000 } })).toBe(0);
    st = stat(pw);
    expect(st.mtime.sec).toBe(1234567890);
    expect(Math.abs(st.mtime.nsec - 500_000_000)).toBeLessThan(1000);
    const host = look(ov.root, 'etc', 'hostname');
    expect(host.setattr!({ size: 2 })).toBe(0);
    expect(catFile(host)).toBe('gu');
    expect(look(ov.root, 'etc').setattr!({ size: 0 })).toBe(-E.EISDIR);
    expect(look(ov.root, 'bin', 'sh').setattr!({ mode: 0o700 })).toBe(-E.EOPNOTSUPP);
    // copy-up of a child is not a change of its directory
    expect(stat(look(ov.root, 'usr', 'share', 'doc')).mtime.sec).toBe(1_100_000_000);
    expect(look(ov.root, 'usr', 'share', 'doc', 'README').setattr!({ mode: 0o444 })).toBe(0);
    expect(stat(look(ov.root, 'usr', 'share', 'doc')).mtime.sec).toBe(1_100_000_000);
    lowerUnchanged();
  });

  it('O_TRUNC copies up without the old data', () => {
    const doc = look(ov.root, 'usr', 'share', 'doc', 'README');
    writeFile(doc, 'new', O_WRONLY | O_TRUNC);
    expect(catFile(doc)).toBe('new');
    lowerUnchanged();
  });

  it('unlink whites out a lower file; the whiteout persists', () => {
    const etc = look(ov.root, 'etc');
    expect(etc.unlink!('passwd')).toBe(0);
    expect(etc.lookup!('passwd')).toBe(-E.ENOENT);
    expect(names(etc)).toEqual(['hostname']);
    expect(fs.existsSync(join(upper, 'etc/.wh.passwd'))).toBe(true);
    expect(etc.unlink!('passwd')).toBe(-E.ENOENT);
    expect(etc.unlink!('..')).toBe(-E.EINVAL);
    expect(ov.root.unlink!('etc')).toBe(-E.EISDIR);
    // a new file of that name hides the whiteout's effect and removes it
    writeFile(ok(etc.create!('passwd', 0o644, ROOT)), 'fresh\n');
    expect(fs.existsSync(join(upper, 'etc/.wh.passwd'))).toBe(false);
    expect(catFile(look(ov.root, 'etc', 'passwd'))).toBe('fresh\n');
    expect(etc.unlink!('passwd')).toBe(0);
    const again = new OverlayFs(lower, upper, allocDev());
    expect(look(again.root, 'etc').lookup!('passwd')).toBe(-E.ENOENT);
    expect(names(look(again.root, 'etc'))).toEqual(['hostname']);
    lowerUnchanged();
  });

  it('rmdir needs an empty merged view; mkdir again gives an empty opaque directory', () => {
    const share = look(ov.root, 'usr', 'share');
    expect(share.rmdir!('doc')).toBe(-E.ENOTEMPTY);
    const doc = look(share, 'doc');
    expect(doc.unlink!('README')).toBe(0);
    expect(doc.unlink!('COPYING')).toBe(0);
    expect(names(doc)).toEqual([]);
    expect(share.rmdir!('doc')).toBe(0);
    expect(share.lookup!('doc')).toBe(-E.ENOENT);
    expect(doc.lookup!('README')).toBe(-E.ENOENT); // the old object is dead
    expect(share.mkdir!('doc', 0o700, ROOT)).toBe(0);
    const doc2 = look(share, 'doc');
    expect(names(doc2)).toEqual([]);
    expect(doc2.lookup!('README')).toBe(-E.ENOENT);
    expect(stat(doc2).mode).toBe(S_IFDIR | 0o700);
    expect(fs.existsSync(join(upper, 'usr/share/doc', OPAQUE_MARKER))).toBe(true);
    expect(ov.root.rmdir!('bin')).toBe(-E.ENOTEMPTY);
    expect(look(ov.root, 'etc').rmdir!('passwd')).toBe(-E.ENOTDIR);
    const again = new OverlayFs(lower, upper, allocDev());
    expect(names(look(again.root, 'usr', 'share', 'doc'))).toEqual([]);
    lowerUnchanged();
  });

  it('renames files and directories across the layers', () => {
    const etc = look(ov.root, 'etc');
    const tmp = look(ov.root, 'tmp');
    expect(etc.rename!('hostname', tmp, 'h', 0)).toBe(0);
    expect(etc.lookup!('hostname')).toBe(-E.ENOENT);
    expect(catFile(look(tmp, 'h'))).toBe('guest\n');

    // a directory with lower content moves whole; a cwd inside it follows
    const share = look(ov.root, 'usr', 'share');
    const cwd = look(share, 'doc');
    expect(share.rename!('doc', ov.root, 'docs', 0)).toBe(0);
    expect(share.lookup!('doc')).toBe(-E.ENOENT);
    expect(names(look(ov.root, 'docs'))).toEqual(['COPYING', 'README']);
    expect(catFile(look(cwd, 'README'))).toBe('read me\n');
    expect(ok(cwd.create!('new', 0o644, ROOT)) && names(look(ov.root, 'docs'))).toEqual(['COPYING', 'README', 'new']);

    // rename(2)'s errors
    expect(ov.root.rename!('docs', look(ov.root, 'docs'), 'x', 0)).toBe(-E.EINVAL);
    expect(ov.root.rename!('docs', ov.root, 'bin', 0)).toBe(-E.ENOTEMPTY);
    expect(ov.root.rename!('docs', etc, 'passwd', 0)).toBe(-E.ENOTDIR);
    expect(etc.rename!('passwd', ov.root, 'tmp', 0)).toBe(-E.EISDIR);
    expect(etc.rename!('passwd', tmp, 'h', RENAME_NOREPLACE)).toBe(-E.EEXIST);
    expect(etc.rename!('nothing', tmp, 'x', 0)).toBe(-E.ENOENT);
    expect(etc.rename!('passwd', tmp, '.wh.x', 0)).toBe(-E.EPERM);
    expect(etc.rename!('passwd', etc, 'passwd', 0)).toBe(0);

    // replacing an existing file
    expect(etc.rename!('passwd', tmp, 'h', 0)).toBe(0);
    expect(catFile(look(tmp, 'h'))).toBe('root:x:0:0:root:/root:/bin/sh\n');
    expect(names(etc)).toEqual([]);

    const again = new OverlayFs(lower, upper, allocDev());
    expect(names(look(again.root, 'docs'))).toEqual(['COPYING', 'README', 'new']);
    expect(look(again.root, 'usr', 'share').lookup!('doc')).toBe(-E.ENOENT);
    expect(names(look(again.root, 'tmp'))).toEqual(['h']);
    lowerUnchanged();
  });

  it('a directory moved onto a deleted lower name is opaque there', () => {
    const usr = look(ov.root, 'usr');
    expect(usr.mkdir!('fresh', 0o755, ROOT)).toBe(0);
    writeFile(ok(look(usr, 'fresh').create!('f', 0o644, ROOT)), 'x');
    const doc = look(usr, 'share', 'doc');
    expect(doc.unlink!('README')).toBe(0);
    expect(doc.unlink!('COPYING')).toBe(0);
    expect(usr.rename!('fresh', look(usr, 'share'), 'doc', 0)).toBe(0);
    expect(names(look(usr, 'share', 'doc'))).toEqual(['f']);
    const again = new OverlayFs(lower, upper, allocDev());
    expect(names(look(again.root, 'usr', 'share', 'doc'))).toEqual(['f']);
    lowerUnchanged();
  });

  it('RENAME_EXCHANGE swaps two names', () => {
    const etc = look(ov.root, 'etc');
    expect(etc.rename!('passwd', etc, 'hostname', RENAME_EXCHANGE)).toBe(0);
    expect(catFile(look(etc, 'passwd'))).toBe('guest\n');
    expect(catFile(look(etc, 'hostname'))).toBe('root:x:0:0:root:/root:/bin/sh\n');
    expect(etc.rename!('passwd', etc, 'none', RENAME_EXCHANGE)).toBe(-E.ENOENT);
    expect(etc.rename!('passwd', etc, 'hostname', RENAME_EXCHANGE | RENAME_NOREPLACE)).toBe(-E.EINVAL);
    lowerUnchanged();
  });

  it('symlinks, hard links, FIFOs and device nodes', () => {
    const tmp = look(ov.root, 'tmp');
    expect(tmp.symlink!('l', '/etc/passwd', USER)).toBe(0);
    const l = look(tmp, 'l');
    expect(l.type).toBe(S_IFLNK);
    expect(ok(l.readlink!())).toBe('/etc/passwd');
    expect(stat(l).uid).toBe(1000);
    expect(fs.readlinkSync(join(upper, 'tmp/l'))).toBe('/etc/passwd');

    const pw = look(ov.root, 'etc', 'passwd');
    expect(tmp.link!('pw', pw)).toBe(0);
    expect(stat(look(tmp, 'pw')).nlink).toBe(2);
    expect(stat(look(tmp, 'pw')).ino).toBe(stat(look(ov.root, 'etc', 'passwd')).ino);
    expect(tmp.link!('d', look(ov.root, 'etc'))).toBe(-E.EPERM);

    expect(tmp.mknod!('fifo', S_IFIFO | 0o644, 0, ROOT)).toBe(0);
    const fifo = look(tmp, 'fifo');
    expect(fifo.type).toBe(S_IFIFO);
    expect(fs.lstatSync(join(upper, 'tmp/fifo')).isFIFO()).toBe(true);
    const r = openF(fifo, O_RDONLY | O_NONBLOCK);
    const w = openF(look(tmp, 'fifo'), O_WRONLY | O_NONBLOCK);
    expect(w.ops.write!(w, CTX, Buffer.from('via fifo'), 0)).toBe(8);
    expect(Buffer.from(ok(r.ops.read!(r, CTX, 100, 0))).toString()).toBe('via fifo');
    r.ops.release?.(r);
    w.ops.release?.(w);

    // a device node is an empty regular host file; what it is is the guest's metadata
    expect(tmp.mknod!('null', S_IFCHR | 0o666, makedev(1, 3), ROOT)).toBe(0);
    const node = stat(look(tmp, 'null'));
    expect([node.mode, node.rdev, node.size]).toEqual([S_IFCHR | 0o666, makedev(1, 3), 0]);
    expect(fs.lstatSync(join(upper, 'tmp/null')).isFile()).toBe(true);
    expect(names(tmp)).toContain('null');
    expect(ok(tmp.readdir!()).find((e) => e.name === 'null')?.type).toBe(S_IFCHR >>> 12);
    expect(tmp.mknod!('plain', S_IFREG | 0o600, 0, ROOT)).toBe(0);
    expect(stat(look(tmp, 'plain')).mode).toBe(S_IFREG | 0o600);
    lowerUnchanged();
  });

  it('an unlinked open file stays readable and fstat says nlink 0', () => {
    const f = ok(look(ov.root, 'tmp').create!('t', 0o644, ROOT));
    writeFile(f, 'still here');
    const of = openF(f, O_RDONLY);
    expect(look(ov.root, 'tmp').unlink!('t')).toBe(0);
    expect(readAll(of)).toBe('still here');
    expect(stat(f).nlink).toBe(0);
    expect(stat(f).size).toBe(10);
    of.ops.release?.(of);
  });

  it('a reader of the lower copy sees the data once another opener copies up', () => {
    const doc = look(ov.root, 'usr', 'share', 'doc', 'COPYING');
    const r = openF(doc, O_RDONLY);
    expect(readAll(r)).toBe('GPL\n');
    writeFile(look(ov.root, 'usr', 'share', 'doc', 'COPYING'), 'MIT\n');
    expect(readAll(r)).toBe('MIT\n');
    r.ops.release?.(r);
    lowerUnchanged();
  });

  it('objects held across copy-up, create, unlink and rename keep reading the copy that counts', () => {
    // Each object knows which layer holds it; every step here moves something between the layers.
    const share = look(ov.root, 'usr', 'share');
    const doc = look(share, 'doc');
    const readme = look(doc, 'README');
    expect(catFile(readme)).toBe('read me\n');
    // A name made in a directory that has no upper copy yet (the create copies it up).
    writeFile(ok(doc.create!('NEWS', 0o644, ROOT)), 'news\n');
    expect(catFile(look(doc, 'NEWS'))).toBe('news\n');
    expect(names(doc)).toEqual(['COPYING', 'NEWS', 'README']);
    // Copy-up through the held object: its stat and reads are the upper copy's.
    writeFile(readme, 'changed text\n');
    expect(stat(readme).size).toBe(13);
    expect(catFile(readme)).toBe('changed text\n');
    // Whited out below the directory now in the upper layer, then made again.
    expect(doc.unlink!('COPYING')).toBe(0);
    expect(doc.lookup!('COPYING')).toBe(-E.ENOENT);
    expect(doc.create!('COPYING', 0o644, ROOT)).not.toBe(-E.EEXIST);
    expect(catFile(look(doc, 'COPYING'))).toBe('');
    // A moved directory: what is held below it reads from the new place.
    expect(share.rename!('doc', look(ov.root, 'tmp'), 'docs', 0)).toBe(0);
    expect(catFile(readme)).toBe('changed text\n');
    expect(stat(readme).size).toBe(13);
    expect(names(look(ov.root, 'tmp', 'docs'))).toEqual(['COPYING', 'NEWS', 'README']);
    expect(share.lookup!('doc')).toBe(-E.ENOENT);
    lowerUnchanged();
  });

  it('a stale directory object never follows a host symlink put in its place', () => {
    const tmp = look(ov.root, 'tmp');
    expect(tmp.mkdir!('a', 0o755, ROOT)).toBe(0);
    const a = look(tmp, 'a');
    expect(tmp.rename!('a', tmp, 'b', 0)).toBe(0);
    expect(tmp.symlink!('a', '/', ROOT)).toBe(0); // upper/tmp/a -> host "/"
    expect(a.lookup!('etc')).toBe(-E.ENOENT); // still tmp/b, not the host root
    expect(ok(a.create!('inside', 0o644, ROOT))).toBeTruthy();
    expect(fs.existsSync(join(upper, 'tmp/b/inside'))).toBe(true);
    expect(look(ov.root, 'tmp').rmdir!('b')).toBe(-E.ENOTEMPTY);
  });

  it('everything written survives a new OverlayFs over the same directories', () => {
    const t = look(ov.root, 'tmp');
    expect(t.mkdir!('d', 0o750, ROOT)).toBe(0);
    writeFile(ok(look(t, 'd').create!('f', 0o600, ROOT)), 'persist');
    expect(look(ov.root, 'bin').unlink!('sh')).toBe(0);
    expect(look(ov.root, 'etc', 'passwd').setattr!({ mode: 0o400 })).toBe(0);
    const again = new OverlayFs(lower, upper, allocDev());
    expect(catFile(look(again.root, 'tmp', 'd', 'f'))).toBe('persist');
    expect(stat(look(again.root, 'tmp', 'd')).mode).toBe(S_IFDIR | 0o750);
    expect(look(again.root, 'bin').lookup!('sh')).toBe(-E.ENOENT);
    expect(stat(look(again.root, 'etc', 'passwd')).mode & 0o7777).toBe(0o400);
    expect(names(look(again.root, 'bin'))).toEqual(['abs', 'busybox']);
    lowerUnchanged();
  });
});

describe('Tmpfs', () => {
  let t: Tmpfs;
  beforeEach(() => {
    t = new Tmpfs(allocDev(), memfd);
  });

  it('creates, writes, reads and keeps metadata', () => {
    const f = ok(t.root.create('a', 0o640, USER));
    const st0 = stat(f);
    expect(st0.mode).toBe(S_IFREG | 0o640);
    expect([st0.uid, st0.gid, st0.nlink, st0.size]).toEqual([1000, 1000, 1, 0]);
    const of = openF(f, O_RDWR);
    expect(of.ops.write!(of, CTX, Buffer.from('hello world'), 0)).toBe(11);
    expect(of.ops.write!(of, CTX, Buffer.from('!'), 20)).toBe(1);
    const st1 = stat(f);
    expect(st1.size).toBe(21);
    expect(st1.mtime.sec * 1e9 + st1.mtime.nsec).toBeGreaterThanOrEqual(st0.mtime.sec * 1e9 + st0.mtime.nsec);
    const data = ok(of.ops.read!(of, CTX, 100, 6)) as Uint8Array;
    expect(Buffer.from(data).toString('latin1')).toBe('world' + '\0'.repeat(9) + '!');
    expect(of.ops.read!(of, CTX, 100, 21)).toBe(0);
    const fd = of.ops.hostFd!(of);
    expect(fs.fstatSync(fd).size).toBe(21); // the data lives in the (stand-in) memfd
    of.ops.release?.(of);
    expect(t.root.create('a', 0o600, ROOT)).toBe(-E.EEXIST);
    expect(names(t.root)).toEqual(['a']);
    expect(t.statfs().type).toBe(TMPFS_MAGIC);
  });

  it('setattr: chmod, chown (clears set-user-ID), truncate, utimes', () => {
    const f = ok(t.root.create('x', 0o4755, ROOT));
    writeFile(f, 'abcdef', O_WRONLY);
    const c0 = stat(f).ctime;
    expect(f.setattr!({ uid: 5, gid: 6 })).toBe(0);
    let st = stat(f);
    expect([st.uid, st.gid, st.mode]).toEqual([5, 6, S_IFREG | 0o755]);
    expect(st.ctime.sec * 1e9 + st.ctime.nsec).toBeGreaterThanOrEqual(c0.sec * 1e9 + c0.nsec);
    expect(f.setattr!({ size: 3 })).toBe(0);
    expect(catFile(f)).toBe('abc');
    expect(f.setattr!({ atime: { sec: 100, nsec: 1 }, mtime: { sec: 200, nsec: 2 } })).toBe(0);
    st = stat(f);
    expect([st.atime, st.mtime]).toEqual([{ sec: 100, nsec: 1 }, { sec: 200, nsec: 2 }]);
    const wf = openF(f, O_WRONLY | O_TRUNC);
    expect(stat(f).size).toBe(0);
    expect(stat(f).mtime.sec).toBeGreaterThan(200);
    wf.ops.release?.(wf);
  });

  it('hard links, unlink and the memfd lifetime', () => {
    const f = ok(t.root.create('a', 0o644, ROOT));
    writeFile(f, 'data');
    expect(t.root.mkdir('d', 0o755, ROOT)).toBe(0);
    const d = look(t.root, 'd');
    expect(d.link!('b', f)).toBe(0);
    expect(stat(f).nlink).toBe(2);
    expect(d.link!('c', d)).toBe(-E.EPERM);
    const of = openF(f, O_RDONLY);
    const fd = of.ops.hostFd!(of);
    expect(t.root.unlink('a')).toBe(0);
    expect(d.unlink!('b')).toBe(0);
    expect(stat(f).nlink).toBe(0);
    expect(readAll(of)).toBe('data'); // still open: still there
    expect(d.link!('again', f)).toBe(-E.ENOENT);
    of.ops.release?.(of);
    expect(() => fs.fstatSync(fd)).toThrow(); // last close of an unlinked file frees its memfd
    expect(t.root.unlink('d')).toBe(-E.EISDIR);
  });

  it('directories: nlink, rmdir, rename rules, exchange', () => {
    const r = t.root;
    expect(r.mkdir('a', 0o755, ROOT)).toBe(0);
    expect(r.mkdir('b', 0o755, ROOT)).toBe(0);
    const a = look(r, 'a');
    expect(stat(r).nlink).toBe(4);
    expect(a.mkdir!('sub', 0o700, ROOT)).toBe(0);
    expect(stat(a).nlink).toBe(3);
    writeFile(ok(r.create('f', 0o644, ROOT)), 'F');
    expect(r.rmdir('a')).toBe(-E.ENOTEMPTY);
    expect(r.rmdir('f')).toBe(-E.ENOTDIR);
    expect(r.rename('a', look(a, 'sub'), 'x', 0)).toBe(-E.EINVAL);
    expect(r.rename('a', r, 'f', 0)).toBe(-E.ENOTDIR);
    expect(r.rename('f', r, 'a', 0)).toBe(-E.EISDIR);
    expect(r.rename('b', r, 'a', 0)).toBe(-E.ENOTEMPTY);
    expect(r.rename('f', r, 'a', RENAME_NOREPLACE)).toBe(-E.EEXIST);
    expect(r.rename('f', look(r, 'b'), 'g', 0)).toBe(0);
    expect(catFile(look(r, 'b', 'g'))).toBe('F');
    expect(r.rename('a', look(r, 'b'), 'a2', 0)).toBe(0);
    expect(stat(look(r, 'b')).nlink).toBe(3);
    expect(stat(r).nlink).toBe(3);
    const b = look(r, 'b');
    expect(b.rename!('g', b, 'a2', RENAME_EXCHANGE)).toBe(0);
    expect(look(b, 'g').type).toBe(S_IFDIR);
    expect(look(b, 'a2').type).toBe(S_IFREG);
    expect(look(b, 'g', 'sub').type).toBe(S_IFDIR);
    const sub = look(b, 'g', 'sub');
    expect(look(b, 'g').rmdir!('sub')).toBe(0);
    expect(stat(sub).nlink).toBe(0);
    expect(sub.create!('x', 0o644, ROOT)).toBe(-E.ENOENT);
    expect(r.rename('b', new Tmpfs(allocDev(), memfd).root, 'b', 0)).toBe(-E.EXDEV);
  });

  it('set-group-ID directories pass their group on', () => {
    expect(t.root.mkdir('g', 0o2775, ROOT)).toBe(0);
    const g = look(t.root, 'g');
    expect(g.setattr!({ gid: 50 })).toBe(0);
    expect(g.setattr!({ mode: 0o2775 })).toBe(0);
    expect(stat(ok(g.create!('f', 0o644, USER))).gid).toBe(50);
    expect(g.mkdir!('s', 0o755, USER)).toBe(0);
    expect(stat(look(g, 's')).mode).toBe(S_IFDIR | 0o2755);
  });

  it('symlinks and FIFOs', () => {
    expect(t.root.symlink('l', '../x', ROOT)).toBe(0);
    const l = look(t.root, 'l');
    expect(ok(l.readlink!())).toBe('../x');
    expect(stat(l)).toMatchObject({ mode: S_IFLNK | 0o777, size: 4 });
    expect(t.root.mknod('p', S_IFIFO | 0o600, 0, ROOT)).toBe(0);
    const p = look(t.root, 'p');
    expect(p.open!(O_WRONLY | O_NONBLOCK, CTX)).toBe(-E.ENXIO); // fifo(7): no reader yet
    const r = openF(p, O_RDONLY | O_NONBLOCK);
    const w = openF(look(t.root, 'p'), O_WRONLY);
    expect(w.ops.write!(w, CTX, Buffer.from('hi'), 0)).toBe(2);
    expect(Buffer.from(ok(r.ops.read!(r, CTX, 10, 0))).toString()).toBe('hi');
    w.ops.release?.(w);
    expect(r.ops.read!(r, CTX, 10, 0)).toBe(0);
    r.ops.release?.(r);
  });
});

describe('Pipe', () => {
  const rd = (ops: FileOps, len = PIPE_CAPACITY * 2): Uint8Array | number => ops.read!(undefined as never, CTX, len, 0);
  const wr = (ops: FileOps, n: number): number => ops.write!(undefined as never, CTX, new Uint8Array(n).fill(1), 0);
  const poll = (ops: FileOps): number => ops.poll!(undefined as never);

  it('reads what was written, EAGAIN when empty, EOF when no writer', () => {
    const { readOps, writeOps, inode } = createAnonPipe({ uid: 7, gid: 8 });
    expect(rd(readOps)).toBe(-E.EAGAIN);
    expect(wr(writeOps, 10)).toBe(10);
    expect(stat(inode)).toMatchObject({ mode: S_IFIFO | 0o600, size: 10, uid: 7, gid: 8 });
    expect((rd(readOps, 4) as Uint8Array).length).toBe(4);
    expect((rd(readOps) as Uint8Array).length).toBe(6);
    writeOps.release!(undefined as never);
    expect(rd(readOps)).toBe(0);
    expect(readOps.seekable).toBe(false);
  });

  it('EPIPE without readers; POLLERR and POLLHUP', () => {
    const { readOps, writeOps } = createAnonPipe();
    expect(poll(readOps)).toBe(0);
    expect(poll(writeOps) & POLLOUT).toBeTruthy();
    wr(writeOps, 1);
    expect(poll(readOps) & POLLIN).toBeTruthy();
    readOps.release!(undefined as never);
    expect(wr(writeOps, 1)).toBe(-E.EPIPE);
    expect(poll(writeOps) & POLLERR).toBeTruthy();
    const p2 = createAnonPipe();
    p2.writeOps.release!(undefined as never);
    expect(poll(p2.readOps) & POLLHUP).toBeTruthy();
  });

  it('writes of up to PIPE_BUF are atomic; larger ones may be partial', () => {
    const { readOps, writeOps } = createAnonPipe();
    expect(wr(writeOps, PIPE_CAPACITY - 100)).toBe(PIPE_CAPACITY - 100);
    expect(poll(writeOps) & POLLOUT).toBe(0);
    expect(wr(writeOps, 200)).toBe(-E.EAGAIN); // <= PIPE_BUF and does not fit: nothing
    expect(wr(writeOps, PIPE_BUF + 1000)).toBe(100); // > PIPE_BUF: as much as fits
    expect(wr(writeOps, PIPE_BUF + 1000)).toBe(-E.EAGAIN);
    expect((rd(readOps) as Uint8Array).length).toBe(PIPE_CAPACITY);
  });

  it('wakes the other side through its wait queues', () => {
    const { readOps, writeOps } = createAnonPipe();
    const woken: string[] = [];
    const qs = readOps.waitQueues!(undefined as never);
    expect(qs.every((q) => q instanceof WaitQueue)).toBe(true);
    for (const q of qs) q.add({ wake: () => woken.push('reader') });
    wr(writeOps, 1);
    expect(woken).toEqual(['reader']);
    for (const q of writeOps.waitQueues!(undefined as never)) q.add({ wake: () => woken.push('writer') });
    readOps.release!(undefined as never);
    expect(woken).toEqual(['reader', 'writer']);
  });

  it('a FIFO reader opened before any writer waits instead of seeing EOF', () => {
    const p = new Pipe();
    const r = ok(p.openFifo(O_RDONLY));
    expect(rd(r)).toBe(-E.EAGAIN);
    expect(poll(r) & POLLHUP).toBe(0);
    const w = ok(p.openFifo(O_WRONLY));
    expect(wr(w, 3)).toBe(3);
    w.release!(undefined as never);
    expect((rd(r) as Uint8Array).length).toBe(3);
    expect(rd(r)).toBe(0);
    expect(poll(r) & POLLHUP).toBeTruthy();
    // a writer opened before any reader waits instead of EPIPE
    const q = new Pipe();
    const w2 = ok(q.openFifo(O_WRONLY));
    expect(wr(w2, 1)).toBe(-E.EAGAIN);
    const r2 = ok(q.openFifo(O_RDONLY));
    expect(wr(w2, 1)).toBe(1);
    r2.release!(undefined as never);
    expect(wr(w2, 1)).toBe(-E.EPIPE);
    expect(ok(q.openFifo(O_RDWR)).poll!(undefined as never) & POLLOUT).toBeTruthy();
  });
});

describe('devfs', () => {
  const consoleInode = { fs: undefined as never, ino: 901, type: S_IFCHR, getattr: () => -E.EIO } as Inode;
  const ttyInode = { fs: undefined as never, ino: 902, type: S_IFCHR, getattr: () => -E.EIO } as Inode;
  const dev = createDevfs(allocDev(), memfd, { console: consoleInode, tty: ttyInode });

  it('has the mem devices with the right modes and numbers', () => {
    const expected: [string, number][] = [['null', 3], ['zero', 5], ['full', 7], ['random', 8], ['urandom', 9]];
    for (const [name, mi] of expected) {
      const st = stat(look(dev.root, name));
      expect(st.mode).toBe(S_IFCHR | 0o666);
      expect([major(st.rdev), minor(st.rdev)]).toEqual([1, mi]);
    }
    expect(makedev(1, 3)).toBe(0x103);
    expect(major(makedev(300, 70000))).toBe(300);
    expect(minor(makedev(300, 70000))).toBe(70000);
  });

  it('null, zero, full, urandom behave as mem(4) says', () => {
    const io = (name: string, flags = O_RDWR): OpenFile => openF(look(dev.root, name), flags);
    const nul = io('null');
    expect(nul.ops.read!(nul, CTX, 10, 0)).toBe(0);
    expect(nul.ops.write!(nul, CTX, new Uint8Array(5), 0)).toBe(5);
    const zero = io('zero');
    expect(zero.ops.read!(zero, CTX, 8, 0)).toEqual(new Uint8Array(8));
    const full = io('full');
    expect(full.ops.write!(full, CTX, new Uint8Array(1), 0)).toBe(-E.ENOSPC);
    expect(full.ops.read!(full, CTX, 3, 0)).toEqual(new Uint8Array(3));
    const ur = io('urandom');
    const a = ok(ur.ops.read!(ur, CTX, 32, 0)) as Uint8Array;
    const b = ok(ur.ops.read!(ur, CTX, 32, 0)) as Uint8Array;
    expect(a.length).toBe(32);
    expect(Buffer.compare(a, b)).not.toBe(0);
  });

  it('holds console, tty, the /proc/self/fd links and shm, pts', () => {
    expect(look(dev.root, 'console')).toBe(consoleInode);
    expect(look(dev.root, 'tty')).toBe(ttyInode);
    expect(ok(look(dev.root, 'stdin').readlink!())).toBe('/proc/self/fd/0');
    expect(ok(look(dev.root, 'stderr').readlink!())).toBe('/proc/self/fd/2');
    expect(ok(look(dev.root, 'fd').readlink!())).toBe('/proc/self/fd');
    expect(stat(look(dev.root, 'shm')).mode).toBe(S_IFDIR | 0o1777);
    expect(look(dev.root, 'pts').type).toBe(S_IFDIR);
    expect(dev.type).toBe('devtmpfs');
  });

  it('a guest mknod in a tmpfs with the mem drivers makes a working device', () => {
    const t = new Tmpfs(allocDev(), memfd, { devices: memDevices });
    expect(t.root.mknod('mynull', S_IFCHR | 0o600, DEV_NULL, ROOT)).toBe(0);
    const f = openF(look(t.root, 'mynull'), O_WRONLY);
    expect(f.ops.write!(f, CTX, new Uint8Array(3), 0)).toBe(3);
    expect(t.root.mknod('bogus', S_IFCHR | 0o600, makedev(42, 42), ROOT)).toBe(0);
    expect(look(t.root, 'bogus').open!(O_RDONLY, CTX)).toBe(-E.ENXIO);
  });
});

describe('MountTable and the path walk', () => {
  // The overlay reaches its layers through the tracer addon: build it before
  // the mount table exists, not while the suite is being collected.
  let ov: OverlayFs;
  let mounts: MountTable;
  let tmp: Tmpfs;
  let dev: ReturnType<typeof createDevfs>;
  let shm: Tmpfs;
  let root: Location;
  let ctx: WalkContext;
  beforeAll(async () => {
    await buildHost({ quiet: true });
    ov = new OverlayFs(makeLower(), join(freshDir('state'), 'upper'), allocDev());
    mounts = new MountTable();
    tmp = new Tmpfs(allocDev(), memfd);
    dev = createDevfs(allocDev(), memfd, {
      console: { fs: undefined as never, ino: 1, type: S_IFCHR, getattr: () => -E.EIO },
      tty: { fs: undefined as never, ino: 2, type: S_IFCHR, getattr: () => -E.EIO },
    });
    shm = new Tmpfs(allocDev(), memfd);
    mounts.mount(ov, '/', 'overlay', 'rw,relatime');
    mounts.mount(dev, '/dev', 'devtmpfs', 'rw,nosuid');
    mounts.mount(shm, '/dev/shm', 'tmpfs', 'rw,nosuid,nodev');
    mounts.mount(tmp, '/tmp/', 'tmpfs', 'rw');
    root = [{ name: '', inode: ov.root }];
    ctx = { root, mounts };
  }, 600_000);
  const walk = (path: string, followLast = true, start: Location = root): Location | number =>
    resolve(ctx, start, path, { followLast });
  const at = (path: string, followLast = true): Inode => locInode(ok(walk(path, followLast)));

  it('walks names, "." and ".." and never above the root', () => {
    expect(catFile(at('/etc/passwd'))).toContain('root:x:0:0');
    expect(locPath(ok(walk('/usr/./share/../share/doc/')))).toBe('/usr/share/doc');
    expect(locPath(ok(walk('/../../..')))).toBe('/');
    expect(catFile(at('/../../etc/passwd'))).toContain('root:x');
    const doc = ok(walk('/usr/share/doc'));
    expect(catFile(locInode(ok(walk('README', true, doc))))).toBe('read me\n');
    expect(locPath(ok(walk('../../..', true, doc)))).toBe('/');
  });

  it('follows absolute and relative symlinks inside the root', () => {
    expect(stat(at('/bin/abs')).size).toBe(200_000);
    expect(stat(at('/bin/sh')).size).toBe(200_000);
    expect(at('/bin/sh', false).type).toBe(S_IFLNK);
    // "../../../../etc" from / and "/" as a target both stay in the guest root
    expect(catFile(at('/escape/passwd'))).toBe('root:x:0:0:root:/root:/bin/sh\n');
    expect(catFile(at('/rootlink/etc/hostname'))).toBe('guest\n');
    expect(walk('/loop1')).toBe(-E.ELOOP);
    expect(at('/loop1', false).type).toBe(S_IFLNK);
  });

  it('reports ENOTDIR, ENOENT and trailing-slash errors', () => {
    expect(walk('/etc/passwd/x')).toBe(-E.ENOTDIR);
    expect(walk('/etc/passwd/')).toBe(-E.ENOTDIR);
    expect(walk('/etc/nothing')).toBe(-E.ENOENT);
    expect(walk('')).toBe(-E.ENOENT);
    expect(walk('/' + 'a'.repeat(300))).toBe(-E.ENAMETOOLONG);
    const p = ok(resolveParent(ctx, root, '/usr/share/newdir/'));
    expect([locPath(p.dir), p.name, p.trailingSlash]).toEqual(['/usr/share', 'newdir', true]);
    expect(resolveParent(ctx, root, '/etc/passwd/x')).toBe(-E.ENOTDIR);
  });

  it('crosses mounts, nested ones included', () => {
    expect(at('/tmp')).toBe(tmp.root);
    expect(ok(at('/tmp').create!('x', 0o644, ROOT))).toBeTruthy();
    expect(at('/tmp/x').fs).toBe(tmp);
    expect(locPath(ok(walk('/tmp/../etc')))).toBe('/etc');
    expect(stat(at('/dev/null')).rdev).toBe(makedev(1, 3));
    expect(at('/dev/shm')).toBe(shm.root);
    expect(at('/dev/shm/..')).toBe(dev.root);
    expect(at('/dev/fd', false).type).toBe(S_IFLNK);
  });

  it('renders /proc/mounts and /proc/filesystems; umount rules', () => {
    expect(mounts.procMounts()).toBe(
      'overlay / overlay rw,relatime 0 0\n' +
      'devtmpfs /dev devtmpfs rw,nosuid,mode=755 0 0\n' +
      'tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0\n' +
      'tmpfs /tmp tmpfs rw 0 0\n');
    expect(mounts.filesystems()).toContain('nodev\tproc\n');
    expect(mounts.filesystems()).toContain('nodev\ttmpfs\n');
    expect(mounts.umount('/')).toBe(-E.EBUSY);
    expect(mounts.umount('/dev')).toBe(-E.EBUSY);
    expect(mounts.umount('/etc')).toBe(-E.EINVAL);
    const m2 = new MountTable();
    m2.mount(ov, '/', 'overlay');
    m2.mount(tmp, '/with space', 'my\tsrc');
    expect(m2.procMounts()).toContain('my\\011src /with\\040space tmpfs rw 0 0');
    expect(m2.umount('/with space/')).toBe(0);
    expect(m2.mountedAt('/with space')).toBeUndefined();
    expect(m2.root).toBe(ov.root);
    expect(allocDev()).not.toBe(allocDev());
  });
});

