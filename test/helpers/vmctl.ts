/** Runs the real CLI (bin/vmctl.js) as a user would, and reads what it printed. */
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';

export const VMCTL_BIN = fileURLToPath(new URL('../../bin/vmctl.js', import.meta.url));

export interface VmctlRun {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  /**
   * stdout and stderr as one text with whitespace collapsed and oclif's "›"
   * margin removed: oclif wraps error messages to the terminal width.
   */
  text: string;
}

export interface VmctlOptions {
  env?: Record<string, string>;
  timeout?: number;
  /** Text written to vmctl's stdin; without it stdin is /dev/null. */
  input?: string;
}

export async function vmctl(args: string[], opts: VmctlOptions = {}): Promise<VmctlRun> {
  const result = await execa(process.execPath, [VMCTL_BIN, ...args], {
    reject: false,
    ...(opts.input === undefined ? { stdin: 'ignore' as const } : { input: opts.input }),
    env: opts.env,
    timeout: opts.timeout,
  });
  const stdout = String(result.stdout);
  const stderr = String(result.stderr);
  return { exitCode: result.exitCode, stdout, stderr, text: `${stdout}\n${stderr}`.replaceAll('›', ' ').replace(/\s+/g, ' ') };
}
