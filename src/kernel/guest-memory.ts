/**
 * Typed copies in and out of a guest address space (process_vm_readv/
 * writev through the platform), so handlers never compute offsets by hand
 * at the call site. Every call returns -EFAULT for an address the guest
 * could not access itself.
 */
import type { Platform } from '../platform/platform.ts';
import { E } from './errno.ts';

const PAGE = 4096;
/** The top of the x86_64 user address space (TASK_SIZE_MAX). */
export const TASK_SIZE = 0x7ffffffff000;

export class GuestMemory {
  private readonly scratch = Buffer.alloc(PAGE);

  constructor(private readonly platform: Platform) {}

  /** Copy `len` bytes from the guest; -EFAULT unless every byte is readable. */
  read(pid: number, addr: number, len: number): Buffer | number {
    if (len === 0) return Buffer.alloc(0);
    if (!validRange(addr, len)) return -E.EFAULT;
    const buf = Buffer.allocUnsafe(len);
    const n = this.platform.readMem(pid, addr, buf, 0, len);
    if (n !== len) return -E.EFAULT;
    return buf;
  }

  /** Copy up to `len` bytes; stops at the first unreadable page. */
  readPartial(pid: number, addr: number, len: number): Buffer {
    if (len === 0 || !validRange(addr, Math.min(len, 1))) return Buffer.alloc(0);
    const buf = Buffer.allocUnsafe(len);
    const n = this.platform.readMem(pid, addr, buf, 0, len);
    return n > 0 ? buf.subarray(0, n) : Buffer.alloc(0);
  }

  write(pid: number, addr: number, data: Uint8Array): number {
    if (data.length === 0) return 0;
    if (!validRange(addr, data.length)) return -E.EFAULT;
    const n = this.platform.writeMem(pid, addr, data, 0, data.length);
    return n === data.length ? 0 : -E.EFAULT;
  }

  /** Bytes written before the first fault (read(2) into a partly bad buffer). */
  writePartial(pid: number, addr: number, data: Uint8Array): number {
    if (data.length === 0) return 0;
    if (!validRange(addr, 1)) return -E.EFAULT;
    const n = this.platform.writeMem(pid, addr, data, 0, data.length);
    return n < 0 ? -E.EFAULT : n;
  }

  /** read(2) of host file `fd` into the guest: Platform.fileToGuest after access_ok(). */
  fromFile(pid: number, fd: number, pos: number, addr: number, len: number): number {
    if (!validRange(addr, len)) return -E.EFAULT;
    return this.platform.fileToGuest(fd, pos, pid, addr, len);
  }

  /** write(2) of guest memory into host file `fd`: Platform.guestToFile after access_ok(). */
  toFile(pid: number, fd: number, pos: number, addr: number, len: number): number {
    if (!validRange(addr, len)) return -E.EFAULT;
    return this.platform.guestToFile(fd, pos, pid, addr, len);
  }

  /** Write through page protection: the kernel filling read-only pages. */
  forceWrite(pid: number, addr: number, data: Uint8Array): number {
    if (data.length === 0) return 0;
    const n = this.platform.forceWriteMem(pid, addr, data, 0, data.length);
    return n === data.length ? 0 : -E.EFAULT;
  }

  /**
   * A NUL-terminated string of at most `max` bytes (including the NUL):
   * -EFAULT on a bad pointer, -ENAMETOOLONG when no NUL comes in time.
   */
  readCString(pid: number, addr: number, max = 4096): string | number {
    if (!validRange(addr, 1)) return -E.EFAULT;
    const parts: Buffer[] = [];
    let total = 0;
    while (total < max) {
      const chunk = Math.min(PAGE - (addr % PAGE), max - total);
      const n = this.platform.readMem(pid, addr, this.scratch, 0, chunk);
      if (n <= 0) return -E.EFAULT;
      const nul = this.scratch.indexOf(0);
      if (nul >= 0 && nul < n) {
        // Most strings end in their first page: decoded from the scratch buffer, no copy.
        if (parts.length === 0) return this.scratch.toString('utf8', 0, nul);
        parts.push(this.scratch.subarray(0, nul));
        return Buffer.concat(parts).toString('utf8');
      }
      parts.push(Buffer.from(this.scratch.subarray(0, n)));
      total += n;
      addr += n;
    }
    return -E.ENAMETOOLONG;
  }

  /** A path argument: PATH_MAX 4096 including the NUL. */
  readPath(pid: number, addr: number): string | number {
    return this.readCString(pid, addr, 4096);
  }

  readU32(pid: number, addr: number): number {
    const b = this.read(pid, addr, 4);
    return typeof b === 'number' ? b : b.readUInt32LE(0);
  }

  readI32(pid: number, addr: number): number | undefined {
    const b = this.read(pid, addr, 4);
    return typeof b === 'number' ? undefined : b.readInt32LE(0);
  }

  /** A u64 as a number (exact below 2^53); negative means -EFAULT. */
  readU64(pid: number, addr: number): number {
    const b = this.read(pid, addr, 8);
    if (typeof b === 'number') return b;
    return b.readUInt32LE(4) * 4294967296 + b.readUInt32LE(0);
  }

  writeU32(pid: number, addr: number, v: number): number {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(v >>> 0, 0);
    return this.write(pid, addr, b);
  }

  writeI32(pid: number, addr: number, v: number): number {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32LE(v | 0, 0);
    return this.write(pid, addr, b);
  }

  writeU64(pid: number, addr: number, v: number): number {
    const b = Buffer.allocUnsafe(8);
    writeU64(b, 0, v);
    return this.write(pid, addr, b);
  }

  /**
   * iovec array (readv/writev) as Linux imports it (lib/iov_iter.c): more
   * than UIO_MAXIOV entries or a negative (ssize_t) length is EINVAL, a
   * buffer outside the user address space (access_ok) EFAULT, before any
   * I/O; lengths are then cut so the total is at most MAX_RW_COUNT.
   */
  readIovec(pid: number, addr: number, count: number): { base: number; len: number }[] | number {
    if (count < 0 || count > 1024) return -E.EINVAL;
    if (count === 0) return [];
    const b = this.read(pid, addr, 16 * count);
    if (typeof b === 'number') return b;
    for (let i = 0; i < count; i++) if (b.readInt32LE(16 * i + 12) < 0) return -E.EINVAL;
    const out: { base: number; len: number }[] = [];
    let total = 0;
    for (let i = 0; i < count; i++) {
      const base = readU64(b, 16 * i);
      let len = readU64(b, 16 * i + 8);
      if (!accessOk(base, len)) return -E.EFAULT;
      if (len > MAX_RW_COUNT - total) len = MAX_RW_COUNT - total;
      total += len;
      out.push({ base, len });
    }
    return out;
  }
}

/** The most one read or write moves (MAX_RW_COUNT: INT_MAX rounded down to a page). */
const MAX_RW_COUNT = 0x7ffff000;

/**
 * access_ok() as recent x86_64 kernels check it (6.18 here): the range lies
 * below TASK_SIZE_MAX (address 0 included; it faults later). 6.1 checked
 * only that the end has no sign bit.
 */
export function accessOk(addr: number, len: number): boolean {
  return len <= TASK_SIZE && addr >= 0 && addr <= TASK_SIZE - len;
}

/** A range the kernel may copy to or from: access_ok(), not at address 0, with exact numbers. */
export function validRange(addr: number, len: number): boolean {
  return addr > 0 && len >= 0 && Number.isSafeInteger(addr) && accessOk(addr, len);
}

export function readU64(b: Buffer, off: number): number {
  return b.readUInt32LE(off + 4) * 4294967296 + b.readUInt32LE(off);
}

export function readI64(b: Buffer, off: number): number {
  return b.readInt32LE(off + 4) * 4294967296 + b.readUInt32LE(off);
}

export function writeU64(b: Buffer, off: number, v: number): void {
  const hi = Math.floor(v / 4294967296);
  b.writeUInt32LE((v - hi * 4294967296) >>> 0, off);
  b.writeInt32LE(hi | 0, off + 4);
}
