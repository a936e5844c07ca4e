/**
 * The syscall fuzzer's driver: `npm run fuzz -- --calls N --seed S [--strict]`.
 *
 * It builds test/programs/fuzz.c statically into a scratch root (busybox as
 * /bin/sh, a /tmp, a file and a directory on the read-only lower layer),
 * boots a guest on it through the real CLI with `exec /fuzz run ...` as its
 * first process, and judges the run from the outside:
 *   - a kernel crash: vmctl prints "kernel bug in NAME" (kernel.ts dispatch
 *     caught an exception) or stops with an internal error;
 *   - a hang: the guest's heartbeat (one `fuzz: hb` line a second from the
 *     fuzzer's parent) stops for --hang-seconds, or goes on while the count
 *     of calls made stands still that long (the parent kills a child stuck
 *     for 2 s and starts another, so calls never stop for long); the boot
 *     is killed;
 *   - vmctl dying: any end but the fuzzer's own `fuzz: done` and status 0;
 *   - a child that outlives SIGKILL, or a call that a signal did not end
 *     (the fuzzer's children take a SIGALRM every 25 ms; see fuzz.c);
 *   - the host running short of memory (the machine is shared): the boot is
 *     killed and that is a finding too.
 * It prints calls/s and a summary; a finding names the child whose calls
 * found it and how to replay that child alone with each call printed.
 *
 * Options: --calls N (default 100000), --seed S (default: random, printed),
 * --strict (vmctl boot --strict), --children P, --per-child M,
 * --child I (replay child I alone), --trace (print each call), --int80,
 * --skip NAME,... (never draw these syscalls: to look past a known bug),
 * --hang-seconds T (default 30), --progress-seconds T (default 10), --keep,
 * --segment-calls M: a run of more calls than that is a series of boots of
 * M calls each, with seeds S, S+1, ..., so that a crash or hang ends one
 * boot and not the run (default: 1000000 for runs of more than 2000000).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureBusyboxRootfs } from '../src/rootfs/busybox.ts';

const PACKAGE_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
const VMCTL = join(PACKAGE_DIR, 'bin/vmctl.js');
export const FUZZ_SOURCE = join(PACKAGE_DIR, 'test/programs/fuzz.c');

/** Below this much available host memory the run is stopped (the host is shared). */
const MIN_AVAILABLE_BYTES = 3 * 2 ** 30;
/** vmctl's own resident memory past this is a kernel leak worth stopping for. */
const MAX_VMCTL_RSS_BYTES = 4 * 2 ** 30;

export interface FuzzOptions {
  calls: number;
  seed: number;
  strict?: boolean;
  children?: number;
  perChild?: number;
  /** replay this child alone */
  child?: number;
  trace?: boolean;
  int80?: boolean;
  /** syscall names never drawn (to look past a known bug) */
  skip?: string[];
  /** seconds without a heartbeat that make a hang (default 30) */
  hangSeconds?: number;
  /** a line of progress this often (default 10 s; 0: none) */
  progressSeconds?: number;
  /** keep the scratch directory */
  keep?: boolean;
  /** where progress and the guest's trace lines go (default: stdout) */
  log?: (line: string) => void;
  /**
   * A shell command for the guest instead of the fuzzer: for tests of the
   * judge itself (a guest that stops its heartbeat must be called hung).
   */
  command?: string;
}

export type FindingKind = 'kernel-bug' | 'internal-error' | 'hang' | 'vmctl-died' | 'unkillable' | 'stuck' | 'memory';

export interface Finding {
  kind: FindingKind;
  /** one line: what happened */
  summary: string;
  /** the stack, the call, the last lines of stderr */
  detail: string[];
  /** the fuzzer child it happened in, when known */
  child?: number;
}

export interface FuzzResult {
  seed: number;
  strict: boolean;
  calls: number;
  ms: number;
  callsPerSecond: number;
  children: number;
  /** the fuzzer's own end-of-run line (children exited, killed by which signals, ...) */
  done: string | undefined;
  exitCode: number | null;
  signal: string | null;
  /** calls that a child sat in past the fuzzer's limit, which may block by their nature */
  stuckExpected: string[];
  unimplemented: string[];
  findings: Finding[];
}

/**
 * Calls that may stay blocked although SIGALRM arrives: they take a signal
 * mask of their own (which may block it), or wait killably only (vfork), or
 * are a new program the fuzzer no longer runs.
 */
const MAY_IGNORE_SIGALRM = new Set([
  'rt_sigsuspend', 'ppoll', 'pselect6', 'epoll_pwait', 'epoll_pwait2', 'io_pgetevents', 'vfork', 'clone', 'clone3',
  'execve', 'execveat',
]);

/** Builds the scratch root: busybox as /bin/sh, /tmp, /fuzz, and a file and a directory on the lower layer. */
export async function buildFuzzRoot(dir: string, withFuzzer = true): Promise<string> {
  const busybox = join(await ensureBusyboxRootfs(), 'bin/busybox');
  await mkdir(join(dir, 'bin'), { recursive: true });
  await mkdir(join(dir, 'tmp'), { recursive: true });
  await chmod(join(dir, 'tmp'), 0o1777);
  await mkdir(join(dir, 'fuzzdir/sub'), { recursive: true });
  await writeFile(join(dir, 'fuzzroot'), 'a file of the lower layer\n'.repeat(3));
  await copyFile(busybox, join(dir, 'bin/busybox'));
  await chmod(join(dir, 'bin/busybox'), 0o755);
  await symlink('busybox', join(dir, 'bin/sh'));
  await symlink('busybox', join(dir, 'bin/true'));
  if (!withFuzzer) return dir;
  const cc = process.env.CC || 'cc';
  const build = spawnSync(cc, ['-static', '-O2', '-Wall', '-Wextra', '-Werror', '-fno-stack-protector', '-o', join(dir, 'fuzz'), FUZZ_SOURCE], {
    encoding: 'utf8',
  });
  if (build.status !== 0) throw new Error(`${cc} failed to build ${FUZZ_SOURCE}:\n${build.stderr}${build.error ?? ''}`);
  return dir;
}

/** The host side (tracer, stub) built before the clock starts: a first build is not a hang. */
function buildHost(): void {
  const r = spawnSync(VMCTL, ['build-host'], { encoding: 'utf8', cwd: PACKAGE_DIR });
  if (r.status !== 0) throw new Error(`vmctl build-host failed:\n${r.stdout}${r.stderr}`);
}

async function availableBytes(): Promise<number> {
  const text = await readFile('/proc/meminfo', 'utf8').catch(() => '');
  const m = /MemAvailable:\s+(\d+) kB/.exec(text);
  return m ? Number(m[1]) * 1024 : Infinity;
}

/** CPU seconds a host process has used (utime + stime of /proc/PID/stat, at USER_HZ 100). */
async function cpuSeconds(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return fields.length > 13 ? (Number(fields[11]) + Number(fields[12])) / 100 : 0;
}

async function rssBytes(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const m = /VmRSS:\s+(\d+) kB/.exec(text);
  return m ? Number(m[1]) * 1024 : 0;
}

export function replayCommand(o: { seed: number; strict?: boolean; child: number }): string {
  return `npm run fuzz -- --seed ${o.seed} --child ${o.child} --trace${o.strict ? ' --strict' : ''}`;
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzResult> {
  const log = o.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const hangMs = (o.hangSeconds ?? 30) * 1000;
  const progressMs = (o.progressSeconds ?? 10) * 1000;
  const scratch = await mkdtemp(join(tmpdir(), 'vmctl-fuzz-'));
  const result: FuzzResult = {
    seed: o.seed, strict: o.strict ?? false, calls: 0, ms: 0, callsPerSecond: 0, children: 0, done: undefined,
    exitCode: null, signal: null, stuckExpected: [], unimplemented: [], findings: [],
  };
  try {
    buildHost();
    const root = await buildFuzzRoot(join(scratch, 'root'), o.command === undefined);
    const fuzzArgs = ['run', '--calls', String(o.calls), '--seed', String(o.seed)];
    if (o.children !== undefined) fuzzArgs.push('--children', String(o.children));
    if (o.perChild !== undefined) fuzzArgs.push('--per-child', String(o.perChild));
    if (o.child !== undefined) fuzzArgs.push('--child', String(o.child));
    if (o.trace) fuzzArgs.push('--trace');
    if (o.int80) fuzzArgs.push('--int80');
    if (o.skip?.length) fuzzArgs.push('--skip', o.skip.join(','));
    const command = o.command ?? `exec /fuzz ${fuzzArgs.join(' ')}`;
    const args = ['boot', '--rootfs', root, '--fresh', ...(o.strict ? ['--strict'] : []), '--exec', command];
    log(`fuzz: seed ${o.seed}, ${o.calls} calls${o.strict ? ', --strict' : ''}${o.child !== undefined ? `, child #${o.child} alone` : ''}`);
    await drive(args, { XDG_STATE_HOME: join(scratch, 'state') }, o, result, log, hangMs, progressMs);
  } finally {
    if (o.keep) log(`fuzz: scratch directory kept: ${scratch}`);
    else await rm(scratch, { recursive: true, force: true });
  }
  return result;
}

async function drive(
  args: string[], env: Record<string, string>, o: FuzzOptions, result: FuzzResult, log: (line: string) => void,
  hangMs: number, progressMs: number,
): Promise<void> {
  const start = performance.now();
  const child = spawn(VMCTL, args, {
    cwd: PACKAGE_DIR,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: a hang is ended by killing all of it.
    detached: true,
  });
  // The boot is a process group of its own: it goes with the driver, however the driver ends.
  const killBoot = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.on('exit', killBoot);
  const pidToChild = new Map<number, number>();
  const unimplemented = new Set<string>();
  const stderrTail: string[] = [];
  let lastBeat = performance.now();
  let lastAdvance = performance.now();
  // vmctl's CPU time at the last heartbeat: a silence it spent computing is a busy kernel, one it slept through a stuck guest.
  let cpuAtBeat = 0, cpuNow = 0;
  let sawBeat = false;
  let lastProgress = performance.now();
  let lastLive = '';
  let killedFor: FindingKind | undefined;
  let bug: Finding | undefined;
  const seenBugs = new Set<string>();

  const stop = (kind: FindingKind) => {
    if (killedFor) return;
    killedFor = kind;
    killBoot();
  };
  const add = (f: Finding) => {
    result.findings.push(f);
    log(`fuzz: FINDING ${f.kind}: ${f.summary}`);
  };

  // One finding per distinct place: the syscall and the innermost frame.
  const flushBug = () => {
    if (!bug) return;
    const key = `${bug.summary.split(':')[0]} ${bug.detail[0] ?? ''}`;
    if (!seenBugs.has(key)) {
      seenBugs.add(key);
      add(bug);
    }
    bug = undefined;
  };

  createInterface({ input: child.stdout! }).on('line', (line) => {
    // A child may write to the console: the parent's lines are found anywhere in a line.
    const hb = /fuzz: hb calls=(\d+) children=(\d+) ms=(\d+) live=(.*)$/.exec(line);
    if (hb) {
      lastBeat = performance.now();
      cpuAtBeat = cpuNow;
      sawBeat = true;
      if (Number(hb[1]) !== result.calls) lastAdvance = lastBeat;
      result.calls = Number(hb[1]);
      result.children = Number(hb[2]);
      lastLive = hb[4]!;
      if (progressMs > 0 && lastBeat - lastProgress >= progressMs) {
        lastProgress = lastBeat;
        const s = (lastBeat - start) / 1000;
        log(`fuzz: ${result.calls} calls, ${result.children} children, ${Math.round(result.calls / s)} calls/s, ${s.toFixed(0)} s`);
      }
      return;
    }
    const spawned = /fuzz: child #(\d+) pid (\d+)/.exec(line);
    if (spawned) {
      pidToChild.set(Number(spawned[2]), Number(spawned[1]));
      return;
    }
    const stuck = /fuzz: stuck child #(\d+) pid \d+ after \d+ calls, (\w+|\?)\(.*$/.exec(line);
    if (stuck) {
      const text = line.slice(line.indexOf('fuzz: stuck') + 'fuzz: '.length);
      if (MAY_IGNORE_SIGALRM.has(stuck[2]!) || line.includes('(between calls)')) result.stuckExpected.push(text);
      else add({ kind: 'stuck', summary: text, detail: [], child: Number(stuck[1]) });
      return;
    }
    const unkillable = /fuzz: BUG unkillable child #(\d+) (.*)$/.exec(line);
    if (unkillable) {
      add({ kind: 'unkillable', summary: `child #${unkillable[1]} ${unkillable[2]}`, detail: [], child: Number(unkillable[1]) });
      return;
    }
    const done = /fuzz: done calls=(\d+) children=(\d+) (.*)$/.exec(line);
    if (done) {
      result.calls = Number(done[1]);
      result.children = Number(done[2]);
      result.done = line.slice(line.indexOf('fuzz: done'));
      return;
    }
    if (/fuzz: (seed|error)/.test(line)) log(line.slice(line.indexOf('fuzz: ')));
  });

  createInterface({ input: child.stderr! }).on('line', (line) => {
    if (o.trace && /^fuzz\[\d+\] #/.test(line)) {
      log(line);
      return;
    }
    const enosys = /vmctl: (\S+) \(-?\d+\) is not implemented/.exec(line);
    if (enosys) {
      unimplemented.add(enosys[1]!);
      return;
    }
    stderrTail.push(line);
    if (stderrTail.length > 60) stderrTail.shift();
    const kb = /kernel bug in (\S+) called by (.*) \(pid (\d+)\): (.*)$/.exec(line);
    if (kb) {
      const childIndex = pidToChild.get(Number(kb[3]));
      bug = {
        kind: 'kernel-bug',
        summary: `${kb[1]}: ${kb[4]} (pid ${kb[3]}${childIndex !== undefined ? `, child #${childIndex}` : ''})`,
        detail: [],
        child: childIndex,
      };
      if (o.trace) log(line);
      return;
    }
    if (bug && /^\s+at /.test(line)) {
      if (bug.detail.length < 12) bug.detail.push(line.trim());
      if (o.trace) log(line);
      return;
    }
    flushBug();
    if (/internal error/.test(line)) add({ kind: 'internal-error', summary: line.trim(), detail: [] });
    else if (o.trace) log(line);
  });

  const timer = setInterval(() => {
    if (killedFor) return;
    const now = performance.now();
    if (now - lastBeat > hangMs + (sawBeat ? 0 : 60_000)) {
      add({
        kind: 'hang',
        summary: `no heartbeat for ${Math.round((now - lastBeat) / 1000)} s after ${result.calls} calls, vmctl busy ` +
          `${(cpuNow - cpuAtBeat).toFixed(1)} s of it (live children: ${lastLive || 'none yet'})`,
        detail: stderrTail.slice(-10),
      });
      stop('hang');
    } else if (sawBeat && now - lastAdvance > hangMs) {
      add({
        kind: 'hang',
        summary: `the heartbeat goes on but calls stand still at ${result.calls} for ${Math.round((now - lastAdvance) / 1000)} s (live children: ${lastLive})`,
        detail: stderrTail.slice(-10),
      });
      stop('hang');
    }
    void (async () => {
      if (child.pid) cpuNow = await cpuSeconds(child.pid);
      const avail = await availableBytes();
      const rss = child.pid ? await rssBytes(child.pid) : 0;
      if (avail < MIN_AVAILABLE_BYTES || rss > MAX_VMCTL_RSS_BYTES) {
        add({
          kind: 'memory',
          summary: `host memory available ${Math.round(avail / 2 ** 20)} MiB, vmctl resident ${Math.round(rss / 2 ** 20)} MiB after ${result.calls} calls: stopped`,
          detail: [],
        });
        stop('memory');
      }
    })();
  }, 1000);

  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('exit', (c, s) => resolve([c, s])));
  clearInterval(timer);
  process.off('exit', killBoot);
  // The streams may hold the last lines still.
  await new Promise((resolve) => setTimeout(resolve, 50));
  flushBug();
  result.exitCode = code;
  result.signal = signal;
  result.ms = performance.now() - start;
  result.callsPerSecond = result.ms > 0 ? Math.round(result.calls / (result.ms / 1000)) : 0;
  result.unimplemented = [...unimplemented].sort();
  if (!killedFor && (code !== 0 || !result.done)) {
    const findsItself = code === 3 && result.findings.some((f) => f.kind === 'unkillable');
    if (!findsItself) {
      // Node's own status 13 (an unsettled top-level await): its event loop ran dry with the
      // guest unfinished, every guest thread parked with nothing left to wake it.
      const why = code === 13 && !result.done ? ' (node: the kernel had nothing left to wait for while the guest was not over: every guest thread parked or stopped for good)' : '';
      add({
        kind: 'vmctl-died',
        summary: `vmctl ended with ${signal ? `signal ${signal}` : `status ${code}`} ${result.done ? 'after' : 'before'} the fuzzer's end, after ${result.calls} calls${why}`,
        detail: stderrTail.slice(-20),
      });
    }
  }
  for (const f of result.findings) if (f.child === undefined && f.kind === 'hang') f.detail.push(`live children at the last heartbeat: ${lastLive}`);
}

/** The summary a run prints. */
export function summarize(r: FuzzResult): string[] {
  const out = [
    `fuzz: seed ${r.seed}${r.strict ? ' (--strict)' : ''}: ${r.calls} calls in ${(r.ms / 1000).toFixed(1)} s, ${r.callsPerSecond} calls/s, ${r.children} children`,
  ];
  if (r.done) out.push(`fuzz: ${r.done.replace(/^fuzz: /, '')}`);
  out.push(`fuzz: ${r.unimplemented.length} unimplemented syscalls met (ENOSYS)`);
  if (r.stuckExpected.length) out.push(`fuzz: ${r.stuckExpected.length} children killed in calls that may block past a signal (e.g. ${r.stuckExpected[0]})`);
  const by = (k: FindingKind) => r.findings.filter((f) => f.kind === k).length;
  out.push(`fuzz: kernel crashes ${by('kernel-bug') + by('internal-error')}, hangs ${by('hang')}, vmctl deaths ${by('vmctl-died')}, ` +
    `unkillable ${by('unkillable')}, uninterrupted waits ${by('stuck')}, memory ${by('memory')}`);
  for (const f of r.findings) {
    out.push(`fuzz: ${f.kind}: ${f.summary}`);
    for (const d of f.detail) out.push(`    ${d}`);
    if (f.child !== undefined) out.push(`    replay: ${replayCommand({ seed: r.seed, strict: r.strict, child: f.child })}`);
  }
  out.push(r.findings.length === 0 ? 'fuzz: PASS' : `fuzz: FAIL (${r.findings.length} findings)`);
  return out;
}

function parseArgs(argv: string[]): FuzzOptions & { segment?: number } {
  const o: FuzzOptions & { segment?: number } = { calls: 100000, seed: Math.floor(Math.random() * 2 ** 31) };
  const num = (i: number, name: string): number => {
    const v = Number(argv[i]);
    if (argv[i] === undefined || !Number.isSafeInteger(v) || v < 0) throw new Error(`${name} needs a whole number`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case '--calls': o.calls = num(++i, a); break;
      case '--seed': o.seed = num(++i, a); break;
      case '--strict': o.strict = true; break;
      case '--children': o.children = num(++i, a); break;
      case '--per-child': o.perChild = num(++i, a); break;
      case '--child': o.child = num(++i, a); break;
      case '--trace': o.trace = true; break;
      case '--int80': o.int80 = true; break;
      case '--skip': o.skip = (argv[++i] ?? '').split(',').filter(Boolean); break;
      case '--hang-seconds': o.hangSeconds = num(++i, a); break;
      case '--progress-seconds': o.progressSeconds = num(++i, a); break;
      case '--keep': o.keep = true; break;
      case '--segment-calls': o.segment = num(++i, a); if (o.segment < 1) throw new Error(`${a} needs at least 1`); break;
      default: throw new Error(`unknown option ${a} (see the comment at the top of scripts/fuzz.ts)`);
    }
  }
  return o;
}

/** What a run of several boots found, each boot with its own seed. */
export interface CampaignResult {
  boots: FuzzResult[];
  calls: number;
  ms: number;
  /** each distinct finding once, with the seed of the boot that first found it */
  findings: (Finding & { seed: number })[];
}

/**
 * A long run as a series of boots of `segment` calls each, the k-th with
 * seed S+k: a crash, hang or death of vmctl ends one boot and is reported,
 * and the run goes on with the next, so one bug does not hide the calls
 * after it. A finding is reported once, by kind and summary with the
 * numbers taken out, with the boot that found it first.
 */
export async function runCampaign(o: FuzzOptions, segment: number): Promise<CampaignResult> {
  const log = o.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const result: CampaignResult = { boots: [], calls: 0, ms: 0, findings: [] };
  const seen = new Set<string>();
  for (let k = 0; result.calls < o.calls; k++) {
    const r = await runFuzz({ ...o, calls: Math.min(segment, o.calls - result.calls), seed: o.seed + k });
    result.boots.push(r);
    result.calls += r.calls;
    result.ms += r.ms;
    for (const f of r.findings) {
      const key = `${f.kind} ${f.summary.replace(/0x[0-9a-f]+|\d+/g, 'N')}`;
      if (seen.has(key)) continue;
      seen.add(key);
      result.findings.push({ ...f, seed: r.seed });
    }
    const s = result.ms / 1000;
    log(`fuzz: campaign: ${result.calls} of ${o.calls} calls in ${result.boots.length} boots, ${Math.round(result.calls / s)} calls/s, ` +
      `${(s / 60).toFixed(1)} min, ${result.findings.length} distinct findings`);
    // A boot that made no call at all will not do better the next time.
    if (r.calls === 0) break;
  }
  return result;
}

export function summarizeCampaign(c: CampaignResult, strict: boolean): string[] {
  const s = c.ms / 1000;
  const by = (k: FindingKind) => c.findings.filter((f) => f.kind === k).length;
  const out = [
    `fuzz: ${c.calls} calls in ${c.boots.length} boots (seeds ${c.boots[0]?.seed}-${c.boots.at(-1)?.seed}${strict ? ', --strict' : ''}), ` +
      `${(s / 3600).toFixed(2)} h, ${Math.round(c.calls / s)} calls/s`,
    `fuzz: distinct findings: kernel crashes ${by('kernel-bug') + by('internal-error')}, hangs ${by('hang')}, vmctl deaths ${by('vmctl-died')}, ` +
      `unkillable ${by('unkillable')}, uninterrupted waits ${by('stuck')}, memory ${by('memory')}`,
  ];
  for (const f of c.findings) {
    out.push(`fuzz: ${f.kind} (seed ${f.seed}): ${f.summary}`);
    for (const d of f.detail) out.push(`    ${d}`);
    if (f.child !== undefined) out.push(`    replay: ${replayCommand({ seed: f.seed, strict, child: f.child })}`);
  }
  out.push(c.findings.length === 0 ? 'fuzz: PASS' : `fuzz: FAIL (${c.findings.length} distinct findings)`);
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Ctrl-C or a kill of a long run: end through 'exit', which ends the boot too.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));
  let opts: FuzzOptions & { segment?: number };
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`fuzz: ${(error as Error).message}\n`);
    process.exit(2);
  }
  const segment = opts.segment ?? (opts.calls > 2_000_000 && opts.child === undefined ? 1_000_000 : opts.calls);
  if (segment < opts.calls) {
    const c = await runCampaign(opts, segment);
    for (const line of summarizeCampaign(c, opts.strict ?? false)) process.stdout.write(`${line}\n`);
    process.exit(c.findings.length === 0 ? 0 : 1);
  }
  const r = await runFuzz(opts);
  for (const line of summarize(r)) process.stdout.write(`${line}\n`);
  process.exit(r.findings.length === 0 ? 0 : 1);
}
