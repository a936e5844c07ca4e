/**
 * `vmctl boot --inspect`: a DevTools-protocol client (what Chrome DevTools
 * and VS Code speak) attaches to the guest kernel, sets a breakpoint in the
 * getuid handler by its TypeScript line (through tsx's inline source map),
 * sees it hit when the guest runs `id -u`, reads the handler's locals and
 * the dispatcher's syscall number, resumes, and the guest finishes.
 */
import { execa, type ResultPromise } from 'execa';
import { readFile, rm, writeFile } from 'node:fs/promises';
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
      await cdp.send('Debugger.enable');
      const script = await cdp.waitFor('Debugger.scriptParsed', (p) => p.url === pathToFileURL(IDS_TS).href);
      // What V8 sees: minified JavaScript under the .ts file's URL, with an inline source map
      // that carries the TypeScript itself (so a debugger shows it without reading the file).
      const map = inlineSourceMap(script.sourceMapURL as string);
      expect(map.sources).toEqual([IDS_TS]);
      expect(map.sourcesContent?.[0]).toBe(await readFile(IDS_TS, 'utf8'));

      const tsLine = await firstBodyLine(IDS_TS, 'sysGetuid');
      const pos = generatedPositionOf(map, tsLine);
      // (conditional, as in DevTools: the shell calls getuid too, and only `id`'s call is wanted)
      const bp = await cdp.send('Debugger.setBreakpointByUrl', { url: script.url, ...pos, condition: 't.proc.comm === "id"' });
      expect(bp.locations.length, JSON.stringify(bp)).toBe(1);

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
