/**
 * What a syscall handler returns besides a value or -errno.
 * These never reach a guest: they steer the dispatcher.
 */

/** The thread is parked on wait queues / a timer; the handler runs again when woken. */
export const BLOCK = -1_000_001;
/** The handler has set every register itself (rt_sigreturn, execve). */
export const NO_RESULT = -1_000_002;
/** The thread is gone (exit, exit_group, fatal signal): do not resume it. */
export const GONE = -1_000_003;

export function isControl(r: number): boolean {
  return r <= BLOCK && r >= GONE;
}
