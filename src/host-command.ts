/**
 * Runs a host program (cc, apt-get, dpkg, busybox) and, with --verbose, shows
 * the exact command line first, the way virtme-ng does, so any step can be
 * replayed by hand.
 */

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

/**
 * Runs `file args` to completion; never throws for a non-zero exit, the caller decides what failure means.
 * (execa is imported here, when a command runs: its dozens of modules take longer to load than a
 * warm `vmctl boot` takes to run, and a boot runs no host tool; see runProbe for the one program it runs.)
 */
export async function runHostCommand(
  file: string,
  args: readonly string[],
  opts: HostCommandOptions = {},
): Promise<HostCommandResult> {
  if (opts.verbose) progress(`+ ${opts.cwd ? `(cd ${shellQuote(opts.cwd)}) ` : ''}${formatCommand(file, args)}`);
  const { execa } = await import('execa');
  const result = await execa(file, args, {
    cwd: opts.cwd,
    // Compiler and apt messages we quote back must not depend on the user's locale.
    env: { LC_ALL: 'C', ...opts.env },
    reject: false,
    all: true,
    stdin: 'ignore',
  });
  const notFound = (result as { code?: string }).code === 'ENOENT';
  return {
    exitCode: result.exitCode,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    all: String(result.all ?? ''),
    notFound,
  };
}
