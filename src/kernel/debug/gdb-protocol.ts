/**
 * The packets of the gdb remote serial protocol this stub answers, in the
 * words of the GDB manual (appendix E, "GDB Remote Serial Protocol",
 * sections "Packets", "Stop Reply Packets", "General Query Packets").
 * An all-stop stub: when one thread stops every thread of the process is
 * stopped before gdb hears of it. It speaks to a DebugTarget, never to the
 * kernel directly; framing is gdb-packets.ts's.
 *
 * "For any command not supported by the stub, an empty response ('$#00')
 * should be returned" ("Packets"): the default of the dispatcher below.
 */
import { Reg } from '../../platform/regs.ts';
import { fromGdbSignal, toGdbSignal } from './gdb-signals.ts';
import { registerBytes, REGISTERS, type RegisterFile, targetXml } from './gdb-registers.ts';

/** Why the process stopped (or ended), for a stop reply. Signals are Linux's. */
export type StopEvent =
  | { kind: 'signal'; tid: number; signal: number }
  | { kind: 'exited'; code: number }
  | { kind: 'killed'; signal: number };

/** One vCont action: `tid` -1 applies to every thread no earlier action named. */
export interface ResumeAction {
  tid: number;
  step: boolean;
  /** Linux signal to deliver, 0 for none */
  signal: number;
}

/** What the protocol needs of the debugged process (src/kernel/debug/session.ts). */
export interface DebugTarget {
  readonly pid: number;
  /** live guest tids, the main thread first */
  threads(): number[];
  threadName(tid: number): string;
  /** registers of a stopped thread; changes are kept by commitRegisters */
  registers(tid: number): RegisterFile | undefined;
  commitRegisters(tid: number, file: RegisterFile): boolean;
  /** as many bytes from `addr` as are readable (breakpoints hidden) */
  readMemory(addr: number, len: number): Uint8Array;
  /** write ignoring page protection (text); false if it could not */
  writeMemory(addr: number, data: Uint8Array): boolean;
  insertBreakpoint(addr: number): boolean;
  removeBreakpoint(addr: number): boolean;
  resume(actions: ResumeAction[]): void;
  /** gdb's ^C: stop every thread, then report a stop */
  interrupt(): void;
  kill(): void;
  detach(): void;
  /** The stop to report now; undefined while threads are still stopping (report comes through onReport). */
  currentStop(): StopEvent | undefined;
  onReport: ((ev: StopEvent) => void) | undefined;
}

/** "PacketSize=bytes: the maximum size of a packet the stub can accept" (qSupported); hex on the wire. */
const PACKET_SIZE = 0x4000;

const hex = (n: number) => n.toString(16);
const hex2 = (n: number) => n.toString(16).padStart(2, '0');

function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += hex2(b);
  return s;
}

function fromHex(s: string): Uint8Array | undefined {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return undefined;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A hex number; NaN when it is not one. */
function num(s: string | undefined): number {
  return s !== undefined && /^[0-9a-fA-F]+$/.test(s) ? parseInt(s, 16) : NaN;
}

/** "thread-id" ("Packets"): `p`pid`.`tid with multiprocess, else a tid; -1 all threads, 0 any thread. */
function parseThreadId(s: string): number {
  const m = /^(?:p(-1|[0-9a-fA-F]+)(?:\.(-1|[0-9a-fA-F]+))?|(-1|[0-9a-fA-F]+))$/.exec(s);
  if (!m) return NaN;
  const tid = m[3] ?? m[2] ?? '-1';
  return tid === '-1' ? -1 : parseInt(tid, 16);
}

export class GdbProtocol {
  private multiprocess = false;
  /** thread of g/G/p/P/m/M ('Hg'), and of c/s ('Hc'); 0: any */
  private gThread = 0;
  private cThread = -1;
  /** a c/s/vCont is in progress: the next stop is gdb's answer */
  private running = false;
  /** `?` came while the threads were still stopping */
  private questionPending = false;
  private finished = false;

  constructor(
    private readonly target: DebugTarget,
    private readonly send: (payload: string) => void,
    /** after D, k and W/X: the session is over */
    private readonly end: () => void,
    private readonly startNoAck: () => void,
  ) {
    target.onReport = (ev) => this.stopped(ev);
  }

  /** Stop Reply Packets: `T AA n1:r1;...`, `W AA`, `X AA`, with `;process:pid` under multiprocess. */
  private stopReply(ev: StopEvent): string {
    const proc = this.multiprocess ? `;process:${hex(this.target.pid)}` : '';
    switch (ev.kind) {
      case 'signal':
        return `T${hex2(toGdbSignal(ev.signal))}thread:${this.threadId(ev.tid)};`;
      case 'exited':
        return `W${hex2(ev.code & 0xff)}${proc}`;
      case 'killed':
        return `X${hex2(toGdbSignal(ev.signal))}${proc}`;
    }
  }

  private threadId(tid: number): string {
    return this.multiprocess ? `p${hex(this.target.pid)}.${hex(tid)}` : hex(tid);
  }

  private stopped(ev: StopEvent): void {
    if (this.finished) return;
    if (ev.kind === 'signal') this.gThread = ev.tid;
    if (this.running || this.questionPending || ev.kind !== 'signal') {
      this.running = false;
      this.questionPending = false;
      this.send(this.stopReply(ev));
    }
    if (ev.kind !== 'signal') this.finish();
  }

  private finish(): void {
    this.finished = true;
    this.end();
  }

  /** gdb's ^C ("Interrupts"): only meaningful while the process runs. */
  interrupt(): void {
    if (this.running) this.target.interrupt();
  }

  /** The connection went away without D or k: let the process go as a detach would. */
  disconnected(): void {
    if (this.finished) return;
    this.finished = true;
    this.target.detach();
  }

  handle(p: string): void {
    if (this.finished) return;
    const reply = this.dispatch(p);
    if (reply !== undefined) this.send(reply);
  }

  /** One packet; undefined: no reply now (resumed, or killed). */
  private dispatch(p: string): string | undefined {
    switch (p[0]) {
      case '?':
        // "Indicate the reason the target halted."
        return this.question();
      case 'g':
        return this.readRegisters();
      case 'G':
        return this.writeRegisters(p.slice(1));
      case 'p':
        return this.readRegister(p.slice(1));
      case 'P':
        return this.writeRegister(p.slice(1));
      case 'm':
        return this.readMemory(p.slice(1));
      case 'M':
        return this.writeMemory(p.slice(1));
      case 'Z':
      case 'z':
        return this.breakpoint(p[0] === 'Z', p.slice(1));
      case 'c':
      case 's':
        return this.legacyResume(p[0] === 's', 0, p.slice(1));
      case 'C':
      case 'S': {
        // "C sig[;addr]": continue with signal sig (hex)
        const [sig, addr] = p.slice(1).split(';');
        return this.legacyResume(p[0] === 'S', fromGdbSignal(num(sig)), addr ?? '');
      }
      case 'H':
        return this.setThread(p.slice(1));
      case 'T':
        // "T thread-id: Find out if the thread thread-id is alive."
        return this.target.threads().includes(parseThreadId(p.slice(1))) ? 'OK' : 'E01';
      case 'D':
        // "D / D;pid: detach GDB from the remote system"
        this.target.detach();
        this.send('OK');
        this.finish();
        return undefined;
      case 'k':
        // "k: Kill request" (no reply is expected)
        this.target.kill();
        this.finish();
        return undefined;
      case 'v':
        return this.vPacket(p);
      case 'q':
      case 'Q':
        return this.query(p);
      default:
        return '';
    }
  }

  private question(): string | undefined {
    const ev = this.target.currentStop();
    if (ev === undefined) {
      this.questionPending = true;
      return undefined;
    }
    if (ev.kind === 'signal') this.gThread = ev.tid;
    return this.stopReply(ev);
  }

  /** The thread `Hg` chose, or the one that stopped last. */
  private regThread(): number {
    const all = this.target.threads();
    return this.gThread > 0 && all.includes(this.gThread) ? this.gThread : all[0] ?? 0;
  }

  private readRegisters(): string {
    const file = this.target.registers(this.regThread());
    return file ? toHex(file.readAll()) : 'E01';
  }

  private writeRegisters(data: string): string {
    const tid = this.regThread();
    const file = this.target.registers(tid);
    const bytes = fromHex(data);
    if (!file || !bytes || !file.writeAll(bytes)) return 'E01';
    return this.target.commitRegisters(tid, file) ? 'OK' : 'E01';
  }

  private readRegister(arg: string): string {
    const n = num(arg);
    const file = this.target.registers(this.regThread());
    if (!file) return 'E01';
    if (!(n >= 0 && n < REGISTERS.length)) return 'E00';
    return toHex(file.read(n));
  }

  private writeRegister(arg: string): string {
    // "P n...=r...: Write register n... with value r..."
    const [n, value] = arg.split('=');
    const regno = num(n);
    const bytes = fromHex(value ?? '');
    const tid = this.regThread();
    const file = this.target.registers(tid);
    if (!file) return 'E01';
    if (!(regno >= 0 && regno < REGISTERS.length) || !bytes || bytes.length !== registerBytes(regno)) return 'E00';
    file.write(regno, bytes);
    return this.target.commitRegisters(tid, file) ? 'OK' : 'E01';
  }

  private readMemory(arg: string): string {
    // "m addr,length": "The reply may contain fewer addressable memory units than requested"
    const [a, l] = arg.split(',');
    const addr = num(a), len = Math.min(num(l), PACKET_SIZE / 2 - 8);
    if (Number.isNaN(addr) || Number.isNaN(len)) return 'E00';
    const data = this.target.readMemory(addr, len);
    return data.length > 0 || len === 0 ? toHex(data) : 'E14';
  }

  private writeMemory(arg: string): string {
    // "M addr,length:XX..."
    const m = /^([0-9a-fA-F]+),([0-9a-fA-F]+):([0-9a-fA-F]*)$/.exec(arg);
    const bytes = m ? fromHex(m[3]!) : undefined;
    if (!m || !bytes || bytes.length !== num(m[2])) return 'E00';
    return this.target.writeMemory(num(m[1]), bytes) ? 'OK' : 'E14';
  }

  private breakpoint(insert: boolean, arg: string): string {
    // "Z0,addr,kind / z0,addr,kind: insert / remove a software breakpoint at address addr of type kind"
    const [type, a] = arg.split(/[,;]/);
    if (type !== '0') return ''; // hardware breakpoints and watchpoints: not supported
    const addr = num(a);
    if (Number.isNaN(addr)) return 'E00';
    return (insert ? this.target.insertBreakpoint(addr) : this.target.removeBreakpoint(addr)) ? 'OK' : 'E14';
  }

  /** c/s/C/S: the thread `Hc` chose (-1: every thread for c), at `addr` when given. */
  private legacyResume(step: boolean, signal: number, addr: string): string | undefined {
    const tid = this.cThread > 0 ? this.cThread : this.regThread();
    if (addr !== '') {
      const file = this.target.registers(tid);
      const rip = num(addr);
      if (!file || Number.isNaN(rip)) return 'E01';
      file.regs.set(Reg.RIP, rip);
      this.target.commitRegisters(tid, file);
    }
    const actions: ResumeAction[] = step || this.cThread > 0
      ? [{ tid, step, signal }]
      : [{ tid, step: false, signal }, { tid: -1, step: false, signal: 0 }];
    return this.resume(actions);
  }

  private resume(actions: ResumeAction[]): undefined {
    this.running = true;
    this.target.resume(actions);
    return undefined;
  }

  private setThread(arg: string): string {
    // "H op thread-id: Set thread for subsequent operations (m, M, g, G, et.al.)"
    const tid = parseThreadId(arg.slice(1));
    if (Number.isNaN(tid)) return 'E00';
    if (tid > 0 && !this.target.threads().includes(tid)) return 'E01';
    if (arg[0] === 'g') this.gThread = tid;
    else this.cThread = tid;
    return 'OK';
  }

  private vPacket(p: string): string | undefined {
    if (p === 'vCont?') return 'vCont;c;C;s;S';
    if (p.startsWith('vCont;')) {
      // "vCont[;action[:thread-id]]...": "For each inferior thread, the leftmost action with a matching thread-id is applied."
      const actions: ResumeAction[] = [];
      for (const part of p.slice(6).split(';')) {
        const [action, thread] = part.split(':');
        const kind = action![0];
        if (kind !== 'c' && kind !== 's' && kind !== 'C' && kind !== 'S') return 'E00';
        const tid = thread === undefined ? -1 : parseThreadId(thread);
        if (Number.isNaN(tid)) return 'E00';
        const signal = kind === 'C' || kind === 'S' ? fromGdbSignal(num(action!.slice(1))) : 0;
        actions.push({ tid, step: kind === 's' || kind === 'S', signal });
      }
      return this.resume(actions);
    }
    if (p.startsWith('vKill')) {
      this.target.kill();
      this.send('OK');
      this.finish();
      return undefined;
    }
    return ''; // vMustReplyEmpty, vFile, vRun, vAttach...: not supported
  }

  private query(p: string): string | undefined {
    if (p.startsWith('qSupported')) {
      // "qSupported [:gdbfeature [;gdbfeature]... ]": reply with the stub's features
      const features = p.split(':').slice(1).join(':').split(';');
      this.multiprocess = features.includes('multiprocess+');
      return [`PacketSize=${hex(PACKET_SIZE)}`, 'qXfer:features:read+', 'QStartNoAckMode+', 'vContSupported+',
        ...(this.multiprocess ? ['multiprocess+'] : [])].join(';');
    }
    if (p === 'QStartNoAckMode') {
      this.send('OK');
      this.startNoAck();
      return undefined;
    }
    if (p.startsWith('qXfer:features:read:')) return this.xferFeatures(p.slice('qXfer:features:read:'.length));
    if (p.startsWith('qAttached')) {
      // "1: the remote server attached to an existing process": quitting gdb detaches instead of killing it
      return '1';
    }
    if (p === 'qC') return `QC${this.threadId(this.regThread())}`;
    if (p === 'qfThreadInfo') return `m${this.target.threads().map((t) => this.threadId(t)).join(',')}`;
    if (p === 'qsThreadInfo') return 'l';
    if (p.startsWith('qThreadExtraInfo,')) {
      const name = this.target.threadName(parseThreadId(p.slice('qThreadExtraInfo,'.length)));
      return toHex(new TextEncoder().encode(name));
    }
    if (p.startsWith('qSymbol')) return 'OK'; // "OK: the target does not need to look up any (more) symbols"
    return '';
  }

  private xferFeatures(arg: string): string {
    // "qXfer:features:read:annex:offset,length": 'm' more data follows, 'l' the last of it
    const m = /^([^:]+):([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(arg);
    if (!m) return 'E00';
    if (m[1] !== 'target.xml') return 'E00';
    const xml = targetXml();
    const off = num(m[2]), len = num(m[3]);
    const chunk = xml.slice(off, off + len);
    return (off + len >= xml.length ? 'l' : 'm') + chunk;
  }
}
