/**
 * Runs a long host program (the kernel's make) and shows it working: with
 * --verbose every line it prints; otherwise one status line, rewritten in
 * place on a terminal and repeated now and then elsewhere, plus every
 * warning or error as it comes. The last lines are kept for the error
 * message when it fails.
 */
import { execa } from 'execa';
import { formatCommand, progress } from '../host-command.ts';

export interface StreamedOptions {
  cwd?: string;
  verbose?: boolean;
  /** Words before the status line, e.g. "building bzImage". */
  label: string;
  /** Lines the same work printed last time, to show a percentage. */
  expectedLines?: number;
}

export interface StreamedResult {
  exitCode: number | undefined;
  /** How many lines the program printed. */
  lines: number;
  /** Its last lines, warnings and errors first: what to show when it failed. */
  tail: string[];
  seconds: number;
}

const TAIL_LINES = 40;
/** How often a status line is repeated when stderr is not a terminal. */
const LOG_INTERVAL_MS = 30_000;
/** How often the status line is redrawn on a terminal. */
const TTY_INTERVAL_MS = 200;

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

export async function runStreamed(file: string, args: readonly string[], opts: StreamedOptions): Promise<StreamedResult> {
  if (opts.verbose) progress(`+ ${opts.cwd ? `(cd ${opts.cwd}) ` : ''}${formatCommand(file, args)}`);
  const start = Date.now();
  const tty = process.stderr.isTTY === true && !opts.verbose;
  const tail: string[] = [];
  const notes: string[] = [];
  let lines = 0;
  let lastDraw = 0;
  let current = '';

  const status = (): string => {
    const elapsed = formatDuration((Date.now() - start) / 1000);
    const share = opts.expectedLines ? ` ~${Math.min(99, Math.floor((100 * lines) / opts.expectedLines))}%,` : '';
    return `${opts.label}:${share} ${lines} steps, ${elapsed}${current ? `, ${current}` : ''}`;
  };
  const draw = (force = false): void => {
    const now = Date.now();
    if (opts.verbose || (!force && now - lastDraw < (tty ? TTY_INTERVAL_MS : LOG_INTERVAL_MS))) return;
    lastDraw = now;
    if (tty) process.stderr.write(`\r\x1b[K${status().slice(0, (process.stderr.columns ?? 80) - 1)}`);
    else progress(`  ${status()}`);
  };
  const clear = (): void => {
    if (tty) process.stderr.write('\r\x1b[K');
  };

  const subprocess = execa(file, args, {
    cwd: opts.cwd,
    env: { LC_ALL: 'C' },
    all: true,
    buffer: false,
    reject: false,
    stdin: 'ignore',
  });
  lastDraw = Date.now();
  for await (const line of subprocess.iterable({ from: 'all' })) {
    lines += 1;
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    if (opts.verbose) {
      progress(line);
      continue;
    }
    if (/\b(warning|error):/i.test(line)) {
      clear();
      progress(line);
      notes.push(line);
    }
    current = line.trim().replace(/\s+/g, ' ');
    draw();
  }
  const result = await subprocess;
  clear();
  const wanted = notes.filter((note) => !tail.includes(note)).slice(-TAIL_LINES);
  return {
    exitCode: result.exitCode,
    lines,
    tail: [...wanted, ...tail],
    seconds: (Date.now() - start) / 1000,
  };
}
