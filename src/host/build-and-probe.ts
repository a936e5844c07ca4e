/**
 * `vmctl build-host` end to end: compile what changed, then probe the host
 * and show what it offers, even when part of the tracer failed to compile,
 * so one broken source does not hide whether the host itself is fit.
 */
import { hostBuildDir } from '../paths.ts';
import { buildFailure, buildHost, type BuildOptions } from './build.ts';
import { assertCanRunGuests, formatProbeTable, runProbe, PROBE_EXECUTABLE } from './probe.ts';

export async function buildAndProbe(opts: BuildOptions & { print: (text: string) => void }): Promise<void> {
  const outcomes = await buildHost(opts);
  const probeBuilt = outcomes.some(
    (o) => o.artifact.output === PROBE_EXECUTABLE && (o.status === 'compiled' || o.status === 'up to date'),
  );
  const probe = probeBuilt ? await runProbe(hostBuildDir, { verbose: opts.verbose }) : undefined;
  if (probe) opts.print(formatProbeTable(probe));
  // Missing sources are not an error here: the tracer may not be written yet. `boot` insists on them.
  const failure = buildFailure(outcomes, false);
  if (failure) throw failure;
  if (probe) assertCanRunGuests(probe);
}
