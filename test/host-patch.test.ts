/**
 * The host kernel helper patch (host-patch/): the series applies to Debian's
 * linux-source-6.1 and passes checkpatch; the selftest
 * (test/programs/helper-selftest.c) sees every request rejected with EIO on
 * this unpatched host; and, when a patched kernel is cached (or
 * VMCTL_BUILD_KERNEL=1 builds one), `vmctl host-vm` boots it in QEMU and the
 * selftest passes there in full.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentCachedKernel, hostPatchDir, seriesPatches } from '../src/host/kernel-cache.ts';
import { DEBIAN_SOURCE_TARBALL, parseFragment } from '../src/host/kernel-build.ts';
import { packageDir } from '../src/paths.ts';
import { vmctl } from './helpers/vmctl.ts';
import { BADINPUT_SOURCE, cases, wrapper } from './helpers/badinput.ts';
import { programRoot } from './helpers/guest.ts';

const SELFTEST_SOURCE = fileURLToPath(new URL('./programs/helper-selftest.c', import.meta.url));
/* In the package, not under /tmp: the VM sees the host's / but has a /tmp of its own. */
const SELFTEST = join(packageDir, 'build', 'host-patch', 'helper-selftest');

interface TapTest {
  ok: boolean;
  name: string;
  skip?: string;
}

function parseTap(output: string): { tests: TapTest[]; plan: number } {
  const tests: TapTest[] = [];
  let plan = -1;
  for (const line of output.split('\n')) {
    const planMatch = /^1\.\.(\d+)$/.exec(line);
    if (planMatch) plan = Number(planMatch[1]);
    const m = /^(ok|not ok) \d+ (\S+)(?: # SKIP ?(.*))?$/.exec(line);
    if (m) tests.push({ ok: m[1] === 'ok', name: m[2]!, skip: m[3] });
  }
  return { tests, plan };
}

async function compileSelftest(): Promise<void> {
  await mkdir(join(packageDir, 'build', 'host-patch'), { recursive: true });
  await execa('cc', ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-Werror', '-o', SELFTEST, SELFTEST_SOURCE]);
}

// Decided before the tests are collected, so that skips say why.
await compileSelftest();
const hostRun = await execa(SELFTEST, ['--expect', 'auto'], { reject: false });
const hostHasHelper = /PTRACE_VMCTL_SYSCALL_ROUNDTRIP present/.test(hostRun.stdout);
const buildKernel = process.env.VMCTL_BUILD_KERNEL === '1';
const cachedKernel = await currentCachedKernel();
const canBootPatched = cachedKernel !== undefined || buildKernel;

describe('the helper selftest on this host', () => {
  it('compiles with -Wall -Wextra -Werror and prints TAP for every test', () => {
    const { tests, plan } = parseTap(hostRun.stdout);
    expect(plan).toBeGreaterThan(20);
    expect(tests).toHaveLength(plan);
    expect(hostRun.stdout).toMatch(/^# Totals: pass:\d+ fail:0 /m);
    expect(hostRun.exitCode).toBe(0);
  });

  it.skipIf(hostHasHelper)('sees every rejection answered with EIO by this unpatched kernel, and skips the happy paths', async () => {
    const run = await execa(SELFTEST, ['--expect', 'absent'], { reject: false });
    expect(run.stdout).toContain('PTRACE_VMCTL_SYSCALL_ROUNDTRIP absent (EIO), PTRACE_VMCTL_MM_BATCH absent (EIO)');
    const { tests } = parseTap(run.stdout);
    const rejections = tests.filter((t) => t.name.includes('_rejects_'));
    expect(rejections.length).toBeGreaterThanOrEqual(10);
    for (const test of rejections) expect(test, test.name).toEqual({ ok: true, name: test.name, skip: undefined });
    for (const test of tests.filter((t) => !t.name.includes('_rejects_'))) {
      expect(test.skip, test.name).toBeDefined();
    }
    expect(run.exitCode).toBe(0);
  });

  it('fails the rejections when told the helper is there and it is not (the checks check)', async () => {
    const run = await execa(SELFTEST, ['--expect', hostHasHelper ? 'absent' : 'present', 'mm_rejects_bad_fd'], { reject: false });
    expect(run.stdout).toContain('not ok 1 mm_rejects_bad_fd');
    expect(run.exitCode).toBe(1);
  });
});

describe('the host-patch series', () => {
  it('has a configuration fragment that turns the helper on', async () => {
    const fragment = parseFragment(await readFile(join(hostPatchDir, 'qemu.config'), 'utf8'));
    expect(fragment.enabled).toEqual(expect.arrayContaining(['PTRACE_VMCTL', 'NET_9P_VIRTIO', '9P_FS', 'SERIAL_8250_CONSOLE', 'SECCOMP_FILTER']));
  });

  it('has a user-space header identical to the uapi it adds', async () => {
    // The lines the series adds to include/uapi/linux/ptrace.h, against host-patch/ptrace-vmctl.h, comments aside.
    const added: string[] = [];
    for (const patch of await seriesPatches()) {
      let inUapi = false;
      for (const line of (await readFile(patch, 'utf8')).split('\n')) {
        if (line.startsWith('+++ ')) inUapi = line === '+++ b/include/uapi/linux/ptrace.h';
        else if (inUapi && line.startsWith('+')) added.push(line.slice(1));
      }
    }
    const declarations = (text: string): string[] =>
      text
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .split('\n')
        .map((l) => l.replace(/\s+/g, ' ').trim())
        .filter((l) => /^(#define PTRACE_VMCTL_|struct ptrace_vmctl_|__[us]\d+ |union|};)/.test(l));
    const header = await readFile(join(hostPatchDir, 'ptrace-vmctl.h'), 'utf8');
    expect(declarations(header)).toEqual(declarations(added.join('\n')));
    expect(declarations(header).length).toBeGreaterThan(20);
  });

  describe.skipIf(!existsSync(DEBIAN_SOURCE_TARBALL))(
    `applied to Debian's linux-source-6.1${existsSync(DEBIAN_SOURCE_TARBALL) ? '' : ` (skipped: no ${DEBIAN_SOURCE_TARBALL}; apt-get install linux-source-6.1)`}`,
    () => {
      let dir: string;
      let tree: string;
      beforeAll(async () => {
        dir = await mkdtemp(join(tmpdir(), 'vmctl-host-patch-'));
        tree = join(dir, 'linux');
        await mkdir(tree);
        // Only the files the series touches and checkpatch reads: the whole tree is 1.3 GB.
        const touched = new Set<string>();
        for (const patch of await seriesPatches()) {
          for (const m of (await readFile(patch, 'utf8')).matchAll(/^\+\+\+ b\/(\S+)$/gm)) touched.add(m[1]!);
        }
        const wanted = [...touched, 'scripts/checkpatch.pl', 'scripts/spelling.txt', 'scripts/const_structs.checkpatch'];
        await execa('tar', ['-xf', DEBIAN_SOURCE_TARBALL, '-C', tree, '--strip-components=1', ...wanted.map((f) => `linux-source-6.1/${f}`)]);
      }, 120_000);
      afterAll(async () => {
        if (dir) await rm(dir, { recursive: true, force: true });
      });

      it('applies with patch -p1, and with git am', async () => {
        const git = (...args: string[]) => execa('git', ['-C', tree, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args]);
        await git('init', '-q');
        await git('add', '-A', '-f', '.');
        await git('commit', '-q', '-m', 'base');
        for (const patch of await seriesPatches()) {
          const run = await execa('patch', ['-p1', '--forward', '--batch', '-d', tree, '-i', patch], { reject: false });
          expect(run.exitCode, run.stdout + run.stderr).toBe(0);
          expect(run.stdout).not.toMatch(/offset|fuzz/i);
        }
        const patched = await git('diff', '--stat');
        await git('reset', '-q', '--hard');
        await git('am', '-q', ...(await seriesPatches()));
        // Both ways give the same tree.
        expect((await git('diff', '--stat', 'HEAD~2', 'HEAD')).stdout).toBe(patched.stdout);
        for (const rev of ['HEAD~1', 'HEAD']) {
          const log = await git('log', '-n', '1', '--format=%an <%ae>%n%s%n%(trailers:key=Signed-off-by,valueonly)', rev);
          const [author, subject, signoff] = log.stdout.split('\n');
          expect(author).toBe('vmctl developers <vmctl@localhost>');
          expect(subject).toMatch(/^ptrace: add PTRACE_VMCTL_/);
          expect(signoff).toBe('vmctl developers <vmctl@localhost>');
        }
      });

      it('passes checkpatch --strict with no error, warning or check', async () => {
        const run = await execa('perl', [join(tree, 'scripts', 'checkpatch.pl'), '--strict', '--no-tree', ...(await seriesPatches())], {
          reject: false,
        });
        expect(run.stdout).not.toMatch(/^(ERROR|WARNING|CHECK):/m);
        for (const m of run.stdout.matchAll(/^total: (\d+) errors, (\d+) warnings, (\d+) checks/gm)) {
          expect(m.slice(1).map(Number)).toEqual([0, 0, 0]);
        }
        expect(run.exitCode, run.stdout).toBe(0);
      });
    },
  );
});

const bootSkipReason = canBootPatched
  ? ''
  : ' (skipped: no kernel built from the current host-patch/ in the cache; run `vmctl build-host --kernel`, or set VMCTL_BUILD_KERNEL=1 to build it here)';

describe.skipIf(!canBootPatched)(`vmctl host-vm with the patched kernel${bootSkipReason}`, () => {
  beforeAll(async () => {
    if (cachedKernel) return;
    const build = await vmctl(['build-host', '--kernel'], { timeout: 3_600_000 });
    expect(build.exitCode, build.stderr).toBe(0);
  }, 3_600_000);

  it('runs the selftest there: every test passes and the kernel warns of nothing', async () => {
    const script = [
      `${SELFTEST} --expect present`,
      'status=$?',
      "if dmesg | grep -E 'WARNING:|BUG:|Oops|Call Trace|kmemleak'; then exit 99; fi",
      'exit $status',
    ].join('\n');
    const run = await vmctl(['host-vm', '--timeout', '900', '--', script], { timeout: 1_000_000 });
    const { tests, plan } = parseTap(run.stdout);
    expect(plan).toBeGreaterThan(20);
    expect(tests).toHaveLength(plan);
    for (const test of tests) {
      // Keeping one CPU needs two.
      if (test.skip !== undefined) expect(test.name).toBe('rt_keeps_one_cpu');
      else expect(test.ok, `${test.name}\n${run.stdout}`).toBe(true);
    }
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
  }, 1_000_000);

  it('streams the command output, returns its status, with the host root read-only and /tmp writable', async () => {
    const run = await vmctl(
      ['host-vm', '--timeout', '300', '--', 'uname -r; echo to-stderr >&2; touch /tmp/f || exit 1; if touch /etc/vmctl-host-vm 2>/dev/null; then exit 2; fi; exit 7'],
      { timeout: 400_000 },
    );
    expect(run.stderr).toMatch(/^host-vm: (KVM acceleration|TCG emulation)/m);
    expect(run.stderr).toContain('to-stderr');
    expect(run.stdout.trim()).toMatch(/^6\.1\.\d+/);
    expect(run.exitCode).toBe(7);
  }, 400_000);

  it('shows the end of the guest console when the guest cannot run the command', async () => {
    const run = await vmctl(['host-vm', '--timeout', '300', '--append', 'init=/nonexistent', '--', 'true'], { timeout: 400_000 });
    expect(run.exitCode).toBe(3);
    expect(run.text).toContain('the VM did not run the command to its end');
    expect(run.text).toContain('Kernel panic - not syncing');
  }, 400_000);

  describe('vmctl itself in the patched VM, with the helper and with --no-helper', () => {
    /* Commands whose output must not depend on how the tracer gets its stops. */
    const COMMANDS = [
      'echo $((6*7))', 'ls / | head -4', 'seq 1 1000 | sort -rn | head -3', 'cat /etc/hostname',
      'echo data > /tmp/f && cat /tmp/f', 'sh -c "exit 3"; echo status $?', 'x=$(echo sub); echo $x',
      'sleep 0.1 && echo slept', 'md5sum /etc/passwd | cut -c1-8',
      // With the helper nothing of vmctl's (the stub at 0x100000000) is mapped in a guest's host process.
      "grep -E 'vmctl|^100000000' /proc/self/maps || echo nothing-of-ours",
    ].join('; ');
    const MODES: [string, string[]][] = [
      ['helper', []], ['no-helper', ['--no-helper']], ['strict helper', ['--strict']], ['strict no-helper', ['--strict', '--no-helper']],
    ];
    /* In the package, not under /tmp: the VM has a /tmp of its own. */
    const root = join(packageDir, 'build', 'host-patch', 'badinput-root');
    const sections = new Map<string, string>();
    let run: Awaited<ReturnType<typeof vmctl>>;

    beforeAll(async () => {
      await rm(root, { recursive: true, force: true });
      await programRoot(root, [{ name: 'badinput', source: BADINPUT_SOURCE }]);
      const q = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;
      const boot = `node ${join(packageDir, 'bin', 'vmctl.js')} boot`;
      const script = [
        'export XDG_STATE_HOME=/tmp/state', 'mkdir -p /tmp/native',
        // node itself sometimes dies of SIGSEGV under TCG, with or without the helper
        // (README, "The host helper patch"): such a boot runs once more, and says so.
        // The guests here all exit 0, so a status over 128 is vmctl's own death.
        'vm_boot() {',
        '  for try in 1 2; do',
        `    ${boot} "$@" >/tmp/out 2>/tmp/stats; s=$?`,
        '    [ $s -le 128 ] && break',
        '    echo "vmctl died of signal $((s - 128)) in the VM; booting once more" >&2',
        '  done',
        '  cat /tmp/out',
        '  return $s',
        '}',
      ];
      for (const [name, flags] of MODES) {
        script.push(
          `echo "=== busybox ${name}"`, `vm_boot ${flags.join(' ')} --stats --exec ${q(COMMANDS)}; echo "exit $?"`,
          `echo "=== stats ${name}"`, 'grep "host helper" /tmp/stats',
          `echo "=== badinput ${name}"`, `vm_boot ${flags.join(' ')} --fresh --rootfs ${root} --exec ${q(wrapper('/tmp/work', '/badinput', '/other'))}`,
        );
      }
      script.push('echo "=== badinput native"', `cd /tmp/native && ${root}/bin/busybox sh -c ${q(wrapper('/tmp/native/work', `${root}/badinput`, '/tmp/native/other'))}`);
      run = await vmctl(['host-vm', '--timeout', '1200', '--', script.join('\n')], { timeout: 1_300_000 });
      for (const retried of run.stderr.match(/^vmctl died of signal .*$/gm) ?? []) console.warn(`host-patch VM: ${retried}`);
      let current = '';
      for (const line of run.stdout.split('\n')) {
        const head = /^=== (.+)$/.exec(line);
        if (head) current = head[1]!;
        else if (current) sections.set(current, (sections.get(current) ?? '') + line + '\n');
      }
    }, 1_400_000);

    it('boots busybox with the same output in every mode, the helper in use only when asked', () => {
      const expected = sections.get('busybox no-helper');
      expect(expected, run.stdout + run.stderr).toMatch(/^42\n/);
      expect(expected).toContain('status 3\nsub\nslept\n');
      expect(expected).toMatch(/nothing-of-ours\nexit 0\n$/);
      for (const [name] of MODES) expect(sections.get(`busybox ${name}`), name).toBe(expected);
      for (const name of ['helper', 'strict helper']) {
        expect(sections.get(`stats ${name}`)).toMatch(/syscall round trip in use \([1-9]\d* calls\); address-space batch in use \([1-9]\d* calls\)/);
      }
      for (const name of ['no-helper', 'strict no-helper']) {
        expect(sections.get(`stats ${name}`)).toMatch(/syscall round trip off; address-space batch off \(--no-helper\)/);
      }
    });

    it('serves the bad-input program as Linux does, with and without the helper', () => {
      const native = sections.get('badinput native') ?? '';
      expect(cases(native).size, run.stdout).toBeGreaterThan(150);
      for (const [name] of MODES) {
        const guest = sections.get(`badinput ${name}`) ?? '';
        expect(Object.fromEntries(cases(guest)), name).toEqual(Object.fromEntries(cases(native)));
        expect(guest, name).toContain('still serving\nbadinput status 0\nsibling-ok\nafter\n');
      }
    });
  });
});
