#!/usr/bin/env -S node --max-semi-space-size=2 --max-inlined-bytecode-size-cumulative=300
// vmctl's entry point. The commands and src/ are TypeScript; a run loads
// them as one JavaScript bundle that esbuild builds into build/cli/
// (scripts/cli-bundle.js), rebuilt first whenever a source changed since,
// so there is no compile step between an edit and the next run. tsx runs
// the TypeScript as is instead for `boot --inspect` (below) and when the
// bundle cannot be built.
// The guest kernel's garbage is short-lived and small: a 2 MiB young
// generation instead of V8's 16 MiB takes about 20 MB off the kernel
// process's peak RSS and, measured, nothing off its speed. It must be on
// node's command line (V8 sizes the heap before any code runs), hence the
// shebang: run this file itself, not `node bin/vmctl.js`, to get it.
// The shebang also has TurboFan inline less than its default (300 bytes of
// bytecode per optimized function, not 920): with the kernel and a guest on
// one CPU, compiling took about 12 % of that CPU over the shell workload,
// and inlining less made the workload about 5 % faster pinned, with the
// micro benchmarks and the unpinned workload unchanged (measured
// interleaved, 7 and 3 rounds).
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliBundle } from '../scripts/cli-bundle.js';

const { execute, settings } = await importOclif();

const args = process.argv.slice(2);
const options = args.slice(0, args.includes('--') ? args.indexOf('--') : undefined);
const inspecting = options.some((a) => /^--inspect(-brk)?(=|$)/.test(a));
// Stack traces name TypeScript lines through the bundle's source maps, which take node some
// 40 ms to load: on for --verbose, which prints them (node's --enable-source-maps does it too).
if (options.includes('--verbose') || options.includes('-v')) process.setSourceMapsEnabled(true);
// `vmctl boot --inspect` runs through tsx: V8 then sees each module under its
// own .ts file's URL with an inline source map, which is what a debugger
// (and test/inspect.test.ts) sets breakpoints by.
const bundle = inspecting ? undefined : await cliBundle();
const pjson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
if (bundle) {
  pjson.oclif.commands.target = bundle.commands;
  pjson.oclif.helpClass = bundle.help;
} else {
  await registerTsx();
}
// Nothing is left for oclif to transpile: it must not look for ts-node or rewrite paths by tsconfig.
settings.enableAutoTranspile = false;
await execute({ loadOptions: { root: dirname(dirname(fileURLToPath(import.meta.url))), pjson } });

/**
 * oclif as it loads checks node's version against its own package.json
 * with semver: some 50 modules, about a tenth of `vmctl --version`, for a
 * warning npm gives already (package.json's engines). Its documented
 * switch turns that off while it loads, and is restored so that nothing
 * vmctl starts inherits it.
 */
async function importOclif() {
  const saved = process.env.OCLIF_DISABLE_ENGINE_WARNING;
  process.env.OCLIF_DISABLE_ENGINE_WARNING = '1';
  try {
    return await import('@oclif/core');
  } finally {
    if (saved === undefined) delete process.env.OCLIF_DISABLE_ENGINE_WARNING;
    else process.env.OCLIF_DISABLE_ENGINE_WARNING = saved;
  }
}

async function registerTsx() {
  const { register } = await import('tsx/esm/api');
  // tsx puts the TypeScript text into its inline source maps (sourcesContent)
  // only when node's own options hold an --inspect flag, so it is shown one
  // while it registers: a debugger then has the TypeScript to show without reading files.
  const nodeOptions = process.env.NODE_OPTIONS;
  if (inspecting) process.env.NODE_OPTIONS = `${nodeOptions ?? ''} --inspect`.trim();
  register();
  // (restored at once: nothing vmctl starts may inherit it and open an inspector of its own)
  if (inspecting) {
    if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = nodeOptions;
  }
}
