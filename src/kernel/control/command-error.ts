/** A control command the user got wrong: its message is the reply's error (not an internal error). */
export class CommandError extends Error {}
