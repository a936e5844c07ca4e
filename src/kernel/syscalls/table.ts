/**
 * The syscall table: every x86_64 syscall number mapped to its handler.
 * Each family module exports a name → handler record; a number with no
 * handler gets ENOSYS (logged once by name). `vmctl syscalls` can print it.
 */
import type { SyscallEntry, SyscallHandler } from '../kernel.ts';
import { NR, SYSCALL_NAMES } from '../syscall-names.ts';

export type SyscallFamily = Partial<Record<keyof typeof NR, SyscallHandler>>;

export function buildTable(families: SyscallFamily[]): (SyscallEntry | undefined)[] {
  const table: (SyscallEntry | undefined)[] = new Array(SYSCALL_NAMES.length);
  for (const fam of families) {
    for (const [name, handler] of Object.entries(fam)) {
      const nr = (NR as Record<string, number>)[name];
      if (nr === undefined) throw new Error(`unknown syscall name ${name}`);
      if (table[nr]) throw new Error(`syscall ${name} has two handlers`);
      table[nr] = { name, handler: handler as SyscallHandler };
    }
  }
  return table;
}
