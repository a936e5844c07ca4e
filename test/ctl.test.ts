/**
 * `vmctl ctl` and `vmctl list` against real running guests: a guest booted
 * in the background (`vmctl boot --exec 'sleep N; echo done'`) is looked
 * at, frozen, thawed and killed through its control socket; syscall
 * breakpoints (`--break-syscall`, `ctl break`/`unbreak`/`go PID`) stop one
 * guest thread at a syscall while the rest of the guest runs.
 */
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
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

/** A file the guest sees as /NAME: the guest's copy-on-write upper layer, on the host. */
const upperFile = (name: string) => join(scratch.stateHome, 'vmctl', 'busybox', 'busybox', 'upper', name);

const stoppedAtBreak = (out: string) => /^\d+\s+\d+\s+\d+\s+break\s/m.test(out);

describe('syscall breakpoints: --break-syscall, ctl break/unbreak/go', () => {
  it('--break-syscall parks only the calling thread, ps and stderr say where, go PID serves the call', async () => {
    await rm(upperFile('ticks'), { force: true });
    // A background loop keeps writing while hostname is stopped: the rest of the guest goes on.
    const run = await bootInBackground('(while :; do echo tick >> /ticks; sleep 0.05; done) & hostname brk; kill $!; hostname; echo after',
      ['--break-syscall', 'sethostname']);
    const ps = await psUntil(stoppedAtBreak);
    expect(ps.exitCode, ps.text).toBe(0);
    const line = /^(\d+)\s+(\d+)\s+\d+\s+break\s+sethostname\s+hostname$/m.exec(ps.stdout);
    expect(line, ps.stdout).not.toBeNull();
    const pid = line![1]!;
    expect(ps.stdout).toMatch(new RegExp(`^stopped at a syscall breakpoint .*\\n {2}${pid} \\(hostname\\): sethostname\\("brk", 3\\)$`, 'm'));
    expect(ps.stdout).toMatch(/^1\s+1\s+\d+\s+blocked\s+wait4\s+sh$/m);

    const ticks = async () => (await readFile(upperFile('ticks'), 'utf8').catch(() => '')).length;
    const before = await ticks();
    let after = before;
    for (let i = 0; i < 30 && after <= before; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await ticks();
    }
    expect(after).toBeGreaterThan(before);

    const list = await ctl('break');
    expect(list.stdout).toMatch(/^breakpoints: sethostname$/m);
    expect(list.stdout).toContain(`  ${pid} (hostname): sethostname("brk", 3)`);

    const notThere = await ctl('go', '1');
    expect(notThere.exitCode).toBe(1);
    expect(notThere.text).toMatch(new RegExp(`guest pid 1 is not stopped at a syscall breakpoint \\(stopped: ${pid}\\)`));
    const noPid = await ctl('go', '999');
    expect(noPid.text).toMatch(/no guest process or thread 999/);

    const go = await ctl('go', pid);
    expect(go.exitCode, go.text).toBe(0);
    expect(go.stdout).toBe(`guest pid ${pid} (hostname) goes on: sethostname("brk", 3)`);
    const done = await run.exited;
    expect(done.exitCode, done.text).toBe(0);
    expect(done.stdout).toBe('brk\nafter');
    expect(done.stderr).toContain(`vmctl: guest pid ${pid} (hostname) stopped at sethostname("brk", 3) \u2014 ` +
      `\`vmctl ctl busybox go ${pid}\` continues`);
  }, 120_000);

  it('ctl break sets one live, with strace on the same call; unbreak; bad input is refused', async () => {
    await rm(upperFile('brk-go'), { force: true });
    const run = await bootInBackground('while [ ! -e /brk-go ]; do sleep 0.1; done; cat /etc/hostname; echo after');

    const unknown = await ctl('break', 'opneat');
    expect(unknown.exitCode).toBe(1);
    expect(unknown.text).toMatch(/break: unknown syscall "opneat" \(did you mean "openat"\?\)/);
    const badPid = await ctl('break', 'openat:abc');
    expect(badPid.text).toMatch(/break "openat:abc": "abc" is not a guest pid/);
    const noPid = await ctl('break', 'openat:999');
    expect(noPid.text).toMatch(/break openat:999: no guest process or thread 999/);
    const noBreak = await ctl('unbreak', 'read');
    expect(noBreak.text).toMatch(/no breakpoint "read"; none is set/);

    const set = await ctl('break', 'openat');
    expect(set.exitCode, set.text).toBe(0);
    expect(set.stdout).toMatch(/^breakpoint openat set$/m);
    const strace = await ctl('strace', 'openat');
    expect(strace.exitCode, strace.text).toBe(0);

    await writeFile(upperFile('brk-go'), '');
    const ps = await psUntil(stoppedAtBreak);
    const line = /^(\d+)\s+\d+\s+\d+\s+break\s+openat\s+cat$/m.exec(ps.stdout);
    expect(line, ps.stdout).not.toBeNull();
    const pid = line![1]!;
    expect(ps.stdout).toContain(`  ${pid} (cat): openat(AT_FDCWD, "/etc/hostname", O_RDONLY)`);

    const unbreak = await ctl('unbreak', 'openat');
    expect(unbreak.stdout).toBe('breakpoint openat removed\n1 guest thread still stopped at a breakpoint: `ctl go PID` continues each');
    expect((await ctl('go', pid)).exitCode).toBe(0);
    const done = await run.exited;
    expect(done.exitCode, done.text).toBe(0);
    expect(done.stdout).toMatch(/^\S+\nafter$/);
    // The live trace saw the call once it was served.
    expect(done.stderr).toMatch(new RegExp(`^\\[pid ${pid} cat\\] openat\\(AT_FDCWD, "/etc/hostname", O_RDONLY\\) = 3 `, 'm'));
  }, 120_000);

  it('a bad --break-syscall is refused before the guest boots', async () => {
    const bad = await vmctl(['boot', '--break-syscall', 'frobnicate', '--exec', 'true'], { env: scratch.env });
    expect(bad.exitCode).toBe(2);
    expect(bad.text).toMatch(/--break-syscall: unknown syscall "frobnicate"/);
    const badPid = await vmctl(['boot', '--break-syscall', 'openat:0', '--exec', 'true'], { env: scratch.env });
    expect(badPid.exitCode).toBe(2);
    expect(badPid.text).toMatch(/--break-syscall "openat:0": "0" is not a guest pid/);
  }, 60_000);
});

describe('vmctl ctl stop on a guest that makes no syscall', () => {
  it('stop holds it (vmctl stays up with every thread held), go lets it run, halt ends it', async () => {
    const run = await bootInBackground('while :; do :; done');
    expect((await ctl('stop')).stdout).toBe('guest frozen');
    // Nothing in the guest can wake the kernel now: vmctl must still be there, answering.
    await new Promise((r) => setTimeout(r, 1500));
    const ps = await ctl('ps');
    expect(ps.exitCode, ps.text).toBe(0);
    expect(ps.stdout).toMatch(/^1\s+1\s+\d+\s+stopped\s+-\s+sh$/m);
    expect((await ctl('go')).stdout).toBe('guest running');
    expect((await ctl('ps')).stdout).toMatch(/^1\s+1\s+\d+\s+running\s+-\s+sh$/m);
    expect((await ctl('halt')).exitCode).toBe(0);
    expect((await run.exited).exitCode).toBe(137);
  }, 120_000);
});
