/**
 * execve's argument and environment strings, read and counted the way
 * Linux does (fs/exec.c: count, bprm_stack_limits, copy_strings; execve(2),
 * "Limits on size of arguments and environment"): each string at most
 * MAX_ARG_STRLEN with its NUL, and all of them with their pointers at most
 * a quarter of RLIMIT_STACK, capped at 3/4 of _STK_LIM, never below
 * ARG_MAX. Strings stay bytes: nothing in them is decoded.
 */
import type { Platform } from '../platform/platform.ts';
import { E } from './errno.ts';
import type { GuestMemory } from './guest-memory.ts';

const PAGE = 4096;
/** one string, its NUL included */
export const MAX_ARG_STRLEN = 32 * PAGE;
const ARG_MAX = 32 * PAGE;
const STK_LIM = 8 << 20;
/** How much of every string the first, common read takes (most are shorter) */
const FIRST_READ = 256;
/** process_vm_readv's limit on ranges (IOV_MAX) */
const MAX_RANGES = 1024;

/** The room the strings have on the new stack (bprm->p down to bprm->argmin). */
export class ArgSpace {
  private constructor(private left: number) {}

  /**
   * Room for `argc` and `envc` strings under RLIMIT_STACK `rlimStack`;
   * -E2BIG when their pointers alone do not fit (an empty argv still
   * takes one: Linux makes it {""}).
   */
  static create(rlimStack: number, argc: number, envc: number): ArgSpace | number {
    const limit = argLimit(rlimStack);
    const pointers = (Math.max(argc, 1) + envc) * 8;
    return limit <= pointers ? -E.E2BIG : new ArgSpace(limit - pointers);
  }

  /** A string of `len` bytes with its NUL goes on the stack; false: E2BIG. */
  take(len: number): boolean {
    if (len > MAX_ARG_STRLEN) return false;
    this.left -= len;
    return this.left >= 0;
  }

  /** A string comes off the stack again (#! drops argv[0]: remove_arg_zero). */
  give(len: number): void {
    this.left += len;
  }
}

/** The bytes all strings and pointers may take under RLIMIT_STACK `rlimStack` (Infinity: unlimited). */
export function argLimit(rlimStack: number): number {
  return Math.max(Math.min((STK_LIM / 4) * 3, Math.floor(rlimStack / 4)), ARG_MAX);
}

export interface ExecStrings {
  argv: Buffer[];
  envp: Buffer[];
  space: ArgSpace;
}

/**
 * Count and take strings given as they are (the first process's): the
 * file name first, then the environment, then the arguments, each list
 * from its last string to its first, as copy_strings goes.
 */
export function takeStrings(rlimStack: number, filename: Buffer, argv: Buffer[], envp: Buffer[]): ExecStrings | number {
  const space = ArgSpace.create(rlimStack, argv.length, envp.length);
  if (typeof space === 'number') return space;
  if (!space.take(filename.length + 1)) return -E.E2BIG;
  for (const list of [envp, argv]) {
    for (let i = list.length - 1; i >= 0; i--) if (!space.take(list[i]!.length + 1)) return -E.E2BIG;
  }
  return withArgvZero(space, [...argv], envp);
}

/**
 * Read a guest's argv and envp (arrays of string pointers, NULL-ended, or
 * NULL for none) in the order Linux reads them, with its errors: EFAULT
 * for a pointer or a string that cannot be read, E2BIG for a string over
 * MAX_ARG_STRLEN or a total over the limit.
 */
export function readGuestStrings(mem: GuestMemory, platform: Platform, pid: number, argvPtr: number, envPtr: number,
  rlimStack: number, filename: Buffer): ExecStrings | number {
  // An array too long for the limit fails at once; Linux would first
  // count on to its end and might find a bad pointer there (EFAULT).
  const maxPointers = Math.floor(argLimit(rlimStack) / 8);
  const argvAt = readPointers(mem, pid, argvPtr, maxPointers);
  if (typeof argvAt === 'number') return argvAt;
  const envAt = readPointers(mem, pid, envPtr, maxPointers);
  if (typeof envAt === 'number') return envAt;
  const space = ArgSpace.create(rlimStack, argvAt.length, envAt.length);
  if (typeof space === 'number') return space;
  if (!space.take(filename.length + 1)) return -E.E2BIG;
  const envp = readStrings(mem, platform, pid, envAt, space);
  if (typeof envp === 'number') return envp;
  const argv = readStrings(mem, platform, pid, argvAt, space);
  if (typeof argv === 'number') return argv;
  return withArgvZero(space, argv, envp);
}

/** An empty argv becomes {""} (execve(2), since Linux 5.18), which takes its byte. */
function withArgvZero(space: ArgSpace, argv: Buffer[], envp: Buffer[]): ExecStrings | number {
  if (argv.length === 0) {
    if (!space.take(1)) return -E.E2BIG;
    argv.push(Buffer.alloc(0));
  }
  return { argv, envp, space };
}

function readPointers(mem: GuestMemory, pid: number, addr: number, max: number): number[] | number {
  const out: number[] = [];
  if (addr === 0) return out;
  for (;;) {
    // up to the end of the page (and through the pointer that straddles it,
    // for an unaligned array): a NULL may end the array before an unmapped page
    const chunk = mem.readPartial(pid, addr, Math.ceil((PAGE - (addr % PAGE)) / 8) * 8);
    if (chunk.length < 8) return -E.EFAULT;
    for (let o = 0; o + 8 <= chunk.length; o += 8) {
      const p = chunk.readUInt32LE(o + 4) * 4294967296 + chunk.readUInt32LE(o);
      if (p === 0) return out;
      if (out.length >= max) return -E.E2BIG;
      out.push(p);
    }
    addr += chunk.length - (chunk.length % 8);
  }
}

/**
 * The strings at `at`, from the last to the first as copy_strings takes
 * them. The first bytes of all of them come in one host call; a string
 * that does not end there (or could not be read) is read on its own.
 */
function readStrings(mem: GuestMemory, platform: Platform, pid: number, at: number[], space: ArgSpace): Buffer[] | number {
  const out: Buffer[] = new Array(at.length);
  for (let end = at.length; end > 0; end -= MAX_RANGES) {
    const start = Math.max(0, end - MAX_RANGES);
    const first = readFirstBytes(platform, pid, at, start, end);
    for (let i = end - 1; i >= start; i--) {
      const s = first[i - start] ?? readArgString(mem, pid, at[i]!);
      if (typeof s === 'number') return s;
      if (!space.take(s.length + 1)) return -E.E2BIG;
      out[i] = s;
    }
  }
  return out;
}

/** The strings of at[start..end) that end within their first FIRST_READ bytes (up to their page's end); undefined for the others. */
function readFirstBytes(platform: Platform, pid: number, at: number[], start: number, end: number): (Buffer | undefined)[] {
  const n = end - start;
  const ranges = new Float64Array(2 * n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const addr = at[start + i]!;
    const len = Math.min(FIRST_READ, PAGE - (addr % PAGE));
    ranges[2 * i] = addr;
    ranges[2 * i + 1] = len;
    total += len;
  }
  const buf = Buffer.allocUnsafe(total);
  const got = platform.readMemRanges(pid, ranges, n, buf);
  const found: (Buffer | undefined)[] = new Array(n);
  for (let i = 0, off = 0; i < n; off += ranges[2 * i + 1]!, i++) {
    const len = ranges[2 * i + 1]!;
    if (got < off + len) break;
    const nul = buf.indexOf(0, off);
    if (nul >= 0 && nul < off + len) found[i] = Buffer.from(buf.subarray(off, nul));
  }
  return found;
}

/** A NUL-terminated string of at most MAX_ARG_STRLEN bytes with its NUL (strnlen_user). */
function readArgString(mem: GuestMemory, pid: number, addr: number): Buffer | number {
  const parts: Buffer[] = [];
  let total = 0;
  // the first read to the page's end; long strings then go in big reads
  let want = PAGE - (addr % PAGE);
  while (total < MAX_ARG_STRLEN) {
    const chunk = mem.readPartial(pid, addr, Math.min(want, MAX_ARG_STRLEN - total));
    if (chunk.length === 0) return -E.EFAULT;
    const nul = chunk.indexOf(0);
    if (nul >= 0) {
      parts.push(chunk.subarray(0, nul));
      return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    }
    parts.push(chunk);
    total += chunk.length;
    addr += chunk.length;
    want = 16 * PAGE;
  }
  return -E.E2BIG;
}
