/**
 * Pipes and FIFOs (pipe(7), fifo(7)): a bounded byte queue with a count of
 * open read ends and write ends. Anonymous pipes (pipe2) live on `pipefs`;
 * a FIFO inode of any filesystem shares one `Pipe` among its openers.
 *
 * Nothing here blocks: a read of an empty pipe or a write to a full one
 * returns -EAGAIN and `waitQueues` names the queue whose wake-up means
 * "try again" (wait-queue.ts); the syscall layer blocks or, under
 * O_NONBLOCK, returns EAGAIN.
 *
 * The buffered bytes are the guest's memory (--mem): they are held in
 * page-sized (or larger) buffers that small writes fill up, as Linux merges
 * a small write into the last page of the ring, and each buffer is charged
 * to the guest's budget while it holds data. A write whose buffer cannot
 * be charged gets ENOMEM (after what did fit), as pipe_write() does when
 * alloc_page() fails.
 */
import { E } from '../errno.ts';
import { Charge, kernelMemory } from '../memory-budget.ts';
import { WaitQueue } from '../wait-queue.ts';
import { allocDev } from './mounts.ts';
import {
  POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, S_IFDIR, S_IFIFO,
  type DirEntry, type FileOps, type FileSystem, type Inode, type SetAttr, type Stat, type StatFs, type Timespec,
} from './types.ts';

/** Default pipe capacity since Linux 2.6.11 (pipe(7), "Pipe capacity"). */
export const PIPE_CAPACITY = 65536;
/** Writes of at most this many bytes are atomic (pipe(7), "PIPE_BUF"). */
export const PIPE_BUF = 4096;

const O_ACCMODE = 3, O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_NONBLOCK = 0o4000;
const PIPEFS_MAGIC = 0x50495045;

const clockBaseNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** Wall-clock time with nanoseconds, for inode timestamps. */
export function nowTimespec(): Timespec {
  const ns = clockBaseNs + process.hrtime.bigint();
  return { sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) };
}

const PAGE_SIZE = 4096;

/** One buffer of the ring: data in buf[start, end); `buf.length` is what it costs. */
interface Chunk {
  buf: Uint8Array;
  start: number;
  end: number;
}

/** Per-description state of one open end. */
interface End {
  readonly read: boolean;
  readonly write: boolean;
  /**
   * FIFO reader opened while no writer existed: Linux records the writer
   * counter then (fs/pipe.c, fifo_open: f_version = w_counter) and reports
   * no POLLHUP until a writer has come and gone.
   */
  readonly hupAfterWriter: number | undefined;
  /** FIFO end opened in blocking mode with no partner yet (see Pipe.openFifo). */
  readonly waitWriter: number | undefined;
  readonly waitReader: number | undefined;
  closed: boolean;
}

/** The pipe behind each open end, for fcntl's F_GETPIPE_SZ and F_SETPIPE_SZ (get_pipe_info). */
const pipes = new WeakMap<FileOps, Pipe>();

/** The pipe an open file is an end of (an anonymous pipe or a FIFO), if it is one. */
export function pipeOf(ops: FileOps): Pipe | undefined {
  return pipes.get(ops);
}

export class Pipe {
  readers = 0;
  writers = 0;
  /** Opens of each side so far, to tell "no partner yet" from "partner gone" (fs/pipe.c r_counter/w_counter). */
  rCounter = 0;
  wCounter = 0;
  /** Woken when data arrives or the last writer goes (readers retry). */
  readonly readWait = new WaitQueue();
  /** Woken when space frees up or the last reader goes (writers retry). */
  readonly writeWait = new WaitQueue();
  atime: Timespec;
  mtime: Timespec;

  private chunks: Chunk[] = [];
  private buffered = 0;

  /** `capacity`: bytes it holds before a writer must wait (F_SETPIPE_SZ changes it) */
  constructor(public capacity = PIPE_CAPACITY) {
    this.atime = this.mtime = nowTimespec();
  }

  /**
   * F_SETPIPE_SZ: the new capacity, `bytes` (a power-of-two number of
   * pages), or -EBUSY when what is buffered already takes more pages
   * (pipe_resize_ring). The caller has applied the rules of who may ask.
   */
  resize(bytes: number): number {
    if (Math.ceil(this.buffered / PAGE_SIZE) * PAGE_SIZE > bytes) return -E.EBUSY;
    this.capacity = bytes;
    this.writeWait.wakeAll();
    return bytes;
  }

  /** Bytes waiting to be read (FIONREAD, st_size). */
  get size(): number {
    return this.buffered;
  }

  /** The two ends of a new anonymous pipe (pipe(2)). */
  openPair(): { readOps: FileOps; writeOps: FileOps } {
    return { readOps: this.openEnd(true, false, false), writeOps: this.openEnd(false, true, false) };
  }

  /**
   * Open a FIFO end (fifo(7)). Linux blocks a reader's open until a writer
   * opens and a writer's open until a reader opens. The VFS open cannot
   * block, so the open succeeds at once and the wait moves into the first
   * transfer: such a reader's read returns -EAGAIN (instead of EOF) and
   * such a writer's write returns -EAGAIN (instead of EPIPE) until a
   * partner has opened; the other end's open wakes them. O_NONBLOCK opens
   * follow fifo(7) exactly: a reader succeeds, a writer with no reader
   * gets ENXIO. O_RDWR never waits.
   */
  openFifo(flags: number): FileOps | number {
    const acc = flags & O_ACCMODE;
    const nonblock = (flags & O_NONBLOCK) !== 0;
    if (acc === O_RDONLY) return this.openEnd(true, false, !nonblock);
    if (acc === O_WRONLY) {
      if (nonblock && this.readers === 0) return -E.ENXIO;
      return this.openEnd(false, true, !nonblock);
    }
    if (acc === O_RDWR) return this.openEnd(true, true, false);
    return -E.EINVAL;
  }

  private openEnd(read: boolean, write: boolean, fifoBlocking: boolean): FileOps {
    const noWriters = read && !write && this.writers === 0;
    const noReaders = write && !read && this.readers === 0;
    const end: End = {
      read,
      write,
      hupAfterWriter: noWriters ? this.wCounter : undefined,
      waitWriter: fifoBlocking && noWriters ? this.wCounter : undefined,
      waitReader: fifoBlocking && noReaders ? this.rCounter : undefined,
      closed: false,
    };
    if (read) {
      this.readers++;
      this.rCounter++;
      this.writeWait.wakeAll();
    }
    if (write) {
      this.writers++;
      this.wCounter++;
      this.readWait.wakeAll();
    }
    const ops: FileOps = {
      seekable: false,
      read: (_f, _ctx, len) => (end.read ? this.read(end, len) : -E.EBADF),
      unread: (_f, data) => this.unread(data),
      write: (_f, _ctx, data) => (end.write ? this.write(end, data) : -E.EBADF),
      poll: () => this.poll(end),
      waitQueues: () => [...(end.read ? [this.readWait] : []), ...(end.write ? [this.writeWait] : [])],
      release: () => this.release(end),
    };
    pipes.set(ops, this);
    return ops;
  }

  private read(end: End, len: number): Uint8Array | number {
    if (len <= 0) return 0;
    if (this.buffered === 0) {
      if (this.writers > 0) return -E.EAGAIN;
      if (end.waitWriter !== undefined && this.wCounter === end.waitWriter) return -E.EAGAIN;
      return 0;
    }
    const n = Math.min(len, this.buffered);
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0]!;
      const take = Math.min(n - off, c.end - c.start);
      out.set(c.buf.subarray(c.start, c.start + take), off);
      off += take;
      c.start += take;
      if (c.start === c.end) {
        this.chunks.shift();
        kernelMemory.uncharge(c.buf.length, Charge.Data);
      }
    }
    this.buffered -= n;
    this.atime = nowTimespec();
    this.writeWait.wakeAll();
    return out;
  }

  /**
   * Bytes a reader could not deliver go back in front, in order. Their
   * memory was given back by the read an instant ago: it is taken again
   * whatever the budget says, since the data must not be lost.
   */
  private unread(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.unshift({ buf: data, start: 0, end: data.length });
    kernelMemory.force(data.length, Charge.Data);
    this.buffered += data.length;
    this.readWait.wakeAll();
  }

  /**
   * pipe(7), "PIPE_BUF": up to PIPE_BUF bytes go in whole or not at all;
   * more may go in part, as much as fits. No reader: EPIPE (the syscall
   * layer raises SIGPIPE).
   */
  private write(end: End, data: Uint8Array): number {
    // fs/pipe.c pipe_write: an empty write returns 0 before any reader check (no SIGPIPE).
    if (data.length === 0) return 0;
    if (this.readers === 0) {
      if (end.waitReader !== undefined && this.rCounter === end.waitReader) return -E.EAGAIN;
      return -E.EPIPE;
    }
    const space = this.capacity - this.buffered;
    if (data.length <= PIPE_BUF ? space < data.length : space === 0) return -E.EAGAIN;
    const want = Math.min(space, data.length);
    const n = this.append(data.subarray(0, want), data.length <= PIPE_BUF);
    if (n === 0) return -E.ENOMEM;
    this.buffered += n;
    this.mtime = nowTimespec();
    this.readWait.wakeAll();
    return n;
  }

  /**
   * Copy `data` into the ring: into the room left in the last buffer
   * first, then into a new buffer charged to the guest's memory. Returns
   * the bytes taken: all, or (the budget being spent) what fit, which is
   * none for an atomic write that did not fit whole.
   */
  private append(data: Uint8Array, atomic: boolean): number {
    const last = this.chunks[this.chunks.length - 1];
    const room = last && last.start < last.end ? last.buf.length - last.end : 0;
    const first = Math.min(room, data.length);
    const rest = data.length - first;
    let size = 0;
    if (rest > 0) {
      size = Math.ceil(rest / PAGE_SIZE) * PAGE_SIZE;
      if (!kernelMemory.charge(size, Charge.Data)) {
        // What fits in the last buffer's room still goes in, unless the write must be whole.
        if (atomic || first === 0) return 0;
        size = 0;
      }
    }
    if (first > 0) {
      last!.buf.set(data.subarray(0, first), last!.end);
      last!.end += first;
    }
    if (size > 0) {
      const buf = new Uint8Array(size);
      buf.set(data.subarray(first));
      this.chunks.push({ buf, start: 0, end: rest });
    }
    return first + (size > 0 ? rest : 0);
  }

  /** fs/pipe.c pipe_poll(). */
  private poll(end: End): number {
    let mask = 0;
    if (end.read) {
      if (this.buffered > 0) mask |= POLLIN | POLLRDNORM;
      if (this.writers === 0 && end.hupAfterWriter !== this.wCounter) mask |= POLLHUP;
    }
    if (end.write) {
      // Linux reports POLLOUT while a page slot is free: here, while PIPE_BUF fits.
      if (this.capacity - this.buffered >= PIPE_BUF) mask |= POLLOUT | POLLWRNORM;
      if (this.readers === 0) mask |= POLLERR;
    }
    return mask;
  }

  private release(end: End): void {
    if (end.closed) return;
    end.closed = true;
    if (end.read && --this.readers === 0) this.writeWait.wakeAll();
    if (end.write && --this.writers === 0) this.readWait.wakeAll();
    // The buffer belongs to the open pipe: a FIFO reopened later starts empty.
    if (this.readers === 0 && this.writers === 0) {
      for (const c of this.chunks) kernelMemory.uncharge(c.buf.length, Charge.Data);
      this.chunks = [];
      this.buffered = 0;
    }
  }
}

/** The inode of an anonymous pipe: what fstat and /proc/PID/fd show ("pipe:[ino]"). */
export class PipeInode implements Inode {
  readonly type = S_IFIFO;
  private mode = S_IFIFO | 0o600;
  private ctime: Timespec;

  constructor(
    readonly fs: FileSystem,
    readonly ino: number,
    readonly pipe: Pipe,
    private uid = 0,
    private gid = 0,
  ) {
    this.ctime = nowTimespec();
  }

  getattr(): Stat {
    return {
      dev: this.fs.dev, ino: this.ino, mode: this.mode, nlink: 1, uid: this.uid, gid: this.gid, rdev: 0,
      size: this.pipe.size, blksize: 4096, blocks: 0,
      atime: this.pipe.atime, mtime: this.pipe.mtime,
      ctime: later(this.ctime, this.pipe.mtime),
    };
  }

  setattr(a: SetAttr): number {
    if (a.size !== undefined) return -E.EINVAL;
    if (a.mode !== undefined) this.mode = S_IFIFO | (a.mode & 0o7777);
    if (a.uid !== undefined) this.uid = a.uid;
    if (a.gid !== undefined) this.gid = a.gid;
    if (a.atime) this.pipe.atime = a.atime;
    if (a.mtime) this.pipe.mtime = a.mtime;
    this.ctime = nowTimespec();
    return 0;
  }

  /** open("/proc/self/fd/N") of a pipe opens it again, with FIFO rules (fifo(7)). */
  open(flags: number): FileOps | number {
    return this.pipe.openFifo(flags);
  }
}

function later(a: Timespec, b: Timespec): Timespec {
  return a.sec > b.sec || (a.sec === b.sec && a.nsec >= b.nsec) ? a : b;
}

/** The filesystem anonymous pipes belong to (never mounted; /proc/filesystems lists it). */
export class PipeFs implements FileSystem {
  readonly type = 'pipefs';
  readonly dev = allocDev();
  readonly root: Inode;
  private nextIno = 2;

  constructor() {
    const fs = this;
    const stamp = nowTimespec();
    this.root = {
      fs, ino: 1, type: S_IFDIR,
      getattr: (): Stat => ({
        dev: fs.dev, ino: 1, mode: S_IFDIR | 0o600, nlink: 2, uid: 0, gid: 0, rdev: 0, size: 0, blksize: 4096,
        blocks: 0, atime: stamp, mtime: stamp, ctime: stamp,
      }),
      readdir: (): DirEntry[] => [],
    };
  }

  allocIno(): number {
    return this.nextIno++;
  }

  statfs(): StatFs {
    return { type: PIPEFS_MAGIC, bsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, namelen: 255 };
  }
}

export const pipefs = new PipeFs();

/** A new pipe on `fs` with inode number `ino`: its two ends and its inode. */
export function createPipe(fs: FileSystem, ino: number, owner?: { uid: number; gid: number }):
  { readOps: FileOps; writeOps: FileOps; inode: PipeInode; pipe: Pipe } {
  const pipe = new Pipe();
  const inode = new PipeInode(fs, ino, pipe, owner?.uid ?? 0, owner?.gid ?? 0);
  return { ...pipe.openPair(), inode, pipe };
}

/** pipe2(2)'s pipe: a new pipe on `pipefs`, owned by the caller. */
export function createAnonPipe(owner?: { uid: number; gid: number }):
  { readOps: FileOps; writeOps: FileOps; inode: PipeInode; pipe: Pipe } {
  return createPipe(pipefs, pipefs.allocIno(), owner);
}
