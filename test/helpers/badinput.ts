/**
 * test/programs/badinput.c and the shell around it, shared by the suites
 * that run it natively and in guests (bad-input, and host-patch in the VM).
 */
import { fileURLToPath } from 'node:url';
import { lines } from './guest.ts';

export const BADINPUT_SOURCE = fileURLToPath(new URL('../programs/badinput.c', import.meta.url));

/**
 * The shell around the program, the same on both sides: an empty working
 * directory, a sibling process that must still be served, then the program,
 * given `otherDir` (made empty first) for its file cases on a second file
 * system (in a guest, /tmp is a tmpfs and the root an overlay).
 */
export function wrapper(workDir: string, program: string, otherDir?: string): string {
  return [
    `mkdir -p ${workDir} && cd ${workDir} || exit 99`,
    ...(otherDir ? [`rm -rf ${otherDir} && mkdir -p ${otherDir} || exit 99`] : []),
    '(sleep 0.2; echo sibling-ok > ../sibling) &',
    otherDir ? `${program} ${otherDir}` : program,
    'echo "badinput status $?"',
    'wait',
    'cat ../sibling',
    'echo after',
  ].join('\n');
}

/**
 * The `name: ret errno` lines of the program's output, by case name. A case
 * whose answer changed between kernel versions is named `name@VERSION` (the
 * version whose answer the program expects: the host's): those count only
 * when `versioned` is set, for a comparison with a kernel that recent (the
 * host), not with the older kernel of the host-patch VM.
 */
export function cases(stdout: string, versioned = false): Map<string, string> {
  const found = new Map<string, string>();
  for (const line of lines(stdout)) {
    const match = /^([a-z0-9_]+(@[0-9.]+)?): (.*)$/.exec(line);
    if (match && (versioned || !match[2])) found.set(match[1]!, match[3]!);
  }
  return found;
}

