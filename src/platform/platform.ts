import type { Regs } from './regs.ts';

/**
 * The one interface between the guest kernel and the host mechanism that
 * stops guest threads at their syscalls. `src/kernel` sees only this.
 */
export interface GuestEventView {
  kind: number;
  /** host tid of the thread the event is about */
  tid: number;
  a: number;
  b: number;
  c: number;
  d: number;
}

/** One operation of an address-space batch (Platform.mmBatch). */
export type MmOp =
  | { op: 'mmap'; addr: number; len: number; prot: number; flags: number; /** a host fd of the kernel's, or -1 */ fd: number; offset: number }
  | { op: 'munmap'; addr: number; len: number }
  | { op: 'mprotect'; addr: number; len: number; prot: number }
  | { op: 'write'; addr: number; bytes: Uint8Array };

/** One facility of the host helper patch (host-patch/): offered by the host, and used. */
export interface HelperFacility {
  available: boolean;
  inUse: boolean;
}

export interface HelperState {
  /** PTRACE_VMCTL_SYSCALL_ROUNDTRIP: answer a PTRACE_SYSEMU stop and wait for the next in one call */
  roundtrip: HelperFacility;
  /** PTRACE_VMCTL_MM_BATCH: address-space operations with no code of ours in the guest */
  mmBatch: HelperFacility;
}

export interface RoundTripCounts {
  /** stops and ends of guest threads reported to the kernel */
  guestStops: number;
  /** ...of which the helper's one-call round trip returned */
  helperRoundtrips: number;
  /** host syscalls injected into guest processes, and the stops they took */
  injections: number;
  injectionStops: number;
  /** stub batches (execve without the helper), and their stops */
  stubBatches: number;
  stubBatchStops: number;
  /** the helper's address-space batches (one ptrace call each) */
  helperMmBatches: number;
  /** kernel files handed to guest processes (SECCOMP_IOCTL_NOTIF_ADDFD) */
  fdsPassed: number;
}

/** A batch call's expected result that stands for any success (not -4095..-1): stub.S. */
export const BATCH_ANY = -(2 ** 63);

/** One host syscall of a batch, and the result it must give for the batch to go on. */
export interface BatchCall {
  nr: number;
  args: readonly number[];
  expect: number;
}

/** How a batch ended. */
export interface BatchOutcome {
  /** how many calls gave what they should: all of them, or the index of the one that did not */
  done: number;
  /** that call's result; when all were done, the last call's (0 if it unmapped the stub itself) */
  result: number;
}

export interface Platform {
  /** Some syscalls run on the host with no stop (seccomp fast path); false: every syscall stops. */
  readonly accelerated: boolean;
  /** Registers of the thread of the last event (valid for Syscall, Signal, Stopped). */
  readonly eventRegs: Regs;
  /** Wait for the next guest event; `deadlineMs` is CLOCK_MONOTONIC ms or -1. */
  wait(deadlineMs: number): GuestEventView;
  /** The kernel is going back to the Node event loop with no guest running. */
  idle(): void;
  /** Set registers and resume at the next syscall. Returns 0 or -errno. */
  resume(hostTid: number, regs: Regs, sig?: number): number;
  /** Set registers and resume for one instruction (gdb's stepi); the next stop is a SIGTRAP or a syscall. 0 or -errno. */
  step(hostTid: number, regs: Regs): number;
  /**
   * Run host syscall `nr` inside the stopped thread, with register
   * arguments only, at the syscall entry it is stopped in or through the
   * stub page's `syscall` (never the guest's own code); returns its result
   * (-errno on failure). `lastChild()` gives the pid of a clone's new child.
   */
  inject(hostTid: number, nr: number, args: readonly number[]): number;
  /**
   * Hand the kernel's host fds to the stopped thread's host process
   * (seccomp's SECCOMP_IOCTL_NOTIF_ADDFD: no path, no guest memory), at
   * `firstFd` and on, or at the lowest free numbers when `firstFd` is
   * negative. Returns the first new fd there, or -errno.
   */
  injectFds(hostTid: number, kernelFds: readonly number[], firstFd: number): number;
  /**
   * The kernel's stub page, at the same address in every guest process:
   * no guest may map, unmap, protect, advise or write over it, and guests
   * are not shown it.
   */
  readonly stubPage: { start: number; end: number };
  /** The confinement in force in the guests' host processes (ConfineBit bits of tracer-addon.ts). */
  readonly confinement: number;
  /** pid of the child created by the last injected clone, or 0. */
  lastChild(): number;
  /** A fresh host process, forked from the zygote, stopped, holding only the stub. */
  spawnFresh(): number;
  /**
   * In a fresh process (the stub still mapped), make the calls in order in
   * one round trip through the stub's batch runner, stopping at the first
   * that does not give its expected result. `data` goes to the stub's
   * scratch memory first, at `batchData.start`: arguments may point into
   * it. A last call may unmap the stub itself. Returns how the batch
   * ended, or -errno if it could not run (-ENOMEM: more than the scratch
   * holds).
   */
  batch(hostTid: number, calls: readonly BatchCall[], data?: Uint8Array): BatchOutcome | number;
  /** The stub's scratch memory, in a fresh process: a batch's data and table. */
  readonly batchData: { start: number; end: number };
  /**
   * The seccomp filter (struct sock_filter[]) a fresh process must install
   * before it runs guest code; undefined when there is none to install
   * (strict mode, or the zygote carries it already).
   */
  readonly guestFilter: Uint8Array | undefined;
  /** The stub's `syscall` instruction and its mappings, in a fresh process. */
  readonly stubSyscallRip: number;
  readonly stubStart: number;
  readonly stubEnd: number;
  /** Guest memory: bytes moved, or -errno. */
  readMem(pid: number, addr: number, buf: Uint8Array, off: number, len: number): number;
  writeMem(pid: number, addr: number, buf: Uint8Array, off: number, len: number): number;
  /**
   * Many ranges of guest memory in one host call, one after the other into
   * `buf`: `ranges` holds `count` (address, length) pairs, at most 1024.
   * Returns the bytes read, fewer where a range could not be read (the
   * copy ends there), or -errno when not even the first could.
   */
  readMemRanges(pid: number, ranges: Float64Array, count: number, buf: Uint8Array): number;
  /**
   * read(2)/write(2) between host file `fd` at `pos` and guest memory, with
   * no copy through the kernel's heap: up to `len` bytes; the count moved,
   * short at end of file or at the first guest page that faults (-EFAULT
   * if none moved), or the host's -errno.
   */
  fileToGuest(fd: number, pos: number, pid: number, addr: number, len: number): number;
  guestToFile(fd: number, pos: number, pid: number, addr: number, len: number): number;
  /** Write ignoring page protection (read-only text), as the kernel may. */
  forceWriteMem(pid: number, addr: number, buf: Uint8Array, off: number, len: number): number;
  getFpRegs(hostTid: number, buf: Uint8Array): number;
  setFpRegs(hostTid: number, buf: Uint8Array): number;
  getRegs(hostTid: number, regs: Regs): number;
  /** Host kill(2) of a whole host process (SIGKILL on guest exit). */
  killHost(hostPid: number, sig: number): number;
  /** Make a running thread stop so the kernel can deliver a guest signal. */
  interrupt(hostTid: number): number;
  /** Drop the tracer's record of a thread that is gone. */
  forget(hostTid: number): void;
  memfd(name: string): number;
  pollFd(fd: number, events: number, timeoutMs: number): number;
  roundTrips(): number;
  /** The host helper patch: what the host offers and what this platform uses. */
  readonly helper: HelperState;
  /** Host round trips so far, by kind (roundTrips() is their total). */
  roundTripCounts(): RoundTripCounts;
  /**
   * Run `ops` in order in the address space of stopped thread `hostTid`
   * with the helper (helper.mmBatch.inUse only). Returns each op's result
   * (mmap: the address; others 0; -errno stops the batch: the ops after
   * it did not run and get -ECANCELED), or -errno if none could run.
   */
  mmBatch(hostTid: number, ops: readonly MmOp[]): number[] | number;
  /** Save the host terminal's mode; fatal signals restore it before the process dies. */
  terminalSave(fd: number): number;
  terminalRestore(): number;
  /** The layout every fresh process shares (forked from one zygote). */
  readonly freshLayout: { stackStart: number; stackEnd: number; vdso: number };
  /** /proc/PID/maps of a guest's host process, as the host prints it. */
  hostMaps(hostPid: number): string;
  /** The host's own auxv entries the guest should see too (AT_HWCAP, ...). */
  readonly hostAuxv: ReadonlyMap<number, number>;
}

/** How a guest's host processes are set up (the boot's mode and the guest's limits). */
export interface PlatformOptions {
  /** the seccomp fast path (default mode); false: every syscall stops (--strict) */
  accelerated: boolean;
  /** use the host helper patch where the host kernel has it */
  useHelper: boolean;
  /** the guest's --pids-max: its host processes may not number much more */
  pidsMax: number;
  /** where the kernel's thread may still read and write once it confines itself (Landlock); undefined: it does not */
  kernelPaths?: { readOnly: string[]; readWrite: string[] };
}
