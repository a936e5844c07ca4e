/**
 * Escapes that must fail: no path a guest writes (`..`, absolute and
 * relative symlinks made by the guest or found in a host-backed root,
 * /proc/N/root, /proc/self/cwd) leads outside the guest root; no host pid
 * can be signalled or looked at through /proc; /proc lists only guest pids;
 * and no guest process outlives a killed vmctl.
 *
 * Each escape is checked against the guest's own view: the escaping path
 * must show exactly what the plain guest path shows, and never something
 * that exists only on the host (/etc/debian_version on a Debian host, absent
 * from the busybox root).
 */
import { execa } from 'execa';
import { access, chmod, copyFile, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VMCTL_BIN } from './helpers/vmctl.ts';
import { bootExec, busyboxBinary, busyboxRoot, hostDescendants, lines, Scratch, warmUp } from './helpers/guest.ts';

/** A file of the host's that no guest root here has. */
const HOST_ONLY = '/etc/debian_version';

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

let scratch: Scratch;
let lower: string;
/** A host-backed root whose own symlinks point at host paths. */
let trapRoot: string;

beforeAll(async () => {
  scratch = await Scratch.create('isolation');
  lower = await busyboxRoot();
  trapRoot = join(scratch.dir, 'trap-root');
  await mkdir(join(trapRoot, 'bin'), { recursive: true });
  await mkdir(join(trapRoot, 'etc'));
  await mkdir(join(trapRoot, 'tmp'));
  await copyFile(await busyboxBinary(), join(trapRoot, 'bin/busybox'));
  await chmod(join(trapRoot, 'bin/busybox'), 0o755);
  for (const applet of ['sh', 'ls', 'cat', 'readlink']) await symlink('busybox', join(trapRoot, 'bin', applet));
  await writeFile(join(trapRoot, 'etc/guest-marker'), 'guest\n');
  await symlink('/etc', join(trapRoot, 'abs-etc'));
  await symlink('../../../../../../../../etc', join(trapRoot, 'rel-etc'));
  await symlink(`../../../../../../../..${HOST_ONLY}`, join(trapRoot, 'etc/host-file'));
  await symlink(HOST_ONLY, join(trapRoot, 'abs-host-file'));
  await warmUp(scratch);
});

afterAll(async () => {
  await scratch?.remove();
});

describe('the test setup', () => {
  it(`has a host-only file: ${HOST_ONLY} on the host, not in the guest roots`, async () => {
    expect(await exists(HOST_ONLY)).toBe(true);
    expect(await exists(join(lower, HOST_ONLY))).toBe(false);
    expect(await exists(join(trapRoot, HOST_ONLY))).toBe(false);
  });
});

interface Escape {
  name: string;
  /** Guest commands run first (make the links). */
  setup?: string;
  /** The escape attempt. */
  escape: string;
  /** The same thing through the plain guest path: what the escape must show. */
  plain: string;
  /** Boot this host directory instead of the busybox root. */
  trap?: boolean;
}

const ESCAPES: Escape[] = [
  { name: 'absolute symlink climbing above /', setup: 'ln -s /../../../../etc /tmp/e', escape: 'ls /tmp/e/', plain: 'ls /etc/' },
  { name: 'relative symlink climbing above /', setup: 'ln -s ../../../../../../../etc /tmp/r', escape: 'ls /tmp/r/', plain: 'ls /etc/' },
  { name: 'host-only file through a symlink', setup: 'ln -s /../../../../etc /tmp/e', escape: `cat /tmp/e/${HOST_ONLY.split('/').pop()}`, plain: `cat ${HOST_ONLY}` },
  { name: 'cd /../../.. then pwd and ls', escape: 'cd /../../..; pwd; ls', plain: 'cd /; pwd; ls' },
  { name: 'relative .. from a directory', escape: 'cd /tmp; ls ../../../../../..', plain: 'ls /' },
  { name: '.. inside a path', escape: 'ls /etc/../../../../etc/../..', plain: 'ls /' },
  { name: '/proc/1/root', escape: 'cat /proc/1/root/etc/hostname; ls /proc/1/root/', plain: 'cat /etc/hostname; ls /' },
  { name: '/proc/1/root/..', escape: 'ls /proc/1/root/../../..', plain: 'ls /' },
  { name: '/proc/self/root then a host-only file', escape: `cat /proc/self/root/../..${HOST_ONLY}`, plain: `cat ${HOST_ONLY}` },
  { name: '/proc/self/cwd climbing', escape: 'cd /tmp && ls /proc/self/cwd/../../..', plain: 'ls /' },
  { name: '/proc/self/exe names a guest path', escape: 'readlink /proc/self/exe', plain: 'readlink -f /bin/readlink' },
  { name: "a host-backed root's absolute symlink to /etc", trap: true, escape: 'ls /abs-etc/', plain: 'ls /etc/' },
  { name: "a host-backed root's relative symlink above /", trap: true, escape: 'ls /rel-etc/', plain: 'ls /etc/' },
  { name: "a host-backed root's symlink to a host-only file", trap: true, escape: 'cat /etc/host-file', plain: `cat ${HOST_ONLY}` },
  { name: "a host-backed root's absolute symlink to a host-only file", trap: true, escape: 'cat /abs-host-file', plain: `cat ${HOST_ONLY}` },
];

describe('path escapes', () => {
  it.each(ESCAPES.map((e) => [e.name, e] as const))('%s', async (_name, e) => {
    // Error messages name the path used, so compare statuses and, on success, the output.
    const script = [
      e.setup ?? 'true',
      'echo "--- escape"',
      `( ${e.escape} ) > /tmp/escape.out 2>&1; echo "status $?"; cat /tmp/escape.out`,
      'echo "--- plain"',
      `( ${e.plain} ) > /tmp/plain.out 2>&1; echo "status $?"; cat /tmp/plain.out`,
    ].join('\n');
    const run = await bootExec(scratch, script, { fresh: true, rootfs: e.trap ? trapRoot : undefined });
    expect(run.exitCode, run.stderr).toBe(0);
    const out = lines(run.stdout);
    const escape = out.slice(out.indexOf('--- escape') + 1, out.indexOf('--- plain'));
    const plain = out.slice(out.indexOf('--- plain') + 1);
    expect(escape[0], run.stdout).toBe(plain[0]);
    if (plain[0] === 'status 0') expect(escape, run.stdout).toEqual(plain);
    // Whatever it printed, nothing of the host's own.
    const hostOnly = (await execa('cat', [HOST_ONLY])).stdout.trim();
    expect(escape.join('\n')).not.toContain(hostOnly);
    expect(escape.join('\n')).not.toContain(lower);
    expect(escape.join('\n')).not.toContain(scratch.dir);
  });

  it('ls / shows the guest root, not the host one', async () => {
    const run = await bootExec(scratch, 'ls -a /', { fresh: true });
    expect(run.exitCode, run.stderr).toBe(0);
    const guestNames = new Set(lines(run.stdout).join(' ').split(/\s+/));
    const lowerNames = await readdir(lower);
    for (const name of lowerNames) expect(guestNames).toContain(name);
    const hostOnly = (await readdir('/')).filter((name) => !lowerNames.includes(name) && !['proc', 'dev', 'tmp', 'sys'].includes(name));
    expect(hostOnly.length).toBeGreaterThan(0);
    for (const name of hostOnly) expect(guestNames).not.toContain(name);
  });

  it('/proc/mounts names no host path', async () => {
    const run = await bootExec(scratch, 'cat /proc/mounts', { fresh: true });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/ \/ /);
    expect(run.stdout).not.toContain(lower);
    expect(run.stdout).not.toContain(scratch.dir);
  });
});

describe('host processes', () => {
  it('/proc lists only the guest pids, as ps does', async () => {
    // Globs are expanded by the shell itself, so no extra process is running while /proc is read.
    // The pause lets the background sleep name itself (busybox execs /proc/self/exe, then sets its comm).
    const run = await bootExec(
      scratch,
      'echo /proc/[0-9]*; sleep 5 & s=$!; echo "sleep $s"; sleep 0.3; echo /proc/[0-9]*; ps -o pid,comm; kill $s',
      { fresh: true },
    );
    expect(run.exitCode, run.stderr).toBe(0);
    const out = lines(run.stdout);
    expect(out[0]).toBe('/proc/1');
    const sleepPid = out[1]!.split(' ')[1]!;
    expect(out[2]).toBe(`/proc/1 /proc/${sleepPid}`);
    const rows = out.slice(4).map((row) => row.trim().split(/\s+/));
    expect(rows.map(([pid]) => pid).slice(0, 2)).toEqual(['1', sleepPid]);
    expect(rows.map(([, comm]) => comm)).toEqual(['sh', 'sleep', 'ps']);
    for (const [pid] of rows) expect(Number(pid)).toBeLessThan(1000);
  });

  it('cannot signal or look at a host process', async () => {
    // The guest reads the host pids on its stdin once it runs: the test runner,
    // its parent, vmctl itself and the host processes behind its own guest processes.
    const script = [
      'ls /proc | grep -E "^[0-9]+$" | tr "\\n" " "; echo',
      'read pids',
      'for p in $pids; do',
      '  kill -0 $p 2>&1; echo "kill -0 $p: $?"',
      '  kill -s CONT $p 2>/dev/null; echo "kill -CONT $p: $?"',
      '  cat /proc/$p/status > /dev/null 2>&1; echo "status $p: $?"',
      '  ls /proc/$p/ > /dev/null 2>&1; echo "ls $p: $?"',
      'done',
    ].join('\n');
    const child = execa(process.execPath, [VMCTL_BIN, 'boot', '--fresh', '--exec', script], {
      env: scratch.env,
      reject: false,
      timeout: 60_000,
    });
    let guestPids: number[] = [];
    let sent: number[] = [];
    let firstLine = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', async (chunk: string) => {
      if (sent.length > 0 || firstLine.includes('\n')) return;
      firstLine += chunk;
      if (!firstLine.includes('\n')) return;
      guestPids = firstLine.trim().split(/\s+/).map(Number);
      const hostPids = [process.pid, process.ppid, child.pid!, ...(await hostDescendants(child.pid!))];
      // A host pid that happens to be a guest pid too would be a false alarm: leave it out.
      sent = hostPids.filter((pid) => !guestPids.includes(pid));
      child.stdin!.end(`${sent.join(' ')}\n`);
    });
    const result = await child;
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(guestPids.length).toBeGreaterThan(0);
    for (const pid of guestPids) expect(pid).toBeLessThan(1000);
    expect(sent.length).toBeGreaterThanOrEqual(4);
    const out = lines(String(result.stdout)).slice(1);
    for (const pid of sent) {
      expect(out, `kill -0 of host pid ${pid}`).toContain(`kill -0 ${pid}: 1`);
      expect(out).toContainEqual(expect.stringMatching(new RegExp(`can't kill pid ${pid}: No such process`)));
      expect(out).toContain(`kill -CONT ${pid}: 1`);
      expect(out).toContain(`status ${pid}: 1`);
      expect(out).toContain(`ls ${pid}: 1`);
    }
  });

  it('every guest process dies when vmctl is killed', async () => {
    const child = execa(process.execPath, [VMCTL_BIN, 'boot', '--fresh', '--exec', 'sleep 100 & sleep 100 & echo started; wait'], {
      env: scratch.env,
      reject: false,
      timeout: 60_000,
    });
    await new Promise<void>((resolve) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('started')) resolve();
      });
    });
    const guests = await hostDescendants(child.pid!);
    expect(guests.length).toBeGreaterThanOrEqual(3);
    child.kill('SIGKILL');
    await child;
    // Gone, or a zombie nobody reaps: either way no longer running.
    const running = async () => {
      const alive: number[] = [];
      for (const pid of guests) {
        const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
        if (stat && !/^\d+ \(.*\) [ZX] /s.test(stat)) alive.push(pid);
      }
      return alive;
    };
    const deadline = Date.now() + 5_000;
    while ((await running()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await running()).toEqual([]);
  });
});
