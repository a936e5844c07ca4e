/**
 * `vmctl build-host --kernel`: a host kernel with the vmctl helper patch,
 * small enough to build in minutes and boot in QEMU (`vmctl host-vm`).
 *
 * Sources come from a directory (--kernel-src) or Debian's linux-source-6.1
 * (installed with apt-get when missing). They are unpacked or copied under
 * $XDG_CACHE_HOME/vmctl/kernel/, never modified where they are, and patched
 * with host-patch/series there. The configuration is `make tinyconfig` plus
 * host-patch/qemu.config, applied with scripts/config and `make
 * olddefconfig`, and every option of the fragment must survive. The bzImage
 * is kept by source version, patch hash and config hash: building again with
 * nothing changed is instant, and changing any of them builds anew, reusing
 * the patched sources and the object files where it can.
 */
import { access, copyFile, mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, join, relative } from 'node:path';
import { ExitCode, VmctlError } from '../errors.ts';
import { progress, runHostCommand } from '../host-command.ts';
import { aptInstall, hasAptGet, isRoot } from './apt.ts';
import {
  BUILD_INFO,
  CONFIG_FRAGMENT,
  type CachedKernel,
  cachedKernels,
  configHash,
  hashOf,
  hostPatchDir,
  type KernelBuildInfo,
  kernelCacheDir,
  kernelKey,
  patchHash,
  seriesPatches,
} from './kernel-cache.ts';
import { formatDuration, runStreamed } from './streamed-command.ts';

export const DEBIAN_SOURCE_PACKAGE = 'linux-source-6.1';
export const DEBIAN_SOURCE_TARBALL = `/usr/src/${DEBIAN_SOURCE_PACKAGE}.tar.xz`;

export interface KernelBuildOptions {
  /** A kernel source tree to use instead of Debian's linux-source-6.1. */
  kernelSrc?: string;
  /** Unpack, patch, configure and build again from nothing. */
  force?: boolean;
  verbose?: boolean;
}

export interface KernelBuildOutcome {
  kernel: CachedKernel;
  /** False when the cache already held it. */
  built: boolean;
}

/** Where the sources come from, and what identifies them. */
interface KernelSources {
  /** e.g. "Debian linux-source-6.1 6.1.192-2" or "/home/me/linux". */
  description: string;
  /** Part of the cache key: the Debian version, or the directory and its git commit. */
  id: string;
  /** `make kernelversion`. */
  kernelVersion: string;
  /** Puts the pristine sources into an empty directory. */
  unpack: (into: string, verbose: boolean) => Promise<void>;
}

function buildError(message: string): VmctlError {
  return new VmctlError(message, ExitCode.build);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs a step that must succeed; its output is the error message otherwise. */
async function mustRun(what: string, file: string, args: string[], opts: { cwd?: string; verbose?: boolean } = {}): Promise<string> {
  const result = await runHostCommand(file, args, opts);
  if (result.exitCode !== 0) {
    const output = result.notFound ? `${file} is not installed` : result.all.trim().split('\n').slice(-30).join('\n');
    throw buildError(`${what} failed:\n${output}`);
  }
  return result.stdout;
}

/** The Debian packages a kernel build needs, by what shows they are there. */
const BUILD_TOOLS: { package: string; present: string }[] = [
  { package: 'make', present: '/usr/bin/make' },
  { package: 'gcc', present: '/usr/bin/gcc' },
  { package: 'libc6-dev', present: '/usr/include/stdio.h' },
  { package: 'flex', present: '/usr/bin/flex' },
  { package: 'bison', present: '/usr/bin/bison' },
  { package: 'bc', present: '/usr/bin/bc' },
  { package: 'libelf-dev', present: '/usr/include/libelf.h' },
  { package: 'xz-utils', present: '/usr/bin/xz' },
  { package: 'patch', present: '/usr/bin/patch' },
  { package: 'perl', present: '/usr/bin/perl' },
];

async function ensureBuildTools(verbose: boolean): Promise<void> {
  const missing: string[] = [];
  for (const tool of BUILD_TOOLS) if (!(await exists(tool.present))) missing.push(tool.package);
  if (missing.length === 0) return;
  if (!isRoot() || !(await hasAptGet())) {
    throw new VmctlError(
      `building a kernel needs ${missing.join(', ')}: install ${missing.length > 1 ? 'them' : 'it'} with ` +
        `\`sudo apt-get install ${missing.join(' ')}\`, then run \`vmctl build-host --kernel\` again.`,
      ExitCode.host,
    );
  }
  progress(`the kernel build needs ${missing.join(', ')}; installing with apt-get…`);
  try {
    await aptInstall(missing, { verbose });
  } catch (error) {
    throw new VmctlError(`${(error as Error).message}\nInstall them by hand, then run \`vmctl build-host --kernel\` again.`, ExitCode.host);
  }
}

/** Debian's linux-source-6.1, installed with apt-get when it is not there. */
async function debianSources(verbose: boolean): Promise<KernelSources> {
  if (!(await exists(DEBIAN_SOURCE_TARBALL))) {
    if (!isRoot() || !(await hasAptGet())) {
      throw new VmctlError(
        `Debian's kernel sources are not installed (${DEBIAN_SOURCE_TARBALL}): install them with ` +
          `\`sudo apt-get install ${DEBIAN_SOURCE_PACKAGE}\`, or pass --kernel-src DIR.`,
        ExitCode.host,
      );
    }
    progress(`${DEBIAN_SOURCE_TARBALL} is missing; installing ${DEBIAN_SOURCE_PACKAGE} with apt-get (about 140 MB)…`);
    try {
      await aptInstall([DEBIAN_SOURCE_PACKAGE], { verbose });
    } catch (error) {
      throw new VmctlError(`${(error as Error).message}\nOr pass --kernel-src DIR with a Linux 6.1 source tree.`, ExitCode.host);
    }
  }
  const version = (await mustRun('dpkg-query', 'dpkg-query', ['-W', '-f=${Version}', DEBIAN_SOURCE_PACKAGE], { verbose })).trim();
  const upstream = /^(\d+\.\d+(?:\.\d+)?)/.exec(version)?.[1];
  if (!upstream) throw buildError(`cannot read the kernel version in ${DEBIAN_SOURCE_PACKAGE}'s version "${version}"`);
  return {
    description: `Debian ${DEBIAN_SOURCE_PACKAGE} ${version}`,
    id: `debian:${DEBIAN_SOURCE_PACKAGE}:${version}`,
    kernelVersion: upstream,
    unpack: async (into, v) => {
      progress(`unpacking ${DEBIAN_SOURCE_TARBALL}…`);
      await mustRun(`unpacking ${DEBIAN_SOURCE_TARBALL}`, 'tar', ['-xf', DEBIAN_SOURCE_TARBALL, '-C', into, '--strip-components=1'], {
        verbose: v,
      });
    },
  };
}

/** A source tree given with --kernel-src: copied (without .git), never patched in place. */
async function directorySources(dir: string, verbose: boolean): Promise<KernelSources> {
  let root: string;
  try {
    root = await realpath(dir);
  } catch {
    throw new VmctlError(`--kernel-src ${dir}: no such directory.`, ExitCode.usage);
  }
  if (!(await exists(join(root, 'Makefile'))) || !(await exists(join(root, 'kernel', 'ptrace.c')))) {
    throw new VmctlError(`--kernel-src ${dir} is not a Linux source tree (no Makefile and kernel/ptrace.c).`, ExitCode.usage);
  }
  const kernelVersion = (await mustRun('make kernelversion', 'make', ['-s', '-C', root, 'kernelversion'], { verbose })).trim();
  // A git tree is known by its commit and its changes; anything else by where it is and when its Makefile changed.
  const head = await runHostCommand('git', ['-C', root, 'rev-parse', 'HEAD'], { verbose });
  let id = `dir:${root}:`;
  if (head.exitCode === 0) {
    const diff = await runHostCommand('git', ['-C', root, 'diff', 'HEAD'], { verbose });
    id += `git:${head.stdout.trim()}:${hashOf(diff.stdout)}`;
  } else {
    id += `mtime:${(await stat(join(root, 'Makefile'))).mtimeMs}`;
  }
  return {
    description: root,
    id,
    kernelVersion,
    unpack: async (into, v) => {
      progress(`copying ${root} (without .git)…`);
      await mustRun(`copying ${root}`, 'sh', ['-c', 'tar -C "$1" --exclude=./.git -cf - . | tar -C "$2" -xf -', 'sh', root, into], {
        verbose: v,
      });
      // A tree built in place refuses `make O=`: clean the copy.
      if (await exists(join(into, '.config'))) await mustRun('make mrproper', 'make', ['-s', '-C', into, 'mrproper'], { verbose: v });
    },
  };
}

const PATCHED_STAMP = '.vmctl-patched';

/** The unpacked, patched sources for this source and series, made once and kept. */
async function patchedSources(sources: KernelSources, patches: string, opts: KernelBuildOptions): Promise<string> {
  const dir = join(kernelCacheDir(), `src-${sources.kernelVersion}-${hashOf(sources.id)}-p${patches}`);
  const stamp = `${sources.id}\n${patches}\n`;
  if (!opts.force) {
    try {
      if ((await readFile(join(dir, PATCHED_STAMP), 'utf8')) === stamp) return dir;
    } catch {
      // Not there, or interrupted: made again below.
    }
  }
  // A build killed while unpacking leaves 1.5 GB behind: clear them all.
  for (const name of await readdir(kernelCacheDir()).catch(() => [] as string[])) {
    if (name.startsWith(`${basename(dir)}.tmp-`)) await rm(join(kernelCacheDir(), name), { recursive: true, force: true });
  }
  const temp = `${dir}.tmp-${process.pid}`;
  await mkdir(temp, { recursive: true });
  try {
    await sources.unpack(temp, opts.verbose ?? false);
    for (const patch of await seriesPatches()) {
      progress(`applying ${relative(process.cwd(), patch).startsWith('..') ? patch : relative(process.cwd(), patch)}`);
      const result = await runHostCommand('patch', ['-p1', '--forward', '--batch', '-d', temp, '-i', patch], { verbose: opts.verbose });
      if (result.exitCode !== 0) {
        const output = result.all.trim().split('\n');
        const hint = /Reversed \(or previously applied\) patch detected/.test(result.all)
          ? 'These sources seem to carry the series already: pass a tree without it.'
          : `The series is made for Debian's ${DEBIAN_SOURCE_PACKAGE}; for other sources, rebase it (see host-patch/README.md).`;
        throw buildError(
          `${basename(patch)} does not apply to ${sources.description}:\n${output.slice(0, 25).join('\n')}` +
            `${output.length > 25 ? '\n…' : ''}\n${hint}`,
        );
      }
    }
    await writeFile(join(temp, PATCHED_STAMP), stamp);
    await rm(dir, { recursive: true, force: true });
    await rename(temp, dir);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  return dir;
}

/** host-patch/qemu.config as scripts/config arguments, and what must hold afterwards. */
export function parseFragment(text: string): { args: string[]; enabled: string[]; disabled: string[] } {
  const enabled: string[] = [];
  const disabled: string[] = [];
  for (const line of text.split('\n')) {
    const on = /^CONFIG_(\w+)=y\s*$/.exec(line);
    const off = /^# CONFIG_(\w+) is not set\s*$/.exec(line);
    if (on) enabled.push(on[1]!);
    else if (off) disabled.push(off[1]!);
    else if (line.trim() !== '' && !line.startsWith('#')) throw buildError(`host-patch/${CONFIG_FRAGMENT}: cannot read "${line}"`);
  }
  return {
    args: [...enabled.flatMap((o) => ['--enable', o]), ...disabled.flatMap((o) => ['--disable', o])],
    enabled,
    disabled,
  };
}

const CONFIG_STAMP = '.vmctl-config';

/** tinyconfig plus the fragment, in the build directory; skipped when it is already that. */
async function configure(src: string, build: string, stampText: string, verbose: boolean): Promise<void> {
  try {
    if ((await readFile(join(build, CONFIG_STAMP), 'utf8')) === stampText) return;
  } catch {
    // Configured below.
  }
  const fragment = parseFragment(await readFile(join(hostPatchDir, CONFIG_FRAGMENT), 'utf8'));
  progress(`configuring: make tinyconfig, then host-patch/${CONFIG_FRAGMENT} (${fragment.enabled.length} options)…`);
  await mustRun('make tinyconfig', 'make', ['-s', '-C', src, `O=${build}`, 'tinyconfig'], { verbose });
  await mustRun('scripts/config', join(src, 'scripts', 'config'), ['--file', join(build, '.config'), ...fragment.args], { verbose });
  await mustRun('make olddefconfig', 'make', ['-s', '-C', src, `O=${build}`, 'olddefconfig'], { verbose });
  const config = await readFile(join(build, '.config'), 'utf8');
  const lost = fragment.enabled.filter((o) => !config.includes(`\nCONFIG_${o}=y\n`));
  const kept = fragment.disabled.filter((o) => config.includes(`\nCONFIG_${o}=y\n`));
  if (lost.length > 0 || kept.length > 0) {
    const parts = [
      ...(lost.length ? [`unset after olddefconfig (a dependency is missing): ${lost.map((o) => `CONFIG_${o}`).join(', ')}`] : []),
      ...(kept.length ? [`still set: ${kept.map((o) => `CONFIG_${o}`).join(', ')}`] : []),
    ];
    throw buildError(`the kernel configuration does not hold host-patch/${CONFIG_FRAGMENT}: ${parts.join('; ')}. Fix the fragment.`);
  }
  await writeFile(join(build, CONFIG_STAMP), stampText);
}

/** What the last build of this configuration printed, for a percentage. */
async function expectedLines(configKey: string): Promise<number | undefined> {
  const previous = (await cachedKernels()).find((k) => k.info.configHash === configKey);
  return previous?.info.makeLines;
}

/** Builds (or finds) the patched kernel and returns where its bzImage is. */
export async function buildHostKernel(opts: KernelBuildOptions = {}): Promise<KernelBuildOutcome> {
  const verbose = opts.verbose ?? false;
  const started = Date.now();
  const sources = opts.kernelSrc ? await directorySources(opts.kernelSrc, verbose) : await debianSources(verbose);
  const [patches, config] = [await patchHash(), await configHash()];
  const key = kernelKey(sources.kernelVersion, sources.id, patches, config);
  const outDir = join(kernelCacheDir(), key);

  if (!opts.force) {
    const cached = (await cachedKernels()).find((k) => k.dir === outDir);
    if (cached && (await exists(cached.bzImage))) {
      progress(`patched kernel up to date: ${cached.bzImage}`);
      return { kernel: cached, built: false };
    }
  }
  await ensureBuildTools(verbose);
  progress(`building a patched host kernel: ${sources.description} (Linux ${sources.kernelVersion}), series ${patches}, config ${config}`);
  const unpackStart = Date.now();
  const src = await patchedSources(sources, patches, opts);
  const unpackSeconds = (Date.now() - unpackStart) / 1000;

  const buildStart = Date.now();
  const build = join(kernelCacheDir(), `build-${key}`);
  if (opts.force) await rm(build, { recursive: true, force: true });
  await mkdir(build, { recursive: true });
  await configure(src, build, `${sources.id}\n${patches}\n${config}\n`, verbose);

  const jobs = availableParallelism();
  const make = await runStreamed('make', ['-C', src, `O=${build}`, `-j${jobs}`, 'bzImage'], {
    verbose,
    label: `building bzImage (make -j${jobs})`,
    expectedLines: await expectedLines(config),
  });
  if (make.exitCode !== 0) {
    throw buildError(
      `the kernel build failed (make exited with ${make.exitCode ?? 'a signal'}); its last lines:\n${make.tail.join('\n')}\n` +
        `The tree is in ${src}, the objects in ${build}; run \`vmctl build-host --kernel --verbose\` to see every line.`,
    );
  }
  const buildSeconds = (Date.now() - buildStart) / 1000;

  const temp = `${outDir}.tmp-${process.pid}`;
  await rm(temp, { recursive: true, force: true });
  await mkdir(temp, { recursive: true });
  await copyFile(join(build, 'arch', 'x86', 'boot', 'bzImage'), join(temp, 'bzImage'));
  await copyFile(join(build, '.config'), join(temp, 'config'));
  const info: KernelBuildInfo = {
    kernelVersion: sources.kernelVersion,
    source: sources.description,
    sourceId: sources.id,
    patchHash: patches,
    configHash: config,
    builtAt: new Date().toISOString(),
    buildSeconds: Math.round(buildSeconds),
    totalSeconds: Math.round((Date.now() - started) / 1000),
    unpackSeconds: Math.round(unpackSeconds),
    jobs,
    makeLines: make.lines,
  };
  await writeFile(join(temp, BUILD_INFO), `${JSON.stringify(info, null, 2)}\n`);
  await rm(outDir, { recursive: true, force: true });
  await rename(temp, outDir);
  progress(
    `patched kernel built in ${formatDuration(buildSeconds)} (make -j${jobs}; ${formatDuration(info.totalSeconds)} with ` +
      `unpacking and patching): ${join(outDir, 'bzImage')}`,
  );
  return { kernel: { dir: outDir, bzImage: join(outDir, 'bzImage'), info }, built: true };
}
