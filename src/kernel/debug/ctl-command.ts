/**
 * `vmctl ctl GUEST gdb PID PORT`, on the kernel's side of the control
 * socket: stop a running guest process and serve gdb on it.
 */
import type { Kernel } from '../kernel.ts';
import { debuggerOf } from './debugger.ts';
import { DebugStubError, parsePort } from './options.ts';

export const GDB_USAGE = 'usage: gdb PID PORT (a guest pid, and a TCP port on 127.0.0.1 for gdb)';

/** The line to show the user once the port listens; rejects with the reason otherwise. */
export async function gdbCommand(k: Kernel, args: string[]): Promise<string> {
  const [pidText, portText] = args;
  if (pidText === undefined || portText === undefined || args.length > 2) throw new DebugStubError(GDB_USAGE);
  if (!/^\d+$/.test(pidText)) throw new DebugStubError(`bad pid "${pidText}"; ${GDB_USAGE}`);
  return debuggerOf(k).attach(Number(pidText), parsePort(portText));
}
