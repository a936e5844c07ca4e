/**
 * `vmctl boot`: from a guest name to a running guest kernel. Resolves the
 * config, builds the host side if needed, materializes the root filesystem
 * and the instance's state, then hands everything to the kernel and returns
 * the guest's exit status.
 */
import { totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { ExitCode, VmctlError } from './errors.ts';
import type { GuestConfig } from './guest/config.ts';
import { loadGuestConfig } from './guest/locate.ts';
import { lockInstance } from './guest/instance-lock.ts';
import { checkInstanceName, guestState, prepareGuestState } from './guest/state.ts';
import { CONTROL_SOCKET_NAME } from './kernel/control/protocol.ts';
import { DebugStubError } from './kernel/debug/options.ts';
import { progress } from './host-command.ts';
import { closeInspector, openInspector } from './inspector.ts';
import { type KernelDebugFlags, kernelDebugOptions } from './kernel-debug-flags.ts';
import { ensureHostBuilt } from './host/build.ts';
import type { KernelBootOptions, KernelExitStatus } from './kernel/boot-options.ts';
import { TraceOptionError, traceOptionsFrom, type TraceRequest } from './kernel/trace/options.ts';
import { materializeRootfs, type RootfsSource, validateRootfsDir } from './rootfs/resolve.ts';
import { parseSize } from './size.ts';
import { bootUml, rejectUmlOnlyFlags, type UmlFlags } from './uml/boot.ts';

export interface BootRequest extends UmlFlags, KernelDebugFlags {
  /** Guest name from guest-configs/ or a config file path; the default guest when absent. */
  guest?: string;
  /** Run `/bin/sh -c exec` on the host's stdio instead of the config's init on the console. */
  exec?: string;
  /** Boot this host directory as `/` instead of the config's root filesystem. */
  rootfs?: string;
  /** Drop the instance's saved state (its upper layer) before booting. */
  fresh?: boolean;
  verbose?: boolean;
  /** Every guest syscall stops in the tracer: no seccomp fast path. */
  strict?: boolean;
  /** Use the host helper patch where the host has it (default); false: plain ptrace (--no-helper). */
  helper?: boolean;
  /** --strace, --inject, --stats as given on the command line. */
  trace?: TraceRequest;
  /** --gdb-port: a gdb stub on 127.0.0.1:PORT for a guest process (src/kernel/debug/). */
  gdbPort?: number;
  /** --gdb-exec: the program whose first exec the stub stops (default: pid 1's program). */
  gdbExec?: string;
  /** --pids-max: most guest tasks (processes and threads) alive at once. */
  pidsMax?: number;
  /** --name: the instance to boot, when not the guest's default one. */
  name?: string;
}

/** --pids-max's default, as podman's pids limit: enough for builds, small enough for a fork bomb to stop early. */
export const DEFAULT_PIDS_MAX = 2048;

/** --mem's default under vmctl's kernel: half the host's memory, as tmpfs(5) takes half of RAM by default. */
export function defaultGuestMemory(): number {
  return Math.floor(totalmem() / 2 / 4096) * 4096;
}

/** --mem as bytes; a bad size is the user's to fix. */
function guestMemory(mem: string | undefined): number {
  if (mem === undefined) return defaultGuestMemory();
  const bytes = parseSize(mem);
  if (bytes === undefined || bytes < 1024 * 1024) {
    throw new VmctlError(`--mem ${mem}: give a size of at least 1M, such as 512M or 2G (a number with K, M, G or T).`, ExitCode.usage);
  }
  return bytes;
}

interface ResolvedPaths {
  lowerRoot: string;
  upperRoot: string;
  hostBuildDir: string;
}

/** The kernel's boot options for a config; pure, so the mapping can be tested without booting. */
export function kernelBootOptions(config: GuestConfig, paths: ResolvedPaths, req: BootRequest): KernelBootOptions {
  const interactive = req.exec === undefined;
  const env = { ...config.env };
  // An interactive shell needs to know the terminal it draws on; the config may still pin one.
  if (interactive && env.TERM === undefined) env.TERM = process.env.TERM || 'linux';
  return {
    ...paths,
    argv: interactive ? config.init : ['/bin/sh', '-c', req.exec as string],
    env: Object.entries(env).map(([name, value]) => `${name}=${value}`),
    cwd: config.cwd,
    hostname: config.hostname,
    uid: config.uid,
    gid: config.gid,
    stdio: interactive ? 'console' : 'stdio',
    rlimits: config.rlimits,
    verbose: req.verbose ?? false,
    strict: req.strict ?? false,
    helper: req.helper ?? true,
    memBytes: guestMemory(req.mem),
    pidsMax: req.pidsMax ?? DEFAULT_PIDS_MAX,
  };
}

export async function bootGuest(req: BootRequest): Promise<KernelExitStatus> {
  const config = await loadGuestConfig(req.guest);
  const source: RootfsSource = req.rootfs ? { kind: 'directory', path: resolve(req.rootfs) } : config.rootfs;
  // A wrong --rootfs is the user's typo: say so before spending time on a build.
  if (source.kind === 'directory') await validateRootfsDir(source.path);
  // A User-Mode Linux kernel boots its own way (src/uml/): no host build, no tracer, no TypeScript kernel.
  const umlKernel = req.kernel ?? config.kernel;
  if (umlKernel !== undefined && Object.values(req.trace ?? {}).some((v) => v !== undefined)) {
    throw new VmctlError('--strace, --inject and --stats work on vmctl\'s own kernel; a UML guest (--kernel) is traced ' +
      'from inside (strace in the guest) or with --gdb.', ExitCode.usage);
  }
  if (umlKernel !== undefined && req.helper === false) {
    throw new VmctlError('--no-helper is about vmctl\'s own tracer; a UML guest (--kernel) does its own tracing.', ExitCode.usage);
  }
  if (req.gdbExec !== undefined && req.gdbPort === undefined) {
    throw new VmctlError('--gdb-exec names the program --gdb-port stops: give --gdb-port PORT too.', ExitCode.usage);
  }
  if (umlKernel !== undefined && req.gdbPort !== undefined) {
    throw new VmctlError('--gdb-port debugs the processes of vmctl\'s own kernel; a UML kernel (--kernel) is debugged with --gdb.',
      ExitCode.usage);
  }
  if (req.name !== undefined) checkInstanceName(req.name);
  if (umlKernel !== undefined && req.name !== undefined) {
    throw new VmctlError('--name names an instance of vmctl\'s own kernel; a UML guest (--kernel) keeps one copy-on-write ' +
      'file per guest and root filesystem.', ExitCode.usage);
  }
  const kernelDebug = kernelDebugOptions(req, umlKernel !== undefined);
  if (umlKernel !== undefined) return bootUml(config, umlKernel, req);
  rejectUmlOnlyFlags(req);
  const trace = parseTraceRequest(req.trace);

  const host = await ensureHostBuilt({ quiet: true, verbose: req.verbose });
  const lowerRoot = await materializeRootfs(source, { verbose: req.verbose });
  const state = guestState(config.name, source, lowerRoot, req.name);
  // Before anything in the state directory is touched (--fresh empties it): one vmctl per instance.
  await lockInstance(state.dir, state.name);
  await prepareGuestState(state, lowerRoot, req.fresh ?? false);

  const opts = kernelBootOptions(config, { lowerRoot, upperRoot: state.upper, hostBuildDir: host.dir }, req);
  opts.controlSocket = join(state.dir, CONTROL_SOCKET_NAME);
  opts.guestName = state.name;
  opts.breakSyscalls = kernelDebug.breaks;
  // A breakpoint on a fast-path syscall (futex, mmap, ...) must see every call: the boot is strict.
  if (kernelDebug.strict) opts.strict = true;
  if (req.gdbPort !== undefined) opts.gdb = { port: req.gdbPort, exec: req.gdbExec };
  if (trace) {
    opts.trace = trace;
    // A traced or injected syscall must stop in the kernel: the seccomp fast path would hide it.
    if (trace.strict) opts.strict = true;
  }
  if (req.verbose) {
    progress(`booting guest "${config.name}"${state.name === config.name ? '' : ` as instance "${state.name}"`}: ` +
      `root ${lowerRoot}, upper ${state.upper}`);
    progress(`  pid 1: ${opts.argv.join(' ')} (stdio: ${opts.stdio})`);
  }
  // Last before the kernel starts: --inspect-brk waits here for a debugger.
  if (kernelDebug.inspect) openInspector(kernelDebug.inspect);
  try {
    // Loaded only now: the kernel loads the tracer addon, which exists only
    // once the host side is built, and `--help` or a config error must not need it.
    const { bootKernel } = await import('./kernel/boot.ts');
    return await bootKernel(opts);
  } catch (error) {
    if (error instanceof VmctlError) throw error;
    if (error instanceof DebugStubError) throw new VmctlError(error.message, 1);
    if (req.verbose) progress((error as Error).stack ?? String(error));
    throw new VmctlError(
      `the guest kernel stopped with an internal error: ${(error as Error).message}. ` +
        (req.verbose ? 'The stack trace is above.' : 'Run again with --verbose for its stack trace.'),
      1,
    );
  } finally {
    if (kernelDebug.inspect) closeInspector();
  }
}

/** The kernel's --strace/--inject/--stats options; a bad value is the user's to fix (exit 2). */
function parseTraceRequest(req: TraceRequest | undefined) {
  try {
    return traceOptionsFrom(req);
  } catch (error) {
    if (error instanceof TraceOptionError) throw new VmctlError(error.message, ExitCode.usage);
    throw error;
  }
}
