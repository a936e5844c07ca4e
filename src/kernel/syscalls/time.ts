/**
 * Time syscalls: clocks, sleeps, alarm and interval timers, times(2).
 *
 * The guest reads the host's clocks: static binaries get the host vDSO
 * (AT_SYSINFO_EHDR), so CLOCK_REALTIME and CLOCK_MONOTONIC served here must
 * be the very clocks the vDSO reads, or absolute deadlines (futex,
 * clock_nanosleep) computed from one would be wrong for the other. The
 * kernel's timers run on CLOCK_MONOTONIC in milliseconds (timers.ts).
 *
 * Limitations, documented where they apply:
 * - CLOCK_BOOTTIME and CLOCK_MONOTONIC_RAW read CLOCK_MONOTONIC (they differ
 *   only across host suspend and NTP slewing); CLOCK_TAI reads
 *   CLOCK_REALTIME (TAI offset 0, as on a host where no NTP daemon set it).
 * - CPU-time clocks come from the platform's per-thread CPU time when it
 *   offers one (`threadCpuNs`, see CpuClockPlatform); otherwise they fall
 *   back to the kernel process's own CPU time, which still grows.
 * - An absolute CLOCK_REALTIME sleep is converted to a monotonic deadline
 *   once: it does not follow later changes of the wall clock.
 * - A relative sleep interrupted by a signal that runs no handler goes on
 *   through restart_syscall(2) (see restartBlocks).
 * - ITIMER_VIRTUAL and ITIMER_PROF are stored and read back but never fire.
 */
import { Reg } from '../../platform/regs.ts';
import { E } from '../errno.ts';
import { readI64, writeU64 } from '../guest-memory.ts';
import type { Kernel } from '../kernel.ts';
import { signalPending, sendToProcess } from '../signals.ts';
import { SIGALRM, SI_KERNEL } from '../signal-state.ts';
import type { Process, Task } from '../task.ts';
import { NR } from '../syscall-names.ts';
import { monotonicMs } from '../timers.ts';
import type { WaitQueue } from '../wait-queue.ts';
import type { SyscallFamily } from './table.ts';

export const CLOCK_REALTIME = 0, CLOCK_MONOTONIC = 1, CLOCK_PROCESS_CPUTIME_ID = 2, CLOCK_THREAD_CPUTIME_ID = 3,
  CLOCK_MONOTONIC_RAW = 4, CLOCK_REALTIME_COARSE = 5, CLOCK_MONOTONIC_COARSE = 6, CLOCK_BOOTTIME = 7,
  CLOCK_TAI = 11;
export const TIMER_ABSTIME = 1;
export const ITIMER_REAL = 0, ITIMER_VIRTUAL = 1, ITIMER_PROF = 2;
/** USER_HZ: the unit of times(2) and of clock_t values. */
export const USER_HZ = 100;

const NSEC_PER_SEC = 1_000_000_000n;
/** Resolution clock_getres reports: high-resolution clocks, and the tick of the coarse ones (HZ=250). */
const HRES_NS = 1;
const COARSE_NS = 4_000_000;
/**
 * The farthest ahead one kernel timer is set. Longer waits re-arm in steps:
 * the idle loop's setTimeout cannot take more than 2^31-1 ms.
 */
const MAX_TIMER_MS = 2 ** 30;

// ----- clocks -----

/** Host CLOCK_MONOTONIC in ns (process.hrtime is libuv's uv_hrtime, CLOCK_MONOTONIC). */
export function monotonicNs(): bigint {
  return process.hrtime.bigint();
}

let wallAnchorNs = 0n;
let monoAnchorNs = 0n;

/**
 * Host CLOCK_REALTIME in ns: Date.now() has millisecond resolution only, so
 * the wall clock is read at an anchor and extended with the monotonic
 * clock, re-anchored whenever the two drift apart by a millisecond (a
 * step of the host clock, NTP slewing).
 */
export function realtimeNs(): bigint {
  const mono = monotonicNs();
  const wall = BigInt(Date.now()) * 1_000_000n;
  const est = wallAnchorNs + (mono - monoAnchorNs);
  const drift = est - wall;
  if (monoAnchorNs === 0n || drift < -1_000_000n || drift > 2_000_000n) {
    wallAnchorNs = wall;
    monoAnchorNs = mono;
    return wall;
  }
  return est;
}

/**
 * Optional platform capability: on-CPU time of one host thread in ns (the
 * first field of /proc/TID/schedstat), or a negative value if unknown. The
 * Platform interface does not carry it yet; it is used when present.
 */
export interface CpuClockPlatform {
  threadCpuNs(hostTid: number): number;
}

function platformCpu(k: Kernel): CpuClockPlatform | undefined {
  const p = k.platform as unknown as Partial<CpuClockPlatform>;
  return typeof p.threadCpuNs === 'function' ? (p as CpuClockPlatform) : undefined;
}

/** Fallback CPU clock: the kernel process's own CPU time (monotonic, shared by all guests). */
function kernelCpuNs(): bigint {
  const u = process.cpuUsage();
  return BigInt(u.user + u.system) * 1000n;
}

/** CPU time of `t` alone, or of every live thread of `p` when `t` is undefined. */
export function cpuTimeNs(k: Kernel, p: Process, t?: Task): bigint {
  const plat = platformCpu(k);
  if (!plat) return kernelCpuNs();
  let sum = 0n;
  for (const th of t ? [t] : p.threads) {
    const ns = plat.threadCpuNs(th.hostTid);
    if (ns > 0) sum += BigInt(Math.floor(ns));
  }
  return sum;
}

/** CPU time in clock ticks (USER_HZ), for times(2). */
export function cpuTimeTicks(k: Kernel, p: Process, t?: Task): number {
  return Number(cpuTimeNs(k, p, t) / (NSEC_PER_SEC / BigInt(USER_HZ)));
}

/**
 * A dynamic CPU clock id (clock_getcpuclockid(3), pthread_getcpuclockid(3)):
 * negative, with ~pid in the high bits, bit 2 for a thread clock and the
 * low two bits the kind (PROF, VIRT, SCHED). Returns the target, or -EINVAL.
 */
function cpuClockTarget(k: Kernel, t: Task, clk: number): { p: Process; t?: Task } | number {
  if ((clk & 3) === 3) return -E.EINVAL;
  const id = ~(clk >> 3);
  if (clk & 4) {
    if (id === 0) return { p: t.proc, t };
    const th = k.tasks.get(id);
    // Linux allows thread clocks of the caller's own thread group only.
    return th && th.proc === t.proc ? { p: th.proc, t: th } : -E.EINVAL;
  }
  if (id === 0) return { p: t.proc };
  const p = k.procs.get(id);
  return p && p.alive ? { p } : -E.EINVAL;
}

/** The current time of clock `clk` in ns, or -EINVAL for a clock Linux does not have. */
export function readClock(k: Kernel, t: Task, clk: number): bigint | number {
  switch (clk) {
    case CLOCK_REALTIME: case CLOCK_REALTIME_COARSE: case CLOCK_TAI:
      return realtimeNs();
    case CLOCK_MONOTONIC: case CLOCK_MONOTONIC_RAW: case CLOCK_MONOTONIC_COARSE: case CLOCK_BOOTTIME:
      return monotonicNs();
    case CLOCK_PROCESS_CPUTIME_ID:
      return cpuTimeNs(k, t.proc);
    case CLOCK_THREAD_CPUTIME_ID:
      return cpuTimeNs(k, t.proc, t);
  }
  if (clk < 0) {
    const target = cpuClockTarget(k, t, clk);
    if (typeof target === 'number') return target;
    return cpuTimeNs(k, target.p, target.t);
  }
  return -E.EINVAL;
}

/** Resolution of `clk` in ns, or -EINVAL. */
function clockResolution(k: Kernel, t: Task, clk: number): number {
  switch (clk) {
    case CLOCK_REALTIME_COARSE: case CLOCK_MONOTONIC_COARSE:
      return COARSE_NS;
    case CLOCK_REALTIME: case CLOCK_MONOTONIC: case CLOCK_MONOTONIC_RAW: case CLOCK_BOOTTIME: case CLOCK_TAI:
    case CLOCK_PROCESS_CPUTIME_ID: case CLOCK_THREAD_CPUTIME_ID:
      return HRES_NS;
  }
  if (clk < 0) {
    const target = cpuClockTarget(k, t, clk);
    return typeof target === 'number' ? target : HRES_NS;
  }
  return -E.EINVAL;
}

// ----- struct timespec / timeval in guest memory -----

/** struct timespec / timeval as read from a guest: seconds and the sub-second part. */
export interface TimeValue {
  sec: number;
  frac: number;
}

/** Read a struct timespec {i64 tv_sec; i64 tv_nsec}: -EFAULT, or -EINVAL unless valid (timespec64_valid). */
export function readTimespec(k: Kernel, t: Task, addr: number): TimeValue | number {
  const b = k.mem.read(t.proc.mm.hostPid, addr, 16);
  if (typeof b === 'number') return b;
  const sec = readI64(b, 0), nsec = readI64(b, 8);
  if (sec < 0 || nsec < 0 || nsec >= 1e9) return -E.EINVAL;
  return { sec, frac: nsec };
}

/** A valid timespec as milliseconds. */
export function timespecMs(ts: TimeValue): number {
  return ts.sec * 1000 + ts.frac / 1e6;
}

/** Write a struct timespec for `ns` nanoseconds (ns >= 0). */
export function writeTimespec(k: Kernel, t: Task, addr: number, ns: bigint): number {
  const b = Buffer.alloc(16);
  writeU64(b, 0, Number(ns / NSEC_PER_SEC));
  writeU64(b, 8, Number(ns % NSEC_PER_SEC));
  return k.mem.write(t.proc.mm.hostPid, addr, b);
}

/** A duration in milliseconds as whole nanoseconds (0 if not positive). */
function msToNs(ms: number): bigint {
  return ms <= 0 ? 0n : BigInt(Math.round(ms * 1e6));
}

/** Parse a struct timeval {i64 tv_sec; i64 tv_usec} at `off`: -EINVAL unless valid (timeval_valid). */
function parseTimeval(b: Buffer, off: number): TimeValue | number {
  const sec = readI64(b, off), usec = readI64(b, off + 8);
  if (sec < 0 || usec < 0 || usec >= 1e6) return -E.EINVAL;
  return { sec, frac: usec };
}

function putTimeval(b: Buffer, off: number, usec: number): void {
  const u = Math.max(0, Math.round(usec));
  writeU64(b, off, Math.floor(u / 1e6));
  writeU64(b, off + 8, u % 1e6);
}

// ----- blocking with long deadlines -----

/** k.block with a deadline of any distance: far deadlines wake early and the caller re-blocks. */
export function blockUntil(k: Kernel, t: Task, queues: WaitQueue[], deadlineMs: number): number {
  if (deadlineMs < 0) return k.block(t, queues);
  return k.block(t, queues, Math.min(deadlineMs, monotonicMs() + MAX_TIMER_MS));
}

/** A kernel timer at any distance: far deadlines are reached in steps. Returns a cancel function. */
export function addLongTimer(k: Kernel, deadlineMs: number, fn: () => void): () => void {
  let cancel = (): void => {};
  const arm = (): void => {
    const now = monotonicMs();
    cancel = deadlineMs - now > MAX_TIMER_MS ? k.timers.add(now + MAX_TIMER_MS, arm) : k.timers.add(deadlineMs, fn);
  };
  arm();
  return () => cancel();
}

// ----- clock syscalls -----

/** ClockGettime implements Linux syscall clock_gettime(2). */
function sysClockGettime(k: Kernel, t: Task, clk: number, tp: number): number {
  const ns = readClock(k, t, clk | 0);
  if (typeof ns === 'number') return ns;
  return writeTimespec(k, t, tp, ns);
}

/** ClockGetres implements Linux syscall clock_getres(2). `res` may be NULL. */
function sysClockGetres(k: Kernel, t: Task, clk: number, res: number): number {
  const ns = clockResolution(k, t, clk | 0);
  if (ns < 0) return ns;
  return res ? writeTimespec(k, t, res, BigInt(ns)) : 0;
}

/**
 * ClockSettime implements Linux syscall clock_settime(2). Only
 * CLOCK_REALTIME is settable; the guest may not set the host's clock, so a
 * valid request fails with EPERM, as for a process without CAP_SYS_TIME.
 */
function sysClockSettime(k: Kernel, t: Task, clk: number, tp: number): number {
  const c = clk | 0;
  const cpuClock = c === CLOCK_PROCESS_CPUTIME_ID || c === CLOCK_THREAD_CPUTIME_ID ||
    (c < 0 && typeof cpuClockTarget(k, t, c) !== 'number');
  if (c !== CLOCK_REALTIME && !cpuClock) return -E.EINVAL;
  const ts = readTimespec(k, t, tp);
  // CPU clocks cannot be set at all (posix_cpu_clock_set): EPERM once the argument was read.
  if (typeof ts === 'number' && !(cpuClock && ts === -E.EINVAL)) return ts;
  return -E.EPERM;
}

/** The timezone settimeofday(2) set (by root); gettimeofday reports it. */
const sysTz = new WeakMap<Kernel, { minuteswest: number; dsttime: number }>();

/** Gettimeofday implements Linux syscall gettimeofday(2). Either pointer may be NULL. */
function sysGettimeofday(k: Kernel, t: Task, tv: number, tz: number): number {
  const pid = t.proc.mm.hostPid;
  if (tv) {
    const b = Buffer.alloc(16);
    const us = realtimeNs() / 1000n;
    writeU64(b, 0, Number(us / 1_000_000n));
    writeU64(b, 8, Number(us % 1_000_000n));
    if (k.mem.write(pid, tv, b) < 0) return -E.EFAULT;
  }
  if (tz) {
    const z = sysTz.get(k) ?? { minuteswest: 0, dsttime: 0 };
    const b = Buffer.alloc(8);
    b.writeInt32LE(z.minuteswest, 0);
    b.writeInt32LE(z.dsttime, 4);
    if (k.mem.write(pid, tz, b) < 0) return -E.EFAULT;
  }
  return 0;
}

/**
 * Settimeofday implements Linux syscall settimeofday(2). Setting the time
 * is refused (EPERM) after validation: the guest may not set the host's
 * clock. Root of the guest may set the timezone alone.
 */
function sysSettimeofday(k: Kernel, t: Task, tv: number, tz: number): number {
  if (tv) {
    const b = k.mem.read(t.proc.mm.hostPid, tv, 16);
    if (typeof b === 'number') return b;
    const v = parseTimeval(b, 0);
    if (typeof v === 'number') return v;
  }
  let zone: { minuteswest: number; dsttime: number } | undefined;
  if (tz) {
    const b = k.mem.read(t.proc.mm.hostPid, tz, 8);
    if (typeof b === 'number') return b;
    zone = { minuteswest: b.readInt32LE(0), dsttime: b.readInt32LE(4) };
    if (zone.minuteswest < -15 * 60 || zone.minuteswest > 15 * 60) return -E.EINVAL;
  }
  if (t.proc.cred.euid !== 0 || tv) return -E.EPERM;
  if (zone) sysTz.set(k, zone);
  return 0;
}

/** Time implements Linux syscall time(2). `tloc` may be NULL. */
function sysTime(k: Kernel, t: Task, tloc: number): number {
  const sec = Number(realtimeNs() / NSEC_PER_SEC);
  if (tloc && k.mem.writeU64(t.proc.mm.hostPid, tloc, sec) < 0) return -E.EFAULT;
  return sec;
}

// ----- sleeping -----

/** What a sleep keeps across its retries. */
interface SleepState {
  deadlineMs: number;
  /** where the time left goes if a signal interrupts a relative sleep; 0 for none */
  rem: number;
  relative: boolean;
}

/**
 * Restart blocks (restart_syscall(2)): a relative sleep interrupted by a
 * signal that runs no handler (a stop, then SIGCONT) must go on with the
 * time it had left, not start over. Linux returns ERESTART_RESTARTBLOCK
 * and the restart enters restart_syscall; here the interrupted sleep
 * points ORIG_RAX at restart_syscall, so that the kernel's restart (RAX =
 * ORIG_RAX, RIP back over the syscall instruction) enters it, and leaves
 * its deadline here. After a handler the call ends in EINTR as usual.
 */
const restartBlocks = new WeakMap<Task, { deadlineMs: number; rem: number }>();

/** A signal ends the sleep: the time left to `rem`, and a restart block for a relative sleep. */
function interruptSleep(k: Kernel, t: Task, st: SleepState): number {
  if (!st.relative) return 0;
  restartBlocks.set(t, { deadlineMs: st.deadlineMs, rem: st.rem });
  t.regs.set(Reg.ORIG_RAX, NR.restart_syscall);
  if (!st.rem) return 0;
  return writeTimespec(k, t, st.rem, msToNs(st.deadlineMs - monotonicMs()));
}

/**
 * The body of nanosleep, clock_nanosleep and restart_syscall once the
 * request is valid: sleep until `deadlineMs` (monotonic). On a retry the
 * state kept by the first run is used and the arguments are ignored.
 */
function sleepUntil(k: Kernel, t: Task, deadlineMs: number, rem: number, relative: boolean): number {
  let st = t.syscallState as SleepState | undefined;
  if (!st) {
    st = { deadlineMs, rem, relative };
    const state = st;
    t.syscallState = st;
    t.cancelWait = () => { interruptSleep(k, t, state); };
  }
  if (monotonicMs() >= st.deadlineMs) return 0;
  if (signalPending(t)) {
    // schedule() in TASK_INTERRUPTIBLE returns at once with a signal pending.
    if (interruptSleep(k, t, st) < 0) return -E.EFAULT;
    return -E.ERESTARTNOHAND;
  }
  return blockUntil(k, t, [], st.deadlineMs);
}

/**
 * RestartSyscall implements Linux syscall restart_syscall(2): resumes the
 * relative sleep a signal interrupted (see restartBlocks); EINTR when there
 * is none.
 */
function sysRestartSyscall(k: Kernel, t: Task): number {
  if (t.syscallState) return sleepUntil(k, t, -1, 0, true);
  const block = restartBlocks.get(t);
  if (!block) return -E.EINTR;
  restartBlocks.delete(t);
  return sleepUntil(k, t, block.deadlineMs, block.rem, true);
}

/** Nanosleep implements Linux syscall nanosleep(2). */
function sysNanosleep(k: Kernel, t: Task, req: number, rem: number): number {
  if (t.syscallState) return sleepUntil(k, t, -1, 0, true);
  const ts = readTimespec(k, t, req);
  if (typeof ts === 'number') return ts;
  return sleepUntil(k, t, monotonicMs() + timespecMs(ts), rem, true);
}

/**
 * ClockNanosleep implements Linux syscall clock_nanosleep(2). Flags other
 * than TIMER_ABSTIME are ignored, as Linux does. Sleeping on a CPU-time
 * clock is not supported (EOPNOTSUPP, as Linux gives for clocks it cannot
 * sleep on); CLOCK_THREAD_CPUTIME_ID is EINVAL as on Linux.
 */
function sysClockNanosleep(k: Kernel, t: Task, clk: number, flags: number, req: number, rem: number): number {
  const abs = ((flags | 0) & TIMER_ABSTIME) !== 0;
  if (t.syscallState) return sleepUntil(k, t, -1, 0, !abs);
  const c = clk | 0;
  switch (c) {
    case CLOCK_REALTIME: case CLOCK_MONOTONIC: case CLOCK_BOOTTIME: case CLOCK_TAI:
      break;
    case CLOCK_THREAD_CPUTIME_ID:
      return -E.EINVAL;
    case CLOCK_PROCESS_CPUTIME_ID: case CLOCK_MONOTONIC_RAW: case CLOCK_REALTIME_COARSE: case CLOCK_MONOTONIC_COARSE:
      return -E.EOPNOTSUPP;
    default:
      if (c < 0) return typeof cpuClockTarget(k, t, c) === 'number' ? -E.EINVAL : -E.EOPNOTSUPP;
      return -E.EINVAL;
  }
  const ts = readTimespec(k, t, req);
  if (typeof ts === 'number') return ts;
  const now = monotonicMs();
  let deadline: number;
  if (!abs) {
    deadline = now + timespecMs(ts);
  } else if (c === CLOCK_REALTIME || c === CLOCK_TAI) {
    const target = BigInt(ts.sec) * NSEC_PER_SEC + BigInt(ts.frac);
    deadline = now + Number(target - realtimeNs()) / 1e6;
  } else {
    // The kernel's timers and the guest's CLOCK_MONOTONIC are the same clock.
    deadline = timespecMs(ts);
  }
  // An absolute sleep restarts as itself: its deadline does not move.
  return sleepUntil(k, t, deadline, abs ? 0 : rem, !abs);
}

// ----- alarm and interval timers -----

/** An interval timer's setting in microseconds. */
interface ITimerValue {
  valueUs: number;
  intervalUs: number;
}

/** ITIMER_VIRTUAL and ITIMER_PROF: stored, never fire. Not inherited by fork (as on Linux). */
const cpuItimers = new WeakMap<Process, { virt: ITimerValue; prof: ITimerValue }>();

function storedItimers(p: Process): { virt: ITimerValue; prof: ITimerValue } {
  let s = cpuItimers.get(p);
  if (!s) {
    s = { virt: { valueUs: 0, intervalUs: 0 }, prof: { valueUs: 0, intervalUs: 0 } };
    cpuItimers.set(p, s);
  }
  return s;
}

/** ITIMER_REAL as it stands: time left (an expired timer not yet fired shows 1 µs, as Linux does). */
function realItimer(p: Process): ITimerValue {
  const r = p.realTimer;
  if (!r) return { valueUs: 0, intervalUs: 0 };
  const left = (r.deadlineMs - monotonicMs()) * 1000;
  return { valueUs: left > 0 ? Math.ceil(left) : 1, intervalUs: Math.round(r.intervalMs * 1000) };
}

/**
 * Arm ITIMER_REAL (shared with alarm(2)): SIGALRM to the process at the
 * deadline, then every interval. A zero value disarms it.
 */
export function armRealTimer(k: Kernel, p: Process, valueMs: number, intervalMs: number): void {
  p.realTimer?.cancel();
  p.realTimer = undefined;
  if (valueMs <= 0) return;
  const timer = { deadlineMs: monotonicMs() + valueMs, intervalMs, cancel: (): void => {} };
  const fire = (): void => {
    if (p.realTimer !== timer) return;
    if (!p.alive) {
      p.realTimer = undefined;
      return;
    }
    if (timer.intervalMs > 0) {
      // Periods missed while the kernel was busy collapse into this one signal.
      const now = monotonicMs();
      const periods = Math.max(1, Math.floor((now - timer.deadlineMs) / timer.intervalMs) + 1);
      timer.deadlineMs += periods * timer.intervalMs;
      timer.cancel = addLongTimer(k, timer.deadlineMs, fire);
    } else {
      p.realTimer = undefined;
    }
    // it_real_fn sends with SEND_SIG_PRIV: si_code SI_KERNEL.
    sendToProcess(k, p, { signo: SIGALRM, code: SI_KERNEL });
  };
  timer.cancel = addLongTimer(k, timer.deadlineMs, fire);
  p.realTimer = timer;
}

/** Alarm implements Linux syscall alarm(2): returns the seconds left of the previous alarm, rounded. */
function sysAlarm(k: Kernel, t: Task, seconds: number): number {
  const p = t.proc;
  const old = realItimer(p);
  armRealTimer(k, p, (seconds >>> 0) * 1000, 0);
  // alarm_setitimer: round to the nearest second, and never report a live alarm as 0.
  let sec = Math.floor(old.valueUs / 1e6);
  const usec = old.valueUs % 1e6;
  if ((sec === 0 && usec > 0) || usec >= 500000) sec++;
  return sec;
}

/** struct itimerval: {it_interval, it_value}, two struct timeval. */
function encodeItimerval(v: ITimerValue): Buffer {
  const b = Buffer.alloc(32);
  putTimeval(b, 0, v.intervalUs);
  putTimeval(b, 16, v.valueUs);
  return b;
}

/** Getitimer implements Linux syscall getitimer(2). */
function sysGetitimer(k: Kernel, t: Task, which: number, value: number): number {
  const w = which | 0;
  let v: ITimerValue;
  if (w === ITIMER_REAL) v = realItimer(t.proc);
  else if (w === ITIMER_VIRTUAL) v = storedItimers(t.proc).virt;
  else if (w === ITIMER_PROF) v = storedItimers(t.proc).prof;
  else return -E.EINVAL;
  return k.mem.write(t.proc.mm.hostPid, value, encodeItimerval(v));
}

/**
 * Setitimer implements Linux syscall setitimer(2). ITIMER_REAL is served in
 * full; ITIMER_VIRTUAL and ITIMER_PROF are kept and reported but never
 * fire. A NULL new value disarms the timer, as Linux does.
 */
function sysSetitimer(k: Kernel, t: Task, which: number, value: number, ovalue: number): number {
  const w = which | 0;
  if (w !== ITIMER_REAL && w !== ITIMER_VIRTUAL && w !== ITIMER_PROF) return -E.EINVAL;
  let next: ITimerValue = { valueUs: 0, intervalUs: 0 };
  if (value) {
    const b = k.mem.read(t.proc.mm.hostPid, value, 32);
    if (typeof b === 'number') return b;
    const interval = parseTimeval(b, 0);
    if (typeof interval === 'number') return interval;
    const val = parseTimeval(b, 16);
    if (typeof val === 'number') return val;
    next = { valueUs: val.sec * 1e6 + val.frac, intervalUs: interval.sec * 1e6 + interval.frac };
  }
  const p = t.proc;
  let old: ITimerValue;
  if (w === ITIMER_REAL) {
    old = realItimer(p);
    armRealTimer(k, p, next.valueUs / 1000, next.valueUs > 0 ? next.intervalUs / 1000 : 0);
  } else {
    const s = storedItimers(p);
    old = w === ITIMER_VIRTUAL ? s.virt : s.prof;
    if (w === ITIMER_VIRTUAL) s.virt = next;
    else s.prof = next;
  }
  if (ovalue && k.mem.write(p.mm.hostPid, ovalue, encodeItimerval(old)) < 0) return -E.EFAULT;
  return 0;
}

/**
 * Times implements Linux syscall times(2): the caller's CPU times in clock
 * ticks (children's times are 0: the kernel does not account reaped
 * children yet) and the ticks since the guest booted. `buf` may be NULL.
 */
function sysTimes(k: Kernel, t: Task, buf: number): number {
  if (buf) {
    const b = Buffer.alloc(32);
    writeU64(b, 0, cpuTimeTicks(k, t.proc));
    if (k.mem.write(t.proc.mm.hostPid, buf, b) < 0) return -E.EFAULT;
  }
  return Math.floor(((monotonicMs() - k.bootMonoMs) * USER_HZ) / 1000);
}

export const timeSyscalls: SyscallFamily = {
  clock_gettime: sysClockGettime, clock_getres: sysClockGetres, clock_settime: sysClockSettime,
  gettimeofday: sysGettimeofday, settimeofday: sysSettimeofday, time: sysTime,
  nanosleep: sysNanosleep, clock_nanosleep: sysClockNanosleep, restart_syscall: sysRestartSyscall,
  alarm: sysAlarm, getitimer: sysGetitimer, setitimer: sysSetitimer, times: sysTimes,
};
