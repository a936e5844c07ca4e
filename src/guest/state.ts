/**
 * Where a guest instance keeps what must survive between boots: the
 * copy-on-write upper layer of its `/`. An instance is a name (the
 * guest's own, or `--name`'s) on one root filesystem, so booting the same
 * guest with another --rootfs never shows it files written over a
 * different lower layer, and a named instance never shares the default
 * one's files.
 *
 *   $XDG_STATE_HOME/vmctl/<instance-name>/<rootfs-key>/upper
 *
 * Every directory of it, from vmctl's state root down to the upper layer,
 * is private to its owner (0700): the host files of a guest are nobody
 * else's to read, and nobody else's to replace.
 */
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ExitCode, VmctlError } from '../errors.ts';
import type { RootfsSource } from '../rootfs/resolve.ts';
import { stateDir } from '../paths.ts';
import { INSTANCE_LOCK_NAME } from './instance-lock.ts';

export interface GuestState {
  /** The instance's name: the guest's, or --name's. `vmctl ctl NAME` reaches it. */
  name: string;
  /** The instance's state directory; `--fresh` empties it. */
  dir: string;
  /** The copy-on-write upper layer of `/`. */
  upper: string;
}

/** Names an instance may have, as a guest config's `name` (src/guest/config.ts): they name a directory. */
const INSTANCE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A --name the user gave, checked; a bad one is theirs to fix (exit 2). */
export function checkInstanceName(name: string): string {
  if (!INSTANCE_NAME.test(name)) {
    throw new VmctlError(`--name ${JSON.stringify(name)}: an instance name starts with a letter or digit and holds only ` +
      'letters, digits, ".", "_" and "-".', ExitCode.usage);
  }
  return name;
}

/**
 * A builtin root is keyed by its name, so a newer busybox or a retuned
 * /sbin/init keeps the guest's files; a host directory by its canonical path.
 */
function rootfsKey(source: RootfsSource, lowerRoot: string): string {
  if (source.kind === 'builtin') return source.name;
  const hash = createHash('sha256').update(lowerRoot).digest('hex').slice(0, 12);
  return `${basename(lowerRoot) || 'root'}-${hash}`;
}

/** The state of instance `instance` (default: the guest's own) of `guestName` over `lowerRoot`. */
export function guestState(guestName: string, source: RootfsSource, lowerRoot: string, instance?: string): GuestState {
  const name = instance ?? guestName;
  const dir = join(stateDir(), name, rootfsKey(source, lowerRoot));
  return { name, dir, upper: join(dir, 'upper') };
}

/** mkdir -p of `dir` with every directory it makes or meets from `top` down made 0700. */
async function privateDirs(top: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (let at = dir; ; at = dirname(at)) {
    // Tightened, not only made so: a state directory an older vmctl made 0755 becomes private too.
    // (The state root may be a symlink the user made; what vmctl made below it may not.)
    const st = at === top ? await stat(at) : await lstat(at);
    if (!st.isDirectory()) throw new VmctlError(`${at} should be a directory of vmctl's state, and it is not`, 1);
    if ((st.mode & 0o777) !== 0o700) await chmod(at, 0o700);
    if (at === top || dirname(at) === at) break;
  }
}

/**
 * Creates the state directory, 0700 all the way from vmctl's state root,
 * with a note of which root it belongs to. `fresh` empties it first but
 * for its lock, which the caller holds (instance-lock.ts). The upper
 * layer is the overlay's to make (src/kernel/vfs/overlay-fs.ts): 0700
 * too, unless its filesystem keeps no xattrs, where its host mode is the
 * guest's `/`; the directory holding it is private either way.
 */
export async function prepareGuestState(state: GuestState, lowerRoot: string, fresh: boolean): Promise<void> {
  if (fresh) {
    const entries = await readdir(state.dir).catch(() => [] as string[]);
    await Promise.all(entries.filter((e) => e !== INSTANCE_LOCK_NAME).map((e) => rm(join(state.dir, e), { recursive: true, force: true })));
  }
  await privateDirs(stateDir(), state.dir);
  // For whoever looks in the state directory: which lower layer this upper belongs over.
  await writeFile(join(state.dir, 'lower'), `${lowerRoot}\n`, { mode: 0o600 });
}
