/**
 * The space of one tmpfs mount, as Linux's shmem_sb_info keeps it: pages
 * of file data against `size=` (max_blocks) and inodes, plus one per extra
 * hard link, against `nr_inodes=` (max_inodes), both also charged to the
 * guest's memory (--mem). A limit of 0 means none of the mount's own; the
 * guest's memory still bounds it. See mm/shmem.c: shmem_inode_acct_blocks,
 * shmem_reserve_inode, shmem_statfs, shmem_reconfigure.
 */
import { E } from '../errno.ts';
import { Charge, kernelMemory, type KernelMemory } from '../memory-budget.ts';
import { BOGO_INODE_SIZE, defaultBlocks, defaultInodes, PAGE_SIZE, type TmpfsParams } from './tmpfs-options.ts';

/**
 * What an inode, or a name, costs the guest's memory: the kernel's objects
 * for it in the JavaScript heap (inode, directory entry, name), measured at
 * about 400 bytes for an empty file; BOGO_INODE_SIZE rounds that up as
 * Linux rounds its own inode cost for nr_inodes.
 */
const INODE_HEAP_COST = BOGO_INODE_SIZE;

export function pagesUp(bytes: number): number {
  return Math.ceil(bytes / PAGE_SIZE);
}

export class TmpfsSpace {
  /** size= in pages; 0: no limit of its own */
  maxBlocks: number;
  /** nr_inodes=; 0: no limit of its own */
  maxInodes: number;
  usedBlocks = 0;
  /** inodes alive (unlinked but open ones included) and extra hard links */
  usedInodes = 0;

  constructor(readonly ramBytes: number, params: TmpfsParams = {}, readonly memory: KernelMemory = kernelMemory) {
    this.maxBlocks = params.blocks ?? defaultBlocks(ramBytes);
    this.maxInodes = params.inodes ?? defaultInodes(ramBytes);
  }

  /** Pages that could still be taken: the mount's own limit and the guest's memory. */
  freeBlocks(): number {
    const own = this.maxBlocks > 0 ? Math.max(0, this.maxBlocks - this.usedBlocks) : Number.MAX_SAFE_INTEGER;
    return Math.min(own, Math.floor(this.memory.free / PAGE_SIZE));
  }

  /** Take `n` pages, all or none. */
  takeBlocks(n: number): boolean {
    if (n <= 0) return true;
    if (this.maxBlocks > 0 && this.usedBlocks + n > this.maxBlocks) return false;
    if (!this.memory.charge(n * PAGE_SIZE, Charge.Data)) return false;
    this.usedBlocks += n;
    return true;
  }

  putBlocks(n: number): void {
    if (n <= 0) return;
    this.usedBlocks = Math.max(0, this.usedBlocks - n);
    this.memory.uncharge(n * PAGE_SIZE, Charge.Data);
  }

  /** shmem_reserve_inode(): ENOSPC past nr_inodes or the guest's memory. */
  takeInode(): number {
    if (this.maxInodes > 0 && this.usedInodes >= this.maxInodes) return -E.ENOSPC;
    if (!this.memory.charge(INODE_HEAP_COST, Charge.Heap)) return -E.ENOSPC;
    this.usedInodes++;
    return 0;
  }

  /**
   * The root directory, which exists whatever the limits say. It counts
   * against nr_inodes as Linux's does, but not against the guest's memory:
   * it goes with the mount (the number of mounts is bounded), and is never
   * put back.
   */
  forceInode(): void {
    this.usedInodes++;
  }

  putInode(): void {
    if (this.usedInodes === 0) return;
    this.usedInodes--;
    this.memory.uncharge(INODE_HEAP_COST, Charge.Heap);
  }

  /**
   * shmem_reconfigure(): a remount's size= and nr_inodes= (mode, uid and
   * gid are only for the first mount). EINVAL, changing nothing, for a
   * limit below what is in use or a limit on a mount that had none.
   */
  remount(p: TmpfsParams): number {
    if (p.blocks !== undefined && p.blocks > 0) {
      if (this.maxBlocks === 0) return -E.EINVAL; // "Cannot retroactively limit size"
      if (this.usedBlocks > p.blocks) return -E.EINVAL; // "Too small a size for current use"
    }
    if (p.inodes !== undefined && p.inodes > 0) {
      if (this.maxInodes === 0) return -E.EINVAL; // "Cannot retroactively limit inodes"
      if (this.usedInodes > p.inodes) return -E.EINVAL; // "Too few inodes for current use"
    }
    if (p.blocks !== undefined) this.maxBlocks = p.blocks;
    if (p.inodes !== undefined) this.maxInodes = p.inodes;
    return 0;
  }

  /** shmem_statfs(): f_blocks and f_files are 0 for a mount without that limit. */
  statfs(): { blocks: number; bfree: number; files: number; ffree: number } {
    const blocks = this.maxBlocks;
    const bfree = blocks > 0 ? Math.max(0, blocks - this.usedBlocks) : 0;
    const files = this.maxInodes;
    const ffree = files > 0 ? Math.max(0, files - this.usedInodes) : 0;
    return { blocks, bfree, files, ffree };
  }
}
