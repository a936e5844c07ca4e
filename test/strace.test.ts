/**
 * `vmctl boot --strace` and `--stats` on real guests through the real CLI:
 * trace lines of known commands checked field by field (pid, command,
 * decoded arguments, result, errno, time, host path, parked waits and
 * what woke them, `<unfinished ...>` / `<... resumed>`), the JSON lines
 * of --strace-file, the class filter, and the statistics table.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NR } from '../src/kernel/syscall-names.ts';
import { SYSCALL_CLASSES } from '../src/kernel/trace/classes.ts';
import { BOOT_TIMEOUT, busyboxRoot, lines, Scratch, warmUp } from './helpers/guest.ts';
import { vmctl, type VmctlRun } from './helpers/vmctl.ts';

let scratch: Scratch;
let lower: string;

beforeAll(async () => {
  scratch = await Scratch.create('strace');
  lower = await busyboxRoot();
  await warmUp(scratch);
});

afterAll(async () => {
  await scratch?.remove();
});

/** `vmctl boot FLAGS... --exec CMD` in the scratch's state. */
function boot(flags: string[], command: string): Promise<VmctlRun> {
  return vmctl(['boot', ...flags, '--exec', command], { env: scratch.env, timeout: BOOT_TIMEOUT });
}

/** A text trace line, split into its fields. */
interface TraceLine {
  pid: number;
  tid: number;
  comm: string;
  syscall: string;
  /** the text between the parentheses */
  args: string;
  /** what follows `= ` */
  result: string;
  line: string;
}

const LINE = /^\[pid (\d+)(?: tid (\d+))? (\S+)\] (\w+)\((.*)\) = (.*)$/;

function traceLines(stderr: string): TraceLine[] {
  const out: TraceLine[] = [];
  for (const line of lines(stderr)) {
    const m = LINE.exec(line);
    if (!m) continue;
    out.push({ pid: Number(m[1]), tid: Number(m[2] ?? m[1]), comm: m[3]!, syscall: m[4]!, args: m[5]!, result: m[6]!, line });
  }
  return out;
}

describe('vmctl boot --strace', () => {
  it('shows each call of a known command with decoded arguments, result, time and host path', async () => {
    // A child shell prints its pid, then becomes head: the trace must name that guest pid.
    const run = await boot(['--strace=openat,read,close'], `sh -c 'echo $$; exec head -n 1 /etc/hostname'; true`);
    expect(run.exitCode).toBe(0);
    const [pidText, hostname] = lines(run.stdout);
    expect(hostname).toBe('vmctl');
    const pid = Number(pidText);
    expect(pid).toBeGreaterThan(1);

    const traced = traceLines(run.stderr);
    expect(new Set(traced.map((l) => l.syscall))).toEqual(new Set(['openat', 'read', 'close']));
    const mine = traced.filter((l) => l.pid === pid && l.comm === 'head');

    const open = mine.find((l) => l.syscall === 'openat' && l.args.includes('"/etc/hostname"'));
    expect(open, run.stderr).toBeDefined();
    expect(open!.tid).toBe(pid);
    expect(open!.args).toBe('AT_FDCWD, "/etc/hostname", O_RDONLY');
    // result, then the host file it opened (the root's read-only lower layer), then the time in the kernel
    expect(open!.result).toMatch(/^3 \[lower: (\S+)\] <\d+\.\d{6}>$/);
    expect(open!.result).toContain(` [lower: ${join(lower, 'etc/hostname')}] `);

    const read = mine.find((l) => l.syscall === 'read' && l.args.startsWith('3, '));
    expect(read, run.stderr).toBeDefined();
    expect(read!.args).toMatch(/^3, "vmctl\\n", \d+$/);
    expect(read!.result).toMatch(/^6 <\d+\.\d{6}>$/);

    const close = mine.find((l) => l.syscall === 'close' && l.args === '3');
    expect(close, run.stderr).toBeDefined();
    expect(close!.result).toMatch(/^0 <\d+\.\d{6}>$/);
    // Calls come in the order they were made.
    expect(mine.indexOf(open!)).toBeLessThan(mine.indexOf(read!));
    expect(mine.indexOf(read!)).toBeLessThan(mine.indexOf(close!));
  });

  it('names errors and decodes flags, modes and structs', async () => {
    const run = await boot(['--strace=openat,newfstatat,mkdir,chmod,exit_group'],
      'mkdir -m 750 /tmp/d; ls /nonexistent; ls -l /etc/hostname > /tmp/f');
    expect(run.exitCode).toBe(0);
    const traced = traceLines(run.stderr);
    const missing = traced.find((l) => l.args.includes('"/nonexistent"'));
    expect(missing, run.stderr).toBeDefined();
    expect(missing!.syscall).toBe('newfstatat');
    expect(missing!.args).toMatch(/^AT_FDCWD, "\/nonexistent", 0x[0-9a-f]+, 0$/);
    expect(missing!.result).toMatch(/^-1 ENOENT \(No such file or directory\) <\d+\.\d{6}>$/);
    expect(lines(run.stderr)).toContain(`[pid ${missing!.pid} ls] +++ exited with 1 +++`);
    expect(traced.find((l) => l.syscall === 'mkdir')?.args).toBe('"/tmp/d", 0777');
    expect(traced.find((l) => l.syscall === 'chmod')?.args).toBe('"/tmp/d", 0750');
    const create = traced.find((l) => l.syscall === 'openat' && l.args.includes('"/tmp/f"'));
    expect(create?.args).toBe('AT_FDCWD, "/tmp/f", O_WRONLY|O_CREAT|O_TRUNC, 0666');
    expect(create?.result).toMatch(/^\d+ <\d+\.\d{6}>$/); // tmpfs: no host file
    const stat = traced.find((l) => l.syscall === 'newfstatat' && l.args.startsWith('AT_FDCWD, "/etc/hostname"'));
    expect(stat?.args).toBe('AT_FDCWD, "/etc/hostname", {st_mode=S_IFREG|0644, st_size=6, ...}, AT_SYMLINK_NOFOLLOW');
    const exits = traced.filter((l) => l.syscall === 'exit_group');
    expect(exits.map((l) => l.args)).toEqual(['0', '1', '0']);
    expect(exits.every((l) => l.result.startsWith('? '))).toBe(true);
  });

  it('cuts buffers to --strace-size', async () => {
    const run = await boot(['--strace=write', '--strace-size', '4'], 'echo hello world');
    expect(run.stdout).toBe('hello world');
    const write = traceLines(run.stderr).find((l) => l.syscall === 'write');
    expect(write?.args).toBe('1, "hell"..., 12');
    expect(write?.result).toMatch(/^12 </);
  });

  it('traces a class of syscalls', async () => {
    const run = await boot(['--strace=file'], 'cat /etc/hostname; ls / > /dev/null');
    expect(run.exitCode).toBe(0);
    const traced = traceLines(run.stderr);
    const names = new Set(traced.map((l) => l.syscall));
    expect(names).toContain('openat');
    expect(names).toContain('execve');
    const file = new Set<string>(SYSCALL_CLASSES.file);
    for (const name of names) expect(file.has(name), name).toBe(true);
  });

  it('says when a call parked, for how long and what woke it, split around other lines', async () => {
    const run = await boot(['--strace=read,write,clock_nanosleep,nanosleep'], '(sleep 0.1; echo x) | head -c 2');
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe('x');
    const all = lines(run.stderr);
    // head parks in read while the writer sleeps; the writer's lines come in between.
    const unfinished = all.findIndex((l) => /^\[pid \d+ head\] read\(0, <unfinished \.\.\.>$/.test(l));
    expect(unfinished, run.stderr).toBeGreaterThanOrEqual(0);
    const resumed = all.findIndex((l) => /^\[pid \d+ head\] <\.\.\. read resumed>"x\\n", \d+\) = 2 /.test(l));
    expect(resumed, run.stderr).toBeGreaterThan(unfinished);
    const writer = traceLines(run.stderr).find((l) => l.syscall === 'write' && l.args.startsWith('1, "x\\n"'));
    expect(writer).toBeDefined();
    const woke = all[resumed]!.match(/<parked (\d+(?:\.\d+)?)ms, woken by pid (\d+) (\S+) write>$/);
    expect(woke, all[resumed]).not.toBeNull();
    expect(Number(woke![1])).toBeGreaterThanOrEqual(50);
    expect(Number(woke![2])).toBe(writer!.pid);
    // The sleep parks on its timer.
    const sleep = traceLines(run.stderr).find((l) => l.comm === 'sleep' && /nanosleep$/.test(l.syscall));
    expect(sleep?.result).toMatch(/^0 <\d+\.\d{6}> <parked \d+(\.\d+)?ms, woken by its timer>$/);
  });

  it('marks calls whose work ran as host syscalls in the guest process', async () => {
    const run = await boot(['--strace=brk,mmap'], 'true');
    const grow = traceLines(run.stderr).find((l) => l.syscall === 'brk' && l.args !== 'NULL' && / \[host\] </.test(l.result));
    expect(grow, run.stderr).toBeDefined();
    expect(grow!.result).toMatch(/^0x[0-9a-f]+ \[host\] </);
  });

  it('writes JSON lines to --strace-file, leaving stderr to the guest', async () => {
    const file = join(scratch.dir, 'trace.jsonl');
    const run = await boot(['--strace=openat,read,close', '--strace-file', file, '--strace-format', 'json'],
      'head -n 1 /etc/hostname; head -n 1 /nonexistent');
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toBe('vmctl');
    expect(run.stderr).not.toContain('openat');
    const records = lines(await readFile(file, 'utf8')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.length).toBeGreaterThanOrEqual(4);
    for (const r of records) {
      expect(['openat', 'read', 'close']).toContain(r.syscall);
      expect(typeof r.pid).toBe('number');
      expect(typeof r.tid).toBe('number');
      expect(typeof r.comm).toBe('string');
      expect(Array.isArray(r.args)).toBe(true);
      expect(typeof r.durationUs).toBe('number');
      expect(r.nr).toBe(NR[r.syscall as keyof typeof NR]);
    }
    const open = records.find((r) => r.syscall === 'openat' && (r.args as string[])[1] === '"/etc/hostname"');
    expect(open).toMatchObject({ comm: 'head', args: ['AT_FDCWD', '"/etc/hostname"', 'O_RDONLY'], result: 3,
      hostPath: { layer: 'lower', path: join(lower, 'etc/hostname') } });
    const read = records.find((r) => r.syscall === 'read' && r.pid === open!.pid);
    expect(read).toMatchObject({ result: 6 });
    expect((read!.args as string[])[1]).toBe('"vmctl\\n"');
    const missing = records.find((r) => r.syscall === 'openat' && (r.args as string[])[1] === '"/nonexistent"');
    expect(missing).toMatchObject({ result: -1, errno: 'ENOENT', error: 'No such file or directory' });
  });
});

describe('vmctl boot --stats', () => {
  it('prints per-syscall counts and kernel time, host round trips and unimplemented calls', async () => {
    const run = await boot(['--stats'], 'cat /etc/hostname');
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe('vmctl');
    const out = lines(run.stderr);
    const head = out.findIndex((l) => /^syscall +calls +errors +total µs +mean µs +host trips$/.test(l));
    expect(head, run.stderr).toBeGreaterThanOrEqual(0);
    const rows = new Map<string, number[]>();
    for (const l of out.slice(head + 2)) {
      const m = /^(\w+) +(\d+) +(\d+) +(\d+\.\d) +(\d+\.\d) +(\d+)$/.exec(l);
      if (m) rows.set(m[1]!, m.slice(2).map(Number));
    }
    expect(rows.get('execve')?.[0]).toBe(1);
    expect(rows.get('exit_group')?.[0]).toBe(1);
    expect(rows.get('openat')?.[0]).toBeGreaterThanOrEqual(1);
    // sorted by total time
    const totals = [...rows.entries()].filter(([n]) => n !== 'total').map(([, r]) => r[2]!);
    expect(totals).toEqual([...totals].sort((a, b) => b - a));
    const sum = [...rows.entries()].filter(([n]) => n !== 'total').reduce((s, [, r]) => s + r[0]!, 0);
    expect(rows.get('total')?.[0]).toBe(sum);
    expect(out.some((l) => /^host round trips: [1-9]\d* /.test(l))).toBe(true);
    expect(out.some((l) => l.startsWith('unimplemented syscalls: '))).toBe(true);
  });
});
