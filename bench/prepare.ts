/**
 * Everything a run needs before it measures: the Debian packages of the
 * other runners (installed when missing and we are root), the suite's C
 * programs (cc -static -O2), and the root directory every setting runs
 * them from: the cached busybox root with its applet links, plus /bench.
 */
import { constants } from 'node:fs';
import { access, chmod, copyFile, cp, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runHostCommand } from '../src/host-command.ts';
import { aptInstall, hasAptGet, isRoot } from '../src/host/apt.ts';
import { findCompiler } from '../src/host/toolchain.ts';
import { packageDir } from '../src/paths.ts';
import { ensureBusyboxRootfs } from '../src/rootfs/busybox.ts';
import { HELPER_PROGRAMS, MICRO } from './suite.ts';

export const BENCH_SRC = join(packageDir, 'bench');
const PROGRAMS_SRC = join(BENCH_SRC, 'programs');
const GUEST_SRC = join(BENCH_SRC, 'guest');

/** Scratch space of the suite (gitignored with the rest of build/). */
const WORK_DIR = join(packageDir, 'build', 'bench');
/** The compiled programs, shared by all runs. */
const BIN_DIR = join(WORK_DIR, 'bin');
/** The programs' directory as a guest sees it. */
export const GUEST_BENCH_DIR = '/bench';

export const UML_BINARY = '/usr/bin/linux.uml';

export type Log = (line: string) => void;

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The host path of a program on PATH, or undefined. */
export async function which(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    if (dir && (await executable(join(dir, name)))) return join(dir, name);
  }
  return undefined;
}

/**
 * One run's own directory, build/bench/run-PID, so that two runs (a test
 * and a full run) never share a root; removed at the end of the run.
 */
export interface Workspace {
  dir: string;
  /** The root every setting runs the programs from; the programs are in its /bench. */
  root: string;
  /** ROOT/bench on the host. */
  benchDir: string;
  /** vmctl's XDG_STATE_HOME during the run, so its upper layers stay out of the user's. */
  stateDir: string;
}

export function workspace(): Workspace {
  const dir = join(WORK_DIR, `run-${process.pid}`);
  const root = join(dir, 'root');
  return { dir, root, benchDir: join(root, 'bench'), stateDir: join(dir, 'state') };
}

export interface Tools {
  /** Why each optional runner cannot be used; absent when it can. */
  unavailable: Partial<Record<'uml' | 'proot' | 'taskset', string>>;
  proot?: string;
  taskset?: string;
}

/** Installs one Debian package when missing and possible; returns why not otherwise. */
async function ensurePackage(pkg: string, present: () => Promise<boolean>, log: Log, verbose: boolean): Promise<string | undefined> {
  if (await present()) return undefined;
  if (!isRoot() || !(await hasAptGet())) return `Debian's ${pkg} is not installed and this is not root on Debian: run \`apt-get install ${pkg}\``;
  log(`installing Debian's ${pkg} (apt-get)…`);
  try {
    await aptInstall([pkg], { verbose });
  } catch (error) {
    return `installing ${pkg} failed: ${(error as Error).message.split('\n')[0]}`;
  }
  return (await present()) ? undefined : `${pkg} was installed but its program is still missing`;
}

export async function ensureTools(log: Log, verbose: boolean): Promise<Tools> {
  const tools: Tools = { unavailable: {} };
  const uml = await ensurePackage('user-mode-linux', () => executable(UML_BINARY), log, verbose);
  if (uml) tools.unavailable.uml = uml;
  const proot = await ensurePackage('proot', async () => (await which('proot')) !== undefined, log, verbose);
  if (proot) tools.unavailable.proot = proot;
  else tools.proot = await which('proot');
  tools.taskset = await which('taskset');
  if (!tools.taskset) tools.unavailable.taskset = 'taskset (util-linux) is missing: pinned runs are skipped';
  return tools;
}

/** Newest modification time among files, 0 for a missing one. */
async function mtime(path: string): Promise<number> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Compiles every program of the suite into build/bench/bin, skipping those
 * newer than their source and the shared headers. Two compilers at a time.
 */
async function buildPrograms(log: Log, verbose: boolean): Promise<void> {
  const compiler = await findCompiler({ verbose });
  await mkdir(BIN_DIR, { recursive: true });
  const headers = Math.max(await mtime(join(PROGRAMS_SRC, 'bench.h')), await mtime(join(PROGRAMS_SRC, 'floor.h')));
  const names = [...MICRO.map((b) => b.id), ...HELPER_PROGRAMS];
  const stale: string[] = [];
  for (const name of names) {
    const source = join(PROGRAMS_SRC, `${name}.c`);
    if ((await mtime(join(BIN_DIR, name))) <= Math.max(headers, await mtime(source))) stale.push(name);
  }
  if (stale.length > 0) log(`compiling ${stale.length} benchmark programs (${compiler.command} -static -O2)…`);
  const failures: string[] = [];
  const compileOne = async (name: string): Promise<void> => {
    // Into a file of our own, renamed into place: a concurrent run never sees half a program.
    const tmp = join(BIN_DIR, `.${name}.${process.pid}`);
    const args = ['-static', '-O2', '-Wall', '-o', tmp, join(PROGRAMS_SRC, `${name}.c`)];
    const result = await runHostCommand(compiler.command, args, { verbose });
    if (result.exitCode !== 0) failures.push(`${name}.c:\n${result.all.trim()}`);
    else await rename(tmp, join(BIN_DIR, name));
  };
  const queue = [...stale];
  await Promise.all(
    [0, 1].map(async () => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) await compileOne(name);
    }),
  );
  if (failures.length > 0) {
    throw new Error(
      `compiling the benchmark programs failed (static linking needs libc6-dev: apt-get install libc6-dev):\n${failures.join('\n')}`,
    );
  }
}

/**
 * A fresh root: a copy of the cached busybox root (links kept as links), the
 * programs, a 64 KiB data file, and the guest scripts, in /bench.
 */
async function assembleRoot(ws: Workspace, log: Log, verbose: boolean): Promise<void> {
  const busyboxRoot = await ensureBusyboxRootfs({ verbose });
  await cp(busyboxRoot, ws.root, { recursive: true, verbatimSymlinks: true });
  await mkdir(ws.benchDir, { recursive: true });
  for (const name of [...MICRO.map((b) => b.id), ...HELPER_PROGRAMS]) {
    await copyFile(join(BIN_DIR, name), join(ws.benchDir, name));
    await chmod(join(ws.benchDir, name), 0o755);
  }
  for (const script of ['micro.sh', 'workload.sh']) {
    await copyFile(join(GUEST_SRC, script), join(ws.benchDir, script));
    await chmod(join(ws.benchDir, script), 0o755);
  }
  const data = Buffer.alloc(64 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;
  await writeFile(join(ws.benchDir, 'data.bin'), data);
  log(`benchmark root ready: ${ws.root} (busybox from ${busyboxRoot})`);
}

/** What every setting needs: the runners found or installed, and this run's root. */
export interface Setup {
  tools: Tools;
  ws: Workspace;
}

export async function prepare(log: Log, verbose: boolean): Promise<Setup> {
  const tools = await ensureTools(log, verbose);
  return { tools, ws: await prepareRoot(log, verbose) };
}

/** The programs built and this run's root assembled, without the other runners. */
export async function prepareRoot(log: Log, verbose: boolean): Promise<Workspace> {
  await buildPrograms(log, verbose);
  const ws = workspace();
  await rm(ws.dir, { recursive: true, force: true });
  await mkdir(ws.stateDir, { recursive: true });
  await assembleRoot(ws, log, verbose);
  return ws;
}

/** Removes the run's directory (its root, the workload's leftovers, vmctl's upper layers). */
export async function cleanup(setup: Setup): Promise<void> {
  await rm(setup.ws.dir, { recursive: true, force: true });
}
