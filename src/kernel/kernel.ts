/**
 * The guest kernel: owns every guest-visible object and runs the loop that
 * serves guest syscalls.
 *
 * The loop follows UML's userspace(): wait for a stopped guest thread,
 * dispatch on why it stopped, set its registers, resume it. A syscall that
 * must wait parks its thread (it is simply not resumed) and the loop goes
 * on serving the others. When no guest thread is running the loop returns
 * to the Node event loop, whose callbacks (console input, timers) wake
 * parked threads and restart it.
 */
import type { Platform } from '../platform/platform.ts';
import { Reg } from '../platform/regs.ts';
import { TraceEvent } from '../platform/tracer-addon.ts';
import { E, errnoName } from './errno.ts';
import { GuestMemory } from './guest-memory.ts';
import { SYSCALL_NAMES } from './syscall-names.ts';
import { BLOCK, GONE, NO_RESULT } from './syscall-result.ts';
import { Process, Task, TaskState } from './task.ts';
import { monotonicMs, TimerQueue } from './timers.ts';
import type { WaitQueue } from './wait-queue.ts';
import type { MountTable } from './vfs/mounts.ts';
import type { Location } from './vfs/path-walk.ts';
import { SIG_DFL, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGKILL } from './signal-state.ts';

export type SyscallHandler = (k: Kernel, t: Task, a0: number, a1: number, a2: number, a3: number, a4: number, a5: number) => number;

export interface SyscallEntry {
  name: string;
  handler: SyscallHandler;
}

/** Hooks implemented by the modules that own signals, exit and the syscall table. */
export interface KernelParts {
  table: (SyscallEntry | undefined)[];
  /** deliver pending signals before `t` returns to user mode; false if `t` must not be resumed */
  deliverSignals(k: Kernel, t: Task): boolean;
  /** a host fault signal in guest code (SIGSEGV, ...) */
  forceSignal(k: Kernel, t: Task, sig: number, code: number, addr: number): void;
  /** the host thread vanished without the kernel asking */
  hostThreadDied(k: Kernel, t: Task, exitCode: number, killedBy: number): void;
}

/**
 * Sees every guest syscall: the seam for tracing (--strace), fault
 * injection (--inject) and statistics (--stats). Costs nothing when none
 * is installed.
 */
export interface SyscallObserver {
  /**
   * A syscall enters (once, not on retries after blocking). Returning a
   * number makes the syscall return it without running (fault injection).
   */
  enter(t: Task, nr: number, args: readonly number[]): number | undefined;
  /** The thread parked in the syscall. */
  blocked?(t: Task, nr: number): void;
  /**
   * The syscall is done: `result` is its value or -errno, or one of the
   * dispatcher's codes (NO_RESULT: registers set by the handler; GONE).
   * t.syscallStartMs and t.syscallKernelMs say when it began and how long
   * the kernel spent in it (excluding time parked).
   */
  exit(t: Task, nr: number, result: number): void;
}

/**
 * A debugger holding guest threads for gdb (src/kernel/debug/). The kernel
 * asks it at the two points where a thread would run guest code again.
 */
export interface DebugHooks {
  /** `t` is about to run guest code: run it, step one instruction, or 'hold' (the debugger parked it). */
  beforeResume(t: Task): 'run' | 'step' | 'hold';
  /** A trap or signal stop of `t` (regs in platform.eventRegs); true: the debugger took it. */
  onStop(t: Task, kind: number, a: number, b: number, c: number, d: number): boolean;
  /** `t` left the kernel's tables (its thread or process ended). */
  taskGone(t: Task): void;
}

export class Kernel {
  readonly observers: SyscallObserver[] = [];
  /** the gdb stub's hooks, once a debugger is installed */
  debug: DebugHooks | undefined;
  readonly mem: GuestMemory;
  readonly timers = new TimerQueue();
  /** guest threads by host tid, and by guest tid */
  readonly byHostTid = new Map<number, Task>();
  readonly tasks = new Map<number, Task>();
  readonly procs = new Map<number, Process>();
  hostname = 'vmctl';
  domainname = '(none)';
  readonly bootTimeMs = Date.now();
  readonly bootMonoMs = monotonicMs();
  init: Process | undefined;
  /** the task whose syscall is being served (for /proc/self) */
  current: Task | undefined;
  verbose = false;
  /**
   * Linux makes init immune to signals it does not handle (SIGNAL_UNKILLABLE).
   * Off for `--exec`, whose command must die of the signals it is sent.
   */
  initUnkillable = true;
  /** --pids-max: guest tasks (threads and unreaped zombies) alive at once; clone past it is EAGAIN (task-limits.ts) */
  pidsMax = Number.MAX_SAFE_INTEGER;
  mounts!: MountTable;
  rootLocation!: Location;
  /** per-syscall counts, for --stats */
  readonly syscallCounts = new Map<number, number>();
  private running = 0;
  private readonly woken: Task[] = [];
  private inLoop = false;
  private loopScheduled = false;
  private nextPid = 1;
  private readonly reportedEnosys = new Set<string>();
  private exitResolve: ((status: number) => void) | undefined;
  private fatal: ((err: unknown) => void) | undefined;
  private nodeTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly platform: Platform,
    private readonly parts: KernelParts,
  ) {
    this.mem = new GuestMemory(platform);
  }

  allocPid(): number {
    for (let i = 0; i < 4194304; i++) {
      const pid = this.nextPid;
      this.nextPid = this.nextPid >= 4194303 ? 300 : this.nextPid + 1;
      if (!this.tasks.has(pid) && !this.procs.has(pid) && !this.pgrpOrSessionInUse(pid)) return pid;
    }
    return -E.EAGAIN;
  }

  private pgrpOrSessionInUse(id: number): boolean {
    for (const p of this.procs.values()) if (p.pgid === id || p.sid === id) return true;
    return false;
  }

  /** Resolves with the init process's exit status once the guest is over. */
  run(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.exitResolve = resolve;
      this.fatal = reject;
      this.kick();
    });
  }

  /** Called when init dies: the guest is over. */
  shutdown(status: number): void {
    for (const p of this.procs.values()) {
      if (p.mm.hostPid > 0) this.platform.killHost(p.mm.hostPid, SIGKILL);
    }
    if (this.nodeTimer) clearTimeout(this.nodeTimer);
    const r = this.exitResolve;
    this.exitResolve = undefined;
    r?.(status);
  }

  get isShutDown(): boolean {
    return this.exitResolve === undefined;
  }

  // ----- threads in and out of the host -----

  registerTask(t: Task): void {
    this.tasks.set(t.tid, t);
    this.byHostTid.set(t.hostTid, t);
    t.onWake = (task) => this.retry(task);
  }

  unregisterTask(t: Task): void {
    this.tasks.delete(t.tid);
    if (this.byHostTid.get(t.hostTid) === t) this.byHostTid.delete(t.hostTid);
    if (t.state === TaskState.Running) this.running--;
    t.unblock();
    t.state = TaskState.Dead;
    this.debug?.taskGone(t);
  }

  /** The host thread of `t` changed (execve swaps in a fresh host process). */
  rehost(t: Task, hostTid: number): void {
    if (this.byHostTid.get(t.hostTid) === t) this.byHostTid.delete(t.hostTid);
    t.hostTid = hostTid;
    this.byHostTid.set(hostTid, t);
  }

  /**
   * Park `t` until one of `queues` is woken or `deadlineMs` (monotonic)
   * passes; the handler then runs again. Returns BLOCK for the handler.
   */
  block(t: Task, queues: WaitQueue[], deadlineMs = -1): number {
    t.state = TaskState.Blocked;
    t.waitingOn = queues;
    for (const q of queues) q.add(t);
    if (deadlineMs >= 0) t.timerCancel = this.timers.add(deadlineMs, () => { t.timerCancel = undefined; t.wake(); });
    return BLOCK;
  }

  /**
   * A blocked thread was woken: queue its syscall to run again. Wakes come
   * from inside other handlers (a pipe write wakes its reader), so they are
   * deferred to the loop rather than served re-entrantly.
   */
  private retry(t: Task): void {
    if (t.state === TaskState.Dead) return;
    t.state = TaskState.InKernel;
    this.woken.push(t);
    this.kick();
  }

  private serveWoken(): void {
    while (this.woken.length > 0) {
      const t = this.woken.shift()!;
      if (t.state === TaskState.InKernel) this.serve(t);
    }
  }

  /**
   * Wake a blocked thread because a signal arrived for it: its syscall
   * ends with -ERESTARTSYS-style codes that delivery turns into EINTR or a
   * restart (signal(7), "Interruption of system calls").
   */
  interruptBlocked(t: Task): void {
    if (t.state !== TaskState.Blocked) return;
    t.unblock();
    t.interrupted = true;
    t.state = TaskState.InKernel;
    this.woken.push(t);
    this.kick();
  }

  /** Make a thread that runs guest code come into the kernel (for a signal). */
  interruptRunning(t: Task): void {
    if (t.state === TaskState.Running) this.platform.interrupt(t.hostTid);
  }

  // ----- serving syscalls -----

  private serve(t: Task): void {
    const nr = t.regs.get(Reg.ORIG_RAX);
    const observed = this.observers.length > 0;
    const first = !t.inSyscall;
    if (first) {
      t.inSyscall = true;
      this.syscallCounts.set(nr, (this.syscallCounts.get(nr) ?? 0) + 1);
      if (observed) {
        t.syscallStartMs = performance.now();
        t.syscallKernelMs = 0;
      }
    }
    let r: number | undefined;
    if (t.interrupted) {
      t.interrupted = false;
      t.cancelWait?.();
      r = t.interruptResult ?? interruptedResult(nr);
    } else {
      if (first && observed) r = this.observeEnter(t, nr);
      if (r === undefined) {
        const start = observed ? performance.now() : 0;
        r = this.dispatch(t, nr);
        if (observed) t.syscallKernelMs += performance.now() - start;
      }
    }
    if (r === BLOCK) {
      if (observed) for (const o of this.observers) o.blocked?.(t, nr);
      return;
    }
    t.syscallState = undefined;
    t.cancelWait = undefined;
    t.interruptResult = undefined;
    t.currentSyscall = -1;
    t.inSyscall = false;
    if (observed) for (const o of this.observers) o.exit(t, nr, r);
    if (r === GONE) return;
    if (r !== NO_RESULT) t.regs.set(Reg.RAX, r);
    this.returnToUser(t);
  }

  private observeEnter(t: Task, nr: number): number | undefined {
    const g = t.regs;
    const args = [g.get(Reg.RDI), g.get(Reg.RSI), g.get(Reg.RDX), g.get(Reg.R10), g.get(Reg.R8), g.get(Reg.R9)];
    let result: number | undefined;
    for (const o of this.observers) {
      const r = o.enter(t, nr, args);
      if (r !== undefined && result === undefined) result = r;
    }
    return result;
  }

  private dispatch(t: Task, nr: number): number {
    t.currentSyscall = nr;
    const entry = nr >= 0 ? this.parts.table[nr] : undefined;
    if (!entry) return this.enosys(t, nr);
    const g = t.regs;
    this.current = t;
    try {
      return entry.handler(this, t, g.get(Reg.RDI), g.get(Reg.RSI), g.get(Reg.RDX), g.get(Reg.R10), g.get(Reg.R8), g.get(Reg.R9));
    } catch (err) {
      // A kernel bug must not take the guest down with it: log it and
      // fail the one call, the way an oops kills one task.
      process.stderr.write(`vmctl: kernel bug in ${entry.name} called by ${t.proc.comm} (pid ${t.pid}): ${(err as Error).stack ?? err}\n`);
      return -E.EFAULT;
    } finally {
      this.current = undefined;
    }
  }

  enosys(t: Task, nr: number): number {
    const name = SYSCALL_NAMES[nr] ?? `syscall_${nr}`;
    const key = `${name}`;
    if (!this.reportedEnosys.has(key)) {
      this.reportedEnosys.add(key);
      {
        process.stderr.write(`vmctl: ${name} (${nr}) is not implemented; ENOSYS to ${t.proc.comm || '?'} (pid ${t.pid})\n`);
      }
    }
    return -E.ENOSYS;
  }

  /** Unimplemented syscalls seen so far, for --stats and logs. */
  get unimplemented(): string[] {
    return [...this.reportedEnosys];
  }

  /** Deliver signals, then let `t` run guest code again. */
  returnToUser(t: Task): void {
    if (t.state === TaskState.Dead) return;
    if (!this.parts.deliverSignals(this, t)) return;
    if ((t.state as TaskState) === TaskState.Dead || (t.state as TaskState) === TaskState.Stopped) return;
    if (this.frozen) {
      // the whole guest is frozen (vmctl ctl stop): held here until thaw()
      t.state = TaskState.Stopped;
      this.heldByFreeze.add(t);
      return;
    }
    const how = this.debug?.beforeResume(t);
    if (how === 'hold') return;
    const r = how === 'step' ? this.platform.step(t.hostTid, t.regs) : this.platform.resume(t.hostTid, t.regs, 0);
    if (r < 0) {
      t.state = TaskState.InKernel;
      // ESRCH: the host thread died under us (killed with its group).
      if (r === -E.ESRCH) return;
      /*
       * The host refused the registers (ptrace's putreg checks segment
       * selectors and FS/GS bases as Linux's own return to user does): the
       * thread cannot run on. Linux's answer to a frame it cannot return
       * to is force_sigsegv(), with the default action whatever the guest
       * had set, so no handler frame brings the same registers back.
       */
      t.proc.sighand.actions[SIGSEGV]!.handler = SIG_DFL;
      this.parts.forceSignal(this, t, SIGSEGV, 0, 0);
      this.returnToUser(t);
      return;
    }
    t.state = TaskState.Running;
    this.running++;
  }

  // ----- freezing the whole guest (like UML's mconsole stop/go) -----

  private frozen = false;
  private readonly heldByFreeze = new Set<Task>();

  get isFrozen(): boolean {
    return this.frozen;
  }

  /**
   * Freeze every guest thread: running ones are brought into the kernel
   * and held at their return to user mode; parked ones stay parked and
   * are held when they wake. Timers and I/O still run in the kernel.
   */
  freeze(): void {
    if (this.frozen) return;
    this.frozen = true;
    for (const t of this.tasks.values()) if (t.state === TaskState.Running) this.interruptRunning(t);
    this.kick();
  }

  /** Let every held thread run again. */
  thaw(): void {
    if (!this.frozen) return;
    this.frozen = false;
    const held = [...this.heldByFreeze];
    this.heldByFreeze.clear();
    for (const t of held) {
      if (t.state !== TaskState.Stopped || t.proc.stopped) continue;
      t.state = TaskState.InKernel;
      this.returnToUser(t);
    }
    this.kick();
  }

  // ----- the loop -----

  /** Make sure the loop runs soon (after an event-loop callback woke someone). */
  kick(): void {
    if (this.inLoop || this.loopScheduled || this.isShutDown) return;
    this.scheduleLoop();
  }

  /**
   * Run the loop in the event loop's check phase after its next poll
   * phase: libuv adds a new socket (a listening port, an accepted control
   * or gdb client) to its epoll set only in a poll phase, and while the
   * loop waits in the tracer the wakeup thread sees only that set. Without
   * the second turn, a guest computing without syscalls kept such a socket
   * unheard.
   */
  private scheduleLoop(): void {
    this.loopScheduled = true;
    setImmediate(() => setImmediate(() => {
      this.loopScheduled = false;
      this.loop();
    }));
  }

  private loop(): void {
    if (this.inLoop || this.isShutDown) return;
    this.inLoop = true;
    try {
      for (;;) {
        // (the clock only when a timer is set: reading it costs a BigInt)
        if (this.timers.next() >= 0) this.timers.runDue(monotonicMs());
        this.serveWoken();
        if (this.isShutDown) return;
        if (this.running <= 0) {
          this.goIdle();
          return;
        }
        const ev = this.platform.wait(this.timers.next());
        if (ev.kind === TraceEvent.Interrupted) {
          this.platform.idle();
          this.scheduleLoop();
          return;
        }
        if (ev.kind === TraceEvent.NoChild) {
          this.running = 0;
          continue;
        }
        this.onEvent(ev.kind, ev.tid, ev.a, ev.b, ev.c, ev.d);
      }
    } catch (err) {
      this.platform.idle();
      this.fatal?.(err);
    } finally {
      this.inLoop = false;
    }
  }

  private goIdle(): void {
    this.platform.idle();
    if (this.nodeTimer) clearTimeout(this.nodeTimer);
    this.nodeTimer = undefined;
    const next = this.timers.next();
    if (next >= 0) {
      // setTimeout fires at once past 2^31-1 ms: wake early and re-arm.
      this.nodeTimer = setTimeout(() => {
        this.nodeTimer = undefined;
        this.kick();
      }, Math.min(0x7fffffff, Math.max(0, Math.ceil(next - monotonicMs()))));
    }
  }

  private onEvent(kind: number, hostTid: number, a: number, b: number, c: number, d: number): void {
    const t = this.byHostTid.get(hostTid);
    if (!t) return; // a host process the kernel already let go of
    if (t.state === TaskState.Running) this.running--;
    t.state = TaskState.InKernel;
    if ((kind === TraceEvent.Stopped || kind === TraceEvent.Signal) && this.debug?.onStop(t, kind, a, b, c, d)) return;
    switch (kind) {
      case TraceEvent.Syscall:
        t.regs.copyFrom(this.platform.eventRegs);
        this.serve(t);
        return;
      case TraceEvent.Stopped:
        // PTRACE_EVENT_STOP after our PTRACE_INTERRUPT: a signal is waiting.
        t.regs.copyFrom(this.platform.eventRegs);
        this.returnToUser(t);
        return;
      case TraceEvent.Signal: {
        t.regs.copyFrom(this.platform.eventRegs);
        if (a === SIGSEGV || a === SIGBUS || a === SIGFPE || a === SIGILL || a === SIGTRAP) {
          const addr = (d >>> 0) * 4294967296 + (c >>> 0);
          this.parts.forceSignal(this, t, a, b, addr);
        }
        // Other host signals are the host's business, never the guest's.
        this.returnToUser(t);
        return;
      }
      case TraceEvent.Exited:
      case TraceEvent.Killed:
        this.platform.forget(hostTid);
        this.parts.hostThreadDied(this, t, kind === TraceEvent.Exited ? a : 0, kind === TraceEvent.Killed ? a : 0);
        return;
    }
  }

  /** A process group is orphaned when no member has a parent in the same session but another group. */
  isOrphanedPgrp(pgid: number): boolean {
    for (const p of this.procs.values()) {
      if (p.pgid !== pgid || !p.alive) continue;
      const par = p.parent;
      if (par && par.alive && par.pgid !== pgid && par.sid === p.sid) return false;
    }
    return true;
  }

  /** Guest-facing name of an errno for logs. */
  static errname(r: number): string {
    return errnoName(r);
  }
}

/** What a blocked syscall returns when a signal interrupts it. */
function interruptedResult(nr: number): number {
  switch (SYSCALL_NAMES[nr]) {
    // never restarted after a handler: signal(7)
    case 'pause': case 'rt_sigsuspend': case 'poll': case 'ppoll': case 'select': case 'pselect6':
    case 'epoll_wait': case 'epoll_pwait': case 'rt_sigtimedwait': case 'restart_syscall':
      return -E.ERESTARTNOHAND;
    case 'nanosleep': case 'clock_nanosleep':
      return -E.ERESTARTNOHAND;
    default:
      return -E.ERESTARTSYS;
  }
}
