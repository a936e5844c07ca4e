/**
 * Fault injection (--inject): chosen syscalls fail with an errno, return a
 * value without running, or are delayed, by syscall, path glob, pid or
 * command name, the Nth matching call or a probability drawn from a seeded
 * PRNG (so a run repeats with the same seed and the same calls).
 *
 * Counting: every rule counts the calls that pass its own filters
 * (syscall, pid, comm, path), across the whole guest; `nth` and `prob`
 * then pick among them. When several rules fire on one call the first
 * given wins.
 *
 * Failing and returning are the observer's own power (enter() returns the
 * result). A delay must park the thread without stopping the kernel,
 * which an observer cannot do: the handlers of delayed syscalls are
 * wrapped in the syscall table, and the wrapper parks the thread with
 * k.block() until the deadline, then runs the real handler (or returns the
 * injected error).
 */
import type { Kernel, SyscallEntry, SyscallHandler } from '../kernel.ts';
import type { Task } from '../task.ts';
import { monotonicMs } from '../timers.ts';
import { guestPathsOf, syscallName } from './decode.ts';
import type { InjectRule } from './options.ts';

/** What an injection does to one call. */
export interface Injection {
  readonly rule: InjectRule;
  /** -errno or the retval; undefined: the call runs (after the delay) */
  readonly result: number | undefined;
  readonly delayMs: number | undefined;
}

interface Delay {
  readonly nr: number;
  readonly ms: number;
  /** monotonic deadline once parked; -1 before */
  until: number;
  readonly result: number | undefined;
}

export class Injector {
  private readonly counts: number[];
  private readonly draws: (() => number)[];
  private readonly watched = new Set<number>();
  private readonly delays = new WeakMap<Task, Delay>();

  constructor(private readonly rules: readonly InjectRule[], seed: number) {
    this.counts = rules.map(() => 0);
    // One stream per rule: adding a rule does not change what another one draws.
    const base = mix32((seed % 2 ** 32) >>> 0) ^ mix32(Math.floor(seed / 2 ** 32) >>> 0);
    this.draws = rules.map((_, i) => mulberry32(mix32((base ^ Math.imul(i + 1, 0x9e3779b9)) >>> 0)));
    for (const r of rules) for (const nr of r.nrs) this.watched.add(nr);
  }

  /**
   * Wraps the handlers of the syscalls a delay rule names, so a delayed
   * call parks its thread first. Only those entries change; the table is
   * the kernel's own array, so the kernel sees the wrappers at once.
   */
  wrapTable(table: (SyscallEntry | undefined)[]): void {
    const delayed = new Set<number>();
    for (const r of this.rules) if (r.delayMs !== undefined) for (const nr of r.nrs) delayed.add(nr);
    for (const nr of delayed) {
      const entry = table[nr];
      table[nr] = { name: entry?.name ?? syscallName(nr), handler: this.delayingHandler(nr, entry?.handler) };
    }
  }

  private delayingHandler(nr: number, real: SyscallHandler | undefined): SyscallHandler {
    return (k, t, a0, a1, a2, a3, a4, a5) => {
      const d = this.delays.get(t);
      if (d && d.nr === nr) {
        const now = monotonicMs();
        if (d.until < 0) {
          d.until = now + d.ms;
          // A signal ends the wait early; the restarted call is a new call.
          t.cancelWait = () => { this.delays.delete(t); };
        }
        if (now < d.until) return k.block(t, [], d.until);
        this.delays.delete(t);
        t.cancelWait = undefined;
        if (d.result !== undefined) return d.result;
      }
      return real ? real(k, t, a0, a1, a2, a3, a4, a5) : k.enosys(t, nr);
    };
  }

  /**
   * A call enters: which rule, if any, fires on it. A delayed call is
   * remembered for its wrapped handler.
   */
  decide(k: Kernel, t: Task, nr: number, args: readonly number[]): Injection | undefined {
    if (!this.watched.has(nr)) return undefined;
    let paths: string[] | undefined;
    let hit: Injection | undefined;
    for (let i = 0; i < this.rules.length; i++) {
      const r = this.rules[i]!;
      if (!r.nrs.has(nr)) continue;
      if (r.pid !== undefined && t.pid !== r.pid) continue;
      if (r.comm !== undefined && t.proc.comm !== r.comm) continue;
      if (r.path) {
        paths ??= guestPathsOf(k, t, nr, args);
        if (!paths.some((p) => r.path!.test(p))) continue;
      }
      const n = ++this.counts[i]!;
      if (r.nth !== undefined && (r.nthOnward ? n < r.nth : n !== r.nth)) continue;
      if (r.prob !== undefined && !(this.draws[i]!() < r.prob)) continue;
      const result = r.errno !== undefined ? -r.errno : r.retval;
      hit ??= { rule: r, result, delayMs: r.delayMs };
    }
    if (hit?.delayMs !== undefined) this.delays.set(t, { nr, ms: hit.delayMs, until: -1, result: hit.result });
    return hit;
  }

  /** The call is over (it may never have reached its handler): forget its delay. */
  finish(t: Task): void {
    this.delays.delete(t);
  }
}

/** murmur3's finalizer: nearby seeds give unrelated streams. */
function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x85ebca6b) >>> 0;
  x = (x ^ (x >>> 13)) >>> 0;
  x = Math.imul(x, 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** mulberry32: a small, fast, well-mixed 32-bit PRNG; values in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
