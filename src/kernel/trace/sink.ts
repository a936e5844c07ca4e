/**
 * Where trace lines go: stderr, written at once so they interleave with
 * the guest's own output as they happened, or a file, buffered and
 * flushed when the buffer fills and when the guest is over.
 */
import { closeSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';

const FLUSH_AT = 64 * 1024;

export class TraceSink {
  private buf: string[] = [];
  private bytes = 0;
  private closed = false;
  private readonly onExit = () => this.flush();
  /** A terminal may be in raw mode (the guest's console): end lines with CR LF there. */
  private readonly eol: string;

  /**
   * `fd` is 2 (unbuffered) or a file vmctl opened (buffered, closed by
   * close()). `waitWritable` waits until a non-blocking fd takes more.
   */
  constructor(private readonly fd: number, private readonly waitWritable: (fd: number) => void) {
    // A vmctl that exits before close() (an error, process.exit) still leaves a complete file.
    if (fd !== 2) process.on('exit', this.onExit);
    this.eol = isatty(fd) ? '\r\n' : '\n';
  }

  line(text: string): void {
    if (this.closed) return;
    if (this.fd === 2) {
      this.write(text + this.eol);
      return;
    }
    this.buf.push(text);
    this.bytes += text.length + 1;
    if (this.bytes >= FLUSH_AT) this.flush();
  }

  flush(): void {
    if (this.buf.length === 0) return;
    const text = this.buf.join(this.eol) + this.eol;
    this.buf = [];
    this.bytes = 0;
    this.write(text);
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.fd !== 2) {
      process.off('exit', this.onExit);
      closeSync(this.fd);
    }
  }

  private write(text: string): void {
    const data = Buffer.from(text);
    let off = 0;
    while (off < data.length) {
      try {
        off += writeSync(this.fd, data, off, data.length - off);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
          this.waitWritable(this.fd);
          continue;
        }
        if (code === 'EINTR') continue;
        // The reader went away (EPIPE) or the disk is full: tracing stops, the guest goes on.
        this.closed = true;
        return;
      }
    }
  }
}
