/**
 * Framing of the gdb remote serial protocol over one TCP connection
 * (GDB manual, "Overview" and "Packet Acknowledgment" of appendix E,
 * "GDB Remote Serial Protocol"): `$payload#checksum`, the checksum the
 * sum of the payload bytes modulo 256 in two hex digits; `}` escapes
 * `$`, `#`, `}` and `*` (the byte XOR 0x20); each packet is acknowledged
 * with `+` (or `-` to ask for it again) until QStartNoAckMode; a lone
 * 0x03 byte outside a packet is an interrupt ("Interrupts").
 */
import type { Socket } from 'node:net';

export interface PacketHandlers {
  packet(payload: string): void;
  interrupt(): void;
}

function checksum(s: string): number {
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum = (sum + s.charCodeAt(i)) & 0xff;
  return sum;
}

/** Payload bytes as a latin1 string (one char per byte), escaped for the wire. */
function escape(payload: string): string {
  return payload.replace(/[$#}*]/g, (c) => `}${String.fromCharCode(c.charCodeAt(0) ^ 0x20)}`);
}

function unescape(data: string): string {
  return data.replace(/}([\s\S])/g, (_, c: string) => String.fromCharCode(c.charCodeAt(0) ^ 0x20));
}

export class PacketChannel {
  /** set after QStartNoAckMode: neither side acknowledges any more */
  noAck = false;
  private buf = '';
  private lastSent = '';

  constructor(private readonly sock: Socket, private readonly handlers: PacketHandlers) {
    sock.setEncoding('latin1');
    sock.setNoDelay(true);
    sock.on('data', (chunk: string) => this.receive(chunk));
  }

  send(payload: string): void {
    const body = escape(payload);
    this.lastSent = `$${body}#${checksum(body).toString(16).padStart(2, '0')}`;
    if (!this.sock.destroyed) this.sock.write(this.lastSent, 'latin1');
  }

  private receive(chunk: string): void {
    this.buf += chunk;
    for (;;) {
      const c = this.buf[0];
      if (c === undefined) return;
      if (c === '+') {
        this.buf = this.buf.slice(1);
      } else if (c === '-') {
        this.buf = this.buf.slice(1);
        if (this.lastSent && !this.sock.destroyed) this.sock.write(this.lastSent, 'latin1');
      } else if (c === '\x03') {
        this.buf = this.buf.slice(1);
        this.handlers.interrupt();
      } else if (c === '$') {
        const hash = this.buf.indexOf('#');
        if (hash < 0 || this.buf.length < hash + 3) return; // the rest is still on its way
        const body = this.buf.slice(1, hash);
        const sum = parseInt(this.buf.slice(hash + 1, hash + 3), 16);
        this.buf = this.buf.slice(hash + 3);
        if (sum !== checksum(body)) {
          if (!this.noAck) this.sock.write('-');
          continue;
        }
        if (!this.noAck) this.sock.write('+');
        this.handlers.packet(unescape(body));
      } else {
        this.buf = this.buf.slice(1); // line noise between packets
      }
    }
  }
}
