/**
 * Defence in depth, as the boot sees it: where the kernel's own thread
 * may still reach once it confines itself with Landlock, and the one
 * line that says which layers hold the guests' host processes
 * (src/tracer/addon/sandbox.c makes them).
 */
import { dirname } from 'node:path';
import { packageDir } from '../paths.ts';
import { ConfineBit } from '../platform/tracer-addon.ts';
import type { KernelBootOptions } from './boot-options.ts';

export interface KernelPaths {
  /** read and execute */
  readOnly: string[];
  /** anything */
  readWrite: string[];
}

/**
 * What the kernel thread touches once guests run: the guest's lower
 * layer (read) and upper layer and state directory (write; the --strace
 * file is open already), vmctl's own
 * files (the bundle's later chunks, the build directory), /proc for the
 * guests' maps and status, the terminal devices of the console, and the
 * time zone data Node's Date reads. Undefined when the kernel is not to
 * confine itself (VMCTL_NO_KERNEL_LANDLOCK=1, for debugging vmctl).
 */
export function kernelPaths(opts: KernelBootOptions): KernelPaths | undefined {
  if (process.env.VMCTL_NO_KERNEL_LANDLOCK === '1') return undefined;
  const readWrite = [opts.upperRoot, '/dev/null', '/dev/tty', '/dev/pts', '/dev/ptmx'];
  if (opts.controlSocket) readWrite.push(dirname(opts.controlSocket));
  return {
    readOnly: [opts.lowerRoot, opts.hostBuildDir, packageDir, '/proc', '/dev/zero', '/dev/urandom',
      '/usr/share/zoneinfo', '/etc/localtime'],
    readWrite,
  };
}

const LAYERS: [ConfineBit, string][] = [
  [ConfineBit.NotRoot, 'uid 65534'],
  [ConfineBit.NoCaps, 'no capabilities'],
  [ConfineBit.NoNewPrivs, 'no_new_privs'],
  [ConfineBit.UserNs, 'user namespace'],
  [ConfineBit.MountNs, 'mount namespace'],
  [ConfineBit.EmptyRoot, 'empty root'],
  [ConfineBit.NetNs, 'network namespace'],
  [ConfineBit.IpcNs, 'IPC namespace'],
  [ConfineBit.LandlockFs, 'Landlock (no files)'],
  [ConfineBit.LandlockNet, 'Landlock (no TCP)'],
  [ConfineBit.LandlockScope, 'Landlock (no signals out)'],
  [ConfineBit.Nproc, 'process limit'],
  [ConfineBit.Seccomp, 'seccomp'],
];

/** The layers the guests' host processes are missing, by name. */
export function missingLayers(bits: number, runAsRoot: boolean): string[] {
  return LAYERS.filter(([bit]) => (bit !== ConfineBit.NotRoot || runAsRoot) && !(bits & bit)).map(([, name]) => name);
}

/** "guest processes: uid 65534, no capabilities, ...; kernel: Landlock" — what is in force. */
export function describeConfinement(bits: number, runAsRoot: boolean): string {
  const guest = LAYERS.filter(([bit]) => bits & bit).map(([, name]) => name);
  const missing = missingLayers(bits, runAsRoot);
  const kernel = bits & ConfineBit.KernelLandlock ? 'Landlock' : 'not confined (no Landlock)';
  return `containment: guest processes: ${guest.join(', ') || 'none'}` +
    (missing.length ? ` (not in force: ${missing.join(', ')})` : '') + `; kernel: ${kernel}`;
}
