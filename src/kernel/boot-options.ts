/**
 * What the CLI hands the guest kernel to boot one guest instance.
 * The CLI resolves configs, root filesystems and state directories; the
 * kernel only consumes the result.
 */
import type { GdbBootOptions } from './debug/options.ts';
import type { TraceOptions } from './trace/options.ts';
import type { BreakSpec } from './break/spec.ts';

export interface KernelBootOptions {
  /** Host directory holding the guest's root filesystem; used read-only. */
  lowerRoot: string;
  /** Host directory for the copy-on-write upper layer of `/` (created if missing). */
  upperRoot: string;
  /** Host directory holding the built host side (tracer.node, vmctl-stub). */
  hostBuildDir: string;
  /** Guest path and argv of the first process (pid 1). */
  argv: string[];
  /** Environment of the first process, as NAME=value strings. */
  env: string[];
  /** Working directory of the first process (guest path). */
  cwd: string;
  hostname: string;
  uid: number;
  gid: number;
  /**
   * 'console': guest fds 0-2 are the kernel's console tty on the host terminal
   * (interactive boot). 'stdio': guest fds 0-2 are the host's own stdin/stdout/stderr.
   */
  stdio: 'console' | 'stdio';
  /** Resource limits applied to pid 1 (RLIMIT_NOFILE etc.), by lowercase name. */
  rlimits?: Record<string, number>;
  /** Stop on every guest syscall (PTRACE_SYSEMU) instead of letting the seccomp fast path run some on the host. */
  strict?: boolean;
  /** Use the host helper patch where the host kernel has it (default true). */
  helper?: boolean;
  /**
   * The guest's memory (--mem): bounds what the kernel itself holds for the
   * guest (tmpfs contents, pipe buffers) and sizes tmpfs mounts by default
   * (half of it, as tmpfs(5) takes half of RAM).
   */
  memBytes: number;
  /** Most guest tasks (processes and threads) alive at once (--pids-max); clone beyond it fails with EAGAIN. */
  pidsMax: number;
  /** Print kernel diagnostics (unimplemented syscalls etc.) to stderr. */
  verbose?: boolean;
  /** --strace, --inject, --stats (src/kernel/trace/); absent: no observer is installed. */
  trace?: TraceOptions;
  /** --gdb-port/--gdb-exec: a gdb stub on a guest process (src/kernel/debug/); absent: none until `ctl gdb`. */
  gdb?: GdbBootOptions;
  /** Unix socket path of the control socket (`vmctl ctl`, src/kernel/control/); absent: none. */
  controlSocket?: string;
  /** The guest's name, as `vmctl ctl NAME` knows it (for the hints the kernel prints). */
  guestName?: string;
  /** --break-syscall: syscall breakpoints set from the start (src/kernel/break/). */
  breakSyscalls?: BreakSpec[];
}

/** Exit status the host sees: the init process's exit code, or 128+N when killed by signal N. */
export type KernelExitStatus = number;
