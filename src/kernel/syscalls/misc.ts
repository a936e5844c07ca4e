/**
 * Miscellaneous syscalls: system identity (uname, hostname), randomness,
 * sysinfo, resource limits and usage, scheduling, umask, futex, robust
 * lists, rseq, personality, capabilities.
 */
import { randomFillSync } from 'node:crypto';
import { availableParallelism, freemem, totalmem } from 'node:os';
import { E } from '../errno.ts';
import { futexRequeue, futexWait, futexWakeAddress } from '../futex.ts';
import { writeU64 } from '../guest-memory.ts';
import type { Kernel } from '../kernel.ts';
import { kernelMemory } from '../memory-budget.ts';
import type { Process, RLimit, Task } from '../task.ts';
import { monotonicMs } from '../timers.ts';
import { savedIds } from './ids.ts';
import type { SyscallFamily } from './table.ts';
import { cpuTimeNs, readTimespec, realtimeNs, timespecMs } from './time.ts';

// ----- uname, hostname -----

/** __NEW_UTS_LEN: the longest host or domain name. */
export const UTS_LEN = 64;
export const UTS_RELEASE = '6.1.0-vmctl';
export const UTS_VERSION = '#1 SMP vmctl';
export const UTS_MACHINE = 'x86_64';

/** Uname implements Linux syscall uname(2): struct utsname, six fields of 65 bytes. */
function sysUname(k: Kernel, t: Task, buf: number): number {
  const fields = ['Linux', k.hostname, UTS_RELEASE, UTS_VERSION, UTS_MACHINE, k.domainname];
  const b = Buffer.alloc(6 * (UTS_LEN + 1));
  fields.forEach((s, i) => {
    Buffer.from(s, 'utf8').subarray(0, UTS_LEN).copy(b, i * (UTS_LEN + 1));
  });
  return k.mem.write(t.proc.mm.hostPid, buf, b);
}

/** Read a name for sethostname/setdomainname: root only, at most 64 bytes. */
function readUtsName(k: Kernel, t: Task, name: number, len: number): string | number {
  if (t.proc.cred.euid !== 0) return -E.EPERM;
  const n = len | 0;
  if (n < 0 || n > UTS_LEN) return -E.EINVAL;
  const b = k.mem.read(t.proc.mm.hostPid, name, n);
  if (typeof b === 'number') return b;
  // The name is the bytes given; a NUL among them ends it, as uname shows it.
  const nul = b.indexOf(0);
  return b.subarray(0, nul >= 0 ? nul : n).toString('utf8');
}

/** Sethostname implements Linux syscall sethostname(2). */
function sysSethostname(k: Kernel, t: Task, name: number, len: number): number {
  const s = readUtsName(k, t, name, len);
  if (typeof s === 'number') return s;
  k.hostname = s;
  return 0;
}

/** Setdomainname implements Linux syscall setdomainname(2). */
function sysSetdomainname(k: Kernel, t: Task, name: number, len: number): number {
  const s = readUtsName(k, t, name, len);
  if (typeof s === 'number') return s;
  k.domainname = s;
  return 0;
}

// ----- getrandom, sysinfo -----

export const GRND_NONBLOCK = 1, GRND_RANDOM = 2, GRND_INSECURE = 4;
/** Bytes one getrandom call returns at most (short counts are allowed above 256). */
const GETRANDOM_CHUNK = 1 << 20;

/**
 * Getrandom implements Linux syscall getrandom(2). The host's CSPRNG is
 * always initialised, so no flag ever makes the call block or fail.
 */
function sysGetrandom(k: Kernel, t: Task, buf: number, count: number, flags: number): number {
  const f = flags >>> 0;
  if (f & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) return -E.EINVAL;
  if ((f & (GRND_INSECURE | GRND_RANDOM)) === (GRND_INSECURE | GRND_RANDOM)) return -E.EINVAL;
  // size_t count: Linux clamps anything above INT_MAX; so does the chunk size here.
  const n = count < 0 ? GETRANDOM_CHUNK : Math.min(count, GETRANDOM_CHUNK);
  if (n === 0) return 0;
  const data = randomFillSync(Buffer.allocUnsafe(n));
  const w = k.mem.writePartial(t.proc.mm.hostPid, buf, data);
  if (w < 0) return w;
  return w === 0 ? -E.EFAULT : w;
}

/**
 * Sysinfo implements Linux syscall sysinfo(2): uptime since the guest
 * booted, load averages 0, the host's RAM, no swap, and the number of
 * guest processes, in bytes (mem_unit 1).
 */
function sysSysinfo(k: Kernel, t: Task, info: number): number {
  const b = Buffer.alloc(112);
  writeU64(b, 0, Math.floor((monotonicMs() - k.bootMonoMs) / 1000));
  // loads[3] at 8, 16, 24 stay 0
  // The guest's RAM is --mem, as /proc/meminfo shows it.
  const total = Math.min(kernelMemory.limit, totalmem());
  writeU64(b, 32, total);
  writeU64(b, 40, Math.max(0, Math.min(freemem(), total - kernelMemory.used)));
  // sharedram, bufferram, totalswap, freeswap stay 0
  b.writeUInt16LE(Math.min(k.procs.size, 0xffff), 80);
  // totalhigh, freehigh stay 0
  b.writeUInt32LE(1, 104);
  return k.mem.write(t.proc.mm.hostPid, info, b);
}

// ----- resource limits -----

export const RLIMIT_CPU = 0, RLIMIT_FSIZE = 1, RLIMIT_DATA = 2, RLIMIT_STACK = 3, RLIMIT_CORE = 4,
  RLIMIT_RSS = 5, RLIMIT_NPROC = 6, RLIMIT_NOFILE = 7, RLIMIT_MEMLOCK = 8, RLIMIT_AS = 9, RLIMIT_LOCKS = 10,
  RLIMIT_SIGPENDING = 11, RLIMIT_MSGQUEUE = 12, RLIMIT_NICE = 13, RLIMIT_RTPRIO = 14, RLIMIT_RTTIME = 15;
export const RLIM_NLIMITS = 16;
/** RLIM_INFINITY (~0UL on the guest side) is kept as Infinity in RLimit. */
export const RLIM_INFINITY = Infinity;
/** fs.nr_open: RLIMIT_NOFILE can never go above it. */
export const NR_OPEN = 1048576;
/** Lowercase resource names, in resource-number order (the names guest configs use). */
export const RLIMIT_NAMES = ['cpu', 'fsize', 'data', 'stack', 'core', 'rss', 'nproc', 'nofile',
  'memlock', 'as', 'locks', 'sigpending', 'msgqueue', 'nice', 'rtprio', 'rttime'] as const;

const DEFAULT_RLIMITS: readonly [number, number][] = [
  [Infinity, Infinity], // CPU
  [Infinity, Infinity], // FSIZE
  [Infinity, Infinity], // DATA
  [8 << 20, Infinity], // STACK
  [0, Infinity], // CORE
  [Infinity, Infinity], // RSS
  [Infinity, Infinity], // NPROC
  [1024, NR_OPEN], // NOFILE
  [8 << 20, 8 << 20], // MEMLOCK
  [Infinity, Infinity], // AS
  [Infinity, Infinity], // LOCKS
  [63459, 63459], // SIGPENDING
  [819200, 819200], // MSGQUEUE
  [0, 0], // NICE
  [0, 0], // RTPRIO
  [Infinity, Infinity], // RTTIME
];

/**
 * The limits of the first process, as Linux gives init. `overrides` (by
 * lowercase name, as in guest configs) set the soft limit, and raise the
 * hard limit to it if needed. Apply RLIMIT_NOFILE to the fd table with
 * `applyRlimit` or by setting `files.limit` to its soft value.
 */
export function defaultRlimits(overrides: Record<string, number> = {}): Map<number, RLimit> {
  const m = new Map<number, RLimit>();
  DEFAULT_RLIMITS.forEach(([cur, max], res) => m.set(res, { cur, max }));
  for (const [name, value] of Object.entries(overrides)) {
    const res = (RLIMIT_NAMES as readonly string[]).indexOf(name);
    if (res < 0) continue;
    const old = m.get(res)!;
    m.set(res, { cur: value, max: Math.max(old.max, value) });
  }
  return m;
}

/**
 * pid 1's limits: Linux's for init, with RLIMIT_NPROC at half the most
 * tasks the guest may have (fork_init(): max_threads / 2, soft and hard;
 * here --pids-max), then the guest config's (`overrides`, by name).
 */
export function initRlimits(pidsMax: number, overrides: Record<string, number> = {}): Map<number, RLimit> {
  const m = defaultRlimits(overrides);
  if (overrides.nproc === undefined) {
    const nproc = Math.max(1, Math.floor(pidsMax / 2));
    m.set(RLIMIT_NPROC, { cur: nproc, max: nproc });
  }
  return m;
}

/** The limit of `resource` for `p` (the default when the map has none). */
export function getRlimit(p: Process, resource: number): RLimit {
  const l = p.rlimits.get(resource);
  if (l) return l;
  const [cur, max] = DEFAULT_RLIMITS[resource] ?? [Infinity, Infinity];
  return { cur, max };
}

/** Set a limit and its side effects (RLIMIT_NOFILE bounds the fd table). */
export function applyRlimit(p: Process, resource: number, lim: RLimit): void {
  p.rlimits.set(resource, { cur: lim.cur, max: lim.max });
  if (resource === RLIMIT_NOFILE) p.files.limit = Math.min(lim.cur, NR_OPEN);
}

const U64_MAX = 0xffffffffffffffffn;

/** struct rlimit / rlimit64: two u64, ~0 for RLIM_INFINITY. */
function encodeRlimit(l: RLimit): Buffer {
  const b = Buffer.alloc(16);
  const enc = (v: number) => (v === Infinity || v >= 2 ** 64 ? U64_MAX : BigInt(Math.floor(v)));
  b.writeBigUInt64LE(enc(l.cur), 0);
  b.writeBigUInt64LE(enc(l.max), 8);
  return b;
}

/** Decode a struct rlimit; `valid` is false when cur > max (do_prlimit's EINVAL). */
function decodeRlimit(b: Buffer): { lim: RLimit; valid: boolean } {
  const cur = b.readBigUInt64LE(0), max = b.readBigUInt64LE(8);
  const dec = (v: bigint) => (v === U64_MAX ? Infinity : Number(v));
  return { lim: { cur: dec(cur), max: dec(max) }, valid: cur <= max };
}

/**
 * do_prlimit: read and/or set one limit of `p`. `next` was read and checked
 * for cur <= max already. Raising the hard limit needs privilege (euid 0,
 * CAP_SYS_RESOURCE); RLIMIT_NOFILE never goes above fs.nr_open.
 */
function doPrlimit(t: Task, p: Process, resource: number, next: RLimit | undefined): RLimit | number {
  if (resource < 0 || resource >= RLIM_NLIMITS) return -E.EINVAL;
  const old = getRlimit(p, resource);
  if (next) {
    if (resource === RLIMIT_NOFILE && next.max > NR_OPEN) return -E.EPERM;
    if (next.max > old.max && t.proc.cred.euid !== 0) return -E.EPERM;
    applyRlimit(p, resource, next);
  }
  return old;
}

/** Getrlimit implements Linux syscall getrlimit(2). */
function sysGetrlimit(k: Kernel, t: Task, resource: number, rlim: number): number {
  const res = resource >>> 0;
  if (res >= RLIM_NLIMITS) return -E.EINVAL;
  return k.mem.write(t.proc.mm.hostPid, rlim, encodeRlimit(getRlimit(t.proc, res)));
}

/** Setrlimit implements Linux syscall setrlimit(2). */
function sysSetrlimit(k: Kernel, t: Task, resource: number, rlim: number): number {
  const res = resource >>> 0;
  if (res >= RLIM_NLIMITS) return -E.EINVAL;
  const b = k.mem.read(t.proc.mm.hostPid, rlim, 16);
  if (typeof b === 'number') return b;
  const next = decodeRlimit(b);
  if (!next.valid) return -E.EINVAL;
  const r = doPrlimit(t, t.proc, res, next.lim);
  return typeof r === 'number' ? r : 0;
}

/**
 * May `t` read or change the limits of `p`? (check_prlimit_permission:
 * itself, privileged, or all of the target's uids and gids equal to the
 * caller's real ones.)
 */
function mayPrlimit(t: Task, p: Process): boolean {
  if (p === t.proc) return true;
  const c = t.proc.cred, tc = p.cred, ts = savedIds(p);
  if (c.euid === 0) return true;
  return c.uid === tc.euid && c.uid === ts.suid && c.uid === tc.uid &&
    c.gid === tc.egid && c.gid === ts.sgid && c.gid === tc.gid;
}

/** Prlimit64 implements Linux syscall prlimit64(2). pid 0 is the caller. */
function sysPrlimit64(k: Kernel, t: Task, pid: number, resource: number, newRlim: number, oldRlim: number): number {
  let next: { lim: RLimit; valid: boolean } | undefined;
  if (newRlim) {
    const b = k.mem.read(t.proc.mm.hostPid, newRlim, 16);
    if (typeof b === 'number') return b;
    next = decodeRlimit(b);
  }
  const id = pid | 0;
  const target = id === 0 ? t.proc : (k.procs.get(id) ?? k.tasks.get(id)?.proc);
  if (!target || !target.alive) return -E.ESRCH;
  if (!mayPrlimit(t, target)) return -E.EPERM;
  const res = resource >>> 0;
  if (res >= RLIM_NLIMITS) return -E.EINVAL;
  if (next && !next.valid) return -E.EINVAL;
  const old = doPrlimit(t, target, res, next?.lim);
  if (typeof old === 'number') return old;
  if (oldRlim && k.mem.write(t.proc.mm.hostPid, oldRlim, encodeRlimit(old)) < 0) return -E.EFAULT;
  return 0;
}

// ----- getrusage -----

export const RUSAGE_SELF = 0, RUSAGE_CHILDREN = -1, RUSAGE_THREAD = 1;

/**
 * Getrusage implements Linux syscall getrusage(2). User time is the CPU
 * time the kernel can see for the process or thread (all of it counted as
 * user time: its syscalls run in the guest kernel); children's usage and
 * the other fields are 0.
 */
function sysGetrusage(k: Kernel, t: Task, who: number, usage: number): number {
  const w = who | 0;
  if (w !== RUSAGE_SELF && w !== RUSAGE_CHILDREN && w !== RUSAGE_THREAD) return -E.EINVAL;
  const b = Buffer.alloc(144);
  if (w !== RUSAGE_CHILDREN) {
    const us = cpuTimeNs(k, t.proc, w === RUSAGE_THREAD ? t : undefined) / 1000n;
    writeU64(b, 0, Number(us / 1_000_000n));
    writeU64(b, 8, Number(us % 1_000_000n));
  }
  return k.mem.write(t.proc.mm.hostPid, usage, b);
}

// ----- scheduling -----

export const SCHED_OTHER = 0, SCHED_FIFO = 1, SCHED_RR = 2, SCHED_BATCH = 3, SCHED_IDLE = 5, SCHED_DEADLINE = 6;
const SCHED_RESET_ON_FORK = 0x40000000;

/** Policy and priority a thread asked for; the host schedules it normally whatever it is. */
const schedPolicy = new WeakMap<Task, { policy: number; priority: number }>();

/** The thread a sched_* pid argument names: 0 is the caller; -ESRCH if none. */
function schedTarget(k: Kernel, t: Task, pid: number): Task | number {
  if (pid === 0) return t;
  return k.tasks.get(pid) ?? -E.ESRCH;
}

/** May `t` change the scheduling of `target`? (privileged, or its euid is the target's uid or euid) */
function maySchedule(t: Task, target: Task): boolean {
  const c = t.proc.cred, tc = target.proc.cred;
  return target.proc === t.proc || c.euid === 0 || c.euid === tc.uid || c.euid === tc.euid;
}

function priorityRange(policy: number): [number, number] | undefined {
  switch (policy) {
    case SCHED_FIFO: case SCHED_RR: return [1, 99];
    case SCHED_OTHER: case SCHED_BATCH: case SCHED_IDLE: return [0, 0];
    default: return undefined;
  }
}

/** SchedYield implements Linux syscall sched_yield(2): the host schedules; nothing to give up here. */
function sysSchedYield(): number {
  return 0;
}

/** The CPUs the guest sees: the host CPUs the kernel may run on. */
function cpuCount(): number {
  return Math.max(1, availableParallelism());
}

/** Size of a kernel cpumask in bytes (whole longs, like cpumask_size()). */
function cpumaskSize(): number {
  return Math.ceil(cpuCount() / 64) * 8;
}

/**
 * SchedGetaffinity implements Linux syscall sched_getaffinity(2): every
 * CPU. Returns the size of the mask written, as the raw syscall does.
 */
function sysSchedGetaffinity(k: Kernel, t: Task, pid: number, len: number, mask: number): number {
  const n = len >>> 0;
  if (n * 8 < cpuCount() || n % 8 !== 0) return -E.EINVAL;
  const target = schedTarget(k, t, pid | 0);
  if (typeof target === 'number') return target;
  const size = Math.min(n, cpumaskSize());
  const b = Buffer.alloc(size);
  for (let cpu = 0; cpu < cpuCount(); cpu++) b[cpu >> 3]! |= 1 << (cpu & 7);
  const r = k.mem.write(t.proc.mm.hostPid, mask, b);
  return r < 0 ? r : size;
}

/** SchedSetaffinity implements Linux syscall sched_setaffinity(2): checked and accepted; the host places threads. */
function sysSchedSetaffinity(k: Kernel, t: Task, pid: number, len: number, mask: number): number {
  const n = Math.min(len >>> 0, cpumaskSize());
  const b = k.mem.read(t.proc.mm.hostPid, mask, n);
  if (typeof b === 'number') return b;
  const target = schedTarget(k, t, pid | 0);
  if (typeof target === 'number') return target;
  if (!maySchedule(t, target)) return -E.EPERM;
  for (let cpu = 0; cpu < cpuCount() && cpu < 8 * n; cpu++) if (b[cpu >> 3]! & (1 << (cpu & 7))) return 0;
  return -E.EINVAL;
}

/** SchedGetparam implements Linux syscall sched_getparam(2). */
function sysSchedGetparam(k: Kernel, t: Task, pid: number, param: number): number {
  const id = pid | 0;
  if (!param || id < 0) return -E.EINVAL;
  const target = schedTarget(k, t, id);
  if (typeof target === 'number') return target;
  return k.mem.writeI32(t.proc.mm.hostPid, param, schedPolicy.get(target)?.priority ?? 0);
}

/** SchedGetscheduler implements Linux syscall sched_getscheduler(2): SCHED_OTHER unless set otherwise. */
function sysSchedGetscheduler(k: Kernel, t: Task, pid: number): number {
  const id = pid | 0;
  if (id < 0) return -E.EINVAL;
  const target = schedTarget(k, t, id);
  if (typeof target === 'number') return target;
  return schedPolicy.get(target)?.policy ?? SCHED_OTHER;
}

/** Shared by sched_setscheduler and sched_setparam; `policy` -1 keeps the current policy. */
function setScheduler(k: Kernel, t: Task, pid: number, policy: number, param: number): number {
  const id = pid | 0;
  if (!param || id < 0) return -E.EINVAL;
  const prio = k.mem.readI32(t.proc.mm.hostPid, param);
  if (prio === undefined) return -E.EFAULT;
  const target = schedTarget(k, t, id);
  if (typeof target === 'number') return target;
  const pol = policy === -1 ? (schedPolicy.get(target)?.policy ?? SCHED_OTHER) : policy & ~SCHED_RESET_ON_FORK;
  const range = priorityRange(pol);
  if (!range || prio < range[0] || prio > range[1]) return -E.EINVAL;
  if (!maySchedule(t, target)) return -E.EPERM;
  // Real-time policies need CAP_SYS_NICE (RLIMIT_RTPRIO is 0 by default).
  if ((pol === SCHED_FIFO || pol === SCHED_RR) && t.proc.cred.euid !== 0 &&
    prio > getRlimit(t.proc, RLIMIT_RTPRIO).cur) return -E.EPERM;
  schedPolicy.set(target, { policy: pol, priority: prio });
  return 0;
}

/**
 * SchedSetscheduler implements Linux syscall sched_setscheduler(2). The
 * policy is recorded and reported back; the host keeps scheduling the
 * thread as SCHED_OTHER. SCHED_DEADLINE needs sched_setattr (EINVAL here).
 */
function sysSchedSetscheduler(k: Kernel, t: Task, pid: number, policy: number, param: number): number {
  const pol = policy | 0;
  if (pol < 0) return -E.EINVAL;
  return setScheduler(k, t, pid, pol, param);
}

/** SchedSetparam implements Linux syscall sched_setparam(2). */
function sysSchedSetparam(k: Kernel, t: Task, pid: number, param: number): number {
  return setScheduler(k, t, pid, -1, param);
}

/** SchedGetPriorityMax implements Linux syscall sched_get_priority_max(2). */
function sysSchedGetPriorityMax(_k: Kernel, _t: Task, policy: number): number {
  return priorityRange(policy | 0)?.[1] ?? -E.EINVAL;
}

/** SchedGetPriorityMin implements Linux syscall sched_get_priority_min(2). */
function sysSchedGetPriorityMin(_k: Kernel, _t: Task, policy: number): number {
  return priorityRange(policy | 0)?.[0] ?? -E.EINVAL;
}

/** Getcpu implements Linux syscall getcpu(2): CPU 0, node 0. Either pointer may be NULL. */
function sysGetcpu(k: Kernel, t: Task, cpu: number, node: number): number {
  const pid = t.proc.mm.hostPid;
  if (cpu && k.mem.writeU32(pid, cpu, 0) < 0) return -E.EFAULT;
  if (node && k.mem.writeU32(pid, node, 0) < 0) return -E.EFAULT;
  return 0;
}

// ----- umask -----

/** Umask implements Linux syscall umask(2): sets mask & 0777, returns the previous mask. */
function sysUmask(_k: Kernel, t: Task, mask: number): number {
  const fs = t.proc.fs;
  const old = fs.umask;
  fs.umask = (mask >>> 0) & 0o777;
  return old;
}

// ----- futex -----

export const FUTEX_WAIT = 0, FUTEX_WAKE = 1, FUTEX_FD = 2, FUTEX_REQUEUE = 3, FUTEX_CMP_REQUEUE = 4,
  FUTEX_WAKE_OP = 5, FUTEX_LOCK_PI = 6, FUTEX_UNLOCK_PI = 7, FUTEX_TRYLOCK_PI = 8, FUTEX_WAIT_BITSET = 9,
  FUTEX_WAKE_BITSET = 10, FUTEX_WAIT_REQUEUE_PI = 11, FUTEX_CMP_REQUEUE_PI = 12, FUTEX_LOCK_PI2 = 13;
export const FUTEX_PRIVATE_FLAG = 128, FUTEX_CLOCK_REALTIME = 256;
const FUTEX_BITSET_MATCH_ANY = 0xffffffff;
/** Timeouts farther than this (about 12 days) are treated as none: kernel timers stay in range. */
const FUTEX_MAX_WAIT_MS = 2 ** 30;

/** Apply a FUTEX_WAKE_OP operation to `old`: SET, ADD, OR, ANDN, XOR. */
function futexOp(op: number, oldval: number, oparg: number): number {
  switch (op) {
    case 0: return oparg;
    case 1: return (oldval + oparg) | 0;
    case 2: return oldval | oparg;
    case 3: return oldval & ~oparg;
    default: return oldval ^ oparg;
  }
}

function futexCmp(cmp: number, oldval: number, cmparg: number): boolean {
  switch (cmp) {
    case 0: return oldval === cmparg;
    case 1: return oldval !== cmparg;
    case 2: return oldval < cmparg;
    case 3: return oldval <= cmparg;
    case 4: return oldval > cmparg;
    default: return oldval >= cmparg;
  }
}

/** Sign-extend a 12-bit field. */
function sext12(v: number): number {
  return (v << 20) >> 20;
}

/**
 * FUTEX_WAKE_OP: *uaddr2 = op(*uaddr2, oparg); wake nrWake on uaddr and,
 * if cmp(old *uaddr2, cmparg), nrWake2 on uaddr2. The read-modify-write is
 * not atomic against other threads of the guest running at the same time
 * on the host (the kernel cannot lock the guest's word); glibc since 2.25
 * no longer uses FUTEX_WAKE_OP for condition variables.
 */
function futexWakeOp(k: Kernel, t: Task, uaddr: number, nrWake: number, nrWake2: number, uaddr2: number,
  encoded: number): number {
  const op = (encoded >>> 28) & 7;
  const cmp = (encoded >>> 24) & 15;
  let oparg = sext12((encoded >>> 12) & 0xfff);
  const cmparg = sext12(encoded & 0xfff);
  if (op > 4 || cmp > 5) return -E.ENOSYS;
  if (uaddr % 4 !== 0 || uaddr2 % 4 !== 0) return -E.EINVAL;
  // FUTEX_OP_OPARG_SHIFT: the argument is a shift count (Linux masks a bad one to 0..31).
  if (encoded & 0x80000000) oparg = 1 << (oparg & 31);
  const pid = t.proc.mm.hostPid;
  const oldval = k.mem.readI32(pid, uaddr2);
  if (oldval === undefined) return -E.EFAULT;
  if (k.mem.writeI32(pid, uaddr2, futexOp(op, oldval, oparg)) < 0) return -E.EFAULT;
  let woken = futexWakeAddress(k, t.proc, uaddr, nrWake);
  if (futexCmp(cmp, oldval, cmparg)) woken += futexWakeAddress(k, t.proc, uaddr2, nrWake2);
  return woken;
}

/** Absolute monotonic deadline of a futex wait, -1 for none; -EFAULT/-EINVAL for a bad timespec. */
function futexDeadline(k: Kernel, t: Task, cmd: number, realtime: boolean, timeout: number): number {
  if (!timeout) return -1;
  const ts = readTimespec(k, t, timeout);
  if (typeof ts === 'number') return ts;
  const now = monotonicMs();
  let deadline: number;
  if (cmd === FUTEX_WAIT) {
    deadline = now + timespecMs(ts); // relative
  } else if (realtime) {
    const target = BigInt(ts.sec) * 1_000_000_000n + BigInt(ts.frac);
    deadline = now + Number(target - realtimeNs()) / 1e6;
  } else {
    deadline = timespecMs(ts); // absolute CLOCK_MONOTONIC: the kernel timers' own clock
  }
  if (deadline - now > FUTEX_MAX_WAIT_MS) return -1;
  return Math.max(deadline, 0);
}

/** Number of waiters to wake for FUTEX_WAKE: Linux wakes at least one whatever `val` says. */
function wakeCount(val: number): number {
  return val <= 0 ? 1 : val;
}

/**
 * Futex implements Linux syscall futex(2): WAIT, WAKE, WAIT_BITSET,
 * WAKE_BITSET, REQUEUE, CMP_REQUEUE, WAKE_OP. The PI operations and
 * FUTEX_FD are ENOSYS. Shared (non-private) futexes are keyed by address
 * space and address, so they work between threads, not between processes
 * sharing a mapping (futex.ts).
 */
function sysFutex(k: Kernel, t: Task, uaddr: number, op: number, val: number, utime: number, uaddr2: number,
  val3: number): number {
  const o = op | 0;
  const cmd = o & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
  const realtime = (o & FUTEX_CLOCK_REALTIME) !== 0;
  if (realtime && cmd !== FUTEX_WAIT_BITSET && cmd !== FUTEX_WAIT_REQUEUE_PI && cmd !== FUTEX_LOCK_PI2) {
    return -E.ENOSYS;
  }
  const v = val | 0;
  // The timeout slot carries a count for the requeue and wake-op commands.
  const val2 = utime | 0;
  switch (cmd) {
    case FUTEX_WAIT: case FUTEX_WAIT_BITSET: {
      const bitset = cmd === FUTEX_WAIT ? FUTEX_BITSET_MATCH_ANY : val3 >>> 0;
      if (bitset === 0) return -E.EINVAL;
      // A retry (woken, or timed out) must not read the arguments again.
      if (t.syscallState) return futexWait(k, t, uaddr, v, -1, bitset, monotonicMs());
      const deadline = futexDeadline(k, t, cmd, realtime, utime);
      if (deadline < -1) return deadline;
      return futexWait(k, t, uaddr, v, deadline, bitset, monotonicMs());
    }
    case FUTEX_WAKE: case FUTEX_WAKE_BITSET: {
      const bitset = cmd === FUTEX_WAKE ? FUTEX_BITSET_MATCH_ANY : val3 >>> 0;
      if (bitset === 0) return -E.EINVAL;
      if (uaddr % 4 !== 0) return -E.EINVAL;
      return futexWakeAddress(k, t.proc, uaddr, wakeCount(v), bitset);
    }
    case FUTEX_REQUEUE: case FUTEX_CMP_REQUEUE: {
      if (v < 0 || val2 < 0) return -E.EINVAL;
      if (uaddr % 4 !== 0 || uaddr2 % 4 !== 0) return -E.EINVAL;
      if (cmd === FUTEX_CMP_REQUEUE) {
        const cur = k.mem.readI32(t.proc.mm.hostPid, uaddr);
        if (cur === undefined) return -E.EFAULT;
        if (cur !== (val3 | 0)) return -E.EAGAIN;
      }
      return futexRequeue(k, t.proc, uaddr, v, uaddr2, val2);
    }
    case FUTEX_WAKE_OP:
      return futexWakeOp(k, t, uaddr, wakeCount(v), val2, uaddr2, val3 >>> 0);
    case FUTEX_FD: case FUTEX_LOCK_PI: case FUTEX_UNLOCK_PI: case FUTEX_TRYLOCK_PI:
    case FUTEX_WAIT_REQUEUE_PI: case FUTEX_CMP_REQUEUE_PI: case FUTEX_LOCK_PI2:
      // Priority inheritance needs the kernel to own the lock word's TID protocol: not served.
      return -E.ENOSYS;
    default:
      return -E.ENOSYS;
  }
}

// ----- robust futex lists, rseq -----

/** sizeof(struct robust_list_head) */
const ROBUST_LIST_HEAD_SIZE = 24;
const robustLists = new WeakMap<Task, number>();

/**
 * The robust-list head `t` registered (0 if none). Exit does not yet walk
 * the list to mark held robust mutexes FUTEX_OWNER_DIED.
 */
export function robustListHead(t: Task): number {
  return robustLists.get(t) ?? 0;
}

/** SetRobustList implements Linux syscall set_robust_list(2): records the head. */
function sysSetRobustList(_k: Kernel, t: Task, head: number, len: number): number {
  if (len !== ROBUST_LIST_HEAD_SIZE) return -E.EINVAL;
  robustLists.set(t, head);
  return 0;
}

/** GetRobustList implements Linux syscall get_robust_list(2). pid 0 is the caller. */
function sysGetRobustList(k: Kernel, t: Task, pid: number, headPtr: number, lenPtr: number): number {
  const id = pid | 0;
  const target = id === 0 ? t : k.tasks.get(id);
  if (!target) return -E.ESRCH;
  // ptrace_may_access(PTRACE_MODE_READ_REALCREDS), simplified: same uid, or privileged.
  const c = t.proc.cred, tc = target.proc.cred;
  if (target.proc !== t.proc && c.euid !== 0 && (c.uid !== tc.uid || c.uid !== tc.euid || c.uid !== savedIds(target.proc).suid)) {
    return -E.EPERM;
  }
  const hp = t.proc.mm.hostPid;
  if (k.mem.writeU64(hp, lenPtr, ROBUST_LIST_HEAD_SIZE) < 0) return -E.EFAULT;
  return k.mem.writeU64(hp, headPtr, robustListHead(target));
}

/**
 * Rseq implements Linux syscall rseq(2) as not supported: restartable
 * sequences need the kernel to fix up the guest's rseq area at every
 * preemption, which the host does for the host's own rseq only. glibc
 * falls back when registration fails with ENOSYS.
 */
function sysRseq(): number {
  return -E.ENOSYS;
}

// ----- personality -----

const personalities = new WeakMap<Process, number>();

/** The execution domain of `p` (PER_LINUX = 0 unless set). */
export function personalityOf(p: Process): number {
  return personalities.get(p) ?? 0;
}

/** fork(2): the child has the parent's personality. */
export function miscOnFork(parent: Process, child: Process): void {
  const pers = personalities.get(parent);
  if (pers !== undefined) personalities.set(child, pers);
}

/**
 * Personality implements Linux syscall personality(2): 0xffffffff queries;
 * any other value is recorded (the kernel acts on none of its flags) and
 * the previous one returned.
 */
function sysPersonality(_k: Kernel, t: Task, persona: number): number {
  const p = t.proc;
  const old = personalityOf(p);
  const next = persona >>> 0;
  if (next !== 0xffffffff) personalities.set(p, next);
  return old;
}

// ----- capabilities -----

const CAP_V1 = 0x19980330, CAP_V2 = 0x20071026, CAP_V3 = 0x20080522;
/** CAP_LAST_CAP of Linux 6.1 (CAP_CHECKPOINT_RESTORE): caps 0..40. */
const CAP_FULL_LO = 0xffffffff, CAP_FULL_HI = 0x1ff;

/** Number of 32-bit words of each set for a capability ABI version, or 0 if unknown. */
function capWords(version: number): number {
  return version === CAP_V1 ? 1 : version === CAP_V2 || version === CAP_V3 ? 2 : 0;
}

/**
 * Read and check struct __user_cap_header_struct {u32 version; int pid}.
 * An unknown version is answered by writing the preferred one back (EINVAL).
 */
function readCapHeader(k: Kernel, t: Task, hdr: number): { words: number; pid: number } | number {
  const pid = t.proc.mm.hostPid;
  const b = k.mem.read(pid, hdr, 8);
  if (typeof b === 'number') return b;
  const words = capWords(b.readUInt32LE(0));
  if (!words) return k.mem.writeU32(pid, hdr, CAP_V3) < 0 ? -E.EFAULT : -E.EINVAL;
  return { words, pid: b.readInt32LE(4) };
}

/**
 * Capability sets as the model gives them: a process with euid 0 has every
 * capability effective; one with any uid 0 has them permitted.
 */
function capSets(p: Process): { effective: boolean; permitted: boolean } {
  const c = p.cred;
  return { effective: c.euid === 0, permitted: c.uid === 0 || c.euid === 0 || savedIds(p).suid === 0 };
}

/** Capget implements Linux syscall capget(2). A NULL data pointer probes the version. */
function sysCapget(k: Kernel, t: Task, hdr: number, data: number): number {
  const h = readCapHeader(k, t, hdr);
  // A NULL data pointer probes: 0 whether or not the version was known (it was written back).
  if (!data) return h === -E.EFAULT ? h : 0;
  if (typeof h === 'number') return h;
  if (h.pid < 0) return -E.EINVAL;
  const target = h.pid === 0 ? t.proc : (k.tasks.get(h.pid)?.proc ?? k.procs.get(h.pid));
  if (!target) return -E.ESRCH;
  const sets = capSets(target);
  const b = Buffer.alloc(12 * h.words);
  const word = (on: boolean, i: number) => (on ? (i === 0 ? CAP_FULL_LO : CAP_FULL_HI) : 0);
  for (let i = 0; i < h.words; i++) {
    b.writeUInt32LE(word(sets.effective, i), 12 * i);
    b.writeUInt32LE(word(sets.permitted, i), 12 * i + 4);
    // inheritable: none
  }
  return k.mem.write(t.proc.mm.hostPid, data, b);
}

/**
 * Capset implements Linux syscall capset(2) for the caller only (EPERM for
 * another pid). A request within the rules (effective and inheritable
 * within permitted, nothing added to permitted) is accepted but not
 * recorded: capabilities follow the uids in this kernel.
 */
function sysCapset(k: Kernel, t: Task, hdr: number, data: number): number {
  const h = readCapHeader(k, t, hdr);
  if (typeof h === 'number') return h;
  if (h.pid !== 0 && h.pid !== t.tid && h.pid !== t.pid) return -E.EPERM;
  const b = k.mem.read(t.proc.mm.hostPid, data, 12 * h.words);
  if (typeof b === 'number') return b;
  const permitted = capSets(t.proc).permitted;
  for (let i = 0; i < h.words; i++) {
    const eff = b.readUInt32LE(12 * i), perm = b.readUInt32LE(12 * i + 4), inh = b.readUInt32LE(12 * i + 8);
    const have = permitted ? (i === 0 ? CAP_FULL_LO : CAP_FULL_HI) : 0;
    if ((perm & ~have) !== 0) return -E.EPERM;
    if ((eff & ~perm) !== 0) return -E.EPERM;
    if ((inh & ~(have | perm)) !== 0) return -E.EPERM;
  }
  return 0;
}

export const miscSyscalls: SyscallFamily = {
  uname: sysUname, sethostname: sysSethostname, setdomainname: sysSetdomainname,
  getrandom: sysGetrandom, sysinfo: sysSysinfo,
  getrlimit: sysGetrlimit, setrlimit: sysSetrlimit, prlimit64: sysPrlimit64, getrusage: sysGetrusage,
  sched_yield: sysSchedYield, sched_getaffinity: sysSchedGetaffinity, sched_setaffinity: sysSchedSetaffinity,
  sched_getparam: sysSchedGetparam, sched_setparam: sysSchedSetparam,
  sched_getscheduler: sysSchedGetscheduler, sched_setscheduler: sysSchedSetscheduler,
  sched_get_priority_max: sysSchedGetPriorityMax, sched_get_priority_min: sysSchedGetPriorityMin,
  getcpu: sysGetcpu, umask: sysUmask, futex: sysFutex,
  set_robust_list: sysSetRobustList, get_robust_list: sysGetRobustList, rseq: sysRseq,
  personality: sysPersonality, capget: sysCapget, capset: sysCapset,
};
