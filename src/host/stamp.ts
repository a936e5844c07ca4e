/**
 * Build stamps: a hash of everything an output depends on (its sources, the
 * compiler command line, the compiler's version), stored beside the output.
 * An output whose stamp matches is up to date and is not rebuilt.
 */
import { createHash } from 'node:crypto';
import { access, readFile, rename, writeFile } from 'node:fs/promises';
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

export async function isUpToDate(buildDir: string, artifact: Artifact, hash: string): Promise<boolean> {
  try {
    await access(join(buildDir, artifact.output));
    return (await readFile(stampPath(buildDir, artifact), 'utf8')).trim() === hash;
  } catch {
    return false;
  }
}

/** Written only after the output is in place, so a crash mid-build leaves a stale stamp, never a lying one. */
export async function writeStamp(buildDir: string, artifact: Artifact, hash: string): Promise<void> {
  const path = stampPath(buildDir, artifact);
  const temp = `${path}.tmp-${process.pid}`;
  await writeFile(temp, `${hash}\n`);
  await rename(temp, path);
}
