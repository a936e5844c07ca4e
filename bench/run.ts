/**
 * One benchmark run: prepare, then measure in phases, each going over the
 * settings back to back, every setting pinned and then unpinned, so the two
 * figures of a ratio are always taken close together:
 *   1. micro round: every micro program in each setting (one boot per
 *      setting and placement), and the mechanism floors natively;
 *   2. the shell workload in each setting (vmctl's kernel RSS polled);
 *   3. boots: start, `sh -c true`, exit, interleaved over the settings;
 *   4. more micro rounds while the time budget allows (best round kept).
 * Then ratios, targets, the JSON, the chart and the tables.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { renderChart } from './chart.ts';
import { BENCH_SRC, cleanup, type Log, prepare, type Setup } from './prepare.ts';
import { boundNotes, checkTargets, computeRatios, renderReport, sig3 } from './report.ts';
import { type Command, lastLines, runHostStartup, runIn, type RunOutput, runVmctlBootTrue } from './settings.ts';
import {
  BENCHMARKS,
  type BenchReport,
  FLOOR_PROGRAMS,
  FULL_PLAN,
  type MachineInfo,
  type Measurement,
  MICRO,
  PLACEMENTS,
  type Placement,
  type Plan,
  QUICK_PLAN,
  SETTINGS,
  type SettingId,
  type SettingStatus,
} from './suite.ts';

export const DEFAULT_OUT = join(BENCH_SRC, 'results', 'latest.json');

export interface BenchOptions {
  quick?: boolean;
  /** Where the JSON goes; the chart goes beside it with .svg. */
  out?: string;
  verbose?: boolean;
  /** Progress lines (stderr). */
  log: Log;
  /** The report (stdout). */
  print: Log;
}

export interface BenchResult {
  report: BenchReport;
  jsonPath: string;
  chartPath: string;
}

/** The runners the micro and macro phases go over (the floors are measured with native). */
const RUNNERS: readonly SettingId[] = ['native', 'vmctl', 'vmctl-strict', 'uml', 'proot'];

interface Parsed {
  results: { name: string; median: number; min: number; max: number; count: number }[];
  times: { label: string; ns: number; status: number }[];
  failed: string[];
  workload?: string;
}

export function parseOutput(stdout: string): Parsed {
  const parsed: Parsed = { results: [], times: [], failed: [] };
  for (const line of stdout.split('\n')) {
    let m = /^RESULT (\S+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+)\s*$/.exec(line);
    if (m) {
      parsed.results.push({ name: m[1]!, median: Number(m[2]), min: Number(m[3]), max: Number(m[4]), count: Number(m[5]) });
      continue;
    }
    m = /^TIME (\S+) (\d+) (\d+)\s*$/.exec(line);
    if (m) {
      parsed.times.push({ label: m[1]!, ns: Number(m[2]), status: Number(m[3]) });
      continue;
    }
    m = /^FAILED (\S+)/.exec(line);
    if (m) parsed.failed.push(m[1]!);
    if (line.startsWith('WORKLOAD ')) parsed.workload = line.trim();
  }
  return parsed;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export async function machineInfo(): Promise<MachineInfo> {
  let cpu = 'unknown CPU';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(await readFile('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux: the suite refuses to run further on anyway
  }
  return {
    nproc: availableParallelism(),
    kernel: release(),
    cpu,
    memoryMb: Math.round(totalmem() / 2 ** 20),
    node: process.version,
    loadStart: loadavg().map((n) => Number(n.toFixed(2))),
    loadEnd: [],
    note: 'a shared virtual machine: other builds and tests may run at the same time, so absolute figures are noisy; ratios from the same run are what counts',
  };
}

class Bench {
  readonly measurements: Measurement[] = [];
  readonly notes: string[] = [];
  readonly status = new Map<SettingId, SettingStatus>();
  constructor(
    /** performance.now() when the run began, before anything was installed or built. */
    private readonly started: number,
    readonly plan: Plan,
    readonly setup: Setup,
    readonly opts: BenchOptions,
  ) {
    const tools = setup.tools;
    for (const s of SETTINGS) this.status.set(s.id, { id: s.id, label: s.label, status: 'measured' });
    if (tools.unavailable.uml) this.skip('uml', tools.unavailable.uml);
    if (tools.unavailable.proot) this.skip('proot', tools.unavailable.proot);
    if (tools.unavailable.taskset) this.notes.push(tools.unavailable.taskset);
  }

  elapsedS(): number {
    return (performance.now() - this.started) / 1000;
  }

  private skip(id: SettingId, why: string): void {
    this.status.set(id, { ...this.status.get(id)!, status: 'skipped', note: why });
    this.notes.push(`${id} skipped: ${why}`);
  }

  available(id: SettingId): boolean {
    return this.status.get(id)?.status !== 'skipped';
  }

  /** A failure is noted and leaves a hole in the tables; it never stops the run. */
  fail(id: SettingId, what: string, why: string): void {
    this.notes.push(`${id}, ${what}: ${why}`);
    this.opts.log(`  ${id}, ${what}: FAILED (${why})`);
  }

  /** Each setting's status at the end: "partial" when a figure it should have is missing. */
  finalStatus(): SettingStatus[] {
    return [...this.status.values()].map((s) => {
      if (s.status === 'skipped') return s;
      const setting = SETTINGS.find((x) => x.id === s.id)!;
      const benches = setting.floor ? ['getppid'] : MICRO.map((b) => b.id);
      if (this.plan.macroSettings.includes(s.id)) benches.push('workload', 'boot');
      const missing = benches.flatMap((bench) =>
        this.placements()
          .filter((placement) => !this.measurements.some((m) => m.bench === bench && m.setting === s.id && m.placement === placement))
          .map((placement) => `${bench} ${placement}`),
      );
      return missing.length === 0 ? s : { ...s, status: 'partial', note: `no figure for ${missing.join(', ')} (see the notes)` };
    });
  }

  /**
   * Records a figure. Of the rounds' figures, "min" keeps the lowest (a
   * time: the round least disturbed by the machine's other work), "max"
   * the highest (a peak), "replace" the last.
   */
  record(m: Measurement, keep: 'min' | 'max' | 'replace' = 'replace'): void {
    const i = this.measurements.findIndex((x) => x.bench === m.bench && x.setting === m.setting && x.placement === m.placement);
    if (i < 0) {
      this.measurements.push(m);
      return;
    }
    const old = this.measurements[i]!;
    const count = (old.count ?? 1) + (m.count ?? 1);
    const better = keep === 'replace' || (keep === 'min' ? m.value < old.value : m.value > old.value);
    // Rounds of a macro figure are counted; a micro figure keeps its own iteration count.
    if (better) this.measurements[i] = m.unit === 'ns/op' ? m : { ...m, count };
    else if (m.unit !== 'ns/op') this.measurements[i] = { ...old, count };
  }

  run(setting: SettingId, command: Command, placement: Placement, pollRss = false): Promise<RunOutput> {
    return runIn(setting, command, placement, this.setup, {
      timeoutS: this.plan.runTimeoutS,
      pollRss,
      verbose: this.opts.verbose,
      log: this.opts.log,
    });
  }

  placements(): Placement[] {
    return PLACEMENTS.filter((p) => p === 'unpinned' || this.setup.tools.taskset !== undefined);
  }

  /** Runs micro programs in a setting and records what they print; returns those with no result. */
  private async microRun(setting: SettingId, programs: string[], placement: Placement, best: boolean): Promise<{ missing: string[]; why: string }> {
    const ms = this.plan.microTargetMs;
    const command: Command = (dir) => `sh ${dir}/micro.sh ${dir} ${ms} ${programs.join(' ')}`;
    const out = await this.run(setting, command, placement);
    const parsed = parseOutput(out.stdout);
    for (const r of parsed.results) {
      const floorSetting = FLOOR_PROGRAMS[r.name];
      const m: Measurement = {
        bench: floorSetting ? 'getppid' : r.name,
        setting: floorSetting ?? setting,
        placement,
        value: r.median,
        unit: 'ns/op',
        min: r.min,
        max: r.max,
        count: r.count,
      };
      this.record(m, best ? 'min' : 'replace');
    }
    const summary = parsed.results.map((r) => `${r.name} ${sig3(r.median / 1000)} µs`).join(', ');
    this.opts.log(`  micro ${setting} ${placement}: ${summary || 'no results'} (${(out.wallMs / 1000).toFixed(1)} s)`);
    const missing = programs.filter((p) => !parsed.results.some((r) => r.name === p));
    // What the programs said on stderr (perror) and how the run ended.
    const why = [lastLines(out.stderr, 2), out.failure, parsed.failed.length > 0 ? `exit status ≠ 0: ${parsed.failed.join(', ')}` : '']
      .filter((x) => x)
      .join('; ');
    return { missing, why: why || 'the program printed nothing' };
  }

  /**
   * One micro round: every runner and the floors, each pinned then unpinned.
   * A program that gives no figure is noted with what it printed and run
   * once more on its own.
   */
  async microRound(round: number): Promise<void> {
    const order: SettingId[] = ['floor-sysemu', ...RUNNERS];
    // Odd rounds go backwards, so no setting always runs first or last.
    if (round % 2 === 1) order.reverse();
    for (const setting of order) {
      if (!this.available(setting)) continue;
      const programs = setting === 'floor-sysemu' ? Object.keys(FLOOR_PROGRAMS) : MICRO.map((b) => b.id);
      for (const placement of this.placements()) {
        const first = await this.microRun(setting, programs, placement, true);
        if (first.missing.length === 0) continue;
        this.notes.push(`${setting}, micro ${placement}, round ${round + 1}: no result for ${first.missing.join(', ')} (${first.why}); run again alone`);
        this.opts.log(`  ${setting} ${placement}: no result for ${first.missing.join(', ')} (${first.why}); once more…`);
        const again = await this.microRun(setting, first.missing, placement, true);
        if (again.missing.length > 0) this.fail(setting, `micro ${placement}`, `no result for ${again.missing.join(', ')} (${again.why})`);
      }
    }
  }

  async workload(): Promise<void> {
    const w = this.plan.workload;
    const command: Command = (dir, root) =>
      `${dir}/timeit workload sh ${dir}/workload.sh ${root}/wl ${w.dirs} ${w.subdirs} ${w.files} ${w.sortLines} ${w.shells}`;
    let expected: string | undefined;
    for (const setting of this.plan.macroSettings) {
      if (!this.available(setting)) continue;
      const vmctl = setting === 'vmctl' || setting === 'vmctl-strict';
      for (const placement of this.placements()) {
        let out: RunOutput | undefined;
        let parsed: Parsed | undefined;
        let time: Parsed['times'][number] | undefined;
        // A failed run is noted with what it printed, and tried once more.
        for (let attempt = 1; attempt <= 2; attempt++) {
          out = await this.run(setting, command, placement, vmctl);
          await rm(join(this.setup.ws.root, 'wl'), { recursive: true, force: true });
          parsed = parseOutput(out.stdout);
          time = parsed.times.find((t) => t.label === 'workload');
          if (time && time.status === 0 && parsed.workload) break;
          const why = [lastLines(out.stderr, 2), out.failure, `workload status ${time?.status ?? 'missing'}`].filter((x) => x).join('; ');
          if (attempt === 1) {
            this.notes.push(`${setting}, workload ${placement}: failed (${why}); run again`);
            this.opts.log(`  workload ${setting} ${placement}: failed (${why}); once more…`);
          } else this.fail(setting, `workload ${placement}`, why);
        }
        if (!out || !parsed?.workload || !time || time.status !== 0) continue;
        expected ??= parsed.workload;
        if (parsed.workload !== expected) {
          this.notes.push(`${setting} ${placement}: the workload printed "${parsed.workload}", the first setting "${expected}"`);
        }
        this.record({ bench: 'workload', setting, placement, value: time.ns / 1e6, unit: 'ms', count: 1 }, 'min');
        this.record({ bench: 'workload_wall', setting, placement, value: out.wallMs, unit: 'ms', count: 1 }, 'min');
        if (vmctl && out.peakRssMb !== undefined) {
          this.record({ bench: 'kernel_rss', setting, placement, value: out.peakRssMb, unit: 'MB', count: 1 }, 'max');
        }
        const rss = out.peakRssMb !== undefined ? `, kernel peak RSS ${Math.round(out.peakRssMb)} MB` : '';
        this.opts.log(`  workload ${setting} ${placement}: ${(time.ns / 1e9).toFixed(2)} s in the setting, ${(out.wallMs / 1000).toFixed(2)} s wall${rss}`);
      }
    }
  }

  /** Boots interleaved over the settings, repeated; the median of the runs is kept. */
  async boots(): Promise<void> {
    const samples = new Map<string, { setting: SettingId; placement: Placement; bench: string; values: number[]; unit: 'ms' | 'MB' }>();
    const add = (bench: string, setting: SettingId, placement: Placement, value: number, unit: 'ms' | 'MB'): void => {
      const key = `${bench}/${setting}/${placement}`;
      if (!samples.has(key)) samples.set(key, { bench, setting, placement, values: [], unit });
      samples.get(key)!.values.push(value);
    };
    const opts = { timeoutS: this.plan.runTimeoutS, verbose: this.opts.verbose, log: this.opts.log };
    for (let run = 0; run < this.plan.bootRuns; run++) {
      for (const placement of this.placements()) {
        for (const setting of this.plan.macroSettings) {
          if (!this.available(setting)) continue;
          const vmctl = setting === 'vmctl' || setting === 'vmctl-strict';
          const out = vmctl
            ? await runVmctlBootTrue(setting === 'vmctl-strict', placement, this.setup, { ...opts, pollRss: true })
            : await this.run(setting, () => 'true', placement);
          if (!out.ok) {
            this.fail(setting, `boot ${placement}`, out.failure ?? 'failed');
            continue;
          }
          add('boot', setting, placement, out.wallMs, 'ms');
          if (vmctl && out.peakRssMb !== undefined) add('boot_rss', setting, placement, out.peakRssMb, 'MB');
        }
        // What a vmctl boot pays before its kernel runs: Node.js itself, then the CLI.
        const node = await runHostStartup('node', placement, this.setup, opts);
        if (node.ok) add('node_start', 'vmctl', placement, node.wallMs, 'ms');
        const cli = await runHostStartup('cli', placement, this.setup, { ...opts, pollRss: true });
        if (cli.ok) {
          add('cli_start', 'vmctl', placement, cli.wallMs, 'ms');
          if (cli.peakRssMb !== undefined) add('cli_rss', 'vmctl', placement, cli.peakRssMb, 'MB');
        }
      }
    }
    for (const s of samples.values()) {
      this.record({
        bench: s.bench,
        setting: s.setting,
        placement: s.placement,
        value: median(s.values),
        unit: s.unit,
        min: Math.min(...s.values),
        max: Math.max(...s.values),
        count: s.values.length,
      });
    }
    const summary = (setting: SettingId, placement: Placement): string => {
      const m = this.measurements.find((x) => x.bench === 'boot' && x.setting === setting && x.placement === placement);
      return m ? `${setting} ${(m.value / 1000).toFixed(2)} s` : `${setting} –`;
    };
    for (const placement of this.placements()) {
      this.opts.log(`  boot ${placement}: ${this.plan.macroSettings.filter((s) => this.available(s)).map((s) => summary(s, placement)).join(', ')}`);
    }
  }
}

async function measure(bench: Bench, setup: Setup, plan: Plan, opts: BenchOptions): Promise<void> {
  // Untimed: builds the CLI bundle and the tracer if needed, and warms the page cache.
  opts.log('warming up (one untimed vmctl boot)…');
  const warm = await runVmctlBootTrue(false, 'unpinned', setup, { timeoutS: 600, verbose: opts.verbose, log: opts.log });
  if (!warm.ok) throw new Error(`vmctl boot --exec true failed before any measurement: ${warm.failure}`);

  opts.log(`micro benchmarks, round 1 (${plan.microTargetMs} ms per figure)…`);
  let start = bench.elapsedS();
  await bench.microRound(0);
  const microS = bench.elapsedS() - start;
  opts.log('shell workload, round 1…');
  start = bench.elapsedS();
  await bench.workload();
  const workloadS = bench.elapsedS() - start;
  opts.log(`boots (${plan.bootRuns} per setting and placement)…`);
  await bench.boots();
  // More rounds while the budget allows, micro and workload in turn; each
  // time figure keeps its best round, the RSS its highest.
  const extra = [
    ...Array.from({ length: plan.microRounds - 1 }, (_, i) => ({ kind: 'micro' as const, round: i + 1, seconds: microS })),
    ...Array.from({ length: plan.workloadRounds - 1 }, (_, i) => ({ kind: 'workload' as const, round: i + 1, seconds: workloadS })),
  ].sort((a, b) => a.round - b.round || (a.kind === 'micro' ? -1 : 1));
  for (const next of extra) {
    const what = `${next.kind === 'micro' ? 'micro benchmarks' : 'shell workload'}, round ${next.round + 1}`;
    if (bench.elapsedS() + next.seconds > plan.budgetS) {
      bench.notes.push(`${what} skipped to stay within ${plan.budgetS} s`);
      opts.log(`${what} skipped to stay within ${plan.budgetS} s`);
      continue;
    }
    opts.log(`${what} (the best round is kept)…`);
    if (next.kind === 'micro') await bench.microRound(next.round);
    else await bench.workload();
  }
}

export async function runBench(opts: BenchOptions): Promise<BenchResult> {
  const plan = opts.quick ? QUICK_PLAN : FULL_PLAN;
  const startedAt = new Date().toISOString();
  const machine = await machineInfo();
  opts.log(
    `vmctl bench${plan.quick ? ' --quick' : ''}: ${machine.nproc} CPUs (${machine.cpu}), Linux ${machine.kernel}, load ${machine.loadStart.join(' ')}`,
  );
  const started = performance.now();
  const setup = await prepare(opts.log, opts.verbose ?? false);
  const bench = new Bench(started, plan, setup, opts);
  try {
    await measure(bench, setup, plan, opts);
  } finally {
    await cleanup(setup);
  }

  machine.loadEnd = loadavg().map((n) => Number(n.toFixed(2)));
  const ratios = computeRatios(bench.measurements);
  const report: BenchReport = {
    version: 1,
    quick: plan.quick,
    startedAt,
    seconds: Math.round(bench.elapsedS()),
    machine,
    plan,
    settings: bench.finalStatus(),
    benchmarks: [...BENCHMARKS],
    measurements: bench.measurements,
    ratios,
    targets: checkTargets(bench.measurements, ratios),
    notes: [...bench.notes, ...boundNotes(bench.measurements)],
  };

  const jsonPath = resolve(opts.out ?? DEFAULT_OUT);
  const chartPath = jsonPath.replace(/\.json$/, '') + '.svg';
  await mkdir(dirname(jsonPath), { recursive: true });
  await writeFile(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(chartPath, renderChart(report));

  opts.print(
    `vmctl bench${plan.quick ? ' --quick' : ''}, ${startedAt}: ${machine.nproc} CPUs, ${machine.cpu}, Linux ${machine.kernel}, ` +
      `load ${machine.loadStart.join(' ')} → ${machine.loadEnd.join(' ')}, ${report.seconds} s\n`,
  );
  opts.print(renderReport(report));
  opts.print(`\nWrote ${jsonPath} and ${chartPath}`);
  return { report, jsonPath, chartPath };
}
