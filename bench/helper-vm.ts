/**
 * `vmctl bench --helper-vm`: the host helper patch's benchmark. One
 * `vmctl host-vm` run boots the patched kernel in QEMU and, inside it,
 * measures getppid and fork+exec+wait under vmctl with the helper and with
 * --no-helper, in the default (seccomp) mode and with --strict, the two
 * taking turns round after round, plus the bare PTRACE_SYSEMU floor. The
 * ratios (no-helper time / helper time) are what counts: absolute times
 * under TCG say little about hardware.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { runHostCommand } from '../src/host-command.ts';
import { BENCH_SRC, cleanup, type Log, prepareRoot } from './prepare.ts';
import { machineInfo, median, parseOutput } from './run.ts';
import { VMCTL_BIN } from './settings.ts';

export const HELPER_VM_OUT = join(BENCH_SRC, 'results', 'helper-vm.json');

const PROGRAMS = ['getppid', 'fork_exec_wait'] as const;
type Program = (typeof PROGRAMS)[number];

interface Config {
  id: string;
  label: string;
  flags: string[];
}

const CONFIGS: readonly Config[] = [
  { id: 'helper', label: 'vmctl (default), helper', flags: [] },
  { id: 'no-helper', label: 'vmctl (default), --no-helper', flags: ['--no-helper'] },
  { id: 'strict-helper', label: 'vmctl --strict, helper', flags: ['--strict'] },
  { id: 'strict-no-helper', label: 'vmctl --strict, --no-helper', flags: ['--strict', '--no-helper'] },
];

export interface HelperVmOptions {
  rounds?: number;
  /** Target time of one measurement in the guest, ms. */
  targetMs?: number;
  out?: string;
  verbose?: boolean;
  log: Log;
  print: (line: string) => void;
}

export interface HelperVmReport {
  when: string;
  machine: Awaited<ReturnType<typeof machineInfo>>;
  where: string;
  rounds: number;
  /** ns per operation, median over rounds: config id -> program -> ns */
  nsPerOp: Record<string, Partial<Record<Program, number>>>;
  /** the bare PTRACE_SYSEMU round trip in the VM, ns */
  floorSysemuNs?: number;
  /** --no-helper time / helper time, by mode and program */
  ratios: Record<string, Partial<Record<Program, number>>>;
  /** helper stats lines vmctl printed (which facilities were in use) */
  helperLines: Record<string, string>;
  /** runs that failed (config and round: what they printed), left out of the figures */
  failures: string[];
}

/** The script host-vm runs: rounds of every config, each a boot running both programs. */
function vmScript(root: string, rounds: number, targetMs: number): string {
  const lines = [
    'set -u',
    'export XDG_STATE_HOME=/tmp/state',
    `echo "=== floor"`,
    `${root}/bench/floor_sysemu ${targetMs}`,
  ];
  for (let round = 0; round < rounds; round++) {
    for (const c of CONFIGS) {
      lines.push(
        `echo "=== ${c.id} ${round}"`,
        `node ${VMCTL_BIN} boot ${c.flags.join(' ')} --stats --rootfs ${root} ` +
          `--exec '/bench/micro.sh /bench ${targetMs} ${PROGRAMS.join(' ')}' 2>/tmp/stats || { echo "FAILED boot $?"; tail -5 /tmp/stats; }`,
        'grep "host helper" /tmp/stats',
      );
    }
  }
  return lines.join('\n');
}

export async function runHelperVmBench(opts: HelperVmOptions): Promise<HelperVmReport> {
  const rounds = opts.rounds ?? 3;
  const targetMs = opts.targetMs ?? 600;
  const ws = await prepareRoot(opts.log, opts.verbose ?? false);
  try {
    opts.log(`measuring in the patched VM: ${rounds} rounds of ${CONFIGS.length} settings (TCG: a few minutes)…`);
    const run = await runHostCommand(process.execPath, [VMCTL_BIN, 'host-vm', '--timeout', '3000', '--', vmScript(ws.root, rounds, targetMs)], {
      verbose: opts.verbose,
    });
    if (run.exitCode !== 0) {
      throw new Error(`vmctl host-vm failed (exit ${run.exitCode}):\n${run.stderr.split('\n').slice(-20).join('\n')}`);
    }
    const samples: Record<string, Partial<Record<Program, number[]>>> = {};
    const helperLines: Record<string, string> = {};
    const failures: string[] = [];
    let floorSysemuNs: number | undefined;
    for (const section of run.stdout.split(/^=== /m).slice(1)) {
      const [head, ...body] = section.split('\n');
      const parsed = parseOutput(body.join('\n'));
      if (head === 'floor') {
        floorSysemuNs = parsed.results.find((r) => r.name === 'floor_sysemu')?.median;
        continue;
      }
      const id = head!.split(' ')[0]!;
      if (parsed.failed.length) {
        // One bad run must not cost the whole measurement: it is reported, and left out.
        failures.push(`${head}: ${parsed.failed.join(', ')}: ${body.filter((l) => !l.startsWith('RESULT')).join(' | ').slice(0, 500)}`);
        opts.log(`vmctl ${head} failed in the VM (${parsed.failed.join(', ')}); left out`);
      }
      const helper = body.find((l) => l.startsWith('host helper'));
      if (helper) helperLines[id] = helper;
      for (const r of parsed.results) {
        const program = PROGRAMS.find((p) => p === r.name);
        if (program) ((samples[id] ??= {})[program] ??= []).push(r.median);
      }
    }
    const nsPerOp: HelperVmReport['nsPerOp'] = {};
    for (const [id, byProgram] of Object.entries(samples)) {
      nsPerOp[id] = {};
      for (const [p, values] of Object.entries(byProgram)) nsPerOp[id]![p as Program] = median(values!);
    }
    const ratios: HelperVmReport['ratios'] = {};
    for (const mode of ['default', 'strict']) {
      const prefix = mode === 'strict' ? 'strict-' : '';
      ratios[mode] = {};
      for (const p of PROGRAMS) {
        const withHelper = nsPerOp[`${prefix}helper`]?.[p];
        const without = nsPerOp[`${prefix}no-helper`]?.[p];
        if (withHelper && without) ratios[mode]![p] = without / withHelper;
      }
    }
    const report: HelperVmReport = {
      when: new Date().toISOString(),
      machine: await machineInfo(),
      where: 'vmctl host-vm: the patched kernel (build-host --kernel) under QEMU, 2 vCPUs',
      rounds, nsPerOp, floorSysemuNs, ratios, helperLines, failures,
    };
    const out = opts.out ?? HELPER_VM_OUT;
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, JSON.stringify(report, null, 2) + '\n');
    for (const line of renderHelperVmReport(report)) opts.print(line);
    opts.print(`written: ${out}`);
    return report;
  } finally {
    await cleanup({ tools: { unavailable: {} }, ws });
  }
}

const us = (ns: number | undefined) => (ns === undefined ? '–' : (ns / 1000).toFixed(1));

export function renderHelperVmReport(r: HelperVmReport): string[] {
  const rows = CONFIGS.map((c) => `| ${c.label} | ${us(r.nsPerOp[c.id]?.getppid)} | ${us(r.nsPerOp[c.id]?.fork_exec_wait)} |`);
  const ratio = (mode: string, p: Program) => (r.ratios[mode]?.[p] === undefined ? '–' : `${r.ratios[mode]![p]!.toFixed(2)}×`);
  return [
    `helper patch benchmark (${r.where}; median of ${r.rounds} rounds; µs per operation)`,
    '',
    '| setting | getppid | fork+exec+wait |',
    '| --- | --- | --- |',
    ...rows,
    `| bare PTRACE_SYSEMU round trip (floor) | ${us(r.floorSysemuNs)} | |`,
    '',
    '| speed-up with the helper (--no-helper / helper) | getppid | fork+exec+wait |',
    '| --- | --- | --- |',
    `| default (seccomp) mode | ${ratio('default', 'getppid')} | ${ratio('default', 'fork_exec_wait')} |`,
    `| --strict | ${ratio('strict', 'getppid')} | ${ratio('strict', 'fork_exec_wait')} |`,
    ...(r.failures.length ? ['', `failed runs, left out: ${r.failures.join('; ')}`] : []),
  ];
}
