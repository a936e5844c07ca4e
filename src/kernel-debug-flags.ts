/**
 * `vmctl boot`'s flags for debugging vmctl's own kernel: --inspect,
 * --inspect-brk (src/inspector.ts) and --break-syscall (src/kernel/break/).
 * Checked here, before anything is built, so a typo costs nothing; a UML
 * guest (--kernel) has its own debugger (--gdb) and takes none of them.
 */
import { ExitCode, VmctlError } from './errors.ts';
import { type InspectRequest, parseInspectPort } from './inspector.ts';
import { type BreakSpec, BreakSpecError, breaksOnFastPath, parseBreakSpec } from './kernel/break/spec.ts';

export interface KernelDebugFlags {
  /** --inspect[=PORT]: 'default' when bare */
  inspect?: string;
  /** --inspect-brk[=PORT] */
  inspectBrk?: string;
  /** --break-syscall NAME[:PID], repeatable */
  breakSyscall?: string[];
}

export interface KernelDebugOptions {
  inspect: InspectRequest | undefined;
  breaks: BreakSpec[];
  /** a breakpoint names a syscall the seccomp fast path would run without a stop: the boot must be strict */
  strict: boolean;
}

export function kernelDebugOptions(req: KernelDebugFlags, uml: boolean): KernelDebugOptions {
  const given = [req.inspect !== undefined && '--inspect', req.inspectBrk !== undefined && '--inspect-brk',
    (req.breakSyscall?.length ?? 0) > 0 && '--break-syscall'].filter((f): f is string => typeof f === 'string');
  if (uml && given.length > 0) {
    throw new VmctlError(`${given.join(', ')} ${given.length === 1 ? 'debugs' : 'debug'} vmctl's own kernel; a UML kernel (--kernel) is debugged with --gdb.`,
      ExitCode.usage);
  }
  if (req.inspect !== undefined && req.inspectBrk !== undefined) {
    throw new VmctlError('give --inspect or --inspect-brk, not both', ExitCode.usage);
  }
  let inspect: InspectRequest | undefined;
  if (req.inspectBrk !== undefined) inspect = { port: parseInspectPort('inspect-brk', req.inspectBrk), brk: true };
  else if (req.inspect !== undefined) inspect = { port: parseInspectPort('inspect', req.inspect), brk: false };
  let breaks: BreakSpec[];
  try {
    breaks = (req.breakSyscall ?? []).map((text) => parseBreakSpec(text, '--break-syscall'));
  } catch (e) {
    if (e instanceof BreakSpecError) throw new VmctlError(e.message, ExitCode.usage);
    throw e;
  }
  return { inspect, breaks, strict: breaks.some((b) => breaksOnFastPath(b).length > 0) };
}
