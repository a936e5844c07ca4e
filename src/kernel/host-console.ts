/**
 * The guest's stdio on the host: either the kernel's console tty on the
 * host terminal (interactive boot), or the host's own stdin/stdout/stderr
 * (`--exec`). The host terminal goes raw while the console owns it and
 * back to its saved mode on every way out.
 */
import { E } from './errno.ts';
import { signalPgrp } from './io-context.ts';
import type { Kernel } from './kernel.ts';
import type { Process } from './task.ts';
import { HostInput, HostOutput, hostStdioInode } from './vfs/host-stdio.ts';
import { currentTtyInode, IUTF8, Tty, ttyInode } from './vfs/tty.ts';
import { OpenFile, type FileSystem, type Inode } from './vfs/types.ts';

const O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2;
const POLLOUT = 4;

export class HostConsole {
  readonly tty: Tty | undefined;
  private readonly out: HostOutput;
  private input: HostInput | undefined;
  private rawMode = false;
  private restored = false;
  private consoleNode: Inode | undefined;
  private readonly onData = (d: Buffer) => this.tty?.input(d);
  private readonly onResize = () => {
    if (process.stdout.rows && process.stdout.columns) this.tty?.resize(process.stdout.rows, process.stdout.columns);
  };
  private readonly onEnd = () => this.tty?.hangup();

  constructor(private readonly k: Kernel, readonly mode: 'console' | 'stdio') {
    const pollWritable = (fd: number) => {
      const r = k.platform.pollFd(fd, POLLOUT, -1);
      return r < 0 ? r : undefined;
    };
    this.out = new HostOutput(1, pollWritable);
    if (mode === 'console') {
      this.tty = new Tty({
        write: (bytes) => { this.out.write(bytes); },
        signalPgrp: (pgid, sig) => signalPgrp(k, pgid, sig),
        setTimer: (ms, fn) => k.timers.add(performanceNow() + ms, () => { fn(); k.kick(); }),
        detachSession: (sid) => {
          for (const p of k.procs.values()) if (p.sid === sid) p.ctty = undefined;
        },
      }, { rows: process.stdout.rows || 24, cols: process.stdout.columns || 80 });
      // Host terminals speak UTF-8: backspace erases a whole character.
      this.tty.termios.iflag |= IUTF8;
      if (process.stdin.isTTY) {
        k.platform.terminalSave(0);
        process.stdin.setRawMode(true);
        this.rawMode = true;
      }
      process.stdin.on('data', this.onData);
      process.stdin.on('end', this.onEnd);
      process.stdin.resume();
      process.stdout.on('resize', this.onResize);
      // Any way out of the process puts the terminal back: a normal exit,
      // an uncaught exception ('exit' runs), or a signal that would
      // otherwise end Node without its exit handlers.
      process.once('exit', () => this.restore());
      for (const sig of ['SIGTERM', 'SIGHUP', 'SIGQUIT'] as const) {
        process.once(sig, () => {
          this.restore();
          process.exit(128 + (sig === 'SIGTERM' ? 15 : sig === 'SIGHUP' ? 1 : 3));
        });
      }
    }
    this.pollWritable = pollWritable;
  }

  private readonly pollWritable: (fd: number) => number | undefined;

  /** The /dev/console inode (and the fs it claims to live in). */
  consoleInode(fs: FileSystem, ino: number): Inode {
    if (this.tty) this.consoleNode ??= ttyInode(this.tty, fs, ino);
    else this.consoleNode ??= stdioConsole(fs, ino, this.out);
    return this.consoleNode;
  }

  ttyAliasInode(fs: FileSystem, ino: number): Inode {
    return currentTtyInode(fs, ino);
  }

  /** fds 0, 1, 2 of init; in console mode init's session gets the console. */
  stdioFiles(init: Process, fs: FileSystem): OpenFile[] {
    if (this.tty) {
      const node = this.consoleInode(fs, 1);
      const ops = this.tty.ttyFileOps();
      this.tty.session = init.sid;
      this.tty.foregroundPgrp = init.pgid;
      init.ctty = this.tty;
      return [O_RDWR, O_RDWR, O_RDWR].map((fl) => new OpenFile(node, fl, ops, '/dev/console'));
    }
    this.input = new HostInput(process.stdin, 0);
    const err = new HostOutput(2, this.pollWritable);
    const inOps = this.input.fileOps(), outOps = this.out.fileOps(), errOps = err.fileOps();
    return [
      new OpenFile(hostStdioInode(fs, 100, 0, inOps), O_RDONLY, inOps, 'pipe:[0]'),
      new OpenFile(hostStdioInode(fs, 101, 1, outOps), O_WRONLY, outOps, 'pipe:[1]'),
      new OpenFile(hostStdioInode(fs, 102, 2, errOps), O_WRONLY, errOps, 'pipe:[2]'),
    ];
  }

  /** Give the host terminal and stdin back. Idempotent. */
  restore(): void {
    if (this.restored) return;
    this.restored = true;
    process.stdin.off('data', this.onData);
    process.stdin.off('end', this.onEnd);
    process.stdout.off('resize', this.onResize);
    if (this.rawMode) {
      try {
        process.stdin.setRawMode(false);
      } catch {
        // stdin already gone
      }
      this.k.platform.terminalRestore();
    }
    this.input?.dispose();
    process.stdin.pause();
    process.stdin.unref?.();
  }
}

function performanceNow(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Without a console tty (--exec), /dev/console writes to the host's stdout. */
function stdioConsole(fs: FileSystem, ino: number, out: HostOutput): Inode {
  const ops = out.fileOps();
  return {
    fs, ino, type: 0o020000,
    getattr: () => ({
      dev: fs.dev, ino, mode: 0o020620, nlink: 1, uid: 0, gid: 0, rdev: (5 << 8) | 1, size: 0, blksize: 4096,
      blocks: 0, atime: { sec: 0, nsec: 0 }, mtime: { sec: 0, nsec: 0 }, ctime: { sec: 0, nsec: 0 },
    }),
    open: (flags) => ((flags & 3) === O_RDONLY ? -E.EIO : ops),
  };
}
