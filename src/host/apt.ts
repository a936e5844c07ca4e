/**
 * Debian packages vmctl fetches by itself when the host lacks them, so that
 * `npm install && npx vmctl boot` works on a fresh Debian machine.
 */
import { access, constants } from 'node:fs/promises';
import { progress, runHostCommand } from '../host-command.ts';

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export async function hasAptGet(): Promise<boolean> {
  try {
    await access('/usr/bin/apt-get', constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The apt-get output worth showing when a step fails: its error lines, or its tail. */
export function aptErrorLines(output: string): string {
  const lines = output.split('\n').filter((line) => line.trim() !== '');
  const errors = lines.filter((line) => line.startsWith('E:'));
  return (errors.length > 0 ? errors : lines.slice(-5)).join('\n');
}

/**
 * Options that stop apt from warning that it cannot drop privileges to the
 * _apt user when it downloads into a directory only root can write.
 */
export function aptSandboxOptions(): string[] {
  return isRoot() ? ['-o', 'APT::Sandbox::User=root'] : [];
}

export async function aptGetUpdate(opts: { verbose?: boolean }): Promise<void> {
  progress('updating the apt package lists (apt-get update)…');
  const result = await runHostCommand('apt-get', ['update', '-q'], { verbose: opts.verbose });
  if (result.exitCode !== 0) throw new Error(`apt-get update failed:\n${aptErrorLines(result.all)}`);
}

/**
 * Installs Debian packages as root, refreshing the package lists once if
 * apt does not know them yet (a fresh container has no lists at all).
 */
export async function aptInstall(packages: string[], opts: { verbose?: boolean }): Promise<void> {
  const install = () =>
    runHostCommand('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], {
      verbose: opts.verbose,
      env: { DEBIAN_FRONTEND: 'noninteractive' },
    });
  progress(`installing ${packages.join(' ')} with apt-get…`);
  let result = await install();
  if (result.exitCode !== 0) {
    await aptGetUpdate(opts);
    result = await install();
  }
  if (result.exitCode !== 0) {
    throw new Error(`apt-get install ${packages.join(' ')} failed:\n${aptErrorLines(result.all)}`);
  }
}
