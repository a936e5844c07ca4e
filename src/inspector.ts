/**
 * `vmctl boot --inspect[=PORT]` / `--inspect-brk[=PORT]`: the guest kernel
 * under the Node inspector (Chrome DevTools, VS Code, any client of the
 * DevTools protocol).
 *
 * The kernel of one guest is the Node process of its `vmctl boot`, so the
 * inspector is opened in-process (node:inspector) once the host side is
 * built, rather than by `node --inspect`: `vmctl --help` or a build must
 * not hold a port, and vmctl's other commands never get an inspector.
 *
 * What a breakpoint stops: the whole kernel of this guest (one JavaScript
 * thread). The calling guest thread waits in its syscall; every other guest
 * thread of this guest runs its own code on the host until its next
 * syscall or fault, then waits for the kernel too; console input, timers
 * and the control socket wait until the kernel resumes. Other guests are
 * other vmctl processes and keep going.
 *
 * Source maps: the kernel is TypeScript run through tsx, which hands V8
 * each module with an inline source map (`sourceMappingURL=data:...`),
 * under the module's own file:// URL. A client that reads source maps (Chrome
 * DevTools, VS Code) sets a breakpoint by TypeScript file and line as is; a
 * raw protocol client maps the line through that map (see
 * test/helpers/cdp.ts).
 */
import inspector from 'node:inspector';
import { ExitCode, VmctlError } from './errors.ts';

export const DEFAULT_INSPECT_PORT = 9229;

export interface InspectRequest {
  port: number;
  /** wait for a debugger and pause before the guest's first process runs */
  brk: boolean;
}

/**
 * The port of `--inspect` / `--inspect=PORT` (the flag's value, 'default'
 * when bare, see src/cli/bare-flags.ts). Like node, 0 picks a free port.
 */
export function parseInspectPort(flag: string, value: string): number {
  if (value === '' || value === 'default') return DEFAULT_INSPECT_PORT;
  // node also takes HOST:PORT; vmctl listens on loopback only, so a host is refused rather than ignored.
  if (!/^\d+$/.test(value) || Number(value) > 65535) {
    throw new VmctlError(`--${flag}=${value}: give a TCP port (0-65535; 0 picks a free one), like --${flag}=9230`,
      ExitCode.usage);
  }
  return Number(value);
}

/**
 * Opens the inspector on 127.0.0.1 (node itself prints "Debugger
 * listening on ws://..."). With `brk`, waits until a client attached and
 * ran (Runtime.runIfWaitingForDebugger), then pauses once so that
 * breakpoints can be set before the guest starts.
 */
export function openInspector(req: InspectRequest): void {
  try {
    inspector.open(req.port, '127.0.0.1', false);
  } catch (e) {
    throw new VmctlError(`--inspect: cannot open the inspector: ${(e as Error).message}`, 1);
  }
  const url = inspector.url();
  if (url === undefined) {
    // node has printed why (usually "address already in use") and carried on without it
    throw new VmctlError(`--inspect: cannot listen on 127.0.0.1:${req.port} (in use? --inspect=0 picks a free port)`, 1);
  }
  // (node itself has printed "Debugger listening on ws://...", as for node --inspect)
  process.stderr.write('vmctl: a breakpoint pauses this guest\'s whole kernel (its console, timers and control socket too); ' +
    'other guests keep going\n');
  if (!req.brk) return;
  process.stderr.write('Waiting for the debugger to attach...\n');
  inspector.waitForDebugger();
  pauseBeforeBoot();
}

/**
 * The guest is over: close the inspector, so that vmctl exits with the
 * guest's status instead of waiting, as node does at exit, for an attached
 * debugger to disconnect first.
 */
export function closeInspector(): void {
  if (inspector.url() !== undefined) inspector.close();
}

/** --inspect-brk: the debugger stops here, before the guest's first process runs; set breakpoints, then resume. */
function pauseBeforeBoot(): void {
  // eslint-disable-next-line no-debugger
  debugger;
}

