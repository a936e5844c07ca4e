/**
 * The debugging options of `vmctl boot` (--strace, --inject, --stats) from
 * their command-line text to what the kernel installs. Everything a user
 * can get wrong is refused here, before the guest boots, with a message
 * naming the bad part (TraceOptionError; the CLI exits 2).
 *
 * Loaded by the CLI side: nothing here may load the tracer addon.
 */
import { openSync } from 'node:fs';
import { resolve } from 'node:path';
import { NR, SYSCALL_NAMES } from '../syscall-names.ts';
import { classMembers, SYSCALL_CLASSES } from './classes.ts';
import { globToRegExp } from './glob.ts';
import { errnoByName, isRestartCode } from './strerror.ts';

/** A bad option value; the message names the option and the bad part. */
export class TraceOptionError extends Error {
  override readonly name = 'TraceOptionError';
}

/** The options as the command line gave them. */
export interface TraceRequest {
  /** `--strace` alone is 'all'; `--strace=LIST` the list */
  strace?: string;
  straceFile?: string;
  straceFormat?: string;
  straceSize?: number;
  inject?: string[];
  injectSeed?: number;
  stats?: boolean;
}

export interface StraceOptions {
  /** syscall numbers to trace; undefined: every one */
  only: ReadonlySet<number> | undefined;
  /** bytes of a buffer shown before it is cut ("..." after the quote) */
  size: number;
  format: 'text' | 'json';
  /** host fd the trace goes to: 2, or the --strace-file vmctl opened */
  fd: number;
  /** the --strace-file path, if any */
  file: string | undefined;
}

/** One --inject SPEC. */
export interface InjectRule {
  /** the spec as the user wrote it */
  readonly text: string;
  readonly nrs: ReadonlySet<number>;
  /** fail with this errno (positive) */
  readonly errno?: number;
  /** return this value without running the call */
  readonly retval?: number;
  /** park the thread this long before the call runs (or fails) */
  readonly delayMs?: number;
  readonly path?: RegExp;
  readonly pid?: number;
  readonly comm?: string;
  /** the Nth matching call (1-based); with nthOnward, the Nth and every later one */
  readonly nth?: number;
  readonly nthOnward?: boolean;
  /** probability in [0, 1] that a matching call is hit */
  readonly prob?: number;
}

export interface TraceOptions {
  strace: StraceOptions | undefined;
  inject: InjectRule[];
  /** seed of the --inject PRNG */
  seed: number;
  /** the seed was drawn at random (no --inject-seed) and some rule uses prob= */
  seedDrawn: boolean;
  stats: boolean;
  /**
   * The trace or an injection names a syscall the accelerated mode runs on
   * the host without a stop: the boot must be strict to see it.
   */
  strict: boolean;
}

export const DEFAULT_STRACE_SIZE = 32;

/**
 * What the accelerated mode's seccomp filter lets run on the host with no
 * stop (src/tracer/addon/seccomp_filter.c; mmap only when anonymous): a
 * trace or an injection naming one of these makes the boot strict.
 */
export const FAST_PATH_SYSCALLS: readonly number[] = [NR.mmap, NR.munmap, NR.mprotect, NR.madvise, NR.futex,
  NR.sched_yield, NR.clock_gettime, NR.gettimeofday, NR.getrandom];
const CLASS_NAMES = Object.keys(SYSCALL_CLASSES).join(', ');

/**
 * The kernel's trace options for a request, or undefined when it asks for
 * nothing (the kernel then installs no observer at all). Opens (creates or
 * truncates) the --strace-file.
 */
export function traceOptionsFrom(req: TraceRequest | undefined): TraceOptions | undefined {
  if (!req) return undefined;
  const wantStrace = req.strace !== undefined || req.straceFile !== undefined || req.straceFormat !== undefined ||
    req.straceSize !== undefined;
  const inject = (req.inject ?? []).map(parseInjectSpec);
  if (!wantStrace && inject.length === 0 && !req.stats) return undefined;

  let strace: StraceOptions | undefined;
  if (wantStrace) {
    const format = req.straceFormat ?? 'text';
    if (format !== 'text' && format !== 'json') {
      throw new TraceOptionError(`--strace-format must be "text" or "json", not "${format}"`);
    }
    const size = req.straceSize ?? DEFAULT_STRACE_SIZE;
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new TraceOptionError(`--strace-size must be a whole number of bytes (0 or more), not "${size}"`);
    }
    strace = { only: parseStraceFilter(req.strace ?? 'all'), size, format, fd: 2, file: undefined };
    if (req.straceFile !== undefined) {
      const file = resolve(req.straceFile);
      try {
        strace.fd = openSync(file, 'w', 0o644);
      } catch (e) {
        throw new TraceOptionError(`--strace-file: cannot write ${file}: ${(e as Error).message}`);
      }
      strace.file = file;
    }
  }

  let seed = req.injectSeed;
  if (seed !== undefined && !Number.isSafeInteger(seed)) {
    throw new TraceOptionError(`--inject-seed must be a whole number, not "${seed}"`);
  }
  const seedDrawn = seed === undefined && inject.some((r) => r.prob !== undefined);
  seed ??= Math.floor(Math.random() * 2 ** 31);
  const strict = FAST_PATH_SYSCALLS.some((nr) => (strace !== undefined && (strace.only === undefined || strace.only.has(nr))) ||
    inject.some((r) => r.nrs.has(nr)));
  return { strace, inject, seed, seedDrawn, stats: req.stats ?? false, strict };
}

/**
 * `--strace=LIST`: syscall names and classes (file, %file, ...), comma
 * separated; `!name` leaves one out; `all` is every syscall. Undefined
 * means every syscall.
 */
export function parseStraceFilter(text: string): ReadonlySet<number> | undefined {
  if (text.trim() === '') {
    throw new TraceOptionError(`--strace= needs syscall names or classes (${CLASS_NAMES}); --strace alone traces every syscall`);
  }
  const include = new Set<number>();
  const exclude = new Set<number>();
  let all = false;
  let positive = false;
  for (const raw of text.split(',')) {
    const word = raw.trim();
    const negated = word.startsWith('!');
    const name = negated ? word.slice(1) : word;
    if (name === 'all' || name === '%all') {
      if (negated) throw new TraceOptionError(`--strace: "!all" would trace nothing`);
      all = true;
      positive = true;
      continue;
    }
    const nrs = syscallsNamed(name, `--strace: "${word}"`);
    for (const nr of nrs) (negated ? exclude : include).add(nr);
    if (!negated) positive = true;
  }
  if (all || !positive) {
    if (exclude.size === 0) return undefined;
    const every = new Set<number>();
    for (let nr = 0; nr < SYSCALL_NAMES.length; nr++) if (!exclude.has(nr)) every.add(nr);
    return every;
  }
  for (const nr of exclude) include.delete(nr);
  return include;
}

/** Numbers of a syscall name or class name; `where` starts the error message. */
function syscallsNamed(name: string, where: string): number[] {
  const cls = classMembers(name);
  if (cls) return cls;
  const nr = (NR as Record<string, number>)[name];
  if (nr !== undefined && Object.hasOwn(NR, name)) return [nr];
  const hint = closest(name);
  throw new TraceOptionError(`${where}: unknown syscall "${name}"${hint ? ` (did you mean "${hint}"?)` : ''}; ` +
    `name syscalls as in syscalls(2), or a class: ${CLASS_NAMES}`);
}

/**
 * `--inject SPEC`: SYSCALLS:PART[:PART...], where SYSCALLS is names or
 * classes joined by commas and each PART is one of
 *   ENOENT (an errno name, also errno=ENOENT)  the call fails with it
 *   retval=N      the call returns N without running
 *   delay=DUR     the thread is parked DUR (50ms, 1.5s, 200us; a bare number is ms) first
 *   path=GLOB     only calls whose path (or fd's path) matches
 *   pid=N         only calls of guest process N
 *   comm=NAME     only calls of processes named NAME
 *   nth=N         only the Nth matching call; nth=N+ the Nth and every later one
 *   prob=P        each matching call with probability P (0..1, or N%)
 */
export function parseInjectSpec(text: string): InjectRule {
  const where = `--inject "${text}"`;
  const parts = text.split(':');
  const head = parts[0]!.trim();
  if (head === '' || parts.length < 2) {
    throw new TraceOptionError(`${where}: write SYSCALL:ERRNO or SYSCALL:delay=DURATION, e.g. openat:ENOENT:path=/etc/* ` +
      'or read:delay=50ms');
  }
  const nrs = new Set<number>();
  for (const name of head.split(',')) for (const nr of syscallsNamed(name.trim(), where)) nrs.add(nr);

  const rule: { -readonly [K in keyof InjectRule]: InjectRule[K] } = { text, nrs };
  const seen = new Set<string>();
  for (const rawPart of parts.slice(1)) {
    const part = rawPart.trim();
    const eq = part.indexOf('=');
    let key = eq < 0 ? '' : part.slice(0, eq).trim();
    let value = eq < 0 ? part : part.slice(eq + 1).trim();
    if (eq < 0) {
      if (part === '') throw new TraceOptionError(`${where}: empty part between ":"`);
      key = 'errno';
      value = part;
    }
    if (key === 'error') key = 'errno';
    if (seen.has(key)) throw new TraceOptionError(`${where}: "${key}" is given twice`);
    seen.add(key);
    const bad = (what: string) => new TraceOptionError(`${where}: "${part}": ${what}`);
    switch (key) {
      case 'errno': {
        const errno = errnoByName(value);
        if (errno === undefined) {
          throw bad(eq < 0
            ? 'not an errno name (like ENOENT or EIO) nor a KEY=VALUE (errno, retval, delay, path, pid, comm, nth, prob)'
            : 'not an errno name (like ENOENT or EIO)');
        }
        if (isRestartCode(errno)) throw bad('a kernel-internal restart code, never seen by a guest: name a real errno');
        rule.errno = errno;
        break;
      }
      case 'retval': {
        if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw bad('retval must be an integer');
        rule.retval = Number(value);
        break;
      }
      case 'delay':
        rule.delayMs = parseDuration(value, bad);
        break;
      case 'path':
        if (!value.startsWith('/')) throw bad('path must be an absolute guest path glob, like /etc/* or /tmp/**');
        try {
          rule.path = globToRegExp(value);
        } catch (e) {
          throw bad((e as Error).message);
        }
        break;
      case 'pid': {
        if (!/^\d+$/.test(value) || Number(value) < 1) throw bad('pid must be a guest pid (1 or more)');
        rule.pid = Number(value);
        break;
      }
      case 'comm':
        if (value === '') throw bad('comm needs a command name, like comm=cat');
        rule.comm = value;
        break;
      case 'nth': {
        const m = /^(\d+)(\+?)$/.exec(value);
        if (!m || Number(m[1]) < 1 || !Number.isSafeInteger(Number(m[1]))) {
          throw bad('nth must be N (the Nth matching call only, 1 = the first) or N+ (the Nth and every later one)');
        }
        rule.nth = Number(m[1]);
        rule.nthOnward = m[2] === '+';
        break;
      }
      case 'prob': {
        const pct = value.endsWith('%');
        const n = Number(pct ? value.slice(0, -1) : value);
        const p = pct ? n / 100 : n;
        if (value === '' || !Number.isFinite(n) || p < 0 || p > 1) throw bad('prob must be between 0 and 1 (or 0% and 100%)');
        rule.prob = p;
        break;
      }
      default:
        throw bad(`unknown key "${key}"; known: errno, retval, delay, path, pid, comm, nth, prob`);
    }
  }
  if (rule.errno !== undefined && rule.retval !== undefined) {
    throw new TraceOptionError(`${where}: give an errno or retval=, not both`);
  }
  if (rule.errno === undefined && rule.retval === undefined && rule.delayMs === undefined) {
    throw new TraceOptionError(`${where}: says neither what to return (an errno like ENOENT, or retval=N) nor delay=DURATION`);
  }
  return rule;
}

/** "50ms", "1.5s", "200us", "50" (ms) → milliseconds. */
function parseDuration(text: string, bad: (what: string) => Error): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|us|µs)?$/.exec(text);
  if (!m) throw bad('delay must be a duration like 50ms, 1.5s or 200us');
  const n = Number(m[1]);
  const ms = m[2] === 's' ? n * 1000 : m[2] === 'us' || m[2] === 'µs' ? n / 1000 : n;
  if (ms > 2 ** 30) throw bad('delay must be shorter than 12 days');
  return ms;
}

/** The syscall name nearest to a misspelt one, if any is close. */
function closest(name: string): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const cand of Object.keys(NR)) {
    const d = distance(name, cand, bestD);
    if (d < bestD) {
      bestD = d;
      best = cand;
    }
  }
  return best;
}

/** Levenshtein distance, giving up (returning `cap`) once it must exceed it. */
function distance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) >= cap) return cap;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      cur.push(v);
      rowMin = Math.min(rowMin, v);
    }
    if (rowMin >= cap) return cap;
    prev = cur;
  }
  return prev[b.length]!;
}

