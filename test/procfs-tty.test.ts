/**
 * Unit tests of the console tty's line discipline and ioctls, and of
 * /proc over a ProcView built from real Process/Task objects. No guest
 * is booted: guest memory is a Uint8Array behind an IoctlContext.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { E } from '../src/kernel/errno.ts';
import { FdTable } from '../src/kernel/fd-table.ts';
import { SigHand, SIGINT, SIGTSTP, SIGTTIN, SIGTTOU, SIGWINCH, SIG_IGN } from '../src/kernel/signal-state.ts';
import { Process, Task, TaskState, type MemoryInfo } from '../src/kernel/task.ts';
import { resolve, locInode, type Location, type WalkContext } from '../src/kernel/vfs/path-walk.ts';
import { HostInput, HostOutput, hostStdioInode } from '../src/kernel/vfs/host-stdio.ts';
import { createProcfs, type ProcView } from '../src/kernel/vfs/procfs.ts';
import {
  currentTtyInode, decodeTermios, encodeTermios, ECHO, ICANON, IUTF8, TCGETS, TCSETS, TIOCGPGRP, TIOCGWINSZ,
  TIOCSCTTY, TIOCSPGRP, TOSTOP, Tty, ttyInode, VMIN, VTIME, FIONREAD, TIOCGSID,
} from '../src/kernel/vfs/tty.ts';
import {
  OpenFile, POLLHUP, POLLIN, S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG, type Cred, type DirEntry, type FileOps, type FileSystem, type Inode,
  type IoctlContext, type Stat,
} from '../src/kernel/vfs/types.ts';

const ROOT: Cred = { uid: 0, gid: 0, euid: 0, egid: 0, fsuid: 0, fsgid: 0, groups: [0] };
const dec = new TextDecoder();
const enc = new TextEncoder();

const fakeFs: FileSystem = {
  type: 'test', dev: 7, get root(): Inode { return fakeDir(1, {}); },
  statfs: () => ({ type: 0, bsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, namelen: 255 }),
};

function fakeStat(ino: number, mode: number): Stat {
  const t = { sec: 0, nsec: 0 };
  return { dev: 7, ino, mode, nlink: 1, uid: 0, gid: 0, rdev: 0, size: 0, blksize: 4096, blocks: 0, atime: t, mtime: t, ctime: t };
}

function fakeDir(ino: number, children: Record<string, Inode>): Inode {
  return {
    fs: fakeFs, ino, type: S_IFDIR,
    getattr: () => fakeStat(ino, S_IFDIR | 0o755),
    lookup: (name) => children[name] ?? -E.ENOENT,
    readdir: () => Object.entries(children).map(([name, i]) => ({ name, ino: i.ino, type: 0 })),
  };
}

// ----- the tty -----

interface Harness {
  tty: Tty;
  out: () => string;
  signals: [number, number][];
  file: OpenFile;
  mem: Uint8Array;
  ctx: (over?: Partial<IoctlContext>) => IoctlContext;
}

function harness(): Harness {
  let written = '';
  const signals: [number, number][] = [];
  const tty = new Tty({
    write: (b) => { written += dec.decode(b); },
    signalPgrp: (pgid, sig) => signals.push([pgid, sig]),
  }, { rows: 24, cols: 80 });
  tty.session = 1;
  tty.foregroundPgrp = 1;
  const node = ttyInode(tty, fakeFs, 100);
  const ops = node.open!(2, undefined as never) as FileOps;
  const file = new OpenFile(node, 2, ops, '/dev/console');
  const mem = new Uint8Array(4096);
  const ctx = (over: Partial<IoctlContext> = {}): IoctlContext => ({
    tid: 1, pid: 1, cred: ROOT, sid: 1, pgid: 1, ctty: tty, sessionLeader: true,
    signalPgrp: (pgid, sig) => signals.push([pgid, sig]),
    pgrpOrphaned: () => false,
    ignoresSignal: () => false,
    fileToGuest: () => -E.EFAULT,
    guestToFile: () => -E.EFAULT,
    readMem: (addr, len) => (addr + len > mem.length ? -E.EFAULT : mem.slice(addr, addr + len)),
    writeMem: (addr, data) => {
      if (addr + data.length > mem.length) return -E.EFAULT;
      mem.set(data, addr);
      return data.length;
    },
    setCtty: () => 0,
    pgrpInSession: () => true,
    ...over,
  });
  return { tty, out: () => { const s = written; written = ''; return s; }, signals, file, mem, ctx };
}

function readStr(h: Harness, len = 100, over: Partial<IoctlContext> = {}): string | number {
  const r = h.file.ops.read!(h.file, h.ctx(over), len, 0);
  return typeof r === 'number' ? r : dec.decode(r);
}

function type(h: Harness, s: string): void {
  h.tty.input(enc.encode(s));
}

function setTermios(h: Harness, change: (t: ReturnType<typeof decodeTermios>) => void): void {
  const c = h.ctx();
  expect(h.file.ops.ioctl!(h.file, c, TCGETS, 0x100)).toBe(0);
  const t = decodeTermios(h.mem.slice(0x100, 0x100 + 36), h.tty.termios);
  change(t);
  h.mem.set(encodeTermios(t), 0x200);
  expect(h.file.ops.ioctl!(h.file, c, TCSETS, 0x200)).toBe(0);
}

describe('console tty: canonical mode', () => {
  it('edits a line and returns it only once complete', () => {
    const h = harness();
    type(h, 'ab\x7fc');
    expect(readStr(h)).toBe(-E.EAGAIN);
    expect(h.file.ops.poll!(h.file) & POLLIN).toBe(0);
    type(h, '\r');
    expect(h.file.ops.poll!(h.file) & POLLIN).toBe(POLLIN);
    expect(readStr(h)).toBe('ac\n');
    // echo: the erase backs up over "b", ICRNL turned CR into NL, ONLCR shows it as CRLF
    expect(h.out()).toBe('ab\b \bc\r\n');
  });

  it('returns one line per read, and a long line over several reads', () => {
    const h = harness();
    type(h, 'one\ntwo\n');
    expect(readStr(h, 2)).toBe('on');
    expect(readStr(h)).toBe('e\n');
    expect(readStr(h)).toBe('two\n');
  });

  it('kills the line with ^U and a word with ^W', () => {
    const h = harness();
    type(h, 'hello world\x17there\n');
    expect(readStr(h)).toBe('hello there\n');
    type(h, 'garbage\x15ok\n');
    expect(readStr(h)).toBe('ok\n');
  });

  it('treats ^D as end of file on an empty line and as a push otherwise', () => {
    const h = harness();
    type(h, 'ab\x04');
    expect(readStr(h)).toBe('ab');
    type(h, '\x04');
    expect(readStr(h)).toBe('');
    expect(readStr(h)).toBe(-E.EAGAIN);
  });

  it('erases a whole UTF-8 character under IUTF8', () => {
    const h = harness();
    setTermios(h, (t) => { t.iflag |= IUTF8; });
    h.out();
    type(h, 'x\u00e9\x7f\n');
    expect(readStr(h)).toBe('x\n');
    expect(h.out()).toBe('x\u00e9\b \b\r\n');
  });

  it('sends SIGINT on ^C to the foreground group, flushes input and echoes ^C', () => {
    const h = harness();
    h.tty.foregroundPgrp = 7;
    type(h, 'partial\x03');
    expect(h.signals).toEqual([[7, SIGINT]]);
    expect(h.out()).toBe('partial^C');
    type(h, '\n');
    expect(readStr(h, 100, { pgid: 7 })).toBe('\n');
    type(h, '\x1a');
    expect(h.signals[1]).toEqual([7, SIGTSTP]);
  });

  it('counts readable bytes for FIONREAD', () => {
    const h = harness();
    type(h, 'abc\nde');
    expect(h.file.ops.ioctl!(h.file, h.ctx(), FIONREAD, 0x10)).toBe(0);
    expect(new DataView(h.mem.buffer).getInt32(0x10, true)).toBe(4);
  });
});

describe('console tty: raw mode and output', () => {
  it('honours VMIN with ICANON off', () => {
    const h = harness();
    setTermios(h, (t) => { t.lflag &= ~(ICANON | ECHO); t.cc[VMIN] = 3; t.cc[VTIME] = 0; });
    type(h, 'ab');
    expect(readStr(h)).toBe(-E.EAGAIN);
    type(h, 'c\r');
    expect(readStr(h)).toBe('abc\n');
    expect(h.out()).toBe('');
    setTermios(h, (t) => { t.cc[VMIN] = 0; });
    expect(readStr(h)).toBe('');
  });

  it('returns after VTIME with nothing typed when VMIN is 0', async () => {
    const h = harness();
    setTermios(h, (t) => { t.lflag &= ~ICANON; t.cc[VMIN] = 0; t.cc[VTIME] = 1; });
    expect(readStr(h)).toBe(-E.EAGAIN);
    await new Promise((r) => setTimeout(r, 150));
    expect(readStr(h)).toBe('');
  });

  it('makes a pending partial line readable when switching to raw mode', () => {
    const h = harness();
    type(h, 'abc');
    setTermios(h, (t) => { t.lflag &= ~ICANON; t.cc[VMIN] = 1; });
    expect(readStr(h)).toBe('abc');
  });

  it('turns \\n into \\r\\n on output (OPOST|ONLCR)', () => {
    const h = harness();
    expect(h.file.ops.write!(h.file, h.ctx(), enc.encode('a\nb\n'), 0)).toBe(4);
    expect(h.out()).toBe('a\r\nb\r\n');
  });
});

describe('console tty: ioctls', () => {
  it('round-trips struct termios through TCGETS/TCSETS', () => {
    const h = harness();
    const c = h.ctx();
    expect(h.file.ops.ioctl!(h.file, c, TCGETS, 0x100)).toBe(0);
    const raw = h.mem.slice(0x100, 0x100 + 36);
    const t = decodeTermios(raw, h.tty.termios);
    expect(t.lflag & ICANON).toBe(ICANON);
    expect(t.cc[0]).toBe(3); // VINTR ^C
    t.lflag &= ~ECHO;
    h.mem.set(encodeTermios(t), 0x200);
    expect(h.file.ops.ioctl!(h.file, c, TCSETS, 0x200)).toBe(0);
    expect(h.file.ops.ioctl!(h.file, c, TCGETS, 0x300)).toBe(0);
    expect(h.mem.slice(0x300, 0x300 + 36)).toEqual(h.mem.slice(0x200, 0x200 + 36));
    expect(h.file.ops.ioctl!(h.file, c, TCGETS, 4090)).toBe(-E.EFAULT);
  });

  it('reports the new size after resize and sends SIGWINCH', () => {
    const h = harness();
    h.tty.foregroundPgrp = 4;
    h.tty.resize(50, 132);
    expect(h.signals).toEqual([[4, SIGWINCH]]);
    expect(h.file.ops.ioctl!(h.file, h.ctx(), TIOCGWINSZ, 0x40)).toBe(0);
    const v = new DataView(h.mem.buffer);
    expect([v.getUint16(0x40, true), v.getUint16(0x42, true)]).toEqual([50, 132]);
  });

  it('gets and sets the foreground group only on the controlling tty', () => {
    const h = harness();
    const v = new DataView(h.mem.buffer);
    v.setInt32(0x20, 9, true);
    expect(h.file.ops.ioctl!(h.file, h.ctx(), TIOCSPGRP, 0x20)).toBe(0);
    expect(h.tty.foregroundPgrp).toBe(9);
    expect(h.file.ops.ioctl!(h.file, h.ctx({ pgid: 9 }), TIOCGPGRP, 0x24)).toBe(0);
    expect(v.getInt32(0x24, true)).toBe(9);
    expect(h.file.ops.ioctl!(h.file, h.ctx({ ctty: undefined }), TIOCGPGRP, 0x24)).toBe(-E.ENOTTY);
    expect(h.file.ops.ioctl!(h.file, h.ctx({ pgid: 9, pgrpInSession: () => false }), TIOCSPGRP, 0x20)).toBe(-E.EPERM);
    expect(h.file.ops.ioctl!(h.file, h.ctx(), TIOCGSID, 0x28)).toBe(0);
    expect(v.getInt32(0x28, true)).toBe(1);
  });

  it('lets a session leader without a terminal take it with TIOCSCTTY', () => {
    const h = harness();
    h.tty.session = 0;
    h.tty.foregroundPgrp = 0;
    let given: unknown;
    const c = h.ctx({ sid: 3, pgid: 3, ctty: undefined, setCtty: (t) => { given = t; return 0; } });
    expect(h.file.ops.ioctl!(h.file, h.ctx({ sid: 3, pgid: 4, ctty: undefined, sessionLeader: false }), TIOCSCTTY, 0)).toBe(-E.EPERM);
    expect(h.file.ops.ioctl!(h.file, c, TIOCSCTTY, 0)).toBe(0);
    expect(given).toBe(h.tty);
    expect([h.tty.session, h.tty.foregroundPgrp]).toEqual([3, 3]);
    // Another session may not take it without stealing.
    expect(h.file.ops.ioctl!(h.file, h.ctx({ sid: 8, pgid: 8, ctty: undefined, cred: { ...ROOT, euid: 1000 } }), TIOCSCTTY, 1)).toBe(-E.EPERM);
  });

  it('answers ENOTTY to ioctls it does not know (KDGKBTYPE)', () => {
    const h = harness();
    expect(h.file.ops.ioctl!(h.file, h.ctx(), 0x4b33, 0x10)).toBe(-E.ENOTTY);
  });
});

describe('console tty: job control', () => {
  it('stops a background reader with SIGTTIN, or fails with EIO', () => {
    const h = harness();
    h.tty.foregroundPgrp = 1;
    type(h, 'x\n');
    expect(readStr(h, 100, { pgid: 5 })).toBe(-E.ERESTARTSYS);
    expect(h.signals).toEqual([[5, SIGTTIN]]);
    expect(readStr(h, 100, { pgid: 5, ignoresSignal: (s) => s === SIGTTIN })).toBe(-E.EIO);
    expect(readStr(h, 100, { pgid: 5, pgrpOrphaned: () => true })).toBe(-E.EIO);
    // Not our controlling tty: no job control.
    expect(readStr(h, 100, { pgid: 5, ctty: undefined })).toBe('x\n');
  });

  it('sends SIGTTOU to background writers only under TOSTOP', () => {
    const h = harness();
    const w = (over: Partial<IoctlContext>) => h.file.ops.write!(h.file, h.ctx(over), enc.encode('hi'), 0);
    expect(w({ pgid: 5 })).toBe(2);
    setTermios(h, (t) => { t.lflag |= TOSTOP; });
    expect(w({ pgid: 5 })).toBe(-E.ERESTARTSYS);
    expect(h.signals).toEqual([[5, SIGTTOU]]);
    expect(w({ pgid: 5, ignoresSignal: () => true })).toBe(2);
  });

  it('sends SIGTTOU to a background group changing the termios', () => {
    const h = harness();
    h.mem.set(encodeTermios(h.tty.termios), 0x200);
    expect(h.file.ops.ioctl!(h.file, h.ctx({ pgid: 6 }), TCSETS, 0x200)).toBe(-E.ERESTARTSYS);
    expect(h.signals).toEqual([[6, SIGTTOU]]);
  });
});

describe('/dev/console and /dev/tty inodes', () => {
  it('are character devices 5:1 and 5:0; /dev/tty needs a controlling tty', () => {
    const h = harness();
    const con = ttyInode(h.tty, fakeFs, 3);
    const st = con.getattr() as Stat;
    expect(st.mode).toBe(S_IFCHR | 0o620);
    expect(st.rdev).toBe(0x501);
    const alias = currentTtyInode(fakeFs, 4);
    expect(alias.open!(2, h.ctx({ ctty: undefined }))).toBe(-E.ENXIO);
    expect(alias.open!(2, h.ctx())).toBe(h.tty.ttyFileOps());
  });
});

// ----- /proc -----

interface Guest {
  view: ProcView;
  procfs: FileSystem;
  init: Process;
  child: Process;
  childTask: Task;
  console: OpenFile;
  setCurrent(t: Task): void;
}

function guest(): Guest {
  const rootDir = fakeDir(1, { bin: fakeDir(2, {}) });
  const rootLoc: Location = [{ name: '', inode: rootDir }];
  const memory = new Map<number, Uint8Array>();
  const args = enc.encode('sleep\x0010\x00');
  const envs = enc.encode('HOME=/\x00');
  const mm = (hostPid: number): MemoryInfo => ({
    hostPid, brkStart: 0x600000, brk: 0x601000, exePath: '/bin/busybox', exeInode: fakeDir(9, {}),
    argStart: 0x7000, argEnd: 0x7000 + args.length, envStart: 0x8000, envEnd: 0x8000 + envs.length, startStack: 0x7ff000,
  });
  const mk = (pid: number, hostPid: number): Process => {
    const p = new Process(pid, mm(hostPid), new FdTable(), { root: rootLoc, cwd: rootLoc, umask: 0o22 }, new SigHand(), { ...ROOT }, new Map());
    return p;
  };
  // Host pids 4242/4243 must never show up: the guest sees 1 and 5.
  const init = mk(1, 4242);
  init.comm = 'init';
  const initTask = new Task(1, 4242, init);
  init.threads.add(initTask);
  const child = mk(5, 4243);
  child.comm = 'sleep';
  child.parent = init;
  child.pgid = 5;
  init.children.add(child);
  const childTask = new Task(5, 4243, child);
  childTask.state = TaskState.Blocked;
  child.threads.add(childTask);
  const thread = new Task(6, 4244, child);
  child.threads.add(thread);
  child.sighand.actions[SIGINT]!.handler = SIG_IGN;
  memory.set(4243, new Uint8Array(0x10000));
  memory.get(4243)!.set(args, 0x7000);
  memory.get(4243)!.set(envs, 0x8000);

  const consoleInode = fakeDir(50, {});
  const console = new OpenFile(consoleInode, 2, {}, '/dev/console');
  child.files.install(console, false);
  const pipe = new OpenFile(fakeDir(51, {}), 1, {}, 'pipe:[51]');
  child.files.install(pipe, true);

  const procs = [init, child];
  let current = childTask;
  const view: ProcView = {
    processes: () => procs,
    process: (pid) => procs.find((p) => p.pid === pid),
    current: () => current,
    readMemory: (p, addr, len) => memory.get(p.mm.hostPid)?.slice(addr, addr + len) ?? -E.ESRCH,
    maps: () => '00400000-00500000 r-xp 00000000 00:10 12 /bin/busybox\n' +
      '7ffd0000-7fff0000 rw-p 00000000 00:00 0 [stack]\n',
    locationPath: (loc) => (loc.length <= 1 ? '/' : loc.slice(1).map((e) => '/' + e.name).join('')),
    mounts: () => 'proc /proc proc rw 0 0\n',
    filesystems: () => 'nodev\tproc\n',
    hostname: () => 'guest',
    kernelRelease: () => '6.1.0-vmctl',
    kernelVersion: () => '#1 SMP vmctl',
    bootTimeMs: () => Date.now() - 60_000,
    uptimeMs: () => 60_000,
    memInfo: () => ({ totalBytes: 1 << 30, freeBytes: 1 << 29 }),
    cpuinfo: () => 'processor\t: 0\n',
    cpuCount: () => 2,
    loadavg: () => [0.5, 0.25, 0],
  };
  return { view, procfs: createProcfs(view, 33), init, child, childTask, console, setCurrent: (t) => { current = t; } };
}

const dummyCtx = harness().ctx();

function at(dir: Inode, ...names: string[]): Inode {
  let i = dir;
  for (const n of names) {
    const r = i.lookup!(n);
    if (typeof r === 'number') throw new Error(`lookup ${n}: ${r}`);
    i = r;
  }
  return i;
}

function cat(inode: Inode): string {
  const ops = inode.open!(0, dummyCtx) as FileOps;
  expect(typeof ops).toBe('object');
  const f = new OpenFile(inode, 0, ops, '');
  let s = '';
  for (let pos = 0; ; ) {
    const r = ops.read!(f, dummyCtx, 7, pos);
    if (typeof r === 'number') { expect(r).toBe(0); break; }
    if (r.length === 0) break;
    s += dec.decode(r, { stream: true });
    pos += r.length;
  }
  return s;
}

function names(dir: Inode): string[] {
  return (dir.readdir!() as DirEntry[]).map((e) => e.name);
}

describe('/proc', () => {
  it('lists the guest pids and nothing of the host', () => {
    const g = guest();
    const root = g.procfs.root;
    const ls = names(root);
    expect(ls).toEqual(expect.arrayContaining(['1', '5', 'self', 'meminfo', 'sys', 'version']));
    expect(ls.filter((n) => /^\d+$/.test(n))).toEqual(['1', '5']);
    expect(root.lookup!('4243')).toBe(-E.ENOENT);
    expect(root.lookup!('2')).toBe(-E.ENOENT);
    // a non-leader thread is reachable by tid though not listed
    expect(typeof root.lookup!('6')).toBe('object');
  });

  it('shows guest pid and parent in status', () => {
    const g = guest();
    const s = cat(at(g.procfs.root, '5', 'status'));
    expect(s).toMatch(/^Name:\tsleep\n/);
    expect(s).toContain('\nPid:\t5\n');
    expect(s).toContain('\nPPid:\t1\n');
    expect(s).toContain('\nTgid:\t5\n');
    expect(s).toContain('\nState:\tS (sleeping)\n');
    expect(s).toContain('\nThreads:\t2\n');
    expect(s).toContain(`\nSigIgn:\t${(1n << BigInt(SIGINT - 1)).toString(16).padStart(16, '0')}\n`);
    expect(s).not.toContain('4243');
  });

  it('prints 52 fields in stat', () => {
    const g = guest();
    const s = cat(at(g.procfs.root, '5', 'stat'));
    expect(s.endsWith('\n')).toBe(true);
    const close = s.lastIndexOf(')');
    const rest = s.slice(close + 2).trim().split(' ');
    expect(2 + rest.length).toBe(52);
    expect(s.startsWith('5 (sleep) S 1 5 5 ')).toBe(true);
    const t = cat(at(g.procfs.root, '5', 'task', '6', 'stat'));
    expect(t.startsWith('6 (sleep) ')).toBe(true);
  });

  it('reads cmdline and environ from the process memory', () => {
    const g = guest();
    expect(cat(at(g.procfs.root, '5', 'cmdline'))).toBe('sleep\x0010\x00');
    expect(cat(at(g.procfs.root, '5', 'environ'))).toBe('HOME=/\x00');
  });

  it('resolves self and thread-self to the caller', () => {
    const g = guest();
    const self = at(g.procfs.root, 'self');
    expect(self.type).toBe(S_IFLNK);
    expect(self.readlink!()).toBe('5');
    expect(at(g.procfs.root, 'thread-self').readlink!()).toBe('5/task/5');
    g.setCurrent(g.init.leader!);
    expect(self.readlink!()).toBe('1');
  });

  it('has fd links to the open files', () => {
    const g = guest();
    const fd = at(g.procfs.root, '5', 'fd');
    expect(names(fd)).toEqual(['0', '1']);
    const l0 = at(fd, '0');
    expect(l0.readlink!()).toBe('/dev/console');
    const m = l0.magicLink!();
    expect(typeof m).toBe('object');
    if (typeof m === 'object') {
      expect(m.file).toBe(g.console);
      expect(m.inode).toBe(g.console.inode);
    }
    expect(at(fd, '1').readlink!()).toBe('pipe:[51]');
    expect((l0.getattr() as Stat).mode).toBe(S_IFLNK | 0o700);
    expect((at(fd, '1').getattr() as Stat).mode).toBe(S_IFLNK | 0o300);
    expect(cat(at(g.procfs.root, '5', 'fdinfo', '1'))).toMatch(/^pos:\t0\nflags:\t02000001\n/);
    // the same file has the same inode number on every lookup
    expect(at(fd, '0').ino).toBe(l0.ino);
  });

  it('lets the path walk follow /proc/self/fd/N and /proc/self/exe', () => {
    const g = guest();
    const procDir = fakeDir(3, {});
    const rootDir = fakeDir(1, { proc: procDir });
    const root: Location = [{ name: '', inode: rootDir }];
    const ctx: WalkContext = { root, mounts: { mountedAt: (p) => (p === '/proc' ? g.procfs.root : undefined) } };
    const loc = resolve(ctx, root, '/proc/self/fd/0', { followLast: true });
    expect(typeof loc).toBe('object');
    if (typeof loc === 'object') expect(locInode(loc)).toBe(g.console.inode);
    const exe = resolve(ctx, root, '/proc/self/exe', { followLast: true });
    if (typeof exe === 'object') expect(locInode(exe).ino).toBe(9);
    else throw new Error(`exe: ${exe}`);
  });

  it('disappears with the process', () => {
    const g = guest();
    const dir = at(g.procfs.root, '5');
    const status = at(dir, 'status');
    (g.view.processes() as Process[]).splice(1, 1);
    expect(status.open!(0, dummyCtx)).toBe(-E.ESRCH);
    expect(dir.lookup!('stat')).toBe(-E.ENOENT);
    expect(names(g.procfs.root).filter((n) => /^\d+$/.test(n))).toEqual(['1']);
  });

  it('shows a zombie as Z with its exit code', () => {
    const g = guest();
    g.child.exit = { kind: 'exited', value: 3, core: false };
    g.child.threads.clear();
    const s = cat(at(g.procfs.root, '5', 'stat'));
    const fields = s.slice(s.lastIndexOf(')') + 2).trim().split(' ');
    expect(fields[0]).toBe('Z');
    expect(fields[fields.length - 1]).toBe(String(3 << 8));
    expect(cat(at(g.procfs.root, '5', 'cmdline'))).toBe('');
  });

  it('generates the global files', () => {
    const g = guest();
    const r = g.procfs.root;
    expect(cat(at(r, 'meminfo'))).toMatch(/^MemTotal: {8}1048576 kB\nMemFree: {10}524288 kB\n/);
    expect(cat(at(r, 'uptime'))).toBe('60.00 120.00\n');
    expect(cat(at(r, 'loadavg'))).toMatch(/^0\.50 0\.25 0\.00 \d+\/3 5\n$/);
    expect(cat(at(r, 'version'))).toMatch(/^Linux version 6\.1\.0-vmctl \(/);
    expect(cat(at(r, 'sys', 'kernel', 'hostname'))).toBe('guest\n');
    expect(cat(at(r, 'sys', 'kernel', 'ostype'))).toBe('Linux\n');
    const stat = cat(at(r, 'stat'));
    expect(stat).toMatch(/^cpu  0 0 0 \d+ /);
    expect(stat).toMatch(/\nbtime \d+\n/);
    expect(at(r, 'mounts').readlink!()).toBe('self/mounts');
    expect(cat(at(r, '5', 'mounts'))).toBe('proc /proc proc rw 0 0\n');
    expect(cat(at(r, '5', 'statm'))).toMatch(/^\d+ 0 0 256 0 \d+ 0\n$/);
  });

  it('owns pid directories by the process uid, with Linux modes', () => {
    const g = guest();
    g.child.cred = { ...ROOT, uid: 1000, euid: 1000, fsuid: 1000 };
    const st = at(g.procfs.root, '5').getattr() as Stat;
    expect(st.uid).toBe(1000);
    expect(st.mode).toBe(S_IFDIR | 0o555);
    expect((at(g.procfs.root, '5', 'environ').getattr() as Stat).mode & 0o777).toBe(0o400);
    expect((at(g.procfs.root, 'meminfo').getattr() as Stat).mode & 0o777).toBe(0o444);
  });
});

// ----- host stdio (--exec) -----

describe('host stdio', () => {
  it('buffers host input, wakes the reader and reports EOF', () => {
    const stream = new PassThrough();
    const input = new HostInput(stream, -1);
    const ops = input.fileOps();
    const f = new OpenFile(fakeDir(60, {}), 0, ops, 'pipe:[60]');
    expect(ops.read!(f, dummyCtx, 10, 0)).toBe(-E.EAGAIN);
    let woken = 0;
    for (const q of ops.waitQueues!(f)) q.add({ wake: () => { woken++; } });
    stream.write('hello ');
    stream.write('world');
    expect(woken).toBe(1);
    expect(dec.decode(ops.read!(f, dummyCtx, 8, 0) as Uint8Array)).toBe('hello wo');
    expect(dec.decode(ops.read!(f, dummyCtx, 8, 0) as Uint8Array)).toBe('rld');
    stream.end();
    return new Promise<void>((done) => setImmediate(() => {
      expect(ops.read!(f, dummyCtx, 8, 0)).toBe(0);
      expect(ops.poll!(f) & (POLLIN | POLLHUP)).toBe(POLLIN | POLLHUP);
      input.dispose();
      done();
    }));
  });

  it('writes output to the host fd and is no tty when the fd is a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmctl-stdio-'));
    try {
      const path = join(dir, 'out');
      const fd = openSync(path, 'w');
      const out = new HostOutput(fd, () => undefined);
      const ops = out.fileOps();
      const node = hostStdioInode(fakeFs, 61, fd, ops);
      const f = new OpenFile(node, 1, ops, 'pipe:[61]');
      expect(ops.write!(f, dummyCtx, enc.encode('line\n'), 0)).toBe(5);
      expect(ops.ioctl!(f, harness().ctx(), TCGETS, 0x100)).toBe(-E.ENOTTY);
      expect(node.type).toBe(S_IFREG);
      expect((node.getattr() as Stat).size).toBe(5);
      closeSync(fd);
      expect(readFileSync(path, 'utf8')).toBe('line\n');
      expect(ops.write!(f, dummyCtx, enc.encode('x'), 0)).toBe(-E.EBADF);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
