/**
 * A process's file descriptor table (shared by CLONE_FILES threads,
 * copied on fork). Descriptors point at shared open file descriptions.
 */
import { E } from './errno.ts';
import type { OpenFile } from './vfs/types.ts';

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

  /** Lowest free descriptor >= minFd (open, dup, F_DUPFD). */
  install(file: OpenFile, cloexec: boolean, minFd = 0): number {
    for (let fd = minFd; fd < this.limit; fd++) {
      if (!this.fds[fd]) {
        this.fds[fd] = { file, cloexec };
        file.refs++;
        return fd;
      }
    }
    return -E.EMFILE;
  }

  /** dup2/dup3: replace whatever `fd` held. */
  installAt(fd: number, file: OpenFile, cloexec: boolean): number {
    if (fd < 0 || fd >= this.limit) return -E.EBADF;
    const old = this.fds[fd];
    this.fds[fd] = { file, cloexec };
    file.refs++;
    if (old) drop(old.file);
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
  if (--file.refs === 0) file.ops.release?.(file);
}
