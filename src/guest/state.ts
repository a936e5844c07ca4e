/**
 * Where a guest instance keeps what must survive between boots: the
 * copy-on-write upper layer of its `/`. One instance is one guest name on one
 * root filesystem, so booting the same guest with another --rootfs never
 * shows it files written over a different lower layer.
 *
 *   $XDG_STATE_HOME/vmctl/<guest-name>/<rootfs-key>/upper
 */
import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { RootfsSource } from '../rootfs/resolve.ts';
import { stateDir } from '../paths.ts';

export interface GuestState {
  /** The instance's state directory; `--fresh` removes it whole. */
  dir: string;
  /** The copy-on-write upper layer of `/`. */
  upper: string;
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

export function guestState(guestName: string, source: RootfsSource, lowerRoot: string): GuestState {
  const dir = join(stateDir(), guestName, rootfsKey(source, lowerRoot));
  return { dir, upper: join(dir, 'upper') };
}

/** Creates the state directory (after dropping it first when `fresh`), with a note of which root it belongs to. */
export async function prepareGuestState(state: GuestState, lowerRoot: string, fresh: boolean): Promise<void> {
  if (fresh) await rm(state.dir, { recursive: true, force: true });
  await mkdir(state.upper, { recursive: true });
  // For whoever looks in the state directory: which lower layer this upper belongs over.
  await writeFile(join(state.dir, 'lower'), `${lowerRoot}\n`);
}
