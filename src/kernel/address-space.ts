/**
 * Operations that must happen inside a guest's host address space
 * (mmap of files, munmap, mprotect, brk), done by injecting the host
 * syscalls into the stopped guest thread. The guest never sees them: its
 * registers are the kernel's to set before it resumes.
 */
import type { Platform } from '../platform/platform.ts';
import { E } from './errno.ts';
import { NR } from './syscall-names.ts';

export const PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
export const MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_SHARED_VALIDATE = 0x03, MAP_FIXED = 0x10,
  MAP_ANONYMOUS = 0x20, MAP_GROWSDOWN = 0x0100, MAP_DENYWRITE = 0x0800, MAP_EXECUTABLE = 0x1000,
  MAP_LOCKED = 0x2000, MAP_NORESERVE = 0x4000, MAP_POPULATE = 0x8000, MAP_NONBLOCK = 0x10000,
  MAP_STACK = 0x20000, MAP_HUGETLB = 0x40000, MAP_SYNC = 0x80000, MAP_FIXED_NOREPLACE = 0x100000;

const O_RDONLY = 0, O_RDWR = 2, O_CLOEXEC = 0o2000000;

export class AddressSpaceOps {
  constructor(
    private readonly platform: Platform,
    private readonly hostTid: number,
    /** the `syscall` instruction to inject through (0: the guest's own, at rip - 2) */
    private readonly sysRip = 0,
  ) {}

  call(nr: number, ...args: number[]): number {
    return this.platform.inject(this.hostTid, nr, args, this.sysRip);
  }

  mmap(addr: number, len: number, prot: number, flags: number, fd: number, off: number): number {
    return this.call(NR.mmap, addr, len, prot, flags, fd, off);
  }

  munmap(addr: number, len: number): number {
    return this.call(NR.munmap, addr, len);
  }

  mprotect(addr: number, len: number, prot: number): number {
    return this.call(NR.mprotect, addr, len, prot);
  }

  /**
   * Open, inside the guest's host process, the file the kernel holds as
   * host fd `kernelFd`, through /proc/KERNELPID/fd: the very same file,
   * no path lookup on the host. `scratch` is guest memory the path string
   * may be written to. Returns the new host fd in the guest, or -errno.
   */
  openKernelFile(kernelFd: number, writable: boolean, scratch: number): number {
    const path = Buffer.from(`/proc/${this.platform.kernelHostPid}/fd/${kernelFd}\0`);
    if (this.platform.writeMem(this.hostTid, scratch, path, 0, path.length) !== path.length) return -E.EFAULT;
    return this.call(NR.open, scratch, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
  }

  close(fd: number): number {
    return this.call(NR.close, fd);
  }

  /** mmap of a kernel-held file: open it in the guest, map, close. */
  mmapKernelFile(addr: number, len: number, prot: number, flags: number, kernelFd: number, off: number,
    writable: boolean, scratch: number): number {
    const fd = this.openKernelFile(kernelFd, writable, scratch);
    if (fd < 0) return fd === -E.EFAULT ? -E.ENOMEM : fd;
    const r = this.mmap(addr, len, prot, flags, fd, off);
    this.close(fd);
    return r;
  }
}
