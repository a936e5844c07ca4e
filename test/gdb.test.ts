/**
 * The gdb stub (src/kernel/debug/) with the real gdb: test/programs/
 * gdb-target.c is built static with -g, run in a guest under --rootfs, and
 * debugged through `target remote`: a breakpoint is hit, a global, an
 * argument and a local are read, `next` and `stepi` step, and the program
 * runs on to its exit status and output. `vmctl ctl GUEST gdb PID PORT`
 * stops a process that computes without syscalls; a raw client checks ^C
 * and memory writes; bad ports and pids get clear errors.
 */
import { execa, type ResultPromise } from 'execa';
import { readdir, stat } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOT_TIMEOUT, programRoot, Scratch } from './helpers/guest.ts';
import { VMCTL_BIN, vmctl } from './helpers/vmctl.ts';

const SOURCE = fileURLToPath(new URL('./programs/gdb-target.c', import.meta.url));
const GDB = process.env.GDB || 'gdb';

let scratch: Scratch;
let rootfs: string;
/** the program's host path: gdb's symbol file */
let program: string;

beforeAll(async () => {
  scratch = await Scratch.create('gdb');
  rootfs = await programRoot(join(scratch.dir, 'rootfs'), [{ name: 'gdbtarget', source: SOURCE, cflags: ['-O0', '-g', '-Wall'] }]);
  program = join(rootfs, 'gdbtarget');
  // a first boot builds the host side, outside any test's timeout
  await vmctl(['boot', '--rootfs', rootfs, '--exec', 'true'], { env: scratch.env, timeout: 600_000 });
}, 600_000);

afterAll(async () => {
  await scratch?.remove();
});

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

interface Background {
  run: ResultPromise;
  stderr: () => string;
}

/**
 * `vmctl boot --rootfs ROOT ...flags` in the background, until its stderr
 * matches `ready`. Handed back in an object: an async function returning
 * the run's promise bare would make its caller wait for the whole boot.
 */
async function bootUntil(flags: string[], ready: RegExp): Promise<Background> {
  const run = execa(process.execPath, [VMCTL_BIN, 'boot', '--rootfs', rootfs, ...flags], {
    env: scratch.env, reject: false, stdin: 'ignore', timeout: BOOT_TIMEOUT, all: false,
  });
  let err = '';
  run.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  let done = false;
  void run.then(() => { done = true; });
  for (let i = 0; i < 600 && !done && !ready.test(err); i++) await new Promise((r) => setTimeout(r, 50));
  if (!ready.test(err)) throw new Error(`the guest never got ready: ${err}\n${(await run).stdout}`);
  return { run, stderr: () => err };
}

const WAITING = /waiting for gdb on 127\.0\.0\.1:\d+/;

function gdbBatch(port: number, commands: string[]) {
  const args = ['-batch', '-nx', '-ex', 'set confirm off', '-ex', `target remote 127.0.0.1:${port}`];
  for (const c of commands) args.push('-ex', c);
  args.push(program);
  return execa(GDB, args, { reject: false, timeout: 60_000, stdin: 'ignore' });
}

describe('gdb stub: boot --gdb-port', () => {
  for (const strict of [false, true]) {
    it(`breakpoint, variables, next, stepi, continue to exit${strict ? ' (--strict)' : ''}`, async () => {
      const port = await freePort();
      const guest = await bootUntil([...(strict ? ['--strict'] : []), '--gdb-port', String(port), '--gdb-exec', 'gdbtarget',
        '--exec', 'echo before; ./gdbtarget; echo "status $?"'], WAITING);
      expect(guest.stderr()).toMatch(/guest process \d+ \(gdbtarget\) stopped at its first instruction/);
      const gdb = await gdbBatch(port, [
        'break bump', 'continue', 'print counter', 'print by', 'next', 'print local', 'print $pc',
        'stepi', 'print $pc', 'info threads', 'continue',
      ]);
      const out = String(gdb.stdout);
      expect(out, String(gdb.stderr)).toMatch(/Breakpoint 1, bump \(by=1\) at .*gdb-target\.c:17/);
      expect(out).toMatch(/^\$1 = 41$/m);
      expect(out).toMatch(/^\$2 = 1$/m);
      // `next` ran line 17: local = counter + by
      expect(out).toMatch(/^19\s+counter = local;$/m);
      expect(out).toMatch(/^\$3 = 42$/m);
      // stepi moved the pc by one instruction, still in bump
      const before = /^\$4 = \(void \(\*\)\(\)\) (0x[0-9a-f]+) <bump\+\d+>$/m.exec(out);
      const after = /^\$5 = \(void \(\*\)\(\)\) (0x[0-9a-f]+) <bump\+\d+>$/m.exec(out);
      expect(before && after, out).toBeTruthy();
      expect(Number(after![1])).toBeGreaterThan(Number(before![1]));
      expect(Number(after![1]) - Number(before![1])).toBeLessThan(16);
      expect(out).toMatch(/Thread p?\d+\.\d+ \(gdbtarget \(main thread\)\)/);
      expect(out).toMatch(/\[Inferior 1 \(process \d+\) exited with code 07\]/);
      const done = await guest.run;
      expect(done.exitCode, String(done.stderr)).toBe(0);
      // the shell around it went on: the program's status came back to it
      expect(String(done.stdout)).toBe('before\nbumped to 42, result 84\nstatus 7');
    });
  }

  it('^C interrupts a process computing without syscalls; M writes its memory; c runs it to exit', async () => {
    const port = await freePort();
    const guest = await bootUntil(['--gdb-port', String(port), '--gdb-exec', 'gdbtarget', '--exec', './gdbtarget spin'], WAITING);
    const nm = String((await execa('nm', [program])).stdout);
    const release = /^([0-9a-f]+) [bBdD] release$/m.exec(nm)![1]!;
    const client = new RawGdb(port);
    await client.connected;
    expect(await client.ask('?')).toMatch(/^T05thread:[0-9a-f]+;$/);
    client.send('vCont;c');
    await new Promise((r) => setTimeout(r, 500));
    client.interrupt();
    expect(await client.reply()).toMatch(/^T02thread:[0-9a-f]+;$/);
    expect(await client.ask(`m${release},4`)).toBe('00000000');
    expect(await client.ask(`M${release},4:01000000`)).toBe('OK');
    expect(await client.ask('Z1,401000,1')).toBe(''); // hardware breakpoints: not supported, said the gdb way
    expect(await client.ask('c')).toBe('W03');
    client.close();
    const done = await guest.run;
    expect(done.exitCode).toBe(3);
    expect(String(done.stdout)).toBe('spinning\nreleased after spinning');
  });
});

describe('gdb stub: ctl gdb', () => {
  it('stops a running guest process by pid and serves gdb on it', async () => {
    const guest = await bootUntil(['--exec', 'sh -c "./gdbtarget spin"; echo "status $?"'], /^$/);
    const sock = await controlSocket();
    // wait for the program to spin
    let ps = '';
    for (let i = 0; i < 100 && !/running\s+-\s+gdbtarget$/m.test(ps); i++) {
      ps = String((await vmctl(['ctl', sock, 'ps'], { env: scratch.env })).stdout);
      await new Promise((r) => setTimeout(r, 100));
    }
    const pid = /^(\d+)\s+\d+\s+\d+\s+running\s+-\s+gdbtarget$/m.exec(ps)?.[1];
    expect(pid, ps).toBeDefined();
    const port = await freePort();
    const attach = await vmctl(['ctl', sock, 'gdb', pid!, String(port)], { env: scratch.env });
    expect(attach.exitCode, attach.text).toBe(0);
    expect(attach.stdout).toMatch(new RegExp(`guest process ${pid} \\(gdbtarget\\) stopped; gdb stub on 127\\.0\\.0\\.1:${port}`));
    expect(String((await vmctl(['ctl', sock, 'ps'], { env: scratch.env })).stdout)).toMatch(/stopped\s+-\s+gdbtarget$/m);
    const gdb = await gdbBatch(port, ['print release', 'print spins > 0', 'set var release = 1', 'continue']);
    const out = String(gdb.stdout);
    // Stopped in the spin loop: gdb prints "0x… in main (…) at …:31" inside a
    // line, and "main (…) at …:30" when the stop falls on a line's first instruction.
    expect(out, String(gdb.stderr)).toMatch(/(?:^|\bin )main \(argc=2, .*gdb-target\.c:3\d/m);
    expect(out).toMatch(/^\$1 = 0$/m);
    expect(out).toMatch(/^\$2 = 1$/m);
    expect(out).toMatch(/\[Inferior 1 \(process \d+\) exited with code 03\]/);
    const done = await guest.run;
    expect(done.exitCode, String(done.stderr)).toBe(0);
    expect(String(done.stdout)).toBe('spinning\nreleased after spinning\nstatus 3');
  });

  it('says what is wrong: no such pid, bad port, port in use, --gdb-exec alone', async () => {
    const guest = await bootUntil(['--exec', 'sleep 30'], /^$/);
    const sock = await controlSocket();
    const noPid = await vmctl(['ctl', sock, 'gdb', '999', String(await freePort())], { env: scratch.env });
    expect(noPid.exitCode).toBe(1);
    expect(noPid.text).toMatch(/no guest process 999/);
    const badPort = await vmctl(['ctl', sock, 'gdb', '1', '99999'], { env: scratch.env });
    expect(badPort.exitCode).toBe(1);
    expect(badPort.text).toMatch(/bad port "99999"/);
    const usage = await vmctl(['ctl', sock, 'gdb', '1'], { env: scratch.env });
    expect(usage.text).toMatch(/usage: gdb PID PORT/);

    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const busyPort = (busy.address() as { port: number }).port;
    const inUse = await vmctl(['ctl', sock, 'gdb', '1', String(busyPort)], { env: scratch.env });
    expect(inUse.exitCode).toBe(1);
    expect(inUse.text).toMatch(new RegExp(`cannot listen for gdb on 127\\.0\\.0\\.1:${busyPort}: the port is in use`));
    expect((await vmctl(['ctl', sock, 'halt'], { env: scratch.env })).exitCode).toBe(0);
    await guest.run;

    const bootInUse = await vmctl(['boot', '--rootfs', rootfs, '--gdb-port', String(busyPort), '--exec', 'true'], { env: scratch.env });
    expect(bootInUse.exitCode).toBe(1);
    expect(bootInUse.text).toMatch(/cannot listen for gdb on 127\.0\.0\.1:\d+: the port is in use/);
    await new Promise((r) => busy.close(r));

    const zero = await vmctl(['boot', '--rootfs', rootfs, '--gdb-port', '0', '--exec', 'true'], { env: scratch.env });
    expect(zero.exitCode).toBe(2);
    expect(zero.text).toMatch(/gdb-port/);
    const notNumber = await vmctl(['boot', '--rootfs', rootfs, '--gdb-port', 'abc', '--exec', 'true'], { env: scratch.env });
    expect(notNumber.exitCode).toBe(2);
    const alone = await vmctl(['boot', '--rootfs', rootfs, '--gdb-exec', 'x', '--exec', 'true'], { env: scratch.env });
    expect(alone.exitCode).toBe(2);
    expect(alone.text).toMatch(/give --gdb-port PORT too/);
  });
});

/** The control socket of the --rootfs guest: <state>/vmctl/busybox/rootfs-<hash>/control.sock. */
async function controlSocket(): Promise<string> {
  const base = join(scratch.stateHome, 'vmctl', 'busybox');
  for (let i = 0; i < 200; i++) {
    for (const d of await readdir(base).catch(() => [] as string[])) {
      const s = join(base, d, 'control.sock');
      if ((await stat(s).catch(() => undefined))?.isSocket()) return s;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no control socket');
}

/** A minimal remote-protocol client, to send what gdb -batch cannot (^C). */
class RawGdb {
  readonly connected: Promise<void>;
  private readonly sock;
  private buf = '';
  private waiters: ((p: string) => void)[] = [];

  constructor(port: number) {
    this.sock = connect(port, '127.0.0.1');
    this.sock.setEncoding('latin1');
    this.connected = new Promise((r) => this.sock.once('connect', () => r()));
    this.sock.on('data', (d: string) => {
      this.buf += d;
      for (;;) {
        this.buf = this.buf.replace(/^\++/, '');
        const m = /^\$([^#]*)#[0-9a-f]{2}/.exec(this.buf);
        if (!m) return;
        this.buf = this.buf.slice(m[0].length);
        this.sock.write('+');
        this.waiters.shift()?.(m[1]!);
      }
    });
  }

  send(p: string): void {
    let sum = 0;
    for (const c of p) sum = (sum + c.charCodeAt(0)) & 0xff;
    this.sock.write(`$${p}#${sum.toString(16).padStart(2, '0')}`);
  }

  reply(): Promise<string> {
    return new Promise((r, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply from the stub')), 20_000);
      this.waiters.push((p) => {
        clearTimeout(timer);
        r(p);
      });
    });
  }

  ask(p: string): Promise<string> {
    const r = this.reply();
    this.send(p);
    return r;
  }

  interrupt(): void {
    this.sock.write('\x03');
  }

  close(): void {
    this.sock.destroy();
  }
}
