/**
 * `vmctl boot --kernel uml|PATH` (or "kernel" in a guest config): boots a
 * User-Mode Linux kernel on the guest's config and root filesystem instead
 * of vmctl's own kernel, and exits with the guest's status as the busybox
 * guest does. The pieces:
 *
 *   src/uml/kernel.ts      which binary: Debian's linux.uml or a `make ARCH=um` build
 *   src/uml/root.ts        the root: a ubd ext4 image with a per-instance COW file, or hostfs on a copy
 *   src/uml/guest-init.ts  pid 1: set the guest up, run the command, report its status, power off
 *   src/uml/run.ts         the UML process (pinned, or under gdb) and its console fds
 */
import { writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { join, resolve } from 'node:path';
import { ExitCode, VmctlError } from '../errors.ts';
import type { GuestConfig } from '../guest/config.ts';
import { guestState, prepareGuestState } from '../guest/state.ts';
import { progress, runHostCommand } from '../host-command.ts';
import { aptInstall, hasAptGet, isRoot } from '../host/apt.ts';
import { materializeRootfs, type RootfsSource, validateRootfsDir } from '../rootfs/resolve.ts';
import { BOOTSTRAP, encodeForPrintf, type GuestInitSpec, guestInitProgram } from './guest-init.ts';
import { resolveUmlKernel } from './kernel.ts';
import { prepareUmlRoot, type UmlRoot } from './root.ts';
import { chooseCpu, gdbArgs, gdbScript, runUml, type UmlRunResult } from './run.ts';

/** The `vmctl boot` flags that only mean something for a UML kernel. */
export interface UmlFlags {
  /** Boot this User-Mode Linux kernel ("uml" or a path) instead of vmctl's own. */
  kernel?: string;
  /** The guest's memory, UML's `mem=` (e.g. 256M). */
  mem?: string;
  /** Extra kernel arguments, each one or more space-separated words. */
  append?: string[];
  /** Start UML under gdb, in the foreground. */
  gdb?: boolean;
  /** Root on hostfs over a private copy instead of a ubd image with copy-on-write. */
  hostfs?: boolean;
  /** CPU to pin UML to, or "all" for none; default: the last CPU vmctl may use. */
  cpu?: string;
}

export interface UmlBootRequest extends UmlFlags {
  exec?: string;
  rootfs?: string;
  fresh?: boolean;
  verbose?: boolean;
  /** vmctl's own kernel's options (--strict, --strace, --inject, --stats): refused, UML traces its processes itself. */
  strict?: boolean;
  trace?: object;
}

export const DEFAULT_MEM = '256M';
/** UML's COMMAND_LINE_SIZE: the kernel arguments, joined by spaces, must fit with their terminating NUL. */
const COMMAND_LINE_SIZE = 4096;

/** Fails when a UML-only flag is given without a UML kernel to apply it to. */
export function rejectUmlOnlyFlags(req: UmlFlags): void {
  const given = (
    [
      ['--append', (req.append ?? []).length > 0],
      ['--gdb', req.gdb === true],
      ['--hostfs', req.hostfs === true],
      ['--cpu', req.cpu !== undefined],
    ] as const
  ).filter(([, set]) => set);
  if (given.length > 0) {
    throw new VmctlError(
      `${given.map(([flag]) => flag).join(', ')} only apply to a User-Mode Linux kernel: add --kernel uml (or --kernel PATH), ` +
        'or set "kernel" in the guest config.',
      ExitCode.usage,
    );
  }
}

function rejectOwnKernelFlags(req: UmlBootRequest): void {
  const traced = Object.values(req.trace ?? {}).some((v) => v !== undefined && v !== false && !(Array.isArray(v) && v.length === 0));
  if (traced || req.strict) {
    throw new VmctlError(
      '--strict, --strace, --inject and --stats belong to vmctl\'s own kernel: a UML kernel traces its processes itself. ' +
        'Drop --kernel (or the config\'s "kernel") to use them.',
      ExitCode.usage,
    );
  }
}

function checkMem(mem: string): string {
  if (!/^[1-9]\d*[KMG]?$/i.test(mem)) {
    throw new VmctlError(`--mem ${mem}: give a size such as 256M or 1G (a number with K, M or G).`, ExitCode.usage);
  }
  return mem;
}

/** --append words; `--` and `init=` are refused, since vmctl's pid 1 is what brings the status back. */
function appendedArgs(append: string[]): string[] {
  const words = append.flatMap((arg) => arg.split(/\s+/)).filter(Boolean);
  for (const word of words) {
    if (word === '--' || /^init=/.test(word)) {
      throw new VmctlError(
        `--append ${word}: vmctl runs its own init to bring the guest's status back; ` +
          'give the command with --exec or the guest config\'s "init" instead.',
        ExitCode.usage,
      );
    }
  }
  return words;
}

interface HostStdio {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** The terminal's size, when stdout is one. */
  rows?: number;
  columns?: number;
}

/**
 * The guest console's modes for where its host ends go. With a terminal on
 * stdin, UML puts that terminal in raw mode and the guest's tty does the
 * cooking, as on a serial console. Otherwise vmctl feeds stdin through a
 * pipe: no echo, no signals from ^C bytes, and no CR added before each
 * newline of the output, so piped output is byte for byte the command's.
 */
export function consoleModes(tty: HostStdio): Pick<GuestInitSpec, 'consoleStty' | 'stderrStty'> {
  const rawOut = ['-opost'];
  // UML does not pass the terminal's size on: the guest's tty starts with it.
  const size = tty.stdin && tty.stdout && tty.rows && tty.columns ? ['rows', String(tty.rows), 'cols', String(tty.columns)] : [];
  return {
    consoleStty: tty.stdin ? (tty.stdout ? size : rawOut) : ['-echo', '-isig', '-iexten', '-icrnl', '-ixon', ...rawOut],
    stderrStty: tty.stdin && tty.stderr ? [] : rawOut,
  };
}

/** The whole UML command line: root, consoles, memory, quiet boot, pid 1. Pure, so tests can read it. */
export function umlKernelArgs(opts: {
  root: UmlRoot;
  mem: string;
  append: string[];
  init: GuestInitSpec;
  /** The console reads host fd 0; false: it reads nothing. */
  consoleInput: boolean;
  verbose: boolean;
}): string[] {
  return [
    `mem=${opts.mem}`,
    ...opts.root.kernelArgs,
    // No xterms and no ptys: con= first, since it sets every line, then the three vmctl uses.
    'con=null',
    'ssl=null',
    opts.consoleInput ? 'con0=fd:0,fd:1' : 'con0=null,fd:1',
    'con1=null,fd:2',
    'con2=null,fd:3',
    'console=tty0',
    // quiet silences UML's own start-up checks, loglevel=0 every kernel message, halting included.
    ...(opts.verbose ? [] : ['quiet', 'loglevel=0']),
    ...opts.append,
    'init=/bin/sh',
    `vmctl_run="${encodeForPrintf(guestInitProgram(opts.init))}"`,
    '--',
    '-c',
    BOOTSTRAP,
  ];
}

async function ensureGdb(opts: { verbose?: boolean }): Promise<void> {
  const probe = await runHostCommand('gdb', ['--version'], opts);
  if (!probe.notFound) return;
  if (isRoot() && (await hasAptGet())) {
    await aptInstall(['gdb'], opts);
    return;
  }
  throw new VmctlError('--gdb needs gdb, which is not installed: run `sudo apt-get install gdb`.', ExitCode.host);
}

/** The boot's outcome as vmctl's exit status, or an error saying what went wrong and what to try. */
function exitStatus(result: UmlRunResult, req: UmlBootRequest): number {
  if (result.status !== undefined) return result.status;
  if (result.interruptedBy) return 128 + constants.signals[result.interruptedBy];
  if (req.gdb) {
    progress('vmctl: the guest reported no exit status (gdb quit before it finished); exiting with gdb\'s.');
    return result.exitCode ?? 1;
  }
  const how = result.signal ? `was killed by ${result.signal}${result.signal === 'SIGABRT' ? ' (a kernel panic)' : ''}` : `exited with status ${result.exitCode}`;
  const where = result.ready ? 'while the command ran' : 'before its init started the command';
  throw new VmctlError(
    `the UML kernel ${how} ${where}, without reporting the command's status. ` +
      (req.verbose ? 'Its messages are above.' : 'Run again with --verbose to see its boot messages.'),
    1,
  );
}

/** pid 1's program for this boot: the config's settings, the command, and console modes fitting the host's stdio. */
function guestInitSpec(config: GuestConfig, req: UmlBootRequest, tty: HostStdio): GuestInitSpec {
  const interactive = req.exec === undefined;
  const env = { ...config.env };
  if (interactive && env.TERM === undefined) env.TERM = process.env.TERM || 'linux';
  return {
    argv: interactive ? config.init : ['/bin/sh', '-c', req.exec as string],
    env,
    hostname: config.hostname,
    cwd: config.cwd,
    uid: config.uid,
    gid: config.gid,
    rlimits: config.rlimits,
    ...consoleModes(tty),
    separateStderr: !interactive,
  };
}

function hostStdio(): HostStdio {
  return {
    stdin: process.stdin.isTTY === true,
    stdout: process.stdout.isTTY === true,
    stderr: process.stderr.isTTY === true,
    rows: process.stdout.rows,
    columns: process.stdout.columns,
  };
}

function checkCommandLineLength(args: string[]): void {
  const length = Buffer.byteLength(args.join(' '));
  if (length >= COMMAND_LINE_SIZE) {
    throw new VmctlError(
      `the command is too long for the UML kernel command line (${length} bytes with vmctl's init; UML takes ${COMMAND_LINE_SIZE - 1}): ` +
        'put it in a script in the root filesystem and --exec that.',
      ExitCode.usage,
    );
  }
}

export async function bootUml(config: GuestConfig, kernelSpec: string, req: UmlBootRequest): Promise<number> {
  rejectOwnKernelFlags(req);
  const mem = checkMem(req.mem ?? DEFAULT_MEM);
  const append = appendedArgs(req.append ?? []);
  const cpu = chooseCpu(req.cpu);
  const source: RootfsSource = req.rootfs ? { kind: 'directory', path: resolve(req.rootfs) } : config.rootfs;
  if (source.kind === 'directory') await validateRootfsDir(source.path);

  const kernel = await resolveUmlKernel(kernelSpec, { verbose: req.verbose });
  if (req.gdb) await ensureGdb({ verbose: req.verbose });
  const lowerRoot = await materializeRootfs(source, { verbose: req.verbose });
  const state = guestState(config.name, source, lowerRoot);
  await prepareGuestState(state, lowerRoot, req.fresh ?? false);
  const umlState = join(state.dir, 'uml');
  const root = await prepareUmlRoot(req.hostfs ? 'hostfs' : 'ubd', lowerRoot, umlState, { verbose: req.verbose });

  const tty = hostStdio();
  const init = guestInitSpec(config, req, tty);
  // gdb reads its commands from a stdin that is not a terminal: the console then gets no input, rather
  // than gdb's commands and, at their end, the EOF on which UML hangs the console up.
  const consoleInput = !req.gdb || tty.stdin;
  const args = umlKernelArgs({ root, mem, append, init, consoleInput, verbose: req.verbose ?? false });
  checkCommandLineLength(args);

  if (req.verbose) {
    progress(`booting guest "${config.name}" on UML ${kernel.release} (${kernel.path}): root ${root.description}`);
    progress(`  pid 1 runs: ${init.argv.join(' ')}; ${cpu === undefined ? 'unpinned' : `pinned to CPU ${cpu}`}`);
  }
  const gdbScriptPath = join(umlState, 'vmctl.gdb');
  if (req.gdb) {
    await writeFile(gdbScriptPath, gdbScript());
    progress(`vmctl: UML is loaded in gdb with its signal handling set (${gdbScriptPath}): set breakpoints, then \`run\` boots it.`);
  }
  const result = await runUml({
    file: req.gdb ? 'gdb' : kernel.path,
    args: req.gdb ? gdbArgs(gdbScriptPath, kernel.path, args) : args,
    cpu,
    // Under gdb the terminal is gdb's and the inferior's in turn, and gdb switches it.
    stdin: req.gdb || tty.stdin ? 'terminal' : 'forward',
    debugger: req.gdb ?? false,
    verbose: req.verbose,
  });
  return exitStatus(result, req);
}
