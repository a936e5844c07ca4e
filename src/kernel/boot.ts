/**
 * Boot: build the kernel's world (mounts, console, pid 1) and run it until
 * init exits.
 */
import { PtraceSysemuPlatform } from '../platform/ptrace-sysemu.ts';
import type { KernelBootOptions, KernelExitStatus } from './boot-options.ts';
import { HostConsole } from './host-console.ts';
import { E, errnoName } from './errno.ts';
import { execProgram } from './exec.ts';
import { hostThreadDied } from './exit.ts';
import { FdTable } from './fd-table.ts';
import { Kernel } from './kernel.ts';
import { AT_FDCWD } from './lookup.ts';
import { SigHand } from './signal-state.ts';
import { deliverSignals, forceSignal } from './signals.ts';
import { buildTable } from './syscalls/table.ts';
import { fsIoSyscalls } from './syscalls/fs-io.ts';
import { fsMetaSyscalls } from './syscalls/fs-meta.ts';
import { fsDirSyscalls } from './syscalls/fs-dir.ts';
import { pollSyscalls } from './syscalls/poll.ts';
import { processSyscalls } from './syscalls/process.ts';
import { memorySyscalls } from './syscalls/memory.ts';
import { timeSyscalls } from './syscalls/time.ts';
import { idSyscalls } from './syscalls/ids.ts';
import { miscSyscalls, initRlimits } from './syscalls/misc.ts';
import { fsSpaceSyscalls } from './syscalls/fs-space.ts';
import { kernelMemory } from './memory-budget.ts';
import { signalSyscalls } from './syscalls/signal.ts';
import { Process, Task, TaskState } from './task.ts';
import { mountKernelFilesystems } from './filesystems.ts';
import { resolve } from './vfs/path-walk.ts';
import { OpenFile } from './vfs/types.ts';
import { installTracing } from './trace/install.ts';
import { startControlServer } from './control/server.ts';
import { installBreakpoints } from './break/breakpoints.ts';
import { debuggerOf, existingDebugger } from './debug/debugger.ts';
import { describeConfinement, kernelPaths, missingLayers } from './confinement.ts';

export const syscallTable = () => buildTable([
  fsIoSyscalls, fsMetaSyscalls, fsDirSyscalls, pollSyscalls, processSyscalls, memorySyscalls,
  timeSyscalls, idSyscalls, miscSyscalls, signalSyscalls, fsSpaceSyscalls,
]);

/** Boots the guest kernel and runs until its init process exits. */
export async function bootKernel(opts: KernelBootOptions): Promise<KernelExitStatus> {
  const platform = new PtraceSysemuPlatform(opts.hostBuildDir, {
    accelerated: !opts.strict, useHelper: opts.helper ?? true, pidsMax: opts.pidsMax, kernelPaths: kernelPaths(opts),
  });
  reportConfinement(platform.confinement, opts);
  const table = syscallTable();
  const k = new Kernel(platform, { table, deliverSignals, forceSignal, hostThreadDied });
  // --gdb-port: the port opens before anything runs, so a bad one fails the boot
  if (opts.gdb) await debuggerOf(k).listenAtBoot(opts.gdb);
  const tracing = installTracing(k, table, opts.trace);
  installBreakpoints(k, opts.guestName, opts.breakSyscalls);
  k.hostname = opts.hostname;
  k.verbose = opts.verbose ?? false;
  k.initUnkillable = opts.stdio === 'console';
  // --mem bounds what the kernel holds for the guest; --pids-max its tasks.
  kernelMemory.limit = opts.memBytes;
  k.pidsMax = opts.pidsMax;

  const console = new HostConsole(k, opts.stdio);
  const { rootLocation, devfs } = mountKernelFilesystems(k, opts, console);
  k.rootLocation = rootLocation;

  const cred = { uid: opts.uid, gid: opts.gid, euid: opts.uid, egid: opts.gid, fsuid: opts.uid, fsgid: opts.gid, groups: [] };
  const cwd = resolve({ root: rootLocation, mounts: k.mounts }, rootLocation, opts.cwd, { followLast: true });
  const rlimits = initRlimits(opts.pidsMax, opts.rlimits);
  const files = new FdTable();
  const init = new Process(1, {
    hostPid: 0, brkStart: 0, brk: 0, exePath: '', exeInode: undefined,
    argStart: 0, argEnd: 0, envStart: 0, envEnd: 0, startStack: 0,
  }, files, { root: rootLocation, cwd: typeof cwd === 'number' ? rootLocation : cwd, umask: 0o022 },
  new SigHand(), cred, rlimits);
  init.comm = 'init';
  const nofile = opts.rlimits?.nofile;
  if (nofile !== undefined) {
    rlimits.set(7, { cur: nofile, max: Math.max(nofile, rlimits.get(7)?.max ?? nofile) });
    files.limit = nofile;
  }
  k.procs.set(1, init);
  k.init = init;
  const t = new Task(1, 0, init);
  init.threads.add(t);
  k.registerTask(t);

  console.stdioFiles(init, devfs).forEach((f: OpenFile, fd: number) => files.installAt(fd, f, false));

  const r = execProgram(k, t, { path: opts.argv[0]!, argv: opts.argv, envp: opts.env, dirfd: AT_FDCWD, follow: true });
  if (r < 0) {
    console.restore();
    tracing?.close();
    await existingDebugger(k)?.close();
    throw new Error(`cannot run ${opts.argv[0]} as init: ${errnoName(r)}${r === -E.ENOENT ? ' (no such file in the guest root)' : ''}`);
  }
  const control = opts.controlSocket ? await startControlServer(k, table, opts.controlSocket) : undefined;
  t.state = TaskState.InKernel;
  existingDebugger(k)?.arm(t);
  k.returnToUser(t);
  try {
    return await k.run();
  } finally {
    console.restore();
    k.shutdown(0);
    control?.close();
    tracing?.close();
    await existingDebugger(k)?.close();
  }
}

/**
 * One line on what confines the guests and the kernel: always in an
 * interactive boot or with --verbose, and under --exec only when a layer
 * the host could not give is missing (stderr stays the command's own).
 */
function reportConfinement(bits: number, opts: KernelBootOptions): void {
  const root = process.geteuid?.() === 0;
  if (opts.verbose || opts.stdio === 'console' || missingLayers(bits, root).length > 0) {
    process.stderr.write(`vmctl: ${describeConfinement(bits, root)}\n`);
  }
}
