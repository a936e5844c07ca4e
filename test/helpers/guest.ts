/**
 * Booting real guests from a test: a private state directory per test file,
 * `vmctl boot --exec` with timing, and where the busybox binary the guests
 * run lives on the host (so the same binary can be run natively as the oracle).
 */
import { execa } from 'execa';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBusyboxRootfs } from '../../src/rootfs/busybox.ts';
import { vmctl, type VmctlRun } from './vmctl.ts';

/** Long enough for a first boot that compiles the tracer; a warm boot takes about a second. */
export const BOOT_TIMEOUT = 60_000;

/**
 * A scratch directory for one test file, holding its own XDG_STATE_HOME so
 * no two files (and no test run and the user's own guests) share an upper
 * layer. The root filesystem cache stays shared: it is read-only to guests.
 */
export class Scratch {
  private constructor(readonly dir: string) {}

  static async create(name: string): Promise<Scratch> {
    return new Scratch(await mkdtemp(join(tmpdir(), `vmctl-${name}-`)));
  }

  get stateHome(): string {
    return join(this.dir, 'state');
  }

  /** The environment of a vmctl run: the test's own, with the private state directory. */
  get env(): Record<string, string> {
    return { XDG_STATE_HOME: this.stateHome };
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

export interface ExecRun extends VmctlRun {
  /** Wall time of the whole vmctl run, boot included. */
  ms: number;
}

export interface ExecOptions {
  rootfs?: string;
  fresh?: boolean;
  input?: string;
  timeout?: number;
  verbose?: boolean;
  /** Stop on every guest system call (no seccomp fast path for memory, futex and clock calls). */
  strict?: boolean;
  guest?: string;
}

/** `vmctl boot [--fresh] [--rootfs DIR] --exec CMD` in the scratch's state. */
export async function bootExec(scratch: Scratch, command: string, opts: ExecOptions = {}): Promise<ExecRun> {
  const args = ['boot'];
  if (opts.guest) args.push(opts.guest);
  if (opts.fresh) args.push('--fresh');
  if (opts.verbose) args.push('--verbose');
  if (opts.strict) args.push('--strict');
  if (opts.rootfs) args.push('--rootfs', opts.rootfs);
  args.push('--exec', command);
  const start = performance.now();
  const run = await vmctl(args, { env: scratch.env, input: opts.input, timeout: opts.timeout ?? BOOT_TIMEOUT });
  return { ...run, ms: performance.now() - start };
}

/**
 * Builds the host side and assembles the busybox root if needed, through a
 * real boot, so that the first test of a file does not pay for it (and hit
 * its timeout). Its result is not checked here: the tests say what is wrong.
 */
export async function warmUp(scratch: Scratch): Promise<void> {
  await bootExec(scratch, 'true', { fresh: true, timeout: 600_000 });
}

/** The host directory of the default guest's root filesystem (the same one `vmctl boot` uses). */
export async function busyboxRoot(): Promise<string> {
  return ensureBusyboxRootfs();
}

/** The static busybox binary every default guest runs, as a host path. */
export async function busyboxBinary(): Promise<string> {
  return join(await busyboxRoot(), 'bin/busybox');
}

/** Lines of a text (execa already strips the final newline of what it captures; a remaining one is dropped). */
export function lines(text: string): string[] {
  const all = text.split('\n');
  if (all.at(-1) === '') all.pop();
  return all;
}

/** Shell-quotes one word for a guest or host `sh -c` line. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Host pids of every descendant of a host process (its children, theirs, ...), from the host's /proc. */
export async function hostDescendants(pid: number): Promise<number[]> {
  const found: number[] = [];
  const visit = async (parent: number) => {
    let tasks: string[];
    try {
      tasks = await readdir(`/proc/${parent}/task`);
    } catch {
      return; // It exited meanwhile.
    }
    for (const tid of tasks) {
      const children = await readFile(`/proc/${parent}/task/${tid}/children`, 'utf8').catch(() => '');
      for (const child of children.split(/\s+/).filter(Boolean).map(Number)) {
        if (found.includes(child)) continue;
        found.push(child);
        await visit(child);
      }
    }
  };
  await visit(pid);
  return found;
}

/** A static C program to build into a test root: /NAME from SOURCE. */
export interface RootProgram {
  name: string;
  source: string;
  /** compiler flags besides -static (default -O1 -Wall) */
  cflags?: string[];
}

/**
 * A minimal root for `--rootfs` at `dir`: busybox as /bin/sh, a /tmp, and
 * each program compiled statically with the host's compiler ($CC or cc).
 * Returns `dir`.
 */
export async function programRoot(dir: string, programs: readonly RootProgram[]): Promise<string> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  await mkdir(join(dir, 'tmp'), { recursive: true });
  await chmod(join(dir, 'tmp'), 0o1777);
  await copyFile(await busyboxBinary(), join(dir, 'bin/busybox'));
  await chmod(join(dir, 'bin/busybox'), 0o755);
  await symlink('busybox', join(dir, 'bin/sh'));
  for (const p of programs) {
    await execa(process.env.CC || 'cc', ['-static', ...(p.cflags ?? ['-O1', '-Wall']), '-o', join(dir, p.name), p.source]);
  }
  return dir;
}
