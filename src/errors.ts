/**
 * Errors the user can act on. Code under src/ throws these; the commands turn
 * them into `this.error(message, {exit})` so every failure ends in one
 * sentence that says what to do next, never a stack trace.
 */

/** Exit statuses of vmctl's own failures (a booted guest's status passes through unchanged). */
export const ExitCode = {
  /** A guest config or argument is wrong: the user must fix the input. */
  usage: 2,
  /** The host cannot run vmctl as it is: no compiler, wrong architecture, ptrace refused. */
  host: 3,
  /** Compiling the host side failed. */
  build: 4,
  /** The guest's root filesystem could not be assembled or is unusable. */
  rootfs: 5,
} as const;

export class VmctlError extends Error {
  readonly exit: number;

  constructor(message: string, exit: number) {
    super(message);
    this.name = 'VmctlError';
    this.exit = exit;
  }
}
