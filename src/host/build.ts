/**
 * Compiles the host side into build/host/ (what `vmctl build-host` does, and
 * what `vmctl boot` does first when needed). Each output is rebuilt only when
 * its stamp says its sources, flags or compiler changed.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { ExitCode, VmctlError } from '../errors.ts';
import { progress, runHostCommand } from '../host-command.ts';
import { hostBuildDir, packageDir } from '../paths.ts';
import { type Artifact, hostArtifacts } from './artifacts.ts';
import { assertCanRunGuests, type HostProbe, runProbe } from './probe.ts';
import { artifactFingerprint, artifactHash, isUnchanged, isUpToDate, writeStamp } from './stamp.ts';
import { type Compiler, assertSupportedHost, compilerFileState, findCompiler } from './toolchain.ts';

export type BuildStatus = 'compiled' | 'up to date' | 'no sources' | 'failed';

export interface ArtifactOutcome {
  artifact: Artifact;
  status: BuildStatus;
  /** Compiler output, when it failed. */
  log?: string;
}

export interface BuildOptions {
  /** Show every compiler command line. */
  verbose?: boolean;
  /** Rebuild everything, stamps or not. */
  force?: boolean;
  /** Say nothing about outputs that are already up to date. */
  quiet?: boolean;
}

/** A hint for the one compile failure a missing Debian package explains. */
function missingHeaderHint(log: string): string {
  return /fatal error: (stdio|stdlib|errno|signal|unistd)\.h: No such file/.test(log)
    ? '\nThe C library headers are missing: install them with `apt-get install libc6-dev`.'
    : '';
}

async function compile(artifact: Artifact, compiler: Compiler, buildDir: string, verbose: boolean): Promise<string | undefined> {
  const output = join(buildDir, artifact.output);
  // Compile beside the output and rename, so a concurrent boot never loads half a file.
  const temp = join(buildDir, `.${artifact.output}.tmp-${process.pid}`);
  // Paths relative to the package, so a --verbose command line can be pasted there as is.
  const units = artifact.compileUnits.map((unit) => relative(packageDir, unit));
  const args = [...artifact.flags, ...units, '-o', relative(packageDir, temp)];
  const result = await runHostCommand(compiler.command, args, { cwd: packageDir, verbose });
  if (result.exitCode !== 0) {
    await rm(temp, { force: true });
    return result.all.trim() || `${compiler.command} exited with status ${result.exitCode ?? 'unknown'}`;
  }
  await rename(temp, output);
  return undefined;
}

async function buildArtifact(
  artifact: Artifact,
  compiler: Compiler,
  compilerFile: string,
  buildDir: string,
  opts: BuildOptions,
): Promise<ArtifactOutcome> {
  if (artifact.compileUnits.length === 0) return { artifact, status: 'no sources' };
  const fingerprint = await artifactFingerprint(artifact, compilerFile);
  const hash = await artifactHash(artifact, compiler.version);
  if (!opts.force && (await isUpToDate(buildDir, artifact, hash))) {
    // (the same sources under a new fingerprint, e.g. after a checkout: the next run needs no hash;
    // only a saving, so a build directory vmctl may not write, like host-vm's read-only share, is fine)
    await writeStamp(buildDir, artifact, hash, fingerprint).catch(() => undefined);
    return { artifact, status: 'up to date' };
  }
  progress(`compiling ${artifact.output} (${artifact.what}) from ${artifact.sourceDir}/…`);
  const log = await compile(artifact, compiler, buildDir, opts.verbose ?? false);
  if (log !== undefined) return { artifact, status: 'failed', log };
  await writeStamp(buildDir, artifact, hash, fingerprint);
  return { artifact, status: 'compiled' };
}

/**
 * Every output up to date by its fingerprint alone (src/host/stamp.ts), or
 * undefined when anything may have changed: then the compiler is run and
 * the sources are hashed.
 */
async function unchangedOutcomes(artifacts: Artifact[]): Promise<ArtifactOutcome[] | undefined> {
  const compilerFile = await compilerFileState();
  if (compilerFile === undefined) return undefined;
  const unchanged = await Promise.all(artifacts.map(async (artifact) => {
    if (artifact.compileUnits.length === 0) return false;
    try {
      return await isUnchanged(hostBuildDir, artifact, await artifactFingerprint(artifact, compilerFile));
    } catch {
      return false; // (an input gone meanwhile: the full check says what is wrong)
    }
  }));
  return unchanged.every(Boolean) ? artifacts.map((artifact) => ({ artifact, status: 'up to date' })) : undefined;
}

/** Relative to the current directory when below it, for shorter lines. */
function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

function describe(outcome: ArtifactOutcome): string {
  const name = outcome.artifact.output.padEnd(12);
  switch (outcome.status) {
    case 'no sources':
      return `  ${name}  skipped: no sources yet in ${outcome.artifact.sourceDir}/`;
    case 'failed':
      return `  ${name}  FAILED to compile (errors below)`;
    default:
      return `  ${name}  ${outcome.status}`;
  }
}

/** Builds every output, going on past a failure so one broken part does not hide the state of the others. */
export async function buildHost(opts: BuildOptions = {}): Promise<ArtifactOutcome[]> {
  assertSupportedHost();
  const artifacts = await hostArtifacts();
  let outcomes = opts.force ? undefined : await unchangedOutcomes(artifacts);
  if (outcomes === undefined) {
    const compiler = await findCompiler({ verbose: opts.verbose });
    const compilerFile = (await compilerFileState()) ?? '';
    await mkdir(hostBuildDir, { recursive: true });
    outcomes = [];
    for (const artifact of artifacts) {
      outcomes.push(await buildArtifact(artifact, compiler, compilerFile, hostBuildDir, opts));
    }
  }
  const changed = outcomes.some((o) => o.status !== 'up to date');
  if (!opts.quiet || changed) {
    if (!changed) progress(`host side up to date in ${displayPath(hostBuildDir)}`);
    else progress(`host side in ${hostBuildDir}:`);
    for (const outcome of outcomes) progress(describe(outcome));
  }
  return outcomes;
}

/** The error for failed or missing outputs, with the compiler's own messages. */
export function buildFailure(outcomes: ArtifactOutcome[], needAll: boolean): VmctlError | undefined {
  const failed = outcomes.filter((o) => o.status === 'failed');
  const missing = needAll ? outcomes.filter((o) => o.status === 'no sources') : [];
  if (failed.length === 0 && missing.length === 0) return undefined;
  const parts = failed.map(
    (o) => `${o.artifact.output} (${o.artifact.what}) failed to compile:\n${o.log}${missingHeaderHint(o.log ?? '')}`,
  );
  for (const o of missing) parts.push(`${o.artifact.output} (${o.artifact.what}) has no sources in ${o.artifact.sourceDir}/.`);
  parts.push('Fix the sources above, then run `vmctl build-host` again.');
  return new VmctlError(parts.join('\n\n'), ExitCode.build);
}

export interface HostSide {
  /** build/host/: tracer.node, vmctl-stub, vmctl-probe. */
  dir: string;
  probe: HostProbe;
}

/**
 * What `vmctl boot` calls first: builds what is missing or stale, probes the
 * host, and throws the actionable error if this host cannot run a guest.
 */
export async function ensureHostBuilt(opts: { quiet?: boolean; verbose?: boolean } = {}): Promise<HostSide> {
  const outcomes = await buildHost({ quiet: opts.quiet ?? true, verbose: opts.verbose });
  const failure = buildFailure(outcomes, true);
  if (failure) throw failure;
  const probe = await runProbe(hostBuildDir, { verbose: opts.verbose });
  assertCanRunGuests(probe);
  return { dir: hostBuildDir, probe };
}
