/**
 * Turns a guest's root filesystem source, a builtin name or a host
 * directory, into the host directory the kernel uses read-only as the lower
 * layer of `/`.
 */
import { realpath, stat } from 'node:fs/promises';
import { ExitCode, VmctlError } from '../errors.ts';
import { BUSYBOX_ROOTFS, ensureBusyboxRootfs } from './busybox.ts';
import { isX86_64, readElfInfo } from './elf.ts';
import { resolveInRoot } from './in-root.ts';

export type RootfsSource = { kind: 'builtin'; name: string } | { kind: 'directory'; path: string };

/** Root filesystems vmctl knows how to assemble by itself. */
export const BUILTIN_ROOTFS = [BUSYBOX_ROOTFS] as const;

function rootfsError(message: string): VmctlError {
  return new VmctlError(message, ExitCode.rootfs);
}

/**
 * Checks that a host directory can be a guest root: it exists, and its
 * /bin/sh (followed as the guest would follow it) is a file that is either a
 * script or an x86_64 ELF. Returns its canonical path.
 */
export async function validateRootfsDir(dir: string): Promise<string> {
  let root: string;
  try {
    root = await realpath(dir);
  } catch {
    throw rootfsError(`root filesystem ${dir} does not exist: give a directory holding a static x86_64 userland.`);
  }
  if (!(await stat(root)).isDirectory()) throw rootfsError(`root filesystem ${dir} is not a directory.`);
  const sh = await resolveInRoot(root, '/bin/sh');
  if (!sh || !(await stat(sh)).isFile()) {
    throw rootfsError(
      `root filesystem ${dir} has no /bin/sh: vmctl starts guests through it. ` +
        'Give a directory holding a userland with a shell (e.g. a static busybox with its links).',
    );
  }
  const elf = await readElfInfo(sh);
  if (elf && !isX86_64(elf)) {
    throw rootfsError(`root filesystem ${dir}: /bin/sh is not an x86_64 program; only x86_64 guests are supported for now.`);
  }
  return root;
}

/** The host directory of a source, assembling a builtin one on first use. */
export async function materializeRootfs(source: RootfsSource, opts: { verbose?: boolean } = {}): Promise<string> {
  if (source.kind === 'directory') return validateRootfsDir(source.path);
  if (source.name === BUSYBOX_ROOTFS) return ensureBusyboxRootfs(opts);
  throw rootfsError(`unknown builtin root filesystem "${source.name}"; builtin ones: ${BUILTIN_ROOTFS.join(', ')}.`);
}
