/**
 * What `vmctl build-host` produces in build/host/, and from what: one recipe
 * per output file, with the exact compiler flags.
 */
import { readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { packageDir } from '../paths.ts';

export interface Artifact {
  /** File name under build/host/. */
  output: string;
  /** What it is, for progress lines and errors. */
  what: string;
  /** Folder holding its sources, relative to the package. */
  sourceDir: string;
  /** Files handed to the compiler (absolute, sorted). Empty: nothing to build yet. */
  compileUnits: string[];
  /** Every file whose change must trigger a rebuild: compile units and headers. */
  inputs: string[];
  /** Compiler flags; the compile units and `-o OUTPUT` follow them. */
  flags: string[];
}

/** Flags shared by the C we write: kernel-style strictness, warnings are errors. */
const STRICT_C = ['-std=gnu11', '-O2', '-g', '-Wall', '-Wextra', '-Werror'];

/** node-api-headers is CommonJS and exports `include_dir`, the folder holding node_api.h. */
function nodeApiIncludeDir(): string {
  const require = createRequire(import.meta.url);
  return (require('node-api-headers') as { include_dir: string }).include_dir;
}

async function filesIn(dir: string, extensions: string[]): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names
    .filter((name) => extensions.some((ext) => name.endsWith(ext)))
    .sort()
    .map((name) => join(dir, name));
}

async function recipe(
  output: string,
  what: string,
  sourceDir: string,
  unitExtensions: string[],
  flags: string[],
  /** other headers it includes, relative to the package: their directories go on the include path */
  extraHeaders: string[] = [],
): Promise<Artifact> {
  const dir = join(packageDir, sourceDir);
  const compileUnits = await filesIn(dir, unitExtensions);
  const headers = [...await filesIn(dir, ['.h', '.inc']), ...extraHeaders.map((h) => join(packageDir, h))];
  const includes = [...new Set(extraHeaders.map((h) => `-I${dirname(join(packageDir, h))}`))];
  return { output, what, sourceDir, compileUnits, inputs: [...compileUnits, ...headers].sort(), flags: [...flags, ...includes] };
}

/** The three outputs, the probe first: it is ours and must build even while the tracer is in flux. */
export async function hostArtifacts(): Promise<Artifact[]> {
  return Promise.all([
    recipe('vmctl-probe', 'host probe', 'src/tracer/probe', ['.c'], STRICT_C),
    recipe('vmctl-stub', 'guest stub', 'src/tracer/stub', ['.S'], [
      '-static',
      '-nostdlib',
      '-nostartfiles',
      '-Wl,--build-id=none',
      // The stub sits far above where guest programs load, out of their way.
      '-Wl,-Ttext-segment=0x100000000',
    ]),
    recipe('tracer.node', 'Node-API tracer addon', 'src/tracer/addon', ['.c'], [
      ...STRICT_C,
      '-fPIC',
      '-shared',
      // Node-API and libuv symbols resolve against the running node at load time: no -lnode.
      `-I${nodeApiIncludeDir()}`,
    ], ['host-patch/ptrace-vmctl.h']),
  ]);
}
