/**
 * The IoContext/IoctlContext a file operation sees: who calls, their
 * session and process group, and guest memory for ioctl arguments.
 */
import type { Kernel } from './kernel.ts';
import { sendToProcess, sigIgnored } from './signals.ts';
import { sigbit, SI_KERNEL } from './signal-state.ts';
import type { Task } from './task.ts';
import type { IoctlContext } from './vfs/types.ts';

export function signalPgrp(k: Kernel, pgid: number, sig: number): void {
  for (const p of [...k.procs.values()]) {
    if (p.pgid === pgid && p.alive) sendToProcess(k, p, { signo: sig, code: SI_KERNEL });
  }
}

export function ioContext(k: Kernel, t: Task): IoctlContext {
  const p = t.proc;
  const hostPid = p.mm.hostPid;
  return {
    tid: t.tid,
    pid: p.pid,
    cred: p.cred,
    sid: p.sid,
    pgid: p.pgid,
    ctty: p.ctty,
    sessionLeader: p.sid === p.pid,
    signalPgrp: (pgid, sig) => signalPgrp(k, pgid, sig),
    pgrpOrphaned: (pgid) => k.isOrphanedPgrp(pgid),
    ignoresSignal: (sig) => sigIgnored(p, sig) || (t.sigmask & sigbit(sig)) !== 0n,
    readMem: (addr, len) => k.mem.read(hostPid, addr, len),
    writeMem: (addr, data) => k.mem.write(hostPid, addr, data),
    setCtty: (tty) => {
      // TIOCNOTTY: only the caller lets go, unless it leads the session.
      if (tty === undefined && p.sid !== p.pid) {
        p.ctty = undefined;
        return 0;
      }
      // TIOCSCTTY on a session leader: the whole session gets the terminal.
      for (const q of k.procs.values()) if (q.sid === p.sid) q.ctty = tty;
      return 0;
    },
    pgrpInSession: (pgid) => {
      for (const q of k.procs.values()) if (q.pgid === pgid && q.sid === p.sid && q.alive) return true;
      return false;
    },
  };
}
