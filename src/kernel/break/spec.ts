/**
 * Syscall breakpoints as written on the command line (`--break-syscall
 * NAME[:PID]`) and on the control socket (`ctl break NAME[:PID]`).
 *
 * Loaded by the CLI side: nothing here may load the tracer addon.
 */
import { SYSCALL_NAMES } from '../syscall-names.ts';
import { FAST_PATH_SYSCALLS, parseStraceFilter, TraceOptionError } from '../trace/options.ts';

export class BreakSpecError extends Error {
  override readonly name = 'BreakSpecError';
}

export interface BreakSpec {
  /** as the user wrote it, normalized (`getuid`, `openat:3`) */
  readonly text: string;
  /** the syscall name or class as given */
  readonly what: string;
  readonly nrs: ReadonlySet<number>;
  /** only this guest pid (or tid); undefined: any */
  readonly pid: number | undefined;
}

/**
 * `NAME[:PID]`: a syscall name as in syscalls(2), or a class (file,
 * process, ...), and optionally the guest pid (or tid) whose calls stop.
 * `where` starts error messages (`--break-syscall`, `break`).
 */
export function parseBreakSpec(text: string, where: string): BreakSpec {
  const m = /^([^:]*)(?::(.*))?$/.exec(text.trim())!;
  const what = m[1]!.trim();
  const pidText = m[2]?.trim();
  if (what === '' || /[,!]/.test(what) || what === 'all' || what === '%all') {
    throw new BreakSpecError(`${where} "${text}": give one syscall name (like openat) or class (like file), ` +
      'optionally :PID, like openat:3');
  }
  let nrs: ReadonlySet<number> | undefined;
  try {
    nrs = parseStraceFilter(what);
  } catch (e) {
    if (e instanceof TraceOptionError) throw new BreakSpecError(e.message.replace(/^--strace: ("[^"]*": )?/, `${where}: `));
    throw e;
  }
  if (!nrs || nrs.size === 0) throw new BreakSpecError(`${where} "${text}": names no syscall`);
  let pid: number | undefined;
  if (pidText !== undefined) {
    if (!/^\d+$/.test(pidText) || Number(pidText) < 1 || !Number.isSafeInteger(Number(pidText))) {
      throw new BreakSpecError(`${where} "${text}": "${pidText}" is not a guest pid (1 or more)`);
    }
    pid = Number(pidText);
  }
  return { text: pid === undefined ? what : `${what}:${pid}`, what, nrs, pid };
}

/** Whether some syscall of `spec` may run on the host without stopping (the seccomp fast path). */
export function breaksOnFastPath(spec: BreakSpec): string[] {
  return FAST_PATH_SYSCALLS.filter((nr) => spec.nrs.has(nr)).map((nr) => SYSCALL_NAMES[nr]!);
}
