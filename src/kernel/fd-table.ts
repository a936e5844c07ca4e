/**
 * A process's file descriptor table (shared by CLONE_FILES threads,
 * copied on fork). Descriptors point at shared open file descriptions.
 */
import { E } from './errno.ts';
import { Charge, kernelMemory, releaseFor } from './memory-budget.ts';
import type { OpenFile } from './vfs/types.ts';

/**
 * What an open file description costs the guest's memory while a
 * descriptor refers to it: the kernel's objects for it (the description,
 * its ops and their closures, the fd entries), measured at about 2.8 KB
 * for an open tmpfs file, rounded up. Linux charges its struct file to
 * the memory cgroup too (filp_cachep is SLAB_ACCOUNT).
 */
const FILE_COST = 4096;

interface FdEntry {
  file: OpenFile;
  cloexec: boolean;
}

export class FdTable {
  private readonly fds: (FdEntry | undefined)[] = [];
  /** RLIMIT_NOFILE: descriptors are below it */
  limit = 1024;

  get(fd: number): OpenFile | undefined {
    if (!Number.isInteger(fd) || fd < 0) return undefined;
    return this.fds[fd]?.file;
  }

  getCloexec(fd: number): boolean {
    return this.fds[fd]?.cloexec ?? false;
  }

  setCloexec(fd: number, on: boolean): void {
    const e = this.fds[fd];
    if (e) e.cloexec = on;
  }

  /**
   * Lowest free descriptor >= minFd (open, dup, F_DUPFD). EMFILE past
   * RLIMIT_NOFILE; ENFILE when a new description does not fit in the
   * guest's memory (alloc_empty_file's "too many open files in system").
   */
  install(file: OpenFile, cloexec: boolean, minFd = 0): number {
    for (let fd = minFd; fd < this.limit; fd++) {
      if (!this.fds[fd]) return this.place(fd, file, cloexec);
    }
    return -E.EMFILE;
  }

  /** dup2/dup3: replace whatever `fd` held. */
  installAt(fd: number, file: OpenFile, cloexec: boolean): number {
    if (fd < 0 || fd >= this.limit) return -E.EBADF;
    const old = this.fds[fd];
    const r = this.place(fd, file, cloexec);
    if (r >= 0 && old) drop(old.file);
    return r;
  }

  /** Put `file` at `fd`; a new description (no refs yet) is charged to the guest's memory: fd, or ENFILE. */
  private place(fd: number, file: OpenFile, cloexec: boolean): number {
    if (file.refs === 0 && !kernelMemory.charge(FILE_COST, Charge.Heap)) return -E.ENFILE;
    this.fds[fd] = { file, cloexec };
    file.refs++;
    return fd;
  }

  close(fd: number): number {
    const e = Number.isInteger(fd) && fd >= 0 ? this.fds[fd] : undefined;
    if (!e) return -E.EBADF;
    this.fds[fd] = undefined;
    drop(e.file);
    return 0;
  }

  /** fork(2): a copy sharing the open file descriptions. */
  fork(): FdTable {
    const t = new FdTable();
    t.limit = this.limit;
    this.fds.forEach((e, fd) => {
      if (e) {
        t.fds[fd] = { file: e.file, cloexec: e.cloexec };
        e.file.refs++;
      }
    });
    return t;
  }

  closeOnExec(): void {
    this.fds.forEach((e, fd) => {
      if (e?.cloexec) this.close(fd);
    });
  }

  closeAll(): void {
    this.fds.forEach((e, fd) => {
      if (e) this.close(fd);
    });
  }

  *entries(): IterableIterator<[number, OpenFile]> {
    for (let fd = 0; fd < this.fds.length; fd++) {
      const e = this.fds[fd];
      if (e) yield [fd, e.file];
    }
  }

  get count(): number {
    let n = 0;
    for (const e of this.fds) if (e) n++;
    return n;
  }
}

function drop(file: OpenFile): void {
  if (--file.refs !== 0) return;
  kernelMemory.uncharge(FILE_COST, Charge.Heap);
  releaseFor(file);
  file.ops.release?.(file);
}
