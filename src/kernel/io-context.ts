/**
 * The IoContext/IoctlContext a file operation sees: who calls, their
 * session and process group, and guest memory for ioctl arguments.
 */
import type { Kernel } from './kernel.ts';
import { sendToProcess, sigIgnored } from './signals.ts';
import { sigbit, SI_KERNEL } from './signal-state.ts';
import type { Task } from './task.ts';
import type { Cred, IoctlContext } from './vfs/types.ts';

export function signalPgrp(k: Kernel, pgid: number, sig: number): void {
  for (const p of [...k.procs.values()]) {
    if (p.pgid === pgid && p.alive) sendToProcess(k, p, { signo: sig, code: SI_KERNEL });
  }
}

/**
 * The caller's context, made for every read, write, open and ioctl: a class,
 * so making one is an allocation and nothing more (no closures to create).
 * The fields are the caller's as of the call.
 */
class TaskIoContext implements IoctlContext {
  readonly tid: number;
  readonly pid: number;
  readonly cred: Cred;
  readonly sid: number;
  readonly pgid: number;
  readonly ctty: unknown;
  readonly sessionLeader: boolean;
  private readonly hostPid: number;

  constructor(private readonly k: Kernel, private readonly t: Task) {
    const p = t.proc;
    this.tid = t.tid;
    this.pid = p.pid;
    this.cred = p.cred;
    this.sid = p.sid;
    this.pgid = p.pgid;
    this.ctty = p.ctty;
    this.sessionLeader = p.sid === p.pid;
    this.hostPid = p.mm.hostPid;
  }

  signalPgrp(pgid: number, sig: number): void {
    signalPgrp(this.k, pgid, sig);
  }

  pgrpOrphaned(pgid: number): boolean {
    return this.k.isOrphanedPgrp(pgid);
  }

  ignoresSignal(sig: number): boolean {
    return sigIgnored(this.t.proc, sig) || (this.t.sigmask & sigbit(sig)) !== 0n;
  }

  readMem(addr: number, len: number): Uint8Array | number {
    return this.k.mem.read(this.hostPid, addr, len);
  }

  writeMem(addr: number, data: Uint8Array): number {
    return this.k.mem.write(this.hostPid, addr, data);
  }

  fileToGuest(fd: number, pos: number, addr: number, len: number): number {
    return this.k.mem.fromFile(this.hostPid, fd, pos, addr, len);
  }

  guestToFile(fd: number, pos: number, addr: number, len: number): number {
    return this.k.mem.toFile(this.hostPid, fd, pos, addr, len);
  }

  setCtty(tty: unknown): number {
    const p = this.t.proc;
    // TIOCNOTTY: only the caller lets go, unless it leads the session.
    if (tty === undefined && p.sid !== p.pid) {
      p.ctty = undefined;
      return 0;
    }
    // TIOCSCTTY on a session leader: the whole session gets the terminal.
    for (const q of this.k.procs.values()) if (q.sid === p.sid) q.ctty = tty;
    return 0;
  }

  pgrpInSession(pgid: number): boolean {
    const sid = this.t.proc.sid;
    for (const q of this.k.procs.values()) if (q.pgid === pgid && q.sid === sid && q.alive) return true;
    return false;
  }
}

export function ioContext(k: Kernel, t: Task): IoctlContext {
  return new TaskIoContext(k, t);
}
