/**
 * What the gdb stub is asked for: `vmctl boot --gdb-port PORT [--gdb-exec
 * PROGRAM]` and `vmctl ctl GUEST gdb PID PORT`. Loads nothing of the
 * kernel, so the CLI can check its arguments before booting.
 */

/** A request the user can fix (a bad port, a pid that is not there): said as is, no stack trace. */
export class DebugStubError extends Error {}

export interface GdbBootOptions {
  /** TCP port on 127.0.0.1 */
  port: number;
  /**
   * Stop the first process that execs this program (a name: the program's
   * file name; with a `/`: its guest path) instead of pid 1's first program.
   */
  exec?: string;
}

export function parsePort(text: string | undefined): number {
  if (text === undefined || !/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new DebugStubError(`bad port "${text ?? ''}": a TCP port is a number from 1 to 65535`);
  }
  return Number(text);
}

/** Whether the program a process just exec'd (guest path `exePath`, given as `filename`) is the one asked for. */
export function execMatches(want: string, exePath: string, comm: string): boolean {
  if (want.includes('/')) return exePath === want;
  const base = exePath.split('/').pop() ?? '';
  // comm keeps the name execve was given (a symlink's), cut to 15 bytes as Linux does
  return base === want || comm === want.slice(0, 15);
}
