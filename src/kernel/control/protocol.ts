/**
 * The control socket's protocol (like UML's mconsole): one JSON request per
 * line, `{"cmd": "ps", "args": []}`, answered by one JSON line,
 * `{"ok": true, "result": ...}` or `{"ok": false, "error": "..."}`.
 * Shared by the server in the kernel process and the `vmctl ctl` client;
 * nothing here may load the tracer addon.
 */
export const CONTROL_SOCKET_NAME = 'control.sock';

export interface ControlRequest {
  cmd: string;
  args?: string[];
}

export type ControlReply = { ok: true; result: unknown } | { ok: false; error: string };

export interface PsEntry {
  pid: number;
  tid: number;
  hostTid: number;
  ppid: number;
  state: string;
  /** the syscall it is in (or parked in); empty in user mode */
  syscall: string;
  comm: string;
  /** state "break": the call it is stopped at, decoded (`getuid()`) */
  breakpoint?: string;
}

export interface PsResult {
  frozen: boolean;
  tasks: PsEntry[];
}

export interface StackResult {
  pid: number;
  tid: number;
  state: string;
  /** the registers are as of the thread's last entry into the kernel when it is running */
  stale: boolean;
  regs: Record<string, string>;
  /** [address, value] in hex, from RSP up */
  stack: [string, string][];
}

export interface StatsResult {
  roundTrips: number;
  accelerated: boolean;
  syscalls: { name: string; count: number }[];
  unimplemented: string[];
}

export interface InfoResult {
  /** pid of the vmctl (kernel) process */
  pid: number;
  frozen: boolean;
  processes: number;
}

/** `ctl break` with no argument: the breakpoints set and the threads stopped at them. */
export interface BreakListResult {
  breakpoints: string[];
  stopped: { pid: number; tid: number; comm: string; call: string; breakpoint: string; forMs: number }[];
}

/** Status vmctl exits with after `vmctl ctl GUEST halt`: as if SIGKILL (9) ended the guest. */
export const HALT_STATUS = 128 + 9;

export const CONTROL_COMMANDS = ['ps', 'stack', 'stop', 'go', 'halt', 'kill', 'strace', 'stats', 'info',
  'break', 'unbreak', 'gdb'] as const;
