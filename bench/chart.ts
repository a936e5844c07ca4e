/**
 * The ratio chart, as a self-contained SVG written by hand: one group of
 * bars per benchmark, one bar per reference and placement, for vmctl's
 * default mode. The axis is logarithmic and every bar starts at 1 (parity):
 * bars to the left are where vmctl is faster than the reference, bars to
 * the right where it is slower.
 */
import { MICRO, type BenchReport, type Placement, type SettingId, SHORT_LABEL } from './suite.ts';

interface Bar {
  reference: SettingId;
  placement: Placement;
  value: number;
}

interface Group {
  label: string;
  bars: Bar[];
}

const COLORS: Partial<Record<SettingId, string>> = {
  native: '#4e79a7',
  uml: '#f28e2b',
  proot: '#59a14f',
  'floor-sysemu': '#e15759',
};

/** Shorter names where the table's would not fit the left margin. */
const CHART_LABEL: Record<string, string> = {
  workload: 'shell workload',
  boot: 'boot, sh -c true, exit',
};

function esc(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

function groups(report: BenchReport): Group[] {
  const label = (id: string): string => report.benchmarks.find((b) => b.id === id)?.label ?? id;
  const ids = [...MICRO.map((b) => b.id), 'workload', 'boot'];
  const out: Group[] = [];
  for (const id of ids) {
    const bars: Bar[] = [];
    for (const reference of ['native', 'uml', 'proot', 'floor-sysemu'] as const) {
      for (const placement of ['pinned', 'unpinned'] as const) {
        const r = report.ratios.find(
          (x) =>
            x.bench === id &&
            x.subject === 'vmctl' &&
            x.subjectPlacement === placement &&
            x.reference === reference &&
            (reference === 'floor-sysemu' ? x.referencePlacement === 'pinned' : x.referencePlacement === placement),
        );
        if (r) bars.push({ reference, placement, value: r.value });
      }
    }
    if (bars.length > 0) out.push({ label: CHART_LABEL[id] ?? label(id), bars });
  }
  return out;
}

function ticks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const t = m * 10 ** e;
      if (t >= lo * 0.999 && t <= hi * 1.001) out.push(t);
    }
  }
  return out;
}

function tickLabel(t: number): string {
  return t >= 1 ? `${t}×` : `${Number(t.toPrecision(1))}×`;
}

export function renderChart(report: BenchReport): string {
  const data = groups(report);
  const all = data.flatMap((g) => g.bars.map((b) => b.value)).filter((v) => v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(0.5, ...all)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(2, ...all)));

  const left = 200;
  const plotWidth = 560;
  const legendWidth = 230;
  const barHeight = 9;
  const groupGap = 12;
  const top = 72;
  const width = left + plotWidth + legendWidth;
  const x = (v: number): number => left + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotWidth;

  const parts: string[] = [];
  let y = top;
  for (const group of data) {
    const height = group.bars.length * barHeight;
    parts.push(
      `<text x="${left - 8}" y="${(y + height / 2 + 4).toFixed(1)}" text-anchor="end" font-size="12">${esc(group.label)}</text>`,
    );
    for (const bar of group.bars) {
      const x0 = x(1);
      const x1 = x(bar.value);
      const color = COLORS[bar.reference] ?? '#888';
      const opacity = bar.placement === 'pinned' ? 1 : 0.45;
      const rx = Math.min(x0, x1);
      const text = bar.value >= 10 ? bar.value.toFixed(0) : bar.value.toFixed(2);
      const tx = x1 >= x0 ? x1 + 3 : x1 - 3;
      parts.push(
        `<rect x="${rx.toFixed(1)}" y="${y + 1}" width="${Math.max(1, Math.abs(x1 - x0)).toFixed(1)}" height="${barHeight - 2}" fill="${color}" fill-opacity="${opacity}">` +
          `<title>${esc(`${group.label}: vmctl ÷ ${SHORT_LABEL[bar.reference]} (${bar.placement}) = ${bar.value.toFixed(3)}`)}</title></rect>`,
        `<text x="${tx.toFixed(1)}" y="${y + barHeight - 1}" font-size="8" text-anchor="${x1 >= x0 ? 'start' : 'end'}" fill="#333">${text}</text>`,
      );
      y += barHeight;
    }
    y += groupGap;
  }
  const bottom = y;

  const axis: string[] = [];
  // Minor ticks get a label only where a decade is wide enough for three.
  const labelMinor = plotWidth / (Math.log10(hi) - Math.log10(lo)) >= 150;
  for (const t of ticks(lo, hi)) {
    const tx = x(t).toFixed(1);
    const major = Math.abs(Math.log10(t) - Math.round(Math.log10(t))) < 1e-9;
    axis.push(`<line x1="${tx}" y1="${top - 6}" x2="${tx}" y2="${bottom}" stroke="${t === 1 ? '#000' : '#ddd'}" stroke-width="${t === 1 ? 1.5 : major ? 1 : 0.5}"/>`);
    if (major || labelMinor) axis.push(`<text x="${tx}" y="${top - 10}" text-anchor="middle" font-size="10" fill="#555">${tickLabel(t)}</text>`);
  }

  const legend: string[] = [];
  let ly = top;
  const lx = left + plotWidth + 24;
  for (const reference of ['native', 'uml', 'proot', 'floor-sysemu'] as const) {
    for (const placement of ['pinned', 'unpinned'] as const) {
      legend.push(
        `<rect x="${lx}" y="${ly}" width="14" height="9" fill="${COLORS[reference]}" fill-opacity="${placement === 'pinned' ? 1 : 0.45}"/>`,
        `<text x="${lx + 20}" y="${ly + 8}" font-size="11">÷ ${esc(SHORT_LABEL[reference])}, ${placement}</text>`,
      );
      ly += 16;
    }
  }
  legend.push(
    `<text x="${lx}" y="${ly + 12}" font-size="10" fill="#555">left of 1×: vmctl faster</text>`,
    `<text x="${lx}" y="${ly + 26}" font-size="10" fill="#555">right of 1×: vmctl slower</text>`,
    `<text x="${lx}" y="${ly + 40}" font-size="10" fill="#555">floor bars: getppid ÷ the pinned floor</text>`,
  );

  const height = bottom + 24;
  const title = `vmctl (default mode) ÷ reference, same run${report.quick ? ' (--quick)' : ''}`;
  const subtitle = `${report.machine.nproc} CPUs, ${report.machine.cpu}, Linux ${report.machine.kernel}; ${report.startedAt}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${left}" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="${left}" y="36" font-size="10" fill="#555">${esc(subtitle)}</text>`,
    ...axis,
    ...parts,
    ...legend,
    '</svg>',
    '',
  ].join('\n');
}
