/**
 * `vmctl boot --inject` on real guests through the real CLI: an injected
 * errno reaches the program (its message, its exit status), path globs,
 * nth and nth+ pick the calls, a seed makes probabilities repeat, a delay
 * parks the thread for real, the trace marks what was injected, and bad
 * specs are refused with a message naming the bad part.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NR } from '../src/kernel/syscall-names.ts';
import { globToRegExp } from '../src/kernel/trace/glob.ts';
import { parseInjectSpec } from '../src/kernel/trace/options.ts';
import { BOOT_TIMEOUT, lines, Scratch, warmUp } from './helpers/guest.ts';
import { vmctl, type VmctlRun } from './helpers/vmctl.ts';

let scratch: Scratch;

beforeAll(async () => {
  scratch = await Scratch.create('inject');
  await warmUp(scratch);
});

afterAll(async () => {
  await scratch?.remove();
});

interface TimedRun extends VmctlRun {
  ms: number;
}

/** `vmctl boot FLAGS... --exec CMD` in the scratch's state, timed. */
async function boot(flags: string[], command: string): Promise<TimedRun> {
  const start = performance.now();
  const run = await vmctl(['boot', ...flags, '--exec', command], { env: scratch.env, timeout: BOOT_TIMEOUT });
  return { ...run, ms: performance.now() - start };
}

/** Runs `cat /etc/hostname` `n` times, printing o for each success and x for each failure. */
function catTimes(n: number): string {
  return `for i in ${Array.from({ length: n }, (_, i) => i + 1).join(' ')}; do ` +
    'cat /etc/hostname > /dev/null 2>&1 && printf o || printf x; done';
}

describe('vmctl boot --inject', () => {
  it('makes cat fail with the injected errno, and marks it in the trace', async () => {
    const run = await boot(['--inject', 'openat:ENOENT:path=/etc/*', '--strace=openat'], 'cat /etc/hostname');
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain("cat: can't open '/etc/hostname': No such file or directory");
    expect(lines(run.stderr)).toContainEqual(expect.stringMatching(
      /^\[pid \d+ cat\] openat\(AT_FDCWD, "\/etc\/hostname", O_RDONLY\) = -1 ENOENT \(No such file or directory\) \(INJECTED\) </));
  });

  it('leaves calls alone whose path does not match the glob', async () => {
    const run = await boot(['--inject', 'openat:ENOENT:path=/usr/**'], 'cat /etc/hostname');
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe('vmctl');
  });

  it('nth=2 fails only the second matching call; nth=2+ the second and every later one', async () => {
    const only = await boot(['--inject', 'openat:EACCES:path=/etc/hostname:nth=2'], catTimes(4));
    expect(only.stdout).toBe('oxoo');
    const onward = await boot(['--inject', 'openat:EACCES:path=/etc/hostname:nth=2+'], catTimes(4));
    expect(onward.stdout).toBe('oxxx');
    const message = await boot(['--inject', 'openat:EACCES:path=/etc/hostname:nth=2'],
      'cat /etc/hostname; cat /etc/hostname; echo "status $?"');
    expect(lines(message.stdout)).toEqual(['vmctl', 'status 1']);
    expect(message.stderr).toContain("cat: can't open '/etc/hostname': Permission denied");
  });

  it('repeats a probabilistic run with the same seed', async () => {
    const spec = ['--inject', 'openat:ENOENT:path=/etc/hostname:prob=0.5'];
    const a = await boot([...spec, '--inject-seed', '42'], catTimes(16));
    const b = await boot([...spec, '--inject-seed', '42'], catTimes(16));
    expect(a.stdout).toMatch(/^[ox]{16}$/);
    expect(b.stdout).toBe(a.stdout);
    // about half fail, not all nor none
    expect(a.stdout).toContain('o');
    expect(a.stdout).toContain('x');
    const other = await boot([...spec, '--inject-seed', '43'], catTimes(16));
    expect(other.stdout).not.toBe(a.stdout);
  });

  it('without a seed, says which one it drew so the run can be repeated', async () => {
    const run = await boot(['--inject', 'openat:ENOENT:path=/etc/hostname:prob=0.5'], catTimes(8));
    const m = /--inject seed (\d+) \(pass --inject-seed (\d+) to repeat this run\)/.exec(run.stderr);
    expect(m, run.stderr).not.toBeNull();
    const again = await boot(['--inject', 'openat:ENOENT:path=/etc/hostname:prob=0.5', '--inject-seed', m![1]!], catTimes(8));
    expect(again.stdout).toBe(run.stdout);
  });

  it('retval= makes a call return a value without running', async () => {
    const run = await boot(['--inject', 'unlink:retval=0:path=/etc/hostname'], 'rm /etc/hostname && cat /etc/hostname');
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe('vmctl');
  });

  it('a delay parks the call for real: the command takes that much longer', async () => {
    const command = 'cat /etc/hostname; cat /etc/hostname; cat /etc/hostname';
    // Timed inside the guest (busybox time), so boot times don't blur it; a
    // loaded host can only make it longer, so a lower bound is safe.
    const timed = `time -f %e sh -c '${command}'`;
    const plain = await boot([], command);
    const delayed = await boot(['--inject', 'openat:delay=200ms:path=/etc/hostname', '--strace=openat'], timed);
    expect(plain.exitCode).toBe(0);
    expect(delayed.exitCode, delayed.stderr).toBe(0);
    expect(delayed.stdout).toBe(plain.stdout);
    // three opens, 200 ms each
    const elapsed = Number(/^(\d+\.\d+)$/m.exec(delayed.stderr)?.[1]);
    expect(elapsed, delayed.stderr).toBeGreaterThanOrEqual(0.59);
    const opens = lines(delayed.stderr).filter((l) => l.includes('"/etc/hostname"'));
    expect(opens).toHaveLength(3);
    for (const l of opens) {
      expect(l).toMatch(/ = 3 \(INJECTED: delayed 200\.0ms\) .*<parked (\d+(?:\.\d+)?)ms, woken by its timer>$/);
    }
  });

  it('a delay with an errno waits, then fails', async () => {
    const run = await boot(['--inject', 'openat:EIO:delay=100ms:path=/etc/hostname', '--strace=openat'], 'cat /etc/hostname');
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain('Input/output error');
    expect(run.stderr).toMatch(/= -1 EIO \(Input\/output error\) \(INJECTED: delayed 100\.0ms, then returned\)/);
  });

  it('pid= and comm= narrow a rule to one process', async () => {
    const byComm = await boot(['--inject', 'openat:ENOENT:comm=head:path=/etc/hostname'],
      'cat /etc/hostname; head -n 1 /etc/hostname; echo "status $?"');
    expect(lines(byComm.stdout)).toEqual(['vmctl', 'status 1']);
    const byPid = await boot(['--inject', 'openat:ENOENT:pid=2:path=/etc/hostname'],
      'cat /etc/hostname; cat /etc/hostname; echo "status $?"');
    expect(lines(byPid.stdout)).toEqual(['vmctl', 'status 0']);
  });

  it.each([
    ['opnat:ENOENT', 'unknown syscall "opnat" (did you mean "openat"?)'],
    ['write:EIOO', '"EIOO": not an errno name'],
    ['write:EIO:nth=0', '"nth=0": nth must be N'],
    ['read:delay=5xs', '"delay=5xs": delay must be a duration'],
    ['read:EIO:prob=1.5', '"prob=1.5": prob must be between 0 and 1'],
    ['read:EIO:colour=red', 'unknown key "colour"'],
    ['openat:ENOENT:path=etc/*', 'path must be an absolute guest path glob'],
    ['read', 'write SYSCALL:ERRNO or SYSCALL:delay=DURATION'],
    ['read:nth=3', 'says neither what to return'],
  ])('refuses %s, naming the bad part', async (spec, message) => {
    const run = await vmctl(['boot', '--inject', spec, '--exec', 'true'], { env: scratch.env });
    expect(run.exitCode).toBe(2);
    expect(run.text).toContain(`--inject "${spec}"`);
    expect(run.text).toContain(message);
  });

  it('refuses an unknown syscall in --strace=', async () => {
    const run = await vmctl(['boot', '--strace=opnat,read', '--exec', 'true'], { env: scratch.env });
    expect(run.exitCode).toBe(2);
    expect(run.text).toContain('unknown syscall "opnat" (did you mean "openat"?)');
  });
});

describe('--inject specs and path globs', () => {
  it.each([
    ['/etc/*', '/etc/hostname', true],
    ['/etc/*', '/etc/ssl/certs', false],
    ['/etc/**', '/etc/ssl/certs/x.pem', true],
    ['/etc/**/x.pem', '/etc/x.pem', true],
    ['/etc/**/x.pem', '/etc/ssl/certs/x.pem', true],
    ['/etc/host?ame', '/etc/hostname', true],
    ['/etc/host?ame', '/etc/host/ame', false],
    ['/tmp/[ab].txt', '/tmp/b.txt', true],
    ['/tmp/[!ab].txt', '/tmp/b.txt', false],
    ['/a.b', '/axb', false],
  ])('glob %s matching %s is %s', (glob, path, match) => {
    expect(globToRegExp(glob).test(path)).toBe(match);
  });

  it('parses every part of a spec', () => {
    const r = parseInjectSpec('openat,%file:EACCES:path=/etc/*:pid=3:comm=cat:nth=2+:prob=25%');
    expect(r.nrs.has(NR.openat)).toBe(true);
    expect(r.nrs.has(NR.unlink)).toBe(true);
    expect(r).toMatchObject({ errno: 13, pid: 3, comm: 'cat', nth: 2, nthOnward: true, prob: 0.25 });
    expect(parseInjectSpec('read:delay=1.5s')).toMatchObject({ delayMs: 1500 });
    expect(parseInjectSpec('read:delay=200us:errno=EIO')).toMatchObject({ delayMs: 0.2, errno: 5 });
    expect(parseInjectSpec('write:retval=-1')).toMatchObject({ retval: -1 });
  });
});
