/** Text of the `vmctl ctl` replies. */
import type { BreakListResult, PsResult, StackResult, StatsResult } from '../kernel/control/protocol.ts';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

export function formatResult(cmd: string, result: unknown): string {
  switch (cmd) {
    case 'ps': {
      const r = result as PsResult;
      const rows = [['PID', 'TID', 'HOSTPID', 'STATE', 'SYSCALL', 'COMM']];
      for (const t of r.tasks) {
        rows.push([String(t.pid), String(t.tid), String(t.hostTid), t.state, t.syscall || '-', t.comm]);
      }
      const out = `guest ${r.frozen ? 'frozen' : 'running'}\n${table(rows)}`;
      return out + breakLines(r.tasks.filter((t) => t.breakpoint !== undefined)
        .map((t) => ({ pid: t.pid, tid: t.tid, comm: t.comm, call: t.breakpoint! })));
    }
    case 'stack': {
      const r = result as StackResult;
      const out = [`pid ${r.pid} tid ${r.tid} ${r.state}${r.stale ? ' (registers as of its last kernel entry: `ctl stop` first for exact ones)' : ''}`];
      const names = Object.keys(r.regs);
      for (let i = 0; i < names.length; i += 4) {
        out.push(names.slice(i, i + 4).map((n) => `${n.padStart(8)} ${r.regs[n]!.padEnd(18)}`).join(' ').trimEnd());
      }
      out.push('stack:');
      if (r.stack.length === 0) out.push('  (unreadable)');
      for (const [addr, v] of r.stack) out.push(`  ${addr}: ${v}`);
      return out.join('\n');
    }
    case 'stats': {
      const r = result as StatsResult;
      const rows = [['SYSCALL', 'CALLS'], ...r.syscalls.map((s) => [s.name, String(s.count)])];
      const total = r.syscalls.reduce((a, s) => a + s.count, 0);
      const out = [table(rows), `total ${total} syscalls in the kernel, ${r.roundTrips} host round trips` +
        (r.accelerated ? ' (accelerated: fast-path calls run on the host, uncounted)' : ' (strict)')];
      if (r.unimplemented.length > 0) out.push(`unimplemented: ${r.unimplemented.join(', ')}`);
      return out.join('\n');
    }
    case 'break': {
      if (typeof result === 'string') return result;
      const r = result as BreakListResult;
      const set = r.breakpoints.length > 0 ? `breakpoints: ${r.breakpoints.join(', ')}` : 'no breakpoints set';
      return set + breakLines(r.stopped);
    }
    default:
      return typeof result === 'string' ? result : JSON.stringify(result, null, 2);
  }
}

/** The threads stopped at syscall breakpoints, one line each, after a heading; nothing when none is. */
function breakLines(stopped: { pid: number; tid: number; comm: string; call: string }[]): string {
  if (stopped.length === 0) return '';
  return '\nstopped at a syscall breakpoint (`go PID` continues one):\n' +
    stopped.map((t) => `  ${t.tid === t.pid ? t.pid : `${t.pid} tid ${t.tid}`} (${t.comm}): ${t.call}`).join('\n');
}
