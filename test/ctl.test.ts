/**
 * `vmctl ctl` and `vmctl list` against real running guests: a guest booted
 * in the background (`vmctl boot --exec 'sleep N; echo done'`) is looked
 * at, frozen, thawed and killed through its control socket.
 */
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOT_TIMEOUT, Scratch, warmUp } from './helpers/guest.ts';
import { vmctl, type VmctlRun } from './helpers/vmctl.ts';

let scratch: Scratch;

beforeAll(async () => {
  scratch = await Scratch.create('ctl');
  await warmUp(scratch);
}, 600_000);

afterAll(async () => {
  await scratch?.remove();
});

function socketPath(): string {
  return join(scratch.stateHome, 'vmctl', 'busybox', 'busybox', 'control.sock');
}

/** A guest booted in the background; `exited` settles when its vmctl exits. */
interface Background {
  exited: Promise<VmctlRun>;
}

/**
 * Boots `command` in the background and waits for its control socket.
 * The run's promise is handed back inside an object: an async function
 * that returned it bare would have its own promise adopt it, and the
 * caller's await would wait for the whole boot to end (which is why this
 * suite once saw "no such guest": every ctl ran after the guest was over).
 */
async function bootInBackground(command: string, bootFlags: string[] = []): Promise<Background> {
  // (a socket file another boot left behind must not be taken for this one's)
  await rm(socketPath(), { force: true });
  const exited = vmctl(['boot', ...bootFlags, '--exec', command], { env: scratch.env, timeout: BOOT_TIMEOUT });
  let done = false;
  void exited.then(() => { done = true; });
  for (let i = 0; i < 300 && !done; i++) {
    if ((await stat(socketPath()).catch(() => undefined))?.isSocket()) return { exited };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the guest never opened its control socket: ${(await exited).text}`);
}

const ctl = (...args: string[]) => vmctl(['ctl', 'busybox', ...args], { env: scratch.env, timeout: 30_000 });

/** `ctl ps` until `pred` holds on its output (the guest needs a moment to start the sleep). */
async function psUntil(pred: (out: string) => boolean): Promise<VmctlRun> {
  let r = await ctl('ps');
  for (let i = 0; i < 10 && !pred(r.stdout); i++) {
    await new Promise((res) => setTimeout(res, 100));
    r = await ctl('ps');
  }
  return r;
}

const sleeping = (out: string) => /\bblocked\s+(clock_)?nanosleep\s+sleep$/m.test(out);

describe("vmctl ctl", () => {
  it('ps lists pid 1 and the sleep in its syscall; list shows the guest; stop freezes, go lets it finish', async () => {
    const run = await bootInBackground('sleep 4; echo done');
    const ps = await psUntil(sleeping);
    expect(ps.exitCode, ps.text).toBe(0);
    expect(ps.stdout).toMatch(/^guest running$/m);
    expect(ps.stdout).toMatch(/^1\s+1\s+\d+\s+\S+\s+\S+\s+sh$/m);
    expect(ps.stdout).toMatch(/^\d+\s+\d+\s+\d+\s+blocked\s+(clock_)?nanosleep\s+sleep$/m);

    const list = await vmctl(['list'], { env: scratch.env });
    expect(list.exitCode, list.text).toBe(0);
    expect(list.stdout).toMatch(/^busybox\s+\d+\s+running\s+\d+\s+.*vmctl\/busybox\/busybox$/m);

    expect((await ctl('stop')).stdout).toContain('frozen');
    const frozen = await ctl('ps');
    expect(frozen.stdout).toMatch(/^guest frozen$/m);
    const stack = await ctl('stack', '2');
    expect(stack.exitCode, stack.text).toBe(0);
    expect(stack.stdout).toMatch(/rip 0x[0-9a-f]+/);
    expect(stack.stdout.match(/^ {2}0x[0-9a-f]+: 0x[0-9a-f]{16}$/gm)?.length).toBe(16);
    expect((await ctl('go')).stdout).toContain('running');

    const done = await run.exited;
    expect(done.exitCode, done.text).toBe(0);
    expect(done.stdout).toBe('done');
    // Gone with its guest: the socket answers no more.
    const after = await ctl('ps');
    expect(after.exitCode).toBe(1);
    expect(after.text).toMatch(/not running/);
    expect((await vmctl(['list'], { env: scratch.env })).stdout).toBe('no running guests');
  }, 120_000);

  it('kill 1 TERM ends an --exec guest with 143; stats counts syscalls', async () => {
    const run = await bootInBackground('sleep 20; echo done');
    await psUntil(sleeping);
    const stats = await ctl('stats');
    expect(stats.exitCode, stats.text).toBe(0);
    expect(stats.stdout).toMatch(/^execve\s+\d+$/m);
    expect(stats.stdout).toMatch(/host round trips/);
    const kill = await ctl('kill', '1', 'TERM');
    expect(kill.exitCode, kill.text).toBe(0);
    expect(kill.stdout).toContain('SIGTERM');
    const done = await run.exited;
    expect(done.exitCode, done.text).toBe(143);
    expect(done.stdout).not.toContain('done');
  }, 120_000);

  it('says what is wrong: no such guest, bad command, bad arguments', async () => {
    const none = await vmctl(['ctl', 'nosuch', 'ps'], { env: scratch.env });
    expect(none.exitCode).toBe(1);
    expect(none.text).toMatch(/no such guest: "nosuch"/);
    const bad = await vmctl(['ctl', 'busybox', 'frobnicate'], { env: scratch.env });
    expect(bad.exitCode).toBe(2);
    expect(bad.text).toMatch(/unknown command "frobnicate"/);

    const run = await bootInBackground('sleep 20');
    const badSig = await ctl('kill', '1', 'NOSUCHSIG');
    expect(badSig.exitCode).toBe(1);
    expect(badSig.text).toMatch(/unknown signal "NOSUCHSIG"/);
    const noPid = await ctl('stack', '999');
    expect(noPid.text).toMatch(/no guest process or thread 999/);
    const halt = await ctl('halt');
    expect(halt.exitCode, halt.text).toBe(0);
    expect((await run.exited).exitCode).toBe(137);
  }, 120_000);
});
