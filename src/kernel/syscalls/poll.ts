/**
 * I/O multiplexing: poll, ppoll, select, pselect6 over any open file.
 *
 * Readiness comes from FileOps.poll (a file without it is always readable
 * and writable, like Linux's DEFAULT_POLLMASK); waiting is k.block on the
 * union of the files' wait queues plus the timeout, and the handler scans
 * again from the start on every wake-up. Per-call state (the absolute
 * deadline, whether the signal mask was swapped) lives in t.syscallState
 * from the first run on.
 *
 * ppoll and pselect6 swap the signal mask the way rt_sigsuspend does: the
 * old mask goes to t.savedSigmask while waiting; a normal return restores
 * it here, an interrupted one leaves it for signal delivery, which runs the
 * handler with the temporary mask and restores the saved one after it.
 */
import { E } from '../errno.ts';
import { readI64, writeU64 } from '../guest-memory.ts';
import type { Kernel } from '../kernel.ts';
import { signalPending } from '../signals.ts';
import { UNBLOCKABLE } from '../signal-state.ts';
import type { Task } from '../task.ts';
import { monotonicMs } from '../timers.ts';
import type { WaitQueue } from '../wait-queue.ts';
import { POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLPRI, POLLRDNORM, POLLWRNORM, type OpenFile } from '../vfs/types.ts';
import { O_PATH } from './fs-io.ts';
import type { SyscallFamily } from './table.ts';

const POLLRDBAND = 0x080, POLLWRBAND = 0x200;
/** What a file without a poll operation reports (DEFAULT_POLLMASK). */
const DEFAULT_POLLMASK = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
/** Which poll bits make an fd ready in each select(2) set (fs/select.c). */
const POLLIN_SET = POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR;
const POLLOUT_SET = POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR;
const POLLEX_SET = POLLPRI;

const RLIMIT_NOFILE = 7;
const SIGSET_SIZE = 8;
const POLLFD_SIZE = 8;
/** Deadlines further than this (about 31 years) are treated as no deadline at all. */
const FOREVER_MS = 1e12;

/** State of one poll/select call kept across its retries. */
interface WaitState {
  /** absolute monotonic deadline in ms; undefined: wait forever */
  deadline: number | undefined;
  /** where to write the time left on return (ppoll, select, pselect6), if anywhere */
  writeBack: { ptr: number; kind: 'timespec' | 'timeval' } | undefined;
  /** the signal mask was swapped (ppoll, pselect6 with a sigmask) */
  swappedMask: boolean;
}

function pidOf(t: Task): number {
  return t.proc.mm.hostPid;
}

/** Readiness of an open file (POLL* bits). */
export function pollMask(f: OpenFile): number {
  return f.ops.poll ? f.ops.poll(f) : DEFAULT_POLLMASK;
}

function addQueues(f: OpenFile, into: Set<WaitQueue>): void {
  if (!f.ops.poll || !f.ops.waitQueues) return;
  for (const q of f.ops.waitQueues(f)) into.add(q);
}

/** A validated relative timeout: negative seconds or nanoseconds outside [0, 1e9) are EINVAL. */
function timeoutMs(sec: number, nsec: number): number {
  if (sec < 0 || nsec < 0 || nsec >= 1e9) return -E.EINVAL;
  return sec * 1000 + nsec / 1e6;
}

/** struct timespec {i64 tv_sec; i64 tv_nsec}: EFAULT, EINVAL, or milliseconds. */
function readTimespecMs(k: Kernel, t: Task, ptr: number): number {
  const b = k.mem.read(pidOf(t), ptr, 16);
  if (typeof b === 'number') return b;
  return timeoutMs(readI64(b, 0), readI64(b, 8));
}

/**
 * struct timeval {i64 tv_sec; i64 tv_usec} as select(2) takes it: whole
 * seconds of tv_usec carry into tv_sec first (kern_select), so only a
 * negative result is EINVAL.
 */
function readTimevalMs(k: Kernel, t: Task, ptr: number): number {
  const b = k.mem.read(pidOf(t), ptr, 16);
  if (typeof b === 'number') return b;
  const sec = readI64(b, 0), usec = readI64(b, 8);
  return timeoutMs(sec + Math.trunc(usec / 1e6), (usec % 1e6) * 1000);
}

function newState(ms: number | undefined, writeBackPtr: number, kind: 'timespec' | 'timeval'): WaitState {
  const deadline = ms === undefined ? undefined : monotonicMs() + ms;
  // No update for a zero timeout (poll_select_finish).
  const writeBack = ms !== undefined && ms > 0 && writeBackPtr ? { ptr: writeBackPtr, kind } : undefined;
  return { deadline, writeBack, swappedMask: false };
}

/** Swap in the caller's mask for the wait: the old one goes to t.savedSigmask. */
function swapMask(t: Task, st: WaitState, mask: bigint): void {
  t.savedSigmask = t.sigmask;
  t.sigmask = mask & ~UNBLOCKABLE;
  st.swappedMask = true;
}

/**
 * The Linux update of the caller's timeout to the time left. A fault here
 * is ignored: the call has completed (fs/select.c, poll_select_finish).
 */
function writeTimeLeft(k: Kernel, t: Task, st: WaitState): void {
  if (!st.writeBack || st.deadline === undefined) return;
  const left = Math.max(0, st.deadline - monotonicMs());
  let sec = Math.floor(left / 1000);
  let frac = Math.round((left - sec * 1000) * 1e6); // nanoseconds
  if (frac >= 1e9) { sec++; frac -= 1e9; }
  const b = Buffer.alloc(16);
  writeU64(b, 0, sec);
  writeU64(b, 8, st.writeBack.kind === 'timespec' ? frac : Math.floor(frac / 1000));
  k.mem.write(pidOf(t), st.writeBack.ptr, b);
}

/** End of the call with a result: restore the mask, report the time left. */
function finish(k: Kernel, t: Task, st: WaitState, r: number): number {
  if (st.swappedMask && t.savedSigmask !== undefined) {
    t.sigmask = t.savedSigmask;
    t.savedSigmask = undefined;
  }
  writeTimeLeft(k, t, st);
  return r;
}

function timedOut(st: WaitState): boolean {
  return st.deadline !== undefined && monotonicMs() >= st.deadline;
}

/**
 * Nothing ready yet: end with -ERESTARTNOHAND if a signal is already
 * pending (the mask stays swapped for delivery), else park on the queues
 * until the deadline. A signal during the wait also reports the time left.
 */
function waitMore(k: Kernel, t: Task, st: WaitState, queues: Set<WaitQueue>): number {
  if (signalPending(t)) {
    writeTimeLeft(k, t, st);
    return -E.ERESTARTNOHAND;
  }
  t.cancelWait = () => writeTimeLeft(k, t, st);
  const d = st.deadline;
  return k.block(t, [...queues], d === undefined || d - monotonicMs() > FOREVER_MS ? -1 : d);
}

// ----- poll -----

function nofileLimit(t: Task): number {
  return t.proc.rlimits.get(RLIMIT_NOFILE)?.cur ?? t.proc.files.limit;
}

/**
 * One scan of a pollfd array: revents filled in `b`, the number of ready
 * entries returned. Bad descriptors report POLLNVAL; negative ones are
 * skipped with revents 0.
 */
function scanPollfds(t: Task, b: Buffer, nfds: number, queues: Set<WaitQueue>): number {
  let count = 0;
  for (let i = 0; i < nfds; i++) {
    const off = POLLFD_SIZE * i;
    const fd = b.readInt32LE(off);
    const events = b.readUInt16LE(off + 4);
    let revents = 0;
    if (fd >= 0) {
      const f = t.proc.files.get(fd);
      if (!f || (f.flags & O_PATH)) {
        revents = POLLNVAL;
      } else {
        revents = pollMask(f) & (events | POLLERR | POLLHUP);
        addQueues(f, queues);
      }
    }
    b.writeUInt16LE(revents & 0xffff, off + 6);
    if (revents) count++;
  }
  return count;
}

/** The shared body of poll and ppoll, run on every retry. */
function doPoll(k: Kernel, t: Task, st: WaitState, fdsPtr: number, nfds: number): number {
  const b = k.mem.read(pidOf(t), fdsPtr, POLLFD_SIZE * nfds);
  if (typeof b === 'number') return finish(k, t, st, b);
  const queues = new Set<WaitQueue>();
  const count = scanPollfds(t, b, nfds, queues);
  if (count > 0 || timedOut(st)) {
    const w = k.mem.write(pidOf(t), fdsPtr, b);
    return finish(k, t, st, w < 0 ? w : count);
  }
  return waitMore(k, t, st, queues);
}

/** Poll implements Linux syscall poll(2). A negative timeout waits forever. */
function sysPoll(k: Kernel, t: Task, fdsPtr: number, nfdsArg: number, timeout: number): number {
  const nfds = nfdsArg >>> 0;
  let st = t.syscallState as WaitState | undefined;
  if (!st) {
    if (nfds > nofileLimit(t)) return -E.EINVAL;
    const ms = timeout | 0;
    st = newState(ms < 0 ? undefined : ms, 0, 'timespec');
    t.syscallState = st;
  }
  return doPoll(k, t, st, fdsPtr, nfds);
}

/** Read a sigset_t argument: EINVAL unless the size is 8, EFAULT on a bad pointer. */
function readSigset(k: Kernel, t: Task, ptr: number, size: number): bigint | number {
  if (size !== SIGSET_SIZE) return -E.EINVAL;
  const b = k.mem.read(pidOf(t), ptr, SIGSET_SIZE);
  if (typeof b === 'number') return b;
  return b.readBigUInt64LE(0);
}

/** Ppoll implements Linux syscall ppoll(2): timespec timeout (updated on return), optional signal mask. */
function sysPpoll(k: Kernel, t: Task, fdsPtr: number, nfdsArg: number, tsp: number, sigmaskPtr: number, sigsetsize: number): number {
  const nfds = nfdsArg >>> 0;
  let st = t.syscallState as WaitState | undefined;
  if (!st) {
    let ms: number | undefined;
    if (tsp) {
      ms = readTimespecMs(k, t, tsp);
      if (ms < 0) return ms;
    }
    let mask: bigint | undefined;
    if (sigmaskPtr) {
      const m = readSigset(k, t, sigmaskPtr, sigsetsize);
      if (typeof m === 'number') return m;
      mask = m;
    }
    st = newState(ms, tsp, 'timespec');
    if (mask !== undefined) swapMask(t, st, mask);
    t.syscallState = st;
    if (nfds > nofileLimit(t)) return finish(k, t, st, -E.EINVAL);
  }
  return doPoll(k, t, st, fdsPtr, nfds);
}

// ----- select -----

/** The three fd_set arguments of one select call, as guest pointers (0: absent). */
interface FdSets {
  n: number;
  inp: number;
  outp: number;
  exp: number;
}

/** Bytes of an fd_set covering `n` descriptors: whole longs (FDS_BYTES). */
function fdsBytes(n: number): number {
  return Math.ceil(n / 64) * 8;
}

function readFdSet(k: Kernel, t: Task, ptr: number, n: number): Buffer | number {
  if (!ptr) return Buffer.alloc(fdsBytes(n));
  return k.mem.read(pidOf(t), ptr, fdsBytes(n));
}

function bit(b: Buffer, fd: number): boolean {
  return (b[fd >> 3]! & (1 << (fd & 7))) !== 0;
}

function setBit(b: Buffer, fd: number): void {
  b[fd >> 3] = b[fd >> 3]! | (1 << (fd & 7));
}

/**
 * One scan of the sets: EBADF for a set bit naming no open descriptor on
 * the first scan (max_select_fd); later scans skip such a descriptor, as
 * do_select finds it POLLNVAL and never ready. The result sets are new
 * buffers; the count is of set bits over all three.
 */
function scanFdSets(k: Kernel, t: Task, s: FdSets, first: boolean, queues: Set<WaitQueue>):
  { count: number; res: [Buffer, Buffer, Buffer] } | number {
  const inp = readFdSet(k, t, s.inp, s.n);
  if (typeof inp === 'number') return inp;
  const outp = readFdSet(k, t, s.outp, s.n);
  if (typeof outp === 'number') return outp;
  const exp = readFdSet(k, t, s.exp, s.n);
  if (typeof exp === 'number') return exp;
  const bytes = fdsBytes(s.n);
  const res: [Buffer, Buffer, Buffer] = [Buffer.alloc(bytes), Buffer.alloc(bytes), Buffer.alloc(bytes)];
  const files: (OpenFile | undefined)[] = [];
  for (let fd = 0; fd < s.n; fd++) {
    if (!bit(inp, fd) && !bit(outp, fd) && !bit(exp, fd)) continue;
    const f = t.proc.files.get(fd);
    if (!f || (f.flags & O_PATH)) {
      if (first) return -E.EBADF;
      continue;
    }
    files[fd] = f;
  }
  let count = 0;
  files.forEach((f, fd) => {
    if (!f) return;
    const mask = pollMask(f);
    if (bit(inp, fd) && (mask & POLLIN_SET)) { setBit(res[0], fd); count++; }
    if (bit(outp, fd) && (mask & POLLOUT_SET)) { setBit(res[1], fd); count++; }
    if (bit(exp, fd) && (mask & POLLEX_SET)) { setBit(res[2], fd); count++; }
    addQueues(f, queues);
  });
  return { count, res };
}

/** Copy the result sets back into the arguments that were given. */
function writeFdSets(k: Kernel, t: Task, s: FdSets, res: [Buffer, Buffer, Buffer]): number {
  const ptrs = [s.inp, s.outp, s.exp];
  for (let i = 0; i < 3; i++) {
    if (!ptrs[i]) continue;
    const w = k.mem.write(pidOf(t), ptrs[i]!, res[i]!);
    if (w < 0) return w;
  }
  return 0;
}

/** The shared body of select and pselect6, run on every retry. */
function doSelect(k: Kernel, t: Task, st: WaitState, first: boolean, s: FdSets): number {
  const queues = new Set<WaitQueue>();
  const r = scanFdSets(k, t, s, first, queues);
  if (typeof r === 'number') return finish(k, t, st, r);
  if (r.count > 0 || timedOut(st)) {
    const w = writeFdSets(k, t, s, r.res);
    return finish(k, t, st, w < 0 ? w : r.count);
  }
  return waitMore(k, t, st, queues);
}

/** nfds of select: EINVAL when negative; descriptors past the table's size are ignored. */
function selectN(t: Task, nfds: number): number {
  const n = nfds | 0;
  if (n < 0) return -E.EINVAL;
  return Math.min(n, t.proc.files.limit);
}

/** Select implements Linux syscall select(2): timeval timeout, updated to the time left on return. */
function sysSelect(k: Kernel, t: Task, nfds: number, inp: number, outp: number, exp: number, tvp: number): number {
  let st = t.syscallState as WaitState | undefined;
  const first = !st;
  if (!st) {
    let ms: number | undefined;
    if (tvp) {
      ms = readTimevalMs(k, t, tvp);
      if (ms < 0) return ms;
    }
    st = newState(ms, tvp, 'timeval');
    t.syscallState = st;
  }
  const n = selectN(t, nfds);
  if (n < 0) return finish(k, t, st, n);
  return doSelect(k, t, st, first, { n, inp, outp, exp });
}

/**
 * Pselect6 implements Linux syscall pselect6(2): timespec timeout (updated
 * on return), and a pointer to {const sigset_t *ss; size_t ss_len} as the
 * sixth argument.
 */
function sysPselect6(k: Kernel, t: Task, nfds: number, inp: number, outp: number, exp: number, tsp: number, sig: number): number {
  let st = t.syscallState as WaitState | undefined;
  const first = !st;
  if (!st) {
    let ssPtr = 0, ssLen = 0;
    if (sig) {
      const b = k.mem.read(pidOf(t), sig, 16);
      if (typeof b === 'number') return b;
      ssPtr = readI64(b, 0);
      ssLen = readI64(b, 8);
    }
    let ms: number | undefined;
    if (tsp) {
      ms = readTimespecMs(k, t, tsp);
      if (ms < 0) return ms;
    }
    let mask: bigint | undefined;
    if (ssPtr) {
      const m = readSigset(k, t, ssPtr, ssLen);
      if (typeof m === 'number') return m;
      mask = m;
    }
    st = newState(ms, tsp, 'timespec');
    if (mask !== undefined) swapMask(t, st, mask);
    t.syscallState = st;
  }
  const n = selectN(t, nfds);
  if (n < 0) return finish(k, t, st, n);
  return doSelect(k, t, st, first, { n, inp, outp, exp });
}

export const pollSyscalls: SyscallFamily = {
  poll: sysPoll, ppoll: sysPpoll, select: sysSelect, pselect6: sysPselect6,
};
