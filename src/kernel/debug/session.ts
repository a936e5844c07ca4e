/**
 * One guest process under gdb: the DebugTarget of gdb-protocol.ts on top
 * of the kernel. All-stop: when a thread stops for gdb (a breakpoint, the
 * end of a step, gdb's ^C) every other thread of the process is stopped
 * too, and gdb hears of the stop once none runs any more.
 *
 * A thread is stopped for gdb by not resuming it: the kernel asks
 * beforeResume() each time a thread would run guest code again, and the
 * session answers 'hold' and parks it (TaskState.Stopped), the way a
 * syscall parks a thread. Every other guest thread and the console go on
 * being served meanwhile. A thread parked in a syscall (read, wait4) stays
 * parked and is held when its syscall ends.
 */
import { TraceEvent } from '../../platform/tracer-addon.ts';
import { exitProcess } from '../exit.ts';
import type { Kernel } from '../kernel.ts';
import { SIGBUS, SIGFPE, SIGILL, SIGINT, SIGKILL, SIGSEGV, SIGTRAP } from '../signal-state.ts';
import { forceSignal, sendToThread } from '../signals.ts';
import { type Process, type Task, TaskState } from '../task.ts';
import type { DebugTarget, ResumeAction, StopEvent } from './gdb-protocol.ts';
import { FXSAVE_BYTES, RegisterFile } from './gdb-registers.ts';

/** What a thread does when it would next run guest code. */
type Mode = 'run' | 'hold' | 'step';

/** Signals of a fault in guest code: gdb sees them before the guest does. */
const FAULTS = new Set([SIGSEGV, SIGBUS, SIGFPE, SIGILL]);

const INT3 = 0xcc;

interface Breakpoint {
  /** host process the int3 was written into: an execve replaces it */
  hostPid: number;
  saved: number;
}

interface Fault {
  sig: number;
  code: number;
  addr: number;
}

export class DebugSession implements DebugTarget {
  onReport: ((ev: StopEvent) => void) | undefined;
  /** the session is over (detach, kill, exit): the debugger drops it */
  onEnd: (() => void) | undefined;
  private readonly modes = new Map<Task, Mode>();
  /** mode of threads gdb has not heard of yet (a new clone) */
  private holding = true;
  /** threads parked by the session */
  private readonly held = new Set<Task>();
  /** the thread the session itself is letting go (its beforeResume must not hold it again) */
  private resuming: Task | undefined;
  /** a stop to report once no thread runs; tid undefined: whichever stops first */
  private pending: { tid: number | undefined; signal: number } | undefined;
  private last: StopEvent | undefined;
  private readonly breakpoints = new Map<number, Breakpoint>();
  private readonly faults = new Map<Task, Fault>();
  /** children whose copy of the breakpoints has been dealt with */
  private readonly children = new WeakSet<Process>();
  private ended = false;

  constructor(private readonly k: Kernel, readonly proc: Process, signal: number, first: Task | undefined) {
    for (const c of proc.children) this.children.add(c);
    this.stopAll(first, signal);
  }

  get pid(): number {
    return this.proc.pid;
  }

  private live(): Task[] {
    return [...this.proc.threads].filter((t) => t.state !== TaskState.Dead)
      .sort((a, b) => (a.tid === this.proc.pid ? -1 : b.tid === this.proc.pid ? 1 : a.tid - b.tid));
  }

  private task(tid: number): Task | undefined {
    const t = this.k.tasks.get(tid);
    return t && t.proc === this.proc && t.state !== TaskState.Dead ? t : undefined;
  }

  private mode(t: Task): Mode {
    return this.modes.get(t) ?? (this.holding ? 'hold' : 'run');
  }

  // ----- the kernel's side (GuestDebugger forwards the DebugHooks here) -----

  beforeResume(t: Task): 'run' | 'step' | 'hold' {
    const mode = this.mode(t);
    if (this.resuming === t) return mode === 'step' ? 'step' : 'run';
    if (mode === 'run') return 'run';
    this.park(t);
    // A stepping thread that came into the kernel (a syscall) has done its instruction.
    if (mode === 'step') this.stopAll(t, SIGTRAP);
    else this.check();
    return 'hold';
  }

  onStop(t: Task, kind: number, a: number, b: number, c: number, d: number): boolean {
    // a SIGTRAP signal stop: an int3 (a breakpoint) or the end of a single-step
    const trap = a === SIGTRAP && (kind === TraceEvent.Stopped || kind === TraceEvent.Signal);
    const fault = kind === TraceEvent.Signal && FAULTS.has(a);
    if (trap || fault) {
      t.regs.copyFrom(this.k.platform.eventRegs);
      if (fault) this.faults.set(t, { sig: a, code: b, addr: (d >>> 0) * 4294967296 + (c >>> 0) });
      this.park(t);
      this.stopAll(t, a);
      return true;
    }
    if (kind === TraceEvent.Stopped && this.mode(t) === 'hold') {
      // the PTRACE_INTERRUPT of stopAll (pending guest signals are delivered when it goes on)
      t.regs.copyFrom(this.k.platform.eventRegs);
      this.park(t);
      this.check();
      return true;
    }
    return false;
  }

  taskGone(t: Task): void {
    this.modes.delete(t);
    this.held.delete(t);
    this.faults.delete(t);
    if (this.resuming === t) this.resuming = undefined;
    // The exit status is set once every thread is unregistered: look after the kernel is done.
    queueMicrotask(() => this.afterTaskGone());
  }

  /**
   * A child forked by the debugged process carries a copy of its int3s:
   * put the original bytes back in the child before it first runs.
   */
  childResuming(child: Process): void {
    if (this.children.has(child)) return;
    this.children.add(child);
    const hostPid = this.proc.mm.hostPid;
    if (child.mm.hostPid <= 0 || child.mm.hostPid === hostPid) return;
    for (const [addr, bp] of this.breakpoints) {
      if (bp.hostPid === hostPid) this.k.platform.forceWriteMem(child.mm.hostPid, addr, Uint8Array.of(bp.saved), 0, 1);
    }
  }

  private afterTaskGone(): void {
    if (this.ended) return;
    const e = this.proc.exit;
    if (e) {
      this.ended = true;
      this.onReport?.(e.kind === 'exited' ? { kind: 'exited', code: e.value } : { kind: 'killed', signal: e.value });
      this.onEnd?.();
      return;
    }
    this.check();
  }

  private park(t: Task): void {
    t.state = TaskState.Stopped;
    this.held.add(t);
  }

  /** All-stop: hold every thread, bring the running ones into the kernel, report `signal` of `t`. */
  private stopAll(t: Task | undefined, signal: number): void {
    this.pending ??= { tid: t?.tid, signal };
    this.holding = true;
    for (const x of this.live()) {
      this.modes.set(x, 'hold');
      if (x.state === TaskState.Running) this.k.interruptRunning(x);
    }
    this.check();
  }

  /** Report the pending stop once no thread of the process runs. */
  private check(): void {
    if (!this.pending || this.ended) return;
    const live = this.live();
    if (live.some((x) => x.state === TaskState.Running)) return;
    const want = this.pending.tid !== undefined ? this.task(this.pending.tid) : undefined;
    const t = want ?? [...this.held].find((x) => x.state !== TaskState.Dead) ?? live[0];
    if (!t) return; // none left: the exit is reported instead
    const ev: StopEvent = { kind: 'signal', tid: t.tid, signal: this.pending.signal };
    this.pending = undefined;
    this.last = ev;
    this.onReport?.(ev);
  }

  /** Let a held thread run guest code again, through the kernel's own path (signals first). */
  private release(t: Task): void {
    if (!this.held.delete(t) || t.state !== TaskState.Stopped) return;
    this.resuming = t;
    t.state = TaskState.InKernel;
    try {
      this.k.returnToUser(t);
    } finally {
      this.resuming = undefined;
    }
  }

  // ----- gdb's side (DebugTarget) -----

  threads(): number[] {
    return this.live().map((t) => t.tid);
  }

  threadName(tid: number): string {
    const t = this.task(tid);
    return t ? `${t.proc.comm} (${t.tid === t.pid ? 'main thread' : 'thread'})` : '';
  }

  currentStop(): StopEvent | undefined {
    return this.pending ? undefined : this.last;
  }

  registers(tid: number): RegisterFile | undefined {
    const t = this.task(tid);
    // A running thread's registers are not known: all-stop means gdb never asks for them.
    if (!t || t.state === TaskState.Running) return undefined;
    const fx = new Uint8Array(FXSAVE_BYTES);
    // (a thread the host has not stopped yet reads as zeros)
    this.k.platform.getFpRegs(t.hostTid, fx);
    return new RegisterFile(t.regs, fx);
  }

  commitRegisters(tid: number, file: RegisterFile): boolean {
    const t = this.task(tid);
    if (!t) return false;
    // The general registers are t.regs itself, which the thread resumes with.
    if (file.fxDirty) return this.k.platform.setFpRegs(t.hostTid, file.fx) >= 0;
    return true;
  }

  readMemory(addr: number, len: number): Uint8Array {
    const buf = new Uint8Array(len);
    const hostPid = this.proc.mm.hostPid;
    const n = this.k.platform.readMem(hostPid, addr, buf, 0, len);
    if (n <= 0) return new Uint8Array(0);
    // gdb sees the program's own bytes, not our int3s
    for (const [at, bp] of this.breakpoints) {
      if (bp.hostPid === hostPid && at >= addr && at < addr + n) buf[at - addr] = bp.saved;
    }
    return buf.subarray(0, n);
  }

  writeMemory(addr: number, data: Uint8Array): boolean {
    const bytes = Uint8Array.from(data);
    const hostPid = this.proc.mm.hostPid;
    for (const [at, bp] of this.breakpoints) {
      if (bp.hostPid !== hostPid || at < addr || at >= addr + bytes.length) continue;
      bp.saved = bytes[at - addr]!;
      bytes[at - addr] = INT3;
    }
    return this.k.platform.forceWriteMem(hostPid, addr, bytes, 0, bytes.length) === bytes.length;
  }

  insertBreakpoint(addr: number): boolean {
    const hostPid = this.proc.mm.hostPid;
    const old = this.breakpoints.get(addr);
    if (old?.hostPid === hostPid) return true;
    const b = new Uint8Array(1);
    if (this.k.platform.readMem(hostPid, addr, b, 0, 1) !== 1) return false;
    if (this.k.platform.forceWriteMem(hostPid, addr, Uint8Array.of(INT3), 0, 1) !== 1) return false;
    this.breakpoints.set(addr, { hostPid, saved: b[0]! });
    return true;
  }

  removeBreakpoint(addr: number): boolean {
    const bp = this.breakpoints.get(addr);
    if (!bp) return true;
    this.breakpoints.delete(addr);
    // an int3 of a replaced image (execve) went with it
    if (bp.hostPid !== this.proc.mm.hostPid) return true;
    return this.k.platform.forceWriteMem(bp.hostPid, addr, Uint8Array.of(bp.saved), 0, 1) === 1;
  }

  resume(actions: ResumeAction[]): void {
    if (this.ended) return;
    this.pending = undefined;
    this.last = undefined;
    const live = this.live();
    for (const t of live) {
      // "the leftmost action with a matching thread-id is applied"; no action: it stays stopped
      const a = actions.find((x) => x.tid === -1 || x.tid === t.tid);
      this.modes.set(t, a ? (a.step ? 'step' : 'run') : 'hold');
      if (a) this.deliver(t, a.signal);
    }
    this.holding = !actions.some((x) => x.tid === -1 && !x.step);
    for (const t of live) if (this.modes.get(t) !== 'hold') this.release(t);
    this.k.kick();
  }

  /** gdb passes a signal on: a fault gdb reported is delivered as the fault it was. */
  private deliver(t: Task, sig: number): void {
    const f = this.faults.get(t);
    this.faults.delete(t);
    if (!sig) return;
    if (f && f.sig === sig) forceSignal(this.k, t, sig, f.code, f.addr);
    else sendToThread(this.k, t, { signo: sig, code: 0 /* SI_USER */, pid: 0, uid: 0 });
  }

  interrupt(): void {
    this.stopAll(undefined, SIGINT);
  }

  kill(): void {
    if (!this.proc.alive) return;
    exitProcess(this.k, this.proc, { kind: 'killed', value: SIGKILL, core: false });
    this.k.kick();
  }

  /** Breakpoints out, every thread let go, the session over. */
  detach(): void {
    if (this.ended) return;
    this.ended = true;
    for (const addr of [...this.breakpoints.keys()]) this.removeBreakpoint(addr);
    this.holding = false;
    this.pending = undefined;
    const live = this.live();
    for (const t of live) this.modes.set(t, 'run');
    for (const t of live) this.release(t);
    this.k.kick();
    this.onEnd?.();
  }
}
