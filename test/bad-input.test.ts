/**
 * Bad input from a guest: test/programs/badinput.c makes raw system calls
 * with bad pointers, lengths, descriptors and flags and prints one line per
 * case, `name: ret errno`. The same static binary runs natively on the host
 * and in a guest (under `--rootfs`, with a busybox as /bin/sh); the host's
 * Linux is the oracle, line by line, in the default mode and with --strict.
 * Afterwards the guest kernel must still serve that process, its children, a
 * sibling process and the shell.
 */
import { execa } from 'execa';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootExec, lines, programRoot, Scratch, type ExecRun } from './helpers/guest.ts';
import { BADINPUT_SOURCE, cases, wrapper } from './helpers/badinput.ts';


/**
 * Cases whose result may legitimately differ from the host's, with the reason.
 * Each entry must say why a guest cannot or need not match the host's Linux.
 */
const DIFFERS_FROM_HOST: Record<string, string> = {};

let scratch: Scratch;
let rootfs: string;
let native: { stdout: string; stderr: string; exitCode: number | undefined };

beforeAll(async () => {
  scratch = await Scratch.create('bad-input');
  // A root holding just the program, busybox as /bin/sh, and /tmp.
  rootfs = await programRoot(join(scratch.dir, 'rootfs'), [{ name: 'badinput', source: BADINPUT_SOURCE }]);

  const nativeDir = join(scratch.dir, 'native');
  await mkdir(nativeDir);
  const run = await execa(join(rootfs, 'bin/busybox'), ['sh', '-c', wrapper(join(nativeDir, 'work'), join(rootfs, 'badinput'), join(nativeDir, 'other'))], {
    reject: false,
    stdin: 'ignore',
    cwd: nativeDir,
    timeout: 30_000,
  });
  native = { stdout: String(run.stdout), stderr: String(run.stderr), exitCode: run.exitCode };
});

afterAll(async () => {
  await scratch?.remove();
});

it('the program runs natively to the end (the oracle is usable)', () => {
  expect(native.exitCode, native.stderr).toBe(0);
  expect(lines(native.stdout).slice(-4)).toEqual(['still serving', 'badinput status 0', 'sibling-ok', 'after']);
  expect(cases(native.stdout, true).size).toBeGreaterThan(150);
});

/*
 * By default the seccomp fast path lets memory, futex and clock calls run on
 * the host; --strict stops on every call, so those reach the guest kernel too.
 */
describe.each([
  ['by default', false],
  ['with --strict', true],
])('a guest program passing bad arguments, %s', (_mode, strict) => {
  let guest: ExecRun;
  beforeAll(async () => {
    guest = await bootExec(scratch, wrapper('/tmp/work', '/badinput', '/other'), { rootfs, fresh: true, strict, timeout: 600_000 });
  });

  it('gets, case by case, what Linux gives', () => {
    const context = `guest stderr:\n${guest.stderr}`;
    // The host runs the kernel version the program's marked cases expect: all of them count.
    const expected = cases(native.stdout, true);
    const actual = cases(guest.stdout, true);
    for (const name of Object.keys(DIFFERS_FROM_HOST)) {
      expected.delete(name);
      actual.delete(name);
    }
    // As objects, so a failure lists every case that differs, in order.
    expect(Object.fromEntries(actual), context).toEqual(Object.fromEntries(expected));
  });

  it('prints the cases in the same order, and nothing else', () => {
    expect(lines(guest.stdout), `guest stderr:\n${guest.stderr}`).toHaveLength(lines(native.stdout).length);
    const names = (stdout: string) => lines(stdout).map((line) => line.split(':')[0]);
    expect(names(guest.stdout)).toEqual(names(native.stdout));
  });

  it('keeps serving: the program, its child, a sibling and the shell all finish', () => {
    expect(guest.exitCode, guest.stderr).toBe(0);
    expect(lines(guest.stdout).slice(-4)).toEqual(['still serving', 'badinput status 0', 'sibling-ok', 'after']);
    expect(guest.stderr).not.toMatch(/internal error|TypeError|RangeError|at .*\.ts:\d+/);
  });

  it('logs the unimplemented system call by number and caller', () => {
    expect(guest.stderr).toMatch(/\b1000\b.*not implemented.*badinput|badinput.*\b1000\b.*not implemented/);
  });
});
