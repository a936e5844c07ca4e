/**
 * Host-side path lookup inside a guest root, for checks vmctl makes before
 * boot (does this root have /bin/sh?). Symlinks are followed as the guest
 * would see them: an absolute link is relative to the root, and `..` never
 * climbs above it, so /bin/sh -> /bin/busybox finds the root's busybox and
 * never the host's.
 */
import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** Linux's limit on symlinks followed in one lookup (ELOOP past it). */
const MAX_SYMLINKS = 40;

/** Host path of what `guestPath` names inside `root`, following symlinks; undefined when it does not exist. */
export async function resolveInRoot(root: string, guestPath: string): Promise<string | undefined> {
  let pending = guestPath.split('/').filter((c) => c !== '' && c !== '.');
  const resolved: string[] = [];
  let symlinks = 0;
  while (pending.length > 0) {
    const component = pending.shift() as string;
    if (component === '..') {
      resolved.pop();
      continue;
    }
    const hostPath = join(root, ...resolved, component);
    let stat;
    try {
      stat = await lstat(hostPath);
    } catch {
      return undefined;
    }
    if (!stat.isSymbolicLink()) {
      resolved.push(component);
      continue;
    }
    if (++symlinks > MAX_SYMLINKS) return undefined;
    const target = await readlink(hostPath);
    if (target.startsWith('/')) resolved.length = 0;
    pending = [...target.split('/').filter((c) => c !== '' && c !== '.'), ...pending];
  }
  return join(root, ...resolved);
}
