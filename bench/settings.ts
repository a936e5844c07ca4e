/**
 * How one shell command line runs in each setting, pinned or not. A
 * command is written once against the programs' root ("/bench/..." in a
 * guest, the host path of the root natively) and every setting runs it with
 * busybox sh from the same root directory:
 *   native        ROOT/bin/busybox sh -c CMD, PATH inside ROOT
 *   vmctl         node bin/vmctl.js boot --rootfs ROOT [--strict] --exec CMD
 *   uml           linux.uml ... rootfstype=hostfs rootflags=ROOT init=/bench/run.sh (CMD; halt -f)
 *   proot         proot -r ROOT -b /dev -b /proc -w / /bin/sh -c CMD
 * Pinned runs go under `taskset -c 0`; whatever a setting starts inherits it.
 */
import { execa } from 'execa';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { packageDir } from '../src/paths.ts';
import { GUEST_BENCH_DIR, type Log, type Setup, UML_BINARY } from './prepare.ts';
import type { Placement, SettingId } from './suite.ts';

export const VMCTL_BIN = join(packageDir, 'bin', 'vmctl.js');
const GUEST_PATH = '/bin:/sbin:/usr/bin:/usr/sbin';
/** The CPU pinned runs use. */
export const PIN_CPU = '0';

/** A shell command line, given the directory the programs are in ("/bench" in a guest). */
export type Command = (benchDir: string, root: string) => string;

interface Invocation {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
}

export interface RunOutput {
  ok: boolean;
  stdout: string;
  stderr: string;
  /** Why it failed: exit status, timeout, the last lines it printed. */
  failure?: string;
  wallMs: number;
  /** Peak RSS (VmHWM) of the process started, polled: the vmctl kernel process for vmctl. */
  peakRssMb?: number;
}

/** The host environment, without what could make a runner open windows (UML's xterm consoles). */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !['DISPLAY', 'WAYLAND_DISPLAY', 'XAUTHORITY'].includes(name)) env[name] = value;
  }
  env.LC_ALL = 'C';
  return env;
}

/** The kernel command line that boots UML on the hostfs root and runs /bench/run.sh as init. */
export function umlArgs(root: string): string[] {
  return [
    'mem=256M',
    'rootfstype=hostfs',
    `rootflags=${root}`,
    'rw',
    `init=${GUEST_BENCH_DIR}/run.sh`,
    // Console 0 on our stdin/stdout; every other console and serial line
    // nowhere, so UML never starts an xterm for one.
    'con0=fd:0,fd:1',
    'con=null',
    'ssl=null',
    'quiet',
  ];
}

async function invocation(setting: SettingId, command: Command, setup: Setup): Promise<Invocation> {
  const { root, benchDir, stateDir } = setup.ws;
  const env = baseEnv();
  switch (setting) {
    case 'native':
    case 'floor-sysemu':
    case 'floor-seccomp-trace':
    case 'floor-user-notif':
      env.PATH = GUEST_PATH.split(':').map((dir) => root + dir).join(':');
      return { file: join(root, 'bin', 'busybox'), args: ['sh', '-c', command(benchDir, root)], env, cwd: root };
    case 'vmctl':
    case 'vmctl-strict':
      env.XDG_STATE_HOME = stateDir;
      // (the CLI itself, as users run it: its shebang carries node's flags)
      return {
        file: VMCTL_BIN,
        args: ['boot', '--rootfs', root, ...(setting === 'vmctl-strict' ? ['--strict'] : []), '--exec', command(GUEST_BENCH_DIR, '')],
        env,
      };
    case 'uml': {
      // init takes no arguments: the command goes into a script, rewritten for each run.
      const script = `#!/bin/sh\nexport PATH=${GUEST_PATH}\ncd /\n${command(GUEST_BENCH_DIR, '')}\nhalt -f\n`;
      await writeFile(join(benchDir, 'run.sh'), script, { mode: 0o755 });
      return { file: UML_BINARY, args: umlArgs(root), env };
    }
    case 'proot':
      env.PATH = GUEST_PATH;
      return {
        file: setup.tools.proot ?? 'proot',
        args: ['-r', root, '-b', '/dev', '-b', '/proc', '-w', '/', '/bin/sh', '-c', command(GUEST_BENCH_DIR, '')],
        env,
      };
  }
}

async function readHwmKb(pid: number): Promise<number | undefined> {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function lastLines(text: string, n: number): string {
  return text.split('\n').filter((line) => line.trim() !== '').slice(-n).join(' | ');
}

export interface RunOptions {
  timeoutS: number;
  /** Poll the started process's VmHWM (through taskset, which execs it, the pid is the same). */
  pollRss?: boolean;
  verbose?: boolean;
  log: Log;
}

/** Runs a host program in its own process group, killed whole on timeout. */
export async function runProgram(inv: Invocation, placement: Placement, setup: Setup, opts: RunOptions): Promise<RunOutput> {
  const { tools } = setup;
  let { file, args } = inv;
  if (placement === 'pinned') {
    if (!tools.taskset) return { ok: false, stdout: '', stderr: '', failure: 'taskset is missing', wallMs: 0 };
    args = ['-c', PIN_CPU, file, ...args];
    file = tools.taskset;
  }
  if (opts.verbose) opts.log(`+ ${[file, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a}'`)).join(' ')}`);
  const start = performance.now();
  const child = execa(file, args, {
    env: inv.env,
    extendEnv: false,
    cwd: inv.cwd,
    stdin: 'ignore',
    reject: false,
    detached: true,
    stripFinalNewline: false,
  });
  let hwmKb: number | undefined;
  let polling: NodeJS.Timeout | undefined;
  const pid = child.pid;
  if (opts.pollRss && pid !== undefined) {
    polling = setInterval(() => {
      void readHwmKb(pid).then((kb) => {
        if (kb !== undefined) hwmKb = Math.max(hwmKb ?? 0, kb);
      });
    }, 20);
  }
  let timedOut = false;
  const killer = setTimeout(() => {
    timedOut = true;
    if (pid !== undefined) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }, opts.timeoutS * 1000);
  const result = await child;
  const wallMs = performance.now() - start;
  clearTimeout(killer);
  if (polling) clearInterval(polling);
  const stdout = String(result.stdout ?? '').replaceAll('\r', '');
  const stderr = String(result.stderr ?? '');
  const out: RunOutput = { ok: !timedOut && result.exitCode === 0, stdout, stderr, wallMs };
  if (hwmKb !== undefined) out.peakRssMb = hwmKb / 1024;
  if (timedOut) out.failure = `killed after ${opts.timeoutS} s`;
  else if (result.exitCode !== 0) {
    const cause = result.exitCode === undefined ? `signal ${result.signal ?? '?'}` : `exit status ${result.exitCode}`;
    out.failure = `${cause}: ${lastLines(`${stdout}\n${stderr}`, 3) || 'no output'}`;
  }
  if (opts.verbose && stderr.trim() !== '') opts.log(lastLines(stderr, 5));
  return out;
}

/** Runs a command line in a setting. */
export async function runIn(
  setting: SettingId,
  command: Command,
  placement: Placement,
  setup: Setup,
  opts: RunOptions,
): Promise<RunOutput> {
  return runProgram(await invocation(setting, command, setup), placement, setup, opts);
}

/**
 * What a vmctl boot pays before its kernel starts: `node -e 0`, then
 * `vmctl --version` (oclif and the command table, from the CLI bundle).
 */
export async function runHostStartup(what: 'node' | 'cli', placement: Placement, setup: Setup, opts: RunOptions): Promise<RunOutput> {
  const [file, args] = {
    node: [process.execPath, ['-e', '0']],
    cli: [VMCTL_BIN, ['--version']],
  }[what] as [string, string[]];
  return runProgram({ file, args, env: baseEnv(), cwd: packageDir }, placement, setup, opts);
}

/** `vmctl boot --exec true` as a user types it: the default busybox guest, not the bench root. */
export async function runVmctlBootTrue(strict: boolean, placement: Placement, setup: Setup, opts: RunOptions): Promise<RunOutput> {
  const env = baseEnv();
  env.XDG_STATE_HOME = setup.ws.stateDir;
  const args = ['boot', ...(strict ? ['--strict'] : []), '--exec', 'true'];
  return runProgram({ file: VMCTL_BIN, args, env }, placement, setup, opts);
}
