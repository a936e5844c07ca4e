/**
 * A real Linux kernel as the guest: `vmctl boot --kernel` boots Debian's
 * User-Mode Linux (linux.uml) on the same guest configs and root
 * filesystems, through the real CLI. Skipped, with the reason, on a host
 * that has no linux.uml and cannot install it (not root, or no apt-get).
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasAptGet, isRoot } from '../src/host/apt.ts';
import { ensureBusyboxRootfs } from '../src/rootfs/busybox.ts';
import { consoleModes, umlKernelArgs } from '../src/uml/boot.ts';
import { BOOTSTRAP, encodeForPrintf } from '../src/uml/guest-init.ts';
import { DEBIAN_UML_PATH, resolveUmlKernel } from '../src/uml/kernel.ts';
import { VMCTL_BIN } from './helpers/vmctl.ts';

const canInstall = isRoot() && (await hasAptGet());
const skipReason = existsSync(DEBIAN_UML_PATH) || canInstall
  ? undefined
  : `${DEBIAN_UML_PATH} is missing and cannot be installed here (needs root and apt-get: apt-get install user-mode-linux)`;
if (skipReason) console.warn(`skipping the UML tests: ${skipReason}`);

/** A UML boot: the kernel starting, running the command and halting. */
const UML_TIMEOUT = 90_000;

describe('the printf encoding of pid 1 on the kernel command line', () => {
  it('round-trips through a POSIX shell', async () => {
    const text = `echo "a b" 'c'\n\tprintf '%s\\n' $HOME; x=\\; é ✓ 100%`;
    const { stdout } = await execa('sh', ['-c', 'printf "$1"', 'sh', encodeForPrintf(text)]);
    expect(stdout).toBe(text);
  });

  it('leaves nothing the kernel parser acts on', () => {
    expect(encodeForPrintf('say "hi" \\ 5%\n')).not.toMatch(/["%\n]|\\(?!\d{3})/);
    expect(BOOTSTRAP).not.toMatch(/\s/);
  });
});

describe('the UML command line', () => {
  const init = guestInitProgramSpec();
  const root = { mode: 'ubd' as const, kernelArgs: ['ubd0=/s/root.cow,/c/root.ext4', 'root=/dev/ubda', 'rw'], description: '' };

  it('puts the console on fds, never on an xterm or a pty, and boots quietly into vmctl\'s pid 1', () => {
    const args = umlKernelArgs({ root, mem: '256M', append: [], init, consoleInput: true, verbose: false });
    // con= sets every line, so it must come before the lines vmctl uses.
    expect(args.indexOf('con=null')).toBeLessThan(args.indexOf('con0=fd:0,fd:1'));
    expect(args).toEqual(expect.arrayContaining(['ssl=null', 'con1=null,fd:2', 'con2=null,fd:3', 'quiet', 'loglevel=0', 'mem=256M', 'init=/bin/sh']));
    expect(args.slice(-3)).toEqual(['--', '-c', BOOTSTRAP]);
    expect(args.join(' ')).not.toMatch(/xterm|pty/);
  });

  it('sets the guest console up for where its host ends go', () => {
    expect(consoleModes({ stdin: true, stdout: true, stderr: true, rows: 40, columns: 120 })).toEqual({
      consoleStty: ['rows', '40', 'cols', '120'],
      stderrStty: [],
    });
    // Piped: no echo of the input, no CR before each newline of the output.
    expect(consoleModes({ stdin: false, stdout: false, stderr: false }).consoleStty).toEqual(expect.arrayContaining(['-echo', '-opost']));
  });
});

function guestInitProgramSpec() {
  return {
    argv: ['/bin/sh', '-c', 'uname -r'],
    env: { PATH: '/bin' },
    hostname: 'vmctl',
    cwd: '/',
    uid: 0,
    gid: 0,
    rlimits: {},
    consoleStty: [],
    stderrStty: [],
    separateStderr: true,
  };
}

describe.skipIf(skipReason !== undefined)('vmctl boot --kernel (User-Mode Linux)', () => {
  let scratch: string;
  let release: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    // Installs user-mode-linux when it is missing (root only), as `vmctl boot --kernel uml` would.
    release = (await resolveUmlKernel('uml')).release;
    scratch = await mkdtemp(join(tmpdir(), 'vmctl-uml-'));
    env = { XDG_STATE_HOME: join(scratch, 'state') };
  });

  afterAll(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  /** `vmctl boot ARGS` with stdout and stderr exactly as printed (final newlines kept). */
  const boot = async (args: string[], opts: { input?: string } = {}) => {
    const result = await execa(process.execPath, [VMCTL_BIN, 'boot', ...args], {
      reject: false,
      stripFinalNewline: false,
      env,
      timeout: UML_TIMEOUT,
      ...(opts.input === undefined ? { stdin: 'ignore' as const } : { input: opts.input }),
    });
    const stdout = String(result.stdout);
    const stderr = String(result.stderr);
    // oclif wraps error messages to the terminal width behind a "›" margin.
    return { exitCode: result.exitCode, stdout, stderr, text: `${stdout}\n${stderr}`.replaceAll('›', ' ').replace(/\s+/g, ' ') };
  };

  it('runs uname -r on linux.uml: the kernel release, nothing else, status 0', async () => {
    const run = await boot(['--kernel', DEBIAN_UML_PATH, '--exec', 'uname -r']);
    expect(run.stderr.replace(/^building the UML root image .*\n/m, '')).toBe('');
    expect(run.stdout).toBe(`${release}\n`);
    expect(run.exitCode).toBe(0);
  }, UML_TIMEOUT);

  it("returns the command's exit status", async () => {
    const run = await boot(['--kernel', 'uml', '--exec', 'exit 7']);
    expect(run.stdout).toBe('');
    expect(run.exitCode).toBe(7);
  }, UML_TIMEOUT);

  it('passes stdout, stderr and stdin through cleanly', async () => {
    const run = await boot(['--kernel', 'uml', '--exec', 'echo out; echo err >&2; cat; printf "no newline"'], {
      input: 'line one\nline two\n',
    });
    expect(run.stdout).toBe('out\nline one\nline two\nno newline');
    expect(run.stderr).toBe('err\n');
    expect(run.exitCode).toBe(0);
  }, UML_TIMEOUT);

  it('boots a guest config whose "kernel" is "uml", with its hostname, env, cwd and uid', async () => {
    const config = join(scratch, 'uml-guest.json');
    await writeFile(
      config,
      JSON.stringify({
        name: 'uml-guest',
        rootfs: 'busybox',
        init: ['/sbin/init'],
        kernel: 'uml',
        hostname: 'umlguest',
        env: { PATH: '/bin:/sbin', GREETING: 'hello there' },
        cwd: '/tmp',
        uid: 1000,
        gid: 100,
        rlimits: { nofile: 77 },
      }),
    );
    const run = await boot([config, '--exec', 'uname -r; hostname; echo "$GREETING"; pwd; id -u; id -g; ulimit -n']);
    expect(run.stdout).toBe(`${release}\numlguest\nhello there\n/tmp\n1000\n100\n77\n`);
    expect(run.exitCode).toBe(0);
  }, UML_TIMEOUT);

  it("keeps the guest's writes in its copy-on-write file, never in the root filesystem", async () => {
    const lower = await ensureBusyboxRootfs();
    const write = await boot(['--kernel', 'uml', '--fresh', '--exec', 'echo kept > /root/uml-note']);
    expect(write.exitCode).toBe(0);
    const read = await boot(['--kernel', 'uml', '--exec', 'cat /root/uml-note']);
    expect(read.stdout).toBe('kept\n');
    expect(await readdir(join(lower, 'root'))).not.toContain('uml-note');
    const fresh = await boot(['--kernel', 'uml', '--fresh', '--exec', 'cat /root/uml-note']);
    expect(fresh.exitCode).toBe(1);
  }, 3 * UML_TIMEOUT);

  it('boots a hostfs root over a private copy with --hostfs', async () => {
    const lower = await ensureBusyboxRootfs();
    const run = await boot(['--kernel', 'uml', '--hostfs', '--exec', 'grep -c " / hostfs " /proc/mounts; echo x > /root/hostfs-note']);
    expect(run.stdout).toBe('1\n');
    expect(run.exitCode).toBe(0);
    expect(await readdir(join(lower, 'root'))).not.toContain('hostfs-note');
  }, UML_TIMEOUT);

  it('sets the memory with --mem and adds kernel arguments with --append', async () => {
    const run = await boot(['--kernel', 'uml', '--mem', '128M', '--append', 'vmctl_test=yes', '--exec', 'grep -o "vmctl_te[s]t=[y]es" /proc/cmdline; free -m | awk \'/Mem:/ { print ($2 > 64 && $2 <= 128) }\'']);
    // The pattern's brackets keep it from matching itself: the command travels on the kernel command line too.
    expect(run.stdout).toBe('vmctl_test=yes\n1\n');
    expect(run.exitCode).toBe(0);
  }, UML_TIMEOUT);

  it('runs UML under gdb with --gdb and still returns the status', async () => {
    const gdb = await execa('gdb', ['--version'], { reject: false });
    if ((gdb as { code?: string }).code === 'ENOENT' && !canInstall) return;
    // gdb reads `run` from stdin and the guest's console gets no input.
    const run = await boot(['--kernel', 'uml', '--gdb', '--exec', 'echo under-gdb; exit 5'], { input: 'run\n' });
    expect(run.stdout).toContain('under-gdb');
    expect(run.exitCode).toBe(5);
  }, UML_TIMEOUT);

  it('says clearly when the kernel path is wrong', async () => {
    const missing = await boot(['--kernel', join(scratch, 'no-such-linux'), '--exec', 'true']);
    expect(missing.exitCode).toBe(2);
    expect(missing.text).toContain('no-such-linux does not exist');
    expect(missing.text).toContain('make ARCH=um');

    const notUml = await boot(['--kernel', '/bin/true', '--exec', 'true']);
    expect(notUml.exitCode).toBe(2);
    expect(notUml.text).toContain('does not answer --version like a User-Mode Linux kernel');

    const notElf = await boot(['--kernel', '/etc/hostname', '--exec', 'true']);
    expect(notElf.exitCode).toBe(2);
    expect(notElf.text).toContain('is not an x86_64 ELF program');
  }, UML_TIMEOUT);

  it('rejects a bad "kernel" field and UML flags without a UML kernel', async () => {
    const config = join(scratch, 'bad-kernel.json');
    await writeFile(config, JSON.stringify({ name: 'bad', rootfs: 'busybox', init: ['/sbin/init'], kernel: 42 }));
    const bad = await boot([config, '--exec', 'true']);
    expect(bad.exitCode).toBe(2);
    expect(bad.text).toContain('field "kernel" must be "uml"');

    const stray = await boot(['--hostfs', '--exec', 'true']);
    expect(stray.exitCode).toBe(2);
    expect(stray.text).toContain('--hostfs only apply to a User-Mode Linux kernel');
  }, UML_TIMEOUT);
});
