import { createRequire } from 'node:module';
import path from 'node:path';

/** What the C addon (src/tracer/addon/napi.c) exports. */
export interface TracerAddon {
  /** regs: each event's registers; resumeRegs: the registers resume() sets */
  /**
   * mountDir: an existing directory the guests' empty root is mounted over; pidsMax: their host process limit;
   * kernelRo/kernelRw: where this thread may still read / write once it confines itself (null: it does not)
   */
  init(stubPath: string, regs: Int32Array, event: Int32Array, aux: Int32Array, resumeRegs: Int32Array,
    accelerated: boolean, helper: boolean, mountDir: string, pidsMax: number, kernelRo: string[] | null,
    kernelRw: string[] | null): number;
  wait(deadlineMs: number): number;
  idle(): void;
  /** with the registers in init's resumeRegs */
  resume(tid: number, sig: number): number;
  /** emulate: 1 in strict mode (PTRACE_SYSEMU_SINGLESTEP) */
  step(tid: number, regs: Int32Array, emulate: number): number;
  /** a host syscall in the stopped thread, through the stub page */
  inject(tid: number, nr: number, a0: number, a1: number, a2: number,
    a3: number, a4: number, a5: number): number;
  /** kernel fds into the thread's host process (at firstFd and on, or the lowest free when < 0): the first new fd or -errno */
  injectFds(tid: number, kernelFds: Int32Array, firstFd: number): number;
  /** [the stub page's address, ConfineBit layers in force in the guests] */
  containment(): [number, number];
  /** calls done or -errno; the result of the failed (or last) call in aux[1] (low half) and aux[2] */
  batch(tid: number, batchRip: number, table: number, count: number): number;
  /** wait for the first stop of a child a batch's clone made */
  adopt(pid: number): number;
  /** the accelerated mode's seccomp filter, struct sock_filter[] */
  guestFilter(): Uint8Array;
  getRegs(tid: number, regs: Int32Array): number;
  setRegs(tid: number, regs: Int32Array): number;
  getFpRegs(tid: number, buf: Uint8Array): number;
  setFpRegs(tid: number, buf: Uint8Array): number;
  mem(op: MemOp, pid: number, addr: number, buf: Uint8Array, off: number, len: number): number;
  /** `count` (address, length) pairs of `ranges` read into `buf` one after the other: bytes read or -errno */
  readv(pid: number, ranges: Float64Array, count: number, buf: Uint8Array): number;
  signal(op: SignalOp, tgid: number, tid: number, sig: number): number;
  memfd(name: string): number;
  poll(fd: number, events: number, timeoutMs: number): number;
  forget(tid: number): void;
  roundTrips(): number;
  /** ops: `count` struct ptrace_vmctl_mm_op; a write's buf is an index into `data` */
  mmBatch(tid: number, ops: Uint8Array, count: number, data: Uint8Array[]): number;
  /** HelperBit flags */
  helperStatus(): number;
  count(kind: CountKind): number;
  terminalSave(fd: number): number;
  terminalRestore(): number;
  /** `len` bytes between host file `fd` at `pos` and guest memory at `addr`: bytes moved (short at a fault or end of file) or -errno */
  fileIo(op: FileIoOp, fd: number, pos: number, pid: number, addr: number, len: number): number;
}

/** tracer.h's enum count_kind */
export const enum CountKind {
  GuestStops = 0, Injections = 1, InjectStops = 2, Batches = 3, BatchStops = 4, HelperRoundtrips = 5, HelperMmBatches = 6,
  FdsPassed = 7,
}

/** tracer.h's CONFINE_* bits: the confinement in force */
export const enum ConfineBit {
  NoNewPrivs = 1 << 0, NotRoot = 1 << 1, UserNs = 1 << 2, MountNs = 1 << 3, EmptyRoot = 1 << 4, NetNs = 1 << 5,
  IpcNs = 1 << 6, LandlockFs = 1 << 7, LandlockNet = 1 << 8, LandlockScope = 1 << 9, Rlimits = 1 << 10, Nproc = 1 << 11,
  Seccomp = 1 << 12, NoCaps = 1 << 13, KernelLandlock = 1 << 14,
}

/** helperStatus() bits, as tracer.h's HELPER_* */
export const enum HelperBit { HaveRoundtrip = 1, HaveMmBatch = 2, UseRoundtrip = 4, UseMmBatch = 8 }

export const enum MemOp { Read = 0, Write = 1, ForceWrite = 2 }
/** fileIo's direction, as file_io.c's */
export const enum FileIoOp { FileToGuest = 0, GuestToFile = 1 }
export const enum SignalOp { Kill = 0, Tgkill = 1, Interrupt = 2 }

/** Event kinds of `wait`, as in tracer.h's enum event_kind. */
export const enum TraceEvent {
  Syscall = 1,
  Exited = 2,
  Killed = 3,
  Signal = 4,
  Stopped = 5,
  Interrupted = 6,
  NoChild = 7,
}

export function loadTracerAddon(hostBuildDir: string): TracerAddon {
  const require = createRequire(import.meta.url);
  return require(path.join(hostBuildDir, 'tracer.node')) as TracerAddon;
}
