/**
 * The escape suite's machinery (test/escape.test.ts): the attack programs
 * (test/programs/escape/), the host markers an attack would reach, a boot
 * that is killed, guests and all, when it freezes, the cases, and the
 * judge that turns what a run left behind into the list of ways the
 * attacker won (empty: the guest was contained).
 *
 * The same cases run on this host and, as one shell script, inside the
 * patched-kernel VM (`vmctl host-vm`): the markers are described once
 * (MARKERS) and can be made and read back both from TypeScript and from sh.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chown, lstat, mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostDescendants, programRoot, shellQuote } from './guest.ts';
import { VMCTL_BIN } from './vmctl.ts';

const PROGRAMS_DIR = fileURLToPath(new URL('../programs/escape/', import.meta.url));

/** The attack programs, one per class of issue 11 (5 and 7 have suites of their own). */
export const ESCAPE_PROGRAMS = ['mmap-path', 'inject-site', 'int80', 'fastpath'] as const;

/** A root for `--rootfs` with busybox and every attack program, built static with -Wall -Wextra -Werror. */
export async function buildEscapeRoot(dir: string): Promise<string> {
  return programRoot(
    dir,
    ESCAPE_PROGRAMS.map((name) => ({
      name,
      source: join(PROGRAMS_DIR, `${name}.c`),
      cflags: ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-Werror', '-pthread'],
    })),
  );
}

export const IS_ROOT = process.getuid?.() === 0;
/** The owner of the markers only capabilities reach (nobody). */
export const NOBODY = 65534;

/* ------------------------------------------------------------------ markers */

interface MarkerSpec {
  /** Path below the marker directory. */
  name: string;
  kind: 'file' | 'dir' | 'absent';
  /** File content; `{secret}` is replaced by the run's secret. */
  content?: string;
  mode?: number;
  /** Owned by NOBODY (only made when the test runs as root). */
  nobody?: boolean;
}

/**
 * What an attack may reach on the host. The names are the keys of
 * MarkerPaths; `nobody/...` exist only when the test runs as root: there a
 * guest's host process can only reach them with capabilities (CAP_DAC_OVERRIDE).
 */
const MARKERS = {
  secret: { name: 'secret', kind: 'file', content: 'VMCTL-ESCAPE-SECRET-{secret}\n', mode: 0o600 },
  writeVictim: { name: 'write-victim', kind: 'file', content: 'HOST-ORIGINAL-CONTENT-{secret}\n', mode: 0o600 },
  created: { name: 'created', kind: 'absent' },
  unlinkVictim: { name: 'unlink-victim', kind: 'file', content: 'unlink me\n', mode: 0o644 },
  linkSource: { name: 'link-source', kind: 'file', content: 'link source\n', mode: 0o644 },
  linked: { name: 'linked', kind: 'absent' },
  nobodyDir: { name: 'nobody', kind: 'dir', mode: 0o700, nobody: true },
  capSecret: { name: 'nobody/secret', kind: 'file', content: 'VMCTL-ESCAPE-CAPSECRET-{secret}\n', mode: 0o000, nobody: true },
  capCreated: { name: 'nobody/created', kind: 'absent', nobody: true },
  capUnlinkVictim: { name: 'nobody/unlink-victim', kind: 'file', content: 'unlink me\n', mode: 0o600, nobody: true },
} satisfies Record<string, MarkerSpec>;

export type MarkerPaths = Record<keyof typeof MARKERS, string>;

function specs(withNobody: boolean): MarkerSpec[] {
  return Object.values(MARKERS).filter((m) => withNobody || !('nobody' in m && m.nobody));
}

/** One marker as a line of text: `absent`, `dir:MODE:UID`, `file:MODE:UID:BASE64`. */
type Snapshot = Map<string, string>;

/**
 * The host markers of one attack: a fresh directory outside the guest's
 * root with the files an attacker would read, write, create, remove or
 * link, and the secrets that must never show in a guest's output.
 */
export class HostMarkers {
  private initial: Snapshot = new Map();

  private constructor(
    readonly dir: string,
    readonly secret: string,
    readonly withNobody: boolean,
  ) {}

  get paths(): MarkerPaths {
    return Object.fromEntries(Object.entries(MARKERS).map(([key, m]) => [key, join(this.dir, m.name)])) as MarkerPaths;
  }

  /** Strings whose appearance in a guest's output means a host file was read. */
  get secrets(): string[] {
    return specs(this.withNobody)
      .filter((m) => m.content?.includes('{secret}'))
      .map((m) => m.content!.replace('{secret}', this.secret).trim());
  }

  /**
   * Markers that sh makes elsewhere (shell().make, in the VM, as root):
   * nothing is made here, the state they start in is known.
   */
  static remote(dir: string, withNobody = true, uid = 0): HostMarkers {
    const markers = new HostMarkers(dir, randomBytes(12).toString('hex'), withNobody);
    const dirs = new Map<string, string[]>([['', []], ...(withNobody ? [['nobody', []] as [string, string[]]] : [])]);
    for (const m of specs(withNobody)) {
      const owner = m.nobody ? NOBODY : uid;
      if (m.kind === 'absent') markers.initial.set(m.name, 'absent');
      if (m.kind === 'dir') markers.initial.set(m.name, `dir:${m.mode!.toString(8)}:${owner}`);
      if (m.kind === 'file') {
        const content = Buffer.from(m.content!.replace('{secret}', markers.secret)).toString('base64');
        markers.initial.set(m.name, `file:${m.mode!.toString(8)}:${owner}:${content}`);
      }
      const slash = m.name.lastIndexOf('/');
      if (m.kind !== 'absent') dirs.get(slash < 0 ? '' : m.name.slice(0, slash))!.push(m.name.slice(slash + 1));
    }
    for (const [sub, names] of dirs) markers.initial.set(`${sub}/`, names.sort().join(' '));
    return markers;
  }

  static async create(dir: string, withNobody = IS_ROOT): Promise<HostMarkers> {
    const markers = new HostMarkers(dir, randomBytes(12).toString('hex'), withNobody);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    for (const m of specs(withNobody)) {
      const path = join(dir, m.name);
      if (m.kind === 'dir') await mkdir(path, { mode: m.mode });
      if (m.kind === 'file') await writeFile(path, m.content!.replace('{secret}', markers.secret), { mode: m.mode });
      if (m.nobody && m.kind !== 'absent') await chown(path, NOBODY, NOBODY);
    }
    markers.initial = await markers.snapshot();
    return markers;
  }

  private async snapshot(): Promise<Snapshot> {
    const snap: Snapshot = new Map();
    for (const m of specs(this.withNobody)) {
      const path = join(this.dir, m.name);
      const st = await lstat(path).catch(() => undefined);
      const head = st && `${(st.mode & 0o7777).toString(8)}:${st.uid}`;
      if (!st) snap.set(m.name, 'absent');
      else if (st.isDirectory()) snap.set(m.name, `dir:${head}`);
      else if (st.isFile()) snap.set(m.name, `file:${head}:${(await readFile(path)).toString('base64')}`);
      else snap.set(m.name, `other:${head}`);
    }
    for (const sub of ['', ...(this.withNobody ? ['nobody'] : [])]) {
      const names = await readdir(join(this.dir, sub)).catch(() => [] as string[]);
      snap.set(`${sub}/`, names.sort().join(' '));
    }
    return snap;
  }

  /** What changed on the host since the markers were made, one line each. */
  async changes(): Promise<string[]> {
    return diffSnapshots(this.dir, this.initial, await this.snapshot());
  }

  /**
   * The markers made by sh in another machine (the VM): the commands that
   * make them, and those that print a snapshot as `MARK NAME STATE` lines.
   */
  shell(): { make: string; snapshot: string } {
    const q = shellQuote;
    const make = [`mkdir -p ${q(this.dir)}`];
    for (const m of specs(this.withNobody)) {
      const path = q(join(this.dir, m.name));
      if (m.kind === 'dir') make.push(`mkdir -m ${m.mode!.toString(8)} ${path}`);
      if (m.kind === 'file') {
        make.push(`printf '%s' ${q(m.content!.replace('{secret}', this.secret))} > ${path}`, `chmod ${m.mode!.toString(8)} ${path}`);
      }
      if (m.nobody && m.kind !== 'absent') make.push(`chown ${NOBODY}:${NOBODY} ${path}`);
    }
    const snapshot: string[] = [];
    for (const m of specs(this.withNobody)) {
      const path = q(join(this.dir, m.name));
      snapshot.push(
        `if [ -L ${path} ]; then echo "MARK ${m.name} other:$(stat -c %a:%u ${path})"; ` +
          `elif [ -d ${path} ]; then echo "MARK ${m.name} dir:$(stat -c %a:%u ${path})"; ` +
          `elif [ -f ${path} ]; then echo "MARK ${m.name} file:$(stat -c %a:%u ${path}):$(base64 -w0 < ${path})"; ` +
          `elif [ -e ${path} ]; then echo "MARK ${m.name} other:$(stat -c %a:%u ${path})"; ` +
          `else echo "MARK ${m.name} absent"; fi`,
      );
    }
    for (const sub of ['', ...(this.withNobody ? ['nobody'] : [])]) {
      snapshot.push(`echo "MARK ${sub}/ $(ls -A ${q(join(this.dir, sub))} | LC_ALL=C sort | tr '\\n' ' ' | sed 's/ $//')"`);
    }
    return { make: make.join('\n'), snapshot: snapshot.join('\n') };
  }

  /** What changed, from the `MARK` lines shell().snapshot printed. */
  changesFromShell(output: string): string[] {
    const after: Snapshot = new Map();
    for (const m of output.matchAll(/^MARK (\S+) ?(.*)$/gm)) after.set(m[1]!, m[2]!);
    return diffSnapshots(this.dir, this.initial, after);
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

function diffSnapshots(dir: string, before: Snapshot, after: Snapshot): string[] {
  const changes: string[] = [];
  for (const [name, was] of before) {
    const now = after.get(name);
    if (now === was) continue;
    const path = join(dir, name);
    if (name.endsWith('/')) changes.push(`host directory ${path} now holds: ${now ?? '(unreadable)'} (was: ${was})`);
    else if (now === 'absent') changes.push(`host file ${path} was removed`);
    else if (was === 'absent') changes.push(`host path ${path} was created (${describeState(now)})`);
    else changes.push(`host file ${path} changed: ${describeState(was)} -> ${describeState(now)}`);
  }
  return changes;
}

function describeState(state: string | undefined): string {
  if (state === undefined) return 'unknown';
  const [kind, mode, uid, content] = state.split(':');
  const text = content === undefined ? '' : ` ${JSON.stringify(Buffer.from(content, 'base64').toString('utf8').slice(0, 60))}`;
  return `${kind} mode ${mode} uid ${uid}${text}`;
}

/* ------------------------------------------------------------------ runs */

export interface BootRun {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The boot did not end in time and was killed with its guests: vmctl froze. */
  timedOut: boolean;
  /** The guest printed nothing for stallMs and was killed. */
  stalled: boolean;
  ms: number;
  /** vmctl's host pid. */
  pid: number;
  /** What the run's onLine handlers found (samples of the host side). */
  notes: string[];
  /** Host processes of this run still alive after it was killed (should be none). */
  survivors: number[];
}

export interface BootOptions {
  env: Record<string, string>;
  timeoutMs: number;
  /** Kill the boot when the guest, once it printed, prints nothing for this long (a frozen vmctl). */
  stallMs?: number;
  /** Called on each line of the guest's stdout, with vmctl's pid; what it returns goes to notes. */
  onLine?: (line: string, pid: number) => Promise<string[] | undefined> | string[] | undefined;
}

/** When a process started (field 22 of /proc/PID/stat), or undefined once it is gone or a zombie. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

/** Whether the process seen as `pid` at `started` still runs (not another one that got its pid since). */
function stillRuns(pid: number, started: string): boolean {
  return startTime(pid) === started;
}

/**
 * `vmctl ARGS` in a process group of its own. A boot that outlives
 * timeoutMs (or is silent for stallMs) is killed with SIGKILL, its group
 * and every descendant: a frozen tracer does not run its signal handlers,
 * and its guests die with it (PTRACE_O_EXITKILL). Never hangs itself.
 */
export async function bootVmctl(args: string[], opts: BootOptions): Promise<BootRun> {
  const start = performance.now();
  const child = spawn(process.execPath, [VMCTL_BIN, ...args], {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pid = child.pid!;
  let stdout = '';
  let stderr = '';
  let partial = '';
  let timedOut = false;
  let stalled = false;
  const notes: string[] = [];
  const pending: Promise<void>[] = [];
  /* Every descendant seen, with its start time: a pid is only ever killed while it is still that process. */
  const seen = new Map<number, string>();
  /* The stall clock starts at the guest's first line: a slow boot is not a frozen one. */
  let lastOutput: number | undefined;
  let exited = false;

  const remember = async () => {
    for (const p of await hostDescendants(pid)) {
      const started = startTime(p);
      if (started !== undefined && !seen.has(p)) seen.set(p, started);
    }
  };
  const killSeen = () => {
    for (const [p, started] of seen) {
      if (!stillRuns(p, started)) continue;
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
  };
  const kill = async () => {
    await remember();
    if (!exited) {
      try {
        process.kill(-pid, 'SIGKILL'); // vmctl's own group: it is still running, so the group is its
      } catch {
        // The group is gone already.
      }
    }
    killSeen();
  };

  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
    lastOutput = performance.now();
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (!opts.onLine) continue;
      pending.push(
        Promise.resolve(opts.onLine(line, pid))
          .then((found) => void notes.push(...(found ?? [])))
          .catch((err: unknown) => void notes.push(`sampling the host side failed: ${String(err)}`)),
      );
    }
  });
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  const watchdog = setInterval(() => {
    void remember();
    const now = performance.now();
    if (!timedOut && !stalled && now - start > opts.timeoutMs) {
      timedOut = true;
      void kill();
    } else if (!timedOut && !stalled && opts.stallMs !== undefined && lastOutput !== undefined && now - lastOutput > opts.stallMs) {
      stalled = true;
      void kill();
    }
  }, 250);
  const { code, signal } = await closed;
  exited = true;
  clearInterval(watchdog);
  await Promise.all(pending);
  if (timedOut || stalled) killSeen();
  // Whatever this run started must be gone (guests die with their tracer).
  const survivors: number[] = [];
  for (const [p, started] of seen) {
    for (let i = 0; i < 50 && stillRuns(p, started); i++) await new Promise((r) => setTimeout(r, 100));
    if (stillRuns(p, started)) survivors.push(p);
  }
  killSeen();
  return { stdout, stderr, exitCode: code, signal, timedOut, stalled, ms: performance.now() - start, pid, notes, survivors };
}

/* ------------------------------------------------------------------ the host side of a guest */

/** Fields of /proc/PID/status (undefined when the process is gone). */
export async function procStatus(pid: number): Promise<Record<string, string> | undefined> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  return Object.fromEntries(text.split('\n').filter(Boolean).map((l) => {
    const i = l.indexOf(':');
    return [l.slice(0, i), l.slice(i + 1).trim()];
  }));
}

/** The guest's host processes: descendants of vmctl that a tracer holds (the zygote included). */
export async function tracedDescendants(vmctlPid: number): Promise<number[]> {
  const traced: number[] = [];
  for (const pid of await hostDescendants(vmctlPid)) {
    const status = await procStatus(pid);
    if (status && status.TracerPid !== undefined && status.TracerPid !== '0') traced.push(pid);
  }
  return traced;
}

/** VmLck of a process in bytes. */
export function lockedBytes(status: Record<string, string>): number {
  const m = /^(\d+) kB$/.exec(status.VmLck ?? '');
  return m ? Number(m[1]) * 1024 : 0;
}

/** The namespaces this host lets an ordinary process make for itself (probed with unshare(1)). */
export async function namespacesAllowed(): Promise<{ allowed: boolean; why: string }> {
  const run = await new Promise<{ code: number | null; err: string }>((resolve) => {
    const p = spawn('unshare', ['--user', '--map-root-user', '--mount', '--ipc', '--net', 'true'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += String(d)));
    p.on('error', (e) => resolve({ code: -1, err: String(e) }));
    p.on('close', (code) => resolve({ code, err }));
  });
  return run.code === 0
    ? { allowed: true, why: 'unshare --user --mount --ipc --net works here' }
    : { allowed: false, why: `this host refuses new user/mount/IPC/network namespaces (unshare: ${run.err.trim() || `status ${run.code}`})` };
}

const NAMESPACES = ['user', 'mnt', 'ipc', 'net'] as const;

/**
 * How a guest's host process falls short of holding no privilege: one line
 * per fault. `strict`: the boot stops every syscall (no seccomp filter
 * needed then). `isolate`: the host allows namespaces, so they are required.
 */
export async function privilegeFaults(pid: number, opts: { runsGuestCode: boolean; strict: boolean; isolate: boolean; hostPaths: string[] }): Promise<string[]> {
  const status = await procStatus(pid);
  if (!status) return [];
  const faults: string[] = [];
  const who = `host process ${pid} (${status.Name})`;
  for (const cap of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) {
    if (status[cap] !== undefined && BigInt(`0x${status[cap]}`) !== 0n) faults.push(`${who} has ${cap} ${status[cap]}`);
  }
  if (status.NoNewPrivs !== '1') faults.push(`${who} has NoNewPrivs ${status.NoNewPrivs}`);
  if (opts.runsGuestCode && !opts.strict && status.Seccomp !== '2') faults.push(`${who} runs guest code with Seccomp ${status.Seccomp}`);
  if (opts.isolate) {
    for (const ns of NAMESPACES) {
      const ours = await readlink(`/proc/self/ns/${ns}`);
      const theirs = await readlink(`/proc/${pid}/ns/${ns}`).catch(() => undefined);
      if (theirs === ours) faults.push(`${who} shares the test's ${ns} namespace ${ours}`);
    }
    for (const path of opts.hostPaths) {
      if (existsSync(join(`/proc/${pid}/root`, path))) faults.push(`${who} sees the host path ${path} through /proc/${pid}/root`);
    }
  }
  return faults;
}

/* ------------------------------------------------------------------ cases */

export type Mode = 'default' | 'strict';

/** Numbers for a command line: numbers on this host, shell variables in the VM's script. */
export interface HostFacts {
  /** A pid no host process has (the answer for it is what "none" looks like). */
  absentPid: number | string;
  /** The range of host pids to probe beyond 1-1024: around the host's last pid before the boot, where the guest's own host pids are. */
  lo: number | string;
  hi: number | string;
  /** Host pids the guest must not learn (the test's own, its parent). */
  hints: (number | string)[];
}

export interface EscapeCase {
  /** Short name, unique. */
  id: string;
  /** The class of issue 11. */
  cls: number;
  title: string;
  /** Where the attack wins against the code of issue 11 (it runs in both modes regardless). */
  oldWins: Mode[];
  /** The guest command. */
  command(p: MarkerPaths, facts: HostFacts): string;
  /** How many `ESCAPE` result lines the program prints when it ran to its end. */
  results: number;
  timeoutMs: number;
  /** Silence (after the guest's first line) that means vmctl froze. */
  stallMs?: number;
  /** The old code froze vmctl here: in a run of several cases, it goes last. */
  mayFreeze?: boolean;
  /** Needs the test to run as root: the markers only capabilities reach. */
  needsRoot?: boolean;
  /** The guest must end this way (e.g. `signal:11`): what Linux gives. */
  expectStatus?: RegExp;
  /** Sample the host side while the guest holds what it took (VmLck). */
  mlockSample?: boolean;
  /** How many tries the old code needed, as measured (for the report in the test). */
  measured?: string;
}

/** Tries and seconds of every race: far more than the old code ever needed (see each case's `measured`). */
const RACE = '5000 15';

export const CASES: EscapeCase[] = [
  {
    id: 'mmap-read',
    cls: 1,
    title: 'a sibling thread rewrites the path of the injected open() of a file mmap: a host file is read',
    oldWins: ['default', 'strict'],
    command: (p) => `/mmap-path read ${p.secret} ${RACE}`,
    results: 1,
    timeoutMs: 60_000,
  },
  {
    id: 'mmap-write',
    cls: 1,
    title: 'the same race with MAP_SHARED|PROT_WRITE: a host file is written',
    oldWins: ['default', 'strict'],
    command: (p) => `/mmap-path write ${p.writeVictim} ${RACE}`,
    results: 1,
    timeoutMs: 60_000,
  },
  {
    id: 'mmap-scratch',
    cls: 1,
    title: 'a file mmap writes nothing below the stack pointer (no "/proc/<vmctl pid>/fd/<n>" for the guest to read)',
    oldWins: ['default', 'strict'],
    command: () => '/mmap-path scratch',
    results: 1,
    timeoutMs: 30_000,
  },
  {
    id: 'redirect-mkdir',
    cls: 2,
    title: 'a sibling rewrites the syscall site an injection re-executes: the guest\'s own mkdir runs on the host',
    oldWins: ['default', 'strict'],
    command: (p) => `/inject-site redirect mkdir ${p.created} ${RACE}`,
    results: 1,
    timeoutMs: 60_000,
  },
  {
    id: 'redirect-unlink',
    cls: 2,
    title: 'the same with unlink of a host file',
    oldWins: ['default', 'strict'],
    command: (p) => `/inject-site redirect unlink ${p.unlinkVictim} ${RACE}`,
    results: 1,
    timeoutMs: 60_000,
  },
  {
    id: 'redirect-link',
    cls: 2,
    title: 'the same with link of a host file',
    oldWins: ['default', 'strict'],
    command: (p) => `/inject-site redirect link ${p.linkSource} ${p.linked} ${RACE}`,
    results: 1,
    timeoutMs: 60_000,
  },
  {
    id: 'protnone-hang',
    cls: 2,
    title: 'a sibling makes the syscall site PROT_NONE during an injection: vmctl must not freeze',
    oldWins: ['default', 'strict'],
    command: () => '/inject-site hang 3000 10',
    results: 1,
    timeoutMs: 45_000,
    // It prints a line per try: silence this long is a frozen vmctl.
    stallMs: 8_000,
    mayFreeze: true,
  },
  {
    id: 'int80-unlink',
    cls: 3,
    title: 'int $0x80 with eax 10 (x86-64 mprotect, i386 unlink) runs no host unlink',
    oldWins: ['strict'],
    command: (p) => `/int80 unlink ${p.unlinkVictim}`,
    results: 1,
    timeoutMs: 30_000,
  },
  {
    id: 'int80-link',
    cls: 3,
    title: 'int $0x80 with eax 9 (x86-64 mmap, i386 link) runs no host link',
    oldWins: ['strict'],
    command: (p) => `/int80 link ${p.linkSource} ${p.linked}`,
    results: 1,
    timeoutMs: 30_000,
  },
  {
    id: 'int80-signal',
    cls: 3,
    title: 'int $0x80 gets SIGSEGV, as on a Linux built without IA32 emulation',
    oldWins: ['default', 'strict'],
    command: () => '/int80 signal',
    results: 1,
    timeoutMs: 30_000,
    expectStatus: /status=signal:11 /,
  },
  {
    id: 'sysenter',
    cls: 3,
    title: 'sysenter (eax 10, ebx a host path) runs no host syscall',
    oldWins: [],
    command: (p) => `/int80 sysenter ${p.unlinkVictim}`,
    results: 1,
    timeoutMs: 30_000,
  },
  {
    id: 'far-int80',
    cls: 3,
    title: 'int $0x80 from 32-bit code (a far return to cs 0x23) runs no host syscall',
    oldWins: ['strict'],
    command: (p) => `/int80 far-int80 ${p.unlinkVictim}`,
    results: 1,
    timeoutMs: 30_000,
  },
  {
    id: 'far-syscall',
    cls: 3,
    title: 'syscall from 32-bit code runs no host syscall and freezes nothing',
    oldWins: ['strict'],
    command: (p) => `/int80 far-syscall ${p.unlinkVictim}`,
    results: 1,
    timeoutMs: 30_000,
    mayFreeze: true,
  },
  {
    id: 'clock-pids',
    cls: 4,
    title: 'clock_gettime of process and thread CPU clocks answers for no host pid',
    oldWins: ['default'],
    command: (_p, f) => `/fastpath clock ${f.absentPid} ${f.lo} ${f.hi} ${f.hints.join(' ')}`,
    results: 2,
    timeoutMs: 60_000,
  },
  {
    id: 'futex-pi',
    cls: 4,
    title: 'FUTEX_TRYLOCK_PI with a host tid in the futex word learns nothing of host tasks',
    oldWins: ['default'],
    command: (_p, f) => `/fastpath futex ${f.absentPid} ${f.lo} ${f.hi} ${f.hints.join(' ')}`,
    results: 1,
    timeoutMs: 60_000,
  },
  {
    id: 'mlock',
    cls: 4,
    title: 'mlockall and MAP_LOCKED pin no host memory beyond the guest\'s RLIMIT_MEMLOCK',
    oldWins: ['default', 'strict'],
    command: () => '/fastpath mlock 32 5',
    results: 1,
    timeoutMs: 30_000,
    mlockSample: true,
  },
  {
    id: 'cap-mmap-read',
    cls: 6,
    title: 'the mmap path race on a mode-0000 file of another user: read only with CAP_DAC_OVERRIDE',
    oldWins: ['default', 'strict'],
    command: (p) => `/mmap-path read ${p.capSecret} ${RACE}`,
    results: 1,
    timeoutMs: 60_000,
    needsRoot: true,
  },
  {
    id: 'cap-redirect-mkdir',
    cls: 6,
    title: 'the redirected injection makes a directory in another user\'s 0700 directory: only with CAP_DAC_OVERRIDE',
    oldWins: ['default', 'strict'],
    command: (p) => `/inject-site redirect mkdir ${p.capCreated} ${RACE}`,
    results: 1,
    timeoutMs: 60_000,
    needsRoot: true,
  },
  {
    id: 'cap-int80-unlink',
    cls: 6,
    title: 'int $0x80 unlink in another user\'s 0700 directory: only with CAP_DAC_OVERRIDE',
    oldWins: ['strict'],
    command: (p) => `/int80 unlink ${p.capUnlinkVictim}`,
    results: 1,
    timeoutMs: 30_000,
    needsRoot: true,
  },
];

/** Host facts for a case's command: pids the guest must not learn, and one nobody has. */
export async function hostFacts(): Promise<HostFacts> {
  const pidMax = Number((await readFile('/proc/sys/kernel/pid_max', 'utf8')).trim());
  let absentPid = pidMax - 1;
  while (existsSync(`/proc/${absentPid}`)) absentPid--;
  const last = Number((await readFile('/proc/sys/kernel/ns_last_pid', 'utf8').catch(() => '1000')).trim());
  return { absentPid, lo: Math.max(1025, last - 200), hi: last + 5000, hints: [process.pid, process.ppid] };
}

/** The same facts found by sh (in the VM), as the variables absent, lo and hi. */
export const SHELL_FACTS = [
  'absent=$(( $(cat /proc/sys/kernel/pid_max) - 1 )); while [ -e /proc/$absent ]; do absent=$((absent - 1)); done',
  'last=$(cat /proc/sys/kernel/ns_last_pid); lo=$((last > 1225 ? last - 200 : 1025)); hi=$((last + 5000))',
].join('\n');

/** Result lines of the attack programs. */
export function resultLines(stdout: string): string[] {
  return stdout.split('\n').filter((l) => /^ESCAPE \S+ (won|held|done)\b/.test(l));
}

export interface Verdict {
  /** Every way the attacker won; empty when the guest was contained. */
  evidence: string[];
  /** What was run and what came out, for a failure message. */
  context: string;
}

/**
 * The judge. The attacker wins if a host marker changed, a secret or a
 * kernel fd path shows in the guest's output, the guest itself saw it win,
 * vmctl froze, or the host side (notes) found what the guest pinned.
 */
export function judge(c: EscapeCase, run: { stdout: string; stderr: string; timedOut: boolean; stalled: boolean; timeoutMs: number; vmctlPid?: number }, markers: HostMarkers, changes: string[], notes: string[]): Verdict {
  const evidence = [...changes];
  const output = `${run.stdout}\n${run.stderr}`;
  for (const secret of markers.secrets) {
    if (output.includes(secret)) evidence.push(`the guest's output holds the host secret ${secret}`);
  }
  const fdPath = /\/proc\/(\d+)\/fd\/(\d+)/.exec(run.stdout);
  if (fdPath) {
    const whose = run.vmctlPid !== undefined && Number(fdPath[1]) === run.vmctlPid ? ' (vmctl\'s own pid)' : '';
    evidence.push(`the guest read a host fd path ${fdPath[0]}${whose} out of its own memory`);
  }
  for (const line of run.stdout.split('\n')) {
    if (/^ESCAPE \S+ won\b/.test(line)) evidence.push(`the guest saw it win: ${line}`);
  }
  if (run.timedOut) evidence.push(`vmctl froze: the boot had not ended after ${run.timeoutMs / 1000} s and was killed, guests and all`);
  if (run.stalled) evidence.push(`vmctl froze: the guest printed nothing for ${(c.stallMs ?? 0) / 1000} s and the boot was killed, guests and all`);
  evidence.push(...notes);
  const context = [
    `case ${c.id} (class ${c.cls})`,
    `--- guest stdout (last 30 lines)`,
    ...run.stdout.split('\n').slice(-30),
    `--- vmctl stderr (last 30 lines)`,
    ...run.stderr.split('\n').slice(-30),
  ].join('\n');
  return { evidence, context };
}

/**
 * The host side of the mlock case: when the guest says it holds its locked
 * memory (its "MLOCK ready" line), the VmLck of each of its host processes
 * against the guest's own RLIMIT_MEMLOCK (which it does not raise).
 * Undefined for any other line; `processes`: how many were looked at.
 */
export async function mlockSample(line: string, vmctlPid: number): Promise<{ processes: number; faults: string[] } | undefined> {
  const m = /^MLOCK ready limit=(-?\d+)/.exec(line);
  if (!m) return undefined;
  const limit = Number(m[1]);
  const faults: string[] = [];
  let processes = 0;
  for (const pid of await tracedDescendants(vmctlPid)) {
    const status = await procStatus(pid);
    if (!status) continue;
    processes++;
    const locked = lockedBytes(status);
    if (locked > (limit < 0 ? 0 : limit)) {
      faults.push(`host process ${pid} of the guest has ${locked >> 10} KiB of host memory locked (VmLck), the guest's RLIMIT_MEMLOCK is ${limit < 0 ? 'unlimited' : `${limit >> 10} KiB`}`);
    }
  }
  return { processes, faults };
}
