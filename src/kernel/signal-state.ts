/**
 * Signal numbers, dispositions and pending-signal records (signal(7)).
 */
export const SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGILL = 4, SIGTRAP = 5, SIGABRT = 6, SIGBUS = 7,
  SIGFPE = 8, SIGKILL = 9, SIGUSR1 = 10, SIGSEGV = 11, SIGUSR2 = 12, SIGPIPE = 13, SIGALRM = 14,
  SIGTERM = 15, SIGSTKFLT = 16, SIGCHLD = 17, SIGCONT = 18, SIGSTOP = 19, SIGTSTP = 20, SIGTTIN = 21,
  SIGTTOU = 22, SIGURG = 23, SIGXCPU = 24, SIGXFSZ = 25, SIGVTALRM = 26, SIGPROF = 27, SIGWINCH = 28,
  SIGIO = 29, SIGPWR = 30, SIGSYS = 31;
export const NSIG = 64;

export const SIG_DFL = 0, SIG_IGN = 1;
export const SA_NOCLDSTOP = 0x1, SA_NOCLDWAIT = 0x2, SA_SIGINFO = 0x4, SA_ONSTACK = 0x08000000,
  SA_RESTART = 0x10000000, SA_NODEFER = 0x40000000, SA_RESETHAND = 0x80000000, SA_RESTORER = 0x04000000;

/** si_code values (include/uapi/asm-generic/siginfo.h) */
export const SI_USER = 0, SI_KERNEL = 0x80, SI_QUEUE = -1, SI_TIMER = -2, SI_TKILL = -6;
export const CLD_EXITED = 1, CLD_KILLED = 2, CLD_DUMPED = 3, CLD_TRAPPED = 4, CLD_STOPPED = 5, CLD_CONTINUED = 6;

export interface SigAction {
  handler: number;
  flags: number;
  restorer: number;
  mask: bigint;
}

export interface SigInfo {
  signo: number;
  code: number;
  errno?: number;
  /** sender pid/uid (kill, SIGCHLD) */
  pid?: number;
  uid?: number;
  /** SIGCHLD: exit status or signal */
  status?: number;
  /** faults: address */
  addr?: number;
  /** sigqueue value */
  value?: number;
  /** a fault forced on the thread (force_sig_fault): init is not immune to it */
  forced?: boolean;
  /**
   * sent by a guest process (kill, tgkill, sigqueue): from inside init's
   * pid namespace, so init never acts on it by default (SIGNAL_UNKILLABLE),
   * --exec or not
   */
  fromGuest?: boolean;
}

export const enum DefaultAction { Terminate, Core, Ignore, Stop, Continue }

export function defaultAction(sig: number): DefaultAction {
  switch (sig) {
    case SIGCHLD: case SIGURG: case SIGWINCH: return DefaultAction.Ignore;
    case SIGCONT: return DefaultAction.Continue;
    case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU: return DefaultAction.Stop;
    case SIGQUIT: case SIGILL: case SIGTRAP: case SIGABRT: case SIGBUS: case SIGFPE: case SIGSEGV:
    case SIGXCPU: case SIGXFSZ: case SIGSYS: return DefaultAction.Core;
    default: return sig >= 32 ? DefaultAction.Terminate : DefaultAction.Terminate;
  }
}

export function sigbit(sig: number): bigint {
  return 1n << BigInt(sig - 1);
}

/** SIGKILL and SIGSTOP can be neither caught, blocked nor ignored. */
export const UNBLOCKABLE = sigbit(SIGKILL) | sigbit(SIGSTOP);

/** Dispositions, shared by CLONE_SIGHAND threads. */
export class SigHand {
  readonly actions: SigAction[] = [];

  constructor() {
    for (let s = 0; s <= NSIG; s++) this.actions.push({ handler: SIG_DFL, flags: 0, restorer: 0, mask: 0n });
  }

  clone(): SigHand {
    const c = new SigHand();
    this.actions.forEach((a, i) => { c.actions[i] = { ...a }; });
    return c;
  }

  /** execve(2): handled signals revert to default; ignored stay ignored. */
  resetForExec(): void {
    for (const a of this.actions) {
      if (a.handler !== SIG_IGN) a.handler = SIG_DFL;
      a.flags = 0;
      a.restorer = 0;
      a.mask = 0n;
    }
  }
}

export const SIGNAL_NAMES: Record<number, string> = {
  1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 4: 'SIGILL', 5: 'SIGTRAP', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE',
  9: 'SIGKILL', 10: 'SIGUSR1', 11: 'SIGSEGV', 12: 'SIGUSR2', 13: 'SIGPIPE', 14: 'SIGALRM', 15: 'SIGTERM',
  16: 'SIGSTKFLT', 17: 'SIGCHLD', 18: 'SIGCONT', 19: 'SIGSTOP', 20: 'SIGTSTP', 21: 'SIGTTIN', 22: 'SIGTTOU',
  23: 'SIGURG', 24: 'SIGXCPU', 25: 'SIGXFSZ', 26: 'SIGVTALRM', 27: 'SIGPROF', 28: 'SIGWINCH', 29: 'SIGIO',
  30: 'SIGPWR', 31: 'SIGSYS',
};
