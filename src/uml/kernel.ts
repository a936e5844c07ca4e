/**
 * Which User-Mode Linux kernel binary to boot: "uml" names Debian's
 * linux.uml (installed with apt-get when missing and vmctl runs as root),
 * anything else is the path of a UML binary, such as the `./linux` a
 * developer's `make ARCH=um` leaves in the kernel tree.
 */
import { access, constants, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ExitCode, VmctlError } from '../errors.ts';
import { runHostCommand } from '../host-command.ts';
import { aptInstall, hasAptGet, isRoot } from '../host/apt.ts';
import { isX86_64, readElfInfo } from '../rootfs/elf.ts';

/** The word that names Debian's UML kernel in `--kernel` and in a guest config's "kernel". */
export const DEBIAN_UML = 'uml';
export const DEBIAN_UML_PATH = '/usr/bin/linux.uml';
const DEBIAN_UML_PACKAGE = 'user-mode-linux';

export interface UmlKernel {
  path: string;
  /** What `PATH --version` prints: the kernel release, the one `uname -r` shows in the guest. */
  release: string;
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function ensureDebianUml(opts: { verbose?: boolean }): Promise<string> {
  if (await isExecutableFile(DEBIAN_UML_PATH)) return DEBIAN_UML_PATH;
  if (!isRoot() || !(await hasAptGet())) {
    throw new VmctlError(
      `Debian's User-Mode Linux kernel (${DEBIAN_UML_PATH}) is not installed: run \`sudo apt-get install ${DEBIAN_UML_PACKAGE}\`, ` +
        'or boot your own build with --kernel PATH (`make ARCH=um` in a kernel tree makes ./linux).',
      ExitCode.host,
    );
  }
  try {
    await aptInstall([DEBIAN_UML_PACKAGE], opts);
  } catch (error) {
    throw new VmctlError(
      `could not install Debian's User-Mode Linux kernel: ${(error as Error).message}\n` +
        'Install it by hand, or boot your own build with --kernel PATH.',
      ExitCode.host,
    );
  }
  if (!(await isExecutableFile(DEBIAN_UML_PATH))) {
    throw new VmctlError(`apt-get installed ${DEBIAN_UML_PACKAGE} but left no ${DEBIAN_UML_PATH}.`, ExitCode.host);
  }
  return DEBIAN_UML_PATH;
}

function notUml(path: string, why: string): VmctlError {
  return new VmctlError(
    `kernel ${path} ${why}: give a User-Mode Linux binary (\`make ARCH=um\` builds ./linux in a kernel tree), ` +
      `or "${DEBIAN_UML}" for Debian's ${DEBIAN_UML_PATH}.`,
    ExitCode.usage,
  );
}

/**
 * Checks that `path` is a UML kernel: an x86_64 ELF program that answers
 * `--version` with a kernel release. A bzImage or a vmlinux for real
 * hardware fails here with a message, not later with a crash.
 */
async function checkUmlBinary(path: string, opts: { verbose?: boolean }): Promise<UmlKernel> {
  let info;
  try {
    if (!(await stat(path)).isFile()) throw notUml(path, 'is not a file');
    info = await readElfInfo(path);
  } catch (error) {
    if (error instanceof VmctlError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw notUml(path, code === 'ENOENT' ? 'does not exist' : `cannot be read (${(error as Error).message})`);
  }
  if (!info || !isX86_64(info)) throw notUml(path, 'is not an x86_64 ELF program (a bzImage or an image for real hardware cannot run as a process)');
  if (!(await isExecutableFile(path))) throw notUml(path, 'is not executable (chmod +x it)');
  const version = await runHostCommand(path, ['--version'], opts);
  const release = version.stdout.trim();
  // UML prints only its release ("6.1.176"); any other program prints more, or dies.
  if (version.exitCode !== 0 || !/^\d+\.\d+\S*$/.test(release)) {
    throw notUml(path, 'does not answer --version like a User-Mode Linux kernel');
  }
  return { path, release };
}

/** The kernel `--kernel` or the config's "kernel" names, installed or checked. */
export async function resolveUmlKernel(spec: string, opts: { verbose?: boolean } = {}): Promise<UmlKernel> {
  const path = spec === DEBIAN_UML ? await ensureDebianUml(opts) : resolve(spec);
  return checkUmlBinary(path, opts);
}
