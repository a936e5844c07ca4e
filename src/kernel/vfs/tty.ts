/**
 * The kernel's console tty: Linux's N_TTY line discipline (termios(3),
 * tty_ioctl(4), drivers/tty/n_tty.c) between the host terminal and the
 * guest.
 *
 * Input comes from the host (`input()`), goes through the input flags
 * (ICRNL, ...), ISIG (^C, ^\, ^Z to the foreground process group), and in
 * canonical mode the line editor (ERASE, KILL, WERASE, LNEXT, REPRINT,
 * EOF) before a guest `read` sees it. Echo and guest writes go through
 * output processing (OPOST, ONLCR, ...) to the host's `write`.
 *
 * A read that cannot proceed returns -EAGAIN and names `readQueue`; the
 * syscall layer blocks. Job control follows drivers/tty/tty_jobctrl.c: a
 * background process group reading (or writing under TOSTOP, or changing
 * the termios) gets SIGTTIN/SIGTTOU and -ERESTARTSYS, or -EIO when its group
 * is orphaned or it ignores the signal.
 *
 * Simplifications, each noted where it happens: VTIME runs one timer per
 * waiting read (no re-arming per byte); echo is not held back while output
 * is stopped by ^S; ECHOPRT and PARMRK are not implemented; bytes 0x80-0x9f
 * count as printable (Linux's ctype calls them control characters, which
 * garbles the echo of UTF-8 when ECHOCTL is on).
 */
import { E } from '../errno.ts';
import { SIGCONT, SIGHUP, SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGWINCH } from '../signal-state.ts';
import { WaitQueue } from '../wait-queue.ts';
import {
  POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, S_IFCHR,
  type FileOps, type FileSystem, type Inode, type IoContext, type IoctlContext, type OpenFile, type SetAttr,
  type Stat,
} from './types.ts';

// ----- termios constants (include/uapi/asm-generic/termbits.h, x86_64) -----

/** Number of control characters in the kernel's struct termios. */
export const NCCS = 19;
export const VINTR = 0, VQUIT = 1, VERASE = 2, VKILL = 3, VEOF = 4, VTIME = 5, VMIN = 6, VSWTC = 7,
  VSTART = 8, VSTOP = 9, VSUSP = 10, VEOL = 11, VREPRINT = 12, VDISCARD = 13, VWERASE = 14, VLNEXT = 15,
  VEOL2 = 16;

// c_iflag
export const IGNBRK = 0o1, BRKINT = 0o2, IGNPAR = 0o4, PARMRK = 0o10, INPCK = 0o20, ISTRIP = 0o40,
  INLCR = 0o100, IGNCR = 0o200, ICRNL = 0o400, IUCLC = 0o1000, IXON = 0o2000, IXANY = 0o4000,
  IXOFF = 0o10000, IMAXBEL = 0o20000, IUTF8 = 0o40000;
// c_oflag
export const OPOST = 0o1, OLCUC = 0o2, ONLCR = 0o4, OCRNL = 0o10, ONOCR = 0o20, ONLRET = 0o40,
  OFILL = 0o100, OFDEL = 0o200, TABDLY = 0o14000, XTABS = 0o14000;
// c_cflag
export const CBAUD = 0o10017, B38400 = 0o17, CSIZE = 0o60, CS8 = 0o60, CSTOPB = 0o100, CREAD = 0o200,
  PARENB = 0o400, HUPCL = 0o2000, CLOCAL = 0o4000;
// c_lflag
export const ISIG = 0o1, ICANON = 0o2, XCASE = 0o4, ECHO = 0o10, ECHOE = 0o20, ECHOK = 0o40,
  ECHONL = 0o100, NOFLSH = 0o200, TOSTOP = 0o400, ECHOCTL = 0o1000, ECHOPRT = 0o2000, ECHOKE = 0o4000,
  FLUSHO = 0o10000, PENDIN = 0o40000, IEXTEN = 0o100000, EXTPROC = 0o200000;

// ----- ioctl numbers (include/uapi/asm-generic/ioctls.h) -----

export const TCGETS = 0x5401, TCSETS = 0x5402, TCSETSW = 0x5403, TCSETSF = 0x5404, TCGETA = 0x5405,
  TCSETA = 0x5406, TCSETAW = 0x5407, TCSETAF = 0x5408, TCSBRK = 0x5409, TCXONC = 0x540a, TCFLSH = 0x540b,
  TIOCEXCL = 0x540c, TIOCNXCL = 0x540d, TIOCSCTTY = 0x540e, TIOCGPGRP = 0x540f, TIOCSPGRP = 0x5410,
  TIOCOUTQ = 0x5411, TIOCSTI = 0x5412, TIOCGWINSZ = 0x5413, TIOCSWINSZ = 0x5414, FIONREAD = 0x541b,
  TIOCINQ = FIONREAD, FIONBIO = 0x5421, TIOCNOTTY = 0x5422, TIOCSETD = 0x5423, TIOCGETD = 0x5424,
  TCSBRKP = 0x5425, TIOCSBRK = 0x5427, TIOCCBRK = 0x5428, TIOCGSID = 0x5429, TCGETS2 = 0x802c542a,
  TCSETS2 = 0x402c542b, TCSETSW2 = 0x402c542c, TCSETSF2 = 0x402c542d, TIOCGDEV = 0x80045432,
  TIOCVHANGUP = 0x5437, TIOCGEXCL = 0x80045440;
/** TCFLSH arguments */
export const TCIFLUSH = 0, TCOFLUSH = 1, TCIOFLUSH = 2;
/** TCXONC arguments */
export const TCOOFF = 0, TCOON = 1, TCIOFF = 2, TCION = 3;

const O_ACCMODE = 3, O_WRONLY = 1, O_NONBLOCK = 0o4000;
/** Linux's N_TTY_BUF_SIZE: the longest canonical line is one less. */
const N_TTY_BUF_SIZE = 4096;
/** Raw-mode input kept unread before more is dropped (Linux throttles the sender instead). */
const RAW_INPUT_MAX = 1 << 20;

// ----- termios values and their guest layouts -----

export interface Termios {
  iflag: number;
  oflag: number;
  cflag: number;
  lflag: number;
  line: number;
  /** NCCS control characters; 0 disables one (_POSIX_VDISABLE) */
  cc: Uint8Array;
  ispeed: number;
  ospeed: number;
}

export interface WinSize {
  rows: number;
  cols: number;
  xpixel?: number;
  ypixel?: number;
}

/** Linux's tty_std_termios (drivers/tty/tty_io.c) with INIT_C_CC. */
export function defaultTermios(): Termios {
  const cc = new Uint8Array(NCCS);
  cc[VINTR] = 0x03; cc[VQUIT] = 0x1c; cc[VERASE] = 0x7f; cc[VKILL] = 0x15; cc[VEOF] = 0x04;
  cc[VTIME] = 0; cc[VMIN] = 1; cc[VSWTC] = 0; cc[VSTART] = 0x11; cc[VSTOP] = 0x13; cc[VSUSP] = 0x1a;
  cc[VEOL] = 0; cc[VREPRINT] = 0x12; cc[VDISCARD] = 0x0f; cc[VWERASE] = 0x17; cc[VLNEXT] = 0x16;
  cc[VEOL2] = 0;
  return {
    iflag: ICRNL | IXON,
    oflag: OPOST | ONLCR,
    cflag: B38400 | CS8 | CREAD | HUPCL,
    lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
    line: 0,
    cc,
    ispeed: 38400,
    ospeed: 38400,
  };
}

function copyTermios(t: Termios): Termios {
  return { ...t, cc: t.cc.slice() };
}

/** struct termios (36 bytes) or, with `withSpeeds`, struct termios2 (44 bytes). */
export function encodeTermios(t: Termios, withSpeeds = false): Uint8Array {
  const b = new Uint8Array(withSpeeds ? 44 : 36);
  const v = new DataView(b.buffer);
  v.setUint32(0, t.iflag >>> 0, true);
  v.setUint32(4, t.oflag >>> 0, true);
  v.setUint32(8, t.cflag >>> 0, true);
  v.setUint32(12, t.lflag >>> 0, true);
  b[16] = t.line;
  b.set(t.cc.subarray(0, NCCS), 17);
  if (withSpeeds) {
    v.setUint32(36, t.ispeed >>> 0, true);
    v.setUint32(40, t.ospeed >>> 0, true);
  }
  return b;
}

/** Inverse of encodeTermios; speeds are kept from `prev` for a plain struct termios. */
export function decodeTermios(b: Uint8Array, prev: Termios): Termios {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const withSpeeds = b.byteLength >= 44;
  return {
    iflag: v.getUint32(0, true),
    oflag: v.getUint32(4, true),
    cflag: v.getUint32(8, true),
    lflag: v.getUint32(12, true),
    line: b[16]!,
    cc: b.slice(17, 17 + NCCS),
    ispeed: withSpeeds ? v.getUint32(36, true) : prev.ispeed,
    ospeed: withSpeeds ? v.getUint32(40, true) : prev.ospeed,
  };
}

/** struct termio (TCGETA): 16-bit flags, c_line, c_cc[8], padded to 18 bytes. */
function encodeTermio(t: Termios): Uint8Array {
  const b = new Uint8Array(18);
  const v = new DataView(b.buffer);
  v.setUint16(0, t.iflag & 0xffff, true);
  v.setUint16(2, t.oflag & 0xffff, true);
  v.setUint16(4, t.cflag & 0xffff, true);
  v.setUint16(6, t.lflag & 0xffff, true);
  b[8] = t.line;
  b.set(t.cc.subarray(0, 8), 9);
  return b;
}

/** TCSETA replaces the low 16 bits of each flag word (user_termio_to_kernel_termios). */
function decodeTermio(b: Uint8Array, prev: Termios): Termios {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const t = copyTermios(prev);
  t.iflag = ((prev.iflag & 0xffff0000) | v.getUint16(0, true)) >>> 0;
  t.oflag = ((prev.oflag & 0xffff0000) | v.getUint16(2, true)) >>> 0;
  t.cflag = ((prev.cflag & 0xffff0000) | v.getUint16(4, true)) >>> 0;
  t.lflag = ((prev.lflag & 0xffff0000) | v.getUint16(6, true)) >>> 0;
  t.line = b[8]!;
  t.cc.set(b.subarray(9, 17), 0);
  return t;
}

/** dev_t as the kernel's new_encode_dev() and glibc's makedev() agree for small numbers. */
function encodeDev(major: number, minor: number): number {
  return (minor & 0xff) + major * 0x100 + Math.floor(minor / 0x100) * 0x100000;
}

/** /dev/console is character device 5:1 (Documentation/admin-guide/devices.txt). */
export const CONSOLE_RDEV = encodeDev(5, 1);
/** /dev/tty, "the current tty device", is 5:0. */
export const CURRENT_TTY_RDEV = encodeDev(5, 0);

// ----- guest memory helpers for ioctl arguments -----

function readBytes(ctx: IoctlContext, addr: number, len: number): Uint8Array | number {
  const r = ctx.readMem(addr, len);
  if (typeof r === 'number') return r < 0 ? r : -E.EFAULT;
  return r.byteLength < len ? -E.EFAULT : r;
}

function readI32(ctx: IoctlContext, addr: number): { value: number } | number {
  const b = readBytes(ctx, addr, 4);
  if (typeof b === 'number') return b;
  return { value: new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true) };
}

/** Copy `data` to guest memory for an ioctl: 0 or -errno. */
export function writeBytes(ctx: IoctlContext, addr: number, data: Uint8Array): number {
  const r = ctx.writeMem(addr, data);
  return r < 0 ? r : 0;
}

/** An int result of an ioctl (TIOCGPGRP, FIONREAD). */
export function writeI32(ctx: IoctlContext, addr: number, value: number): number {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, value | 0, true);
  return writeBytes(ctx, addr, b);
}

// ----- the controlling-terminal contract shared with the kernel and procfs -----

/**
 * What the kernel and /proc need of any terminal that can be a controlling
 * tty (Process.ctty): the device number (/proc/PID/stat tty_nr), its
 * session and foreground group (tpgid), and how to open it (/dev/tty).
 */
export interface ControllingTty {
  readonly rdev: number;
  /** foreground process group; 0 when none */
  foregroundPgrp: number;
  /** session id of the session it controls; 0 when none */
  session: number;
  ttyFileOps(): FileOps;
}

export function isControllingTty(x: unknown): x is ControllingTty {
  return typeof x === 'object' && x !== null && typeof (x as ControllingTty).ttyFileOps === 'function';
}

/** What the Tty needs of the kernel and the host. */
export interface TtyHost {
  /** Bytes to the host terminal (after output processing). */
  write(bytes: Uint8Array): void;
  /** Signal every process of group `pgid` (input from the host has no guest caller). */
  signalPgrp(pgid: number, sig: number): void;
  /** A one-shot timer for VTIME; returns a cancel function. Default: Node's setTimeout. */
  setTimer?(ms: number, fn: () => void): () => void;
  /** hangup(): the processes of session `sid` lose their controlling tty. */
  detachSession?(sid: number): void;
}

interface InputRecord {
  bytes: number[];
  off: number;
}

interface VtimeWait {
  expired: boolean;
  cancel: () => void;
}

function isCntrl(c: number): boolean {
  return c < 0x20 || c === 0x7f;
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

const BS = 0x08, TAB = 0x09, NL = 0x0a, CR = 0x0d;

export class Tty implements ControllingTty {
  readonly rdev: number;
  termios: Termios = defaultTermios();
  winsize: Required<WinSize>;
  foregroundPgrp = 0;
  session = 0;
  hungUp = false;
  /** woken when input may have become readable */
  readonly readQueue = new WaitQueue();
  /** woken when output is restarted (^Q, TCOON) */
  readonly writeQueue = new WaitQueue();

  /** committed input: complete lines in canonical mode (an empty one is an EOF), raw bytes otherwise */
  private records: InputRecord[] = [];
  /** the canonical line being edited (Linux: canon_head..read_head) */
  private edit: number[] = [];
  private lnext = false;
  /** output column, for tab expansion and erasing tabs (Linux: ldata->column) */
  private column = 0;
  /** column where the line being edited started (Linux: canon_column) */
  private canonColumn = 0;
  /** output stopped by VSTOP or TCOOFF (tcoStopped) */
  private stopped = false;
  private tcoStopped = false;
  /** echo produced while handling one input() call, written at its end */
  private echoBuf: number[] = [];
  private readonly vtime = new Map<number, VtimeWait>();
  private readonly ops: FileOps;

  constructor(private readonly host: TtyHost, size: WinSize, rdev = CONSOLE_RDEV) {
    this.rdev = rdev;
    this.winsize = { rows: size.rows, cols: size.cols, xpixel: size.xpixel ?? 0, ypixel: size.ypixel ?? 0 };
    this.ops = {
      seekable: false,
      read: (f, ctx, len) => this.read(f, ctx, len),
      write: (f, ctx, data) => this.write(f, ctx, data),
      poll: () => this.poll(),
      waitQueues: () => [this.readQueue, this.writeQueue],
      ioctl: (f, ctx, cmd, arg) => this.ioctl(f, ctx, cmd, arg),
    };
  }

  ttyFileOps(): FileOps {
    return this.ops;
  }

  // ----- from the host -----

  /** Bytes typed on the host terminal. */
  input(bytes: Uint8Array): void {
    if (this.hungUp) return;
    for (const b of bytes) this.receive(b);
    this.flushEcho();
    this.readQueue.wakeAll();
  }

  /** The host terminal changed size: TIOCSWINSZ semantics, SIGWINCH to the foreground group. */
  resize(rows: number, cols: number): void {
    if (rows === this.winsize.rows && cols === this.winsize.cols) return;
    this.winsize = { ...this.winsize, rows, cols };
    if (this.foregroundPgrp) this.host.signalPgrp(this.foregroundPgrp, SIGWINCH);
  }

  /**
   * The host terminal went away. Like tty_signal_session_leader(): the
   * session leader gets SIGHUP and SIGCONT; afterwards reads return 0 and
   * writes -EIO (hung_up_tty_fops).
   */
  hangup(): void {
    if (this.hungUp) return;
    this.hungUp = true;
    const sid = this.session;
    if (sid) {
      this.host.signalPgrp(sid, SIGHUP);
      this.host.signalPgrp(sid, SIGCONT);
      this.host.detachSession?.(sid);
    }
    this.session = 0;
    this.foregroundPgrp = 0;
    this.flushInput();
    this.readQueue.wakeAll();
    this.writeQueue.wakeAll();
  }

  // ----- line discipline: input (n_tty_receive_char_special) -----

  private isChar(c: number, idx: number): boolean {
    const v = this.termios.cc[idx]!;
    return v !== 0 && c === v;
  }

  private receive(c: number): void {
    const { iflag: I, lflag: L } = this.termios;
    if (I & ISTRIP) c &= 0x7f;
    if ((I & IUCLC) && (L & IEXTEN) && c >= 0x41 && c <= 0x5a) c += 0x20;
    if (this.lnext) {
      // The character after LNEXT is taken literally (n_tty_receive_char_lnext).
      this.lnext = false;
      this.ordinary(c);
      return;
    }
    if (I & IXON) {
      if (this.isChar(c, VSTART)) { this.startOutput(); return; }
      if (this.isChar(c, VSTOP)) { this.stopped = true; return; }
    }
    if (L & ISIG) {
      if (this.isChar(c, VINTR)) return this.signalChar(SIGINT, c);
      if (this.isChar(c, VQUIT)) return this.signalChar(SIGQUIT, c);
      if (this.isChar(c, VSUSP)) return this.signalChar(SIGTSTP, c);
    }
    if (this.stopped && !this.tcoStopped && (I & IXON) && (I & IXANY)) this.startOutput();
    if (c === CR) {
      if (I & IGNCR) return;
      if (I & ICRNL) c = NL;
    } else if (c === NL && (I & INLCR)) {
      c = CR;
    }
    if (L & ICANON) {
      if (this.isChar(c, VERASE) || this.isChar(c, VKILL) || (this.isChar(c, VWERASE) && (L & IEXTEN))) {
        this.eraser(c);
        return;
      }
      if (this.isChar(c, VLNEXT) && (L & IEXTEN)) {
        this.lnext = true;
        if ((L & ECHO) && (L & ECHOCTL)) { this.echoRaw(0x5e); this.echoRaw(BS); }
        return;
      }
      if (this.isChar(c, VREPRINT) && (L & ECHO) && (L & IEXTEN)) {
        this.reprint(c);
        return;
      }
      if (c === NL) {
        if (L & (ECHO | ECHONL)) this.echoRaw(NL);
        this.edit.push(c);
        this.commitLine();
        return;
      }
      if (this.isChar(c, VEOF)) {
        // EOF ends the line without being part of it, and is not echoed;
        // on an empty line the read returns 0.
        this.commitLine();
        return;
      }
      if (this.isChar(c, VEOL) || (this.isChar(c, VEOL2) && (L & IEXTEN))) {
        if (L & ECHO) {
          if (this.edit.length === 0) this.canonColumn = this.column;
          this.echoChar(c);
        }
        this.edit.push(c);
        this.commitLine();
        return;
      }
    }
    this.ordinary(c);
  }

  /** n_tty_receive_char: echo and queue a character with no special meaning. */
  private ordinary(c: number): void {
    const L = this.termios.lflag;
    const canon = (L & ICANON) !== 0;
    // A full canonical line takes no more characters but its terminators.
    if (canon && this.edit.length >= N_TTY_BUF_SIZE - 1) return;
    if (!canon && this.rawCount() >= RAW_INPUT_MAX) return;
    if (L & ECHO) {
      // A literal newline in raw mode is echoed as a newline, not "^J" as Linux does.
      if (c === NL) this.echoRaw(NL);
      else {
        if (canon && this.edit.length === 0) this.canonColumn = this.column;
        this.echoChar(c);
      }
    }
    if (canon) this.edit.push(c);
    else this.pushRaw(c);
  }

  private pushRaw(c: number): void {
    const last = this.records[this.records.length - 1];
    if (last) last.bytes.push(c);
    else this.records.push({ bytes: [c], off: 0 });
  }

  /**
   * A complete line becomes readable. Unread lines are bounded as raw input
   * is (RAW_INPUT_MAX bytes, and no more lines than Linux's N_TTY_BUF_SIZE
   * buffer could hold): past that a line is dropped, so that input pushed
   * with TIOCSTI and never read cannot grow the kernel without bound.
   */
  private commitLine(): void {
    const full = this.records.length >= N_TTY_BUF_SIZE || this.rawCount() + this.edit.length > RAW_INPUT_MAX;
    if (!full) this.records.push({ bytes: this.edit, off: 0 });
    this.edit = [];
  }

  /** isig(): signal the foreground group; flush input unless NOFLSH. */
  private signalChar(sig: number, c: number): void {
    const { iflag: I, lflag: L } = this.termios;
    if (!(L & NOFLSH)) this.flushInput();
    if (this.foregroundPgrp) this.host.signalPgrp(this.foregroundPgrp, sig);
    if (I & IXON) this.startOutput();
    if (L & ECHO) this.echoChar(c);
  }

  private isContinuation(c: number): boolean {
    return (this.termios.iflag & IUTF8) !== 0 && (c & 0xc0) === 0x80;
  }

  /** n_tty's eraser(): ERASE, WERASE (BSD's ALTWERASE) and KILL. */
  private eraser(c: number): void {
    const L = this.termios.lflag;
    if (this.edit.length === 0) return;
    let kind: 'erase' | 'werase' | 'kill';
    if (this.isChar(c, VERASE)) kind = 'erase';
    else if (this.isChar(c, VWERASE)) kind = 'werase';
    else {
      if (!(L & ECHO)) { this.edit = []; return; }
      if (!(L & ECHOK) || !(L & ECHOKE) || !(L & ECHOE)) {
        this.edit = [];
        this.echoChar(c);
        if (L & ECHOK) this.echoRaw(NL);
        return;
      }
      kind = 'kill';
    }
    let seenAlnums = 0;
    while (this.edit.length > 0) {
      // Erase one character: with IUTF8 its continuation bytes go with it.
      let head = this.edit.length;
      let ch: number;
      do {
        head--;
        ch = this.edit[head]!;
      } while (this.isContinuation(ch) && head > 0);
      if (this.isContinuation(ch)) break;
      if (kind === 'werase') {
        if (isAlnum(ch) || ch === 0x5f) seenAlnums++;
        else if (seenAlnums) break;
      }
      this.edit.length = head;
      if (L & ECHO) {
        if (kind === 'erase' && !(L & ECHOE)) this.echoChar(this.termios.cc[VERASE]!);
        else if (ch === TAB) this.eraseTab();
        else {
          if (isCntrl(ch) && (L & ECHOCTL)) this.echoErase();
          if (!isCntrl(ch) || (L & ECHOCTL)) this.echoErase();
        }
      }
      if (kind === 'erase') break;
    }
  }

  private echoErase(): void {
    this.echoRaw(BS);
    this.echoRaw(0x20);
    this.echoRaw(BS);
  }

  /** Back up over a tab: the columns it took depend on what precedes it on the line. */
  private eraseTab(): void {
    const L = this.termios.lflag;
    let cols = 0;
    let afterTab = false;
    for (let i = this.edit.length - 1; i >= 0; i--) {
      const x = this.edit[i]!;
      if (x === TAB) { afterTab = true; break; }
      if (isCntrl(x)) { if (L & ECHOCTL) cols += 2; } else if (!this.isContinuation(x)) cols++;
    }
    if (!afterTab) cols += this.canonColumn;
    let n = 8 - (cols & 7);
    if (n > this.column) n = this.column;
    for (let i = 0; i < n; i++) this.echoRaw(BS);
  }

  private reprint(c: number): void {
    this.echoChar(c);
    this.echoRaw(NL);
    for (const x of this.edit) this.echoChar(x);
  }

  private flushInput(): void {
    this.records = [];
    this.edit = [];
    this.lnext = false;
  }

  private startOutput(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.tcoStopped = false;
    this.writeQueue.wakeAll();
  }

  // ----- line discipline: output (do_output_char) and echo -----

  /** Output processing of one byte into `out`, keeping the column. */
  private opost(c: number, out: number[]): void {
    const O = this.termios.oflag;
    if (!(O & OPOST)) { out.push(c); return; }
    switch (c) {
      case NL:
        if (O & ONLRET) this.column = 0;
        if (O & ONLCR) {
          this.canonColumn = this.column = 0;
          out.push(CR, NL);
          return;
        }
        this.canonColumn = this.column;
        break;
      case CR:
        if ((O & ONOCR) && this.column === 0) return;
        if (O & OCRNL) {
          c = NL;
          if (O & ONLRET) this.canonColumn = this.column = 0;
          break;
        }
        this.canonColumn = this.column = 0;
        break;
      case TAB: {
        const spaces = 8 - (this.column & 7);
        this.column += spaces;
        if ((O & TABDLY) === XTABS) {
          for (let i = 0; i < spaces; i++) out.push(0x20);
          return;
        }
        break;
      }
      case BS:
        if (this.column > 0) this.column--;
        break;
      default:
        if (!isCntrl(c)) {
          if ((O & OLCUC) && c >= 0x61 && c <= 0x7a) c -= 0x20;
          if (!this.isContinuation(c)) this.column++;
        }
    }
    out.push(c);
  }

  private echoRaw(c: number): void {
    this.opost(c, this.echoBuf);
  }

  /** echo_char(): control characters as "^X" under ECHOCTL (tab excepted). */
  private echoChar(c: number): void {
    if ((this.termios.lflag & ECHOCTL) && isCntrl(c) && c !== TAB) {
      this.echoBuf.push(0x5e, c ^ 0x40);
      this.column += 2;
    } else {
      this.echoRaw(c);
    }
  }

  private flushEcho(): void {
    if (this.echoBuf.length === 0) return;
    const out = Uint8Array.from(this.echoBuf);
    this.echoBuf = [];
    this.host.write(out);
  }

  // ----- job control (drivers/tty/tty_jobctrl.c) -----

  /** Is this the caller's controlling terminal (current->signal->tty == tty)? */
  private isCtty(ctx: IoContext): boolean {
    return ctx.ctty === this && this.session !== 0 && this.session === ctx.sid;
  }

  /**
   * __tty_check_change(): a background group touching its controlling tty
   * gets `sig` (SIGTTIN for reads, SIGTTOU for writes under TOSTOP and
   * termios changes). An ignored or blocked SIGTTOU lets the call proceed;
   * an ignored SIGTTIN or an orphaned group gets EIO.
   */
  private checkChange(ctx: IoContext, sig: number): number {
    if (!this.isCtty(ctx)) return 0;
    if (!this.foregroundPgrp || ctx.pgid === this.foregroundPgrp) return 0;
    if (ctx.ignoresSignal(sig)) return sig === SIGTTIN ? -E.EIO : 0;
    if (ctx.pgrpOrphaned(ctx.pgid)) return -E.EIO;
    ctx.signalPgrp(ctx.pgid, sig);
    return -E.ERESTARTSYS;
  }

  // ----- file operations -----

  private rawCount(): number {
    let n = 0;
    for (const r of this.records) n += r.bytes.length - r.off;
    return n;
  }

  /** input_available_p(): what poll(2) and FIONREAD report. */
  private inputAvailable(forPoll: boolean): boolean {
    if (this.termios.lflag & ICANON) return this.records.length > 0;
    const cc = this.termios.cc;
    const amt = forPoll && cc[VTIME] === 0 && cc[VMIN]! > 0 ? cc[VMIN]! : 1;
    return this.rawCount() >= amt;
  }

  /** Bytes of complete lines (canonical) or all bytes (raw): TIOCINQ. */
  private inq(): number {
    return this.rawCount();
  }

  private takeRaw(len: number): Uint8Array {
    const out: number[] = [];
    while (out.length < len && this.records.length > 0) {
      const r = this.records[0]!;
      const n = Math.min(len - out.length, r.bytes.length - r.off);
      for (let i = 0; i < n; i++) out.push(r.bytes[r.off + i]!);
      r.off += n;
      if (r.off >= r.bytes.length) this.records.shift();
    }
    return Uint8Array.from(out);
  }

  private takeLine(len: number): Uint8Array {
    const r = this.records[0]!;
    const n = Math.min(len, r.bytes.length - r.off);
    const out = Uint8Array.from(r.bytes.slice(r.off, r.off + n));
    r.off += n;
    // An empty record is an EOF: reading it returns 0 and removes it.
    if (r.off >= r.bytes.length) this.records.shift();
    return out;
  }

  private clearVtime(tid: number): void {
    const w = this.vtime.get(tid);
    if (!w) return;
    w.cancel();
    this.vtime.delete(tid);
  }

  /**
   * VTIME in tenths of a second for the read of thread `tid`: true once it
   * has run out. One timer per waiting read, started by its first wait
   * (Linux re-arms the MIN>0 inter-byte timer on every byte). A read
   * interrupted by a signal leaves its timer to the thread's next read.
   */
  private vtimeExpired(tid: number): boolean {
    const w = this.vtime.get(tid);
    if (w) {
      if (!w.expired) return false;
      this.vtime.delete(tid);
      return true;
    }
    const ms = this.termios.cc[VTIME]! * 100;
    const wait: VtimeWait = { expired: false, cancel: () => {} };
    const fire = (): void => {
      wait.expired = true;
      this.readQueue.wakeAll();
    };
    wait.cancel = this.host.setTimer ? this.host.setTimer(ms, fire) : nodeTimer(ms, fire);
    this.vtime.set(tid, wait);
    return false;
  }

  private read(_f: OpenFile, ctx: IoContext, len: number): Uint8Array | number {
    const jc = this.checkChange(ctx, SIGTTIN);
    if (jc) return jc;
    if (len <= 0) return 0;
    if (this.termios.lflag & ICANON) {
      if (this.records.length > 0) return this.takeLine(len);
      return this.hungUp ? 0 : -E.EAGAIN;
    }
    // Non-canonical: VMIN and VTIME (termios(3), "Noncanonical mode").
    const avail = this.rawCount();
    const min = this.termios.cc[VMIN]!;
    const time = this.termios.cc[VTIME]!;
    if (this.hungUp && avail === 0) return 0;
    if (min === 0 && time === 0) return this.takeRaw(len);
    if (avail >= Math.max(1, Math.min(min, len))) {
      this.clearVtime(ctx.tid);
      return this.takeRaw(len);
    }
    // MIN=0: wait at most TIME for any byte. MIN>0, TIME>0: once a byte
    // is there, wait at most TIME for the rest.
    if (time > 0 && (min === 0 || avail > 0)) {
      if (this.vtimeExpired(ctx.tid)) return this.takeRaw(len);
    }
    return -E.EAGAIN;
  }

  private write(_f: OpenFile, ctx: IoContext, data: Uint8Array): number {
    if (this.hungUp) return -E.EIO;
    if (this.termios.lflag & TOSTOP) {
      const jc = this.checkChange(ctx, SIGTTOU);
      if (jc) return jc;
    }
    if (data.byteLength === 0) return 0;
    if (this.stopped) return -E.EAGAIN;
    const out: number[] = [];
    for (const c of data) this.opost(c, out);
    this.host.write(Uint8Array.from(out));
    return data.byteLength;
  }

  private poll(): number {
    if (this.hungUp) return POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDNORM | POLLWRNORM;
    let m = 0;
    if (this.inputAvailable(true)) m |= POLLIN | POLLRDNORM;
    if (!this.stopped) m |= POLLOUT | POLLWRNORM;
    return m;
  }

  /** Replace the termios (TCSETS*): the line discipline follows mode changes (n_tty_set_termios). */
  setTermios(t: Termios): void {
    const old = this.termios;
    this.termios = copyTermios(t);
    if ((old.lflag ^ t.lflag) & ICANON) {
      // To raw: the partial line becomes readable. To canonical: whatever
      // is pending becomes one line that a read returns as it is.
      const pending: number[] = [];
      for (const r of this.records) for (let i = r.off; i < r.bytes.length; i++) pending.push(r.bytes[i]!);
      if (!(t.lflag & ICANON)) pending.push(...this.edit);
      this.records = pending.length > 0 ? [{ bytes: pending, off: 0 }] : [];
      this.edit = [];
      this.lnext = false;
    }
    if (!(t.iflag & IXON) && (old.iflag & IXON) && this.stopped && !this.tcoStopped) this.startOutput();
    this.readQueue.wakeAll();
  }

  private ioctl(f: OpenFile, ctx: IoctlContext, cmdIn: number, arg: number): number {
    const cmd = cmdIn >>> 0;
    switch (cmd) {
      case TCGETS: return writeBytes(ctx, arg, encodeTermios(this.termios));
      case TCGETS2: return writeBytes(ctx, arg, encodeTermios(this.termios, true));
      case TCGETA: return writeBytes(ctx, arg, encodeTermio(this.termios));
      case TCSETS: case TCSETSW: case TCSETSF:
      case TCSETS2: case TCSETSW2: case TCSETSF2:
      case TCSETA: case TCSETAW: case TCSETAF: {
        const jc = this.checkChange(ctx, SIGTTOU);
        if (jc) return jc;
        const termio = cmd === TCSETA || cmd === TCSETAW || cmd === TCSETAF;
        const size = termio ? 18 : cmd === TCSETS2 || cmd === TCSETSW2 || cmd === TCSETSF2 ? 44 : 36;
        const b = readBytes(ctx, arg, size);
        if (typeof b === 'number') return b;
        // TCSETSW would wait for output to drain: ours is written synchronously.
        if (cmd === TCSETSF || cmd === TCSETSF2 || cmd === TCSETAF) this.flushInput();
        this.setTermios(termio ? decodeTermio(b, this.termios) : decodeTermios(b, this.termios));
        return 0;
      }
      case TIOCGWINSZ: {
        const b = new Uint8Array(8);
        const v = new DataView(b.buffer);
        v.setUint16(0, this.winsize.rows, true);
        v.setUint16(2, this.winsize.cols, true);
        v.setUint16(4, this.winsize.xpixel, true);
        v.setUint16(6, this.winsize.ypixel, true);
        return writeBytes(ctx, arg, b);
      }
      case TIOCSWINSZ: {
        const b = readBytes(ctx, arg, 8);
        if (typeof b === 'number') return b;
        const v = new DataView(b.buffer, b.byteOffset, 8);
        const ws = { rows: v.getUint16(0, true), cols: v.getUint16(2, true), xpixel: v.getUint16(4, true), ypixel: v.getUint16(6, true) };
        const w = this.winsize;
        if (ws.rows === w.rows && ws.cols === w.cols && ws.xpixel === w.xpixel && ws.ypixel === w.ypixel) return 0;
        this.winsize = ws;
        if (this.foregroundPgrp) ctx.signalPgrp(this.foregroundPgrp, SIGWINCH);
        return 0;
      }
      case TIOCGPGRP:
        if (!this.isCtty(ctx)) return -E.ENOTTY;
        return writeI32(ctx, arg, this.foregroundPgrp);
      case TIOCSPGRP: return this.setPgrp(ctx, arg);
      case TIOCGSID:
        if (!this.isCtty(ctx) || !this.session) return -E.ENOTTY;
        return writeI32(ctx, arg, this.session);
      case TIOCSCTTY: return this.setCtty(f, ctx, arg);
      case TIOCNOTTY: return this.noCtty(ctx);
      case FIONREAD: return writeI32(ctx, arg, this.inq());
      case TIOCOUTQ: return writeI32(ctx, arg, 0);
      case TCFLSH: {
        const jc = this.checkChange(ctx, SIGTTOU);
        if (jc) return jc;
        if (arg !== TCIFLUSH && arg !== TCOFLUSH && arg !== TCIOFLUSH) return -E.EINVAL;
        if (arg !== TCOFLUSH) this.flushInput();
        return 0;
      }
      case TCXONC: {
        const jc = this.checkChange(ctx, SIGTTOU);
        if (jc) return jc;
        if (arg === TCOOFF) { this.stopped = this.tcoStopped = true; return 0; }
        if (arg === TCOON) { if (this.tcoStopped) { this.tcoStopped = false; this.startOutput(); } return 0; }
        // TCIOFF/TCION would send STOP/START to the terminal: the host terminal needs no flow control.
        return arg === TCIOFF || arg === TCION ? 0 : -E.EINVAL;
      }
      case TCSBRK: case TCSBRKP: case TIOCSBRK: case TIOCCBRK:
        // Drain (output is synchronous) and no break to send.
        return this.checkChange(ctx, SIGTTOU);
      case TIOCSTI: {
        if (!this.isCtty(ctx) && ctx.cred.euid !== 0) return -E.EPERM;
        const b = readBytes(ctx, arg, 1);
        if (typeof b === 'number') return b;
        this.input(b);
        return 0;
      }
      case TIOCGETD: return writeI32(ctx, arg, 0);
      case TIOCSETD: {
        const r = readI32(ctx, arg);
        if (typeof r === 'number') return r;
        return r.value === 0 ? 0 : -E.EINVAL;
      }
      case TIOCEXCL: case TIOCNXCL: return 0;
      case TIOCGEXCL: return writeI32(ctx, arg, 0);
      case TIOCGDEV: return writeI32(ctx, arg, this.rdev);
      case FIONBIO: {
        // Normally done by the syscall layer for every file.
        const r = readI32(ctx, arg);
        if (typeof r === 'number') return r;
        f.flags = r.value ? f.flags | O_NONBLOCK : f.flags & ~O_NONBLOCK;
        return 0;
      }
      case TIOCVHANGUP:
        if (ctx.cred.euid !== 0) return -E.EPERM;
        this.hangup();
        return 0;
      default:
        // KDGKBTYPE and the other VT ioctls included: we are a serial-like console.
        return -E.ENOTTY;
    }
  }

  /** tiocspgrp() */
  private setPgrp(ctx: IoctlContext, arg: number): number {
    const jc = this.checkChange(ctx, SIGTTOU);
    if (jc === -E.EIO) return -E.ENOTTY;
    if (jc) return jc;
    const r = readI32(ctx, arg);
    if (typeof r === 'number') return r;
    if (r.value < 0) return -E.EINVAL;
    if (!this.isCtty(ctx)) return -E.ENOTTY;
    // Linux says ESRCH for a group that does not exist at all; the context
    // only tells whether it is in the caller's session.
    if (!ctx.pgrpInSession(r.value)) return -E.EPERM;
    this.foregroundPgrp = r.value;
    return 0;
  }

  /** tiocsctty(): a session leader without a terminal takes this one. */
  private setCtty(f: OpenFile, ctx: IoctlContext, arg: number): number {
    if (ctx.sessionLeader && this.session !== 0 && this.session === ctx.sid) return 0;
    if (!ctx.sessionLeader || (ctx.ctty !== undefined && ctx.ctty !== null)) return -E.EPERM;
    const admin = ctx.cred.euid === 0;
    if (this.session) {
      // Another session's terminal: only root may steal it, asking with arg 1.
      if (arg !== 1 || !admin) return -E.EPERM;
      this.host.detachSession?.(this.session);
    }
    if ((f.flags & O_ACCMODE) === O_WRONLY && !admin) return -E.EPERM;
    const r = ctx.setCtty(this);
    if (r < 0) return r;
    this.session = ctx.sid;
    this.foregroundPgrp = ctx.pgid;
    return 0;
  }

  /**
   * TIOCNOTTY: give up the controlling terminal. A session leader's
   * session loses it and the foreground group gets SIGHUP and SIGCONT
   * (disassociate_ctty(0)).
   */
  private noCtty(ctx: IoctlContext): number {
    if (!this.isCtty(ctx)) return -E.ENOTTY;
    if (ctx.sessionLeader) {
      const fg = this.foregroundPgrp;
      if (fg) {
        ctx.signalPgrp(fg, SIGHUP);
        ctx.signalPgrp(fg, SIGCONT);
      }
      this.session = 0;
      this.foregroundPgrp = 0;
    }
    ctx.setCtty(undefined);
    return 0;
  }
}

function nodeTimer(ms: number, fn: () => void): () => void {
  const h = setTimeout(fn, ms);
  h.unref?.();
  return () => clearTimeout(h);
}

/** The FileOps of a tty (one object per tty; state lives in the Tty). */
export function ttyOps(tty: Tty): FileOps {
  return tty.ttyFileOps();
}

// ----- device inodes -----

export interface DeviceInodeOptions {
  mode?: number;
  uid?: number;
  gid?: number;
}

/** A character-device inode whose open() is `open`; chmod/chown/utimes are kept. */
class CharDevInode implements Inode {
  readonly type = S_IFCHR;
  private mode: number;
  private uid: number;
  private gid: number;
  private readonly times: { atime: Stat['atime']; mtime: Stat['mtime']; ctime: Stat['ctime'] };

  constructor(
    readonly fs: FileSystem,
    readonly ino: number,
    private readonly rdev: number,
    opts: DeviceInodeOptions,
    private readonly opener: (flags: number, ctx: IoContext) => FileOps | number,
  ) {
    this.mode = (opts.mode ?? 0o620) & 0o7777;
    this.uid = opts.uid ?? 0;
    this.gid = opts.gid ?? 0;
    const now = Date.now();
    const ts = { sec: Math.floor(now / 1000), nsec: (now % 1000) * 1e6 };
    this.times = { atime: ts, mtime: ts, ctime: ts };
  }

  getattr(): Stat {
    return {
      dev: this.fs.dev, ino: this.ino, mode: S_IFCHR | this.mode, nlink: 1, uid: this.uid, gid: this.gid,
      rdev: this.rdev, size: 0, blksize: 4096, blocks: 0, ...this.times,
    };
  }

  setattr(attr: SetAttr): number {
    if (attr.size !== undefined) return 0; // O_TRUNC on a device is ignored
    if (attr.mode !== undefined) this.mode = attr.mode & 0o7777;
    if (attr.uid !== undefined && attr.uid !== -1) this.uid = attr.uid;
    if (attr.gid !== undefined && attr.gid !== -1) this.gid = attr.gid;
    if (attr.atime) this.times.atime = attr.atime;
    if (attr.mtime) this.times.mtime = attr.mtime;
    const now = Date.now();
    this.times.ctime = { sec: Math.floor(now / 1000), nsec: (now % 1000) * 1e6 };
    return 0;
  }

  open(flags: number, ctx: IoContext): FileOps | number {
    return this.opener(flags, ctx);
  }
}

/** /dev/console: character device 5:1; opening it gives the tty's file operations. */
export function ttyInode(tty: Tty, fs: FileSystem, ino: number, opts: DeviceInodeOptions = {}): Inode {
  // Opening /dev/console never makes it a controlling tty (tty_open():
  // noctty for 5:1); the kernel gives it to init's session itself or a
  // session leader takes it with TIOCSCTTY.
  return new CharDevInode(fs, ino, tty.rdev, { mode: 0o620, ...opts }, () => tty.ttyFileOps());
}

/** /dev/tty (5:0): opens the caller's controlling terminal, ENXIO without one (tty(4)). */
export function currentTtyInode(fs: FileSystem, ino: number, opts: DeviceInodeOptions = {}): Inode {
  return new CharDevInode(fs, ino, CURRENT_TTY_RDEV, { mode: 0o666, ...opts }, (_flags, ctx) =>
    isControllingTty(ctx.ctty) ? ctx.ctty.ttyFileOps() : -E.ENXIO);
}
