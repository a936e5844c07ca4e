/**
 * The host requirements checked before anything is compiled: the platform
 * vmctl supports, and a C compiler (installed with apt-get when vmctl runs as
 * root on Debian and none is there).
 */
import { stat } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import { ExitCode, VmctlError } from '../errors.ts';
import { progress, runHostCommand } from '../host-command.ts';
import { aptInstall, hasAptGet, isRoot } from './apt.ts';

export interface Compiler {
  /** The program run to compile: $CC when set, else `cc`. */
  command: string;
  /** First line of `cc --version`; part of the build stamp so a compiler upgrade rebuilds. */
  version: string;
}

/** The tracer speaks x86_64 registers and syscall numbers; nothing else is supported yet. */
export function assertSupportedHost(): void {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new VmctlError(
      `only x86_64 Linux is supported for now; this host is ${process.platform}/${process.arch}. ` +
        'Run vmctl on an x86_64 Linux machine or VM.',
      ExitCode.host,
    );
  }
}

async function compilerVersion(command: string, verbose: boolean): Promise<string | undefined> {
  const result = await runHostCommand(command, ['--version'], { verbose });
  if (result.notFound || result.exitCode !== 0) return undefined;
  return result.stdout.split('\n')[0]?.trim() ?? command;
}

/** The compiler to run (Compiler.command). */
function compilerCommand(): string {
  return process.env.CC?.trim() || 'cc';
}

/**
 * The compiler's file as found on $PATH, without running it: its path,
 * size, mtime and inode (through symlinks such as /usr/bin/cc), which a
 * compiler upgrade or switch changes; undefined when it is not there.
 */
export async function compilerFileState(): Promise<string | undefined> {
  const command = compilerCommand();
  const candidates = command.includes('/') ? [resolve(command)]
    : (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir || '.', command));
  for (const path of candidates) {
    const st = await stat(path).catch(() => undefined);
    if (st?.isFile()) return `${path} ${st.size} ${st.mtimeMs} ${st.ino}`;
  }
  return undefined;
}

/** Finds the C compiler, installing gcc through apt-get when we are root on Debian and there is none. */
export async function findCompiler(opts: { verbose?: boolean } = {}): Promise<Compiler> {
  const verbose = opts.verbose ?? false;
  const command = compilerCommand();
  let version = await compilerVersion(command, verbose);
  if (version === undefined && command === 'cc' && isRoot() && (await hasAptGet())) {
    progress('no C compiler found; installing gcc (needed to build the tracer)…');
    try {
      await aptInstall(['gcc', 'libc6-dev'], { verbose });
    } catch (error) {
      throw new VmctlError(
        `no C compiler found and installing one failed: ${(error as Error).message}\n` +
          'Install one by hand with `apt-get install gcc`, then run `vmctl build-host` again.',
        ExitCode.host,
      );
    }
    version = await compilerVersion(command, verbose);
  }
  if (version === undefined) {
    throw new VmctlError(
      `no C compiler found (\`${command} --version\` did not run). ` +
        'Install one with `sudo apt-get install gcc`, then run `vmctl build-host` again.',
      ExitCode.host,
    );
  }
  return { command, version };
}
