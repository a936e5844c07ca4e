/**
 * execve's limits on arguments and environment (execve(2)): each string at
 * most 128 KiB with its NUL, all of them with their pointers at most a
 * quarter of RLIMIT_STACK. test/programs/execargs.c execs itself with up
 * to 6 MiB of strings, finds each limit to the byte by bisection and has
 * each child check what it got and where its stack is. The same static
 * binary runs natively on the host and in a guest; the host's Linux is
 * the oracle, line by line, in the default mode and with --strict.
 */
import { execa } from 'execa';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootExec, lines, programRoot, Scratch, type ExecRun } from './helpers/guest.ts';

const SOURCE = fileURLToPath(new URL('programs/execargs.c', import.meta.url));

let scratch: Scratch;
let rootfs: string;
let native: { stdout: string; stderr: string; exitCode: number | undefined };

beforeAll(async () => {
  scratch = await Scratch.create('exec-args');
  rootfs = await programRoot(join(scratch.dir, 'rootfs'), [{ name: 'execargs', source: SOURCE }]);
  // It execs ./execargs and writes ./execargs.sh: run it from its own directory.
  const run = await execa(join(rootfs, 'execargs'), [], { cwd: rootfs, reject: false, stdin: 'ignore', timeout: 60_000 });
  native = { stdout: String(run.stdout), stderr: String(run.stderr), exitCode: run.exitCode };
});

afterAll(async () => {
  await scratch?.remove();
});

/** The lines of one case of the program's output: its name line and what follows up to the next case. */
function caseLines(stdout: string, name: string): string[] {
  const all = lines(stdout);
  const start = all.indexOf(`${name}:`);
  if (start < 0) return [];
  const end = all.findIndex((l, i) => i > start && !l.startsWith('  '));
  return all.slice(start, end < 0 ? undefined : end);
}

it('the program runs natively to the end (the oracle is usable)', () => {
  expect(native.exitCode, native.stderr).toBe(0);
  expect(caseLines(native.stdout, 'env_1mib')[1]).toContain('strings 10 bytes 1100010 intact 1');
  expect(lines(native.stdout).filter((l) => l.includes('longest last string'))).toHaveLength(7);
});

describe.each([
  ['by default', false],
  ['with --strict', true],
])('a guest exec with big arguments and environments, %s', (_mode, strict) => {
  let guest: ExecRun;
  beforeAll(async () => {
    guest = await bootExec(scratch, 'cd / && ./execargs', { rootfs, fresh: true, strict, timeout: 120_000 });
  });

  it('hands a child about 1 MiB of environment, intact, on a [stack] that holds it', () => {
    expect(guest.exitCode, guest.stderr).toBe(0);
    expect(caseLines(guest.stdout, 'env_1mib')).toEqual([
      'env_1mib:',
      '  child: argc 2 argv0 "./execargs" strings 10 bytes 1100010 intact 1 sp-in-[stack] 1 [stack]-covers 1',
      '  execve ok, status 0',
    ]);
  });

  it('fails with E2BIG over a quarter of RLIMIT_STACK, and for one string over 128 KiB', () => {
    expect(caseLines(guest.stdout, 'env_2mib_over')).toEqual(['env_2mib_over:', '  execve E2BIG, status 0x7f00']);
    expect(caseLines(guest.stdout, 'env_string_too_long')).toEqual(['env_string_too_long:', '  execve E2BIG, status 0x7f00']);
  });

  it('gets, case by case and limit by limit, what Linux gives', () => {
    expect(lines(guest.stdout), `guest stderr:\n${guest.stderr}`).toEqual(lines(native.stdout));
  });
});
