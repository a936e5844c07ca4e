/**
 * The default guest's root filesystem: a static busybox, its applet links and
 * a small /etc, assembled once into $XDG_CACHE_HOME/vmctl/rootfs/.
 *
 * The binary comes from a static /bin/busybox on the host when there is one,
 * else from Debian's busybox-static package, fetched with `apt-get download`
 * and unpacked with `dpkg -x`, neither of which needs root.
 */
import { createHash } from 'node:crypto';
import { access, chmod, copyFile, mkdir, mkdtemp, readdir, readFile, realpath, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { ExitCode, VmctlError } from '../errors.ts';
import { progress, runHostCommand } from '../host-command.ts';
import { aptErrorLines, aptGetUpdate, aptSandboxOptions, hasAptGet, isRoot } from '../host/apt.ts';
import { pathExists } from '../path-exists.ts';
import { cacheDir } from '../paths.ts';
import { BUSYBOX_DIRS, BUSYBOX_FILES } from './busybox-files.ts';
import { isStaticX86_64, readElfInfo } from './elf.ts';

/** The name guest configs use for this root filesystem (`"rootfs": "busybox"`). */
export const BUSYBOX_ROOTFS = 'busybox';

const DEBIAN_PACKAGE = 'busybox-static';
const HOST_BUSYBOX_PATHS = ['/bin/busybox', '/usr/bin/busybox'];

interface Options {
  verbose?: boolean;
}

function rootfsError(message: string): VmctlError {
  return new VmctlError(message, ExitCode.rootfs);
}

/** Hash of what vmctl itself writes into the root, so changing /sbin/init or /etc reassembles it. */
function layoutHash(): string {
  return createHash('sha256').update(JSON.stringify({ BUSYBOX_DIRS, BUSYBOX_FILES })).digest('hex').slice(0, 8);
}

/** Debian versions carry an epoch ("1:1.35.0-4") that has no place in a directory name. */
function versionForPath(version: string): string {
  return version.replace(/^\d+:/, '').replace(/[^A-Za-z0-9.+~_-]/g, '_');
}

/** A static x86_64 busybox of the host's, usable as is in a guest. */
async function findHostStaticBusybox(): Promise<string | undefined> {
  for (const candidate of HOST_BUSYBOX_PATHS) {
    try {
      const path = await realpath(candidate);
      if (isStaticX86_64(await readElfInfo(path))) return path;
    } catch {
      // Absent or unreadable: try the next one.
    }
  }
  return undefined;
}

/** The version a busybox binary reports in its banner: "BusyBox v1.35.0 (Debian 1:1.35.0-4+b3) multi-call binary." */
async function bannerVersion(binary: string, opts: Options): Promise<string> {
  const result = await runHostCommand(binary, ['--help'], opts);
  const match = /BusyBox v([^\s]+)(?: \(Debian ([^)]+)\))?/.exec(result.all);
  if (!match) throw rootfsError(`${binary} does not look like busybox: its --help has no "BusyBox v…" banner.`);
  return match[2] ?? match[1];
}

/** The version apt would download, refreshing the package lists once when it knows none. */
async function aptCandidateVersion(opts: Options): Promise<string> {
  if (!(await hasAptGet())) {
    throw rootfsError(
      'the busybox guest needs a static busybox: this host has no static /bin/busybox and no apt-get to fetch ' +
        `Debian's ${DEBIAN_PACKAGE}. Put a static x86_64 busybox at /bin/busybox, or boot your own root with --rootfs DIR.`,
    );
  }
  const show = () => runHostCommand('apt-cache', ['show', '--no-all-versions', DEBIAN_PACKAGE], opts);
  let result = await show();
  if (result.exitCode !== 0 && isRoot()) {
    await aptGetUpdate(opts);
    result = await show();
  }
  const version = /^Version: (.+)$/m.exec(result.stdout)?.[1]?.trim();
  if (result.exitCode !== 0 || !version) {
    throw rootfsError(
      `apt does not know the ${DEBIAN_PACKAGE} package yet: run \`sudo apt-get update\` and boot again ` +
        `(or install ${DEBIAN_PACKAGE}, whose static /bin/busybox vmctl then reuses).`,
    );
  }
  return version;
}

/** Where apt keeps its package lists: the candidate version changes only when they do. */
const APT_LISTS = '/var/lib/apt/lists';

/** The newest modification time among apt's package lists (0 when unreadable). */
async function aptListsStamp(): Promise<number> {
  try {
    let newest = (await stat(APT_LISTS)).mtimeMs;
    for (const name of await readdir(APT_LISTS)) {
      if (name.endsWith('Packages') || name.endsWith('Packages.lz4') || name.endsWith('Packages.xz')) {
        newest = Math.max(newest, (await stat(join(APT_LISTS, name))).mtimeMs);
      }
    }
    return newest;
  } catch {
    return 0;
  }
}

/**
 * aptCandidateVersion() takes about a second (apt-cache reads every list),
 * which every boot would pay: its answer is kept beside the assembled roots
 * and reused while apt's package lists are unchanged.
 */
async function cachedAptCandidateVersion(opts: Options): Promise<string> {
  const file = join(cacheDir(), 'rootfs', 'apt-candidate.json');
  const stamp = await aptListsStamp();
  try {
    const saved = JSON.parse(await readFile(file, 'utf8')) as { stamp?: unknown; version?: unknown };
    if (stamp > 0 && saved.stamp === stamp && typeof saved.version === 'string') return saved.version;
  } catch {
    // no answer kept yet, or an unreadable one: ask apt
  }
  const version = await aptCandidateVersion(opts);
  try {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify({ stamp: await aptListsStamp(), version }));
  } catch {
    // a read-only cache only costs the next boot the same second
  }
  return version;
}

/** Downloads and unpacks busybox-static into workDir; returns the path of its busybox binary. */
async function fetchDebianBusybox(workDir: string, opts: Options): Promise<string> {
  progress(`downloading Debian's ${DEBIAN_PACKAGE} (apt-get download)…`);
  const download = await runHostCommand('apt-get', [...aptSandboxOptions(), 'download', '-q', DEBIAN_PACKAGE], {
    ...opts,
    cwd: workDir,
  });
  if (download.exitCode !== 0) {
    throw rootfsError(
      `apt-get download ${DEBIAN_PACKAGE} failed:\n${aptErrorLines(download.all)}\n` +
        'Check that this machine reaches its Debian mirror (try `sudo apt-get update`), then boot again.',
    );
  }
  const unpacked = join(workDir, 'package');
  const deb = (await readdir(workDir)).find((name) => name.endsWith('.deb'));
  if (!deb) throw rootfsError(`apt-get download ${DEBIAN_PACKAGE} reported success but left no .deb in ${workDir}.`);
  const extract = await runHostCommand('dpkg', ['-x', join(workDir, deb), unpacked], opts);
  if (extract.exitCode !== 0) {
    throw rootfsError(`dpkg -x ${deb} failed: ${extract.all.trim() || (extract.notFound ? 'dpkg is not installed' : 'no message')}.`);
  }
  for (const candidate of ['bin/busybox', 'usr/bin/busybox']) {
    const path = join(unpacked, candidate);
    try {
      await access(path);
      return path;
    } catch {
      // Debian moved /bin into /usr/bin in later releases: try the other place.
    }
  }
  throw rootfsError(`the ${DEBIAN_PACKAGE} package (${deb}) holds no bin/busybox or usr/bin/busybox.`);
}

/** Makes one link per applet, as `busybox --list-full` names them, pointing relatively at /bin/busybox. */
async function linkApplets(root: string, opts: Options): Promise<number> {
  const busybox = join(root, 'bin/busybox');
  const list = await runHostCommand(busybox, ['--list-full'], opts);
  if (list.exitCode !== 0) throw rootfsError(`${busybox} --list-full failed: ${list.all.trim()}`);
  const generated = new Set(BUSYBOX_FILES.map((f) => f.path));
  let count = 0;
  for (const applet of list.stdout.split('\n').map((line) => line.trim())) {
    // Our own files (the init script) win over the applets of the same name.
    if (applet === '' || applet === 'bin/busybox' || generated.has(applet)) continue;
    const linkPath = join(root, applet);
    await mkdir(dirname(linkPath), { recursive: true });
    // Relative, so the link also resolves when the root is looked at from the host.
    await symlink(relative(dirname(`/${applet}`), '/bin/busybox'), linkPath);
    count++;
  }
  return count;
}

async function populateRoot(root: string, busyboxBinary: string, opts: Options): Promise<void> {
  for (const dir of BUSYBOX_DIRS) {
    await mkdir(join(root, dir.path), { recursive: true });
    // chmod, since mkdir's mode is filtered by the umask and /tmp needs its sticky bit.
    await chmod(join(root, dir.path), dir.mode);
  }
  await copyFile(busyboxBinary, join(root, 'bin/busybox'));
  await chmod(join(root, 'bin/busybox'), 0o755);
  for (const file of BUSYBOX_FILES) {
    await writeFile(join(root, file.path), file.content);
    await chmod(join(root, file.path), file.mode);
  }
  const applets = await linkApplets(root, opts);
  progress(`  ${applets} applet links`);
}


/**
 * Returns the host directory of the busybox root filesystem, assembling it
 * first if this version and layout were never assembled. Assembly happens in
 * a temporary directory renamed into place, so a crash or a concurrent boot
 * never sees half a root.
 */
export async function ensureBusyboxRootfs(opts: Options = {}): Promise<string> {
  const hostBusybox = await findHostStaticBusybox();
  const version = hostBusybox ? await bannerVersion(hostBusybox, opts) : await cachedAptCandidateVersion(opts);
  const rootfsDir = join(cacheDir(), 'rootfs');
  const target = join(rootfsDir, `busybox-${versionForPath(version)}-${layoutHash()}`);
  if (await pathExists(join(target, 'bin/busybox'))) return target;

  progress(`assembling busybox root filesystem in ${target}…`);
  await mkdir(rootfsDir, { recursive: true });
  const work = await mkdtemp(join(rootfsDir, '.assembling-'));
  try {
    let binary = hostBusybox;
    if (binary) progress(`  reusing the host's static ${binary} (BusyBox ${version})`);
    else binary = await fetchDebianBusybox(work, opts);
    if (!isStaticX86_64(await readElfInfo(binary))) {
      throw rootfsError(`${binary} is not a static x86_64 executable, so it cannot run in a guest.`);
    }
    const root = join(work, 'root');
    await mkdir(root);
    await populateRoot(root, binary, opts);
    try {
      await rename(root, target);
    } catch (error) {
      // Another vmctl finished the same root first: theirs is as good as ours.
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !(await pathExists(join(target, 'bin/busybox')))) throw error;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  progress('busybox root filesystem ready');
  return target;
}
