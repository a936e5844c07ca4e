/**
 * The syscall fuzzer: scripts/fuzz.ts boots a guest whose first process is
 * test/programs/fuzz.c, which makes random system calls with interesting
 * arguments from forked children, and judges the run from outside (see the
 * comments at the top of both). A short run, by default and with --strict
 * (where the memory, futex and clock calls the seccomp fast path would run
 * on the host reach the guest kernel too), must end with every call made
 * and no finding: no kernel crash ("kernel bug in ..." or an internal
 * error), no hang, no vmctl death, no child that outlives SIGKILL, no call
 * that a signal did not end, no host memory run short. The seeds are fixed,
 * so a failure repeats; its message says how to replay the child that
 * found it, one call a line.
 *
 * The judge is tested first, on guests that misbehave on purpose, so that
 * a quiet run means a quiet kernel and not a deaf driver.
 */
import { describe, expect, it } from 'vitest';
import { runFuzz, summarize, type FuzzResult } from '../scripts/fuzz.ts';

const HEARTBEAT = 'echo "fuzz: hb calls=5 children=1 ms=0 live=#0:read"';
const quiet = () => {};

describe('the fuzzer\'s judge', () => {
  it('calls a guest hung when its heartbeat stops, and ends the boot', async () => {
    const start = performance.now();
    const r = await runFuzz({ calls: 1, seed: 1, command: `${HEARTBEAT}; sleep 1000`, hangSeconds: 3, progressSeconds: 0, log: quiet });
    expect(r.findings.map((f) => f.kind), summarize(r).join('\n')).toEqual(['hang']);
    expect(r.findings[0]!.summary).toMatch(/no heartbeat for \d+ s after 5 calls, vmctl busy [\d.]+ s of it \(live children: #0:read\)/);
    expect(performance.now() - start).toBeLessThan(60_000);
  });

  it('calls a guest hung when the heartbeat goes on but its calls stand still', async () => {
    const r = await runFuzz({ calls: 1, seed: 1, command: `while :; do ${HEARTBEAT}; sleep 0.5; done`, hangSeconds: 3, progressSeconds: 0, log: quiet });
    expect(r.findings.map((f) => f.kind), summarize(r).join('\n')).toEqual(['hang']);
    expect(r.findings[0]!.summary).toMatch(/calls stand still at 5/);
  });

  it('reports vmctl ending before the fuzzer said it was done', async () => {
    const r = await runFuzz({ calls: 1, seed: 1, command: `${HEARTBEAT}; exit 7`, progressSeconds: 0, log: quiet });
    expect(r.findings.map((f) => f.kind), summarize(r).join('\n')).toEqual(['vmctl-died']);
    expect(r.findings[0]!.summary).toMatch(/status 7 before the fuzzer's end/);
  });

  it('reports a child that outlives SIGKILL and a call no signal ended, with the replay of that child', async () => {
    const lines = [
      'fuzz: stuck child #3 pid 9 after 12 calls, read(nr 0; 0x5, 0x7f0000000000, 0x10, 0, 0, 0) for 2001 ms: killed',
      'fuzz: stuck child #4 pid 10 after 7 calls, ppoll(nr 271; 0, 0, 0, 0, 0, 0) for 2001 ms: killed',
      'fuzz: BUG unkillable child #3 pid 9: alive 5001 ms after SIGKILL in read(nr 0; 0x5, 0, 0, 0, 0, 0)',
      'fuzz: done calls=5 children=1 exited=1 stuck=2 stopped=0 unkillable=1 ms=1 signals=',
    ].map((l) => `echo '${l}'`).join('; ');
    const r = await runFuzz({ calls: 1, seed: 42, command: `${HEARTBEAT}; ${lines}`, progressSeconds: 0, log: quiet });
    expect(r.findings.map((f) => [f.kind, f.child]), summarize(r).join('\n')).toEqual([['stuck', 3], ['unkillable', 3]]);
    // ppoll takes a signal mask of its own, which may block SIGALRM: not a finding
    expect(r.stuckExpected).toHaveLength(1);
    expect(summarize(r).join('\n')).toContain('replay: npm run fuzz -- --seed 42 --child 3 --trace');
  });
});

describe.each([
  ['by default', false, 20240601],
  ['with --strict', true, 20240602],
])('a short fuzz run %s', (_mode, strict, seed) => {
  const calls = 30_000;
  let result: FuzzResult;

  it('makes every call and finds no kernel crash, hang or vmctl death', async () => {
    result = await runFuzz({ calls, seed, strict, progressSeconds: 0, log: quiet });
    expect(result.findings, summarize(result).join('\n')).toEqual([]);
    expect(result.calls).toBe(calls);
    expect(result.done).toMatch(/^fuzz: done calls=30000 /);
  }, 300_000);

  it('reached the kernel with many kinds of calls, at a useful rate', () => {
    // A fuzzer stuck on one path would meet few unimplemented numbers; a rate
    // this low would mean the children wait on their watchdog, not the kernel.
    expect(result.unimplemented.length, summarize(result).join('\n')).toBeGreaterThan(100);
    expect(result.children).toBeGreaterThan(calls / 500);
    expect(result.callsPerSecond).toBeGreaterThan(500);
  });
});
