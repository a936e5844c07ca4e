/**
 * From measurements to what a reader wants: ratios of vmctl against each
 * reference from the same run, the issue's targets checked, and the tables
 * (Markdown, so the README can take them as printed).
 */
import {
  type BenchReport,
  MICRO,
  type Measurement,
  PLACEMENTS,
  type Placement,
  type Ratio,
  SETTINGS,
  SHORT_LABEL,
  type SettingId,
  type TargetCheck,
} from './suite.ts';

export function find(ms: readonly Measurement[], bench: string, setting: SettingId, placement: Placement): Measurement | undefined {
  return ms.find((m) => m.bench === bench && m.setting === setting && m.placement === placement);
}

function value(ms: readonly Measurement[], bench: string, setting: SettingId, placement: Placement): number | undefined {
  return find(ms, bench, setting, placement)?.value;
}

/** The runners whose ratios are computed, and what each is compared with. */
const SUBJECTS: readonly SettingId[] = ['vmctl', 'vmctl-strict'];
const REFERENCES: readonly SettingId[] = ['native', 'uml', 'proot'];
const RATIO_BENCHES = [...MICRO.map((b) => b.id), 'workload', 'workload_wall', 'boot'];

export function computeRatios(ms: readonly Measurement[]): Ratio[] {
  const ratios: Ratio[] = [];
  const add = (bench: string, subject: SettingId, sp: Placement, reference: SettingId, rp: Placement): void => {
    const s = value(ms, bench, subject, sp);
    const r = value(ms, bench, reference, rp);
    if (s !== undefined && r !== undefined && r > 0) {
      ratios.push({ bench, subject, subjectPlacement: sp, reference, referencePlacement: rp, value: s / r });
    }
  };
  for (const subject of SUBJECTS) {
    for (const bench of RATIO_BENCHES) {
      for (const placement of PLACEMENTS) {
        for (const reference of REFERENCES) add(bench, subject, placement, reference, placement);
      }
    }
    // The floor that matters is the pinned one: the best a tracer can do.
    for (const placement of PLACEMENTS) {
      for (const floor of ['floor-sysemu', 'floor-seccomp-trace', 'floor-user-notif'] as const) {
        add('getppid', subject, placement, floor, 'pinned');
      }
    }
  }
  return ratios;
}

function ratioOf(ratios: readonly Ratio[], bench: string, sp: Placement, reference: SettingId, rp: Placement = sp): number | undefined {
  return ratios.find(
    (r) => r.bench === bench && r.subject === 'vmctl' && r.subjectPlacement === sp && r.reference === reference && r.referencePlacement === rp,
  )?.value;
}

const f2 = (n: number | undefined): string => (n === undefined ? 'n/a' : n.toFixed(2));
/** A ratio against a target's limit: three places, so that one on its limit shows which side it is on. */
const f3 = (n: number | undefined): string => (n === undefined ? 'n/a' : n.toFixed(3));

/**
 * The issue's targets, for vmctl's default (accelerated) mode. A target
 * stated for both placements passes only when both do.
 */
export function checkTargets(ms: readonly Measurement[], ratios: readonly Ratio[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const verdict = (values: (number | undefined)[], ok: (v: number) => boolean): boolean | null =>
    values.some((v) => v === undefined) ? null : values.every((v) => ok(v as number));

  const unpinnedFloor = ratioOf(ratios, 'getppid', 'unpinned', 'floor-sysemu', 'pinned');
  checks.push({
    id: 'getppid-unpinned-vs-floor',
    text: "vmctl's default, unpinned, getppid ≤ 1.2 × the pinned raw PTRACE_SYSEMU floor",
    measured: `${f3(unpinnedFloor)} × (limit 1.2)`,
    pass: verdict([unpinnedFloor], (v) => v <= 1.2),
  });
  const pinnedFloor = ratioOf(ratios, 'getppid', 'pinned', 'floor-sysemu', 'pinned');
  checks.push({
    id: 'getppid-pinned-vs-floor',
    text: 'getppid under vmctl ≤ 1.15 × the raw PTRACE_SYSEMU floor, both pinned',
    measured: `${f3(pinnedFloor)} × (limit 1.15)`,
    pass: verdict([pinnedFloor], (v) => v <= 1.15),
  });
  const perPlacement = (id: string, text: string, bench: string, reference: SettingId, limit: number, strictly = false): void => {
    const values = PLACEMENTS.map((p) => ratioOf(ratios, bench, p, reference));
    checks.push({
      id,
      text,
      measured: `pinned ${f3(values[0])} ×, unpinned ${f3(values[1])} × (limit ${strictly ? '<' : '≤'} ${limit})`,
      pass: verdict(values, (v) => (strictly ? v < limit : v <= limit)),
    });
  };
  perPlacement('getppid-vs-uml', "getppid ≤ 0.7 × UML's", 'getppid', 'uml', 0.7);
  perPlacement('fork-exec-vs-uml', "fork+exec+wait ≤ 0.5 × UML's", 'fork_exec_wait', 'uml', 0.5);
  perPlacement('workload-vs-uml', "shell workload ≤ 0.6 × UML's wall time", 'workload', 'uml', 0.6);
  perPlacement('workload-vs-proot', "shell workload faster than PRoot's", 'workload', 'proot', 1, true);

  const boots = PLACEMENTS.map((p) => value(ms, 'boot', 'vmctl', p));
  checks.push({
    id: 'boot-exec-true',
    text: '`vmctl boot --exec true` ≤ 0.4 s wall',
    measured: `pinned ${fmtMs(boots[0])}, unpinned ${fmtMs(boots[1])} (limit 0.4 s)`,
    pass: verdict(boots, (v) => v <= 400),
  });
  const rss = PLACEMENTS.map((p) => value(ms, 'kernel_rss', 'vmctl', p));
  checks.push({
    id: 'kernel-rss',
    text: 'kernel peak RSS ≤ 120 MB on the workload',
    measured: `pinned ${fmtMb(rss[0])}, unpinned ${fmtMb(rss[1])} (limit 120 MB)`,
    pass: verdict(rss, (v) => v <= 120),
  });
  return checks;
}

/** Three significant digits, no exponent. */
export function sig3(n: number): string {
  if (n >= 100) return Math.round(n).toString();
  return Number(n.toPrecision(3)).toString();
}

function fmtMs(ms: number | undefined): string {
  return ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(2)} s`;
}

function fmtMb(mb: number | undefined): string {
  return mb === undefined ? 'n/a' : `${Math.round(mb)} MB`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

const RUNNERS: readonly SettingId[] = ['native', 'vmctl', 'vmctl-strict', 'uml', 'proot'];

/** "pinned / unpinned" in a unit. */
function pair(ms: readonly Measurement[], bench: string, setting: SettingId, scale: number, fmt: (n: number) => string): string {
  const cells = PLACEMENTS.map((p) => {
    const v = value(ms, bench, setting, p);
    return v === undefined ? '–' : fmt(v / scale);
  });
  return cells.every((c) => c === '–') ? '–' : cells.join(' / ');
}

function ratioPair(ratios: readonly Ratio[], bench: string, reference: SettingId, subject: SettingId = 'vmctl'): string {
  const cells = PLACEMENTS.map((p) => {
    const r = ratios.find(
      (x) => x.bench === bench && x.subject === subject && x.subjectPlacement === p && x.reference === reference && x.referencePlacement === p,
    );
    return r === undefined ? '–' : r.value.toFixed(2);
  });
  return cells.every((c) => c === '–') ? '–' : cells.join(' / ');
}

/** The whole report as Markdown: figures, ratios, targets, notes. */
export function renderReport(report: BenchReport): string {
  const ms = report.measurements;
  const label = (id: string): string => report.benchmarks.find((b) => b.id === id)?.label ?? id;
  const out: string[] = [];

  out.push('Time per operation, µs (pinned `taskset -c 0` / unpinned):', '');
  out.push(
    table(
      ['benchmark', ...RUNNERS.map((s) => SHORT_LABEL[s])],
      MICRO.map((b) => [b.label, ...RUNNERS.map((s) => pair(ms, b.id, s, 1000, sig3))]),
    ),
  );
  out.push('', 'Raw mechanism floors, getppid served by a bare C tracer, µs (pinned / unpinned):', '');
  const floors: SettingId[] = ['floor-sysemu', 'floor-seccomp-trace', 'floor-user-notif'];
  out.push(table(['floor', 'getppid'], floors.map((s) => [SETTINGS.find((x) => x.id === s)?.label ?? s, pair(ms, 'getppid', s, 1000, sig3)])));

  out.push('', 'Macro (pinned / unpinned):', '');
  const macroRows: string[][] = [
    [label('workload') + ', s', ...RUNNERS.map((s) => pair(ms, 'workload', s, 1000, (n) => n.toFixed(2)))],
    [label('workload_wall') + ', s', ...RUNNERS.map((s) => pair(ms, 'workload_wall', s, 1000, (n) => n.toFixed(2)))],
    [label('boot') + ', s', ...RUNNERS.map((s) => pair(ms, 'boot', s, 1000, (n) => n.toFixed(2)))],
    [label('kernel_rss'), ...RUNNERS.map((s) => pair(ms, 'kernel_rss', s, 1, (n) => `${Math.round(n)} MB`))],
    [label('boot_rss'), ...RUNNERS.map((s) => pair(ms, 'boot_rss', s, 1, (n) => `${Math.round(n)} MB`))],
    [label('node_start') + ', s', ...RUNNERS.map((s) => pair(ms, 'node_start', s, 1000, (n) => n.toFixed(2)))],
    [label('cli_start') + ', s', ...RUNNERS.map((s) => pair(ms, 'cli_start', s, 1000, (n) => n.toFixed(2)))],
    [label('cli_rss'), ...RUNNERS.map((s) => pair(ms, 'cli_rss', s, 1, (n) => `${Math.round(n)} MB`))],
  ];
  out.push(table(['benchmark', ...RUNNERS.map((s) => SHORT_LABEL[s])], macroRows));

  out.push('', 'Ratios, vmctl (default) ÷ reference, same run (pinned / unpinned; below 1 means vmctl is faster):', '');
  const sysemuFloor = (subject: SettingId): string =>
    PLACEMENTS.map((p) => {
      const r = report.ratios.find(
        (x) => x.bench === 'getppid' && x.subject === subject && x.subjectPlacement === p && x.reference === 'floor-sysemu',
      );
      return r === undefined ? '–' : r.value.toFixed(2);
    }).join(' / ');
  out.push(
    table(
      ['benchmark', '÷ native', '÷ UML', '÷ PRoot', '÷ SYSEMU floor (pinned)', 'strict ÷ UML'],
      [...MICRO.map((b) => b.id), 'workload', 'boot'].map((id) => [
        label(id),
        ratioPair(report.ratios, id, 'native'),
        ratioPair(report.ratios, id, 'uml'),
        ratioPair(report.ratios, id, 'proot'),
        id === 'getppid' ? sysemuFloor('vmctl') : '',
        ratioPair(report.ratios, id, 'uml', 'vmctl-strict'),
      ]),
    ),
  );

  out.push('', 'Targets (vmctl default mode; reported, not asserted):', '');
  out.push(
    table(
      ['target', 'measured', 'result'],
      report.targets.map((t) => [t.text, t.measured, t.pass === null ? 'n/a' : t.pass ? 'PASS' : 'FAIL']),
    ),
  );
  if (report.notes.length > 0) out.push('', 'Notes:', ...report.notes.map((n) => `- ${n}`));
  return out.join('\n');
}

const us = (ns: number): string => `${sig3(ns / 1000)} µs`;

/**
 * What the figures themselves say about the bounds of the targets: how a
 * vmctl syscall splits into the host mechanism and the guest kernel, how a
 * boot splits into Node.js, the CLI and the kernel, how much of the peak RSS
 * is there before the kernel starts.
 */
export function boundNotes(ms: readonly Measurement[]): string[] {
  const notes: string[] = [];
  const v = (bench: string, setting: SettingId, placement: Placement): number | undefined => value(ms, bench, setting, placement);

  const g = v('getppid', 'vmctl', 'pinned');
  const gs = v('getppid', 'vmctl-strict', 'pinned');
  const sysemu = v('getppid', 'floor-sysemu', 'pinned');
  const trace = v('getppid', 'floor-seccomp-trace', 'pinned');
  if (g !== undefined && sysemu !== undefined && trace !== undefined) {
    notes.push(
      `getppid, pinned: vmctl ${us(g)} (strict ${gs === undefined ? 'n/a' : us(gs)}) against the bare SYSEMU stop ${us(sysemu)} ` +
        `and the bare SECCOMP_RET_TRACE stop ${us(trace)} (the accelerated mode's mechanism): ` +
        (g > trace
          ? `the guest kernel and addon add about ${us(g - trace)} per syscall on top of the stop it takes.`
          : 'vmctl measured below the bare stop: the bare tracers write every register back with PTRACE_SETREGS, ' +
            'vmctl only what the call changed (rax with PTRACE_POKEUSER at a PTRACE_SYSEMU stop, the general ' +
            'registers with PTRACE_SETREGSET at a seccomp stop), which saves more than the guest kernel\'s own work costs.'),
    );
  }
  const gu = v('getppid', 'vmctl', 'unpinned');
  if (g !== undefined && gu !== undefined) {
    notes.push(`getppid under vmctl: unpinned ${us(gu)} against pinned ${us(g)} (${(gu / g).toFixed(2)} ×): the cost of where the scheduler puts the kernel and its guest.`);
  }
  for (const placement of PLACEMENTS) {
    const boot = v('boot', 'vmctl', placement);
    const node = v('node_start', 'vmctl', placement);
    const cli = v('cli_start', 'vmctl', placement);
    if (boot !== undefined && node !== undefined && cli !== undefined) {
      const s = (x: number): string => `${(x / 1000).toFixed(2)} s`;
      notes.push(
        `boot --exec true, ${placement}: ${s(boot)}; Node.js alone starts in ${s(node)}, and \`vmctl --version\` ` +
          `(oclif and the bundled command table) takes ${s(cli)}; ` +
          (boot > cli
            ? `the remaining ${s(boot - cli)} is loading the boot command and the kernel, checking the host build, ` +
              'probing the host and running the guest.'
            : 'the boot measured below that, so in this run the noise of the shared machine is larger than the boot\'s own cost.'),
      );
    }
  }
  const rss = v('kernel_rss', 'vmctl', 'unpinned') ?? v('kernel_rss', 'vmctl', 'pinned');
  const cliRss = v('cli_rss', 'vmctl', 'unpinned') ?? v('cli_rss', 'vmctl', 'pinned');
  const bootRss = v('boot_rss', 'vmctl', 'unpinned') ?? v('boot_rss', 'vmctl', 'pinned');
  if (rss !== undefined && cliRss !== undefined) {
    notes.push(
      `kernel RSS: ${Math.round(rss)} MB peak on the workload; \`vmctl --version\` alone at ${Math.round(cliRss)} MB` +
        `${bootRss === undefined ? '' : ` and a boot of \`true\` at ${Math.round(bootRss)} MB`}: the rest is what the workload adds.`,
    );
  }
  for (const placement of PLACEMENTS) {
    const floorP = v('getppid', 'floor-sysemu', 'pinned');
    const uml = v('getppid', 'uml', placement);
    if (floorP !== undefined && uml !== undefined) {
      const r = floorP / uml;
      notes.push(
        `getppid, ${placement}: the bare pinned PTRACE_SYSEMU stop (${us(floorP)}) is ${r.toFixed(2)} × UML's getppid (${us(uml)}): ` +
          (r > 0.7
            ? 'the ≤ 0.7 × target is out of reach of any design that takes a ptrace stop for getppid.'
            : 'the mechanism itself leaves room under the ≤ 0.7 × target.'),
      );
    }
  }
  for (const placement of PLACEMENTS) {
    const slower = MICRO.flatMap((b) => {
      const a = v(b.id, 'vmctl', placement);
      const p = v(b.id, 'proot', placement);
      return a !== undefined && p !== undefined && a > p ? [{ label: b.label, ratio: a / p, a, p }] : [];
    }).sort((x, y) => y.ratio - x.ratio);
    if (slower.length > 0) {
      notes.push(
        `slower than PRoot, ${placement}: ` +
          slower.map((x) => `${x.label} ${x.ratio.toFixed(2)} × (${us(x.a)} against ${us(x.p)})`).join(', ') + '.',
      );
    }
  }
  const fe = v('fork_exec_wait', 'vmctl', 'pinned');
  const fx = v('fork_exit_wait', 'vmctl', 'pinned');
  const feUml = v('fork_exec_wait', 'uml', 'pinned');
  if (fe !== undefined && fx !== undefined && feUml !== undefined) {
    notes.push(`fork+exec+wait, pinned: vmctl ${us(fe)} (fork+exit+wait alone ${us(fx)}, so exec about ${us(fe - fx)}) against UML ${us(feUml)}.`);
  }
  return notes;
}
