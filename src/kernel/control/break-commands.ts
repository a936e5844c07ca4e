/**
 * The control socket's syscall-breakpoint commands (src/kernel/break/):
 *   break                 list the breakpoints and the threads stopped at them
 *   break NAME[:PID]...   set breakpoints
 *   unbreak NAME[:PID]|all  remove them (threads stopped stay stopped)
 *   go PID                continue one stopped thread (plain `go` thaws the guest: server.ts)
 */
import { breakpointsOf, existingBreakpoints } from '../break/breakpoints.ts';
import { BreakSpecError, breaksOnFastPath, parseBreakSpec } from '../break/spec.ts';
import type { Kernel } from '../kernel.ts';
import { CommandError } from './command-error.ts';
import type { BreakListResult } from './protocol.ts';

export function breakCommand(k: Kernel, args: string[]): string | BreakListResult {
  if (args.length === 0) return listBreaks(k);
  const specs = args.map((a) => {
    try {
      return parseBreakSpec(a, 'break');
    } catch (e) {
      if (e instanceof BreakSpecError) throw new CommandError(e.message);
      throw e;
    }
  });
  for (const s of specs) {
    if (s.pid !== undefined && !k.procs.get(s.pid)?.alive && !k.tasks.has(s.pid)) {
      throw new CommandError(`break ${s.text}: no guest process or thread ${s.pid} (\`ctl ps\` lists them)`);
    }
  }
  const b = breakpointsOf(k);
  const out: string[] = [];
  for (const s of specs) {
    const added = b.add(s);
    let line = added ? `breakpoint ${s.text} set` : `breakpoint ${s.text} was already set`;
    const fast = k.platform.accelerated ? breaksOnFastPath(s) : [];
    if (fast.length > 0) {
      line += ` (${fast.join(', ')} may run on the host without stopping in this boot, the seccomp fast path: ` +
        'boot with --strict, or give --break-syscall at boot, to stop on every call)';
    }
    out.push(line);
  }
  out.push(`a guest thread entering it stops before it is served; \`ctl ps\` shows it, \`ctl go PID\` continues it`);
  return out.join('\n');
}

export function unbreakCommand(k: Kernel, args: string[]): string {
  if (args.length === 0) throw new CommandError('usage: unbreak NAME[:PID] | all (`ctl break` lists the breakpoints)');
  const b = existingBreakpoints(k);
  const out: string[] = [];
  for (const a of args) {
    const what = a.trim();
    const gone = b?.remove(what) ?? [];
    if (gone.length === 0) {
      const set = b?.list.map((s) => s.text) ?? [];
      throw new CommandError(`no breakpoint "${what}"; ${set.length > 0 ? `set: ${set.join(', ')}` : 'none is set'}`);
    }
    out.push(`breakpoint ${gone.map((s) => s.text).join(', ')} removed`);
  }
  const still = b?.parkedNow().length ?? 0;
  if (still > 0) out.push(`${still} guest thread${still === 1 ? '' : 's'} still stopped at a breakpoint: \`ctl go PID\` continues each`);
  return out.join('\n');
}

/** `go PID`: the thread (tid) stopped at a breakpoint, or every stopped thread of process PID, goes on. */
export function goThread(k: Kernel, pidText: string): string {
  if (!/^\d+$/.test(pidText)) throw new CommandError(`go: "${pidText}" is not a guest pid; usage: go (the whole guest) or go PID`);
  const id = Number(pidText);
  const parked = existingBreakpoints(k)?.parkedNow() ?? [];
  let mine = parked.filter((p) => p.task.tid === id);
  if (mine.length === 0) mine = parked.filter((p) => p.task.pid === id);
  if (mine.length === 0) {
    if (!k.tasks.has(id) && !k.procs.get(id)?.alive) throw new CommandError(`no guest process or thread ${id}`);
    const where = parked.map((p) => p.task.tid);
    throw new CommandError(`guest pid ${id} is not stopped at a syscall breakpoint` +
      (where.length > 0 ? ` (stopped: ${where.join(', ')})` : ' (none is)'));
  }
  const b = breakpointsOf(k);
  for (const p of mine) b.resume(p);
  return mine.map((p) => `guest pid ${p.task.pid}${p.task.tid === p.task.pid ? '' : ` tid ${p.task.tid}`} (${p.task.proc.comm}) ` +
    `goes on: ${p.call}`).join('\n');
}

function listBreaks(k: Kernel): BreakListResult {
  const b = existingBreakpoints(k);
  const now = performance.now();
  return {
    breakpoints: b?.list.map((s) => s.text) ?? [],
    stopped: (b?.parkedNow() ?? []).map((p) => ({
      pid: p.task.pid, tid: p.task.tid, comm: p.task.proc.comm, call: p.call, breakpoint: p.spec, forMs: now - p.sinceMs,
    })),
  };
}
