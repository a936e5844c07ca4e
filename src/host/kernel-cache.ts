/**
 * Where patched host kernels are kept, and how one is named: by the version
 * of its sources, a hash of the patch series and a hash of the configuration
 * fragment, so a change to any of them builds a new kernel and an unchanged
 * one is found again. Everything lives under $XDG_CACHE_HOME/vmctl/kernel/,
 * outside the repository.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheDir, packageDir } from '../paths.ts';

/** host-patch/: the series, the config fragment, the userspace ABI header. */
export const hostPatchDir = join(packageDir, 'host-patch');

/** The QEMU configuration, applied to `make tinyconfig` (host-patch/qemu.config). */
export const CONFIG_FRAGMENT = 'qemu.config';

export function kernelCacheDir(): string {
  return join(cacheDir(), 'kernel');
}

/** The patch files of host-patch/series, in order, as absolute paths. */
export async function seriesPatches(): Promise<string[]> {
  const series = await readFile(join(hostPatchDir, 'series'), 'utf8');
  return series
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line !== '')
    .map((name) => join(hostPatchDir, name));
}

function shortHash(hash: ReturnType<typeof createHash>): string {
  return hash.digest('hex').slice(0, 10);
}

/**
 * The changes a patch makes: from its first `diff --git` to the end, without
 * the signature git format-patch ends it with. A commit message reworded
 * builds the same kernel, so it does not count.
 */
export function patchChanges(text: string): string {
  const start = text.search(/^diff --git /m);
  return (start < 0 ? text : text.slice(start)).replace(/^-- \n[\s\S]*$/m, '');
}

/** A hash of the series: the changes of its patches, in order. */
export async function patchHash(): Promise<string> {
  const hash = createHash('sha256');
  for (const patch of await seriesPatches()) {
    hash.update('\0');
    hash.update(patchChanges(await readFile(patch, 'utf8')));
  }
  return shortHash(hash);
}

/** A hash of the configuration fragment; comments and blank lines count too, which is harmless. */
export async function configHash(): Promise<string> {
  return shortHash(createHash('sha256').update(await readFile(join(hostPatchDir, CONFIG_FRAGMENT))));
}

/** A short hash of anything, for source identities. */
export function hashOf(text: string): string {
  return shortHash(createHash('sha256').update(text));
}

/** What build-info.json beside each cached bzImage says. */
export interface KernelBuildInfo {
  /** `make kernelversion` of the sources, e.g. 6.1.192. */
  kernelVersion: string;
  /** Where the sources came from, e.g. "Debian linux-source-6.1 6.1.192-2" or a directory. */
  source: string;
  /** Identifies the sources: the Debian package version, or a hash of the directory's path and git HEAD. */
  sourceId: string;
  patchHash: string;
  configHash: string;
  /** ISO date of the build. */
  builtAt: string;
  /** Wall-clock seconds of the build (configuration and make), without fetching and unpacking. */
  buildSeconds: number;
  /** Seconds from nothing to bzImage, unpacking and patching the sources included, when they were. */
  totalSeconds: number;
  /** Seconds spent unpacking (or copying) and patching the sources; 0 when they were already there. */
  unpackSeconds?: number;
  /** Lines make printed: the next build of the same configuration shows a percentage from it. */
  makeLines?: number;
  /** make -j of the build. */
  jobs: number;
}

export interface CachedKernel {
  dir: string;
  bzImage: string;
  info: KernelBuildInfo;
}

/** The directory name of one kernel: source, patches and config, readable at a glance. */
export function kernelKey(kernelVersion: string, sourceId: string, patches: string, config: string): string {
  return `${kernelVersion}-${hashOf(sourceId)}-p${patches}-c${config}`;
}

export const BUILD_INFO = 'build-info.json';

/** Every complete kernel in the cache (a bzImage and its build-info.json), newest first. */
export async function cachedKernels(): Promise<CachedKernel[]> {
  const root = kernelCacheDir();
  let names: string[];
  try {
    names = await readdir(root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const kernels: CachedKernel[] = [];
  for (const name of names) {
    const dir = join(root, name);
    try {
      const info = JSON.parse(await readFile(join(dir, BUILD_INFO), 'utf8')) as KernelBuildInfo;
      kernels.push({ dir, bzImage: join(dir, 'bzImage'), info });
    } catch {
      // Not a kernel (sources, build trees) or an interrupted one.
    }
  }
  return kernels.sort((a, b) => b.info.builtAt.localeCompare(a.info.builtAt));
}

/**
 * The newest cached kernel built from the current host-patch/ series and
 * configuration, whatever its sources: what `vmctl host-vm` boots by default.
 */
export async function currentCachedKernel(): Promise<CachedKernel | undefined> {
  const [patches, config] = [await patchHash(), await configHash()];
  return (await cachedKernels()).find((k) => k.info.patchHash === patches && k.info.configHash === config);
}
