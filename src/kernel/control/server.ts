/**
 * The control socket of a running guest (like UML's mconsole): a Unix
 * socket in the guest's state directory serving the line-based JSON
 * protocol of protocol.ts. It runs on the Node event loop of the kernel
 * process, which keeps turning while guests run (the tracer's wait is
 * interrupted when libuv has work), so every command sees the kernel
 * between two events, never in the middle of a syscall.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { unlinkSync } from 'node:fs';
import type { Kernel, SyscallEntry } from '../kernel.ts';
import { Reg } from '../../platform/regs.ts';
import { SIGNAL_NAMES } from '../signal-state.ts';
import { sendToProcess } from '../signals.ts';
import { SYSCALL_NAMES } from '../syscall-names.ts';
import { type Task, TaskState } from '../task.ts';
import { existingBreakpoints } from '../break/breakpoints.ts';
import { breakCommand, goThread, unbreakCommand } from './break-commands.ts';
import { CommandError } from './command-error.ts';
import { gdbCommand } from '../debug/ctl-command.ts';
import { installTracing, type InstalledTracing } from '../trace/install.ts';
import { DEFAULT_STRACE_SIZE, parseStraceFilter, TraceOptionError } from '../trace/options.ts';
import {
  type ControlReply, type ControlRequest, HALT_STATUS, type InfoResult, type PsEntry, type PsResult, type StackResult,
  type StatsResult,
} from './protocol.ts';

export interface ControlServer {
  close(): void;
}

const STATE_NAMES: Record<number, string> = {
  [TaskState.Running]: 'running',
  [TaskState.InKernel]: 'in-kernel',
  [TaskState.Blocked]: 'blocked',
  [TaskState.Stopped]: 'stopped',
  [TaskState.Dead]: 'dead',
};

const REG_NAMES: [string, Reg][] = [
  ['rip', Reg.RIP], ['rsp', Reg.RSP], ['rbp', Reg.RBP], ['rax', Reg.RAX], ['rbx', Reg.RBX], ['rcx', Reg.RCX],
  ['rdx', Reg.RDX], ['rsi', Reg.RSI], ['rdi', Reg.RDI], ['r8', Reg.R8], ['r9', Reg.R9], ['r10', Reg.R10],
  ['r11', Reg.R11], ['r12', Reg.R12], ['r13', Reg.R13], ['r14', Reg.R14], ['r15', Reg.R15],
  ['orig_rax', Reg.ORIG_RAX], ['eflags', Reg.EFLAGS], ['fs_base', Reg.FS_BASE],
];

const STACK_WORDS = 16;

const hex = (v: number) => (v < 0 ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`);

/** A signal by number (15), name (TERM, SIGTERM); undefined when it is neither. */
export function parseSignal(text: string): number | undefined {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n >= 1 && n <= 64 ? n : undefined;
  }
  const name = text.toUpperCase().replace(/^SIG/, '');
  for (const [nr, full] of Object.entries(SIGNAL_NAMES)) if (full === `SIG${name}`) return Number(nr);
  return undefined;
}

function syscallName(nr: number): string {
  return nr < 0 ? '' : SYSCALL_NAMES[nr] ?? `syscall_${nr}`;
}

class Controller {
  /** the trace `ctl strace` installed; the boot's own --strace is separate */
  private tracing: InstalledTracing | undefined;
  private straceWhat = 'off';
  private frozenHold: NodeJS.Timeout | undefined;

  constructor(private readonly k: Kernel, private readonly table: (SyscallEntry | undefined)[]) {}

  handle(req: ControlRequest, reply: (r: ControlReply) => void): void {
    const args = req.args ?? [];
    const ok = (result: unknown) => reply({ ok: true, result });
    switch (req.cmd) {
      case 'info': {
        const r: InfoResult = { pid: process.pid, frozen: this.k.isFrozen, processes: this.k.procs.size };
        return ok(r);
      }
      case 'ps':
        return ok(this.ps());
      case 'stack':
        return ok(this.stack(args));
      case 'stop':
        this.k.freeze();
        // A frozen guest whose threads all ran guest code leaves Node's loop with nothing to wait
        // for (this socket is unref'd): without a handle of its own, vmctl would end at once.
        this.frozenHold ??= setInterval(() => { if (!this.k.isFrozen) this.releaseFrozen(); }, 1000);
        return ok('guest frozen');
      case 'go':
        // `go PID` continues one thread stopped at a syscall breakpoint; bare `go` thaws the whole guest.
        if (args.length > 0) return ok(goThread(this.k, args[0]!));
        this.k.thaw();
        this.releaseFrozen();
        return ok('guest running');
      case 'break':
        return ok(breakCommand(this.k, args));
      case 'unbreak':
        return ok(unbreakCommand(this.k, args));
      case 'halt':
        // Answer first: shutting down ends the process soon after.
        reply({ ok: true, result: `guest halted (vmctl exits with ${HALT_STATUS})` });
        setImmediate(() => this.k.shutdown(HALT_STATUS));
        return;
      case 'kill':
        return ok(this.kill(args));
      case 'strace':
        return ok(this.strace(args));
      case 'gdb':
        // answered once the port listens (or with why it cannot)
        gdbCommand(this.k, args).then(ok, (e: Error) => reply({ ok: false, error: e.message }));
        return;
      case 'stats':
        return ok(this.stats());
      default:
        throw new CommandError(`unknown command "${req.cmd}"; known: ps, stack PID, stop, go, halt, kill PID SIG, ` +
          'strace on|off|SYSCALLS, stats, break [NAME[:PID]], unbreak NAME[:PID]|all, go PID');
    }
  }

  private ps(): PsResult {
    const tasks: PsEntry[] = [];
    const atBreak = new Map((existingBreakpoints(this.k)?.parkedNow() ?? []).map((p) => [p.task, p]));
    for (const t of this.k.tasks.values()) {
      const stop = atBreak.get(t);
      tasks.push({
        pid: t.proc.pid, tid: t.tid, hostTid: t.hostTid, ppid: t.proc.parent?.pid ?? 0,
        state: stop ? 'break' : STATE_NAMES[t.state] ?? String(t.state), syscall: syscallName(t.currentSyscall), comm: t.proc.comm,
        ...(stop ? { breakpoint: stop.call } : {}),
      });
    }
    tasks.sort((a, b) => a.pid - b.pid || a.tid - b.tid);
    return { frozen: this.k.isFrozen, tasks };
  }

  private task(text: string | undefined): Task {
    if (text === undefined || !/^\d+$/.test(text)) throw new CommandError('needs a guest pid (or tid), like: stack 1');
    const id = Number(text);
    const t = this.k.tasks.get(id);
    if (t && t.state !== TaskState.Dead) return t;
    const p = this.k.procs.get(id);
    const main = p ? [...p.threads].find((x) => x.state !== TaskState.Dead) : undefined;
    if (!main) throw new CommandError(`no guest process or thread ${id}`);
    return main;
  }

  private stack(args: string[]): StackResult {
    const t = this.task(args[0]);
    const regs: Record<string, string> = {};
    for (const [name, r] of REG_NAMES) regs[name] = hex(t.regs.get(r));
    const rsp = t.regs.get(Reg.RSP);
    const stack: [string, string][] = [];
    const hostPid = t.proc.mm.hostPid;
    if (hostPid > 0) {
      const buf = this.k.mem.readPartial(hostPid, rsp, STACK_WORDS * 8);
      for (let off = 0; off + 8 <= buf.length; off += 8) {
        stack.push([hex(rsp + off), `0x${buf.readBigUInt64LE(off).toString(16).padStart(16, '0')}`]);
      }
    }
    return { pid: t.proc.pid, tid: t.tid, state: STATE_NAMES[t.state] ?? '?', stale: t.state === TaskState.Running, regs, stack };
  }

  private kill(args: string[]): string {
    const [pidText, sigText] = args;
    if (pidText === undefined || !/^\d+$/.test(pidText) || sigText === undefined) {
      throw new CommandError('usage: kill PID SIG (SIG: a name like TERM or SIGKILL, or a number)');
    }
    const p = this.k.procs.get(Number(pidText));
    if (!p || !p.alive) throw new CommandError(`no guest process ${pidText}`);
    const signo = parseSignal(sigText);
    if (signo === undefined) throw new CommandError(`unknown signal "${sigText}"`);
    sendToProcess(this.k, p, { signo, code: 0 /* SI_USER */, pid: 0, uid: 0 });
    this.k.kick();
    return `sent ${SIGNAL_NAMES[signo] ?? signo} to ${p.pid} (${p.comm})`;
  }

  private strace(args: string[]): string {
    const what = args.join(',');
    if (what === '') throw new CommandError('usage: strace on|off|SYSCALLS (names or classes, comma separated)');
    if (what === 'off') {
      this.stopTrace();
      return 'strace off';
    }
    let only: ReadonlySet<number> | undefined;
    try {
      only = what === 'on' ? undefined : parseStraceFilter(what);
    } catch (e) {
      if (e instanceof TraceOptionError) throw new CommandError(e.message.replace(/^--strace/, 'strace'));
      throw e;
    }
    this.stopTrace();
    this.tracing = installTracing(this.k, this.table, {
      strace: { only, size: DEFAULT_STRACE_SIZE, format: 'text', fd: 2, file: undefined },
      inject: [], seed: 0, seedDrawn: false, stats: false, strict: false,
    });
    this.straceWhat = what === 'on' ? 'all' : what;
    const note = this.k.platform.accelerated
      ? ' (to stderr of vmctl; boot with --strict to see the fast-path calls: mmap, futex, clock_gettime, ...)'
      : ' (to stderr of vmctl)';
    return `strace ${this.straceWhat}${note}`;
  }

  private stopTrace(): void {
    this.tracing?.close();
    this.tracing = undefined;
    this.straceWhat = 'off';
  }

  private stats(): StatsResult {
    const syscalls = [...this.k.syscallCounts].map(([nr, count]) => ({ name: syscallName(nr), count }))
      .sort((a, b) => b.count - a.count || a.name.localeCompare(b.name));
    return {
      roundTrips: this.k.platform.roundTrips(), accelerated: this.k.platform.accelerated, syscalls,
      unimplemented: this.k.unimplemented,
    };
  }

  private releaseFrozen(): void {
    clearInterval(this.frozenHold);
    this.frozenHold = undefined;
  }

  close(): void {
    this.stopTrace();
    this.releaseFrozen();
  }
}

/** Whether something accepts connections on the socket `path`. */
export function socketAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Listen on `path` for the guest `k`. A socket file left by a vmctl that
 * died is replaced; one another running vmctl answers on is left alone
 * (undefined: this guest gets no control socket, with a warning).
 */
export async function startControlServer(k: Kernel, table: (SyscallEntry | undefined)[], path: string):
  Promise<ControlServer | undefined> {
  if (await socketAlive(path)) {
    process.stderr.write(`vmctl: another vmctl runs this guest (${path} answers): this one has no control socket\n`);
    return undefined;
  }
  try {
    unlinkSync(path);
  } catch { /* none left over */ }
  const ctl = new Controller(k, table);
  const clients = new Set<Socket>();
  const server: Server = createServer((sock) => {
    clients.add(sock);
    sock.setEncoding('utf8');
    let buf = '';
    sock.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim() === '') continue;
        const reply = (r: ControlReply) => {
          if (!sock.destroyed) sock.write(`${JSON.stringify(r)}\n`);
        };
        try {
          const req = JSON.parse(line) as ControlRequest;
          if (typeof req !== 'object' || req === null || typeof req.cmd !== 'string' ||
            (req.args !== undefined && (!Array.isArray(req.args) || req.args.some((a) => typeof a !== 'string')))) {
            throw new CommandError('bad request: send {"cmd": "...", "args": ["..."]} on one line');
          }
          ctl.handle(req, reply);
        } catch (e) {
          if (e instanceof SyntaxError) reply({ ok: false, error: 'bad request: not JSON' });
          else if (e instanceof CommandError) reply({ ok: false, error: e.message });
          else reply({ ok: false, error: `internal error: ${(e as Error).stack ?? e}` });
        }
      }
    });
    sock.on('error', () => { /* the client went away */ });
    sock.on('close', () => clients.delete(sock));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    // (a Unix socket path is limited to 107 bytes: a deep XDG_STATE_HOME can be too long)
    process.stderr.write(`vmctl: no control socket for this guest: cannot listen on ${path}: ${(e as Error).message}\n`);
    return undefined;
  }
  // The control socket must not keep vmctl alive once the guest is over.
  server.unref();
  let closed = false;
  return {
    close() {
      if (closed) return;
      closed = true;
      ctl.close();
      for (const c of clients) c.destroy();
      server.close();
      try {
        unlinkSync(path);
      } catch { /* already gone */ }
    },
  };
}
