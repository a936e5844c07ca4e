/**
 * The interactive console as a person meets it: `vmctl boot` in an 80x24
 * pseudo-terminal, commands typed a key at a time at the busybox shell's
 * prompt, job control keys, the exit status coming back out, and the host
 * terminal's mode given back afterwards.
 *
 * Most tests share one guest shell, in order; when one fails, the next boots
 * a new guest so one failure does not cascade into the rest.
 */
import { execa } from 'execa';
import { readlink } from 'node:fs/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Terminal } from './helpers/console.ts';
import { busyboxBinary, hostDescendants, Scratch, warmUp } from './helpers/guest.ts';
import { VMCTL_BIN } from './helpers/vmctl.ts';

const BOOT_TIMEOUT = 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let scratch: Scratch;
let term: Terminal | undefined;
let broken = true;

beforeAll(async () => {
  scratch = await Scratch.create('console');
  await warmUp(scratch);
});

afterAll(async () => {
  await term?.close();
  await scratch?.remove();
});

/** Boots the default guest (with `args`) interactively in a new terminal and waits for its first prompt. */
async function bootConsole(args: string[] = []): Promise<Terminal> {
  const t = Terminal.vmctl(['boot', '--fresh', ...args], scratch.env);
  await t.waitForPrompt(0, BOOT_TIMEOUT);
  return t;
}

/** The shared guest shell, at its prompt. */
async function shell(): Promise<Terminal> {
  if (!term || broken || term.exit) {
    await term?.close();
    term = await bootConsole();
    broken = false;
  }
  return term;
}

describe.sequential('the console', () => {
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      broken = true;
    });
  });

  it('shows the prompt of a login shell in /root', async () => {
    const t = await shell();
    expect(t.tail(1)).toBe('vmctl:~# ');
  });

  it('evaluates arithmetic: echo $((6*7))', async () => {
    const t = await shell();
    expect(await t.run('echo $((6*7))')).toEqual(['42']);
  });

  it('lists the guest root: ls /', async () => {
    const t = await shell();
    const names = (await t.run('ls /')).join(' ').split(/\s+/);
    expect(names).toEqual(expect.arrayContaining(['bin', 'etc', 'proc', 'root', 'tmp']));
  });

  it('/proc/self/status shows guest pids, not host ones', async () => {
    const t = await shell();
    const [shellPid] = await t.run('echo $$');
    const status = await t.run('cat /proc/self/status');
    const field = (name: string) => status.find((line) => line.startsWith(`${name}:`))?.split(/\s+/)[1];
    expect(field('Name')).toBe('cat');
    const pid = Number(field('Pid'));
    expect(pid).toBeGreaterThan(1);
    expect(pid).toBeLessThan(1000);
    expect(field('PPid')).toBe(shellPid);
    // init execs the shell, so the shell is pid 1.
    expect(shellPid).toBe('1');
    // None of the guest's host processes carries that number.
    const hostPids = await hostDescendants(t.pid);
    expect(hostPids.length).toBeGreaterThan(0);
    expect(hostPids).not.toContain(pid);
  });

  it('runs pipelines: seq 1 1000 | sort -rn | head -3', async () => {
    const t = await shell();
    expect(await t.run('seq 1 1000 | sort -rn | head -3')).toEqual(['1000', '999', '998']);
  });

  it('redirects output, input and stderr', async () => {
    const t = await shell();
    expect(await t.run('echo hi > /tmp/x; cat < /tmp/x')).toEqual(['hi']);
    expect(await t.run('echo more >> /tmp/x; wc -l < /tmp/x')).toEqual(['2']);
    // The message is busybox's own, as a native run of the same binary prints it.
    const native = await execa(await busyboxBinary(), ['ls', '/nonexistent'], { reject: false });
    expect(await t.run('ls /nonexistent 2> /tmp/err; echo "status $?"; cat /tmp/err')).toEqual([
      `status ${native.exitCode}`,
      native.stderr,
    ]);
  });

  it('reads here-documents, expanded and quoted', async () => {
    const t = await shell();
    let from = await t.start('cat <<EOF');
    await t.waitFor(/> $/, from);
    from = t.mark();
    await t.type('a $((1+1)) $HOME\r');
    await t.waitFor(/> $/, from);
    from = t.mark();
    await t.type('EOF\r');
    expect((await t.waitForPrompt(from)).split('\n')).toContain('a 2 /root');

    from = await t.start("cat <<'EOF'");
    await t.waitFor(/> $/, from);
    from = t.mark();
    await t.type('b $HOME\r');
    await t.waitFor(/> $/, from);
    from = t.mark();
    await t.type('EOF\r');
    expect((await t.waitForPrompt(from)).split('\n')).toContain('b $HOME');
  });

  it('changes directory: cd /etc; pwd, and the prompt follows', async () => {
    const t = await shell();
    expect(await t.run('cd /etc; pwd')).toEqual(['/etc']);
    expect(t.tail(1)).toBe('vmctl:/etc# ');
    expect(await t.run('cd ..; pwd')).toEqual(['/']);
    await t.run('cd');
    expect(t.tail(1)).toBe('vmctl:~# ');
  });

  it('substitutes commands: echo $(echo abc) `echo def`', async () => {
    const t = await shell();
    expect(await t.run('echo $(echo abc) `echo def`')).toEqual(['abc def']);
  });

  it('sleeps: sleep 0.2 && echo done', async () => {
    const t = await shell();
    const from = await t.start('sleep 0.2 && echo done');
    const start = performance.now();
    const text = await t.waitForPrompt(from);
    expect(performance.now() - start).toBeGreaterThanOrEqual(190);
    expect(text.split('\n')).toContain('done');
  });

  it('runs a background job and waits for it', async () => {
    const t = await shell();
    const out = await t.run('(sleep 0.3; echo bg-done) & echo "started $!"; wait; echo "waited $?"');
    const started = out.find((line) => line.startsWith('started '));
    expect(Number(started?.split(' ')[1])).toBeLessThan(1000);
    const bgDone = out.indexOf('bg-done');
    expect(bgDone).toBeGreaterThan(out.indexOf(started!));
    expect(out.indexOf('waited 0')).toBeGreaterThan(bgDone);
  });

  it('Ctrl-C ends sleep 100 and the prompt returns', async () => {
    const t = await shell();
    const from = await t.start('sleep 100');
    await sleep(300);
    const start = performance.now();
    t.write('\x03');
    await t.waitForPrompt(from, 5_000);
    expect(performance.now() - start).toBeLessThan(5_000);
    expect(await t.run('echo $?')).toEqual([String(128 + 2)]);
  });

  it('Ctrl-\\ quits sleep 100 and the prompt returns', async () => {
    const t = await shell();
    const from = await t.start('sleep 100');
    await sleep(300);
    t.write('\x1c');
    await t.waitForPrompt(from, 5_000);
    expect(await t.run('echo $?')).toEqual([String(128 + 3)]);
  });

  it('Ctrl-Z stops sleep 100; jobs, bg, fg and Ctrl-C', async () => {
    const t = await shell();
    let from = await t.start('sleep 100');
    await sleep(300);
    t.write('\x1a');
    expect(await t.waitForPrompt(from, 5_000)).toMatch(/\[1\]\+\s+Stopped\s+sleep 100/);
    expect((await t.run('jobs')).join('\n')).toMatch(/^\[1\]\+\s+Stopped\s+sleep 100$/);
    expect(await t.run('bg')).toEqual(['[1] sleep 100']);
    expect((await t.run('jobs')).join('\n')).toMatch(/^\[1\]\+\s+Running\s+sleep 100$/);
    from = await t.start('fg');
    await t.waitFor(/^sleep 100$/m, from);
    await sleep(300);
    t.write('\x03');
    await t.waitForPrompt(from, 5_000);
    expect(await t.run('jobs')).toEqual([]);
  });

  it('reports the terminal size and follows a resize', async () => {
    const t = await shell();
    expect(await t.run('stty size')).toEqual(['24 80']);
    t.proc.resize(100, 30);
    await sleep(200);
    expect(await t.run('stty size')).toEqual(['30 100']);
    t.proc.resize(80, 24);
  });

  it('exit 3 makes vmctl exit with status 3', async () => {
    // (an instance of its own: the shared shell's still runs)
    const t = await bootConsole(['--name', 'exit-status']);
    try {
      await t.type('exit 3\r');
      const exit = await Promise.race([t.exited, sleep(15_000).then(() => undefined)]);
      expect(exit, `vmctl did not exit; the screen ends with:\n${t.tail()}`).toEqual({ exitCode: 3, signal: 0 });
    } finally {
      await t.close();
    }
  });
});

/**
 * `stty -g` before and after vmctl in the same terminal must print the same
 * settings: vmctl puts the host terminal in raw mode while a guest runs and
 * must give its mode back on every way out.
 */
describe.sequential('the host terminal after vmctl', () => {
  const SETTINGS = /^[0-9a-f]+(?::[0-9a-f]+){20,}$/;

  /**
   * Runs `stty -g; node vmctl ARGS; echo status=$?; stty -g` in a new terminal. The console's
   * shared shell may still run: these boot an instance of their own (`boot --name terminal`).
   */
  function sandwich(args: string): Terminal {
    const script = `stty -g; '${process.execPath}' '${VMCTL_BIN}' ${args}; echo "status=$?"; stty -g`;
    return Terminal.spawn('/bin/sh', ['-c', script], scratch.env);
  }

  async function settingsAround(t: Terminal): Promise<{ before: string; after: string; status: string }> {
    const exit = await Promise.race([t.exited, sleep(30_000).then(() => undefined)]);
    expect(exit, `the terminal's shell did not finish; the screen ends with:\n${t.tail()}`).toBeDefined();
    const shown = t.text().split('\n');
    const settings = shown.filter((line) => SETTINGS.test(line));
    const status = shown.find((line) => line.startsWith('status='))!;
    expect(settings, t.tail()).toHaveLength(2);
    return { before: settings[0]!, after: settings[1]!, status };
  }

  it('is unchanged after --exec true', async () => {
    const t = sandwich('boot --name terminal --exec true');
    try {
      const { before, after, status } = await settingsAround(t);
      expect(status).toBe('status=0');
      expect(after).toBe(before);
    } finally {
      await t.close();
    }
  });

  it('is unchanged after an interactive shell that changed its own tty mode exits', async () => {
    const t = sandwich('boot --name terminal --fresh');
    try {
      await t.waitForPrompt(0, BOOT_TIMEOUT);
      // Meanwhile the host terminal is in raw mode: the kernel's console tty does the line editing.
      const [vmctlPid] = await hostDescendants(t.pid);
      const hostTty = await readlink(`/proc/${vmctlPid}/fd/0`);
      const during = await execa('stty', ['-a', '-F', hostTty]);
      expect(during.stdout).toMatch(/(^|\s)-icanon(\s|$)/);
      expect(during.stdout).toMatch(/(^|\s)-echo(\s|$)/);
      const duringSettings = (await execa('stty', ['-g', '-F', hostTty])).stdout;
      // The guest's tty mode is the guest's business: none of it may leak to the host terminal.
      await t.type('stty -echo -icanon -isig; exit 5\r');
      const { before, after, status } = await settingsAround(t);
      expect(status).toBe('status=5');
      expect(after).toBe(before);
      expect(duringSettings).not.toBe(before);
    } finally {
      await t.close();
    }
  });

  it('is unchanged after vmctl is killed with SIGTERM at the prompt', async () => {
    const t = sandwich('boot --name terminal --fresh');
    try {
      await t.waitForPrompt(0, BOOT_TIMEOUT);
      // The terminal runs sh; its child is vmctl's node process.
      const [vmctlPid] = await hostDescendants(t.pid);
      expect(vmctlPid).toBeDefined();
      process.kill(vmctlPid!, 'SIGTERM');
      const { before, after } = await settingsAround(t);
      expect(after).toBe(before);
    } finally {
      await t.close();
    }
  });
});
