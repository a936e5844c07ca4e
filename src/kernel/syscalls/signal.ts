/**
 * Signal syscalls: dispositions, masks, sending, waiting (signal(7)).
 * Generation and delivery themselves live in signals.ts.
 */
import { Reg } from '../../platform/regs.ts';
import { E } from '../errno.ts';
import { readU64, writeU64 } from '../guest-memory.ts';
import type { Kernel } from '../kernel.ts';
import {
  encodeSiginfo, sendFromGuest, sigIgnored, signalPending, sigreturn,
} from '../signals.ts';
import {
  NSIG, SA_NOCLDSTOP, SA_NOCLDWAIT, SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_RESTART, SA_RESTORER,
  SA_SIGINFO, SI_TKILL, SI_USER, SIG_DFL, SIGCHLD, SIGCONT, SIGKILL, SIGSTOP, sigbit, UNBLOCKABLE,
  type SigAction, type SigInfo,
} from '../signal-state.ts';
import { GONE, NO_RESULT } from '../syscall-result.ts';
import type { Process, Task } from '../task.ts';
import { monotonicMs } from '../timers.ts';
import type { WaitQueue } from '../wait-queue.ts';
import { savedIds } from './ids.ts';
import type { SyscallFamily } from './table.ts';
import { blockUntil, readTimespec, timespecMs } from './time.ts';

/** sizeof(sigset_t) in the kernel ABI: 64 signals. */
const SIGSET_SIZE = 8;
/** sizeof(struct kernel_sigaction) on x86_64: handler, flags, restorer, mask. */
const SIGACTION_SIZE = 32;
/** The sa_flags bits Linux keeps (UAPI_SA_FLAGS on x86); unknown bits are cleared, not refused. */
const SA_KNOWN = SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO | SA_ONSTACK | SA_RESTART | SA_NODEFER | SA_RESETHAND |
  SA_RESTORER;
export const SIG_BLOCK = 0, SIG_UNBLOCK = 1, SIG_SETMASK = 2;
export const SS_ONSTACK = 1, SS_DISABLE = 2, SS_AUTODISARM = 0x80000000;
/** MINSIGSTKSZ on x86_64: the smallest alternate stack sigaltstack(2) accepts. */
export const MINSIGSTKSZ = 2048;
/** How often rt_sigtimedwait looks again for a signal that cannot wake it (see there). */
const SIGWAIT_POLL_MS = 20;

function validSignal(sig: number): boolean {
  return sig >= 1 && sig <= NSIG;
}

/** A u64 sigset_t from a guest buffer. */
function readSigset(b: Buffer, off: number): bigint {
  return b.readBigUInt64LE(off);
}

function readGuestSigset(k: Kernel, t: Task, addr: number): bigint | number {
  const b = k.mem.read(t.proc.mm.hostPid, addr, SIGSET_SIZE);
  return typeof b === 'number' ? b : readSigset(b, 0);
}

function writeGuestSigset(k: Kernel, t: Task, addr: number, set: bigint, size = SIGSET_SIZE): number {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, set), 0);
  return k.mem.write(t.proc.mm.hostPid, addr, b.subarray(0, size));
}

/** Drop every pending instance of `sig` in `p`, process- and thread-directed. */
function flushPending(p: Process, sig: number): void {
  p.sharedPending = p.sharedPending.filter((i) => i.signo !== sig);
  for (const th of p.threads) th.pending = th.pending.filter((i) => i.signo !== sig);
}

// ----- dispositions and masks -----

/**
 * RtSigaction implements Linux syscall rt_sigaction(2). struct
 * kernel_sigaction is {handler, flags, restorer, mask}, all u64. Setting
 * an action that ignores the signal discards its pending instances.
 */
function sysRtSigaction(k: Kernel, t: Task, sig: number, act: number, oact: number, sigsetsize: number): number {
  if (sigsetsize !== SIGSET_SIZE) return -E.EINVAL;
  const s = sig | 0;
  if (!validSignal(s) || (act && (s === SIGKILL || s === SIGSTOP))) return -E.EINVAL;
  const pid = t.proc.mm.hostPid;
  let next: SigAction | undefined;
  if (act) {
    const b = k.mem.read(pid, act, SIGACTION_SIZE);
    if (typeof b === 'number') return b;
    next = {
      handler: readU64(b, 0),
      flags: (b.readUInt32LE(8) & SA_KNOWN) >>> 0,
      restorer: readU64(b, 16),
      mask: readSigset(b, 24) & ~UNBLOCKABLE,
    };
  }
  const p = t.proc;
  const old = p.sighand.actions[s]!;
  if (next) {
    p.sighand.actions[s] = next;
    // POSIX: setting SIG_IGN (or SIG_DFL for a signal ignored by default) discards it if pending.
    if (sigIgnored(p, s)) flushPending(p, s);
  }
  if (oact) {
    const b = Buffer.alloc(SIGACTION_SIZE);
    writeU64(b, 0, old.handler);
    b.writeUInt32LE(old.flags >>> 0, 8);
    writeU64(b, 16, old.restorer);
    b.writeBigUInt64LE(old.mask, 24);
    if (k.mem.write(pid, oact, b) < 0) return -E.EFAULT;
  }
  return 0;
}

/**
 * RtSigprocmask implements Linux syscall rt_sigprocmask(2). SIGKILL and
 * SIGSTOP are silently left unblocked. Signals it unblocks are delivered
 * on the way back to user mode.
 */
function sysRtSigprocmask(k: Kernel, t: Task, how: number, set: number, oset: number, sigsetsize: number): number {
  if (sigsetsize !== SIGSET_SIZE) return -E.EINVAL;
  const old = t.sigmask;
  if (set) {
    const h = how | 0;
    if (h !== SIG_BLOCK && h !== SIG_UNBLOCK && h !== SIG_SETMASK) return -E.EINVAL;
    const m = readGuestSigset(k, t, set);
    if (typeof m === 'number') return m;
    let mask = h === SIG_BLOCK ? old | m : h === SIG_UNBLOCK ? old & ~m : m;
    mask &= ~UNBLOCKABLE;
    t.sigmask = mask;
  }
  if (oset && writeGuestSigset(k, t, oset, old) < 0) return -E.EFAULT;
  return 0;
}

/**
 * RtSigreturn implements Linux syscall rt_sigreturn(2): restores the
 * registers, mask and alternate stack the signal frame saved. A bad frame
 * kills the process with SIGSEGV.
 */
function sysRtSigreturn(k: Kernel, t: Task): number {
  return sigreturn(k, t) < 0 ? GONE : NO_RESULT;
}

/** RtSigpending implements Linux syscall rt_sigpending(2): pending signals that are blocked. */
function sysRtSigpending(k: Kernel, t: Task, set: number, sigsetsize: number): number {
  if (sigsetsize < 0 || sigsetsize > SIGSET_SIZE) return -E.EINVAL;
  let pending = 0n;
  for (const i of t.pending) pending |= sigbit(i.signo);
  for (const i of t.proc.sharedPending) pending |= sigbit(i.signo);
  return writeGuestSigset(k, t, set, pending & t.sigmask, sigsetsize);
}

// ----- sending -----

/**
 * May `t` send `sig` to `target`? (kill_ok_by_cred: privileged, or the
 * sender's real or effective uid is the target's real or saved uid;
 * SIGCONT within the same session always.)
 */
function mayKill(t: Task, target: Process, sig: number): boolean {
  const c = t.proc.cred;
  if (c.euid === 0 || target === t.proc) return true;
  if (sig === SIGCONT && target.sid === t.proc.sid) return true;
  const tuid = target.cred.uid, tsuid = savedIds(target).suid;
  return c.euid === tuid || c.euid === tsuid || c.uid === tuid || c.uid === tsuid;
}

/**
 * The mask a thread waiting in rt_sigtimedwait had before the wait
 * unblocked the awaited signals (Linux's real_blocked).
 */
const realBlocked = new WeakMap<Task, bigint>();

function blocks(t: Task, sig: number): boolean {
  return ((t.sigmask | (realBlocked.get(t) ?? 0n)) & sigbit(sig)) !== 0n;
}

/**
 * init (pid 1) gets only the signals it has a handler for: from inside its
 * pid namespace, which every guest process is, even SIGKILL and SIGSTOP
 * are dropped (SIGNAL_UNKILLABLE, sig_task_ignored()), under --exec too.
 * A blocked signal is kept, since a handler may be set before it is
 * unblocked (sig_ignored); delivery drops it then if there is still none.
 * `thread` is the receiving thread; for a process-directed signal, any
 * thread blocking it keeps it.
 */
function initIgnores(target: Process, sig: number, thread?: Task): boolean {
  if (target.pid !== 1 || target.sighand.actions[sig]!.handler !== SIG_DFL) return false;
  if (thread) return !blocks(thread, sig);
  for (const th of target.threads) if (blocks(th, sig)) return false;
  return true;
}

function userInfo(t: Task, sig: number, code = SI_USER): SigInfo {
  return { signo: sig, code, pid: t.pid, uid: t.proc.cred.uid };
}

/** group_send_sig_info: permission, then queue (sig 0 only checks). 0, -EPERM or -EAGAIN. */
function sendGroup(k: Kernel, t: Task, target: Process, info: SigInfo): number {
  if (!mayKill(t, target, info.signo)) return -E.EPERM;
  if (info.signo === 0 || initIgnores(target, info.signo)) return 0;
  return sendFromGuest(k, target, info);
}

/** Send to every process of group `pgid`: 0 if any send succeeded, else the last error (ESRCH if none). */
function sendPgrp(k: Kernel, t: Task, pgid: number, info: SigInfo): number {
  let result = -E.ESRCH;
  let ok = false;
  for (const q of [...k.procs.values()]) {
    if (q.pgid !== pgid) continue;
    result = sendGroup(k, t, q, { ...info });
    if (result === 0) ok = true;
  }
  return ok ? 0 : result;
}

/** The process a kill(2) pid names: a process, or the process of a thread id. */
function findProcess(k: Kernel, pid: number): Process | undefined {
  return k.procs.get(pid) ?? k.tasks.get(pid)?.proc;
}

/**
 * Kill implements Linux syscall kill(2): pid > 0 one process, 0 the
 * caller's process group, -1 every process but init and the caller, < -1
 * the group -pid. Signal 0 checks existence and permission only.
 */
function sysKill(k: Kernel, t: Task, pid: number, sig: number): number {
  const s = sig | 0;
  if (s < 0 || s > NSIG) return -E.EINVAL;
  const id = pid | 0;
  const info = userInfo(t, s);
  if (id > 0) {
    const target = findProcess(k, id);
    return target ? sendGroup(k, t, target, info) : -E.ESRCH;
  }
  if (id === 0) return sendPgrp(k, t, t.proc.pgid, info);
  if (id === -1) {
    let count = 0;
    let result = 0;
    for (const q of [...k.procs.values()]) {
      if (q.pid <= 1 || q === t.proc) continue;
      count++;
      const r = sendGroup(k, t, q, { ...info });
      if (r !== -E.EPERM) result = r;
    }
    return count > 0 ? result : -E.ESRCH;
  }
  // -INT_MIN does not exist.
  if (id === -2147483648) return -E.ESRCH;
  return sendPgrp(k, t, -id, info);
}

/** do_send_specific: a thread-directed signal to guest thread `tid`, of process `tgid` when > 0. */
function sendSpecific(k: Kernel, t: Task, tgid: number, tid: number, info: SigInfo): number {
  const target = k.tasks.get(tid);
  if (!target || (tgid > 0 && target.pid !== tgid)) return -E.ESRCH;
  if (!mayKill(t, target.proc, info.signo)) return -E.EPERM;
  if (info.signo === 0 || initIgnores(target.proc, info.signo, target)) return 0;
  return sendFromGuest(k, target.proc, info, target);
}

/** Tkill implements Linux syscall tkill(2). */
function sysTkill(k: Kernel, t: Task, tid: number, sig: number): number {
  const id = tid | 0, s = sig | 0;
  if (id <= 0 || s < 0 || s > NSIG) return -E.EINVAL;
  return sendSpecific(k, t, 0, id, userInfo(t, s, SI_TKILL));
}

/** Tgkill implements Linux syscall tgkill(2): the thread must belong to process `tgid`. */
function sysTgkill(k: Kernel, t: Task, tgid: number, tid: number, sig: number): number {
  const g = tgid | 0, id = tid | 0, s = sig | 0;
  if (g <= 0 || id <= 0 || s < 0 || s > NSIG) return -E.EINVAL;
  return sendSpecific(k, t, g, id, userInfo(t, s, SI_TKILL));
}

/**
 * Read a siginfo for rt_sigqueueinfo: a sender may not pose as the kernel
 * or as kill(2) (si_code >= 0, or SI_TKILL) except to itself.
 */
function readQueueInfo(k: Kernel, t: Task, sig: number, uinfo: number, self: boolean): SigInfo | number {
  const b = k.mem.read(t.proc.mm.hostPid, uinfo, 128);
  if (typeof b === 'number') return b;
  const code = b.readInt32LE(8);
  if ((code >= 0 || code === SI_TKILL) && !self) return -E.EPERM;
  return { signo: sig, code, errno: b.readInt32LE(4), pid: b.readInt32LE(16), uid: b.readUInt32LE(20), value: readU64(b, 24) };
}

/** RtSigqueueinfo implements Linux syscall rt_sigqueueinfo(2). */
function sysRtSigqueueinfo(k: Kernel, t: Task, tgid: number, sig: number, uinfo: number): number {
  const g = tgid | 0, s = sig | 0;
  const info = readQueueInfo(k, t, s, uinfo, g === t.pid);
  if (typeof info === 'number') return info;
  if (s < 0 || s > NSIG) return -E.EINVAL;
  const target = g > 0 ? findProcess(k, g) : undefined;
  return target ? sendGroup(k, t, target, info) : -E.ESRCH;
}

/** RtTgsigqueueinfo implements Linux syscall rt_tgsigqueueinfo(2). */
function sysRtTgsigqueueinfo(k: Kernel, t: Task, tgid: number, tid: number, sig: number, uinfo: number): number {
  const g = tgid | 0, id = tid | 0, s = sig | 0;
  if (g <= 0 || id <= 0) return -E.EINVAL;
  const info = readQueueInfo(k, t, s, uinfo, id === t.tid);
  if (typeof info === 'number') return info;
  if (s < 0 || s > NSIG) return -E.EINVAL;
  return sendSpecific(k, t, g, id, info);
}

// ----- alternate stack -----

function onAltStack(t: Task, sp: number): boolean {
  const a = t.altStack;
  return a.size > 0 && sp > a.sp && sp - a.sp <= a.size;
}

/**
 * Sigaltstack implements Linux syscall sigaltstack(2). stack_t is {ss_sp
 * u64, ss_flags i32, pad, ss_size u64}. Changing the stack while running
 * on it is EPERM. SS_AUTODISARM is accepted but not acted on (signals.ts
 * does not disarm the stack during a handler).
 */
function sysSigaltstack(k: Kernel, t: Task, ss: number, oldSs: number): number {
  const pid = t.proc.mm.hostPid;
  const sp = t.regs.get(Reg.RSP);
  let next: { sp: number; size: number; flags: number } | undefined;
  if (ss) {
    const b = k.mem.read(pid, ss, 24);
    if (typeof b === 'number') return b;
    next = { sp: readU64(b, 0), flags: b.readUInt32LE(8), size: readU64(b, 16) };
  }
  const old = t.altStack;
  const oldFlags = old.size === 0 ? SS_DISABLE : onAltStack(t, sp) ? SS_ONSTACK : 0;
  if (next) {
    if (onAltStack(t, sp)) return -E.EPERM;
    const mode = (next.flags & ~SS_AUTODISARM) >>> 0;
    if (mode !== 0 && mode !== SS_ONSTACK && mode !== SS_DISABLE) return -E.EINVAL;
    if (mode === SS_DISABLE) {
      t.altStack = { sp: 0, size: 0, flags: SS_DISABLE };
    } else {
      if (next.size < MINSIGSTKSZ) return -E.ENOMEM;
      // SS_ONSTACK as a request means "enable", like 0 (old programs pass it).
      t.altStack = { sp: next.sp, size: next.size, flags: 0 };
    }
  }
  if (oldSs) {
    const b = Buffer.alloc(24);
    writeU64(b, 0, old.sp);
    b.writeInt32LE(oldFlags, 8);
    writeU64(b, 16, old.size);
    if (k.mem.write(pid, oldSs, b) < 0) return -E.EFAULT;
  }
  return 0;
}

// ----- waiting for signals -----

/**
 * Pause implements Linux syscall pause(2): sleeps until a signal is
 * delivered; the kernel ends it with ERESTARTNOHAND, which is EINTR after
 * a handler.
 */
function sysPause(k: Kernel, t: Task): number {
  if (signalPending(t)) return -E.ERESTARTNOHAND;
  return k.block(t, []);
}

/**
 * RtSigsuspend implements Linux syscall rt_sigsuspend(2): the mask is
 * replaced until a signal is delivered; signal delivery puts the old mask
 * back (t.savedSigmask) after the handler, or at once if none runs.
 */
function sysRtSigsuspend(k: Kernel, t: Task, mask: number, sigsetsize: number): number {
  if (!t.syscallState) {
    if (sigsetsize !== SIGSET_SIZE) return -E.EINVAL;
    const m = readGuestSigset(k, t, mask);
    if (typeof m === 'number') return m;
    t.savedSigmask = t.sigmask;
    t.sigmask = m & ~UNBLOCKABLE;
    t.syscallState = { suspended: true };
  }
  if (signalPending(t)) return -E.ERESTARTNOHAND;
  return k.block(t, []);
}

/** What rt_sigtimedwait keeps across its retries. */
interface SigwaitState {
  set: bigint;
  /** the caller's mask, in force whenever the handler runs */
  mask: bigint;
  deadlineMs: number;
}

/** Take the lowest pending signal in `set`: thread-directed first, then process-directed. */
function takeSignal(t: Task, set: bigint): SigInfo | undefined {
  for (const list of [t.pending, t.proc.sharedPending]) {
    let best = -1;
    for (let i = 0; i < list.length; i++) {
      const s = list[i]!.signo;
      if (!(set & sigbit(s))) continue;
      if (best < 0 || s < list[best]!.signo) best = i;
    }
    if (best >= 0) return list.splice(best, 1)[0];
  }
  return undefined;
}

/**
 * RtSigtimedwait implements Linux syscall rt_sigtimedwait(2): takes a
 * pending signal of `set` and returns its number (its siginfo to `info`),
 * waiting up to `timeout` (NULL: forever) for one; EAGAIN on timeout,
 * EINTR when another signal is delivered.
 *
 * While it waits, the signals of `set` that would not be discarded are
 * unblocked, as Linux does, so their arrival interrupts the wait; the
 * kernel then restores the mask (cancelWait) and restarts the call, which
 * finds the signal pending. Signals of the set the process ignores stay
 * blocked so that they are kept: SIGCHLD wakes the wait through the
 * child-event queue, any other such signal is looked for every
 * SIGWAIT_POLL_MS. Limitations: a handler with SA_RESTART restarts the
 * call (Linux returns EINTR), and a restarted call waits its full timeout
 * again.
 */
function sysRtSigtimedwait(k: Kernel, t: Task, set: number, info: number, timeout: number, sigsetsize: number): number {
  let st = t.syscallState as SigwaitState | undefined;
  if (st) {
    t.sigmask = st.mask;
    realBlocked.delete(t);
  } else {
    if (sigsetsize !== SIGSET_SIZE) return -E.EINVAL;
    const m = readGuestSigset(k, t, set);
    if (typeof m === 'number') return m;
    let deadlineMs = -1;
    if (timeout) {
      const ts = readTimespec(k, t, timeout);
      if (typeof ts === 'number') return ts;
      deadlineMs = monotonicMs() + timespecMs(ts);
    }
    st = { set: m & ~UNBLOCKABLE, mask: t.sigmask, deadlineMs };
  }
  const got = takeSignal(t, st.set);
  if (got) {
    if (info && k.mem.write(t.proc.mm.hostPid, info, encodeSiginfo(got)) < 0) return -E.EFAULT;
    return got.signo;
  }
  const now = monotonicMs();
  if (st.deadlineMs >= 0 && now >= st.deadlineMs) return -E.EAGAIN;
  if (signalPending(t)) return -E.EINTR;

  if (!t.syscallState) {
    const state = st;
    t.syscallState = st;
    t.cancelWait = () => {
      t.sigmask = state.mask;
      realBlocked.delete(t);
    };
  }
  const p = t.proc;
  let wake = 0n;
  let poll = false;
  for (let s = 1; s <= NSIG; s++) {
    if (!(st.set & sigbit(s))) continue;
    if (!sigIgnored(p, s)) wake |= sigbit(s);
    else if (s !== SIGCHLD) poll = true;
  }
  realBlocked.set(t, st.mask);
  t.sigmask = st.mask & ~wake;
  const queues: WaitQueue[] = st.set & sigbit(SIGCHLD) ? [p.childEvents] : [];
  let deadline = st.deadlineMs;
  if (poll) deadline = deadline < 0 ? now + SIGWAIT_POLL_MS : Math.min(deadline, now + SIGWAIT_POLL_MS);
  return blockUntil(k, t, queues, deadline);
}

export const signalSyscalls: SyscallFamily = {
  rt_sigaction: sysRtSigaction, rt_sigprocmask: sysRtSigprocmask, rt_sigreturn: sysRtSigreturn,
  rt_sigpending: sysRtSigpending, kill: sysKill, tkill: sysTkill, tgkill: sysTgkill,
  rt_sigqueueinfo: sysRtSigqueueinfo, rt_tgsigqueueinfo: sysRtTgsigqueueinfo,
  sigaltstack: sysSigaltstack, pause: sysPause, rt_sigsuspend: sysRtSigsuspend,
  rt_sigtimedwait: sysRtSigtimedwait,
};
