/**
 * Build stamps: a hash of everything an output depends on (its sources, the
 * compiler command line, the compiler's version), stored beside the output.
 * An output whose stamp matches is up to date and is not rebuilt.
 *
 * Hashing needs every source read and the compiler run (`cc --version`),
 * and `vmctl boot` checks the stamps every time, so the stamp also holds a
 * fingerprint: the size and mtime of each input and of the compiler's
 * file, which are only stat'ed. A fingerprint that matches the stamp's
 * means nothing was written since the hash was taken; any change falls
 * back to the hash.
 */
import { createHash } from 'node:crypto';
import { access, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { packageDir } from '../paths.ts';
import type { Artifact } from './artifacts.ts';

function stampPath(buildDir: string, artifact: Artifact): string {
  return join(buildDir, `.${artifact.output}.stamp`);
}

export async function artifactHash(artifact: Artifact, compilerVersion: string): Promise<string> {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ flags: artifact.flags, compilerVersion }));
  for (const input of artifact.inputs) {
    // The name matters too: renaming a header must rebuild.
    hash.update(`\0${relative(packageDir, input)}\0`);
    hash.update(await readFile(input));
  }
  return hash.digest('hex');
}

/**
 * The artifact's inputs and compiler as the file system describes them
 * (compilerFile: toolchain.ts's compilerFileState()). Taken before the
 * sources are read, so an edit made meanwhile leaves a fingerprint that no
 * longer matches, never one that vouches for text the hash did not see.
 */
export async function artifactFingerprint(artifact: Artifact, compilerFile: string): Promise<string> {
  const inputs = await Promise.all(artifact.inputs.map(async (input) => {
    const st = await stat(input);
    return [relative(packageDir, input), st.size, st.mtimeMs];
  }));
  return JSON.stringify({ flags: artifact.flags, compilerFile, inputs });
}

/** The stamp's lines: the hash, then the fingerprint it was taken with. */
async function readStamp(buildDir: string, artifact: Artifact): Promise<string[] | undefined> {
  try {
    await access(join(buildDir, artifact.output));
    return (await readFile(stampPath(buildDir, artifact), 'utf8')).split('\n');
  } catch {
    return undefined;
  }
}

export async function isUpToDate(buildDir: string, artifact: Artifact, hash: string): Promise<boolean> {
  return (await readStamp(buildDir, artifact))?.[0] === hash;
}

/** Up to date by fingerprint alone: the output is there and its stamp was written with this fingerprint. */
export async function isUnchanged(buildDir: string, artifact: Artifact, fingerprint: string): Promise<boolean> {
  return (await readStamp(buildDir, artifact))?.[1] === fingerprint;
}

/** Written only after the output is in place, so a crash mid-build leaves a stale stamp, never a lying one. */
export async function writeStamp(buildDir: string, artifact: Artifact, hash: string, fingerprint: string): Promise<void> {
  const path = stampPath(buildDir, artifact);
  const temp = `${path}.tmp-${process.pid}`;
  await writeFile(temp, `${hash}\n${fingerprint}\n`);
  await rename(temp, path);
}
