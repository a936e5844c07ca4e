// The CLI compiled ahead of time: commands/ and src/ bundled by esbuild into
// build/cli/, so that a run loads plain JavaScript instead of registering
// tsx and transpiling some 120 TypeScript modules (about a third of a
// second of every run, measured).
//
// There is still no compile step for a developer: bin/vmctl.js asks
// upToDateBundle() first, which stats every file the bundle was built from
// (a few ms), and rebuilds when one changed (esbuild takes about 0.3 s).
//
// Layout: each build is a directory of its own, build/cli/<id>/ (the two
// entry points and the chunks they share: code splitting, so that what a
// command loads only inside run() is read only then), and
// build/cli/current.json names the current one and the inputs it was built
// from. A build is complete before current.json is renamed into place, so a
// concurrent vmctl reads either the old bundle or the new one, never half of
// one, and a running vmctl keeps loading its chunks from the directory it
// started with.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));
const bundleRoot = join(packageDir, 'build', 'cli');
const currentFile = join(bundleRoot, 'current.json');

/** The modules oclif loads (package.json: oclif.commands.target, oclif.helpClass), by their name in the bundle. */
const ENTRY_POINTS = { 'commands/index': 'commands/index.ts', 'src/cli/help': 'src/cli/help.ts' };

/**
 * Files that shape the output without being bundled: this file (the build
 * options), tsconfig.json (esbuild reads its compiler options) and
 * esbuild's own version.
 */
function buildConfigFiles() {
  return [fileURLToPath(import.meta.url), join(packageDir, 'tsconfig.json'),
    createRequire(import.meta.url).resolve('esbuild/package.json')];
}

/** What a file looked like: a changed mtime or size means it was written since. */
function fileState(path) {
  const st = statSync(path, { throwIfNoEntry: false });
  return st ? [st.mtimeMs, st.size] : null;
}

/**
 * The current bundle's entry points as paths relative to the package, or
 * undefined when there is none or any file it was built from has changed
 * (or is gone) since.
 */
export function upToDateBundle() {
  try {
    const current = JSON.parse(readFileSync(currentFile, 'utf8'));
    for (const [path, [mtimeMs, size]] of Object.entries(current.inputs)) {
      const now = fileState(join(packageDir, path));
      if (now === null || now[0] !== mtimeMs || now[1] !== size) return undefined;
    }
    const entries = bundleEntries(current.id);
    // (a bundle directory removed by hand)
    return fileState(join(packageDir, entries.commands)) === null ? undefined : entries;
  } catch {
    return undefined; // no current.json yet, or not one this file wrote: a rebuild replaces it
  }
}

/** The entry points of build `id`, relative to the package as oclif's settings in package.json are. */
function bundleEntries(id) {
  const dir = relative(packageDir, join(bundleRoot, id));
  return { commands: `./${dir}/commands/index.js`, help: `./${dir}/src/cli/help.js` };
}

const LOADERS = { '.ts': 'ts', '.js': 'js', '.json': 'json' };

/**
 * Loads each source file itself, so that the state recorded for it is the
 * one read: stat before read, so an edit during the build leaves a stale
 * record (and the next run rebuilds), never a fresh record over old text.
 */
function recordInputs(inputs) {
  return {
    name: 'vmctl-record-inputs',
    setup(build) {
      build.onLoad({ filter: /\.(ts|js|json)$/ }, (args) => {
        const state = fileState(args.path);
        const contents = readFileSync(args.path);
        inputs[relative(packageDir, args.path)] = state;
        return { contents, loader: LOADERS[extname(args.path)] };
      });
    },
  };
}

/** Build directories this old are no vmctl's any more: every chunk a command needs is loaded as it starts. */
const STALE_BUILD_MS = 10 * 60 * 1000;

/** Drops earlier builds (and temporary files of builds that died) except recent ones a running vmctl may still read. */
function pruneOldBuilds(keep) {
  for (const name of readdirSync(bundleRoot)) {
    if (name === keep || name === 'current.json') continue;
    const path = join(bundleRoot, name);
    const state = fileState(path);
    if (state !== null && Date.now() - state[0] > STALE_BUILD_MS) rmSync(path, { recursive: true, force: true });
  }
}

/** Bundles the CLI into a new build/cli/<id>/ and makes it the current one; returns its entry points. */
export async function buildBundle() {
  const esbuild = await import('esbuild');
  mkdirSync(bundleRoot, { recursive: true });
  const configFiles = buildConfigFiles();
  const inputs = Object.fromEntries(configFiles.map((path) => [relative(packageDir, path), fileState(path)]));
  const id = `${Date.now().toString(36)}-${process.pid}`;
  const outdir = join(bundleRoot, id);
  const result = await esbuild.build({
    absWorkingDir: packageDir,
    entryPoints: ENTRY_POINTS,
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // npm packages and the native addons stay where npm put them, resolved at run time.
    packages: 'external',
    // For stack traces by TypeScript line, when node's source maps are on (bin/vmctl.js: with --verbose).
    sourcemap: 'linked',
    sourcesContent: false,
    metafile: true,
    logLevel: 'silent',
    plugins: [recordInputs(inputs)],
  });
  const unrecorded = Object.keys(result.metafile.inputs).filter((path) => !(path in inputs));
  if (unrecorded.length > 0) throw new Error(`inputs the staleness check would not see: ${unrecorded.join(', ')}`);
  const temp = `${currentFile}.tmp-${process.pid}`;
  writeFileSync(temp, `${JSON.stringify({ id, inputs })}\n`);
  renameSync(temp, currentFile);
  pruneOldBuilds(id);
  return bundleEntries(id);
}

/** A fresh bundle (built now when needed), or undefined with a note on stderr when it cannot be built. */
export async function cliBundle() {
  const fresh = upToDateBundle();
  if (fresh) return fresh;
  try {
    return await buildBundle();
  } catch (error) {
    process.stderr.write(`vmctl: cannot bundle the CLI (${error.message.split('\n').slice(0, 3).join(' ')}); running it through tsx\n`);
    return undefined;
  }
}

// `node scripts/cli-bundle.js`, npm's `prepare` hook: a fresh clone's first run finds the bundle built.
if (process.argv[1] === fileURLToPath(import.meta.url)) await cliBundle();
