/**
 * Signal numbers on the wire: gdb's remote protocol speaks gdb's own
 * numbering (include/gdb/signals.def, "enum gdb_signal"), which differs
 * from Linux's for SIGBUS, SIGUSR1/2, SIGCHLD, job control and a few more.
 */

/** Linux signal number → gdb signal number, for the standard signals. */
const LINUX_TO_GDB: Record<number, number> = {
  1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 10 /* BUS */, 8: 8, 9: 9, 10: 30 /* USR1 */, 11: 11,
  12: 31 /* USR2 */, 13: 13, 14: 14, 15: 15, 17: 20 /* CHLD */, 18: 19 /* CONT */, 19: 17 /* STOP */,
  20: 18 /* TSTP */, 21: 21, 22: 22, 23: 16 /* URG */, 24: 24, 25: 25, 26: 26, 27: 27, 28: 28,
  29: 23 /* IO */, 30: 32 /* PWR */, 31: 12 /* SYS */,
};

const GDB_TO_LINUX: Record<number, number> = Object.fromEntries(
  Object.entries(LINUX_TO_GDB).map(([linux, gdb]) => [gdb, Number(linux)]),
);

/** GDB_SIGNAL_UNKNOWN */
const GDB_UNKNOWN = 143;
/** GDB_SIGNAL_REALTIME_34 .. _64 are consecutive from 46 (signals.def). */
const GDB_REALTIME_34 = 46;

export function toGdbSignal(linux: number): number {
  if (linux === 0) return 0;
  if (linux >= 34 && linux <= 64) return GDB_REALTIME_34 + (linux - 34);
  return LINUX_TO_GDB[linux] ?? GDB_UNKNOWN;
}

/** 0 when gdb names a signal Linux has no number for. */
export function fromGdbSignal(gdb: number): number {
  if (gdb >= GDB_REALTIME_34 && gdb <= GDB_REALTIME_34 + 30) return 34 + (gdb - GDB_REALTIME_34);
  return GDB_TO_LINUX[gdb] ?? 0;
}
