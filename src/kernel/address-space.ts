/**
 * Operations that must happen inside a guest's host address space
 * (mmap of files, munmap, mprotect, brk). With the host helper patch they
 * are one PTRACE_VMCTL_MM_BATCH each, mapping the kernel's own fds;
 * otherwise the host syscalls are injected into the stopped guest thread.
 * The guest never sees them: its registers are the kernel's to set before
 * it resumes.
 */
import type { MmOp, Platform } from '../platform/platform.ts';
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

  /**
   * mmap of a kernel-held file: with the helper, the kernel's fd itself;
   * otherwise open it in the guest, map, close. `writable`: a shared
   * mapping the guest may make writable (its file is open for writing).
   */
  mmapKernelFile(addr: number, len: number, prot: number, flags: number, kernelFd: number, off: number,
    writable: boolean, scratch: number): number {
    // A shared mapping takes its right to PROT_WRITE from the file's open
    // mode (mmap(2), EACCES): the kernel's fd may be open for writing when
    // the guest's is not (tmpfs files), so those go the plain way.
    const shared = (flags & 3) !== MAP_PRIVATE;
    if ((!shared || writable) && !(flags & MAP_HUGETLB)) {
      const r = this.byHelper({ op: 'mmap', addr, len, prot, flags, fd: kernelFd, offset: off });
      if (r !== undefined) return r;
    }
    const fd = this.openKernelFile(kernelFd, writable, scratch);
    if (fd < 0) return fd === -E.EFAULT ? -E.ENOMEM : fd;
    const r = this.mmap(addr, len, prot, flags, fd, off);
    this.close(fd);
    return r;
  }
}
