/**
 * Runs a UML kernel process (or gdb holding one) and gets the guest's exit
 * status back from it. vmctl is only the orchestrator here: the UML kernel
 * traces its own processes.
 *
 * Host fds of the UML process, attached to guest console lines by
 * `con0=fd:0,fd:1 con1=null,fd:2 con2=null,fd:3` (src/uml/boot.ts):
 *   0, 1  the console (tty0): the terminal, or vmctl's stdin pipe and stdout
 *   2     the command's stderr (tty1)
 *   3     the status channel (tty2), a pipe vmctl reads: "vmctl-ready",
 *         then "vmctl-exit N" from the guest's pid 1 (src/uml/guest-init.ts)
 *
 * stdout and stderr are the host's own, so the command's output reaches
 * them untouched, with nothing to filter out.
 */
import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { ExitCode, VmctlError } from '../errors.ts';
import { formatCommand, progress } from '../host-command.ts';
import { EXIT_LINE, READY_LINE } from './guest-init.ts';

/** What the guest tty's canonical mode turns into end-of-file for the reader. */
const VEOF = 0x04;

/**
 * Signals gdb must leave to UML, which lives on them: SIGSEGV is how it
 * sees its own page faults, SIGIO its interrupts, SIGALRM and SIGVTALRM its
 * timers, SIGUSR1 and SIGCHLD its helpers and the host processes it runs
 * the guest in, SIGWINCH the console size, SIGPIPE a closed channel.
 */
export const GDB_UML_SIGNALS = ['SIGSEGV', 'SIGUSR1', 'SIGIO', 'SIGALRM', 'SIGVTALRM', 'SIGCHLD', 'SIGWINCH', 'SIGPIPE'];

/** The gdb script `--gdb` loads (with -x, so gdb does not echo a signal table per line). */
export function gdbScript(): string {
  return [
    '# Written by `vmctl boot --gdb`: what User-Mode Linux needs under gdb.',
    '# UML handles these signals itself (page faults, interrupts, timers, helpers).',
    ...GDB_UML_SIGNALS.map((signal) => `handle ${signal} pass nostop noprint`),
    '# UML forks a host process per guest address space: gdb stays with the kernel and says nothing about them.',
    'set follow-fork-mode parent',
    'set detach-on-fork on',
    'set print inferior-events off',
    'set print thread-events off',
    '',
  ].join('\n');
}

/** gdb's command line for a UML kernel: the script above, then the kernel and its arguments. */
export function gdbArgs(script: string, kernel: string, kernelArgs: string[]): string[] {
  return ['-q', '-x', script, '--args', kernel, ...kernelArgs];
}

/** The CPUs this process may run on, from /proc/self/status ("Cpus_allowed_list: 0-3,6"). */
export function allowedCpus(): number[] {
  let list = '';
  try {
    list = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '';
  } catch {
    // Not Linux /proc: nothing to pin to.
  }
  const cpus: number[] = [];
  for (const part of list.split(',').filter(Boolean)) {
    const [from, to = from] = part.split('-').map(Number);
    for (let cpu = from; cpu <= to; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/**
 * The CPU to pin UML to: `cpu` as given ("all" for none), or by default the
 * last CPU vmctl may run on. Pinned by default because UML's kernel process
 * and the host process it runs the guest in hand control to each other
 * through ptrace at every guest system call and page fault: on one CPU that
 * is a plain context switch, across two it is an inter-processor wakeup each
 * way and the hand-off costs several times more (getppid in UML: about 15 µs
 * pinned against 72 µs unpinned on the 2-CPU machine of ARCHITECTURE.md;
 * UML's own docs report up to 5x on benchmarks). UML is a uniprocessor
 * kernel, so it loses nothing by staying on one CPU.
 */
export function chooseCpu(cpu: string | undefined): number | undefined {
  if (cpu === 'all') return undefined;
  const allowed = allowedCpus();
  if (cpu === undefined) return allowed.at(-1);
  const n = Number(cpu);
  if (!/^\d+$/.test(cpu) || !allowed.includes(n)) {
    throw new VmctlError(
      `--cpu ${cpu}: give a CPU this process may run on (${allowed.join(', ') || 'none known'}), or "all" to leave UML unpinned.`,
      ExitCode.usage,
    );
  }
  return n;
}

export interface UmlRunSpec {
  /** The program to run (the UML kernel, or gdb) and its arguments. */
  file: string;
  args: string[];
  /** Pin to this CPU with taskset(1); undefined: unpinned. */
  cpu?: number;
  /**
   * 'terminal': fds 0-2 are vmctl's own (a terminal on stdin, or gdb).
   * 'forward': stdin goes through a pipe that vmctl feeds once the guest is
   * ready, and ends with the console's end-of-file character instead of
   * being closed: UML hangs the console up when its input reaches EOF.
   */
  stdin: 'terminal' | 'forward';
  /** Running gdb: ^C belongs to gdb, and the guest may never report a status. */
  debugger: boolean;
  verbose?: boolean;
}

export interface UmlRunResult {
  /** The exit status pid 1 reported, if it got that far. */
  status?: number;
  /** Whether pid 1 started at all (it reports "vmctl-ready" just before running the command). */
  ready: boolean;
  /** How the host process ended. */
  exitCode?: number;
  signal?: string;
  /** A signal that made vmctl stop the guest (^C on a terminal that UML does not own, kill). */
  interruptedBy?: NodeJS.Signals;
}

/** Feeds vmctl's stdin to the guest console, ending it with VEOF (twice after a partial line: the first one flushes it). */
function forwardStdin(sink: Writable | null): void {
  if (!sink) return;
  sink.on('error', () => {
    // UML exited while we were writing: nothing left to feed.
  });
  let last = 0x0a;
  process.stdin.on('data', (chunk: Buffer) => {
    if (chunk.length > 0) last = chunk[chunk.length - 1];
    if (!sink.write(chunk)) {
      process.stdin.pause();
      sink.once('drain', () => process.stdin.resume());
    }
  });
  process.stdin.on('end', () => {
    sink.write(Buffer.from(last === 0x0a ? [VEOF] : [VEOF, VEOF]));
  });
  process.stdin.on('error', () => undefined);
}

export async function runUml(spec: UmlRunSpec): Promise<UmlRunResult> {
  const [file, args] =
    spec.cpu === undefined ? [spec.file, spec.args] : ['taskset', ['-c', String(spec.cpu), spec.file, ...spec.args]];
  if (spec.verbose) progress(`+ ${formatCommand(file, args)}`);

  // (imported here: `vmctl boot` loads this module for every guest, and execa's dozens of modules only for UML)
  const { execa } = await import('execa');
  const child = execa(file, args, {
    stdio: [spec.stdin === 'forward' ? 'pipe' : 'inherit', 'inherit', 'inherit', 'pipe'],
    reject: false,
    buffer: false,
    // UML and gdb see the user's own environment (TMPDIR picks where UML keeps its memory file).
    env: process.env,
    extendEnv: false,
  });

  const result: UmlRunResult = { ready: false };
  let channel = '';
  child.stdio[3]?.on('data', (chunk: Buffer) => {
    channel += chunk.toString('latin1');
    if (!result.ready && channel.includes(READY_LINE)) {
      result.ready = true;
      if (spec.stdin === 'forward') forwardStdin(child.stdin);
    }
    const exit = new RegExp(`${EXIT_LINE} (\\d+)`).exec(channel);
    if (exit) result.status = Number(exit[1]);
  });

  // ^C in gdb is gdb's; otherwise (a terminal UML does not hold raw) a signal stops the whole guest.
  const onSignal = (signal: NodeJS.Signals) => {
    if (spec.debugger && signal === 'SIGINT') return;
    result.interruptedBy ??= signal;
    if (child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, onSignal);
  try {
    const done = await child;
    if ((done as { code?: string }).code === 'ENOENT') {
      throw new VmctlError(
        `${file} is not installed${file === 'taskset' ? ' (util-linux): install it, or boot with --cpu all' : ''}.`,
        ExitCode.host,
      );
    }
    result.exitCode = done.exitCode;
    result.signal = done.signal;
    return result;
  } finally {
    for (const signal of signals) process.off(signal, onSignal);
    process.stdin.pause();
    // A stdin we read from would keep Node alive; the guest is gone.
    if (spec.stdin === 'forward') process.stdin.destroy();
  }
}
