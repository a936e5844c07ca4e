/**
 * `vmctl boot --strace`: one line per guest syscall, strace style, plus what
 * the guest kernel did for it. Text lines look like
 *
 *   [pid 3 cat] openat(AT_FDCWD, "/etc/hostname", O_RDONLY) = 3 [lower: /…/etc/hostname] <0.000041>
 *   [pid 3 cat] read(3, "vmctl\n", 4096) = 6 <0.000012>
 *   [pid 1 sh] wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 3 <0.000020> <parked 2.104ms, woken by pid 3 exit_group>
 *   [pid 4 cat] openat(AT_FDCWD, "/etc/passwd", O_RDONLY) = -1 ENOENT (No such file or directory) (INJECTED) <0.000003>
 *
 * `<s>` is the time the kernel spent serving the call (time parked
 * excluded); `<parked ...>` how long the thread waited and what woke it;
 * `[upper: path]` / `[lower: path]` the host file of a path call on the
 * root filesystem; `[host]` a call whose work ran as host syscalls inside
 * the guest's own process (mmap, munmap, mprotect, brk, clone, exec).
 * A call that parks while another thread's line is printed is split into
 * `<unfinished ...>` and `<... NAME resumed>` lines, as strace -f does.
 *
 * JSON lines (--strace-format json) carry the same, one object per call.
 */
import { Reg } from '../../platform/regs.ts';
import { errnoName } from '../errno.ts';
import type { Kernel } from '../kernel.ts';
import { GONE, NO_RESULT } from '../syscall-result.ts';
import { type Process, type Task, TaskState } from '../task.ts';
import { decodeEnter, decodeExit, enterPrefix, type EnterTexts, formatResult, signalName, syscallName } from './decode.ts';
import { hostPathOfCall, type HostPath } from './host-path.ts';
import type { Injection } from './inject.ts';
import type { StraceOptions } from './options.ts';
import type { TraceSink } from './sink.ts';
import { strerror } from './strerror.ts';

/** What ended a parked wait. */
export type WakeCause =
  | { kind: 'task'; pid: number; tid: number; comm: string; syscall: string }
  | { kind: 'timer' }
  | { kind: 'signal' }
  | { kind: 'event' };

/** One syscall in flight, as the observer keeps it. */
export interface CallRecord {
  readonly nr: number;
  readonly args: readonly number[];
  readonly injection: Injection | undefined;
  /** host round trips inside the call so far */
  hostTrips: number;
  /** platform.roundTrips() when the kernel last started serving it; -1 while parked */
  tripsAt: number;
  parkedMs: number;
  /** performance.now() when it parked; -1 when not parked */
  parkedSince: number;
  /** it had a timer when it parked, and whether that timer was cancelled (woken otherwise) */
  hadTimer: boolean;
  timerCancelled: boolean;
  everParked: boolean;
  wake: WakeCause | undefined;
  /** the trace's part, when this call is traced */
  trace: TracedCall | undefined;
}

export interface TracedCall {
  readonly pid: number;
  readonly tid: number;
  readonly comm: string;
  readonly texts: EnterTexts;
  shownUnfinished: boolean;
}

export class SyscallTracer {
  private readonly parked = new Map<Task, CallRecord>();
  private readonly reportedExits = new WeakSet<Process>();
  private readonly bootMs = performance.now();

  constructor(
    private readonly k: Kernel,
    private readonly opts: StraceOptions,
    private readonly sink: TraceSink,
  ) {}

  wants(nr: number): boolean {
    return this.opts.only === undefined || this.opts.only.has(nr);
  }

  enter(t: Task, nr: number, args: readonly number[]): TracedCall {
    return {
      pid: t.pid,
      tid: t.tid,
      comm: t.proc.comm,
      texts: decodeEnter({ k: this.k, t, size: this.opts.size }, nr, args),
      shownUnfinished: false,
    };
  }

  blocked(t: Task, rec: CallRecord): void {
    this.parked.set(t, rec);
  }

  exit(t: Task, rec: CallRecord, result: number): void {
    const wallMs = performance.now() - t.syscallStartMs;
    this.parked.delete(t);
    const tc = rec.trace!;
    // What the guest sees: the handler's registers for NO_RESULT (execve: 0), nothing for GONE.
    const value = result === NO_RESULT ? t.regs.get(Reg.RAX) : result === GONE ? undefined : result;
    const { args, note } = decodeExit({ k: this.k, t, size: this.opts.size }, rec.nr, rec.args, tc.texts, value ?? -1);
    let host: HostPath | undefined;
    if (value !== undefined && value >= 0) {
      try {
        host = hostPathOfCall(this.k, t, rec.nr, rec.args, value);
      } catch {
        host = undefined;
      }
    }
    const kernelMs = t.syscallKernelMs;
    if (this.opts.format === 'json') {
      this.json(tc, rec, args, value, note, host, kernelMs, wallMs, t.syscallStartMs, false);
    } else {
      this.showOthersUnfinished(t);
      const name = syscallName(rec.nr);
      const tail = this.tail(rec, value, note, host, kernelMs);
      if (tc.shownUnfinished) {
        const rest = args.slice(enterPrefix(tc.texts).length);
        this.sink.line(`${prefix(tc)}<... ${name} resumed>${rest.join(', ')}) ${tail}`);
      } else {
        this.sink.line(`${prefix(tc)}${name}(${args.join(', ')}) ${tail}`);
      }
    }
    if (value === undefined) this.processExit(t.proc, tc);
  }

  /** The guest is over: calls still parked are shown as unfinished, and the output closed. */
  close(): void {
    for (const [t, rec] of this.parked) this.gone(t, rec);
    this.parked.clear();
    this.sink.close();
  }

  // ----- text -----

  private tail(rec: CallRecord, value: number | undefined, note: string | undefined, host: HostPath | undefined,
    kernelMs: number): string {
    let s = `= ${formatResult(rec.nr, value, strerror)}`;
    if (note) s += ` (${note})`;
    const inj = rec.injection;
    if (inj) {
      if (inj.delayMs === undefined) s += ' (INJECTED)';
      else s += ` (INJECTED: delayed ${fmtMs(inj.delayMs)}${inj.result === undefined ? '' : ', then returned'})`;
    }
    if (host) s += ` [${host.layer}: ${host.path}]`;
    if (rec.hostTrips > 0) s += ' [host]';
    s += ` <${(kernelMs / 1000).toFixed(6)}>`;
    if (rec.everParked) s += ` <parked ${fmtMs(rec.parkedMs)}, ${wakeText(rec.wake)}>`;
    return s;
  }

  /**
   * Another thread's line is about to be printed: each call still parked
   * shows what is known of it first (strace's `<unfinished ...>`), once;
   * a parked call whose thread is gone ends with `= ?`.
   */
  private showOthersUnfinished(except: Task): void {
    for (const [t, rec] of this.parked) {
      if (t === except) continue;
      if (t.state === TaskState.Dead) {
        this.parked.delete(t);
        this.gone(t, rec);
        continue;
      }
      const tc = rec.trace!;
      if (tc.shownUnfinished) continue;
      tc.shownUnfinished = true;
      this.sink.line(unfinishedLine(rec));
    }
  }

  /** A parked call that will never return: its thread died, or the guest is over. */
  private gone(t: Task, rec: CallRecord): void {
    const tc = rec.trace!;
    if (this.opts.format === 'json') {
      const parkedMs = rec.parkedMs + (rec.parkedSince >= 0 ? performance.now() - rec.parkedSince : 0);
      this.json(tc, { ...rec, parkedMs }, enterPrefix(tc.texts), undefined, undefined, undefined, t.syscallKernelMs,
        performance.now() - t.syscallStartMs, t.syscallStartMs, true);
      return;
    }
    if (!tc.shownUnfinished) {
      this.sink.line(unfinishedLine(rec));
      tc.shownUnfinished = true;
    }
    if (t.state === TaskState.Dead) {
      this.sink.line(`${prefix(tc)}<... ${syscallName(rec.nr)} resumed>) = ?`);
      this.processExit(t.proc, tc);
    }
  }

  /** strace's `+++ exited with 0 +++` once the last thread of a process is gone. */
  private processExit(p: Process, tc: TracedCall): void {
    const e = p.exit;
    if (!e || this.reportedExits.has(p) || this.opts.format === 'json') return;
    this.reportedExits.add(p);
    const what = e.kind === 'exited' ? `exited with ${e.value}` : `killed by ${signalName(e.value)}${e.core ? ' (core dumped)' : ''}`;
    this.sink.line(`[pid ${tc.pid} ${tc.comm}] +++ ${what} +++`);
  }

  // ----- JSON -----

  private json(tc: TracedCall, rec: CallRecord, args: string[], value: number | undefined, note: string | undefined,
    host: HostPath | undefined, kernelMs: number, wallMs: number, startMs: number, unfinished: boolean): void {
    const o: Record<string, unknown> = {
      pid: tc.pid,
      tid: tc.tid,
      comm: tc.comm,
      syscall: syscallName(rec.nr),
      nr: rec.nr,
      args,
      result: null,
    };
    if (value !== undefined) {
      if (value < 0 && value > -4096) {
        o.result = -value >= 512 ? null : -1;
        o.errno = errnoName(-value);
        o.error = strerror(-value);
      } else {
        o.result = value;
      }
    }
    if (note) o.note = note;
    if (rec.injection) {
      const inj = rec.injection;
      o.injected = { spec: inj.rule.text, ...(inj.result !== undefined ? { result: inj.result } : {}),
        ...(inj.delayMs !== undefined ? { delayMs: inj.delayMs } : {}) };
    }
    if (host) o.hostPath = { layer: host.layer, path: host.path };
    if (rec.hostTrips > 0) o.hostRoundTrips = rec.hostTrips;
    o.startMs = round3(startMs - this.bootMs);
    o.durationUs = round3(kernelMs * 1000);
    o.wallUs = round3(wallMs * 1000);
    if (rec.everParked) {
      o.parkedUs = round3(rec.parkedMs * 1000);
      if (rec.wake) o.wokenBy = rec.wake.kind === 'task' ? { ...rec.wake } : rec.wake.kind;
    }
    if (unfinished) o.unfinished = true;
    this.sink.line(JSON.stringify(o));
  }
}

function prefix(tc: TracedCall): string {
  return tc.tid === tc.pid ? `[pid ${tc.pid} ${tc.comm}] ` : `[pid ${tc.pid} tid ${tc.tid} ${tc.comm}] `;
}

function unfinishedLine(rec: CallRecord): string {
  const tc = rec.trace!;
  const known = enterPrefix(tc.texts);
  const all = known.length === tc.texts.length;
  const shown = all ? (known.length ? `${known.join(', ')} ` : '') : known.map((a) => `${a}, `).join('');
  return `${prefix(tc)}${syscallName(rec.nr)}(${shown}<unfinished ...>`;
}

function wakeText(w: WakeCause | undefined): string {
  switch (w?.kind) {
    case 'task': return `woken by pid ${w.pid}${w.tid !== w.pid ? ` tid ${w.tid}` : ''} ${w.comm} ${w.syscall}`;
    case 'timer': return 'woken by its timer';
    case 'signal': return 'interrupted by a signal';
    case 'event': return 'woken by a host event';
    default: return 'still waiting';
  }
}

function fmtMs(ms: number): string {
  return `${ms < 10 ? ms.toFixed(3) : ms < 1000 ? ms.toFixed(1) : ms.toFixed(0)}ms`;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
