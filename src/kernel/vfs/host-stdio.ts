/**
 * The host's stdin, stdout and stderr as guest files, for
 * `vmctl boot --exec`: guest fds 0-2 then read and write whatever the host
 * gave vmctl (a pipe, a file, a terminal).
 *
 * Input is a Node stream (process.stdin) buffered here, so a guest read
 * never blocks the kernel: an empty buffer gives -EAGAIN and `queue` is
 * woken when data or EOF arrives. Output is written synchronously with
 * fs.writeSync; when the host fd is non-blocking and full (libuv makes
 * pipes non-blocking) the kernel's `pollWritable` waits for room.
 *
 * The inodes take their file type from the host's fstat, so `test -t 0`,
 * `test -p` and isatty() answer as they would on the host: TCGETS on a
 * host pipe is -ENOTTY; on a host terminal it returns a termios this module
 * keeps (changes are accepted but not applied to the host terminal).
 */
import { fstatSync, writeSync, type Stats } from 'node:fs';
import type { Readable } from 'node:stream';
import { isatty } from 'node:tty';
import { E } from '../errno.ts';
import { WaitQueue } from '../wait-queue.ts';
import {
  decodeTermios, defaultTermios, encodeTermios, FIONREAD, TCGETS, TCGETS2, TCSETS, TCSETS2, TCSETSF,
  TCSETSF2, TCSETSW, TCSETSW2, TIOCGPGRP, TIOCGSID, TIOCGWINSZ, TIOCSPGRP, TIOCSWINSZ, type Termios, writeBytes, writeI32,
} from './tty.ts';
import {
  POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, S_IFCHR, S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK,
  type FileOps, type FileSystem, type Inode, type IoctlContext, type Stat,
} from './types.ts';

/** Stop reading the host when this much is buffered; resume below a quarter of it. */
const HIGH_WATER = 1 << 20;
const LOW_WATER = HIGH_WATER / 4;

/**
 * Terminal ioctls for a host fd that is a terminal. The guest sees a tty
 * whose foreground group is always its own (job control belongs to the
 * host's shell here). Share one instance between fds on the same terminal.
 */
export class HostTtyState {
  termios: Termios = defaultTermios();

  constructor(
    /** the host terminal's size, if known */
    private readonly size: () => { rows: number; cols: number } | undefined = hostWindowSize,
  ) {}

  ioctl(ctx: IoctlContext, cmd: number, arg: number): number {
    switch (cmd >>> 0) {
      case TCGETS: return writeBytes(ctx, arg, encodeTermios(this.termios));
      case TCGETS2: return writeBytes(ctx, arg, encodeTermios(this.termios, true));
      case TCSETS: case TCSETSW: case TCSETSF: case TCSETS2: case TCSETSW2: case TCSETSF2: {
        const len = (cmd >>> 0) === TCSETS || (cmd >>> 0) === TCSETSW || (cmd >>> 0) === TCSETSF ? 36 : 44;
        const b = ctx.readMem(arg, len);
        if (typeof b === 'number') return b < 0 ? b : -E.EFAULT;
        if (b.byteLength < len) return -E.EFAULT;
        this.termios = decodeTermios(b, this.termios);
        return 0;
      }
      case TIOCGWINSZ: {
        const s = this.size() ?? { rows: 24, cols: 80 };
        const b = new Uint8Array(8);
        const v = new DataView(b.buffer);
        v.setUint16(0, s.rows, true);
        v.setUint16(2, s.cols, true);
        return writeBytes(ctx, arg, b);
      }
      case TIOCSWINSZ: return 0;
      case TIOCGPGRP: return writeI32(ctx, arg, ctx.pgid);
      case TIOCSPGRP: return 0;
      case TIOCGSID: return writeI32(ctx, arg, ctx.sid);
      default: return -E.ENOTTY;
    }
  }
}

function hostWindowSize(): { rows: number; cols: number } | undefined {
  for (const s of [process.stdout, process.stderr]) {
    if (s.isTTY && s.columns && s.rows) return { rows: s.rows, cols: s.columns };
  }
  return undefined;
}

function fdIsTty(fd: number): boolean {
  try {
    return isatty(fd);
  } catch {
    return false;
  }
}

/** The host's stdin (or another readable stream) as a guest file. */
export class HostInput {
  /** woken when data or EOF arrives */
  readonly queue = new WaitQueue();
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private ended = false;
  private started = false;
  private paused = false;
  private readonly tty: HostTtyState | undefined;
  private readonly ops: FileOps;

  private readonly onData = (chunk: Buffer | string): void => {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (b.byteLength === 0) return;
    this.chunks.push(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    this.buffered += b.byteLength;
    if (this.buffered > HIGH_WATER && !this.paused) {
      this.paused = true;
      this.stream.pause();
    }
    this.queue.wakeAll();
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    this.queue.wakeAll();
  };

  constructor(
    private readonly stream: Readable = process.stdin,
    /** the host fd behind `stream`, for fstat and isatty */
    readonly fd = 0,
    opts: { tty?: HostTtyState } = {},
  ) {
    this.tty = fdIsTty(fd) ? opts.tty ?? new HostTtyState() : undefined;
    this.ops = {
      seekable: false,
      read: (_f, _ctx, len) => this.read(len),
      poll: () => this.poll(),
      waitQueues: () => {
        this.start();
        return [this.queue];
      },
      ioctl: (_f, ctx, cmd, arg) => {
        if ((cmd >>> 0) === FIONREAD) return writeI32(ctx, arg, this.buffered);
        return this.tty ? this.tty.ioctl(ctx, cmd, arg) : -E.ENOTTY;
      },
    };
  }

  fileOps(): FileOps {
    return this.ops;
  }

  /**
   * Listen to the stream only once the guest wants input: a guest that
   * never reads leaves the host's stdin unread (and the Node process free
   * to exit).
   */
  private start(): void {
    if (this.started) return;
    this.started = true;
    this.stream.on('data', this.onData);
    this.stream.once('end', this.onEnd);
    // A read error (EIO on a vanished terminal) ends the input like EOF.
    this.stream.once('error', this.onEnd);
    this.stream.resume();
  }

  /** Buffered bytes, 0 at EOF, or -EAGAIN until `queue` is woken. */
  read(len: number): Uint8Array | number {
    this.start();
    if (len <= 0) return 0;
    if (this.buffered === 0) return this.ended ? 0 : -E.EAGAIN;
    const n = Math.min(len, this.buffered);
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const c = this.chunks[0]!;
      const take = Math.min(n - got, c.byteLength);
      out.set(c.subarray(0, take), got);
      got += take;
      if (take === c.byteLength) this.chunks.shift();
      else this.chunks[0] = c.subarray(take);
    }
    this.buffered -= n;
    if (this.paused && this.buffered < LOW_WATER) {
      this.paused = false;
      this.stream.resume();
    }
    return out;
  }

  poll(): number {
    this.start();
    if (this.buffered > 0) return POLLIN | POLLRDNORM;
    // A pipe whose writers are gone polls as hung up; a file or terminal as readable.
    if (this.ended) return POLLIN | POLLRDNORM | (this.tty ? 0 : POLLHUP);
    return 0;
  }

  /** Stop listening to the host (guest shutdown). */
  dispose(): void {
    if (!this.started) return;
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('error', this.onEnd);
    this.stream.pause();
  }
}

/**
 * Waits until host fd `fd` can take more output (poll(2) POLLOUT), given
 * by the kernel. A negative return (-errno) makes the write give up.
 */
export type PollWritable = (fd: number) => number | void;

const ERRNO_BY_CODE = E as Readonly<Record<string, number>>;

/** The host's stdout or stderr as a guest file. */
export class HostOutput {
  private readonly tty: HostTtyState | undefined;
  private readonly ops: FileOps;

  constructor(
    readonly fd: number,
    private readonly pollWritable: PollWritable,
    opts: { tty?: HostTtyState } = {},
  ) {
    this.tty = fdIsTty(fd) ? opts.tty ?? new HostTtyState() : undefined;
    this.ops = {
      seekable: false,
      write: (_f, _ctx, data) => this.write(data),
      poll: () => POLLOUT | POLLWRNORM,
      waitQueues: () => [],
      ioctl: (_f, ctx, cmd, arg) => (this.tty ? this.tty.ioctl(ctx, cmd, arg) : -E.ENOTTY),
    };
  }

  fileOps(): FileOps {
    return this.ops;
  }

  /**
   * All of `data`, as a blocking write would; bytes written before an
   * error are reported as a short write, as Linux does. EPIPE is returned
   * as -EPIPE: the syscall layer sends SIGPIPE.
   */
  write(data: Uint8Array): number {
    let off = 0;
    while (off < data.byteLength) {
      try {
        off += writeSync(this.fd, data, off, data.byteLength - off);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? '';
        if (code === 'EINTR') continue;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
          const r = this.pollWritable(this.fd);
          if (typeof r === 'number' && r < 0) return off > 0 ? off : r;
          continue;
        }
        if (off > 0) return off;
        return -(ERRNO_BY_CODE[code] ?? E.EIO);
      }
    }
    return off;
  }
}

/**
 * An inode for a host stdio fd (/dev/stdin's target in an --exec guest):
 * file type, permission bits, size and times are the host's; the inode
 * number and device are the guest filesystem's, the owner the guest's root.
 */
export function hostStdioInode(fs: FileSystem, ino: number, fd: number, ops: FileOps): Inode {
  let type = S_IFIFO;
  try {
    type = fstatSync(fd).mode & S_IFMT;
  } catch {
    // A closed host fd: a pipe with nobody on the other end.
  }
  return {
    fs,
    ino,
    type,
    getattr(): Stat | number {
      let st: Stats;
      try {
        st = fstatSync(fd);
      } catch {
        return -E.EIO;
      }
      const ts = (ms: number) => ({ sec: Math.floor(ms / 1000), nsec: Math.round((ms % 1000) * 1e6) });
      return {
        dev: fs.dev,
        ino,
        mode: type | (st.mode & 0o7777),
        nlink: 1,
        uid: 0,
        gid: 0,
        rdev: type === S_IFCHR ? st.rdev : 0,
        size: type === S_IFREG ? st.size : 0,
        blksize: type === S_IFREG || type === S_IFSOCK ? st.blksize : 4096,
        blocks: type === S_IFREG ? st.blocks : 0,
        atime: ts(st.atimeMs),
        mtime: ts(st.mtimeMs),
        ctime: ts(st.ctimeMs),
      };
    },
    open: () => ops,
  };
}
