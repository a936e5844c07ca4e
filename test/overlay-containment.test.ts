/**
 * The copy-on-write root is the guest kernel's, not the host's (issue 11,
 * point 5): what a guest sets as owner, set-id bits or device node is
 * kept as the kernel's own metadata (the `user.containers.override_stat`
 * xattr of the upper file) and never as a real set-id, root-owned or
 * device file on the host; a directory of the upper layer that the host
 * side replaces by a symlink is never followed; one vmctl runs an
 * instance at a time (`--name` boots another); state directories are
 * private (0700).
 *
 * CI runs as root, where every host file is root's anyway: there the
 * tests check the host modes and the xattr; as another user they also
 * check that the host files are that user's.
 */
import { execa } from 'execa';
import { chmod, lstat, mkdir, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOT_TIMEOUT, bootExec, lines, Scratch, warmUp } from './helpers/guest.ts';
import { vmctl, type VmctlRun } from './helpers/vmctl.ts';

let scratch: Scratch;

beforeAll(async () => {
  scratch = await Scratch.create('overlay-containment');
  await warmUp(scratch);
}, 600_000);

afterAll(async () => {
  await scratch?.remove();
});

const instanceDir = (name = 'busybox') => join(scratch.stateHome, 'vmctl', name, 'busybox');
/** The host file of guest path /REL in the default instance's upper layer. */
const upperFile = (rel: string, name = 'busybox') => join(instanceDir(name), 'upper', rel);
const SETID = 0o6000;

/** The guest metadata xattr of a host file, read by another program than vmctl (Python's os.getxattr). */
async function overrideXattr(path: string): Promise<string> {
  const run = await execa('python3', ['-c',
    'import os, sys\ntry: print(os.getxattr(sys.argv[1], "user.containers.override_stat", follow_symlinks=False).decode())\n' +
    'except OSError as e: print("none:" + (e.strerror or ""))', path]);
  return run.stdout;
}

/** What the guest shows of its files: name, mode in octal, owner, type, device numbers. */
const STAT = "stat -c '%n %a %u %g %F %t %T'";

/** A boot in the background (its promise in an object, so an await does not wait for the whole boot). */
function bootBackground(args: string[]): { exited: Promise<VmctlRun> } {
  return { exited: vmctl(['boot', ...args], { env: scratch.env, timeout: BOOT_TIMEOUT }) };
}

/** Wait for host file `path` to appear while `run` is not over; false if it ended first. */
async function waitFor(path: string, run: { exited: Promise<VmctlRun> }, ms = 30_000): Promise<boolean> {
  let over = false;
  void run.exited.then(() => { over = true; });
  for (const end = Date.now() + ms; Date.now() < end && !over;) {
    if (await lstat(path).catch(() => undefined)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

describe.sequential('guest ownership, set-id bits and device nodes are the kernel\'s metadata', () => {
  const SETUP = [
    'cp /bin/busybox /root/su && chmod 4755 /root/su',
    'echo data > /root/given && chown 1000:100 /root/given',
    'echo data > /root/rooted && chown 1000:1000 /root/rooted && chown 0:0 /root/rooted',
    'mkdir /root/shared && chmod 3775 /root/shared',
    'mknod -m 666 /root/null c 1 3 && mknod -m 640 /root/disk b 8 1',
  ].join(' && ');
  const SHOW = `${STAT} /root/su /root/given /root/rooted /root/shared /root/null /root/disk`;
  const EXPECTED = [
    '/root/su 4755 0 0 regular file 0 0',
    '/root/given 644 1000 100 regular file 0 0',
    '/root/rooted 644 0 0 regular file 0 0',
    '/root/shared 3775 0 0 directory 0 0',
    '/root/null 666 0 0 character special file 1 3',
    '/root/disk 640 0 0 block special file 8 1',
  ];

  it('the guest sees exactly what it set', async () => {
    const run = await bootExec(scratch, `${SETUP} && ${SHOW}`, { fresh: true });
    expect(run.exitCode, run.text).toBe(0);
    expect(lines(run.stdout)).toEqual(EXPECTED);
  });

  it('the host files have no set-id bit, no owner but the invoking user, no device node; the xattr holds the rest', async () => {
    const me = process.getuid!();
    for (const name of ['su', 'given', 'rooted', 'shared', 'null', 'disk']) {
      const st = await lstat(upperFile(`root/${name}`));
      expect([name, st.mode & SETID]).toEqual([name, 0]);
      expect([name, st.uid]).toEqual([name, me]);
      expect([name, st.isFile() || st.isDirectory()]).toEqual([name, true]);
    }
    expect((await lstat(upperFile('root/null'))).isFile()).toBe(true);
    expect((await lstat(upperFile('root/null'))).size).toBe(0);
    expect(await overrideXattr(upperFile('root/su'))).toBe('0:0:4755:file');
    expect(await overrideXattr(upperFile('root/given'))).toBe('1000:100:0644:file');
    expect(await overrideXattr(upperFile('root/rooted'))).toBe('0:0:0644:file');
    expect(await overrideXattr(upperFile('root/shared'))).toBe('0:0:3775:dir');
    expect(await overrideXattr(upperFile('root/null'))).toBe('0:0:0666:char-1-3');
    expect(await overrideXattr(upperFile('root/disk'))).toBe('0:0:0640:block-8-1');
  });

  it('and after a reboot the guest still sees what it set', async () => {
    const run = await bootExec(scratch, `${SHOW}; ls -l /root/su /root/given /root/null | cut -c1-10`);
    expect(run.exitCode, run.text).toBe(0);
    expect(lines(run.stdout)).toEqual([...EXPECTED, '-rw-r--r--', 'crw-rw-rw-', '-rwsr-xr-x']); // given, null, su
  });

  it('a device node made on / opens as that device: the kernel\'s driver, never a host device', async () => {
    const run = await bootExec(scratch, [
      'echo lost > /root/null && echo "wrote to null"',
      'head -c 100 /root/null | wc -c',
      'mknod /root/zero c 1 5 && head -c 4 /root/zero | od -An -tx1',
      'mknod /root/nodriver c 42 42 && cat /root/nodriver',
      'cat /root/disk',
      'find /root -type c | sort',
    ].join('; '));
    expect(lines(run.stdout)).toEqual(['wrote to null', '0', ' 00 00 00 00', '/root/nodriver', '/root/null', '/root/zero']);
    expect(run.stderr).toMatch(/can't open '\/root\/nodriver': No such device or address/);
    expect(run.stderr).toMatch(/can't open '\/root\/disk': No such device or address/);
    expect((await lstat(upperFile('root/null'))).size).toBe(0);
  });

  it('a set-id bit an older upper layer left on a host file is read as it was, and dropped from the host on a change', async () => {
    // A file as vmctl wrote them before the xattr: its host metadata is the truth.
    await mkdir(upperFile('root'), { recursive: true });
    await writeFile(upperFile('root/old'), 'old\n');
    await chmod(upperFile('root/old'), 0o4755);
    const run = await bootExec(scratch, `${STAT} /root/old; echo more >> /root/old; ${STAT} /root/old; cat /root/old`);
    expect(run.exitCode, run.text).toBe(0);
    expect(lines(run.stdout)).toEqual(['/root/old 4755 0 0 regular file 0 0', '/root/old 4755 0 0 regular file 0 0', 'old', 'more']);
    expect((await stat(upperFile('root/old'))).mode & SETID).toBe(0);
    expect(await overrideXattr(upperFile('root/old'))).toBe('0:0:4755:file');
  });
});

describe.sequential('a directory of the upper layer replaced by a symlink on the host', () => {
  let outside: string;
  let before: string[];

  beforeAll(async () => {
    outside = join(scratch.dir, 'outside');
    await mkdir(outside, { recursive: true });
    await writeFile(join(outside, 'marker'), 'host secret\n');
    before = await readdir(outside);
  });

  /** Nothing outside the layer was created or changed. */
  async function outsideUntouched(): Promise<void> {
    expect((await readdir(outside)).sort()).toEqual(before);
    expect(await readFile(join(outside, 'marker'), 'utf8')).toBe('host secret\n');
  }

  it('is never followed by a guest that holds the directory (its cwd) from before', async () => {
    const made = await bootExec(scratch, 'mkdir -p /root/d && echo inside > /root/d/f');
    expect(made.exitCode, made.text).toBe(0);
    await rm(upperFile('root/go'), { force: true });
    await rm(upperFile('root/ready'), { force: true });
    // The guest keeps /root/d as its cwd, waits until the host swapped it, then reads and writes through it.
    const run = bootBackground(['--exec', [
      'cd /root/d && cat f && touch /root/ready',
      'while [ ! -e /root/go ]; do sleep 0.05; done',
      'cat marker', 'echo planted > created', 'mkdir made', 'ls', 'echo end',
    ].join('; ')]);
    expect(await waitFor(upperFile('root/ready'), run)).toBe(true);
    await rename(upperFile('root/d'), upperFile('root/d.moved'));
    await symlink(outside, upperFile('root/d'));
    await writeFile(upperFile('root/go'), '');
    const done = await run.exited;
    expect(done.stdout).toMatch(/^inside\n/);
    expect(done.stdout).toMatch(/end$/);
    expect(done.stdout).not.toContain('host secret');
    expect(done.stdout).not.toContain('marker');
    await outsideUntouched();
  });

  it('is never followed while the host swaps it back and forth under a busy guest', async () => {
    const made = await bootExec(scratch, 'mkdir -p /root/r && echo inside > /root/r/f');
    expect(made.exitCode, made.text).toBe(0);
    await rm(upperFile('root/ready'), { force: true });
    const run = bootBackground(['--exec', [
      'cd /root/r && touch /root/ready',
      'i=0; while [ $i -lt 400 ]; do i=$((i+1)); cat marker f 2>/dev/null; echo $i > c$i 2>/dev/null; mkdir m$i 2>/dev/null; done',
      'echo end',
    ].join('; ')]);
    expect(await waitFor(upperFile('root/ready'), run)).toBe(true);
    let over = false;
    void run.exited.then(() => { over = true; });
    const dir = upperFile('root/r'), real = upperFile('root/r.real');
    let swaps = 0;
    while (!over) {
      await rename(dir, real).catch(() => {});
      await symlink(outside, dir).catch(() => {});
      await new Promise((r) => setTimeout(r, 1));
      await rm(dir, { force: true }).catch(() => {});
      await rename(real, dir).catch(() => {});
      swaps++;
    }
    const done = await run.exited;
    expect(done.stdout).toMatch(/end$/);
    expect(done.stdout).not.toContain('host secret');
    expect(swaps).toBeGreaterThan(10);
    await outsideUntouched();
  });
});

describe.sequential('one vmctl per instance; --name boots another', () => {
  it('refuses a second boot of a running instance, naming --name; --name boots a separate one that ctl and list reach', async () => {
    await rm(upperFile('root/first-up'), { force: true });
    const first = bootBackground(['--exec', 'touch /root/first-up; sleep 30']);
    expect(await waitFor(upperFile('root/first-up'), first)).toBe(true);

    const second = await bootExec(scratch, 'echo second guest');
    expect(second.exitCode).toBe(1);
    expect(second.stdout).not.toContain('second guest');
    expect(second.text).toMatch(/instance "busybox" is running already/);
    expect(second.text).toMatch(/--name NAME/);
    // --fresh would empty its state under it: refused the same way.
    const fresh = await bootExec(scratch, 'true', { fresh: true });
    expect(fresh.exitCode).toBe(1);
    expect(fresh.text).toMatch(/running already/);
    expect((await lstat(upperFile('root/first-up'))).isFile()).toBe(true);

    const named = bootBackground(['--name', 'other', '--exec', 'echo mine > /root/own; touch /root/named-up; sleep 30']);
    expect(await waitFor(upperFile('root/named-up', 'other'), named)).toBe(true);
    const ps = await vmctl(['ctl', 'other', 'ps'], { env: scratch.env });
    expect(ps.exitCode, ps.text).toBe(0);
    expect(ps.stdout).toMatch(/\bsleep$/m);
    const list = await vmctl(['list'], { env: scratch.env });
    expect(list.stdout).toMatch(/^busybox\s+\d+\s+running\b/m);
    expect(list.stdout).toMatch(/^other\s+\d+\s+running\b.*vmctl\/other\/busybox$/m);
    // Its state is its own: the default instance never sees its files.
    await expect(lstat(upperFile('root/own'))).rejects.toThrow();

    expect((await vmctl(['ctl', 'other', 'halt'], { env: scratch.env })).exitCode).toBe(0);
    expect((await named.exited).exitCode).toBe(137);
    expect((await vmctl(['ctl', 'busybox', 'halt'], { env: scratch.env })).exitCode).toBe(0);
    expect((await first.exited).exitCode).toBe(137);
    // The host dropped the locks with their processes: both boot again.
    const again = await bootExec(scratch, 'cat /root/own 2>/dev/null || echo none');
    expect(again.stdout).toBe('none');
    const otherAgain = await vmctl(['boot', '--name', 'other', '--exec', 'cat /root/own'], { env: scratch.env });
    expect(otherAgain.stdout).toBe('mine');
  }, 180_000);

  it('refuses a --name that is not a plain name', async () => {
    const bad = await vmctl(['boot', '--name', '../up', '--exec', 'true'], { env: scratch.env });
    expect(bad.exitCode).toBe(2);
    expect(bad.text).toMatch(/--name "\.\.\/up": an instance name/);
  });
});

describe('state directories', () => {
  it('are private to their owner (0700), and an existing one is tightened', async () => {
    const dirs = [join(scratch.stateHome, 'vmctl'), join(scratch.stateHome, 'vmctl', 'busybox'), instanceDir(), upperFile('')];
    for (const d of dirs) await chmod(d, 0o755);
    const run = await bootExec(scratch, 'true');
    expect(run.exitCode, run.text).toBe(0);
    for (const d of [...dirs, join(scratch.stateHome, 'vmctl', 'other'), instanceDir('other'), upperFile('', 'other')]) {
      expect([d, (await stat(d)).mode & 0o777]).toEqual([d, 0o700]);
    }
  });
});
