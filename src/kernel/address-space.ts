/**
 * Operations that must happen inside a guest's host address space
 * (mmap of files, munmap, mprotect, brk). With the host helper patch they
 * are one PTRACE_VMCTL_MM_BATCH each, mapping the kernel's own fds;
 * otherwise the host syscalls are injected into the stopped guest thread,
 * with register arguments only, through the kernel's stub page (see
 * src/tracer/addon/ptrace_ops.c), and a file the guest maps is handed to
 * its host process by seccomp's SECCOMP_IOCTL_NOTIF_ADDFD, not opened by
 * path. The guest never sees them: its registers are the kernel's to set
 * before it resumes.
 */
import { closeSync, openSync } from 'node:fs';
import type { MmOp, Platform } from '../platform/platform.ts';
import { E } from './errno.ts';
import { NR } from './syscall-names.ts';

export const PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
export const MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_SHARED_VALIDATE = 0x03, MAP_FIXED = 0x10,
  MAP_ANONYMOUS = 0x20, MAP_GROWSDOWN = 0x0100, MAP_DENYWRITE = 0x0800, MAP_EXECUTABLE = 0x1000,
  MAP_LOCKED = 0x2000, MAP_NORESERVE = 0x4000, MAP_POPULATE = 0x8000, MAP_NONBLOCK = 0x10000,
  MAP_STACK = 0x20000, MAP_HUGETLB = 0x40000, MAP_SYNC = 0x80000, MAP_FIXED_NOREPLACE = 0x100000;

/** Does [addr, addr + len) meet the kernel's stub page, which no guest operation may touch? */
export function touchesStub(platform: Platform, addr: number, len: number): boolean {
  const { start, end } = platform.stubPage;
  return addr < end && addr + Math.max(len, 0) > start;
}

export class AddressSpaceOps {
  constructor(
    private readonly platform: Platform,
    private readonly hostTid: number,
  ) {}

  call(nr: number, ...args: number[]): number {
    return this.platform.inject(this.hostTid, nr, args);
  }

  /** One operation through the helper; undefined when it is not in use. */
  private byHelper(op: MmOp): number | undefined {
    if (!this.platform.helper.mmBatch.inUse) return undefined;
    const r = this.platform.mmBatch(this.hostTid, [op]);
    return typeof r === 'number' ? r : r[0];
  }

  /** An anonymous mapping (`fd` -1) or one of a file the guest process itself holds as `fd`. */
  mmap(addr: number, len: number, prot: number, flags: number, fd: number, off: number): number {
    // The helper refuses MAP_HUGETLB (mmap(2) gives its own errors for it).
    if (fd === -1 && (flags & MAP_ANONYMOUS) && !(flags & MAP_HUGETLB)) {
      const r = this.byHelper({ op: 'mmap', addr, len, prot, flags, fd: -1, offset: off });
      if (r !== undefined) return r;
    }
    return this.call(NR.mmap, addr, len, prot, flags, fd, off);
  }

  munmap(addr: number, len: number): number {
    return this.byHelper({ op: 'munmap', addr, len }) ?? this.call(NR.munmap, addr, len);
  }

  mprotect(addr: number, len: number, prot: number): number {
    return this.byHelper({ op: 'mprotect', addr, len, prot }) ?? this.call(NR.mprotect, addr, len, prot);
  }

  close(fd: number): number {
    return this.call(NR.close, fd);
  }

  /**
   * mmap of a kernel-held file: with the helper, the kernel's fd itself;
   * otherwise the file goes into the guest's host process, is mapped
   * there and closed again. `writable`: a shared mapping the guest may
   * make writable (its file is open for writing).
   */
  mmapKernelFile(addr: number, len: number, prot: number, flags: number, kernelFd: number, off: number,
    writable: boolean): number {
    // A shared mapping takes its right to PROT_WRITE, now and by a later
    // mprotect(2), from the open mode of the file it maps (mmap(2),
    // EACCES): the kernel's fd may be open for writing when the guest's
    // is not (a tmpfs file is one memfd), so such a mapping gets a
    // read-only description of the same file, reopened here.
    const readOnly = (flags & 3) !== MAP_PRIVATE && !writable;
    let passFd = kernelFd;
    if (readOnly) {
      try {
        passFd = openSync(`/proc/self/fd/${kernelFd}`, 'r');
      } catch {
        return -E.EACCES;
      }
    }
    try {
      const r = this.byHelper({ op: 'mmap', addr, len, prot, flags, fd: passFd, offset: off });
      if (r !== undefined) return r;
      const fd = this.platform.injectFds(this.hostTid, [passFd], -1);
      if (fd < 0) return fd === -E.ESRCH ? fd : -E.ENOMEM;
      const mapped = this.mmap(addr, len, prot, flags, fd, off);
      this.close(fd);
      return mapped;
    } finally {
      if (passFd !== kernelFd) closeSync(passFd);
    }
  }
}
