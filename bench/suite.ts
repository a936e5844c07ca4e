/**
 * What the benchmark suite measures, in one place: the settings, the
 * benchmarks, how big each run is (full or --quick), and the result types
 * written to JSON. The other files of bench/ only carry this out.
 */

/** Where a program runs: natively, under a runner, or under a bare mechanism floor. */
export type SettingId =
  | 'native'
  | 'vmctl'
  | 'vmctl-strict'
  | 'uml'
  | 'proot'
  | 'floor-sysemu'
  | 'floor-seccomp-trace'
  | 'floor-user-notif';

/** Pinned: the whole setting under `taskset -c 0`. Unpinned: as started by default. */
export type Placement = 'pinned' | 'unpinned';
export const PLACEMENTS: readonly Placement[] = ['pinned', 'unpinned'];

export interface SettingInfo {
  id: SettingId;
  label: string;
  /** A floor: a bare C tracer serving getppid, with no kernel logic; only getppid is measured. */
  floor: boolean;
}

export const SETTINGS: readonly SettingInfo[] = [
  { id: 'native', label: 'native', floor: false },
  { id: 'vmctl', label: 'vmctl (default, accelerated)', floor: false },
  { id: 'vmctl-strict', label: 'vmctl --strict', floor: false },
  { id: 'uml', label: 'User-Mode Linux', floor: false },
  { id: 'proot', label: 'PRoot', floor: false },
  { id: 'floor-sysemu', label: 'floor: PTRACE_SYSEMU', floor: true },
  { id: 'floor-seccomp-trace', label: 'floor: SECCOMP_RET_TRACE', floor: true },
  { id: 'floor-user-notif', label: 'floor: seccomp user notification', floor: true },
];

/** Short column headings for tables and the chart. */
export const SHORT_LABEL: Record<SettingId, string> = {
  native: 'native',
  vmctl: 'vmctl',
  'vmctl-strict': 'vmctl strict',
  uml: 'UML',
  proot: 'PRoot',
  'floor-sysemu': 'SYSEMU floor',
  'floor-seccomp-trace': 'RET_TRACE floor',
  'floor-user-notif': 'user-notif floor',
};

/** The floor programs (bench/programs/floor_*.c) and the setting each one stands for. */
export const FLOOR_PROGRAMS: Readonly<Record<string, SettingId>> = {
  floor_sysemu: 'floor-sysemu',
  floor_seccomp_trace: 'floor-seccomp-trace',
  floor_user_notif: 'floor-user-notif',
};

export type BenchKind = 'micro' | 'macro';

export interface BenchInfo {
  /** Also the name of its C program in bench/programs/ for a micro benchmark. */
  id: string;
  label: string;
  kind: BenchKind;
  unit: 'ns/op' | 'ms' | 'MB';
}

/** Micro benchmarks: each is bench/programs/ID.c, printing `RESULT ID median min max N`. */
export const MICRO: readonly BenchInfo[] = [
  { id: 'getppid', label: 'getppid', kind: 'micro', unit: 'ns/op' },
  { id: 'open_close', label: 'open+close', kind: 'micro', unit: 'ns/op' },
  { id: 'pread_4k', label: 'pread 4 KiB', kind: 'micro', unit: 'ns/op' },
  { id: 'write_null', label: 'write 1 B to /dev/null', kind: 'micro', unit: 'ns/op' },
  { id: 'pipe_pingpong', label: 'pipe ping-pong round trip', kind: 'micro', unit: 'ns/op' },
  { id: 'fork_exit_wait', label: 'fork+exit+wait', kind: 'micro', unit: 'ns/op' },
  { id: 'fork_exec_wait', label: 'fork+exec true+wait', kind: 'micro', unit: 'ns/op' },
  { id: 'mmap_touch_munmap', label: 'mmap+touch+munmap 1 MiB', kind: 'micro', unit: 'ns/op' },
  { id: 'page_first_touch', label: 'first touch of a page', kind: 'micro', unit: 'ns/op' },
];

/** Macro benchmarks. */
export const MACRO: readonly BenchInfo[] = [
  { id: 'workload', label: 'busybox shell workload (in-guest wall time)', kind: 'macro', unit: 'ms' },
  { id: 'workload_wall', label: 'shell workload, start to exit', kind: 'macro', unit: 'ms' },
  { id: 'boot', label: 'boot, sh -c true, exit (wall)', kind: 'macro', unit: 'ms' },
  { id: 'kernel_rss', label: 'kernel process peak RSS, workload', kind: 'macro', unit: 'MB' },
  { id: 'boot_rss', label: 'kernel process peak RSS, boot --exec true', kind: 'macro', unit: 'MB' },
  { id: 'node_start', label: 'node -e 0 (wall)', kind: 'macro', unit: 'ms' },
  { id: 'cli_start', label: 'vmctl --version (wall)', kind: 'macro', unit: 'ms' },
  { id: 'cli_rss', label: 'vmctl --version peak RSS', kind: 'macro', unit: 'MB' },
];

export const BENCHMARKS: readonly BenchInfo[] = [...MICRO, ...MACRO];

/** The C programs the suite builds (cc -static -O2) besides the micro benchmarks. */
export const HELPER_PROGRAMS = ['true', 'timeit', ...Object.keys(FLOOR_PROGRAMS)] as const;

export interface WorkloadScale {
  dirs: number;
  subdirs: number;
  files: number;
  sortLines: number;
  shells: number;
}

/** How much one run does. */
export interface Plan {
  quick: boolean;
  /** Target time of one micro benchmark measurement, ms. */
  microTargetMs: number;
  /** Micro rounds over every setting; each figure is the best round's median. Later rounds only while time remains. */
  microRounds: number;
  /** Workload rounds, the same way. */
  workloadRounds: number;
  workload: WorkloadScale;
  /** The runners the workload and boot phases go over. */
  macroSettings: SettingId[];
  /** Timed boots per setting and placement, after one untimed warm-up boot of vmctl. */
  bootRuns: number;
  /** Past this many seconds, optional rounds are skipped so the run ends within its budget. */
  budgetS: number;
  /** Longest one setting run may take before it is killed. */
  runTimeoutS: number;
}

export const FULL_PLAN: Plan = {
  quick: false,
  microTargetMs: 500,
  microRounds: 3,
  workloadRounds: 2,
  // 10 x 10 x 20 = 2,000 files; 47,000 lines of ~22 bytes = 1 MB to sort.
  workload: { dirs: 10, subdirs: 10, files: 20, sortLines: 47_000, shells: 200 },
  macroSettings: ['native', 'vmctl', 'vmctl-strict', 'uml', 'proot'],
  bootRuns: 3,
  budgetS: 540,
  runTimeoutS: 240,
};

export const QUICK_PLAN: Plan = {
  quick: true,
  microTargetMs: 60,
  microRounds: 1,
  workloadRounds: 1,
  // A tenth of the full workload: 200 files, 100 KB to sort, 20 shells.
  workload: { dirs: 2, subdirs: 5, files: 20, sortLines: 4_700, shells: 20 },
  // vmctl --strict only in the micro round: each vmctl boot costs seconds.
  macroSettings: ['native', 'vmctl', 'uml', 'proot'],
  bootRuns: 1,
  budgetS: 60,
  runTimeoutS: 60,
};

/** One figure: a benchmark in a setting and placement. */
export interface Measurement {
  bench: string;
  setting: SettingId;
  placement: Placement;
  /** The figure: median of the program's three timed runs (micro) or of the runs (macro). */
  value: number;
  unit: BenchInfo['unit'];
  min?: number;
  max?: number;
  /** Iterations per timed run (micro) or number of runs (macro). */
  count?: number;
}

/** A ratio of two figures from the same run, subject / reference. */
export interface Ratio {
  bench: string;
  subject: SettingId;
  subjectPlacement: Placement;
  reference: SettingId;
  referencePlacement: Placement;
  value: number;
}

export interface TargetCheck {
  id: string;
  /** The target as the issue states it. */
  text: string;
  /** What was measured, e.g. "pinned 0.52, unpinned 0.61 (limit 0.7)". */
  measured: string;
  /** null when a figure it needs is missing (a setting was skipped or failed). */
  pass: boolean | null;
}

export interface SettingStatus {
  id: SettingId;
  label: string;
  status: 'measured' | 'skipped' | 'partial';
  note?: string;
}

export interface MachineInfo {
  nproc: number;
  kernel: string;
  cpu: string;
  memoryMb: number;
  node: string;
  /** Load averages at the start and at the end of the run. */
  loadStart: number[];
  loadEnd: number[];
  note: string;
}

/** The JSON the suite writes (bench/results/latest.json or --out). */
export interface BenchReport {
  version: 1;
  quick: boolean;
  startedAt: string;
  seconds: number;
  machine: MachineInfo;
  plan: Plan;
  settings: SettingStatus[];
  benchmarks: BenchInfo[];
  measurements: Measurement[];
  ratios: Ratio[];
  targets: TargetCheck[];
  notes: string[];
}
