/**
 * `vmctl boot --stats`: per-syscall counts, errors and time in the guest
 * kernel (time parked excluded), host round trips, and the syscalls the
 * kernel does not implement, printed when the guest is over.
 */
import type { Platform } from '../../platform/platform.ts';
import { syscallName } from './decode.ts';

interface Row {
  calls: number;
  errors: number;
  kernelMs: number;
  /** host round trips made inside the call (injected host work), parked retries excluded */
  hostTrips: number;
}

export class SyscallStats {
  private readonly rows = new Map<number, Row>();
  private readonly startMs = performance.now();

  private row(nr: number): Row {
    let r = this.rows.get(nr);
    if (!r) {
      r = { calls: 0, errors: 0, kernelMs: 0, hostTrips: 0 };
      this.rows.set(nr, r);
    }
    return r;
  }

  enter(nr: number): void {
    this.row(nr).calls++;
  }

  exit(nr: number, result: number, kernelMs: number, hostTrips: number): void {
    const r = this.row(nr);
    r.kernelMs += kernelMs;
    r.hostTrips += hostTrips;
    // -errno; not the dispatcher's codes, nor the restart codes (ERESTARTSYS, ...) that become a restart or EINTR.
    if (result < 0 && result > -512) r.errors++;
  }

  /** The table, sorted by total kernel time. */
  report(platform: Platform, unimplemented: readonly string[]): string {
    const roundTrips = platform.roundTrips();
    const rows = [...this.rows.entries()].sort((a, b) => b[1].kernelMs - a[1].kernelMs || b[1].calls - a[1].calls);
    const total: Row = { calls: 0, errors: 0, kernelMs: 0, hostTrips: 0 };
    for (const [, r] of rows) {
      total.calls += r.calls;
      total.errors += r.errors;
      total.kernelMs += r.kernelMs;
      total.hostTrips += r.hostTrips;
    }
    const us = (ms: number) => (ms * 1000).toFixed(1);
    const head = ['syscall', 'calls', 'errors', 'total µs', 'mean µs', 'host trips'];
    const body = rows.map(([nr, r]) => [syscallName(nr), String(r.calls), String(r.errors), us(r.kernelMs),
      us(r.calls ? r.kernelMs / r.calls : 0), String(r.hostTrips)]);
    const foot = ['total', String(total.calls), String(total.errors), us(total.kernelMs),
      us(total.calls ? total.kernelMs / total.calls : 0), String(total.hostTrips)];
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length), foot[i]!.length));
    const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    const rule = widths.map((w) => '-'.repeat(w)).join('  ');
    const wallS = ((performance.now() - this.startMs) / 1000).toFixed(3);
    const stops = Math.max(0, roundTrips - total.hostTrips);
    return [
      `vmctl --stats: ${total.calls} syscalls in ${wallS} s; ${us(total.kernelMs)} µs in the guest kernel (time parked excluded)`,
      fmt(head), rule, ...body.map(fmt), rule, fmt(foot),
      `host round trips: ${roundTrips} (${total.hostTrips} inside syscalls: host work done in a guest's process; ` +
        `${stops} at stops: syscall entries, signals, exits, and work after a parked call resumed)`,
      byKindLine(platform),
      helperLine(platform),
      `unimplemented syscalls: ${unimplemented.length ? [...unimplemented].sort().join(', ') : 'none'}`,
      ...(platform.accelerated ? ['(seccomp fast path on: anonymous mmap, munmap, mprotect, madvise, futex, sched_yield, ' +
        'clock_gettime, gettimeofday and getrandom ran on the host unseen; --strict counts them too)'] : []),
      '',
    ].join('\n');
  }
}

/** What the host helper patch did: which of its requests were in use, and how many calls each made. */
export function helperLine(platform: Platform): string {
  const { roundtrip, mmBatch } = platform.helper;
  if (!roundtrip.available && !mmBatch.available) return 'host helper patch: absent (plain ptrace)';
  const { helperRoundtrips: trips, helperMmBatches: batches } = platform.roundTripCounts();
  const state = (f: { available: boolean; inUse: boolean }, what: string, n: number) =>
    !f.available ? `${what} absent` : !f.inUse ? `${what} off` : `${what} in use (${n} calls)`;
  return `host helper patch: ${state(roundtrip, 'syscall round trip', trips)}; ` +
    `${state(mmBatch, 'address-space batch', batches)}` +
    (!roundtrip.inUse && !mmBatch.inUse && (roundtrip.available || mmBatch.available) ? ' (--no-helper)' : '');
}

/** The round trips by kind: what the tracer did with the host for the guest. */
export function byKindLine(platform: Platform): string {
  const c = platform.roundTripCounts();
  return `  by kind: ${c.guestStops} guest stops (${c.helperRoundtrips} of them by the helper's round trip); ` +
    `${c.injections} host syscalls injected (${c.injectionStops} stops); ${c.stubBatches} stub batches ` +
    `(${c.stubBatchStops} stops); ${c.helperMmBatches} helper address-space batches`;
}
