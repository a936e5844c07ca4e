/**
 * Runs a host program (cc, apt-get, dpkg, busybox) and, with --verbose, shows
 * the exact command line first, the way virtme-ng does, so any step can be
 * replayed by hand.
 */
import { spawn } from 'node:child_process';

export interface HostCommandOptions {
  cwd?: string;
  verbose?: boolean;
  env?: Record<string, string>;
}

export interface HostCommandResult {
  /** Exit status, or undefined when the program could not be started or was killed. */
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as the program wrote them. */
  all: string;
  /** Set when the program does not exist (ENOENT on exec). */
  notFound: boolean;
}

/** Quotes one argument for display only; nothing here is passed to a shell. */
function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

export function formatCommand(file: string, args: readonly string[]): string {
  return [file, ...args].map(shellQuote).join(' ');
}

/** Lines shown to the user while vmctl works go to stderr, keeping stdout for a guest's own output. */
export function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Output as execa gives it: text, without the one line break that ends it. */
function outputText(chunks: Buffer[]): string {
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * Runs `file args` to completion; never throws for a non-zero exit, the caller decides what failure means.
 * (node's own spawn, not execa: `vmctl boot` runs the host probe every time, and execa's
 * dozens of modules take longer to load than the probe takes to run.)
 */
export function runHostCommand(
  file: string,
  args: readonly string[],
  opts: HostCommandOptions = {},
): Promise<HostCommandResult> {
  if (opts.verbose) progress(`+ ${opts.cwd ? `(cd ${shellQuote(opts.cwd)}) ` : ''}${formatCommand(file, args)}`);
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      // Compiler and apt messages we quote back must not depend on the user's locale.
      env: { ...process.env, LC_ALL: 'C', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const all: Buffer[] = [];
    const collect = (own: Buffer[]) => (chunk: Buffer) => {
      own.push(chunk);
      all.push(chunk);
    };
    child.stdout.on('data', collect(stdout));
    child.stderr.on('data', collect(stderr));
    let spawnError: NodeJS.ErrnoException | undefined;
    child.on('error', (error) => {
      spawnError = error;
    });
    // 'close' comes last: after the exit and the end of both pipes, or after the 'error' of a program that could not start.
    child.on('close', (code) => {
      resolve({
        exitCode: spawnError ? undefined : code ?? undefined,
        stdout: outputText(stdout),
        stderr: outputText(stderr),
        all: outputText(all),
        notFound: spawnError?.code === 'ENOENT',
      });
    });
  });
}
