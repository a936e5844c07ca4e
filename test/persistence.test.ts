/**
 * The guest's `/` across boots: what one boot writes (new files, changed
 * and deleted files of the root filesystem, renames) is there in the next,
 * it lives in the instance's upper layer under XDG_STATE_HOME, the lower root
 * (the assembled root filesystem in the cache) is never modified, `/tmp` is
 * the kernel's tmpfs and starts empty, and `--fresh` drops it all.
 */
import { createHash } from 'node:crypto';
import { chmod, copyFile, lstat, mkdir, readdir, readFile, readlink, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootExec, busyboxBinary, busyboxRoot, lines, Scratch, warmUp } from './helpers/guest.ts';

/** Every entry under a directory: type, mode, size, mtime, and the content or link target, hashed. */
async function treeDigest(root: string): Promise<Map<string, string>> {
  const entries = new Map<string, string>();
  const walk = async (rel: string) => {
    const path = join(root, rel);
    const st = await lstat(path);
    let what = `${st.mode.toString(8)} ${st.mtimeMs}`;
    if (st.isSymbolicLink()) what += ` -> ${await readlink(path)}`;
    else if (st.isFile()) what += ` ${st.size} ${createHash('sha256').update(await readFile(path)).digest('hex')}`;
    entries.set(rel || '.', what);
    if (st.isDirectory()) {
      for (const name of (await readdir(path)).sort()) await walk(join(rel, name));
    }
  };
  await walk('');
  return entries;
}

/** Host files under a directory whose content is exactly `content`. */
async function filesHolding(dir: string, content: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (path: string) => {
    const st = await lstat(path);
    if (st.isDirectory()) for (const name of await readdir(path)) await walk(join(path, name));
    else if (st.isFile() && st.size === content.length && (await readFile(path, 'utf8')) === content) found.push(path);
  };
  await walk(dir);
  return found;
}

let scratch: Scratch;
let lower: string;
let lowerBefore: Map<string, string>;

beforeAll(async () => {
  scratch = await Scratch.create('persistence');
  lower = await busyboxRoot();
  lowerBefore = await treeDigest(lower);
  await warmUp(scratch);
});

afterAll(async () => {
  await scratch?.remove();
});

/** Prints what the first boot changes, one line each, so the boots can be compared. */
const INSPECT = [
  'cat /root/f 2>/dev/null || echo "no /root/f"',
  'cat /root/d/e/g 2>/dev/null || echo "no /root/d/e/g"',
  'readlink /root/l || echo "no /root/l"',
  'tail -1 /etc/profile',
  '[ -e /etc/hosts ] && echo "/etc/hosts exists" || echo "no /etc/hosts"',
  '[ -e /etc/group ] && echo "/etc/group exists" || echo "no /etc/group"',
  'cat /etc/group.moved 2>/dev/null | head -1 || true',
  '[ -e /etc/group.moved ] || echo "no /etc/group.moved"',
  'stat -c %a /root/f 2>/dev/null || echo "no mode"',
  'cat /tmp/t 2>/dev/null || echo "no /tmp/t"',
].join('\n');

describe.sequential('the guest root across boots', () => {
  const profileLast = async () => lines(await readFile(join(lower, 'etc/profile'), 'utf8')).at(-1);
  const groupFirst = async () => lines(await readFile(join(lower, 'etc/group'), 'utf8'))[0];
  /** What INSPECT prints on the lower root alone, nothing written yet. */
  const pristine = async () => [
    'no /root/f',
    'no /root/d/e/g',
    'no /root/l',
    await profileLast(),
    '/etc/hosts exists',
    '/etc/group exists',
    'no /etc/group.moved',
    'no mode',
    'no /tmp/t',
  ];

  it('starts from the lower root alone', async () => {
    const run = await bootExec(scratch, INSPECT, { fresh: true });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(lines(run.stdout)).toEqual(await pristine());
  });

  it('one boot writes, deletes, renames and changes files', async () => {
    const run = await bootExec(
      scratch,
      [
        'echo data > /root/f && chmod 600 /root/f',
        'mkdir -p /root/d/e && echo deep > /root/d/e/g',
        'ln -s f /root/l',
        'echo "# appended by a guest" >> /etc/profile',
        'rm /etc/hosts',
        'mv /etc/group /etc/group.moved',
        'echo tmpfile > /tmp/t',
        'sync',
        'echo written',
      ].join(' && '),
    );
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toBe('written');
  });

  it('the next boot sees all of it, except /tmp, which is a tmpfs', async () => {
    const run = await bootExec(scratch, INSPECT);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(lines(run.stdout)).toEqual([
      'data',
      'deep',
      'f',
      '# appended by a guest',
      'no /etc/hosts',
      'no /etc/group',
      await groupFirst(),
      '600',
      'no /tmp/t',
    ]);
  });

  it('keeps the written data under XDG_STATE_HOME', async () => {
    expect(await filesHolding(scratch.stateHome, 'data\n')).toHaveLength(1);
    expect(await filesHolding(scratch.stateHome, 'deep\n')).toHaveLength(1);
  });

  it('never modifies the lower root', async () => {
    const after = await treeDigest(lower);
    // As objects, so a failure names the entries that changed.
    expect(Object.fromEntries(after)).toEqual(Object.fromEntries(lowerBefore));
  });

  it('--fresh drops everything the earlier boots wrote', async () => {
    const run = await bootExec(scratch, INSPECT, { fresh: true });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(lines(run.stdout)).toEqual(await pristine());
    expect(await filesHolding(scratch.stateHome, 'data\n')).toEqual([]);
  });

  it('keeps the state of another root filesystem apart', async () => {
    const mine = await bootExec(scratch, 'echo busybox-root > /root/which');
    expect(mine.exitCode, mine.stderr).toBe(0);
    // Another root: a copy of busybox as /bin/sh and an empty /root.
    const other = join(scratch.dir, 'other-root');
    await mkdir(join(other, 'bin'), { recursive: true });
    await mkdir(join(other, 'root'));
    await copyFile(await busyboxBinary(), join(other, 'bin/busybox'));
    await chmod(join(other, 'bin/busybox'), 0o755);
    await symlink('busybox', join(other, 'bin/sh'));
    const otherBefore = await treeDigest(other);
    const run = await bootExec(scratch, 'cat /root/which 2>/dev/null || echo none; echo other > /root/which', { rootfs: other });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toBe('none');
    expect(Object.fromEntries(await treeDigest(other))).toEqual(Object.fromEntries(otherBefore));
    const again = await bootExec(scratch, 'cat /root/which');
    expect(again.stdout).toBe('busybox-root');
    const otherAgain = await bootExec(scratch, 'cat /root/which', { rootfs: other });
    expect(otherAgain.stdout).toBe('other');
  });
});
