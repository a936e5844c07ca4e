/**
 * Process and thread syscalls: fork, vfork, clone, execve, exit, wait,
 * ids of the pid namespace, sessions and process groups, arch_prctl, prctl.
 */
import { Reg } from '../../platform/regs.ts';
import { E } from '../errno.ts';
import { execProgram } from '../exec.ts';
import { exitProcess, exitThread, reap, waitStatus } from '../exit.ts';
import type { Kernel } from '../kernel.ts';
import { AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW } from '../lookup.ts';
import { CLD_CONTINUED, CLD_DUMPED, CLD_EXITED, CLD_KILLED, CLD_STOPPED, SIGCHLD } from '../signal-state.ts';
import { NR } from '../syscall-names.ts';
import { accessOk, TASK_SIZE } from '../guest-memory.ts';
import { BLOCK, GONE, NO_RESULT } from '../syscall-result.ts';
import { Process, Task, TaskState, type ChildEvent } from '../task.ts';
import { WaitQueue } from '../wait-queue.ts';
import { mayCreateTask } from '../task-limits.ts';
import { idsOnExec, idsOnFork } from './ids.ts';
import { miscOnFork } from './misc.ts';
import type { SyscallFamily } from './table.ts';

const CSIGNAL = 0xff, CLONE_VM = 0x100, CLONE_FS = 0x200, CLONE_FILES = 0x400, CLONE_SIGHAND = 0x800,
  CLONE_PIDFD = 0x1000, CLONE_PTRACE = 0x2000, CLONE_VFORK = 0x4000, CLONE_PARENT = 0x8000,
  CLONE_THREAD = 0x10000, CLONE_NEWNS = 0x20000, CLONE_SYSVSEM = 0x40000, CLONE_SETTLS = 0x80000,
  CLONE_PARENT_SETTID = 0x100000, CLONE_CHILD_CLEARTID = 0x200000, CLONE_DETACHED = 0x400000,
  CLONE_UNTRACED = 0x800000, CLONE_CHILD_SETTID = 0x1000000, CLONE_NEWCGROUP = 0x02000000,
  CLONE_NEWUTS = 0x04000000, CLONE_NEWIPC = 0x08000000, CLONE_NEWUSER = 0x10000000, CLONE_NEWPID = 0x20000000,
  CLONE_NEWNET = 0x40000000, CLONE_IO = 0x80000000;
const NAMESPACE_FLAGS = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

/** Host clone flags for a guest thread: one host thread in the same host process. */
const HOST_THREAD_FLAGS = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;

/**
 * clone(2) and its fork/vfork shapes. The host side is an injected clone
 * (a new host process, or a host thread for CLONE_VM|CLONE_THREAD); the
 * guest side is a new Task with guest ids.
 */
export function doClone(k: Kernel, t: Task, flags: number, newsp: number, ptid: number, ctid: number, tls: number): number {
  if (flags & NAMESPACE_FLAGS) return -E.EPERM;
  if ((flags & CLONE_SIGHAND) && !(flags & CLONE_VM)) return -E.EINVAL;
  if ((flags & CLONE_THREAD) && !(flags & CLONE_SIGHAND)) return -E.EINVAL;
  if ((flags & CLONE_FS) && (flags & CLONE_NEWNS)) return -E.EINVAL;
  if ((flags & CLONE_VM) && !(flags & CLONE_THREAD) && !(flags & CLONE_VFORK)) {
    // A second process sharing memory without being a thread: not supported
    // by one-host-process-per-address-space, so say so plainly.
    return -E.EINVAL;
  }
  const parent = t.proc;
  // --pids-max and RLIMIT_NPROC, before anything of the child exists (copy_process).
  const allowed = mayCreateTask(k, parent);
  if (allowed < 0) return allowed;
  const pid = k.allocPid();
  if (pid < 0) return pid;
  const thread = (flags & CLONE_THREAD) !== 0;
  const hostFlags = thread ? HOST_THREAD_FLAGS : 0x8000 /* CLONE_PARENT */ | SIGCHLD;
  const r = k.platform.inject(t.hostTid, NR.clone, [hostFlags, thread ? newsp : 0, 0, 0, 0]);
  const hostChild = k.platform.lastChild();
  if (r < 0 || hostChild <= 0) return r < 0 ? (r === -E.ESRCH ? -E.EAGAIN : r) : -E.EAGAIN;

  let proc: Process;
  if (thread) {
    proc = parent;
  } else {
    proc = new Process(pid, { ...parent.mm, hostPid: hostChild },
      (flags & CLONE_FILES) ? parent.files : parent.files.fork(),
      (flags & CLONE_FS) ? parent.fs : { root: parent.fs.root, cwd: parent.fs.cwd, umask: parent.fs.umask },
      (flags & CLONE_SIGHAND) ? parent.sighand : parent.sighand.clone(),
      { ...parent.cred, groups: [...parent.cred.groups] },
      new Map([...parent.rlimits].map(([key, v]) => [key, { ...v }])));
    const realParent = (flags & CLONE_PARENT) && parent.parent ? parent.parent : parent;
    proc.parent = realParent;
    realParent.children.add(proc);
    proc.pgid = parent.pgid;
    proc.sid = parent.sid;
    proc.ctty = parent.ctty;
    proc.comm = parent.comm;
    proc.argv = parent.argv;
    proc.exitSignal = flags & CSIGNAL;
    idsOnFork(parent, proc);
    miscOnFork(parent, proc);
    k.procs.set(pid, proc);
  }
  const child = new Task(pid, hostChild, proc);
  child.regs.copyFrom(t.regs);
  child.regs.set(Reg.RAX, 0);
  if (newsp) child.regs.set(Reg.RSP, newsp);
  if (flags & CLONE_SETTLS) child.regs.set(Reg.FS_BASE, tls);
  child.sigmask = t.sigmask;
  if (thread) child.altStack = { sp: 0, size: 0, flags: 2 };
  else child.altStack = { ...t.altStack };
  proc.threads.add(child);
  k.registerTask(child);

  const hp = proc.mm.hostPid;
  if (flags & CLONE_PARENT_SETTID) k.mem.writeI32(t.proc.mm.hostPid, ptid, pid);
  if (flags & CLONE_CHILD_SETTID) k.mem.writeI32(hp, ctid, pid);
  if (flags & CLONE_CHILD_CLEARTID) child.clearChildTid = ctid;
  if (flags & CLONE_PIDFD) k.mem.writeI32(t.proc.mm.hostPid, ptid, -1);

  child.state = TaskState.InKernel;
  k.returnToUser(child);

  if (flags & CLONE_VFORK) {
    // The parent sleeps until the child execs or exits (vfork(2)).
    proc.vforkDone = new WaitQueue();
    t.syscallState = { vforkChild: proc, pid };
    return k.block(t, [proc.vforkDone]);
  }
  return pid;
}

function sysClone(k: Kernel, t: Task, flags: number, newsp: number, ptid: number, ctid: number, tls: number): number {
  const st = t.syscallState as { vforkChild?: Process; pid: number } | undefined;
  if (st?.vforkChild) return st.vforkChild.vforkDone ? k.block(t, [st.vforkChild.vforkDone]) : st.pid;
  return doClone(k, t, flags >>> 0, newsp, ptid, ctid, tls);
}

function sysFork(k: Kernel, t: Task): number {
  return doClone(k, t, SIGCHLD, 0, 0, 0, 0);
}

function sysVfork(k: Kernel, t: Task): number {
  const st = t.syscallState as { vforkChild?: Process; pid: number } | undefined;
  if (st?.vforkChild) return st.vforkChild.vforkDone ? k.block(t, [st.vforkChild.vforkDone]) : st.pid;
  return doClone(k, t, CLONE_VFORK | SIGCHLD, 0, 0, 0, 0);
}

function sysClone3(): number {
  // glibc falls back to clone when clone3 is missing.
  return -E.ENOSYS;
}

function doExecve(k: Kernel, t: Task, dirfd: number, pathPtr: number, argvPtr: number, envPtr: number, flags: number): number {
  if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) return -E.EINVAL;
  const path = k.mem.readPath(t.proc.mm.hostPid, pathPtr);
  if (typeof path === 'number') return path;
  if (path === '' && !(flags & AT_EMPTY_PATH)) return -E.ENOENT;
  // argv and envp are read once the program is open, as Linux reads them
  const r = execProgram(k, t, { path, argvPtr, envPtr, dirfd, follow: !(flags & AT_SYMLINK_NOFOLLOW) });
  if (r < 0) return r;
  idsOnExec(t.proc);
  return NO_RESULT;
}

function sysExecve(k: Kernel, t: Task, path: number, argv: number, envp: number): number {
  return doExecve(k, t, AT_FDCWD, path, argv, envp, 0);
}

function sysExecveat(k: Kernel, t: Task, dirfd: number, path: number, argv: number, envp: number, flags: number): number {
  return doExecve(k, t, dirfd | 0, path, argv, envp, flags >>> 0);
}

function sysExit(k: Kernel, t: Task, code: number): number {
  exitThread(k, t, code & 0xff);
  return GONE;
}

function sysExitGroup(k: Kernel, t: Task, code: number): number {
  exitProcess(k, t.proc, { kind: 'exited', value: code & 0xff, core: false });
  return GONE;
}

const WNOHANG = 1, WUNTRACED = 2, WSTOPPED = 2, WEXITED = 4, WCONTINUED = 8, WNOWAIT = 0x01000000,
  __WNOTHREAD = 0x20000000, __WALL = 0x40000000, __WCLONE = 0x80000000;
const P_ALL = 0, P_PID = 1, P_PGID = 2, P_PIDFD = 3;

function matches(t: Task, c: Process, idtype: number, id: number): boolean {
  switch (idtype) {
    case P_ALL: return true;
    case P_PID: return c.pid === id;
    case P_PGID: return c.pgid === (id === 0 ? t.proc.pgid : id);
    default: return false;
  }
}

interface Found { child: Process; event: ChildEvent; zombie: boolean }

/** The first child with something to report, per wait(2) options. */
function findChild(t: Task, idtype: number, id: number, options: number): Found | 'none' | 'wait' {
  let any = false;
  for (const c of t.proc.children) {
    if (!matches(t, c, idtype, id)) continue;
    any = true;
    if (c.exit && (options & WEXITED)) return { child: c, event: c.exit, zombie: true };
    if (c.jobEvent && c.alive) {
      if (c.jobEvent.kind === 'stopped' && (options & WSTOPPED)) return { child: c, event: c.jobEvent, zombie: false };
      if (c.jobEvent.kind === 'continued' && (options & WCONTINUED)) return { child: c, event: c.jobEvent, zombie: false };
    }
  }
  return any ? 'wait' : 'none';
}

/**
 * What one wait found, taken: a zombie is reaped, a stop or continue
 * reported is cleared (unless WNOWAIT), as do_wait() does before any
 * result is copied out, so a bad status or siginfo pointer still costs
 * the caller its child (kernel/exit.c: kernel_wait4(), sys_waitid()).
 */
interface Taken { pid: number; uid: number; event: ChildEvent }

function take(k: Kernel, f: Found, options: number): Taken {
  const taken = { pid: f.child.pid, uid: f.child.cred.uid, event: f.event };
  if (!(options & WNOWAIT)) {
    if (f.zombie) reap(k, f.child);
    else f.child.jobEvent = undefined;
  }
  return taken;
}

/** Wait4 implements Linux syscall wait4(2) (kernel_wait4() in kernel/exit.c). */
function sysWait4(k: Kernel, t: Task, upid: number, statusPtr: number, options: number, rusage: number): number {
  options >>>= 0;
  if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WALL | __WCLONE)) return -E.EINVAL;
  const pid = upid | 0;
  // -INT_MIN is not an int: no group can be named by it.
  if (pid === -0x80000000) return -E.ESRCH;
  let idtype = P_ALL, id = 0;
  if (pid > 0) { idtype = P_PID; id = pid; }
  else if (pid === 0) { idtype = P_PGID; id = 0; }
  else if (pid < -1) { idtype = P_PGID; id = -pid; }
  const f = findChild(t, idtype, id, (options & ~WNOHANG) | WEXITED);
  if (f === 'none') return -E.ECHILD;
  if (f === 'wait') return options & WNOHANG ? 0 : k.block(t, [t.proc.childEvents]);
  const taken = take(k, f, options);
  const hp = t.proc.mm.hostPid;
  if (statusPtr && k.mem.writeI32(hp, statusPtr, waitStatus(taken.event)) < 0) return -E.EFAULT;
  if (rusage && k.mem.write(hp, rusage, Buffer.alloc(RUSAGE_SIZE)) < 0) return -E.EFAULT;
  return taken.pid;
}

const RUSAGE_SIZE = 144;
/** struct siginfo as waitid(2) fills it: the size access_ok() checks, and where its six fields are. */
const SIGINFO_SIZE = 128;
const SI_SIGNO = 0, SI_ERRNO = 4, SI_CODE = 8, SI_PID = 16, SI_UID = 20, SI_STATUS = 24;

/**
 * The wait of waitid(2) (kernel_waitid()): what it found and took, 0 for
 * nothing yet under WNOHANG, -errno, or BLOCK.
 */
function waitidFind(k: Kernel, t: Task, idtype: number, upid: number, options: number): Taken | number {
  if (options & ~(WNOHANG | WSTOPPED | WEXITED | WCONTINUED | WNOWAIT | __WNOTHREAD | __WALL | __WCLONE)) return -E.EINVAL;
  if (!(options & (WEXITED | WSTOPPED | WCONTINUED))) return -E.EINVAL;
  switch (idtype) {
    case P_ALL: break;
    case P_PID: if (upid <= 0) return -E.EINVAL; break;
    case P_PGID: if (upid < 0) return -E.EINVAL; break;
    case P_PIDFD:
      if (upid < 0) return -E.EINVAL;
      // pidfd_get_pid(): no descriptor of this kernel is a pidfd yet.
      return -E.EBADF;
    default: return -E.EINVAL;
  }
  const f = findChild(t, idtype, upid, options);
  if (f === 'none') return -E.ECHILD;
  if (f === 'wait') return options & WNOHANG ? 0 : k.block(t, [t.proc.childEvents]);
  return take(k, f, options);
}

/**
 * Waitid implements Linux syscall waitid(2). As sys_waitid() does, it
 * writes six fields of the siginfo (not its padding, not the rest of its
 * 128 bytes) whatever the wait gave: the child's, or zeros for nothing
 * under WNOHANG, and zeros with an error too, so a bad pointer turns even
 * ECHILD or EINVAL into EFAULT. The rusage comes first, and only for a
 * child found.
 */
function sysWaitid(k: Kernel, t: Task, idtype: number, id: number, infop: number, options: number, rusage: number): number {
  const r = waitidFind(k, t, idtype | 0, id | 0, options >>> 0);
  if (r === BLOCK) return r;
  const hp = t.proc.mm.hostPid;
  if (typeof r !== 'number' && rusage && k.mem.write(hp, rusage, Buffer.alloc(RUSAGE_SIZE)) < 0) return -E.EFAULT;
  if (!infop) return typeof r === 'number' ? r : 0;
  if (!accessOk(infop, SIGINFO_SIZE)) return -E.EFAULT;
  const head = Buffer.alloc(SI_CODE + 4), tail = Buffer.alloc(SI_STATUS + 4 - SI_PID);
  if (typeof r !== 'number') {
    const e = r.event;
    head.writeInt32LE(SIGCHLD, SI_SIGNO);
    head.writeInt32LE(0, SI_ERRNO);
    head.writeInt32LE(e.kind === 'exited' ? CLD_EXITED : e.kind === 'killed' ? (e.core ? CLD_DUMPED : CLD_KILLED)
      : e.kind === 'stopped' ? CLD_STOPPED : CLD_CONTINUED, SI_CODE);
    tail.writeInt32LE(r.pid, SI_PID - SI_PID);
    tail.writeUInt32LE(r.uid, SI_UID - SI_PID);
    tail.writeInt32LE(e.value, SI_STATUS - SI_PID);
  }
  if (k.mem.write(hp, infop, head) < 0 || k.mem.write(hp, infop + SI_PID, tail) < 0) return -E.EFAULT;
  return typeof r === 'number' ? r : 0;
}

function sysGetpid(_k: Kernel, t: Task): number {
  return t.proc.pid;
}

function sysGetppid(_k: Kernel, t: Task): number {
  return t.proc.parent?.pid ?? 0;
}

function sysGettid(_k: Kernel, t: Task): number {
  return t.tid;
}

function sysSetTidAddress(_k: Kernel, t: Task, addr: number): number {
  t.clearChildTid = addr;
  return t.tid;
}

function procOf(k: Kernel, t: Task, pid: number): Process | undefined {
  return pid === 0 ? t.proc : k.procs.get(pid);
}

/** setpgid(2): EINVAL, ESRCH, EPERM, EACCES rules of job control. */
function sysSetpgid(k: Kernel, t: Task, upid: number, upgid: number): number {
  const pid = upid | 0, pgid0 = upgid | 0;
  if (pgid0 < 0) return -E.EINVAL;
  const p = procOf(k, t, pid);
  if (!p || !p.alive) return -E.ESRCH;
  if (p !== t.proc && p.parent !== t.proc) return -E.ESRCH;
  if (p.parent === t.proc && p.sid !== t.proc.sid) return -E.EPERM;
  if (p.parent === t.proc && p.execed) return -E.EACCES;
  if (p.sid === p.pid) return -E.EPERM;
  const pgid = pgid0 === 0 ? p.pid : pgid0;
  if (pgid !== p.pid) {
    let ok = false;
    for (const q of k.procs.values()) if (q.pgid === pgid && q.sid === p.sid && q.alive) { ok = true; break; }
    if (!ok) return -E.EPERM;
  }
  p.pgid = pgid;
  return 0;
}

function sysGetpgid(k: Kernel, t: Task, pid: number): number {
  const p = procOf(k, t, pid | 0);
  return p ? p.pgid : -E.ESRCH;
}

function sysGetpgrp(_k: Kernel, t: Task): number {
  return t.proc.pgid;
}

function sysSetsid(k: Kernel, t: Task): number {
  const p = t.proc;
  for (const q of k.procs.values()) if (q.pgid === p.pid && q.alive) return -E.EPERM;
  p.sid = p.pid;
  p.pgid = p.pid;
  p.ctty = undefined;
  return p.sid;
}

function sysGetsid(k: Kernel, t: Task, pid: number): number {
  const p = procOf(k, t, pid | 0);
  return p ? p.sid : -E.ESRCH;
}

const ARCH_SET_GS = 0x1001, ARCH_SET_FS = 0x1002, ARCH_GET_FS = 0x1003, ARCH_GET_GS = 0x1004,
  ARCH_GET_CPUID = 0x1011, ARCH_SET_CPUID = 0x1012;

/**
 * arch_prctl(2): the thread's FS/GS bases live in its registers. A base at
 * or above TASK_SIZE_MAX is EPERM (do_arch_prctl_64 in
 * arch/x86/kernel/process_64.c), and ptrace could not set it either.
 */
function sysArchPrctl(k: Kernel, t: Task, code: number, addr: number): number {
  const hp = t.proc.mm.hostPid;
  switch (code | 0) {
    case ARCH_SET_FS:
      if (addr < 0 || addr >= TASK_SIZE) return -E.EPERM;
      t.regs.set(Reg.FS_BASE, addr);
      return 0;
    case ARCH_SET_GS:
      if (addr < 0 || addr >= TASK_SIZE) return -E.EPERM;
      t.regs.set(Reg.GS_BASE, addr);
      return 0;
    case ARCH_GET_FS: return k.mem.writeU64(hp, addr, t.regs.get(Reg.FS_BASE));
    case ARCH_GET_GS: return k.mem.writeU64(hp, addr, t.regs.get(Reg.GS_BASE));
    case ARCH_GET_CPUID: return 1;
    case ARCH_SET_CPUID: return -E.ENODEV;
    default: return -E.EINVAL;
  }
}

const PR_SET_PDEATHSIG = 1, PR_GET_PDEATHSIG = 2, PR_GET_DUMPABLE = 3, PR_SET_DUMPABLE = 4,
  PR_GET_KEEPCAPS = 7, PR_SET_KEEPCAPS = 8, PR_SET_NAME = 15, PR_GET_NAME = 16, PR_GET_SECCOMP = 21,
  PR_SET_SECCOMP = 22, PR_CAPBSET_READ = 23, PR_GET_TIMERSLACK = 30, PR_SET_TIMERSLACK = 29,
  PR_SET_CHILD_SUBREAPER = 36, PR_GET_CHILD_SUBREAPER = 37, PR_SET_NO_NEW_PRIVS = 38,
  PR_GET_NO_NEW_PRIVS = 39, PR_GET_TID_ADDRESS = 40, PR_SET_THP_DISABLE = 41, PR_GET_THP_DISABLE = 42,
  PR_SET_VMA = 0x53564d41;

const prctlState = new WeakMap<Process, { pdeathsig: number; dumpable: number; noNewPrivs: number; subreaper: number; keepcaps: number }>();

/** prctl(2): the common options. */
function sysPrctl(k: Kernel, t: Task, option: number, a2: number): number {
  const p = t.proc;
  let st = prctlState.get(p);
  if (!st) { st = { pdeathsig: 0, dumpable: 1, noNewPrivs: 0, subreaper: 0, keepcaps: 0 }; prctlState.set(p, st); }
  const hp = p.mm.hostPid;
  switch (option | 0) {
    case PR_SET_PDEATHSIG:
      if (a2 < 0 || a2 > 64) return -E.EINVAL;
      st.pdeathsig = a2;
      return 0;
    case PR_GET_PDEATHSIG: return k.mem.writeI32(hp, a2, st.pdeathsig);
    case PR_GET_DUMPABLE: return st.dumpable;
    case PR_SET_DUMPABLE:
      if (a2 !== 0 && a2 !== 1) return -E.EINVAL;
      st.dumpable = a2;
      return 0;
    case PR_GET_KEEPCAPS: return st.keepcaps;
    case PR_SET_KEEPCAPS:
      if (a2 !== 0 && a2 !== 1) return -E.EINVAL;
      st.keepcaps = a2;
      return 0;
    case PR_SET_NAME: {
      const b = k.mem.readPartial(hp, a2, 16);
      if (b.length === 0) return -E.EFAULT;
      const nul = b.indexOf(0);
      p.comm = b.subarray(0, nul < 0 ? 15 : Math.min(nul, 15)).toString('utf8');
      return 0;
    }
    case PR_GET_NAME: {
      const b = Buffer.alloc(16);
      b.write(p.comm.slice(0, 15));
      return k.mem.write(hp, a2, b);
    }
    case PR_GET_SECCOMP: return 0;
    case PR_SET_SECCOMP: return -E.EINVAL;
    case PR_CAPBSET_READ: return a2 >= 0 && a2 <= 40 ? 1 : -E.EINVAL;
    case PR_SET_TIMERSLACK: return 0;
    case PR_GET_TIMERSLACK: return 50000;
    case PR_SET_CHILD_SUBREAPER: st.subreaper = a2 ? 1 : 0; return 0;
    case PR_GET_CHILD_SUBREAPER: return k.mem.writeI32(hp, a2, st.subreaper);
    case PR_SET_NO_NEW_PRIVS:
      if (a2 !== 1) return -E.EINVAL;
      st.noNewPrivs = 1;
      return 0;
    case PR_GET_NO_NEW_PRIVS: return st.noNewPrivs;
    case PR_GET_TID_ADDRESS: return k.mem.writeU64(hp, a2, t.clearChildTid);
    case PR_SET_THP_DISABLE: return 0;
    case PR_GET_THP_DISABLE: return 0;
    case PR_SET_VMA: return -E.EINVAL;
    default: return -E.EINVAL;
  }
}

export const processSyscalls: SyscallFamily = {
  clone: sysClone, clone3: sysClone3, fork: sysFork, vfork: sysVfork,
  execve: sysExecve, execveat: sysExecveat, exit: sysExit, exit_group: sysExitGroup,
  wait4: sysWait4, waitid: sysWaitid, getpid: sysGetpid, getppid: sysGetppid, gettid: sysGettid,
  set_tid_address: sysSetTidAddress, setpgid: sysSetpgid, getpgid: sysGetpgid, getpgrp: sysGetpgrp,
  setsid: sysSetsid, getsid: sysGetsid, arch_prctl: sysArchPrctl, prctl: sysPrctl,
};
