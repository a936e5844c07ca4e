/**
 * The guest kernel's gdb stub: debug sessions on guest processes, each
 * served to gdb on its own TCP port. Installed on a kernel the first time
 * it is asked for (boot --gdb-port, ctl gdb), it answers the kernel's
 * DebugHooks for the threads of the debugged processes and costs the
 * others one map lookup per resume.
 */
import type { DebugHooks, Kernel, SyscallObserver } from '../kernel.ts';
import { SIGTRAP } from '../signal-state.ts';
import { NR } from '../syscall-names.ts';
import { NO_RESULT } from '../syscall-result.ts';
import { type Process, type Task, TaskState } from '../task.ts';
import { GdbServer } from './gdb-server.ts';
import { DebugStubError, execMatches, type GdbBootOptions } from './options.ts';
import { DebugSession } from './session.ts';

const installed = new WeakMap<Kernel, GuestDebugger>();

/** The debugger of `k`, installed on first use. */
export function debuggerOf(k: Kernel): GuestDebugger {
  let d = installed.get(k);
  if (!d) {
    d = new GuestDebugger(k);
    installed.set(k, d);
    k.debug = d;
  }
  return d;
}

/** The debugger of `k` if one was ever installed. */
export function existingDebugger(k: Kernel): GuestDebugger | undefined {
  return installed.get(k);
}

const connectHint = (port: number) => `gdb PROGRAM -ex 'target remote 127.0.0.1:${port}'`;

export class GuestDebugger implements DebugHooks {
  private readonly sessions = new Map<Process, DebugSession>();
  private readonly servers = new Set<GdbServer>();
  /** boot --gdb-exec: the port that waits for a program to be exec'd, and the observer that watches execve */
  private armed: { server: GdbServer; program: string; observer: SyscallObserver } | undefined;

  constructor(private readonly k: Kernel) {}

  // ----- DebugHooks -----

  beforeResume(t: Task): 'run' | 'step' | 'hold' {
    const s = this.sessions.get(t.proc);
    if (s) return s.beforeResume(t);
    const parent = t.proc.parent;
    if (parent && this.sessions.size > 0) this.sessions.get(parent)?.childResuming(t.proc);
    return 'run';
  }

  onStop(t: Task, kind: number, a: number, b: number, c: number, d: number): boolean {
    return this.sessions.get(t.proc)?.onStop(t, kind, a, b, c, d) ?? false;
  }

  taskGone(t: Task): void {
    this.sessions.get(t.proc)?.taskGone(t);
  }

  // ----- starting sessions -----

  /**
   * `vmctl ctl GUEST gdb PID PORT`: stop guest process `pid` and wait for
   * gdb on `port`. Resolves once the port listens, with a line for the user.
   */
  async attach(pid: number, port: number): Promise<string> {
    const find = () => {
      const p = this.k.procs.get(pid);
      if (!p || !p.alive || p.exiting || ![...p.threads].some((t) => t.state !== TaskState.Dead)) {
        throw new DebugStubError(`no guest process ${pid} (\`vmctl ctl GUEST ps\` lists them)`);
      }
      if (this.sessions.has(p)) throw new DebugStubError(`guest process ${pid} (${p.comm}) is already under gdb`);
      return p;
    };
    find();
    const server = await this.listen(port);
    let p: Process;
    try {
      p = find(); // it may have exited while the port was opened
    } catch (e) {
      await this.closeServer(server);
      throw e;
    }
    // reported as signal 0 (T00): gdb passes the stop's signal on when it resumes, and a SIGSTOP would stop the process for good
    this.start(p, server, 0, undefined);
    return `guest process ${pid} (${p.comm}) stopped; gdb stub on 127.0.0.1:${port}: ${connectHint(port)}`;
  }

  /**
   * `vmctl boot --gdb-port`: open the port before the guest runs, so a bad
   * one fails the boot. arm() then says which process to stop.
   */
  async listenAtBoot(opts: GdbBootOptions): Promise<void> {
    const server = await this.listen(opts.port);
    this.armed = {
      server,
      program: opts.exec ?? '',
      observer: {
        enter: () => undefined,
        exit: (t, nr, result) => {
          if ((nr === NR.execve || nr === NR.execveat) && result === NO_RESULT) this.execed(t);
        },
      },
    };
  }

  /** Pid 1 is about to run its first instruction: stop it there, or start watching for --gdb-exec's program. */
  arm(init: Task): void {
    const a = this.armed;
    if (!a) return;
    if (a.program === '' || execMatches(a.program, init.proc.mm.exePath, init.proc.comm)) {
      this.armed = undefined;
      this.stopAtExec(init, a.server);
    } else {
      this.k.observers.push(a.observer);
    }
  }

  private execed(t: Task): void {
    const a = this.armed;
    if (!a || !execMatches(a.program, t.proc.mm.exePath, t.proc.comm) || this.sessions.has(t.proc)) return;
    this.armed = undefined;
    this.dropObserver(a.observer);
    this.stopAtExec(t, a.server);
  }

  private stopAtExec(t: Task, server: GdbServer): void {
    this.start(t.proc, server, SIGTRAP, t);
    process.stderr.write(`vmctl: gdb: guest process ${t.pid} (${t.proc.comm}) stopped at its first instruction; ` +
      `waiting for gdb on 127.0.0.1:${server.port} (${connectHint(server.port)})\n`);
  }

  private start(p: Process, server: GdbServer, signal: number, first: Task | undefined): void {
    const s = new DebugSession(this.k, p, signal, first);
    this.sessions.set(p, s);
    s.onEnd = () => {
      if (this.sessions.get(p) === s) this.sessions.delete(p);
      void this.closeServer(server);
    };
    server.serve(s);
    this.k.kick();
  }

  private async listen(port: number): Promise<GdbServer> {
    const server = await GdbServer.listen(port);
    this.servers.add(server);
    return server;
  }

  private closeServer(server: GdbServer): Promise<void> {
    this.servers.delete(server);
    return server.close();
  }

  private dropObserver(o: SyscallObserver): void {
    const i = this.k.observers.indexOf(o);
    if (i >= 0) this.k.observers.splice(i, 1);
  }

  /** The guest is over: tell gdb (W/X are already sent by then) and free the ports. */
  async close(): Promise<void> {
    if (this.armed) this.dropObserver(this.armed.observer);
    this.armed = undefined;
    await Promise.all([...this.servers].map((s) => this.closeServer(s)));
  }
}
