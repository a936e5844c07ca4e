/**
 * Finds and loads the guest config `vmctl boot [GUEST]` names: a guest from
 * guest-configs/ by name, or a config file by path.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { ExitCode, VmctlError } from '../errors.ts';
import { guestConfigDir, packageDir } from '../paths.ts';
import { type GuestConfig, validateGuestConfig } from './config.ts';

/** The guest booted when none is named. */
export const DEFAULT_GUEST = 'busybox';

/** Names of the guests in guest-configs/, sorted. */
export async function knownGuests(): Promise<string[]> {
  const names = await readdir(guestConfigDir).catch(() => [] as string[]);
  return names
    .filter((n) => n.endsWith('.json'))
    .map((n) => n.slice(0, -'.json'.length))
    .sort();
}

/** A path names a file; a bare word names a guest from guest-configs/. */
function looksLikePath(arg: string): boolean {
  return arg.includes('/') || arg.endsWith('.json');
}

async function readConfigFile(file: string, display: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new VmctlError(`${display}: cannot read guest config (${why}). Give a guest name or the path of a config file.`, ExitCode.usage);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new VmctlError(`${display}: not valid JSON (${(error as Error).message})`, ExitCode.usage);
  }
}

/** Loads and validates the config that `guest` (a name, a path, or nothing for the default) designates. */
export async function loadGuestConfig(guest: string | undefined): Promise<GuestConfig> {
  const arg = guest ?? DEFAULT_GUEST;
  let file: string;
  let display: string;
  if (looksLikePath(arg)) {
    file = resolve(arg);
    display = arg;
  } else {
    const known = await knownGuests();
    if (!known.includes(arg)) {
      throw new VmctlError(
        `unknown guest "${arg}"; known guests: ${known.join(', ') || 'none'}. ` +
          'Give one of those names, or the path of a guest config file.',
        ExitCode.usage,
      );
    }
    file = join(guestConfigDir, `${arg}.json`);
    display = relative(packageDir, file);
  }
  return validateGuestConfig(await readConfigFile(file, display), display, file);
}
