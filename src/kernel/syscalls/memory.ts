/**
 * Memory syscalls. The guest's address space is its host process's own,
 * so these run in it by injection; the kernel validates what involves its
 * objects (descriptors, access modes) and leaves address checks to the
 * host, which gives the same errno Linux would.
 */
import { Reg } from '../../platform/regs.ts';
import { AddressSpaceOps, MAP_ANONYMOUS, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_SHARED, MAP_SHARED_VALIDATE,
  PROT_READ, PROT_WRITE } from '../address-space.ts';
import { pageUp } from '../elf.ts';
import { E } from '../errno.ts';
import type { Kernel } from '../kernel.ts';
import type { Task } from '../task.ts';
import { readable, writable, getFile, O_APPEND } from './fs-io.ts';
import type { SyscallFamily } from './table.ts';

const PROT_GROWSDOWN = 0x01000000, PROT_GROWSUP = 0x02000000;
const VALID_PROT = 7 | 8 /* PROT_SEM */ | PROT_GROWSDOWN | PROT_GROWSUP;

function ops(k: Kernel, t: Task): AddressSpaceOps {
  return new AddressSpaceOps(k.platform, t.hostTid);
}

/**
 * Guest memory below the red zone where the kernel may write a short
 * string for an injected call (the place a signal frame would go).
 */
function scratchBelowStack(k: Kernel, t: Task): number {
  const sp = t.regs.get(Reg.RSP);
  const addr = Math.floor((sp - 128 - 512) / 16) * 16;
  const probe = Buffer.alloc(1);
  return k.platform.writeMem(t.proc.mm.hostPid, addr, probe, 0, 1) === 1 ? addr : 0;
}

/** Mmap implements Linux syscall mmap(2). */
function sysMmap(k: Kernel, t: Task, addr: number, len: number, prot: number, flags: number, fd: number, off: number): number {
  flags >>>= 0;
  prot >>>= 0;
  if (len <= 0) return -E.EINVAL;
  if (off % 4096 !== 0 || off < 0) return -E.EINVAL;
  if (prot & ~VALID_PROT) return -E.EINVAL;
  const type = flags & 3;
  if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE) return -E.EINVAL;
  if (pageUp(len) > 0x7ffffffff000) return -E.ENOMEM;
  if (flags & MAP_ANONYMOUS) return ops(k, t).mmap(addr, len, prot, flags, -1, 0);

  const f = getFile(t, fd | 0);
  if (typeof f === 'number') return f;
  const hostFd = f.ops.hostFd?.(f);
  if (hostFd === undefined || hostFd < 0) return -E.ENODEV;
  if (!readable(f)) return -E.EACCES;
  const shared = type !== MAP_PRIVATE;
  if (shared && (prot & PROT_WRITE) && (!writable(f) || (f.flags & O_APPEND))) return -E.EACCES;
  const scratch = scratchBelowStack(k, t);
  if (!scratch) return -E.ENOMEM;
  return ops(k, t).mmapKernelFile(addr, len, prot, flags, hostFd, off, shared && writable(f), scratch);
}

function sysMunmap(k: Kernel, t: Task, addr: number, len: number): number {
  return ops(k, t).munmap(addr, len);
}

function sysMprotect(k: Kernel, t: Task, addr: number, len: number, prot: number): number {
  return ops(k, t).mprotect(addr, len, prot >>> 0);
}

function passthrough(nr: number) {
  return (k: Kernel, t: Task, a0: number, a1: number, a2: number, a3: number, a4: number): number =>
    ops(k, t).call(nr, a0, a1, a2, a3, a4);
}

/** Brk implements Linux syscall brk(2): the heap grows by anonymous mappings. */
function sysBrk(k: Kernel, t: Task, addr: number): number {
  const mm = t.proc.mm;
  if (addr < mm.brkStart || addr >= 0x7ffffffff000) return mm.brk;
  const oldEnd = pageUp(mm.brk);
  const newEnd = pageUp(addr);
  if (newEnd > oldEnd) {
    const r = ops(k, t).mmap(oldEnd, newEnd - oldEnd, PROT_READ | PROT_WRITE,
      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (r !== oldEnd) {
      if (r >= 0) ops(k, t).munmap(r, newEnd - oldEnd);
      return mm.brk;
    }
  } else if (newEnd < oldEnd) {
    if (ops(k, t).munmap(newEnd, oldEnd - newEnd) < 0) return mm.brk;
  }
  mm.brk = addr;
  return addr;
}

const NR_MREMAP = 25, NR_MSYNC = 26, NR_MINCORE = 27, NR_MADVISE = 28, NR_MLOCK = 149, NR_MUNLOCK = 150,
  NR_MLOCKALL = 151, NR_MUNLOCKALL = 152, NR_MLOCK2 = 325, NR_PKEY_MPROTECT = 329;

export const memorySyscalls: SyscallFamily = {
  mmap: sysMmap, munmap: sysMunmap, mprotect: sysMprotect, brk: sysBrk,
  mremap: passthrough(NR_MREMAP), msync: passthrough(NR_MSYNC), mincore: passthrough(NR_MINCORE),
  madvise: passthrough(NR_MADVISE), mlock: passthrough(NR_MLOCK), munlock: passthrough(NR_MUNLOCK),
  mlockall: passthrough(NR_MLOCKALL), munlockall: passthrough(NR_MUNLOCKALL), mlock2: passthrough(NR_MLOCK2),
  pkey_mprotect: passthrough(NR_PKEY_MPROTECT),
};
