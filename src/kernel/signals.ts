/**
 * Signal generation and delivery (signal(7)): queuing to a thread or a
 * process, waking whoever must see it, and at return to user mode running
 * the default action or building an rt_sigframe for the guest's handler.
 */
import { Reg } from '../platform/regs.ts';
import { E } from './errno.ts';
import { writeU64 } from './guest-memory.ts';
import type { Kernel } from './kernel.ts';
import { exitProcess, stopProcess, continueProcess } from './exit.ts';
import {
  DefaultAction, defaultAction, SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_RESTART, SA_SIGINFO,
  SIG_DFL, SIG_IGN, SIGCHLD, SIGCONT, SIGKILL, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, sigbit, UNBLOCKABLE,
  type SigInfo, SI_KERNEL, SI_USER,
} from './signal-state.ts';
import { Process, Task, TaskState } from './task.ts';

const STOP_SIGNALS = sigbit(SIGSTOP) | sigbit(SIGTSTP) | sigbit(SIGTTIN) | sigbit(SIGTTOU);

/** Is `sig` ignored by `p` (and so discarded at generation)? */
export function sigIgnored(p: Process, sig: number): boolean {
  const a = p.sighand.actions[sig]!;
  if (a.handler === SIG_IGN) return true;
  return a.handler === SIG_DFL && defaultAction(sig) === DefaultAction.Ignore;
}

function hasPending(list: SigInfo[], sig: number): boolean {
  return list.some((i) => i.signo === sig);
}

/** Send a process-directed signal (kill(2)). */
export function sendToProcess(k: Kernel, p: Process, info: SigInfo): void {
  if (!p.alive || p.exiting) return;
  const sig = info.signo;
  if (sig === 0) return;
  // SIGNAL_UNKILLABLE: init never dies of a SIGKILL sent from inside the guest.
  if (sig === SIGKILL && p.pid === 1 && info.fromGuest) return;
  prepareSignal(k, p, sig);
  if (sig === SIGKILL) {
    exitProcess(k, p, { kind: 'killed', value: SIGKILL, core: false });
    return;
  }
  if (sigIgnored(p, sig) && !blockedByAll(p, sig)) return;
  // Standard signals are not queued twice; real-time ones are.
  if (sig < 32 && hasPending(p.sharedPending, sig)) return;
  p.sharedPending.push(info);
  notifyThreads(k, p, sig);
}

/** The first real-time signal, as the kernel numbers them (glibc's SIGRTMIN is above its own two). */
const SIGRTMIN = 32;
const RLIMIT_SIGPENDING = 11;

/** Signals queued for the processes and threads of user `uid` (the count RLIMIT_SIGPENDING bounds). */
function queuedFor(k: Kernel, uid: number): number {
  let n = 0;
  for (const p of k.procs.values()) {
    if (!p.alive || p.cred.uid !== uid) continue;
    n += p.sharedPending.length;
    for (const t of p.threads) n += t.pending.length;
  }
  return n;
}

/**
 * A signal from a guest process (kill, tgkill, sigqueue) to `target`, or
 * to its thread `thread`: 0, or -EAGAIN for a real-time signal that would
 * queue past the receiving user's RLIMIT_SIGPENDING (__sigqueue_alloc).
 * kill(2)'s own (SI_USER) is not refused: it is delivered without a queue
 * entry of its own, so one already pending stands for it (Linux's "lost
 * info"). Standard signals are never queued twice, so never counted out.
 */
export function sendFromGuest(k: Kernel, target: Process, info: SigInfo, thread?: Task): number {
  info.fromGuest = true;
  const sig = info.signo;
  if (sig >= SIGRTMIN) {
    const limit = target.rlimits.get(RLIMIT_SIGPENDING)?.cur ?? Infinity;
    if (queuedFor(k, target.cred.uid) >= limit) {
      if (info.code !== SI_USER) return -E.EAGAIN;
      const lists = thread ? [thread.pending] : [target.sharedPending];
      if (lists.some((l) => hasPending(l, sig))) return 0;
    }
  }
  if (thread) sendToThread(k, thread, info);
  else sendToProcess(k, target, info);
  return 0;
}

/** Send a thread-directed signal (tgkill(2), faults). */
export function sendToThread(k: Kernel, t: Task, info: SigInfo): void {
  const p = t.proc;
  if (!p.alive || p.exiting || t.state === TaskState.Dead) return;
  const sig = info.signo;
  // SIGNAL_UNKILLABLE: init never dies of a SIGKILL sent from inside the guest.
  if (sig === SIGKILL && p.pid === 1 && info.fromGuest) return;
  prepareSignal(k, p, sig);
  if (sig === SIGKILL) {
    exitProcess(k, p, { kind: 'killed', value: SIGKILL, core: false });
    return;
  }
  if (sigIgnored(p, sig) && !(t.sigmask & sigbit(sig))) return;
  if (sig < 32 && hasPending(t.pending, sig)) return;
  t.pending.push(info);
  if (!(t.sigmask & sigbit(sig))) wakeForSignal(k, t);
}

/** Side effects at generation time: SIGCONT and stop signals cancel each other. */
function prepareSignal(k: Kernel, p: Process, sig: number): void {
  if (sig === SIGCONT || sig === SIGKILL) {
    removePending(p, STOP_SIGNALS);
    if (p.stopped) continueProcess(k, p);
  } else if (sigbit(sig) & STOP_SIGNALS) {
    removePending(p, sigbit(SIGCONT));
  }
}

function removePending(p: Process, mask: bigint): void {
  p.sharedPending = p.sharedPending.filter((i) => !(sigbit(i.signo) & mask));
  for (const t of p.threads) t.pending = t.pending.filter((i) => !(sigbit(i.signo) & mask));
}

function blockedByAll(p: Process, sig: number): boolean {
  for (const t of p.threads) if (!(t.sigmask & sigbit(sig))) return false;
  return p.threads.size > 0;
}

/** Pick a thread that does not block `sig` and bring it into the kernel. */
function notifyThreads(k: Kernel, p: Process, sig: number): void {
  const bit = sigbit(sig);
  for (const t of p.threads) {
    if (t.sigmask & bit) continue;
    wakeForSignal(k, t);
    return;
  }
}

function wakeForSignal(k: Kernel, t: Task): void {
  if (t.state === TaskState.Blocked) k.interruptBlocked(t);
  else if (t.state === TaskState.Running) k.interruptRunning(t);
  else if (t.state === TaskState.Stopped && t.proc.stopped === false) k.returnToUser(t);
  // InKernel: delivery happens on its way out.
}

/** Has `t` a signal it would act on now? (used by blocking syscalls) */
export function signalPending(t: Task): boolean {
  const m = t.sigmask & ~UNBLOCKABLE;
  for (const i of t.pending) if (!(m & sigbit(i.signo))) return true;
  for (const i of t.proc.sharedPending) if (!(m & sigbit(i.signo))) return true;
  return false;
}

function dequeue(t: Task): SigInfo | undefined {
  // Nothing pending, as on almost every return to user mode: no mask work.
  if (t.pending.length === 0 && t.proc.sharedPending.length === 0) return undefined;
  const m = t.sigmask & ~UNBLOCKABLE;
  // Synchronous (thread) signals first, lowest number first, like the kernel.
  for (const list of [t.pending, t.proc.sharedPending]) {
    let best = -1;
    for (let i = 0; i < list.length; i++) {
      const s = list[i]!.signo;
      if (m & sigbit(s)) continue;
      if (best < 0 || s < list[best]!.signo) best = i;
    }
    if (best >= 0) return list.splice(best, 1)[0];
  }
  return undefined;
}

const RESTART_CODES = new Set([-E.ERESTARTSYS, -E.ERESTARTNOINTR, -E.ERESTARTNOHAND, -E.ERESTART_RESTARTBLOCK]);

/**
 * Run on every return to user mode. Returns false if the thread must not
 * be resumed (it died, or its process is stopped).
 */
export function deliverSignals(k: Kernel, t: Task): boolean {
  const p = t.proc;
  if (!p.alive || t.state === TaskState.Dead) return false;
  for (;;) {
    if (p.stopped) {
      t.state = TaskState.Stopped;
      return false;
    }
    const info = dequeue(t);
    if (!info) break;
    const sig = info.signo;
    const act = p.sighand.actions[sig]!;
    if (act.handler === SIG_IGN) continue;
    if (act.handler === SIG_DFL) {
      const d = defaultAction(sig);
      if (d === DefaultAction.Ignore || d === DefaultAction.Continue) continue;
      if (d === DefaultAction.Stop) {
        // init (pid 1) is immune to signals it does not handle.
        if (p.pid === 1 && (k.initUnkillable || info.fromGuest)) continue;
        if (sig !== SIGSTOP && k.isOrphanedPgrp(p.pgid)) continue;
        stopProcess(k, p, sig);
        fixRestart(t, false, 0);
        t.state = TaskState.Stopped;
        return false;
      }
      if (p.pid === 1 && (k.initUnkillable || info.fromGuest) && !info.forced) continue;
      // The core bit is set only when a core could be written: RLIMIT_CORE (4) above 0.
      const core = d === DefaultAction.Core && (p.rlimits.get(4)?.cur ?? 0) > 0;
      exitProcess(k, p, { kind: 'killed', value: sig, core });
      return false;
    }
    fixRestart(t, true, act.flags);
    if (!setupFrame(k, t, sig, info)) {
      // No room for the frame: the kernel kills with SIGSEGV (force_sigsegv).
      exitProcess(k, p, { kind: 'killed', value: 11, core: true });
      return false;
    }
    if (act.flags & SA_RESETHAND) {
      act.handler = SIG_DFL;
      act.flags &= ~SA_SIGINFO;
    }
    return true;
  }
  // No handler ran: an interrupted syscall restarts transparently.
  fixRestart(t, false, 0);
  if (t.savedSigmask !== undefined) {
    t.sigmask = t.savedSigmask;
    t.savedSigmask = undefined;
  }
  return true;
}

/** Turn internal -ERESTART* results into EINTR or a restart (arch/x86/kernel/signal.c). */
function fixRestart(t: Task, handler: boolean, flags: number): void {
  const rax = t.regs.get(Reg.RAX);
  if (rax > -E.ERESTARTSYS || !RESTART_CODES.has(rax) || t.regs.get(Reg.ORIG_RAX) < 0) return;
  let restart: boolean;
  if (!handler) restart = true;
  else if (rax === -E.ERESTARTNOINTR) restart = true;
  else if (rax === -E.ERESTARTSYS) restart = (flags & SA_RESTART) !== 0;
  else restart = false;
  if (restart) {
    t.regs.set(Reg.RAX, t.regs.get(Reg.ORIG_RAX));
    t.regs.set(Reg.RIP, t.regs.get(Reg.RIP) - 2);
  } else {
    t.regs.set(Reg.RAX, -E.EINTR);
  }
}

// struct rt_sigframe (arch/x86/include/asm/sigframe.h), x86_64
const UC_OFF = 8;
const UC_STACK = UC_OFF + 16;
const MCTX = UC_OFF + 40;
const UC_SIGMASK = UC_OFF + 296;
const INFO_OFF = UC_OFF + 304;
const FRAME_SIZE = INFO_OFF + 128;
const FPSTATE_SIZE = 512;
/** sigcontext order: r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags */
export const SIGCONTEXT_REGS = [Reg.R8, Reg.R9, Reg.R10, Reg.R11, Reg.R12, Reg.R13, Reg.R14, Reg.R15,
  Reg.RDI, Reg.RSI, Reg.RBP, Reg.RBX, Reg.RDX, Reg.RAX, Reg.RCX, Reg.RSP, Reg.RIP, Reg.EFLAGS];

export function encodeSiginfo(info: SigInfo): Buffer {
  const b = Buffer.alloc(128);
  b.writeInt32LE(info.signo, 0);
  b.writeInt32LE(info.errno ?? 0, 4);
  b.writeInt32LE(info.code, 8);
  if (info.addr !== undefined) {
    writeU64(b, 16, info.addr);
  } else {
    b.writeInt32LE(info.pid ?? 0, 16);
    b.writeUInt32LE(info.uid ?? 0, 20);
    if (info.signo === SIGCHLD && info.status !== undefined) b.writeInt32LE(info.status, 24);
    else if (info.value !== undefined) writeU64(b, 24, info.value);
  }
  return b;
}

function onAltStack(t: Task, sp: number): boolean {
  return t.altStack.size > 0 && sp > t.altStack.sp && sp - t.altStack.sp <= t.altStack.size;
}

function setupFrame(k: Kernel, t: Task, sig: number, info: SigInfo): boolean {
  const act = t.proc.sighand.actions[sig]!;
  const r = t.regs;
  let sp = r.get(Reg.RSP);
  const useAlt = (act.flags & SA_ONSTACK) && t.altStack.flags === 0 && t.altStack.size > 0 && !onAltStack(t, sp);
  if (useAlt) sp = t.altStack.sp + t.altStack.size;
  else sp -= 128; // the red zone belongs to the interrupted code
  const fpAddr = Math.floor((sp - FPSTATE_SIZE) / 64) * 64;
  let frame = Math.floor((fpAddr - FRAME_SIZE) / 16) * 16 - 8;
  if (frame <= 0) return false;

  const fp = new Uint8Array(FPSTATE_SIZE);
  const haveFp = k.platform.getFpRegs(t.hostTid, fp) === 0;

  const b = Buffer.alloc(FRAME_SIZE);
  writeU64(b, 0, act.restorer);
  writeU64(b, UC_OFF, 2 | 4); // UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS
  writeU64(b, UC_STACK, t.altStack.sp);
  b.writeInt32LE(onAltStack(t, r.get(Reg.RSP)) ? 1 : t.altStack.flags, UC_STACK + 8);
  writeU64(b, UC_STACK + 16, t.altStack.size);
  SIGCONTEXT_REGS.forEach((reg, i) => writeU64(b, MCTX + 8 * i, r.get(reg)));
  b.writeUInt16LE(r.get(Reg.CS) & 0xffff, MCTX + 144);
  b.writeUInt16LE(r.get(Reg.SS) & 0xffff, MCTX + 150);
  writeU64(b, MCTX + 160, info.signo === 11 ? 14 : 0); // trapno: page fault for SIGSEGV
  // rt_sigsuspend/ppoll: the handler's return restores the mask from before the call.
  const restoreMask = t.savedSigmask ?? t.sigmask;
  t.savedSigmask = undefined;
  writeU64(b, MCTX + 168, Number(restoreMask & 0xffffffffn));
  writeU64(b, MCTX + 176, info.addr ?? 0);
  writeU64(b, MCTX + 184, haveFp ? fpAddr : 0);
  b.writeUInt32LE(Number(restoreMask & 0xffffffffn), UC_SIGMASK);
  b.writeUInt32LE(Number((restoreMask >> 32n) & 0xffffffffn), UC_SIGMASK + 4);
  encodeSiginfo(info).copy(b, INFO_OFF);

  const pid = t.proc.mm.hostPid;
  if (haveFp && k.mem.write(pid, fpAddr, fp) < 0) return false;
  if (k.mem.write(pid, frame, b) < 0) return false;

  // Mask during the handler: sa_mask, plus the signal unless SA_NODEFER.
  let mask = restoreMask | act.mask;
  if (!(act.flags & SA_NODEFER)) mask |= sigbit(sig);
  t.sigmask = mask & ~UNBLOCKABLE;

  r.set(Reg.RSP, frame);
  r.set(Reg.RIP, act.handler);
  r.set(Reg.RDI, sig);
  r.set(Reg.RSI, frame + INFO_OFF);
  r.set(Reg.RDX, frame + UC_OFF);
  r.set(Reg.RAX, 0);
  r.set(Reg.ORIG_RAX, -1);
  r.set(Reg.EFLAGS, r.get(Reg.EFLAGS) & ~(0x100 | 0x400)); // clear TF and DF
  return true;
}

/** rt_sigreturn(2): restore the context the frame at rsp-8 saved. */
export function sigreturn(k: Kernel, t: Task): number {
  const r = t.regs;
  const frame = r.get(Reg.RSP) - 8;
  const pid = t.proc.mm.hostPid;
  const b = k.mem.read(pid, frame, FRAME_SIZE);
  if (typeof b === 'number') {
    exitProcess(k, t.proc, { kind: 'killed', value: 11, core: true });
    return -1;
  }
  const u64 = (off: number) => b.readUInt32LE(off + 4) * 4294967296 + b.readUInt32LE(off);
  const s64 = (off: number) => b.readInt32LE(off + 4) * 4294967296 + b.readUInt32LE(off);
  SIGCONTEXT_REGS.forEach((reg, i) => r.set(reg, s64(MCTX + 8 * i)));
  // Only the user-changeable flags come back (AC, OF, DF, TF, SF, ZF, AF, PF, CF, RF).
  r.set(Reg.EFLAGS, (r.get(Reg.EFLAGS) & ~0x50dd5) | (u64(MCTX + 136) & 0x50dd5));
  r.set(Reg.ORIG_RAX, -1);
  const fpAddr = u64(MCTX + 184);
  if (fpAddr) {
    const fp = k.mem.read(pid, fpAddr, FPSTATE_SIZE);
    if (typeof fp !== 'number') k.platform.setFpRegs(t.hostTid, fp);
  }
  const lo = BigInt(b.readUInt32LE(UC_SIGMASK)), hi = BigInt(b.readUInt32LE(UC_SIGMASK + 4));
  t.sigmask = ((hi << 32n) | lo) & ~UNBLOCKABLE;
  const ssSp = u64(UC_STACK), ssFlags = b.readInt32LE(UC_STACK + 8), ssSize = u64(UC_STACK + 16);
  if (!onAltStack(t, r.get(Reg.RSP))) t.altStack = { sp: ssSp, size: ssSize, flags: ssFlags & ~1 };
  return 0;
}

/**
 * A fault in guest code (force_sig_fault): if the guest blocks or ignores
 * it, it cannot run on anyway, so the default action is forced.
 */
export function forceSignal(k: Kernel, t: Task, sig: number, code: number, addr: number): void {
  const act = t.proc.sighand.actions[sig]!;
  if (act.handler === SIG_IGN || t.sigmask & sigbit(sig)) {
    act.handler = SIG_DFL;
    t.sigmask &= ~sigbit(sig);
  }
  const info: SigInfo = { signo: sig, code: code || SI_KERNEL, forced: true };
  if (sig !== 5) info.addr = addr;
  t.pending.push(info);
}
