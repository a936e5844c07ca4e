/** Where vmctl's files live: the package itself, its build output, and the per-user cache and state. */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package directory (the one holding package.json), wherever it was
 * installed or cloned: the nearest one above this module, which runs from
 * src/ under tsx and from a chunk under build/cli/ when bundled.
 */
export const packageDir = packageDirAbove(dirname(fileURLToPath(import.meta.url)));

function packageDirAbove(dir: string): string {
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, 'package.json'))) return at;
    if (dirname(at) === at) throw new Error(`no package.json above ${dir}`);
  }
}

/** Compiled host side: tracer.node, vmctl-stub, vmctl-probe (gitignored). */
export const hostBuildDir = join(packageDir, 'build', 'host');

/** Guest definitions shipped with vmctl. */
export const guestConfigDir = join(packageDir, 'guest-configs');

/** XDG base directory from the environment, or its documented default under $HOME. */
function xdgDir(variable: string, fallback: string): string {
  const value = process.env[variable];
  // The XDG spec says relative values are invalid and must be ignored.
  return value && value.startsWith('/') ? value : join(homedir(), fallback);
}

/** Rebuildable data: assembled root filesystems. */
export function cacheDir(): string {
  return join(xdgDir('XDG_CACHE_HOME', '.cache'), 'vmctl');
}

/** Data that must survive between boots: each guest's copy-on-write upper layer. */
export function stateDir(): string {
  return join(xdgDir('XDG_STATE_HOME', join('.local', 'state')), 'vmctl');
}
