/**
 * Syscall breakpoints (`--break-syscall NAME[:PID]`, `ctl break`): a guest
 * thread entering a chosen syscall is parked before the syscall is served,
 * and stays parked until `ctl go PID` (or a signal) lets it go on. Only
 * that thread stops: the rest of the guest, the console and the control
 * socket keep going, since parking is the kernel's ordinary way to make a
 * thread wait (it is simply not resumed).
 *
 * It is a SyscallObserver placed first in the kernel's list, so its
 * "park" (BLOCK) wins over anything a later observer returns for that
 * entry. On `go` the kernel serves the call as a retry after a wait, which
 * does not ask the observers again: an --inject result decided for a call
 * that stopped at a breakpoint is dropped, and the call really runs.
 *
 * One instance per kernel, made on first use (breakpointsOf), so that the
 * boot and the control socket share it without a field on the Kernel.
 */
import { E } from '../errno.ts';
import type { Kernel, SyscallObserver } from '../kernel.ts';
import { type Task, TaskState } from '../task.ts';
import { decodeEnter, hex, syscallName } from '../trace/decode.ts';
import { DEFAULT_STRACE_SIZE } from '../trace/options.ts';
import { WaitQueue } from '../wait-queue.ts';
import type { BreakSpec } from './spec.ts';

/** A thread parked at a breakpoint. */
export interface ParkedAtBreak {
  readonly task: Task;
  readonly nr: number;
  /** the call decoded as strace shows it: `openat(AT_FDCWD, "/etc/passwd", O_RDONLY)` */
  readonly call: string;
  /** the breakpoint that stopped it */
  readonly spec: string;
  readonly sinceMs: number;
  readonly queue: WaitQueue;
}

export class SyscallBreakpoints implements SyscallObserver {
  private readonly specs: BreakSpec[] = [];
  private readonly parked = new Map<Task, ParkedAtBreak>();
  private installed = false;
  /**
   * Held while a thread is parked here: a guest whose only running thread
   * stopped at a breakpoint leaves Node's event loop with nothing to wait
   * for (the control socket is unref'd), and vmctl would end at once.
   */
  private keepAlive: NodeJS.Timeout | undefined;
  /** what `ctl go` is called with in the stderr note: the guest's name */
  guestName = 'GUEST';

  constructor(private readonly k: Kernel) {}

  get list(): readonly BreakSpec[] {
    return this.specs;
  }

  /** Adds a breakpoint; false when the same one is already set. */
  add(spec: BreakSpec): boolean {
    if (this.specs.some((s) => s.text === spec.text)) return false;
    this.specs.push(spec);
    if (!this.installed) {
      // First in line: its BLOCK must win over an injection's result for the same entry.
      this.k.observers.unshift(this);
      this.installed = true;
    }
    return true;
  }

  /**
   * Removes the breakpoints `what` names: `NAME` every one on that syscall
   * or class whatever its pid, `NAME:PID` that one, `all` every one. Threads
   * parked at them stay parked until `go`. Returns the ones removed.
   */
  remove(what: string): BreakSpec[] {
    const gone = this.specs.filter((s) => what === 'all' || s.text === what || s.what === what);
    for (const s of gone) this.specs.splice(this.specs.indexOf(s), 1);
    if (this.specs.length === 0 && this.installed) {
      const i = this.k.observers.indexOf(this);
      if (i >= 0) this.k.observers.splice(i, 1);
      this.installed = false;
    }
    return gone;
  }

  /** Threads parked at a breakpoint now, oldest first. */
  parkedNow(): ParkedAtBreak[] {
    for (const [t, p] of this.parked) {
      // (a thread killed while parked leaves without an exit() of its call)
      if (t.state !== TaskState.Blocked || !t.waitingOn.includes(p.queue)) this.parked.delete(t);
    }
    this.holdWhileParked();
    return [...this.parked.values()];
  }

  private holdWhileParked(): void {
    if (this.parked.size > 0 && !this.keepAlive) {
      // (pruned now and then: a parked thread can die without telling this observer)
      this.keepAlive = setInterval(() => this.parkedNow(), 1000);
    } else if (this.parked.size === 0 && this.keepAlive) {
      clearInterval(this.keepAlive);
      this.keepAlive = undefined;
    }
  }

  /** Lets a parked thread go on: its syscall is served now. */
  resume(p: ParkedAtBreak): void {
    this.parked.delete(p.task);
    this.holdWhileParked();
    // (the handler's own waits get their own interrupt result)
    p.task.interruptResult = undefined;
    p.queue.wakeAll();
  }

  enter(t: Task, nr: number, args: readonly number[]): number | undefined {
    const spec = this.specs.find((s) => s.nrs.has(nr) && (s.pid === undefined || s.pid === t.pid || s.pid === t.tid));
    if (!spec) return undefined;
    let call: string;
    try {
      const texts = decodeEnter({ k: this.k, t, size: DEFAULT_STRACE_SIZE }, nr, args);
      // (an output argument is only a pointer yet: it is filled when the call is served)
      call = `${syscallName(nr)}(${texts.map((x, i) => x ?? hex(args[i] ?? 0)).join(', ')})`;
    } catch {
      call = `${syscallName(nr)}(...)`;
    }
    const queue = new WaitQueue();
    this.parked.set(t, { task: t, nr, call, spec: spec.text, sinceMs: performance.now(), queue });
    // ps shows the call it waits in (the dispatcher sets this only when the handler runs)
    t.currentSyscall = nr;
    const who = t.tid === t.pid ? `guest pid ${t.pid}` : `guest pid ${t.pid} tid ${t.tid}`;
    process.stderr.write(`vmctl: ${who} (${t.proc.comm}) stopped at ${call} \u2014 ` +
      `\`vmctl ctl ${this.guestName} go ${t.tid}\` continues\n`);
    // A signal ends the stop as it ends a blocking call, but the call has not run yet, so it
    // restarts whatever the handler's SA_RESTART (and stops here again), as after a ptrace stop.
    t.interruptResult = -E.ERESTARTNOINTR;
    const r = this.k.block(t, [queue]);
    this.holdWhileParked();
    return r;
  }

  exit(t: Task): void {
    // The call ended without `go`: a signal interrupted the stop (it re-enters, and stops again, on a restart).
    if (this.parked.delete(t)) this.holdWhileParked();
  }
}

const perKernel = new WeakMap<Kernel, SyscallBreakpoints>();

/** The breakpoints of kernel `k`, made on first use. */
export function breakpointsOf(k: Kernel): SyscallBreakpoints {
  let b = perKernel.get(k);
  if (!b) {
    b = new SyscallBreakpoints(k);
    perKernel.set(k, b);
  }
  return b;
}

/** Whether `k` has breakpoints made already (without making them). */
export function existingBreakpoints(k: Kernel): SyscallBreakpoints | undefined {
  return perKernel.get(k);
}

/** The boot's --break-syscall breakpoints, and the guest name `ctl go` hints use. */
export function installBreakpoints(k: Kernel, guestName: string | undefined, specs: readonly BreakSpec[] | undefined): void {
  const b = breakpointsOf(k);
  if (guestName !== undefined) b.guestName = guestName;
  for (const s of specs ?? []) b.add(s);
}
