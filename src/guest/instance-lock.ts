/**
 * One running vmctl per instance: two kernels over one upper layer would
 * each trust what the other changes under it. The lock is an exclusive
 * flock(2) on `lock` in the instance's state directory, taken before
 * anything there is touched (`--fresh` included) and never released by
 * vmctl itself: the host drops it when the process exits or dies, so a
 * crashed boot leaves nothing stale behind. The file is never removed
 * (a new one would be a second lock).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode, VmctlError } from '../errors.ts';
import { hostBuildDir } from '../paths.ts';
import { loadTracerAddon } from '../platform/tracer-addon.ts';

export const INSTANCE_LOCK_NAME = 'lock';

/** What layer_napi.c exports for this (layer_ops.c's layer_lock). */
interface LockAddon {
  layerLock(path: string): number;
}

const EWOULDBLOCK = 11;

/** fds holding the locks of this process, kept open (and referenced) until it exits. */
const held: number[] = [];

/**
 * Lock instance `name`'s state directory `dir` (made 0700 if missing),
 * or say which instance runs and how to boot another. Needs the tracer
 * addon: call it once the host side is built.
 */
export async function lockInstance(dir: string, name: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const addon = loadTracerAddon(hostBuildDir) as unknown as Partial<LockAddon>;
  if (typeof addon.layerLock !== 'function') throw new VmctlError('the tracer addon has no instance lock: run `vmctl build-host`', 1);
  const fd = addon.layerLock(join(dir, INSTANCE_LOCK_NAME));
  if (fd === -EWOULDBLOCK) {
    throw new VmctlError(`instance "${name}" is running already (another vmctl holds ${join(dir, INSTANCE_LOCK_NAME)}): ` +
      `boot a separate instance with --name NAME, or end that one first (\`vmctl ctl ${name} halt\`).`, 1);
  }
  if (fd < 0) throw new VmctlError(`cannot lock the state directory ${dir} (errno ${-fd})`, 1);
  held.push(fd);
}
