/**
 * A small client of the DevTools protocol over WebSocket (what Chrome
 * DevTools and VS Code speak to `vmctl boot --inspect`), and the source-map
 * lookup a raw client needs to set a breakpoint by TypeScript line: tsx
 * hands V8 whitespace-minified JavaScript with an inline source map.
 */
import WebSocket from 'ws';

interface Pending {
  resolve(result: Record<string, unknown>): void;
  reject(err: Error): void;
}

export interface CdpEvent {
  method: string;
  params: Record<string, any>;
}

export class Cdp {
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  /** every event so far, so a waiter never misses one that came before it asked */
  readonly events: CdpEvent[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as { id?: number; result?: any; error?: { message: string }; method?: string; params?: any };
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(msg.error.message));
        else p?.resolve(msg.result ?? {});
        return;
      }
      if (msg.method) {
        this.events.push({ method: msg.method, params: msg.params ?? {} });
        for (const w of [...this.waiters]) w();
      }
    });
  }

  static async connect(url: string): Promise<Cdp> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Cdp(ws);
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, any>> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** The first event `method` (from `from` on in this.events) that satisfies `pred`. */
  waitFor(method: string, pred: (p: Record<string, any>) => boolean = () => true, timeoutMs = 30_000, from = 0):
    Promise<Record<string, any>> {
    return new Promise((resolve, reject) => {
      let seen = from;
      const check = () => {
        for (; seen < this.events.length; seen++) {
          const e = this.events[seen]!;
          if (e.method === method && pred(e.params)) {
            done();
            resolve(e.params);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  close(): void {
    this.ws.close();
  }
}

// ----- source maps -----

export interface SourceMap {
  sources: string[];
  sourcesContent?: (string | null)[];
  mappings: string;
}

/** The map of a data: sourceMappingURL, as tsx writes it. */
export function inlineSourceMap(sourceMapURL: string): SourceMap {
  const m = /^data:application\/json(?:;charset=[^;,]+)?;base64,(.*)$/.exec(sourceMapURL);
  if (!m) throw new Error(`not an inline source map: ${sourceMapURL.slice(0, 60)}`);
  return JSON.parse(Buffer.from(m[1]!, 'base64').toString('utf8')) as SourceMap;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Base64 VLQ numbers of one mapping segment. */
function vlqs(segment: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of segment) {
    const digit = B64.indexOf(ch);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
      continue;
    }
    out.push(value & 1 ? -(value >>> 1) : value >>> 1);
    value = 0;
    shift = 0;
  }
  return out;
}

export interface Mapping {
  /** generated line and column, 0-based */
  line: number;
  column: number;
  source: number;
  /** original line and column, 0-based */
  origLine: number;
  origColumn: number;
}

export function decodeMappings(map: SourceMap): Mapping[] {
  const out: Mapping[] = [];
  let source = 0;
  let origLine = 0;
  let origColumn = 0;
  map.mappings.split(';').forEach((lineText, line) => {
    let column = 0;
    for (const seg of lineText.split(',')) {
      if (seg === '') continue;
      const v = vlqs(seg);
      column += v[0]!;
      if (v.length < 4) continue;
      source += v[1]!;
      origLine += v[2]!;
      origColumn += v[3]!;
      out.push({ line, column, source, origLine, origColumn });
    }
  });
  return out;
}

/** The first generated position of original line `line0` (0-based) of the map's first source. */
export function generatedPositionOf(map: SourceMap, line0: number): { lineNumber: number; columnNumber: number } {
  const hits = decodeMappings(map).filter((m) => m.source === 0 && m.origLine === line0)
    .sort((a, b) => a.line - b.line || a.column - b.column);
  const first = hits[0];
  if (!first) throw new Error(`the source map has no position for line ${line0 + 1}`);
  return { lineNumber: first.line, columnNumber: first.column };
}
