/**
 * Installs the debugging options of a boot (--strace, --inject, --stats)
 * into a kernel: one SyscallObserver that injects, traces and counts, and
 * for delay injections the wrapped handlers (inject.ts). With none of the
 * options nothing is installed, and the kernel's syscall path stays as it
 * is.
 *
 * Parked calls: the observer learns that a call parked (blocked()) and
 * that it ended (exit()), not what woke it in between. To say what did,
 * it wraps, while tracing, each traced task's wake-up callback (onWake,
 * called by wait queues and timers; the kernel's `current` task at that
 * moment is the waker) and the cancel function of the timer of a parked
 * call (called when anything but the timer ends the wait). A call that
 * ends parked with neither is one a signal interrupted.
 */
import type { Kernel, SyscallEntry, SyscallObserver } from '../kernel.ts';
import type { Task } from '../task.ts';
import { POLLOUT } from '../vfs/types.ts';
import { syscallName } from './decode.ts';
import { Injector } from './inject.ts';
import type { TraceOptions } from './options.ts';
import { TraceSink } from './sink.ts';
import { SyscallStats } from './stats.ts';
import { type CallRecord, SyscallTracer } from './strace.ts';

export interface InstalledTracing {
  /** The guest is over: flush and close the trace, print the statistics. */
  close(): void;
}

/** Install what `opts` asks for; undefined when it asks for nothing. */
export function installTracing(k: Kernel, table: (SyscallEntry | undefined)[], opts: TraceOptions | undefined):
  InstalledTracing | undefined {
  if (!opts) return undefined;
  const injector = opts.inject.length > 0 ? new Injector(opts.inject, opts.seed) : undefined;
  injector?.wrapTable(table);
  let tracer: SyscallTracer | undefined;
  if (opts.strace) {
    const sink = new TraceSink(opts.strace.fd, (fd) => { k.platform.pollFd(fd, POLLOUT, -1); });
    tracer = new SyscallTracer(k, opts.strace, sink);
  }
  const stats = opts.stats ? new SyscallStats() : undefined;
  if (opts.seedDrawn) {
    process.stderr.write(`vmctl: --inject seed ${opts.seed} (pass --inject-seed ${opts.seed} to repeat this run)\n`);
  }
  const observer = new DebugObserver(k, injector, tracer, stats);
  k.observers.push(observer);
  let closed = false;
  return {
    close() {
      if (closed) return;
      closed = true;
      const i = k.observers.indexOf(observer);
      if (i >= 0) k.observers.splice(i, 1);
      tracer?.close();
      if (stats) process.stderr.write(stats.report(k.platform, k.unimplemented));
    },
  };
}

class DebugObserver implements SyscallObserver {
  private readonly calls = new WeakMap<Task, CallRecord>();
  private readonly spied = new WeakSet<Task>();
  private failed = false;

  constructor(
    private readonly k: Kernel,
    private readonly injector: Injector | undefined,
    private readonly tracer: SyscallTracer | undefined,
    private readonly stats: SyscallStats | undefined,
  ) {}

  enter(t: Task, nr: number, args: readonly number[]): number | undefined {
    try {
      const injection = this.injector?.decide(this.k, t, nr, args);
      const rec: CallRecord = {
        nr, args, injection, hostTrips: 0, tripsAt: this.k.platform.roundTrips(), parkedMs: 0, parkedSince: -1,
        hadTimer: false, timerCancelled: false, everParked: false, wake: undefined, trace: undefined,
      };
      if (this.tracer?.wants(nr)) rec.trace = this.tracer.enter(t, nr, args);
      this.calls.set(t, rec);
      this.stats?.enter(nr);
      return injection && injection.delayMs === undefined ? injection.result : undefined;
    } catch (err) {
      this.oops(err);
      return undefined;
    }
  }

  blocked(t: Task): void {
    try {
      const rec = this.calls.get(t);
      if (!rec) return;
      if (rec.tripsAt >= 0) rec.hostTrips += this.k.platform.roundTrips() - rec.tripsAt;
      rec.tripsAt = -1;
      rec.parkedSince = performance.now();
      rec.everParked = true;
      if (!rec.trace) return;
      this.tracer!.blocked(t, rec);
      this.spyOnWake(t);
      const cancel = t.timerCancel;
      rec.hadTimer = cancel !== undefined;
      rec.timerCancelled = false;
      if (cancel) {
        t.timerCancel = () => {
          rec.timerCancelled = true;
          cancel();
        };
      }
    } catch (err) {
      this.oops(err);
    }
  }

  exit(t: Task, nr: number, result: number): void {
    try {
      this.injector?.finish(t);
      const rec = this.calls.get(t);
      if (!rec || rec.nr !== nr) return;
      this.calls.delete(t);
      if (rec.tripsAt >= 0) rec.hostTrips += this.k.platform.roundTrips() - rec.tripsAt;
      if (rec.parkedSince >= 0) {
        // Still parked when it ended: a signal interrupted the wait (no wake-up came).
        rec.parkedMs += performance.now() - rec.parkedSince;
        rec.parkedSince = -1;
        rec.wake ??= { kind: 'signal' };
      }
      this.stats?.exit(nr, result, t.syscallKernelMs, rec.hostTrips);
      if (rec.trace) this.tracer!.exit(t, rec, result);
    } catch (err) {
      this.oops(err);
    }
  }

  /** Learn what wakes a parked call of `t`: wrap its wake-up callback once. */
  private spyOnWake(t: Task): void {
    if (this.spied.has(t)) return;
    this.spied.add(t);
    const wake = t.onWake;
    t.onWake = (task) => {
      this.woken(task);
      wake?.(task);
    };
  }

  private woken(t: Task): void {
    try {
      const rec = this.calls.get(t);
      if (!rec || rec.parkedSince < 0) return;
      rec.parkedMs += performance.now() - rec.parkedSince;
      rec.parkedSince = -1;
      const by = this.k.current;
      if (by && by !== t) {
        rec.wake = { kind: 'task', pid: by.pid, tid: by.tid, comm: by.proc.comm, syscall: syscallName(by.currentSyscall) };
      } else if (rec.hadTimer && !rec.timerCancelled) {
        rec.wake = { kind: 'timer' };
      } else {
        rec.wake = { kind: 'event' };
      }
    } catch (err) {
      this.oops(err);
    }
  }

  /** A bug here must not take the guest down: say so once and go on. */
  private oops(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    process.stderr.write(`vmctl: tracing failed (the guest goes on): ${(err as Error).stack ?? err}\n`);
  }
}
