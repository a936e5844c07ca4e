/**
 * The end of threads and processes, and job-control stop/continue:
 * zombies, reparenting to init, SIGCHLD and the wake-ups wait4 sees
 * (exit(2), _exit(2), wait(2)).
 */
import { NR } from './syscall-names.ts';
import type { Kernel } from './kernel.ts';
import {
  CLD_CONTINUED, CLD_DUMPED, CLD_EXITED, CLD_KILLED, CLD_STOPPED, SA_NOCLDSTOP, SA_NOCLDWAIT, SIG_IGN,
  NSIG, SIGCHLD, SIGCONT, SIGHUP, SIGKILL,
} from './signal-state.ts';
import { sendToProcess } from './signals.ts';
import { type ChildEvent, Process, Task, TaskState } from './task.ts';
import { futexWakeAddress } from './futex.ts';

/** wait status word (as in <sys/wait.h>) for a child event */
export function waitStatus(e: ChildEvent): number {
  switch (e.kind) {
    case 'exited': return (e.value & 0xff) << 8;
    case 'killed': return (e.value & 0x7f) | (e.core ? 0x80 : 0);
    case 'stopped': return ((e.value & 0xff) << 8) | 0x7f;
    case 'continued': return 0xffff;
  }
}

function siginfoCode(e: ChildEvent): number {
  switch (e.kind) {
    case 'exited': return CLD_EXITED;
    case 'killed': return e.core ? CLD_DUMPED : CLD_KILLED;
    case 'stopped': return CLD_STOPPED;
    case 'continued': return CLD_CONTINUED;
  }
}

/** Tell the parent about a child's state change. */
function notifyParent(k: Kernel, child: Process, e: ChildEvent): void {
  const parent = child.parent;
  if (!parent || !parent.alive) return;
  const act = parent.sighand.actions[SIGCHLD]!;
  const isExit = e.kind === 'exited' || e.kind === 'killed';
  if (!isExit && act.flags & SA_NOCLDSTOP) {
    parent.childEvents.wakeAll();
    return;
  }
  const sig = isExit ? child.exitSignal : SIGCHLD;
  // clone(2) takes any exit signal in CSIGNAL; do_notify_parent() sends only a valid one.
  if (sig > 0 && sig <= NSIG) {
    // The exit signal is the child's own choice (clone's CSIGNAL): init takes it as a signal
    // from inside its pid namespace, and a SIG_DFL one does nothing to it (do_notify_parent
    // does not force it past SIGNAL_UNKILLABLE).
    sendToProcess(k, parent, {
      signo: sig, code: siginfoCode(e), pid: child.pid, uid: child.cred.uid,
      status: e.kind === 'exited' ? e.value : e.value, fromGuest: true,
    });
  }
  parent.childEvents.wakeAll();
}

/**
 * Terminate every thread of `p` (exit_group, a fatal signal) and make it a
 * zombie for its parent. Safe to call more than once.
 */
export function exitProcess(k: Kernel, p: Process, e: ChildEvent): void {
  if (!p.alive || p.exiting) return;
  p.exiting = true;
  if (p.mm.hostPid > 0) k.platform.killHost(p.mm.hostPid, SIGKILL);
  for (const t of [...p.threads]) {
    clearChildTid(k, t);
    k.unregisterTask(t);
  }
  p.threads.clear();
  finishProcess(k, p, e);
}

/** The last thread is gone: release resources, become a zombie, tell the parent. */
function finishProcess(k: Kernel, p: Process, e: ChildEvent): void {
  p.exiting = true;
  p.files.closeAll();
  p.realTimer?.cancel();
  p.realTimer = undefined;
  p.exit = e;
  p.sharedPending = [];
  const wasVfork = p.vforkDone;
  p.vforkDone = undefined;
  wasVfork?.wakeAll();

  // A session leader's exit hangs up its terminal's foreground group.
  const tty = p.ctty as { session?: number; foregroundPgrp?: number } | undefined;
  if (tty && p.sid === p.pid && tty.session === p.sid) {
    const fg = tty.foregroundPgrp;
    tty.session = 0;
    tty.foregroundPgrp = 0;
    if (fg) for (const q of k.procs.values()) if (q.pgid === fg && q !== p) {
      sendToProcess(k, q, { signo: SIGHUP, code: 0x80 });
      sendToProcess(k, q, { signo: SIGCONT, code: 0x80 });
    }
    for (const q of k.procs.values()) if (q.sid === p.sid) q.ctty = undefined;
  }

  // Orphans go to init, which reaps them.
  const init = k.init;
  for (const c of [...p.children]) {
    p.children.delete(c);
    if (init && init !== p && init.alive) {
      c.parent = init;
      init.children.add(c);
      if (!c.alive) init.childEvents.wakeAll();
    } else {
      c.parent = null;
      if (!c.alive) k.procs.delete(c.pid);
    }
  }

  if (p === k.init) {
    const status = e.kind === 'exited' ? e.value : 128 + e.value;
    k.shutdown(status);
    return;
  }
  const parent = p.parent;
  if (parent) {
    const act = parent.sighand.actions[SIGCHLD]!;
    // POSIX.1-2001: SIGCHLD ignored or SA_NOCLDWAIT: children are reaped at once.
    if (act.handler === SIG_IGN || act.flags & SA_NOCLDWAIT) {
      reap(k, p);
      parent.childEvents.wakeAll();
      return;
    }
  }
  notifyParent(k, p, e);
}

/** wait4 has collected the zombie. */
export function reap(k: Kernel, p: Process): void {
  p.parent?.children.delete(p);
  p.parent = null;
  k.procs.delete(p.pid);
}

/** set_tid_address(2) / CLONE_CHILD_CLEARTID: zero the word and wake a futex waiter. */
function clearChildTid(k: Kernel, t: Task): void {
  if (!t.clearChildTid) return;
  const addr = t.clearChildTid;
  t.clearChildTid = 0;
  if (t.proc.threads.size > 1 && !t.proc.exiting) {
    k.mem.writeU32(t.proc.mm.hostPid, addr, 0);
    futexWakeAddress(k, t.proc, addr, 1);
    // With the seccomp fast path, futex waiters sleep in the host's futex.
    if (k.platform.accelerated) k.platform.inject(t.hostTid, NR.futex, [addr, 1 /* FUTEX_WAKE */, 1]);
  }
}

/** exit(2) of one thread. */
export function exitThread(k: Kernel, t: Task, code: number): void {
  const p = t.proc;
  if (p.threads.size <= 1) {
    exitProcess(k, p, { kind: 'exited', value: code & 0xff, core: false });
    return;
  }
  clearChildTid(k, t);
  p.threads.delete(t);
  // The host thread ends with a real exit so its siblings live on.
  k.platform.inject(t.hostTid, NR.exit, [0]);
  k.unregisterTask(t);
}

/** The host thread died without the kernel asking (an OOM kill, say). */
export function hostThreadDied(k: Kernel, t: Task, exitCode: number, killedBy: number): void {
  const p = t.proc;
  if (t.state === TaskState.Dead) return;
  if (killedBy) exitProcess(k, p, { kind: 'killed', value: killedBy, core: false });
  else exitProcess(k, p, { kind: 'exited', value: exitCode, core: false });
}

/** Group stop (SIGSTOP and friends, default action). */
export function stopProcess(k: Kernel, p: Process, sig: number): void {
  if (p.stopped) return;
  p.stopped = true;
  for (const t of p.threads) if (t.state === TaskState.Running) k.interruptRunning(t);
  const e: ChildEvent = { kind: 'stopped', value: sig, core: false };
  p.jobEvent = e;
  notifyParent(k, p, e);
}

/** SIGCONT: threads stopped at return-to-user go on. */
export function continueProcess(k: Kernel, p: Process): void {
  if (!p.stopped) return;
  p.stopped = false;
  const e: ChildEvent = { kind: 'continued', value: SIGCONT, core: false };
  p.jobEvent = e;
  notifyParent(k, p, e);
  for (const t of p.threads) {
    if (t.state === TaskState.Stopped) {
      t.state = TaskState.InKernel;
      k.returnToUser(t);
    }
  }
  k.kick();
}
