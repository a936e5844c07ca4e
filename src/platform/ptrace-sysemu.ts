import fs from 'node:fs';
import path from 'node:path';
import { BatchBuilder } from './batch-builder.ts';
import { Regs, REG_COUNT } from './regs.ts';
import { BATCH_ANY, type BatchCall, type BatchOutcome, type GuestEventView, type HelperState, type MmOp, type Platform,
  type PlatformOptions, type RoundTripCounts } from './platform.ts';
import { CountKind, FileIoOp, HelperBit, loadTracerAddon, MemOp, SignalOp, type TracerAddon } from './tracer-addon.ts';

const CLONE_PARENT = 0x00008000;
const CLONE_PTRACE = 0x00002000;
const SIGCHLD = 17;
const NR_CLONE = 56;
const ECANCELED = 125;
const ENOMEM = 12;
const EFAULT = 14;
const BATCH_ENTRY = 64;

/** struct ptrace_vmctl_mm_op (host-patch/ptrace-vmctl.h) */
const MM_OP_SIZE = 48;
const MM_OP_CODE = { mmap: 1, munmap: 2, mprotect: 3, write: 4 } as const;
const MM_MAX_OPS = 64;
const MM_MAX_WRITE = 1 << 20;

/**
 * The ptrace platform. Strict mode: PTRACE_SYSEMU, every guest syscall
 * stops and nothing runs on the host unless the kernel injects it.
 * Accelerated mode: a seccomp filter in every guest traces all syscalls
 * but a few that only touch the guest's own address space, which run on
 * the host with no stop (src/tracer/addon/seccomp_filter.c lists them).
 */
export class PtraceSysemuPlatform implements Platform {
  readonly eventRegs: Regs;
  readonly stubSyscallRip: number;
  readonly stubStart: number;
  readonly stubEnd: number;
  readonly batchData: { start: number; end: number };
  readonly guestFilter: Uint8Array | undefined;
  private readonly addon: TracerAddon;
  private readonly event = new Int32Array(6);
  private readonly aux = new Int32Array(8);
  /** the registers resume() hands the tracer (shared with it at init) */
  private readonly resumeRegs = new Int32Array(REG_COUNT * 2);
  private readonly view: GuestEventView = { kind: 0, tid: 0, a: 0, b: 0, c: 0, d: 0 };
  private readonly zygote: number;
  readonly freshLayout: { stackStart: number; stackEnd: number; vdso: number };
  readonly hostAuxv: ReadonlyMap<number, number>;
  readonly helper: HelperState;
  readonly stubPage: { start: number; end: number };
  readonly confinement: number;
  readonly accelerated: boolean;
  private readonly mmOps = new DataView(new ArrayBuffer(MM_OP_SIZE * MM_MAX_OPS));

  constructor(hostBuildDir: string, opts: PlatformOptions) {
    this.accelerated = opts.accelerated;
    this.addon = loadTracerAddon(hostBuildDir);
    this.eventRegs = new Regs(new Int32Array(REG_COUNT * 2));
    const stub = path.join(hostBuildDir, 'vmctl-stub');
    const layout = readStubLayout(stub);
    this.stubSyscallRip = layout.entry;
    this.stubStart = layout.start;
    this.stubEnd = layout.end;
    this.batchData = layout.scratch;
    // The guests' empty root is mounted over the build directory, which
    // always exists, in their own mount namespace (sandbox.c).
    this.zygote = this.addon.init(stub, this.eventRegs.raw, this.event, this.aux, this.resumeRegs, opts.accelerated,
      opts.useHelper, hostBuildDir, opts.pidsMax, opts.kernelPaths?.readOnly ?? null, opts.kernelPaths?.readWrite ?? null);
    const [stubPage, confinement] = this.addon.containment();
    this.stubPage = { start: stubPage, end: stubPage + 4096 };
    this.confinement = confinement;
    const bits = this.addon.helperStatus();
    this.helper = {
      roundtrip: { available: (bits & HelperBit.HaveRoundtrip) !== 0, inUse: (bits & HelperBit.UseRoundtrip) !== 0 },
      mmBatch: { available: (bits & HelperBit.HaveMmBatch) !== 0, inUse: (bits & HelperBit.UseMmBatch) !== 0 },
    };
    // A fresh process installs the seccomp filter at the end of its image
    // batch, which then runs with no stop. The helper builds images with
    // no code of ours running: there the zygote carries the filter.
    this.guestFilter = this.addon.guestFilter();
    if (this.guestFilter && this.helper.mmBatch.inUse) {
      const b = new BatchBuilder(this.batchData.start);
      b.installFilter(this.guestFilter);
      const r = this.batch(this.zygote, b.calls, b.dataBlock);
      if (typeof r === 'number' || r.done < 1) {
        throw new Error(`could not install the seccomp filter in the zygote: errno ${typeof r === 'number' ? -r : -r.result}`);
      }
      this.guestFilter = undefined;
    }
    this.freshLayout = parseLayout(this.hostMaps(this.zygote));
    this.hostAuxv = readAuxv('/proc/self/auxv');
  }

  hostMaps(hostPid: number): string {
    try {
      return fs.readFileSync(`/proc/${hostPid}/maps`, 'utf8');
    } catch {
      return '';
    }
  }

  wait(deadlineMs: number): GuestEventView {
    const r = this.addon.wait(deadlineMs);
    if (r < 0) throw new Error(`tracer wait failed: errno ${-r}`);
    const e = this.event, v = this.view;
    v.kind = e[0]!; v.tid = e[1]!; v.a = e[2]!; v.b = e[3]!; v.c = e[4]!; v.d = e[5]!;
    return v;
  }

  idle(): void {
    this.addon.idle();
  }

  resume(hostTid: number, regs: Regs, sig = 0): number {
    this.resumeRegs.set(regs.raw);
    return this.addon.resume(hostTid, sig);
  }

  step(hostTid: number, regs: Regs): number {
    return this.addon.step(hostTid, regs.raw, this.accelerated ? 0 : 1);
  }

  inject(hostTid: number, nr: number, args: readonly number[]): number {
    return this.addon.inject(hostTid, nr, args[0] ?? 0, args[1] ?? 0, args[2] ?? 0,
      args[3] ?? 0, args[4] ?? 0, args[5] ?? 0);
  }

  injectFds(hostTid: number, kernelFds: readonly number[], firstFd: number): number {
    return this.addon.injectFds(hostTid, Int32Array.from(kernelFds), firstFd);
  }

  batch(hostTid: number, calls: readonly BatchCall[], data?: Uint8Array): BatchOutcome | number {
    // data, then the table 64-byte aligned, in one write
    const tableOff = Math.ceil((data?.length ?? 0) / BATCH_ENTRY) * BATCH_ENTRY;
    const size = tableOff + BATCH_ENTRY * calls.length;
    if (size > this.batchData.end - this.batchData.start) return -ENOMEM;
    const b = Buffer.alloc(size);
    if (data) b.set(data, 0);
    calls.forEach((c, i) => {
      const o = tableOff + BATCH_ENTRY * i;
      b.writeBigInt64LE(BigInt(c.nr), o);
      for (let a = 0; a < 6; a++) b.writeBigInt64LE(BigInt(c.args[a] ?? 0), o + 8 + 8 * a);
      b.writeBigInt64LE(BigInt(c.expect), o + 56);
    });
    if (this.writeMem(hostTid, this.batchData.start, b, 0, size) !== size) return -EFAULT;
    // the runner sits 16 bytes after the stub's single syscall (stub.S)
    const done = this.addon.batch(hostTid, this.stubSyscallRip + 16, this.batchData.start + tableOff, calls.length);
    if (done < 0) return done;
    return { done, result: this.aux[2]! * 4294967296 + (this.aux[1]! >>> 0) };
  }

  roundTripCounts(): RoundTripCounts {
    const a = this.addon;
    return {
      guestStops: a.count(CountKind.GuestStops),
      helperRoundtrips: a.count(CountKind.HelperRoundtrips),
      injections: a.count(CountKind.Injections),
      injectionStops: a.count(CountKind.InjectStops),
      stubBatches: a.count(CountKind.Batches),
      stubBatchStops: a.count(CountKind.BatchStops),
      helperMmBatches: a.count(CountKind.HelperMmBatches),
      fdsPassed: a.count(CountKind.FdsPassed),
    };
  }

  mmBatch(hostTid: number, ops: readonly MmOp[]): number[] | number {
    if (!this.helper.mmBatch.inUse) return -38; // ENOSYS
    const results: number[] = [];
    // The helper takes at most MM_MAX_OPS operations and MM_MAX_WRITE
    // bytes of writes a call: longer lists go in several.
    let i = 0;
    while (i < ops.length) {
      const data: Uint8Array[] = [];
      let n = 0, written = 0;
      for (; i < ops.length && n < MM_MAX_OPS; i++, n++) {
        const op = ops[i]!;
        if (op.op === 'write') {
          if (op.bytes.length > MM_MAX_WRITE) return -7; // E2BIG: callers write less
          if (written + op.bytes.length > MM_MAX_WRITE) break;
          written += op.bytes.length;
          data.push(op.bytes);
        }
        this.encodeMmOp(n, op, data.length - 1);
      }
      const done = this.addon.mmBatch(hostTid, new Uint8Array(this.mmOps.buffer, 0, n * MM_OP_SIZE), n, data);
      if (done < 0) {
        if (!results.length) return done;
        while (results.length < ops.length) results.push(done);
        return results;
      }
      for (let j = 0; j < n; j++) {
        // the ones done, then the error of the one that failed; the rest never ran
        results.push(j <= done ? Number(this.mmOps.getBigInt64(j * MM_OP_SIZE + 40, true)) : -ECANCELED);
      }
      if (done < n) {
        while (results.length < ops.length) results.push(-ECANCELED);
        return results;
      }
    }
    return results;
  }

  private encodeMmOp(n: number, op: MmOp, dataIndex: number): void {
    const v = this.mmOps, o = n * MM_OP_SIZE;
    for (let b = 0; b < MM_OP_SIZE; b += 8) v.setBigUint64(o + b, 0n, true);
    v.setUint32(o, MM_OP_CODE[op.op], true);
    v.setBigUint64(o + 16, BigInt(op.addr), true);
    switch (op.op) {
      case 'mmap':
        v.setUint32(o + 4, op.prot, true);
        v.setUint32(o + 8, op.flags, true);
        v.setInt32(o + 12, op.fd, true);
        v.setBigUint64(o + 24, BigInt(op.len), true);
        v.setBigUint64(o + 32, BigInt(op.offset), true);
        break;
      case 'munmap':
        v.setBigUint64(o + 24, BigInt(op.len), true);
        break;
      case 'mprotect':
        v.setUint32(o + 4, op.prot, true);
        v.setBigUint64(o + 24, BigInt(op.len), true);
        break;
      case 'write':
        v.setBigUint64(o + 24, BigInt(op.bytes.length), true);
        v.setBigUint64(o + 32, BigInt(dataIndex), true);
        break;
    }
  }

  lastChild(): number {
    return this.aux[0]!;
  }

  spawnFresh(): number {
    // CLONE_PARENT: the new process is the kernel's child, so the kernel
    // reaps it; otherwise it would linger as the zygote's zombie.
    // CLONE_PTRACE: traced from birth, stopped before it runs anything.
    const r = this.batch(this.zygote, [{ nr: NR_CLONE, args: [CLONE_PARENT | CLONE_PTRACE | SIGCHLD], expect: BATCH_ANY }]);
    const child = typeof r === 'number' ? r : r.result;
    const err = child < 0 ? child : this.addon.adopt(child);
    if (err < 0) throw new Error(`could not fork a guest process from the zygote: errno ${-err}`);
    return child;
  }

  readMem(pid: number, addr: number, buf: Uint8Array, off: number, len: number): number {
    return this.addon.mem(MemOp.Read, pid, addr, buf, off, len);
  }

  readMemRanges(pid: number, ranges: Float64Array, count: number, buf: Uint8Array): number {
    return this.addon.readv(pid, ranges, count, buf);
  }

  writeMem(pid: number, addr: number, buf: Uint8Array, off: number, len: number): number {
    return this.addon.mem(MemOp.Write, pid, addr, buf, off, len);
  }

  fileToGuest(fd: number, pos: number, pid: number, addr: number, len: number): number {
    return this.addon.fileIo(FileIoOp.FileToGuest, fd, pos, pid, addr, len);
  }

  guestToFile(fd: number, pos: number, pid: number, addr: number, len: number): number {
    return this.addon.fileIo(FileIoOp.GuestToFile, fd, pos, pid, addr, len);
  }

  forceWriteMem(pid: number, addr: number, buf: Uint8Array, off: number, len: number): number {
    // Through page protection, as the kernel's loader and gdb may, but
    // never over the stub page: every host syscall the kernel makes in a
    // guest runs its bytes.
    if (addr < this.stubPage.end && addr + len > this.stubPage.start) return -EFAULT;
    return this.addon.mem(MemOp.ForceWrite, pid, addr, buf, off, len);
  }

  getFpRegs(hostTid: number, buf: Uint8Array): number {
    return this.addon.getFpRegs(hostTid, buf);
  }

  setFpRegs(hostTid: number, buf: Uint8Array): number {
    return this.addon.setFpRegs(hostTid, buf);
  }

  getRegs(hostTid: number, regs: Regs): number {
    return this.addon.getRegs(hostTid, regs.raw);
  }

  killHost(hostPid: number, sig: number): number {
    return this.addon.signal(SignalOp.Kill, hostPid, hostPid, sig);
  }

  interrupt(hostTid: number): number {
    return this.addon.signal(SignalOp.Interrupt, 0, hostTid, 0);
  }

  forget(hostTid: number): void {
    this.addon.forget(hostTid);
  }

  memfd(name: string): number {
    return this.addon.memfd(name);
  }

  pollFd(fd: number, events: number, timeoutMs: number): number {
    return this.addon.poll(fd, events, timeoutMs);
  }

  terminalSave(fd: number): number {
    return this.addon.terminalSave(fd);
  }

  terminalRestore(): number {
    return this.addon.terminalRestore();
  }

  roundTrips(): number {
    return this.addon.roundTrips();
  }
}

function parseLayout(maps: string): { stackStart: number; stackEnd: number; vdso: number } {
  let stackStart = 0, stackEnd = 0, vdso = 0;
  for (const line of maps.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) .*\s(\[\w+\])$/.exec(line);
    if (!m) continue;
    if (m[3] === '[stack]') {
      stackStart = parseInt(m[1]!, 16);
      stackEnd = parseInt(m[2]!, 16);
    } else if (m[3] === '[vdso]') {
      vdso = parseInt(m[1]!, 16);
    }
  }
  if (!stackEnd) throw new Error('the zygote has no [stack] mapping');
  return { stackStart, stackEnd, vdso };
}

function readAuxv(file: string): Map<number, number> {
  const out = new Map<number, number>();
  const b = fs.readFileSync(file);
  for (let off = 0; off + 16 <= b.length; off += 16) {
    const key = Number(b.readBigUInt64LE(off));
    if (key === 0) break;
    out.set(key, Number(b.readBigUInt64LE(off + 8)));
  }
  return out;
}

/** The stub's entry (its `syscall`), the span of its mappings, and its writable scratch segment. */
function readStubLayout(file: string): { entry: number; start: number; end: number; scratch: { start: number; end: number } } {
  const elf = fs.readFileSync(file);
  const phoff = Number(elf.readBigUInt64LE(32)), phentsize = elf.readUInt16LE(54), phnum = elf.readUInt16LE(56);
  let start = Infinity, end = 0;
  let scratch: { start: number; end: number } | undefined;
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (elf.readUInt32LE(o) !== 1 /* PT_LOAD */) continue;
    const vaddr = Number(elf.readBigUInt64LE(o + 16)), memsz = Number(elf.readBigUInt64LE(o + 40));
    start = Math.min(start, vaddr - (vaddr % 4096));
    end = Math.max(end, Math.ceil((vaddr + memsz) / 4096) * 4096);
    if (elf.readUInt32LE(o + 4) & 2 /* PF_W */) scratch = { start: vaddr, end: vaddr + memsz };
  }
  if (!scratch) throw new Error(`${file} has no scratch segment: rebuild it (vmctl build-host)`);
  return { entry: Number(elf.readBigUInt64LE(24)), start, end, scratch };
}

