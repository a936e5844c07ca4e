/**
 * `vmctl boot --inspect`: a DevTools-protocol client (what Chrome DevTools
 * and VS Code speak) attaches to the guest kernel, sets a breakpoint in the
 * getuid handler by its TypeScript line (through tsx's inline source map),
 * sees it hit when the guest runs `id -u`, reads the handler's locals and
 * the dispatcher's syscall number, resumes, and the guest finishes.
 */
import { execa, type ResultPromise } from 'execa';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cdp, generatedPositionOf, inlineSourceMap } from './helpers/cdp.ts';
import { BOOT_TIMEOUT, Scratch, warmUp } from './helpers/guest.ts';
import { vmctl, VMCTL_BIN } from './helpers/vmctl.ts';

const IDS_TS = fileURLToPath(new URL('../src/kernel/syscalls/ids.ts', import.meta.url));
const NR_GETUID = 102;

let scratch: Scratch;

beforeAll(async () => {
  scratch = await Scratch.create('inspect');
  await warmUp(scratch);
}, 600_000);

afterAll(async () => {
  await scratch?.remove();
});

/** A file the guest sees as /NAME: the guest's copy-on-write upper layer, on the host. */
const upperFile = (name: string) => join(scratch.stateHome, 'vmctl', 'busybox', 'busybox', 'upper', name);

interface Booted {
  proc: ResultPromise<{ reject: false; stdin: 'ignore'; timeout: number }>;
  wsUrl: string;
  stderr: () => string;
}

/** `vmctl boot ARGS` in the background, until it printed the inspector's ws:// URL. */
async function bootInspected(args: string[]): Promise<Booted> {
  const proc = execa(process.execPath, [VMCTL_BIN, 'boot', ...args], {
    reject: false, stdin: 'ignore', env: scratch.env, timeout: BOOT_TIMEOUT,
  });
  let err = '';
  proc.stderr.setEncoding('utf8');
  const wsUrl = await new Promise<string>((resolve, reject) => {
    proc.stderr.on('data', (chunk: string) => {
      err += chunk;
      // (vmctl's note on what a breakpoint pauses follows node's own line)
      const m = /Debugger listening on (ws:\/\/\S+)/.exec(err);
      if (m && err.includes('vmctl: a breakpoint pauses')) resolve(m[1]!);
    });
    void proc.then((r) => reject(new Error(`vmctl ended before its inspector listened: ${r.exitCode} ${err}`)));
  });
  return { proc, wsUrl, stderr: () => err };
}

/** 0-based line of the statement inside `function NAME(` of a TypeScript file. */
async function firstBodyLine(file: string, name: string): Promise<number> {
  const lines = (await readFile(file, 'utf8')).split('\n');
  const at = lines.findIndex((l) => l.startsWith(`function ${name}(`));
  if (at < 0) throw new Error(`no function ${name} in ${file}`);
  return at + 1;
}

/**
 * Enables the debugger and sets a breakpoint by TypeScript line on the first
 * statement of the getuid handler, for `id`'s call only (conditional, as in
 * DevTools: the shell calls getuid too).
 */
async function breakInIdsGetuid(cdp: Cdp) {
  await cdp.send('Debugger.enable');
  const script = await cdp.waitFor('Debugger.scriptParsed', (p) => p.url === pathToFileURL(IDS_TS).href);
  // What V8 sees: minified JavaScript under the .ts file's URL, with an inline source map
  // that carries the TypeScript itself (so a debugger shows it without reading the file).
  const map = inlineSourceMap(script.sourceMapURL as string);
  expect(map.sources).toEqual([IDS_TS]);
  expect(map.sourcesContent?.[0]).toBe(await readFile(IDS_TS, 'utf8'));
  const pos = generatedPositionOf(map, await firstBodyLine(IDS_TS, 'sysGetuid'));
  const bp = await cdp.send('Debugger.setBreakpointByUrl', { url: script.url, ...pos, condition: 't.proc.comm === "id"' });
  expect(bp.locations.length, JSON.stringify(bp)).toBe(1);
  return { script, bp };
}

/** CPU time (utime + stime, clock ticks) of every host process below PID, PID itself left out. */
async function descendantsCpuTicks(pid: number): Promise<number> {
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const text = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    // (the command name, in parentheses, may hold spaces: fields are counted after its ')')
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    stats.set(Number(name), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
  }
  const below = (p: number): boolean => {
    const parent = stats.get(p)?.ppid;
    return parent !== undefined && parent !== 0 && (parent === pid || below(parent));
  };
  let ticks = 0;
  for (const [p, s] of stats) if (below(p)) ticks += s.ticks;
  return ticks;
}

describe('vmctl boot --inspect', () => {
  it('a breakpoint by TypeScript line in the getuid handler is hit, shows its locals, and the guest goes on', async () => {
    await rm(upperFile('inspect-go'), { force: true });
    // The guest waits for the test's go-ahead (a file it sees appear) before it calls getuid.
    const b = await bootInspected(['--inspect=0', '--exec',
      'while [ ! -e /inspect-go ]; do sleep 0.1; done; id -u; echo after']);
    expect(b.wsUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]+$/);
    expect(b.stderr()).toMatch(/a breakpoint pauses this guest's whole kernel/);
    const cdp = await Cdp.connect(b.wsUrl);
    try {
      const { script, bp } = await breakInIdsGetuid(cdp);

      const from = cdp.events.length;
      await writeFile(upperFile('inspect-go'), '');
      const paused = await cdp.waitFor('Debugger.paused', () => true, 30_000, from);
      const [top, caller] = paused.callFrames as { functionName: string; callFrameId: string; location: { scriptId: string } }[];
      expect(top!.functionName).toBe('sysGetuid');
      expect(top!.location.scriptId).toBe(script.scriptId);
      expect(paused.hitBreakpoints).toEqual([bp.breakpointId]);
      const evaluate = async (frame: string, expression: string) =>
        (await cdp.send('Debugger.evaluateOnCallFrame', { callFrameId: frame, expression, returnByValue: true })).result.value;
      // The handler's own local (its task), and the dispatcher's syscall number one frame up.
      expect(await evaluate(top!.callFrameId, 't.proc.comm')).toBe('id');
      const uid = await evaluate(top!.callFrameId, 't.proc.cred.uid') as number;
      expect(caller!.functionName).toBe('dispatch');
      expect(await evaluate(caller!.callFrameId, 'nr')).toBe(NR_GETUID);

      await cdp.send('Debugger.removeBreakpoint', { breakpointId: bp.breakpointId });
      await cdp.send('Debugger.resume');
      const done = await b.proc;
      expect(done.exitCode, b.stderr()).toBe(0);
      expect(done.stdout).toBe(`${uid}\nafter`);
    } finally {
      cdp.close();
      b.proc.kill();
    }
  }, 120_000);

  it('while a breakpoint holds the kernel, guest processes outside it compute on and another guest runs', async () => {
    await rm(upperFile('inspect-go'), { force: true });
    // A busybox shell loop of builtins makes no system call: it runs natively, whatever the kernel does.
    const b = await bootInspected(['--inspect=0', '--exec',
      "sh -c 'while :; do :; done' & while [ ! -e /inspect-go ]; do sleep 0.1; done; id -u; kill $!; echo after"]);
    const cdp = await Cdp.connect(b.wsUrl);
    try {
      const { bp } = await breakInIdsGetuid(cdp);
      // (the spinner must be past its exec, which the kernel serves, before the kernel is held)
      for (let i = 0; i < 200 && await descendantsCpuTicks(b.proc.pid!) < 5; i++) await new Promise((r) => setTimeout(r, 100));
      const from = cdp.events.length;
      await writeFile(upperFile('inspect-go'), '');
      await cdp.waitFor('Debugger.paused', () => true, 30_000, from);

      // The guest kernel is paused; the spinning guest process is not waiting on it.
      const before = await descendantsCpuTicks(b.proc.pid!);
      await new Promise((r) => setTimeout(r, 1500));
      const spun = await descendantsCpuTicks(b.proc.pid!) - before;
      // (1.5 s on a shared 2-CPU machine: at least a tenth of a CPU, in 100 Hz ticks)
      expect(spun).toBeGreaterThanOrEqual(15);

      // Another guest is another kernel: it boots, runs and exits meanwhile (another instance: one vmctl runs each).
      const other = await vmctl(['boot', '--name', 'other', '--exec', 'echo other guest; id -u'], { env: scratch.env });
      expect(other.exitCode, other.text).toBe(0);
      expect(other.stdout).toMatch(/^other guest\n\d+$/);

      // And the held guest has not moved past the breakpoint.
      expect(b.proc.exitCode).toBeNull();
      await cdp.send('Debugger.removeBreakpoint', { breakpointId: bp.breakpointId });
      await cdp.send('Debugger.resume');
      const done = await b.proc;
      expect(done.exitCode, b.stderr()).toBe(0);
      expect(done.stdout).toMatch(/^\d+\nafter$/);
    } finally {
      cdp.close();
      b.proc.kill();
    }
  }, 120_000);

  it('--inspect-brk waits for a debugger and pauses before the guest runs', async () => {
    const b = await bootInspected(['--inspect-brk=0', '--exec', 'echo hello']);
    const cdp = await Cdp.connect(b.wsUrl);
    try {
      await cdp.send('Debugger.enable');
      await cdp.send('Runtime.runIfWaitingForDebugger');
      const paused = await cdp.waitFor('Debugger.paused');
      expect(paused.callFrames[0].functionName).toBe('pauseBeforeBoot');
      await cdp.send('Debugger.resume');
      const done = await b.proc;
      expect(done.exitCode, b.stderr()).toBe(0);
      expect(done.stdout).toBe('hello');
    } finally {
      cdp.close();
      b.proc.kill();
    }
  }, 120_000);

  it('refuses a bad port and the UML kernel', async () => {
    const bad = await vmctl(['boot', '--inspect=notaport', '--exec', 'true'], { env: scratch.env });
    expect(bad.exitCode).toBe(2);
    expect(bad.text).toMatch(/--inspect=notaport: give a TCP port/);
    const uml = await vmctl(['boot', '--kernel', 'uml', '--inspect', '--exec', 'true'], { env: scratch.env });
    expect(uml.exitCode).toBe(2);
    expect(uml.text).toMatch(/--inspect debugs vmctl's own kernel/);
  }, 60_000);
});
