/**
 * Memory syscalls. The guest's address space is its host process's own,
 * so these run in it by injection (address-space.ts); the kernel validates
 * what involves its objects (descriptors, access modes) and leaves most
 * address checks to the host, which gives the same errno Linux would.
 *
 * Two things the host must never see: an operation on the kernel's stub
 * page (every host syscall the kernel makes in a guest runs its bytes:
 * a guest that could unmap, replace, reprotect or advise it could run
 * its own code as the kernel's), which the guest is treated as not
 * having; and memory locking, which would pin host memory beyond any
 * guest limit: the kernel checks mlock's arguments and limits as Linux
 * does and locks nothing.
 */
import { AddressSpaceOps, MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_HUGETLB, MAP_LOCKED, MAP_POPULATE,
  MAP_PRIVATE, MAP_SHARED, MAP_SHARED_VALIDATE, PROT_READ, PROT_WRITE, touchesStub } from '../address-space.ts';
import { pageUp } from '../elf.ts';
import { E } from '../errno.ts';
import type { Kernel } from '../kernel.ts';
import type { Task } from '../task.ts';
import { getRlimit, RLIMIT_MEMLOCK } from './misc.ts';
import { readable, writable, getFile, O_APPEND } from './fs-io.ts';
import type { SyscallFamily } from './table.ts';
import { TASK_SIZE } from '../guest-memory.ts';

const PAGE = 4096;
/** The largest file offset a mapping may reach (MAX_LFS_FILESIZE). */
const MAX_FILE_OFFSET = 2 ** 63 - 1;
/** The flags MAP_SHARED_VALIDATE knows (LEGACY_MAP_MASK | MAP_SYNC, mm/mmap.c). */
const MAP_VALIDATE_KNOWN = 0x3 | 0x10 | 0x20 | 0x100 | 0x800 | 0x1000 | 0x2000 | 0x4000 | 0x8000 | 0x10000 |
  0x20000 | 0x40000 | 0x80000 | 0x100000 | 0xfc000000 /* MAP_HUGE_MASK */;

function ops(k: Kernel, t: Task): AddressSpaceOps {
  return new AddressSpaceOps(k.platform, t.hostTid);
}

/** Mmap implements Linux syscall mmap(2), in do_mmap()'s order of checks. */
function sysMmap(k: Kernel, t: Task, addr: number, len: number, prot: number, flags: number, fd: number, off: number): number {
  flags >>>= 0;
  prot >>>= 0;
  if (off % PAGE !== 0) return -E.EINVAL;
  const anon = (flags & MAP_ANONYMOUS) !== 0;
  const f = anon ? undefined : getFile(t, fd | 0);
  if (typeof f === 'number') return f;
  if (len === 0) return -E.EINVAL;
  // PAGE_ALIGN(len) wraps to 0 past 2^64 - 4096, and nothing fits past TASK_SIZE.
  if (len < 0 || pageUp(len) > TASK_SIZE) return -E.ENOMEM;
  // The stub page is not there for the guest, and may not be replaced.
  if ((flags & MAP_FIXED) && !(flags & MAP_FIXED_NOREPLACE) && touchesStub(k.platform, addr, pageUp(len))) {
    return -E.ENOMEM;
  }
  const type = flags & 0xf;
  if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE) return -E.EINVAL;
  // Huge pages come from a pool of the host's that no guest may drain:
  // as on a host with none reserved (vm.nr_hugepages = 0).
  if (flags & MAP_HUGETLB) return -E.ENOMEM;
  // MAP_LOCKED pins host memory: the pages are faulted in as it promises,
  // and not locked.
  const hostFlags = flags & MAP_LOCKED ? (flags & ~MAP_LOCKED) | MAP_POPULATE : flags;
  if (!f) return ops(k, t).mmap(addr, len, prot, hostFlags, -1, 0);

  if (!f.ops.hostFd) return -E.ENODEV;
  // file_mmap_ok(): a mapping never reaches past the largest file offset.
  if (off < 0 || off + pageUp(len) > MAX_FILE_OFFSET) return -E.EOVERFLOW;
  if (type === MAP_SHARED_VALIDATE && (flags & ~MAP_VALIDATE_KNOWN)) return -E.EOPNOTSUPP;
  const shared = type !== MAP_PRIVATE;
  if (shared && (prot & PROT_WRITE) && (!writable(f) || (f.flags & O_APPEND))) return -E.EACCES;
  if (!readable(f)) return -E.EACCES;
  // Last: a tmpfs file is charged for its pages once it can be mapped (ENOSPC when they do not fit).
  const hostFd = f.ops.hostFd(f);
  if (hostFd === undefined) return -E.ENODEV;
  if (hostFd < 0) return hostFd;
  return ops(k, t).mmapKernelFile(addr, len, prot, hostFlags, hostFd, off, shared && writable(f));
}

/** The parts of [addr, addr + len) below and above the stub page. */
function aroundStub(k: Kernel, addr: number, len: number): [number, number][] {
  const { start, end } = k.platform.stubPage;
  const out: [number, number][] = [];
  if (addr < start) out.push([addr, Math.min(addr + len, start) - addr]);
  if (addr + len > end) out.push([Math.max(addr, end), addr + len - Math.max(addr, end)]);
  return out;
}

/** Munmap implements Linux syscall munmap(2); over the stub page, only the rest goes (nothing was there). */
function sysMunmap(k: Kernel, t: Task, addr: number, len: number): number {
  if (!touchesStub(k.platform, addr, pageUp(len))) return ops(k, t).munmap(addr, len);
  if (addr % PAGE !== 0 || len <= 0 || addr > TASK_SIZE || len > TASK_SIZE - addr) return -E.EINVAL;
  for (const [a, l] of aroundStub(k, addr, pageUp(len))) {
    const r = ops(k, t).munmap(a, l);
    if (r < 0) return r;
  }
  return 0;
}

/**
 * A range call that meets the stub page: Linux applies it to what is
 * mapped before the hole and then fails with ENOMEM (mprotect(2),
 * madvise(2), msync(2)); so does the kernel, up to the stub page.
 */
function beforeStubThenEnomem(k: Kernel, addr: number, len: number, apply: (a: number, l: number) => number): number {
  if (addr % PAGE !== 0) return -E.EINVAL;
  const below = aroundStub(k, addr, pageUp(len)).find(([a]) => a === addr && a < k.platform.stubPage.start);
  if (below) {
    const r = apply(below[0], below[1]);
    if (r < 0) return r;
  }
  return -E.ENOMEM;
}

function sysMprotect(k: Kernel, t: Task, addr: number, len: number, prot: number): number {
  prot >>>= 0;
  if (!touchesStub(k.platform, addr, pageUp(len))) return ops(k, t).mprotect(addr, len, prot);
  return beforeStubThenEnomem(k, addr, len, (a, l) => ops(k, t).mprotect(a, l, prot));
}

function sysPkeyMprotect(k: Kernel, t: Task, addr: number, len: number, prot: number, pkey: number): number {
  if (!touchesStub(k.platform, addr, pageUp(len))) return ops(k, t).call(NR_PKEY_MPROTECT, addr, len, prot, pkey);
  return beforeStubThenEnomem(k, addr, len, (a, l) => ops(k, t).call(NR_PKEY_MPROTECT, a, l, prot, pkey));
}

const MADV_MERGEABLE = 12, MADV_UNMERGEABLE = 13, MADV_HWPOISON = 100, MADV_SOFT_OFFLINE = 101;

/**
 * Madvise implements Linux syscall madvise(2). Advice that would reach
 * beyond the caller's own pages is the kernel's: KSM merging
 * (MADV_MERGEABLE) would share pages with host processes, so it is
 * accepted and not done, as KSM does nothing until an administrator
 * starts it; MADV_HWPOISON and MADV_SOFT_OFFLINE act on host memory and
 * are refused as for a process without CAP_SYS_ADMIN.
 */
function sysMadvise(k: Kernel, t: Task, addr: number, len: number, advice: number): number {
  advice |= 0;
  if (advice === MADV_HWPOISON || advice === MADV_SOFT_OFFLINE) return -E.EPERM;
  if (advice === MADV_MERGEABLE || advice === MADV_UNMERGEABLE) {
    if (addr % PAGE !== 0 || len < 0) return -E.EINVAL;
    return touchesStub(k.platform, addr, pageUp(len)) ? -E.ENOMEM : 0;
  }
  if (!touchesStub(k.platform, addr, pageUp(len))) return ops(k, t).call(NR_MADVISE, addr, len, advice);
  return beforeStubThenEnomem(k, addr, len, (a, l) => ops(k, t).call(NR_MADVISE, a, l, advice));
}

/** msync(2), mincore(2): the stub page is a hole (ENOMEM). */
function rangeCall(nr: number) {
  return (k: Kernel, t: Task, addr: number, len: number, a2: number): number =>
    touchesStub(k.platform, addr, pageUp(len)) ? (addr % PAGE !== 0 ? -E.EINVAL : -E.ENOMEM) : ops(k, t).call(nr, addr, len, a2);
}

const MREMAP_MAYMOVE = 1, MREMAP_FIXED = 2;

/**
 * Mremap implements Linux syscall mremap(2). The stub page can neither
 * be moved (it is no mapping of the guest's: EFAULT) nor be where a
 * mapping goes (ENOMEM, as when there is no room).
 */
function sysMremap(k: Kernel, t: Task, old: number, oldLen: number, newLen: number, flags: number, newAddr: number): number {
  if (touchesStub(k.platform, old, Math.max(pageUp(oldLen), PAGE))) return old % PAGE !== 0 ? -E.EINVAL : -E.EFAULT;
  if ((flags & MREMAP_FIXED) && touchesStub(k.platform, newAddr, pageUp(newLen))) return -E.ENOMEM;
  if (!(flags & MREMAP_MAYMOVE) && touchesStub(k.platform, old, pageUp(newLen))) return -E.ENOMEM;
  return ops(k, t).call(NR_MREMAP, old, oldLen, newLen, flags, newAddr);
}

/** Brk implements Linux syscall brk(2): the heap grows by anonymous mappings. */
function sysBrk(k: Kernel, t: Task, addr: number): number {
  const mm = t.proc.mm;
  if (addr < mm.brkStart || addr >= TASK_SIZE) return mm.brk;
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

// ----- memory locking: checked as Linux checks it, never done on the host -----

/** The guest mappings of a process as [start, end) ranges, the stub page left out. */
function mappedRanges(k: Kernel, t: Task): [number, number][] {
  const out: [number, number][] = [];
  for (const line of k.platform.hostMaps(t.proc.mm.hostPid).split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (!m) continue;
    const start = parseInt(m[1]!, 16), end = parseInt(m[2]!, 16);
    if (start === k.platform.stubPage.start) continue;
    out.push([start, end]);
  }
  return out;
}

/** Is every page of [start, end) mapped? (mlock(2): ENOMEM otherwise) */
function allMapped(k: Kernel, t: Task, start: number, end: number): boolean {
  let at = start;
  for (const [s, e] of mappedRanges(k, t)) {
    if (e <= at) continue;
    if (s > at) return false;
    at = e;
    if (at >= end) return true;
  }
  return at >= end;
}

/** can_do_mlock() and the RLIMIT_MEMLOCK check of mm/mlock.c, for `bytes` more locked. */
function mlockAllowed(t: Task, bytes: number): number {
  if (t.proc.cred.euid === 0) return 0; // CAP_IPC_LOCK
  const limit = getRlimit(t.proc, RLIMIT_MEMLOCK).cur;
  if (limit === 0) return -E.EPERM;
  return bytes > limit ? -E.ENOMEM : 0;
}

const MLOCK_ONFAULT = 1;

/** Mlock, mlock2 and munlock: the range must be mapped, and within the limit. */
function lockRange(k: Kernel, t: Task, addr: number, len: number, lock: boolean): number {
  if (len < 0) return -E.EINVAL;
  const start = addr - (addr % PAGE);
  const end = pageUp(addr + len);
  if (end < start) return -E.EINVAL;
  if (lock) {
    const r = mlockAllowed(t, end - start);
    if (r < 0) return r;
  }
  if (start === end) return 0;
  return allMapped(k, t, start, end) && !touchesStub(k.platform, start, end - start) ? 0 : -E.ENOMEM;
}

function sysMlock(k: Kernel, t: Task, addr: number, len: number): number {
  return lockRange(k, t, addr, len, true);
}

function sysMlock2(k: Kernel, t: Task, addr: number, len: number, flags: number): number {
  if (flags & ~MLOCK_ONFAULT) return -E.EINVAL;
  return lockRange(k, t, addr, len, true);
}

function sysMunlock(k: Kernel, t: Task, addr: number, len: number): number {
  return lockRange(k, t, addr, len, false);
}

const MCL_CURRENT = 1, MCL_FUTURE = 2, MCL_ONFAULT = 4;

function sysMlockall(k: Kernel, t: Task, flags: number): number {
  flags >>>= 0;
  if (!flags || (flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)) || flags === MCL_ONFAULT) return -E.EINVAL;
  if (!(flags & MCL_CURRENT)) return mlockAllowed(t, 0);
  const total = mappedRanges(k, t).reduce((sum, [s, e]) => sum + (e - s), 0);
  return mlockAllowed(t, total);
}

function sysMunlockall(): number {
  return 0;
}

const NR_MREMAP = 25, NR_MSYNC = 26, NR_MINCORE = 27, NR_MADVISE = 28, NR_PKEY_MPROTECT = 329;

export const memorySyscalls: SyscallFamily = {
  mmap: sysMmap, munmap: sysMunmap, mprotect: sysMprotect, brk: sysBrk,
  mremap: sysMremap, msync: rangeCall(NR_MSYNC), mincore: rangeCall(NR_MINCORE),
  madvise: sysMadvise, mlock: sysMlock, munlock: sysMunlock, mlock2: sysMlock2,
  mlockall: sysMlockall, munlockall: sysMunlockall, pkey_mprotect: sysPkeyMprotect,
};
