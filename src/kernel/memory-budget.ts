/**
 * The guest's memory (`vmctl boot --mem`) as the kernel spends it on the
 * guest's behalf: tmpfs pages (host memfds), pipe and FIFO buffers, inodes
 * and open file descriptions. Linux charges the same things to a memory
 * cgroup (shmem pages, pipe pages and the filp, inode and dentry caches are
 * all __GFP_ACCOUNT); here a charge that does not fit fails, and the caller
 * gives the guest the errno Linux gives when that allocation fails (ENOSPC
 * for tmpfs, ENOMEM for a pipe write, ENFILE for a new open file), so the
 * guest meets its limit long before the host's OOM killer could meet vmctl.
 *
 * Objects that live in the JavaScript heap (inodes, open files) have a
 * second bound: a share of V8's own heap limit, which is fixed when node
 * starts and may be smaller than --mem; going past it would end vmctl with
 * "JavaScript heap out of memory", whatever --mem says.
 */
import { getHeapStatistics } from 'node:v8';

/** Share of V8's heap limit that objects held for the guest may take; the rest is the kernel's own. */
const HEAP_SHARE = 0.5;

/** What one charge stands for: memory outside the JavaScript heap, or objects inside it. */
export const enum Charge {
  /** host memfd pages, ArrayBuffer contents (pipe data) */
  Data,
  /** JavaScript objects: inodes, directory entries, open file descriptions */
  Heap,
}

export class KernelMemory {
  /** --mem, in bytes: everything charged here stays below it */
  limit: number;
  used = 0;
  /** bytes of Heap charges, also counted in `used` */
  heapUsed = 0;
  readonly heapLimit: number;

  constructor(limit = Number.MAX_SAFE_INTEGER, heapLimit = Math.floor(getHeapStatistics().heap_size_limit * HEAP_SHARE)) {
    this.limit = limit;
    this.heapLimit = heapLimit;
  }

  /** Bytes a Data charge could still take. */
  get free(): number {
    return Math.max(0, this.limit - this.used);
  }

  /** Would a charge of `bytes` fit now? */
  fits(bytes: number, kind: Charge): boolean {
    return this.used + bytes <= this.limit && (kind !== Charge.Heap || this.heapUsed + bytes <= this.heapLimit);
  }

  /** Take `bytes`, or nothing when they do not fit: true if taken. */
  charge(bytes: number, kind: Charge): boolean {
    if (bytes <= 0) return true;
    if (!this.fits(bytes, kind)) return false;
    if (kind === Charge.Heap) this.heapUsed += bytes;
    this.used += bytes;
    return true;
  }

  /**
   * Take `bytes` whether they fit or not: for memory already in hand that
   * was briefly given back (a pipe read the guest could not take, put back).
   */
  force(bytes: number, kind: Charge): void {
    if (bytes <= 0) return;
    this.used += bytes;
    if (kind === Charge.Heap) this.heapUsed += bytes;
  }

  uncharge(bytes: number, kind: Charge): void {
    if (bytes <= 0) return;
    this.used = Math.max(0, this.used - bytes);
    if (kind === Charge.Heap) this.heapUsed = Math.max(0, this.heapUsed - bytes);
  }
}

/**
 * The running guest's budget. One guest kernel runs per vmctl process, and
 * the objects that charge it (pipes, tmpfs inodes) are made in places that
 * hold no kernel reference (a FIFO in the overlay root), as Linux's own
 * accounting finds the memory cgroup from the current task rather than
 * from an argument. Boot sets its limit from --mem.
 */
export const kernelMemory = new KernelMemory();

/** Heap charges held for an object until it lets go of what they stand for (an open directory's listing). */
const held = new WeakMap<object, number>();

/**
 * Charge `bytes` of heap for `owner`, in place of what it held before:
 * true, or false (and nothing held) when they do not fit.
 */
export function holdFor(owner: object, bytes: number): boolean {
  releaseFor(owner);
  if (!kernelMemory.charge(bytes, Charge.Heap)) return false;
  held.set(owner, bytes);
  return true;
}

/** Give back what `owner` held. */
export function releaseFor(owner: object): void {
  const bytes = held.get(owner);
  if (bytes === undefined) return;
  held.delete(owner);
  kernelMemory.uncharge(bytes, Charge.Heap);
}
