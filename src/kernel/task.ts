/**
 * Guest tasks: a Process is a thread group (one host process), a Task is
 * one guest thread (one host thread). Guest pids and tids are the kernel's
 * own; host ids never leave this module's owners.
 */
import { Regs } from '../platform/regs.ts';
import type { FdTable } from './fd-table.ts';
import type { SigHand, SigInfo } from './signal-state.ts';
import type { Location } from './vfs/path-walk.ts';
import type { Cred, Inode } from './vfs/types.ts';
import { WaitQueue, type Waiter } from './wait-queue.ts';

export const enum TaskState {
  /** resumed on the host: executing guest code */
  Running,
  /** stopped at a syscall or fault the kernel is handling right now */
  InKernel,
  /** parked in a syscall until a wait queue or timer wakes it */
  Blocked,
  /** job-control stopped (SIGSTOP/SIGTSTP), or frozen */
  Stopped,
  /** exited; host thread gone or going */
  Dead,
}

export interface FsContext {
  root: Location;
  cwd: Location;
  umask: number;
}

export interface MemoryInfo {
  /** host process holding the address space */
  hostPid: number;
  brkStart: number;
  brk: number;
  /** guest path and inode of the executable, for /proc/PID/exe */
  exePath: string;
  exeInode: Inode | undefined;
  argStart: number;
  argEnd: number;
  envStart: number;
  envEnd: number;
  startStack: number;
  /** host path prefix → guest path prefix, to show file mappings in /proc/PID/maps */
}

export interface RLimit {
  cur: number;
  max: number;
}

/** Exit or stop of a child as wait4/waitid report it. */
export interface ChildEvent {
  kind: 'exited' | 'killed' | 'stopped' | 'continued';
  /** exit code, or signal number */
  value: number;
  core: boolean;
}

export class Process {
  readonly threads = new Set<Task>();
  readonly children = new Set<Process>();
  /** woken when a child changes state (wait4, waitid) */
  readonly childEvents = new WaitQueue();
  parent: Process | null = null;
  pgid: number;
  sid: number;
  comm = '';
  cred: Cred;
  /** exit status once a zombie; undefined while alive */
  exit: ChildEvent | undefined;
  /** stop/continue notification for the parent's WUNTRACED/WCONTINUED */
  jobEvent: ChildEvent | undefined;
  /** the whole group is job-control stopped */
  stopped = false;
  /** the group is exiting (exit_group or fatal signal in progress) */
  exiting = false;
  exitCodeForGroup = 0;
  /** process-directed pending signals */
  sharedPending: SigInfo[] = [];
  /** controlling terminal (a tty object of the kernel), if any */
  ctty: unknown = undefined;
  /** ITIMER_REAL and alarm(2) */
  realTimer: { deadlineMs: number; intervalMs: number; cancel: () => void } | undefined;
  /** the signal the parent gets on exit (SIGCHLD normally) */
  exitSignal = 17;
  readonly startTimeMs = Date.now();
  /** set on a vfork child until it execs or exits: the parent waits on it */
  vforkDone: WaitQueue | undefined;
  argv: string[] = [];
  /** has called execve (setpgid(2) EACCES rule) */
  execed = false;

  constructor(
    public readonly pid: number,
    public mm: MemoryInfo,
    public files: FdTable,
    public fs: FsContext,
    public sighand: SigHand,
    cred: Cred,
    public rlimits: Map<number, RLimit>,
  ) {
    this.pgid = pid;
    this.sid = pid;
    this.cred = cred;
  }

  get leader(): Task | undefined {
    for (const t of this.threads) if (t.tid === this.pid) return t;
    return this.threads.values().next().value;
  }

  get alive(): boolean {
    return this.exit === undefined;
  }
}

export class Task implements Waiter {
  state = TaskState.InKernel;
  readonly regs = new Regs();
  /** blocked signal mask, bit (sig-1) */
  sigmask = 0n;
  /** mask to restore after a handler run by rt_sigsuspend/ppoll/pselect */
  savedSigmask: bigint | undefined;
  /** thread-directed pending signals */
  pending: SigInfo[] = [];
  altStack = { sp: 0, size: 0, flags: 2 /* SS_DISABLE */ };
  clearChildTid = 0;
  /** what a blocked syscall waits on; cleared on wake */
  waitingOn: WaitQueue[] = [];
  /** timer of a blocked syscall (nanosleep, poll timeout), cancelled on wake */
  timerCancel: (() => void) | undefined;
  /** scratch state a blocking syscall keeps across its retries (deadline, ...) */
  syscallState: unknown;
  /** undoes a blocked syscall's registrations when a signal interrupts it */
  cancelWait: (() => void) | undefined;
  /** what a blocked syscall returns if a signal interrupts it after partial progress (bytes written) */
  interruptResult: number | undefined;
  /** set when a signal interrupted the blocked syscall */
  interrupted = false;
  /** exit() of this thread is in progress */
  exiting = false;
  /** between a syscall's entry and its result (across retries) */
  inSyscall = false;
  /** performance.now() at entry, and kernel time spent in it; kept only while observers are installed */
  syscallStartMs = 0;
  syscallKernelMs = 0;
  /** the syscall number being served or waited in, -1 in user mode */
  currentSyscall = -1;
  /** wake-up callback the kernel installs */
  onWake: ((t: Task) => void) | undefined;

  constructor(
    public readonly tid: number,
    public hostTid: number,
    public proc: Process,
  ) {}

  /** WaitQueue callback: leave every queue and let the kernel retry. */
  wake(): void {
    if (this.state !== TaskState.Blocked) return;
    this.unblock();
    this.onWake?.(this);
  }

  unblock(): void {
    for (const q of this.waitingOn) q.remove(this);
    this.waitingOn = [];
    if (this.timerCancel) {
      const c = this.timerCancel;
      this.timerCancel = undefined;
      c();
    }
  }

  get pid(): number {
    return this.proc.pid;
  }
}
