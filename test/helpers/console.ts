/**
 * A terminal for a test to type into: a node-pty pseudo-terminal running a
 * command (usually `vmctl boot`), what it printed so far, and helpers to type
 * a line the way a person does and to wait for output with a deadline.
 *
 * Waits never hang a suite: each has a timeout and fails with the tail of the
 * screen, cleaned of escape sequences, so a failure shows what the user saw.
 */
import * as pty from 'node-pty';
import { hostDescendants } from './guest.ts';
import { VMCTL_BIN } from './vmctl.ts';
import { packageDir } from '../../src/paths.ts';

export const COLS = 80;
export const ROWS = 24;

/** The shell's prompt at the end of the screen: `vmctl:/etc# ` from /etc/profile, or a bare `# `/`$ `. */
export const PROMPT = /^(?:.*vmctl:.*[#$]|[#$]) $/;

export interface Exit {
  exitCode: number;
  signal?: number;
}

/** Removes terminal control sequences, keeping the text a person would read. */
export function cleanScreen(raw: string): string {
  const noEscapes = raw
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, '') // OSC ... BEL/ST
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '') // CSI
    .replace(/\x1b[()][0-9A-Za-z]/g, '') // charset selection
    .replace(/\x1b[=>78cDEHMZ]/g, '');
  return noEscapes
    .split('\n')
    .map((line) => {
      // A carriage return in the middle of a line redraws it: keep what was drawn last.
      const body = line.replace(/\r+$/, '');
      const last = body.lastIndexOf('\r');
      let text = last >= 0 ? body.slice(last + 1) : body;
      // Backspace erases the character before it (line editors use it to move left).
      while (/[^\x08]\x08/.test(text)) text = text.replace(/[^\x08]\x08/, '');
      return text.replace(/\x08/g, '').replace(/\x07/g, '');
    })
    .join('\n');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Terminal {
  /** Everything the program printed, as received. */
  raw = '';
  readonly exited: Promise<Exit>;
  exit: Exit | undefined;
  private listeners = new Set<() => void>();

  private constructor(readonly proc: pty.IPty) {
    proc.onData((data) => {
      this.raw += data;
      for (const listener of this.listeners) listener();
    });
    this.exited = new Promise((resolve) => {
      proc.onExit(({ exitCode, signal }) => {
        this.exit = { exitCode, signal };
        for (const listener of this.listeners) listener();
        resolve(this.exit);
      });
    });
  }

  /** Runs `file args` in a new 80x24 pseudo-terminal, in the package directory. */
  static spawn(file: string, args: string[], env: Record<string, string> = {}): Terminal {
    const proc = pty.spawn(file, args, {
      name: 'xterm',
      cols: COLS,
      rows: ROWS,
      cwd: packageDir,
      env: { ...(process.env as Record<string, string>), TERM: 'xterm', ...env },
    });
    return new Terminal(proc);
  }

  /** `node bin/vmctl.js ARGS` in a new terminal. */
  static vmctl(args: string[], env: Record<string, string> = {}): Terminal {
    return Terminal.spawn(process.execPath, [VMCTL_BIN, ...args], env);
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** The screen text so far, from offset `from` of `raw`, without control sequences. */
  text(from = 0): string {
    return cleanScreen(this.raw.slice(from));
  }

  /** A position in the output: what arrives after it is what a later wait looks at. */
  mark(): number {
    return this.raw.length;
  }

  write(data: string): void {
    this.proc.write(data);
  }

  /** Types text one key at a time, a few milliseconds apart, as a person would. */
  async type(text: string, delayMs = 4): Promise<void> {
    for (const ch of text) {
      this.proc.write(ch);
      await sleep(delayMs);
    }
  }

  /**
   * Waits until the cleaned output since `from` satisfies `test`, and returns
   * that output. Fails after `timeout` ms, or when the program exits first.
   */
  async waitUntil(what: string, test: (text: string) => boolean, from: number, timeout = 10_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const text = this.text(from);
        if (test(text)) {
          done();
          resolve(text);
        } else if (this.exit) {
          done();
          reject(new Error(`vmctl exited (${JSON.stringify(this.exit)}) while waiting for ${what}; the screen ends with:\n${this.tail()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeout} ms waiting for ${what}; the screen ends with:\n${this.tail()}`));
      }, timeout);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Waits for `pattern` in the output since `from`. */
  async waitFor(pattern: RegExp | string, from: number, timeout = 10_000): Promise<string> {
    const test = (text: string) => (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text));
    return this.waitUntil(String(pattern), test, from, timeout);
  }

  /** Waits for the shell's prompt at the very end of the output since `from`. */
  async waitForPrompt(from: number, timeout = 10_000): Promise<string> {
    return this.waitUntil('the shell prompt', endsWithPrompt, from, timeout);
  }

  /**
   * Types a command line and Enter at the prompt, waits for the next prompt
   * and returns the lines printed in between (the echoed command and the new
   * prompt left out).
   */
  async run(line: string, timeout = 10_000): Promise<string[]> {
    const from = this.mark();
    await this.type(`${line}\r`);
    // The echoed line ends with a newline; the command's output and the next prompt follow.
    const text = await this.waitUntil(
      `the prompt after \`${line}\``,
      (t) => t.includes('\n') && endsWithPrompt(t.slice(t.indexOf('\n') + 1)),
      from,
      timeout,
    );
    const shown = text.split('\n');
    return shown.slice(1, -1);
  }

  /** Types a line, then waits until the echo of Enter (a newline) came back: the command now runs. */
  async start(line: string, timeout = 10_000): Promise<number> {
    const from = this.mark();
    await this.type(`${line}\r`);
    await this.waitFor('\n', from, timeout);
    return this.mark();
  }

  /** The last lines of the screen, for failure messages. */
  tail(count = 15): string {
    return this.text().split('\n').slice(-count).join('\n');
  }

  /** Ends the program if it still runs; its exit status is then not the test's concern. */
  async close(): Promise<void> {
    if (this.exit) return;
    // What the terminal started (vmctl, and the guest processes it traces) goes with it.
    const started = await hostDescendants(this.pid);
    for (const pid of [this.pid, ...started]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await Promise.race([this.exited, sleep(2_000)]);
  }
}

/** True when the last line of the text is a prompt and nothing follows it. */
function endsWithPrompt(text: string): boolean {
  const last = text.split('\n').at(-1) ?? '';
  return PROMPT.test(last);
}
