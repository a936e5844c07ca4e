/**
 * `npm run bench -- --quick` end to end: it runs, and writes the JSON and the
 * chart in the documented shape. No figure is asserted: targets are reported
 * by the suite, never tested (timings on a shared machine are noise).
 */
import { execa } from 'execa';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageDir } from '../src/paths.ts';
import { type BenchReport, MICRO } from '../bench/suite.ts';

describe('npm run bench -- --quick', () => {
  let dir: string;
  let run: Awaited<ReturnType<typeof execa>>;
  let report: BenchReport;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vmctl-bench-test-'));
    run = await execa('npm', ['run', '--silent', 'bench', '--', '--quick', '--out', join(dir, 'quick.json')], {
      cwd: packageDir,
      reject: false,
      stdin: 'ignore',
    });
    report = JSON.parse(await readFile(join(dir, 'quick.json'), 'utf8')) as BenchReport;
  }, 300_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('exits 0 and prints the tables and the targets', () => {
    expect(run.exitCode, String(run.stderr)).toBe(0);
    expect(String(run.stdout)).toContain('Time per operation');
    expect(String(run.stdout)).toMatch(/Targets[\s\S]*(PASS|FAIL)/);
  });

  it('writes every micro figure for native and vmctl, pinned and unpinned', () => {
    expect(report).toMatchObject({ version: 1, quick: true, machine: { nproc: expect.any(Number), kernel: expect.any(String) } });
    for (const bench of MICRO) {
      for (const setting of ['native', 'vmctl'] as const) {
        for (const placement of ['pinned', 'unpinned'] as const) {
          const m = report.measurements.find((x) => x.bench === bench.id && x.setting === setting && x.placement === placement);
          expect(m, `${bench.id} ${setting} ${placement}`).toMatchObject({ unit: 'ns/op', value: expect.any(Number) });
          expect(m!.value).toBeGreaterThan(0);
        }
      }
    }
    const floor = report.measurements.find((m) => m.bench === 'getppid' && m.setting === 'floor-sysemu' && m.placement === 'pinned');
    expect(floor?.value).toBeGreaterThan(0);
    for (const bench of ['workload', 'boot', 'kernel_rss']) {
      expect(report.measurements.some((m) => m.bench === bench && m.setting === 'vmctl'), bench).toBe(true);
    }
  });

  it('writes ratios, every target and the status of each setting', () => {
    expect(report.ratios).toContainEqual(
      expect.objectContaining({ bench: 'getppid', subject: 'vmctl', reference: 'native', value: expect.any(Number) }),
    );
    expect(report.targets.map((t) => t.id)).toEqual([
      'getppid-unpinned-vs-floor',
      'getppid-pinned-vs-floor',
      'getppid-vs-uml',
      'fork-exec-vs-uml',
      'workload-vs-uml',
      'workload-vs-proot',
      'boot-exec-true',
      'kernel-rss',
    ]);
    for (const t of report.targets) expect([true, false, null]).toContain(t.pass);
    for (const s of report.settings) {
      expect(['measured', 'partial', 'skipped']).toContain(s.status);
      // A setting that could not run says why.
      if (s.status !== 'measured') expect(s.note).toBeTruthy();
    }
  });

  it('draws the ratio chart as SVG beside the JSON', async () => {
    const svg = await readFile(join(dir, 'quick.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('getppid');
  });
});
