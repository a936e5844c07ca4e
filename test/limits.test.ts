/**
 * Limits as Linux has them, each met by a guest that tries to take the
 * host down, and each ending with the host untouched: vmctl exits as it
 * should, no host process of the guest's is left, the guest never had more
 * host processes than --pids-max lets it, and vmctl with its guests never
 * held more than their limits let them.
 *
 * - a fork bomb and a fork loop end in EAGAIN at --pids-max (threads
 *   count), and the guest runs commands afterwards;
 * - RLIMIT_NPROC stops a user that is not root (set by setrlimit, or by the
 *   guest config), and root is exempt;
 * - tmpfs: /tmp fills up at half of --mem, a mount's size= and a remount
 *   to a new size, with df telling; what a full tmpfs does to writes,
 *   truncates, fallocate, creates and symlinks is what the host's Linux
 *   does (its output is written down below); a mapped file is charged whole;
 * - pipes: their buffers count against --mem (ENOMEM), and F_SETPIPE_SZ
 *   follows pipe(7);
 * - a guest process cannot kill init, not even under --exec.
 *
 * The programs are static C, built into a small root by the test setup.
 */
import { execa } from 'execa';
import { mkdir, readdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOT_TIMEOUT, hostDescendants, lines, programRoot, Scratch, shellQuote, warmUp } from './helpers/guest.ts';
import { VMCTL_BIN } from './helpers/vmctl.ts';

const PROGRAMS = join(import.meta.dirname, 'programs/limits');
/** A user of the guest that is not root. */
const USER = 1000;

let scratch: Scratch;
let root: string;

beforeAll(async () => {
  scratch = await Scratch.create('limits');
  root = await programRoot(join(scratch.dir, 'root'), [
    { name: 'forkloop', source: join(PROGRAMS, 'forkloop.c'), cflags: ['-O1', '-Wall', '-pthread'] },
    { name: 'pipefill', source: join(PROGRAMS, 'pipefill.c') },
    { name: 'pipesize', source: join(PROGRAMS, 'pipesize.c') },
    { name: 'tmpfill', source: join(PROGRAMS, 'tmpfill.c') },
    { name: 'tmpmap', source: join(PROGRAMS, 'tmpmap.c') },
    { name: 'kernfill', source: join(PROGRAMS, 'kernfill.c') },
    { name: 'bombwait', source: join(PROGRAMS, 'bombwait.c') },
    { name: 'exitsig', source: join(PROGRAMS, 'exitsig.c') },
  ]);
  await mkdir(join(root, 'mnt'));
  await warmUp(scratch);
});

afterAll(async () => {
  await scratch?.remove();
});

/** A host process seen under vmctl, by pid and start time (so a reused pid is not taken for it). */
interface Seen {
  pid: number;
  start: string;
}

async function startTime(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const m = /^\d+ \(.*\) (\S) (.*)$/s.exec(stat);
  if (!m || m[1] === 'Z' || m[1] === 'X') return undefined; // gone, or a zombie: not running
  return m[2]!.split(' ')[18]; // field 22, starttime
}

/**
 * Host memory vmctl and its guests hold: the resident memory of every
 * process of the tree, and the pages of the memfds vmctl keeps open
 * (tmpfs files), which no process's RSS shows while nothing maps them.
 */
async function treeMemory(vmctl: number, pids: number[]): Promise<number> {
  let bytes = 0;
  for (const pid of [vmctl, ...pids]) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    bytes += Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
  }
  const fds = await readdir(`/proc/${vmctl}/fd`).catch(() => [] as string[]);
  for (const fd of fds) {
    const path = `/proc/${vmctl}/fd/${fd}`;
    if (!(await readlink(path).catch(() => '')).startsWith('/memfd:')) continue;
    bytes += ((await stat(path).catch(() => undefined))?.blocks ?? 0) * 512;
  }
  return bytes;
}

interface GuardedRun {
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
  /** the most host processes under vmctl at once (the guest's, its zygote's and vmctl's own helpers) */
  peak: number;
  /** host processes seen under vmctl that still run after it exited ("pid name") */
  left: string[];
  /** the most host memory vmctl and its guests held at once (treeMemory) */
  memPeak: number;
}

/**
 * `vmctl boot ARGS... --exec COMMAND` on the test root, watching the host
 * while it runs: every 20 ms the host processes under vmctl are counted,
 * and after it exits, the ones seen must all be gone.
 */
async function guarded(args: string[], command: string, timeout = BOOT_TIMEOUT): Promise<GuardedRun> {
  const child = execa(process.execPath, [VMCTL_BIN, 'boot', '--rootfs', root, ...args, '--exec', command], {
    env: scratch.env, reject: false, stdin: 'ignore', timeout,
  });
  const seen = new Map<number, string>();
  let peak = 0, memPeak = 0;
  let done = false;
  const watch = (async () => {
    while (!done) {
      const pids = await hostDescendants(child.pid!);
      peak = Math.max(peak, pids.length);
      memPeak = Math.max(memPeak, await treeMemory(child.pid!, pids));
      for (const pid of pids) {
        if (seen.has(pid)) continue;
        const start = await startTime(pid);
        if (start !== undefined) seen.set(pid, start);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const result = await child;
  done = true;
  await watch;
  // The guests' host processes die with their tracer (PTRACE_O_EXITKILL): give the host a moment to end them.
  let left: string[] = [];
  for (let i = 0; i < 50; i++) {
    left = [];
    for (const [pid, start] of seen) {
      if ((await startTime(pid)) !== start) continue;
      const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '?\n');
      left.push(`${pid} ${comm.trim()}`);
    }
    if (left.length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    exitCode: result.exitCode, signal: result.signal ?? undefined, stdout: String(result.stdout),
    stderr: String(result.stderr), peak, left, memPeak,
  };
}

/** The host after a run: vmctl ended by itself with `status`, nothing of the guest's left, the memory back. */
function expectHostUntouched(r: GuardedRun, status = 0): void {
  expect(r.signal, r.stderr).toBeUndefined();
  expect(r.exitCode, r.stderr).toBe(status);
  expect(r.left).toEqual([]);
  // The guests of these tests are given at most 64 MiB, or fill at most 48: with node's own
  // memory (about 70 MiB) and the guests' processes, well under 512 MiB.
  expect(r.memPeak).toBeGreaterThan(0);
  expect(r.memPeak).toBeLessThan(512 * 1024 * 1024);
}

/** Host processes vmctl may have besides its guest's tasks: the zygote, an exec's fresh process, slack. */
const HOST_EXTRA = 8;

describe('tasks: --pids-max and RLIMIT_NPROC', () => {
  it('a fork bomb ends in EAGAIN at --pids-max, and the guest runs commands afterwards', async () => {
    const pidsMax = 64;
    // pid 1 waits without forking (bombwait.c) until the bomb has burnt out, then runs commands.
    const bomb = 'bomb() { bomb | bomb & }; bomb';
    const then = 'cat /proc/sys/kernel/threads-max; echo alive; ls / > /dev/null && echo ls ran';
    const script = `exec /bombwait ${shellQuote(bomb)} ${shellQuote(then)}`;
    const r = await guarded(['--pids-max', String(pidsMax)], script, 90_000);
    expectHostUntouched(r);
    expect(r.stderr).toMatch(/can't fork: Resource temporarily unavailable/);
    // It did grow to the limit, and no further.
    expect(r.peak).toBeGreaterThanOrEqual(pidsMax / 2);
    expect(r.peak).toBeLessThanOrEqual(pidsMax + HOST_EXTRA);
    expect(lines(r.stdout)).toEqual(['burnt out', String(pidsMax), 'alive', 'ls ran']);
  }, 120_000);

  it('fork and thread creation fail with EAGAIN once --pids-max tasks are alive', async () => {
    // pid 1 (the shell) and forkloop are two tasks of the 40 (`; true`: the shell does not exec the last command).
    const r = await guarded(['--pids-max', '40'], '/forkloop -m 100; /forkloop -t -m 100; true');
    expectHostUntouched(r);
    expect(lines(r.stdout)).toEqual(['made 38 errno EAGAIN', 'reaped 38', 'made 38 errno EAGAIN', 'reaped 38']);
    expect(r.peak).toBeLessThanOrEqual(40 + HOST_EXTRA);
  });

  it('RLIMIT_NPROC stops a user that is not root with EAGAIN, as copy_process() does; root is exempt', async () => {
    // forkloop sets RLIMIT_NPROC (and reads it back), then setuid()s: that user has 1 task, and may have 5.
    const r = await guarded([], `/forkloop -n 5 -u ${USER} -m 50; /forkloop -t -n 5 -u ${USER} -m 50; /forkloop -n 5 -m 20`);
    expectHostUntouched(r);
    expect(lines(r.stdout)).toEqual([
      'made 4 errno EAGAIN', 'reaped 4', 'made 4 errno EAGAIN', 'reaped 4', 'made 20 errno none', 'reaped 20',
    ]);
  });

  it('the guest config\'s uid and rlimits.nproc bound the first process\'s user', async () => {
    const config = join(scratch.dir, 'nproc-user.json');
    await writeFile(config, JSON.stringify({
      name: 'nproc-user', description: 'a user that is not root, with RLIMIT_NPROC 3', rootfs: 'busybox',
      init: ['/bin/sh'], env: { PATH: '/bin' }, hostname: 'limits', cwd: '/', uid: USER, gid: USER, rlimits: { nproc: 3 },
    }));
    // The shell and forkloop are two of the user's 3 tasks.
    const r = await guarded([config], 'ulimit -u; id -u; /forkloop -m 50; true');
    expectHostUntouched(r);
    expect(lines(r.stdout)).toEqual(['3', String(USER), 'made 1 errno EAGAIN', 'reaped 1']);
  });
});

describe('tmpfs: size= and the guest\'s memory', () => {
  it('/tmp is half of --mem by default: dd gets ENOSPC there, and df says so', async () => {
    const r = await guarded(['--mem', '64M'], 'dd if=/dev/zero of=/tmp/fill bs=1M count=48; echo "dd $?"; ' +
      'ls -l /tmp/fill; df /tmp; free | grep Mem:');
    expectHostUntouched(r);
    expect(r.stderr).toMatch(/dd: error writing '\/tmp\/fill': No space left on device/);
    const out = lines(r.stdout);
    expect(out[0]).toBe('dd 1');
    expect(out[1]).toMatch(/ 33554432 /);
    expect(out.at(-2)).toMatch(/^tmpfs\s+32768\s+32768\s+0\s+100% \/tmp$/);
    expect(out.at(-1)).toMatch(/^Mem:\s+65536\s/);
  });

  it('every tmpfs together stays within --mem: /dev/shm gets ENOSPC before its own size when /tmp holds the rest', async () => {
    const r = await guarded(['--mem', '64M'], 'dd if=/dev/zero of=/tmp/a bs=1M count=40 2>/dev/null; ' +
      'dd if=/dev/zero of=/dev/shm/b bs=1M count=40; stat -c %s /tmp/a /dev/shm/b');
    expectHostUntouched(r);
    expect(r.stderr).toMatch(/dd: error writing '\/dev\/shm\/b': No space left on device/);
    const [tmp, shm] = lines(r.stdout).map(Number);
    // /tmp took 32 MiB, its size; /dev/shm got what was left of the 64, less the kernel's own bits.
    expect(tmp).toBe(32 * 1024 * 1024);
    expect(shm).toBeGreaterThan(31 * 1024 * 1024);
    expect(shm).toBeLessThan(32 * 1024 * 1024);
  });

  it('mount -o size= and remount,size= bound a guest\'s own tmpfs, as /proc/mounts and df show', async () => {
    const script = [
      'mount -t tmpfs -o size=8m,nr_inodes=100,mode=700 scratch /mnt',
      'grep " /mnt " /proc/mounts',
      'dd if=/dev/zero of=/mnt/a bs=1M count=16 2>&1 | grep -o "No space left on device"',
      'df /mnt | tail -1',
      'mount -o remount,size=4m /mnt 2>/dev/null || echo "shrink below use: refused"',
      'mount -o remount,size=16m /mnt && echo "grow: done"',
      'dd if=/dev/zero of=/mnt/b bs=1M count=16 2>&1 | grep -o "No space left on device"',
      'df /mnt | tail -1',
      'grep " /mnt " /proc/mounts',
      'df -i /mnt | tail -1',
      // Unmounted, its 16 MiB are the guest's again.
      'umount /mnt && free | grep Mem:',
    ].join('\n');
    const r = await guarded([], script);
    expectHostUntouched(r);
    const out = lines(r.stdout);
    expect(Number(out.pop()!.trim().split(/\s+/)[2])).toBeLessThan(1024);
    expect(out.map((l) => l.replace(/\s+/g, ' '))).toEqual([
      'scratch /mnt tmpfs rw,relatime,size=8192k,nr_inodes=100,mode=700 0 0',
      'No space left on device',
      'scratch 8192 8192 0 100% /mnt',
      'shrink below use: refused',
      'grow: done',
      'No space left on device',
      'scratch 16384 16384 0 100% /mnt',
      'scratch /mnt tmpfs rw,relatime,size=16384k,nr_inodes=100,mode=700 0 0',
      'scratch 100 3 97 3% /mnt',
    ]);
  });

  it('a full tmpfs refuses what Linux refuses: short write then ENOSPC, holes, fallocate, symlinks', async () => {
    const r = await guarded([], 'mount -t tmpfs -o size=64k t /mnt && /tmpfill /mnt');
    expectHostUntouched(r);
    // What the host's Linux 6.18 printed for the same program on a 64 KiB tmpfs.
    expect(lines(r.stdout)).toEqual([
      'pwrite 100 at 1000 = 100',
      'after 6 full writes of 10000: write = 5536',
      'after 7 full writes of 10000: write = ENOSPC',
      'full: size 65536 st_blocks 128; fs blocks 16 free 0',
      'ftruncate up 100M = 0',
      'sparse: size 104857600 st_blocks 128; fs blocks 16 free 0',
      'pwrite into a hole = ENOSPC',
      'pwrite over data = 100',
      'posix_fallocate whole file = ENOSPC',
      'posix_fallocate allocated page = 0',
      'create when full = 0',
      'write to it = ENOSPC',
      'mkdir when full = 0',
      'short symlink = 0',
      'long symlink = ENOSPC',
      'ftruncate to 8192 = 0',
      'shrunk: size 8192 st_blocks 16; fs blocks 16 free 14',
      'write 64K to the new file = 57344',
      'refilled: size 57344 st_blocks 112; fs blocks 16 free 0',
      'unlink f = 0',
      'f gone: size 57344 st_blocks 112; fs blocks 16 free 2',
    ]);
  });

  it('a mapped tmpfs file is charged for every page below its end, so no page fault can pass the size', async () => {
    const r = await guarded([], 'mount -t tmpfs -o size=64k t /mnt && /tmpmap /mnt');
    expectHostUntouched(r);
    // Linux would let both the truncate and the mmap through, and raise SIGBUS at a fault past the size.
    expect(lines(r.stdout)).toEqual([
      'write 8192 = 8192',
      'free pages = 14',
      'mmap dense = ok',
      'write through the mapping seen by read = M',
      'free pages after mmap = 14',
      'ftruncate the mapped file to 1M = ENOSPC',
      'ftruncate the mapped file to 32K = 0',
      'free pages = 8',
      'ftruncate a new file to 1M = 0',
      'free pages = 8',
      'mmap the sparse file = failed',
      'ftruncate it to 16K = 0',
      'mmap the sparse 16K file = ok',
      'free pages = 4',
    ]);
  });
});

describe('pipes and the guest\'s memory', () => {
  it('pipe buffers count against --mem: filling pipes ends in ENOMEM, not in the host\'s OOM killer', async () => {
    const r = await guarded(['--mem', '16M'], '/pipefill 512; free | grep Mem:');
    expectHostUntouched(r);
    const [fill, mem] = lines(r.stdout);
    const m = /^pipes (\d+) full (\d+) bytes (\d+) errno ENOMEM \(in write\)$/.exec(fill!);
    expect(m, fill).not.toBeNull();
    // Most of the 16 MiB, never more.
    expect(Number(m![3])).toBeGreaterThan(12 * 1024 * 1024);
    expect(Number(m![3])).toBeLessThanOrEqual(16 * 1024 * 1024);
    // Once the pipes are closed, their memory is the guest's again.
    const [, total, used] = mem!.trim().split(/\s+/);
    expect(Number(total)).toBe(16384);
    expect(Number(used)).toBeLessThan(1024);
  });

  it('F_GETPIPE_SZ and F_SETPIPE_SZ round, refuse and permit as pipe(7) says', async () => {
    const r = await guarded([], `cat /proc/sys/fs/pipe-max-size; /pipesize ${USER}`);
    expectHostUntouched(r);
    // The host's Linux printed the same, but for "set 2M as root": root there lacks CAP_SYS_RESOURCE.
    expect(lines(r.stdout)).toEqual([
      '1048576',
      'default = 65536',
      'set 0 = 4096',
      'set 4097 = 8192',
      'set -1 = EINVAL',
      'set 2G+1 = EINVAL',
      'set 16384 = 16384',
      'write 12288 = 12288',
      'set 4096 holding 3 pages = EBUSY',
      'set 12288 = 16384',
      'get = 16384',
      'get on a file = EBADF',
      'set on a file = EBADF',
      'set 2M as root = 2097152',
      'new pipe as user = 65536',
      'set 2M as user = EPERM',
      'set 1M as user = 1048576',
      'set 2M as user after 1M = EPERM',
      'set 8192 as user = 8192',
    ]);
  });
});

describe('what else the kernel holds for the guest', () => {
  it('open files and directory listings count against --mem (ENFILE, ENOMEM); queued signals stop at RLIMIT_SIGPENDING', async () => {
    const r = await guarded(['--mem', '16M'], '/kernfill files; /kernfill dirs /tmp; /kernfill sigqueue; free | grep Mem:');
    expectHostUntouched(r);
    const [files, dirs, sigqueue, mem] = lines(r.stdout);
    // About 4 KiB a description: some 4000 fit in 16 MiB, with the kernel's own bits.
    expect(files).toMatch(/^files (\d+) errno ENFILE$/);
    expect(Number(files!.split(' ')[1])).toBeGreaterThan(3000);
    expect(Number(files!.split(' ')[1])).toBeLessThan(4096);
    // A directory of 2000 names, opened and read again and again: each listing costs ~140 KiB.
    expect(dirs).toMatch(/^dirs (\d+) errno ENOMEM$/);
    expect(Number(dirs!.split(' ')[1])).toBeLessThan(120);
    // With RLIMIT_SIGPENDING 10 and nothing else queued for the user, as on Linux.
    expect(sigqueue).toBe('sigqueue 10 errno EAGAIN');
    // The processes gone, only /tmp's 2000 inodes (1 KiB each) remain charged.
    expect(Number(mem!.trim().split(/\s+/)[2])).toBeLessThan(2500);
  });
});

describe('init', () => {
  it('a guest process cannot kill init with a signal it does not handle, under --exec too (SIGNAL_UNKILLABLE)', async () => {
    const r = await guarded([], 'kill -KILL 1; kill -TERM 1; kill -STOP 1; sh -c "kill -KILL 1; kill -TERM 1"; ' +
      'trap "echo USR1 handled" USR1; kill -USR1 1; echo alive');
    expectHostUntouched(r);
    expect(lines(r.stdout)).toEqual(['USR1 handled', 'alive']);
  });

  it('a child\'s exit signal does not kill init either, and one past the last signal goes nowhere', async () => {
    // exitsig is pid 1: its children's exit signals come to it (SIGKILL, SIGTERM, 200).
    const r = await guarded([], 'exec /exitsig 9 15 200');
    expectHostUntouched(r);
    expect(r.stderr).not.toMatch(/kernel bug/);
    expect(lines(r.stdout)).toEqual([
      'exit signal 9: child exited 3', 'exit signal 15: child exited 3', 'exit signal 200: child exited 3',
    ]);
  });
});
