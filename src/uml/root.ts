/**
 * The UML guest's `/`, made from the same root filesystem directories the
 * TypeScript kernel boots, without ever writing to them:
 *
 * - "ubd" (the default): the directory is turned into an ext4 image by
 *   `mke2fs -d`, cached read-only by a fingerprint of the directory's tree in
 *   $XDG_CACHE_HOME/vmctl/uml/, and booted as `ubd0=COW,IMAGE`: UML's block
 *   driver reads the image and writes every changed block to the instance's
 *   own copy-on-write file, `<state>/uml/root.cow`. The COW file belongs to
 *   one image (UML checks the backing file's size and mtime), so when the
 *   root directory changes, a new image is built and the old COW file is
 *   dropped with a note.
 * - "hostfs": UML's hostfs mounts a host directory as `/`. It has no
 *   copy-on-write of its own, so the instance boots a private copy of the
 *   root directory, `<state>/uml/hostfs-root/`, made on its first boot.
 *
 * `--fresh` drops the instance's state directory, and with it both.
 */
import { createHash } from 'node:crypto';
import { access, chmod, constants, link, lstat, mkdir, readdir, readFile, readlink, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ExitCode, VmctlError } from '../errors.ts';
import { progress, runHostCommand } from '../host-command.ts';
import { aptInstall, hasAptGet, isRoot } from '../host/apt.ts';
import { pathExists } from '../path-exists.ts';
import { cacheDir } from '../paths.ts';

export type UmlRootMode = 'ubd' | 'hostfs';
export const UML_ROOT_MODES: readonly UmlRootMode[] = ['ubd', 'hostfs'];

/** How the UML kernel finds its root: the kernel arguments that mount it. */
export interface UmlRoot {
  mode: UmlRootMode;
  kernelArgs: string[];
  /** What to tell --verbose about it. */
  description: string;
}

interface Options {
  verbose?: boolean;
}

const MIB = 1024 * 1024;
const BLOCK = 4096;
/** Room the guest gets to write into beyond what the root holds; the image is sparse, so unused room costs nothing. */
const MIN_IMAGE_BYTES = 1024 * MIB;
const FREE_BYTES = 512 * MIB;


/**
 * UML takes these paths on its kernel command line, which it splits at
 * spaces, and ubd splits its argument at commas.
 */
export function checkKernelArgPath(path: string, what: string): string {
  if (/[\s,"]/.test(path)) {
    throw new VmctlError(
      `the ${what} path ${path} holds a space, a comma or a quote, which the UML kernel command line cannot carry. ` +
        'Point XDG_CACHE_HOME / XDG_STATE_HOME (or --rootfs) at a path without them.',
      ExitCode.usage,
    );
  }
  return path;
}

interface TreeSummary {
  /** sha256 over every entry's path, type, mode, owner, size, mtime and link target. */
  fingerprint: string;
  /** Bytes the tree takes in 4 KiB blocks, a little over what ext4 needs for it. */
  bytes: number;
}

/** Walks the root (without following symlinks) to fingerprint it: any change in it makes a new image. */
async function summarizeTree(root: string): Promise<TreeSummary> {
  const hash = createHash('sha256');
  let bytes = 0;
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(join(root, rel))).sort();
    for (const name of names) {
      const path = join(root, rel, name);
      const st = await lstat(path);
      const entryRel = `${rel}/${name}`;
      const target = st.isSymbolicLink() ? await readlink(path) : '';
      hash.update(`${entryRel}\0${st.mode}\0${st.uid}:${st.gid}\0${st.size}\0${st.mtimeMs}\0${target}\n`);
      bytes += Math.ceil(Math.max(st.size, 1) / BLOCK) * BLOCK;
      if (st.isDirectory()) await walk(entryRel);
    }
  };
  await walk('');
  return { fingerprint: hash.digest('hex').slice(0, 16), bytes };
}

async function findMke2fs(opts: Options): Promise<string> {
  // Debian keeps mke2fs in /usr/sbin, which is not on an ordinary user's PATH.
  const candidates = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/sbin'].map((dir) => join(dir, 'mke2fs'));
  const find = async () => {
    for (const candidate of candidates) {
      try {
        await access(candidate, constants.X_OK);
        return candidate;
      } catch {
        // Not there: try the next directory.
      }
    }
    return undefined;
  };
  const found = await find();
  if (found) return found;
  if (isRoot() && (await hasAptGet())) {
    await aptInstall(['e2fsprogs'], opts);
    const installed = await find();
    if (installed) return installed;
  }
  throw new VmctlError(
    'building the UML root image needs mke2fs, which is not installed: run `sudo apt-get install e2fsprogs`, ' +
      'or boot with --uml-root hostfs.',
    ExitCode.host,
  );
}

/**
 * The ext4 image of `lowerRoot`, built on first use. It is written under a
 * temporary name and linked into place, so a concurrent boot never sees
 * half an image and never replaces one a running UML reads (which would
 * invalidate every COW file over it), then made read-only.
 */
export async function ensureRootImage(lowerRoot: string, opts: Options = {}): Promise<string> {
  const tree = await summarizeTree(lowerRoot);
  const dir = join(cacheDir(), 'uml');
  const image = join(dir, `${basename(lowerRoot) || 'root'}-${tree.fingerprint}.ext4`);
  if (await pathExists(image)) return image;

  const mke2fs = await findMke2fs(opts);
  await mkdir(dir, { recursive: true });
  const size = Math.max(MIN_IMAGE_BYTES, Math.ceil((tree.bytes * 2 + FREE_BYTES) / MIB) * MIB);
  const work = join(dir, `.building-${process.pid}-${basename(image)}`);
  progress(`building the UML root image ${image} from ${lowerRoot} (mke2fs -d)…`);
  try {
    // lazy_itable_init=0 zeroes the inode tables now, once, instead of the
    // guest kernel's lazyinit thread doing it into every fresh COW file;
    // lazy_journal_init=1 leaves the journal a hole, as the sparse file reads zeros anyway.
    const result = await runHostCommand(
      mke2fs,
      ['-q', '-F', '-t', 'ext4', '-L', 'vmctl-root', '-E', 'lazy_itable_init=0,lazy_journal_init=1', '-d', lowerRoot, work, `${size / 1024}k`],
      opts,
    );
    if (result.exitCode !== 0) {
      throw new VmctlError(`mke2fs could not build the UML root image from ${lowerRoot}:\n${result.all.trim()}`, ExitCode.rootfs);
    }
    await chmod(work, 0o444);
    try {
      await link(work, image);
    } catch (error) {
      // Another vmctl built the same image first: keep theirs, which a UML may already be reading.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  } finally {
    await rm(work, { force: true });
  }
  return image;
}

/** ubd0=COW,IMAGE: the image stays read-only; the instance's writes go to its COW file. */
async function prepareUbdRoot(lowerRoot: string, umlState: string, opts: Options): Promise<UmlRoot> {
  const image = checkKernelArgPath(await ensureRootImage(lowerRoot, opts), 'UML root image');
  const cow = checkKernelArgPath(join(umlState, 'root.cow'), 'UML copy-on-write file');
  const note = join(umlState, 'root.cow.image');
  const previous = (await readFile(note, 'utf8').catch(() => '')).trim();
  if (previous !== image) {
    if (previous !== '' && (await pathExists(cow))) {
      progress(`the root filesystem changed since this guest's last UML boot: its copy-on-write file starts fresh (was over ${previous})`);
    }
    await rm(cow, { force: true });
    // Written first: a COW file is only ever used over the image named here.
    await writeFile(note, `${image}\n`);
  }
  return {
    mode: 'ubd',
    kernelArgs: [`ubd0=${cow},${image}`, 'root=/dev/ubda', 'rw'],
    description: `ubd0 ${image}, copy-on-write ${cow}`,
  };
}

/** hostfs on a private copy of the root, made once per instance with `cp -a`. */
async function prepareHostfsRoot(lowerRoot: string, umlState: string, opts: Options): Promise<UmlRoot> {
  const copy = checkKernelArgPath(join(umlState, 'hostfs-root'), 'UML hostfs root');
  if (!(await pathExists(copy))) {
    progress(`copying ${lowerRoot} to ${copy} for the hostfs root…`);
    const work = `${copy}.copying-${process.pid}`;
    await rm(work, { recursive: true, force: true });
    const result = await runHostCommand('cp', ['-a', '--', lowerRoot, work], opts);
    if (result.exitCode !== 0) {
      await rm(work, { recursive: true, force: true });
      throw new VmctlError(`could not copy ${lowerRoot} for the hostfs root: ${result.all.trim()}`, ExitCode.rootfs);
    }
    await rename(work, copy);
  }
  return {
    mode: 'hostfs',
    kernelArgs: ['rootfstype=hostfs', `rootflags=${copy}`, 'rw'],
    description: `hostfs ${copy}`,
  };
}

/** The root for one boot; `umlState` is the instance's `<state>/uml` directory. */
export async function prepareUmlRoot(mode: UmlRootMode, lowerRoot: string, umlState: string, opts: Options = {}): Promise<UmlRoot> {
  await mkdir(umlState, { recursive: true });
  return mode === 'hostfs' ? prepareHostfsRoot(lowerRoot, umlState, opts) : prepareUbdRoot(lowerRoot, umlState, opts);
}

