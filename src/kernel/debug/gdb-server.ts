/**
 * The TCP side of the stub: listens on 127.0.0.1:PORT for one gdb at a
 * time and wires its connection to a GdbProtocol on the debugged process.
 * A gdb that connects before the process is stopped (boot --gdb-exec
 * waiting for its program) is read from only once it is.
 *
 * One session per port: after gdb detaches, kills the process or sees it
 * exit, the port is closed again.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { PacketChannel } from './gdb-packets.ts';
import { type DebugTarget, GdbProtocol } from './gdb-protocol.ts';
import { DebugStubError } from './options.ts';

/** How long closing waits for gdb to read the last reply (W, OK) before the port goes. */
const FLUSH_MS = 2000;

export class GdbServer {
  private target: DebugTarget | undefined;
  private client: Socket | undefined;
  private protocol: GdbProtocol | undefined;
  private closing: Promise<void> | undefined;

  private constructor(private readonly server: Server, readonly port: number) {
    server.on('connection', (sock) => this.accept(sock));
  }

  static async listen(port: number): Promise<GdbServer> {
    const server = createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'EADDRINUSE' ? 'the port is in use; pick another one'
        : code === 'EACCES' ? 'not allowed (ports below 1024 need privileges); pick another one'
        : (e as Error).message;
      throw new DebugStubError(`cannot listen for gdb on 127.0.0.1:${port}: ${why}`);
    }
    return new GdbServer(server, port);
  }

  /** The debugged process is stopped: serve gdb on it. */
  serve(target: DebugTarget): void {
    this.target = target;
    if (this.client) this.wire(this.client, target);
  }

  private accept(sock: Socket): void {
    if (this.client || this.closing) {
      // one debugger per process, as with ptrace
      sock.destroy();
      return;
    }
    this.client = sock;
    sock.on('error', () => { /* gdb went away; 'close' follows */ });
    sock.on('close', () => {
      this.client = undefined;
      this.protocol?.disconnected();
    });
    if (this.target) this.wire(sock, this.target);
    else sock.pause();
  }

  private wire(sock: Socket, target: DebugTarget): void {
    let protocol: GdbProtocol | undefined;
    // VMCTL_GDB_TRACE=1: every packet on stderr, as gdb's `set debug remote 1` shows the other side
    const trace = process.env.VMCTL_GDB_TRACE ? (dir: string, p: string) => process.stderr.write(`gdb ${dir} ${p.slice(0, 200)}\n`) : undefined;
    const channel = new PacketChannel(sock, {
      packet: (p) => {
        trace?.('->', p);
        protocol?.handle(p);
      },
      interrupt: () => {
        trace?.('->', '^C');
        protocol?.interrupt();
      },
    });
    protocol = new GdbProtocol(target, (payload) => {
      trace?.('<-', payload);
      channel.send(payload);
    }, () => void this.close(), () => {
      channel.noAck = true;
    });
    this.protocol = protocol;
    sock.resume();
  }

  /** Let gdb read what was sent, then close the connection and the port. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close();
      const sock = this.client;
      if (!sock || sock.destroyed) {
        resolve();
        return;
      }
      const timer = setTimeout(() => {
        sock.destroy();
        resolve();
      }, FLUSH_MS);
      timer.unref();
      sock.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      sock.end();
    });
    return this.closing;
  }
}
