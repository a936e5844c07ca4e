/**
 * /proc (proc(5)), generated from the guest kernel's own state.
 *
 * Everything here comes through a ProcView the kernel implements: only
 * guest processes with guest pids exist, so neither a listing nor a
 * lookup can reach a host process. Files are generated when opened and
 * again when read from offset 0 (seq_file's behaviour), so `top` keeping
 * /proc/stat open and seeking back sees fresh numbers.
 *
 * Inode numbers are computed, not allocated: (pid or tid, file kind, fd)
 * packed into one number, so every lookup of the same file gives the same
 * (dev, ino) without a table that grows with every process ever seen.
 */
import { E } from '../errno.ts';
import { SIG_DFL, SIG_IGN, sigbit } from '../signal-state.ts';
import { TaskState, type Process, type Task } from '../task.ts';
import { isControllingTty } from './tty.ts';
import { locInode, type Location } from './path-walk.ts';
import { pipeSysctl, setPipeMaxSize } from './pipe-size.ts';
import {
  dtypeOfMode, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, S_IFDIR, S_IFLNK, S_IFREG,
  type DirEntry, type FileOps, type FileSystem, type Inode, type IoContext, type OpenFile, type SetAttr, type Stat,
  type StatFs,
} from './types.ts';

/** Memory figures for /proc/meminfo, in bytes. */
export interface MemInfo {
  totalBytes: number;
  freeBytes: number;
  availableBytes?: number;
  buffersBytes?: number;
  cachedBytes?: number;
  shmemBytes?: number;
  swapTotalBytes?: number;
  swapFreeBytes?: number;
}

/** What the kernel may know of a process's resource use (from the host's /proc/HOSTPID); absent fields read 0. */
export interface ProcUsage {
  utimeTicks?: number;
  stimeTicks?: number;
  cutimeTicks?: number;
  cstimeTicks?: number;
  minflt?: number;
  majflt?: number;
  /** resident set, in pages */
  rssPages?: number;
  /** address space size; default: the sum of the mappings maps() lists */
  vsizeBytes?: number;
  voluntaryCtxtSwitches?: number;
  nonvoluntaryCtxtSwitches?: number;
}

/** The kernel as /proc sees it. Every pid here is a guest pid. */
export interface ProcView {
  /** Every process of the caller's pid namespace, zombies included, reaped ones not. */
  processes(): Iterable<Process>;
  /** The process (or zombie) with guest pid `pid`. */
  process(pid: number): Process | undefined;
  /** The thread whose syscall is being served: /proc/self and /proc/thread-self. */
  current(): Task;
  /** Bytes of `p`'s memory (cmdline, environ), or -errno. */
  readMemory(p: Process, addr: number, len: number): Uint8Array | number;
  /** /proc/PID/maps text, host paths already turned into guest paths. */
  maps(p: Process): string;
  /** Guest path of a location, as /proc/PID/cwd and root show it. */
  locationPath(loc: Location): string;
  /** /proc/PID/mounts text (the mount table as `p` sees it). */
  mounts(p: Process): string;
  /** /proc/filesystems text ("nodev\tproc\n..."). */
  filesystems(): string;
  hostname(): string;
  /** sethostname(2) semantics; -errno on failure. Absent: read-only. */
  setHostname?(name: string): number;
  domainname?(): string;
  setDomainname?(name: string): number;
  /** uname(2) release ("6.1.0-vmctl") and version ("#1 SMP ...") */
  kernelRelease(): string;
  kernelVersion(): string;
  /** wall-clock time of boot, ms since the epoch (the base of Process.startTimeMs) */
  bootTimeMs(): number;
  /** time since boot, ms */
  uptimeMs(): number;
  memInfo(): MemInfo;
  /** /proc/cpuinfo text */
  cpuinfo(): string;
  cpuCount(): number;
  /** 1, 5 and 15 minute load averages */
  loadavg(): readonly [number, number, number];
  usage?(p: Process, t?: Task): ProcUsage;
  /** processes created since boot (/proc/stat "processes") */
  forkCount?(): number;
  /** most recently allocated pid (/proc/loadavg) */
  lastPid?(): number;
  /** /proc/sys/kernel/pid_max; default 32768 */
  pidMax?(): number;
  /** /proc/sys/kernel/threads-max: the most tasks the guest may have (--pids-max) */
  threadsMax?(): number;
}

// ----- numbers and formats -----

/** sysconf(_SC_CLK_TCK): the unit of every tick count in /proc. */
const USER_HZ = 100;
const PAGE_SIZE = 4096;
const PROC_SUPER_MAGIC = 0x9fa0;
const RLIMIT_RSS = 5, RLIMIT_SIGPENDING = 11;
const O_CLOEXEC = 0o2000000, O_ACCMODE = 3, O_RDONLY = 0, O_WRONLY = 1;
/** PF_RANDOMIZE, and PF_EXITING for a zombie (include/linux/sched.h) */
const PF_EXITING = 0x4, PF_RANDOMIZE = 0x400000;

const enc = new TextEncoder();

/** An rlimit as /proc prints it: RLIM_INFINITY is 2^64-1. */
function fmtLimit(v: number | undefined): string {
  if (v === undefined || v < 0 || !Number.isFinite(v) || v >= 2 ** 53) return '18446744073709551615';
  return String(v);
}

function hex16(mask: bigint): string {
  return BigInt.asUintN(64, mask).toString(16).padStart(16, '0');
}

function kb(bytes: number): string {
  return String(Math.floor(bytes / 1024)).padStart(8);
}

/** Escape a task name the way proc_task_name(escape=true) does for "Name:". */
function escapeName(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function ts(ms: number): { sec: number; nsec: number } {
  return { sec: Math.floor(ms / 1000), nsec: Math.floor((ms % 1000) * 1e6) };
}

// ----- inode numbers -----

const PID_BASE = 0x100000;
/** kinds of per-process files; THREAD is added for /proc/PID/task/TID and /proc/TID */
const enum K {
  Dir, Stat, Status, Cmdline, Environ, Maps, Comm, Statm, Mounts, Exe, Cwd, Root, FdDir, Fd, FdinfoDir,
  Fdinfo, TaskDir,
}
const THREAD = 64;

/** id < 2^22 (pid_max limit), kind < 128, n < 2^20: below 2^50. */
function pidIno(id: number, kind: number, n = 0): number {
  return PID_BASE + (id * 128 + kind) * 0x100000 + (n % 0x100000);
}

// ----- inode kinds -----

type Owner = () => { uid: number; gid: number; timeMs: number } | number;
type Generator = () => Uint8Array | string | number;
type Writer = (ctx: IoContext, data: Uint8Array, pos: number) => number;

abstract class ProcNode implements Inode {
  abstract readonly type: number;

  constructor(
    readonly fs: ProcFs,
    readonly ino: number,
    protected readonly perm: number,
    protected readonly owner: Owner,
  ) {}

  protected nlink(): number {
    return 1;
  }

  /**
   * proc_setattr(): modes and owners are fixed; a truncate (O_TRUNC of
   * `echo x > /proc/sys/kernel/hostname`) is accepted and means nothing.
   */
  setattr(attr: SetAttr): number {
    if (attr.mode !== undefined || attr.uid !== undefined || attr.gid !== undefined) return -E.EPERM;
    return 0;
  }

  protected size(): number {
    return 0;
  }

  getattr(): Stat | number {
    const o = this.owner();
    if (typeof o === 'number') return o;
    const t = ts(o.timeMs);
    return {
      dev: this.fs.dev, ino: this.ino, mode: this.type | this.perm, nlink: this.nlink(), uid: o.uid, gid: o.gid,
      rdev: 0, size: this.size(), blksize: 1024, blocks: 0, atime: t, mtime: t, ctime: t,
    };
  }
}

function toBytes(r: Uint8Array | string): Uint8Array {
  return typeof r === 'string' ? enc.encode(r) : r;
}

/** A generated file: a snapshot taken at open, renewed by a read at offset 0. */
class ProcFile extends ProcNode {
  readonly type = S_IFREG;

  constructor(fs: ProcFs, ino: number, perm: number, owner: Owner, private readonly gen: Generator, private readonly writer?: Writer) {
    super(fs, ino, perm, owner);
  }

  open(flags: number, _ctx: IoContext): FileOps | number {
    const alive = this.owner();
    if (typeof alive === 'number') return -E.ESRCH;
    const wantWrite = (flags & O_ACCMODE) !== O_RDONLY;
    if (wantWrite && !this.writer) return -E.EACCES;
    let data: Uint8Array | undefined;
    let fresh = false;
    if ((flags & O_ACCMODE) !== O_WRONLY) {
      const r = this.gen();
      if (typeof r === 'number') return r;
      data = toBytes(r);
      fresh = true;
    }
    const writer = this.writer;
    return {
      seekable: true,
      read: (_f: OpenFile, _ctx: IoContext, len: number, pos: number): Uint8Array | number => {
        if (data === undefined || (pos === 0 && !fresh)) {
          const r = this.gen();
          if (typeof r === 'number') return r;
          data = toBytes(r);
        }
        fresh = false;
        if (pos >= data.byteLength) return 0;
        return data.subarray(pos, pos + len);
      },
      write: writer ? (_f: OpenFile, ctx: IoContext, d: Uint8Array, pos: number) => writer(ctx, d, pos) : undefined,
      poll: () => POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM,
    };
  }
}

class ProcLink extends ProcNode {
  readonly type = S_IFLNK;

  constructor(fs: ProcFs, ino: number, perm: number, owner: Owner, private readonly target: () => string | number) {
    super(fs, ino, perm, owner);
  }

  readlink(): string | number {
    if (typeof this.owner() === 'number') return -E.ENOENT;
    return this.target();
  }
}

type MagicTarget = { inode: Inode; path: string; file?: OpenFile };

/** /proc/PID/fd/N, exe, cwd, root: the walk lands on the object itself, not on its name. */
class ProcMagicLink extends ProcLink {
  constructor(fs: ProcFs, ino: number, perm: number, owner: Owner, private readonly resolveTarget: () => MagicTarget | number, private readonly linkSize = 0) {
    super(fs, ino, perm, owner, () => {
      const m = resolveTarget();
      return typeof m === 'number' ? m : m.path;
    });
  }

  protected override size(): number {
    return this.linkSize;
  }

  magicLink(): MagicTarget | number {
    if (typeof this.owner() === 'number') return -E.ENOENT;
    return this.resolveTarget();
  }
}

interface Entry {
  name: string;
  make: () => Inode;
}

class ProcDir extends ProcNode {
  readonly type = S_IFDIR;

  constructor(
    fs: ProcFs, ino: number, perm: number, owner: Owner,
    private readonly entries: () => Entry[] | number,
    /** names a lookup finds that a listing does not show (/proc/TID) */
    private readonly hidden?: (name: string) => Inode | undefined,
    private readonly subdirs = 0,
  ) {
    super(fs, ino, perm, owner);
  }

  protected override nlink(): number {
    return 2 + this.subdirs;
  }

  lookup(name: string): Inode | number {
    if (typeof this.owner() === 'number') return -E.ENOENT;
    const es = this.entries();
    if (typeof es === 'number') return es;
    const e = es.find((x) => x.name === name);
    if (e) return e.make();
    return this.hidden?.(name) ?? -E.ENOENT;
  }

  readdir(): DirEntry[] | number {
    if (typeof this.owner() === 'number') return -E.ENOENT;
    const es = this.entries();
    if (typeof es === 'number') return es;
    return es.map((e) => {
      const i = e.make();
      return { name: e.name, ino: i.ino, type: dtypeOfMode(i.type) };
    });
  }

  open(): FileOps | number {
    if (typeof this.owner() === 'number') return -E.ENOENT;
    return { seekable: true, readdir: () => this.readdir() };
  }
}

// ----- the filesystem -----

class ProcFs implements FileSystem {
  readonly type = 'proc';
  readonly root: Inode;
  private nextStatic = 1;

  constructor(readonly view: ProcView, readonly dev: number) {
    this.root = buildRoot(this);
  }

  /** Inode numbers of the fixed files, 1 (the root) upwards. */
  staticIno(): number {
    return this.nextStatic++;
  }

  statfs(): StatFs {
    return { type: PROC_SUPER_MAGIC, bsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, namelen: 255 };
  }
}

/** A proc filesystem over `view`, with st_dev `dev`. */
export function createProcfs(view: ProcView, dev: number): FileSystem {
  return new ProcFs(view, dev);
}

// ----- the fixed part: /proc, /proc/sys, the global files -----

type Spec =
  | { file: Generator; write?: Writer; perm?: number }
  | { link: () => string }
  | { dir: Record<string, Spec> };

function buildRoot(fs: ProcFs): Inode {
  const v = fs.view;
  const ino = fs.staticIno();
  const bootOwner: Owner = () => ({ uid: 0, gid: 0, timeMs: v.bootTimeMs() });
  const fixed = buildEntries(fs, {
    cpuinfo: { file: () => v.cpuinfo() },
    filesystems: { file: () => v.filesystems() },
    loadavg: { file: () => loadavgText(v) },
    meminfo: { file: () => meminfoText(v.memInfo()) },
    mounts: { link: () => 'self/mounts' },
    self: { link: () => String(v.current().pid) },
    stat: { file: () => statText(v) },
    sys: {
      dir: {
        fs: {
          dir: {
            'pipe-max-size': {
              file: () => `${pipeSysctl.maxSize}\n`,
              write: (_ctx, data) => {
                const r = setPipeMaxSize(new TextDecoder().decode(data));
                return r < 0 ? r : data.byteLength;
              },
            },
          },
        },
        kernel: {
          dir: {
            cap_last_cap: { file: () => '40\n' },
            domainname: stringSysctl(() => v.domainname?.() ?? '(none)', v.setDomainname?.bind(v)),
            hostname: stringSysctl(() => v.hostname(), v.setHostname?.bind(v)),
            ngroups_max: { file: () => '65536\n' },
            osrelease: { file: () => v.kernelRelease() + '\n' },
            ostype: { file: () => 'Linux\n' },
            pid_max: { file: () => `${v.pidMax?.() ?? 32768}\n` },
            // Read-only here: a guest must not raise the bound the host set with --pids-max.
            'threads-max': { file: () => `${v.threadsMax?.() ?? 32768}\n` },
            version: { file: () => v.kernelVersion() + '\n' },
          },
        },
      },
    },
    'thread-self': { link: () => `${v.current().pid}/task/${v.current().tid}` },
    uptime: { file: () => uptimeText(v) },
    version: { file: () => `Linux version ${v.kernelRelease()} (vmctl@vmctl) (vmctl guest kernel) ${v.kernelVersion()}\n` },
  }, bootOwner);
  const entries = (): Entry[] => {
    const out = [...fixed];
    for (const p of sortedProcesses(v)) out.push({ name: String(p.pid), make: () => processDir(fs, p, p.leader, false) });
    return out;
  };
  // /proc/TID works for every thread, though only thread-group leaders are listed.
  const hidden = (name: string): Inode | undefined => {
    if (!/^[1-9][0-9]*$/.test(name)) return undefined;
    const tid = Number(name);
    for (const p of v.processes()) {
      for (const t of p.threads) if (t.tid === tid) return processDir(fs, p, t, true);
    }
    return undefined;
  };
  return new ProcDir(fs, ino, 0o555, bootOwner, entries, hidden, 1);
}

function buildEntries(fs: ProcFs, specs: Record<string, Spec>, owner: Owner): Entry[] {
  const out: Entry[] = [];
  for (const [name, spec] of Object.entries(specs)) {
    const ino = fs.staticIno();
    let node: Inode;
    if ('file' in spec) node = new ProcFile(fs, ino, spec.perm ?? (spec.write ? 0o644 : 0o444), owner, spec.file, spec.write);
    else if ('link' in spec) node = new ProcLink(fs, ino, 0o777, owner, spec.link);
    else {
      const children = buildEntries(fs, spec.dir, owner);
      const subdirs = Object.values(spec.dir).filter((s) => 'dir' in s).length;
      node = new ProcDir(fs, ino, 0o555, owner, () => children, undefined, subdirs);
    }
    out.push({ name, make: () => node });
  }
  return out;
}

/**
 * A string sysctl (proc_dostring): a write at offset 0 replaces the value,
 * which ends at the first newline; 64 bytes at most (__NEW_UTS_LEN).
 */
function stringSysctl(get: () => string, set: ((s: string) => number) | undefined): Spec {
  if (!set) return { file: () => get() + '\n' };
  return {
    file: () => get() + '\n',
    write: (_ctx, data, pos) => {
      let s = new TextDecoder().decode(data);
      const nl = s.search(/[\n\0]/);
      if (nl >= 0) s = s.slice(0, nl);
      const value = (pos === 0 ? s : get() + s).slice(0, 64);
      const r = set(value);
      return r < 0 ? r : data.byteLength;
    },
  };
}

function sortedProcesses(v: ProcView): Process[] {
  return [...v.processes()].sort((a, b) => a.pid - b.pid);
}

function liveThreads(v: ProcView): Task[] {
  const out: Task[] = [];
  for (const p of v.processes()) for (const t of p.threads) if (t.state !== TaskState.Dead) out.push(t);
  return out;
}

function isRunning(t: Task): boolean {
  return t.state === TaskState.Running || t.state === TaskState.InKernel;
}

function meminfoText(m: MemInfo): string {
  const rows: [string, number][] = [
    ['MemTotal', m.totalBytes],
    ['MemFree', m.freeBytes],
    ['MemAvailable', m.availableBytes ?? m.freeBytes],
    ['Buffers', m.buffersBytes ?? 0],
    ['Cached', m.cachedBytes ?? 0],
    ['SwapCached', 0],
    ['Active', 0],
    ['Inactive', 0],
    ['SwapTotal', m.swapTotalBytes ?? 0],
    ['SwapFree', m.swapFreeBytes ?? 0],
    ['Dirty', 0],
    ['Writeback', 0],
    ['AnonPages', 0],
    ['Mapped', 0],
    ['Shmem', m.shmemBytes ?? 0],
    ['SReclaimable', 0],
    ['CommitLimit', m.totalBytes],
    ['Committed_AS', 0],
  ];
  // show_val_kb(): the label padded to 16 columns, the value to 8.
  return rows.map(([k, b]) => `${(k + ':').padEnd(16)}${kb(b)} kB\n`).join('');
}

function uptimeText(v: ProcView): string {
  const up = v.uptimeMs() / 1000;
  // Idle time summed over CPUs; the guest kernel does not track it: all of it.
  return `${up.toFixed(2)} ${(up * v.cpuCount()).toFixed(2)}\n`;
}

function loadavgText(v: ProcView): string {
  const [a, b, c] = v.loadavg();
  const threads = liveThreads(v);
  const running = threads.filter(isRunning).length;
  let last = v.lastPid?.() ?? 0;
  if (!v.lastPid) for (const p of v.processes()) last = Math.max(last, p.pid);
  return `${a.toFixed(2)} ${b.toFixed(2)} ${c.toFixed(2)} ${running}/${threads.length} ${last}\n`;
}

function statText(v: ProcView): string {
  const ncpu = Math.max(1, v.cpuCount());
  const upTicks = Math.floor((v.uptimeMs() / 1000) * USER_HZ);
  let user = 0, system = 0;
  for (const p of v.processes()) {
    const u = v.usage?.(p);
    user += u?.utimeTicks ?? 0;
    system += u?.stimeTicks ?? 0;
  }
  const idle = Math.max(0, upTicks * ncpu - user - system);
  const line = (name: string, us: number, sy: number, id: number): string =>
    `${name} ${us} 0 ${sy} ${id} 0 0 0 0 0 0\n`;
  let s = line('cpu ', user, system, idle);
  for (let i = 0; i < ncpu; i++) {
    s += line(`cpu${i}`, Math.floor(user / ncpu), Math.floor(system / ncpu), Math.floor(idle / ncpu));
  }
  const threads = liveThreads(v);
  const forks = v.forkCount?.() ?? [...v.processes()].length;
  s += 'intr 0\nctxt 0\n';
  s += `btime ${Math.floor(v.bootTimeMs() / 1000)}\n`;
  s += `processes ${forks}\n`;
  s += `procs_running ${threads.filter(isRunning).length}\n`;
  s += 'procs_blocked 0\n';
  s += 'softirq 0 0 0 0 0 0 0 0 0 0 0\n';
  return s;
}

// ----- /proc/PID and /proc/PID/task/TID -----

/** Is `p` still what /proc/PID names (not reaped, pid not reused)? For a thread dir, is `t` still in it? */
function processOwner(v: ProcView, p: Process, t: Task | undefined, thread: boolean): Owner {
  return () => {
    if (v.process(p.pid) !== p) return -E.ENOENT;
    if (thread && t && !p.threads.has(t)) return -E.ENOENT;
    return { uid: p.cred.euid, gid: p.cred.egid, timeMs: p.startTimeMs };
  };
}

/**
 * /proc/PID (thread = false, t = the leader) or a thread's directory
 * (/proc/PID/task/TID and /proc/TID: thread = true). Files that are per
 * thread on Linux (stat, status, comm) describe `t` in the latter.
 */
function processDir(fs: ProcFs, p: Process, t: Task | undefined, thread: boolean): Inode {
  const v = fs.view;
  const id = thread && t ? t.tid : p.pid;
  const kb = thread ? THREAD : 0;
  const ino = (k: K, n = 0): number => pidIno(id, kb + k, n);
  const owner = processOwner(v, p, t, thread);
  const file = (k: K, perm: number, gen: Generator, writer?: Writer): Entry['make'] =>
    () => new ProcFile(fs, ino(k), perm, owner, gen, writer);
  const magic = (k: K, target: () => MagicTarget | number): Entry['make'] =>
    () => new ProcMagicLink(fs, ino(k), 0o777, owner, target);
  const entries: Entry[] = [
    { name: 'cmdline', make: file(K.Cmdline, 0o444, () => memoryRange(v, p, p.mm.argStart, p.mm.argEnd, true)) },
    { name: 'comm', make: file(K.Comm, 0o644, () => p.comm + '\n', (ctx, data) => writeComm(p, ctx, data)) },
    { name: 'cwd', make: magic(K.Cwd, () => locationTarget(v, p, p.fs.cwd)) },
    { name: 'environ', make: file(K.Environ, 0o400, () => memoryRange(v, p, p.mm.envStart, p.mm.envEnd, false)) },
    { name: 'exe', make: magic(K.Exe, () => exeTarget(p)) },
    { name: 'fd', make: () => fdDir(fs, p, ino(K.FdDir), owner, (fd) => ino(K.Fd, fd)) },
    { name: 'fdinfo', make: () => fdinfoDir(fs, p, ino(K.FdinfoDir), owner, (fd) => ino(K.Fdinfo, fd)) },
    { name: 'maps', make: file(K.Maps, 0o444, () => (p.alive ? v.maps(p) : '')) },
    { name: 'mounts', make: file(K.Mounts, 0o444, () => v.mounts(p)) },
    { name: 'root', make: magic(K.Root, () => locationTarget(v, p, p.fs.root)) },
    { name: 'stat', make: file(K.Stat, 0o444, () => statLine(v, p, t, thread)) },
    { name: 'statm', make: file(K.Statm, 0o444, () => statmLine(v, p)) },
    { name: 'status', make: file(K.Status, 0o444, () => statusText(v, p, t, thread)) },
  ];
  if (!thread) entries.push({ name: 'task', make: () => taskDir(fs, p, ino(K.TaskDir), owner) });
  return new ProcDir(fs, ino(K.Dir), 0o555, owner, () => entries, undefined, thread ? 2 : 3);
}

function taskDir(fs: ProcFs, p: Process, ino: number, owner: Owner): Inode {
  const entries = (): Entry[] =>
    [...p.threads].sort((a, b) => a.tid - b.tid).map((t) => ({ name: String(t.tid), make: () => processDir(fs, p, t, true) }));
  return new ProcDir(fs, ino, 0o555, owner, entries, undefined, p.threads.size);
}

function fdDir(fs: ProcFs, p: Process, ino: number, owner: Owner, fdIno: (fd: number) => number): Inode {
  const entries = (): Entry[] => {
    const out: Entry[] = [];
    for (const [fd, f] of p.files.entries()) {
      // The link's mode shows the access mode: r-x for reading, -wx for writing (proc_fd_instantiate).
      const acc = f.flags & O_ACCMODE;
      const perm = (acc !== O_WRONLY ? 0o500 : 0) | (acc !== O_RDONLY ? 0o300 : 0);
      out.push({
        name: String(fd),
        make: () => new ProcMagicLink(fs, fdIno(fd), perm, owner, () => fdTarget(p, fd), 64),
      });
    }
    return out;
  };
  return new ProcDir(fs, ino, 0o500, owner, entries);
}

function fdinfoDir(fs: ProcFs, p: Process, ino: number, owner: Owner, fdIno: (fd: number) => number): Inode {
  const entries = (): Entry[] => {
    const out: Entry[] = [];
    for (const [fd] of p.files.entries()) {
      out.push({ name: String(fd), make: () => new ProcFile(fs, fdIno(fd), 0o400, owner, () => fdinfoText(p, fd)) });
    }
    return out;
  };
  return new ProcDir(fs, ino, 0o555, owner, entries);
}

function fdTarget(p: Process, fd: number): MagicTarget | number {
  const f = p.files.get(fd);
  if (!f) return -E.ENOENT;
  return { inode: f.inode, path: f.path || `anon_inode:[${f.inode.ino}]`, file: f };
}

function fdinfoText(p: Process, fd: number): string | number {
  const f = p.files.get(fd);
  if (!f) return -E.ENOENT;
  const flags = f.flags | (p.files.getCloexec(fd) ? O_CLOEXEC : 0);
  return `pos:\t${f.pos}\nflags:\t0${flags.toString(8)}\nmnt_id:\t0\nino:\t${f.inode.ino}\n`;
}

function exeTarget(p: Process): MagicTarget | number {
  if (!p.alive || !p.mm.exeInode) return -E.ENOENT;
  return { inode: p.mm.exeInode, path: p.mm.exePath };
}

function locationTarget(v: ProcView, p: Process, loc: Location): MagicTarget | number {
  if (!p.alive || loc.length === 0) return -E.ENOENT;
  return { inode: locInode(loc), path: v.locationPath(loc) };
}

/**
 * cmdline/environ: the process's own memory between the two addresses.
 * A command line that no longer ends in NUL was rewritten in place
 * (setproctitle): it then ends at its first NUL (get_mm_cmdline()).
 */
function memoryRange(v: ProcView, p: Process, start: number, end: number, cmdline: boolean): Uint8Array {
  if (!p.alive || end <= start) return new Uint8Array(0);
  const b = v.readMemory(p, start, end - start);
  if (typeof b === 'number') return new Uint8Array(0);
  if (cmdline && b.byteLength > 0 && b[b.byteLength - 1] !== 0) {
    const z = b.indexOf(0);
    if (z >= 0) return b.subarray(0, z);
  }
  return b;
}

/** comm_write(): only the thread group itself may rename itself; the name keeps 15 bytes. */
function writeComm(p: Process, ctx: IoContext, data: Uint8Array): number {
  if (ctx.pid !== p.pid) return -E.EINVAL;
  p.comm = new TextDecoder().decode(data.subarray(0, 15)).replace(/\0.*$/s, '');
  return data.byteLength;
}

// ----- per-process figures -----

interface MapsSummary {
  total: number;
  stack: number;
  exe: number;
  lib: number;
  data: number;
}

/** Sizes by kind from maps text, standing in for mm's counters (VmExe, VmData, ...). */
function summarizeMaps(text: string, exePath: string): MapsSummary {
  const s: MapsSummary = { total: 0, stack: 0, exe: 0, lib: 0, data: 0 };
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S{4})\s+\S+\s+\S+\s+\S+\s*(.*)$/.exec(line);
    if (!m) continue;
    const path = m[4]!;
    if (path === '[vsyscall]') continue; // not a VMA of the process
    const size = Number(BigInt('0x' + m[2]) - BigInt('0x' + m[1]));
    const perms = m[3]!;
    s.total += size;
    if (path === '[stack]') s.stack += size;
    else if (perms[2] === 'x') {
      if (path === exePath) s.exe += size;
      else s.lib += size;
    } else if (perms[1] === 'w' && perms[3] === 'p') s.data += size;
  }
  return s;
}

function mapsSummary(v: ProcView, p: Process): MapsSummary | undefined {
  if (!p.alive) return undefined;
  return summarizeMaps(v.maps(p), p.mm.exePath);
}

const STATE_NAMES: Record<string, string> = {
  R: 'R (running)', S: 'S (sleeping)', D: 'D (disk sleep)', T: 'T (stopped)', t: 't (tracing stop)',
  X: 'X (dead)', Z: 'Z (zombie)',
};

function stateLetter(p: Process, t: Task | undefined): string {
  if (!p.alive) return 'Z';
  if (!t) return 'X';
  if (p.stopped) return 'T';
  switch (t.state) {
    case TaskState.Running: case TaskState.InKernel: return 'R';
    case TaskState.Blocked: return 'S';
    case TaskState.Stopped: return 'T';
    default: return 'X';
  }
}

/** Ignored and caught signals of a process, from its dispositions. */
function sigMasks(p: Process): { ign: bigint; cgt: bigint } {
  let ign = 0n, cgt = 0n;
  p.sighand.actions.forEach((a, sig) => {
    if (sig < 1 || sig > 64) return;
    if (a.handler === SIG_IGN) ign |= sigbit(sig);
    else if (a.handler !== SIG_DFL) cgt |= sigbit(sig);
  });
  return { ign, cgt };
}

function pendingMask(list: readonly { signo: number }[]): bigint {
  let m = 0n;
  for (const s of list) m |= sigbit(s.signo);
  return m;
}

/** The wait status of a zombie (exit_code in /proc/PID/stat). */
function exitCode(p: Process): number {
  const e = p.exit;
  if (!e) return 0;
  if (e.kind === 'exited') return (e.value & 0xff) << 8;
  if (e.kind === 'killed') return e.value | (e.core ? 0x80 : 0);
  return 0;
}

/** tty_nr and tpgid: only while `p`'s session still owns the terminal. */
function ttyOf(p: Process): { nr: number; tpgid: number } {
  const c = p.ctty;
  if (!isControllingTty(c) || c.session !== p.sid) return { nr: 0, tpgid: -1 };
  return { nr: c.rdev, tpgid: c.foregroundPgrp };
}

function startTicks(v: ProcView, p: Process): number {
  return Math.max(0, Math.floor(((p.startTimeMs - v.bootTimeMs()) / 1000) * USER_HZ));
}

/** /proc/PID/stat: the 52 fields of do_task_stat() in Linux 6.1. */
function statLine(v: ProcView, p: Process, t: Task | undefined, thread: boolean): string {
  const u = v.usage?.(p, thread ? t : undefined) ?? {};
  const alive = p.alive;
  const maps = alive && u.vsizeBytes === undefined ? mapsSummary(v, p) : undefined;
  const mm = p.mm;
  const tty = ttyOf(p);
  const { ign, cgt } = sigMasks(p);
  const low31 = (m: bigint): string => String(m & 0x7fffffffn);
  const f: (string | number)[] = [
    thread && t ? t.tid : p.pid,
    `(${p.comm})`,
    stateLetter(p, t),
    p.parent?.pid ?? 0,
    p.pgid,
    p.sid,
    tty.nr,
    tty.tpgid,
    PF_RANDOMIZE | (alive ? 0 : PF_EXITING),
    u.minflt ?? 0, 0, u.majflt ?? 0, 0,
    u.utimeTicks ?? 0, u.stimeTicks ?? 0, u.cutimeTicks ?? 0, u.cstimeTicks ?? 0,
    20, // priority: 20 + nice
    0, // nice
    Math.max(1, p.threads.size),
    0, // itrealvalue, always 0 since 2.6.17
    startTicks(v, p),
    alive ? u.vsizeBytes ?? maps?.total ?? 0 : 0,
    alive ? u.rssPages ?? 0 : 0,
    fmtLimit(p.rlimits.get(RLIMIT_RSS)?.cur),
    // startcode, endcode: 1 as Linux shows them to a reader without ptrace access
    alive ? 1 : 0, alive ? 1 : 0,
    alive ? mm.startStack : 0,
    0, 0, // kstkesp, kstkeip
    // The old signal fields, decimal and only the first 31 signals.
    low31(t ? pendingMask(t.pending) : 0n),
    low31(t ? t.sigmask : 0n),
    low31(ign),
    low31(cgt),
    0, 0, 0, // wchan, nswap, cnswap
    p.exitSignal,
    0, 0, 0, 0, 0, 0, // processor, rt_priority, policy, delayacct_blkio_ticks, guest_time, cguest_time
    0, 0, // start_data, end_data
    alive ? mm.brkStart : 0,
    alive ? mm.argStart : 0, alive ? mm.argEnd : 0, alive ? mm.envStart : 0, alive ? mm.envEnd : 0,
    exitCode(p),
  ];
  return f.join(' ') + '\n';
}

function statmLine(v: ProcView, p: Process): string {
  const m = mapsSummary(v, p);
  if (!m) return '0 0 0 0 0 0 0\n';
  const u = v.usage?.(p) ?? {};
  const pages = (b: number): number => Math.floor(b / PAGE_SIZE);
  const size = u.vsizeBytes !== undefined ? pages(u.vsizeBytes) : pages(m.total);
  return `${size} ${u.rssPages ?? 0} 0 ${pages(m.exe)} 0 ${pages(m.data + m.stack)} 0\n`;
}

/** FDSize: the fd table's capacity, 64 and doubling like Linux's expand_fdtable(). */
function fdSize(p: Process): number {
  let max = -1;
  for (const [fd] of p.files.entries()) max = Math.max(max, fd);
  let n = 64;
  while (n <= max) n *= 2;
  return n;
}

/** /proc/PID/status, the lines and order of Linux 6.1's proc_pid_status(). */
function statusText(v: ProcView, p: Process, t: Task | undefined, thread: boolean): string {
  const c = p.cred as typeof p.cred & { suid?: number; sgid?: number };
  const alive = p.alive;
  const tid = thread && t ? t.tid : p.pid;
  const { ign, cgt } = sigMasks(p);
  const ncpu = Math.max(1, v.cpuCount());
  const lines: string[] = [
    `Name:\t${escapeName(p.comm)}`,
    `Umask:\t${(p.fs.umask & 0o777).toString(8).padStart(4, '0')}`,
    `State:\t${STATE_NAMES[stateLetter(p, t)]}`,
    `Tgid:\t${p.pid}`,
    'Ngid:\t0',
    `Pid:\t${tid}`,
    `PPid:\t${p.parent?.pid ?? 0}`,
    'TracerPid:\t0',
    `Uid:\t${c.uid}\t${c.euid}\t${c.suid ?? c.euid}\t${c.fsuid}`,
    `Gid:\t${c.gid}\t${c.egid}\t${c.sgid ?? c.egid}\t${c.fsgid}`,
    `FDSize:\t${alive ? fdSize(p) : 0}`,
    `Groups:\t${c.groups.join(' ')} `,
    `NStgid:\t${p.pid}`,
    `NSpid:\t${tid}`,
    `NSpgid:\t${p.pgid}`,
    `NSsid:\t${p.sid}`,
  ];
  const m = alive ? mapsSummary(v, p) : undefined;
  if (m) {
    const u = v.usage?.(p) ?? {};
    const size = u.vsizeBytes ?? m.total;
    const rss = (u.rssPages ?? 0) * PAGE_SIZE;
    lines.push(
      `VmPeak:\t${kb(size)} kB`, `VmSize:\t${kb(size)} kB`, `VmLck:\t${kb(0)} kB`, `VmPin:\t${kb(0)} kB`,
      `VmHWM:\t${kb(rss)} kB`, `VmRSS:\t${kb(rss)} kB`, `RssAnon:\t${kb(0)} kB`, `RssFile:\t${kb(0)} kB`,
      `RssShmem:\t${kb(0)} kB`, `VmData:\t${kb(m.data)} kB`, `VmStk:\t${kb(m.stack)} kB`,
      `VmExe:\t${kb(m.exe)} kB`, `VmLib:\t${kb(m.lib)} kB`, `VmPTE:\t${kb(0)} kB`, `VmSwap:\t${kb(0)} kB`,
      `HugetlbPages:\t${kb(0)} kB`,
    );
  }
  const queued = p.sharedPending.length + [...p.threads].reduce((n, x) => n + x.pending.length, 0);
  const u = v.usage?.(p, thread ? t : undefined) ?? {};
  lines.push(
    'CoreDumping:\t0',
    'THP_enabled:\t1',
    `Threads:\t${Math.max(1, p.threads.size)}`,
    `SigQ:\t${queued}/${fmtLimit(p.rlimits.get(RLIMIT_SIGPENDING)?.cur ?? 63432)}`,
    `SigPnd:\t${hex16(t ? pendingMask(t.pending) : 0n)}`,
    `ShdPnd:\t${hex16(pendingMask(p.sharedPending))}`,
    `SigBlk:\t${hex16(t ? t.sigmask : 0n)}`,
    `SigIgn:\t${hex16(ign)}`,
    `SigCgt:\t${hex16(cgt)}`,
    // The guest's root holds every capability inside the guest.
    `CapInh:\t${hex16(0n)}`,
    `CapPrm:\t${hex16(c.euid === 0 ? 0x1ffffffffffn : 0n)}`,
    `CapEff:\t${hex16(c.euid === 0 ? 0x1ffffffffffn : 0n)}`,
    `CapBnd:\t${hex16(0x1ffffffffffn)}`,
    `CapAmb:\t${hex16(0n)}`,
    'NoNewPrivs:\t0',
    'Seccomp:\t0',
    'Seccomp_filters:\t0',
    'Speculation_Store_Bypass:\tthread vulnerable',
    'SpeculationIndirectBranch:\tconditional enabled',
    `Cpus_allowed:\t${((1n << BigInt(ncpu)) - 1n).toString(16)}`,
    `Cpus_allowed_list:\t${ncpu > 1 ? `0-${ncpu - 1}` : '0'}`,
    'Mems_allowed:\t00000001',
    'Mems_allowed_list:\t0',
    `voluntary_ctxt_switches:\t${u.voluntaryCtxtSwitches ?? 0}`,
    `nonvoluntary_ctxt_switches:\t${u.nonvoluntaryCtxtSwitches ?? 0}`,
  );
  return lines.join('\n') + '\n';
}
