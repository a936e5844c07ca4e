/**
 * `vmctl host-vm -- CMD`: boots a host kernel (by default the patched one
 * `vmctl build-host --kernel` built) in QEMU and runs one command in it, the
 * way virtme-ng does: the host's / is the guest's root, read-only over 9p,
 * so every program and file of the host is there at the same path; /tmp,
 * /run and /dev/shm are the guest's own tmpfs. A second 9p share, of a
 * temporary directory on the host, carries the command in and its status
 * out (the guest's /run/vmctl). A working directory under one of the
 * guest's own tmpfs (a checkout in /tmp) would vanish there: it comes as a
 * third share, read-only, at the same path.
 *
 * The command's stdout and stderr come out on two serial ports of their own
 * (ttyS1, ttyS2), which QEMU connects to two Unix sockets vmctl listens on
 * and copies to its own stdout and stderr (whatever they are: a terminal,
 * a pipe, a socket); the kernel's console (ttyS0) goes to a file, shown when
 * something goes wrong. The guest's init records the
 * command's exit status in the scratch directory and resets the machine,
 * which QEMU's -no-reboot turns into QEMU exiting: no ACPI power-off needed.
 */
import { constants } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { access, chmod, mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode, VmctlError } from '../errors.ts';
import { formatCommand, progress, runHostCommand } from '../host-command.ts';
import { aptInstall, hasAptGet, isRoot } from './apt.ts';
import { cachedKernels, currentCachedKernel } from './kernel-cache.ts';
import { assertSupportedHost } from './toolchain.ts';

export const QEMU = 'qemu-system-x86_64';
const QEMU_PACKAGE = 'qemu-system-x86';

export type Accel = 'kvm' | 'tcg';

export interface HostVmOptions {
  /** The command's words, run by /bin/sh -c joined with spaces, as ssh does. */
  command: string[];
  /** A bzImage; default: the cached kernel built from the current host-patch/. */
  kernel?: string;
  /** Force an accelerator; default: KVM when it works, else TCG. */
  accel?: Accel;
  cpus?: number;
  /** QEMU's -m, e.g. 2G. */
  memory?: string;
  /** Kill the VM after this many seconds. */
  timeout?: number;
  /** More kernel arguments, after vmctl's (so they win). */
  append?: string[];
  verbose?: boolean;
}

export const DEFAULT_MEMORY = '2G';
const CONSOLE_TAIL_LINES = 30;
/** The scratch share in the guest: the command in, its status out. */
const GUEST_CONTROL_DIR = '/run/vmctl';

function hostError(message: string): VmctlError {
  return new VmctlError(message, ExitCode.host);
}

/** Quotes a word for the guest's /bin/sh. */
function shQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The kernel to boot: the one given, or the cached build of the current series and configuration. */
async function resolveKernel(path: string | undefined): Promise<string> {
  if (path) {
    try {
      await access(path, constants.R_OK);
    } catch {
      throw new VmctlError(`--kernel ${path}: no such file (or not readable).`, ExitCode.usage);
    }
    return path;
  }
  const kernel = await currentCachedKernel();
  if (kernel) return kernel.bzImage;
  const stale = await cachedKernels();
  throw hostError(
    'no patched kernel has been built from the current host-patch/ series and configuration yet: run ' +
      '`vmctl build-host --kernel` (several minutes; see README.md), or pass --kernel BZIMAGE.' +
      (stale.length > 0 ? ` Older builds, from other patches or configurations: ${stale.map((k) => k.bzImage).join(', ')}.` : ''),
  );
}

/** qemu-system-x86_64, installed with apt-get when missing and vmctl runs as root. */
async function ensureQemu(verbose: boolean): Promise<void> {
  const probe = await runHostCommand(QEMU, ['--version'], { verbose });
  if (probe.exitCode === 0) return;
  if (!isRoot() || !(await hasAptGet())) {
    throw hostError(`${QEMU} is not installed: install it with \`sudo apt-get install ${QEMU_PACKAGE}\`, then run this again.`);
  }
  progress(`${QEMU} is missing; installing ${QEMU_PACKAGE} with apt-get…`);
  try {
    await aptInstall([QEMU_PACKAGE], { verbose });
  } catch (error) {
    throw hostError(`${(error as Error).message}\nInstall ${QEMU_PACKAGE} by hand, then run this again.`);
  }
}

/**
 * Why KVM cannot be used here, or undefined when it can: /dev/kvm must open
 * for reading and writing, and the CPU must show hardware virtualization
 * (a /dev/kvm without vmx or svm, as some nested setups give, starts QEMU
 * but never runs a kernel).
 */
export async function kvmUnusableReason(): Promise<string | undefined> {
  try {
    const handle = await open('/dev/kvm', 'r+');
    await handle.close();
  } catch (error) {
    return `/dev/kvm: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
  }
  let cpuinfo = '';
  try {
    cpuinfo = await readFile('/proc/cpuinfo', 'utf8');
  } catch {
    return 'cannot read /proc/cpuinfo';
  }
  if (!/^flags\s*:.*\b(vmx|svm)\b/m.test(cpuinfo)) return '/dev/kvm is there but the CPU shows no vmx or svm flag';
  return undefined;
}

async function chooseAccel(forced: Accel | undefined): Promise<Accel> {
  const reason = await kvmUnusableReason();
  if (forced === 'kvm') {
    if (reason) throw hostError(`--accel kvm: KVM does not work here (${reason}); leave --accel out to use TCG.`);
    progress('host-vm: KVM acceleration (--accel kvm)');
    return 'kvm';
  }
  if (forced === 'tcg') {
    progress('host-vm: TCG emulation (--accel tcg)');
    return 'tcg';
  }
  progress(reason ? `host-vm: TCG emulation, no KVM (${reason})` : 'host-vm: KVM acceleration');
  return reason ? 'tcg' : 'kvm';
}

/** Directories the guest mounts a tmpfs of its own on: the host's are hidden there. */
const GUEST_TMPFS = ['/tmp', '/run', '/dev/shm'];

/** `dir` when the guest's own tmpfs would hide it (it must then be shared by itself), else undefined. */
export function hiddenInGuest(dir: string): string | undefined {
  return GUEST_TMPFS.some((t) => dir === t || dir.startsWith(t + '/')) ? dir : undefined;
}

/**
 * The guest's /sbin/init for this run: mounts, runs the command, records
 * its status, resets. `cwdShare`: the host directory shared as "vmctlcwd".
 */
export function guestInit(cwdShare?: string): string {
  const ctl = GUEST_CONTROL_DIR;
  const cwdMount = cwdShare
    ? `mkdir -p ${shQuote(cwdShare)} && mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro vmctlcwd ${shQuote(cwdShare)} || say ${shQuote(`mounting ${cwdShare} failed`)}
`
    : '';
  return `#!/bin/sh
# vmctl host-vm: the guest's init. Everything else comes from the host's /.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
say() { echo "vmctl host-vm init: $*" >/dev/console; }
mount -t proc proc /proc || say 'mounting /proc failed'
mount -t sysfs sysfs /sys || say 'mounting /sys failed'
mount -t tmpfs tmpfs /tmp || say 'mounting /tmp failed'
mount -t tmpfs tmpfs /run || say 'mounting /run failed'
mkdir -p /dev/pts /dev/shm ${ctl}
mount -t devpts devpts /dev/pts || say 'mounting /dev/pts failed'
mount -t tmpfs tmpfs /dev/shm || say 'mounting /dev/shm failed'
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 vmctlscratch ${ctl} || say 'mounting ${ctl} failed'
${cwdMount}cat /proc/uptime > ${ctl}/started
stty -F /dev/ttyS1 -onlcr 2>/dev/null
stty -F /dev/ttyS2 -onlcr 2>/dev/null
/bin/sh ${ctl}/cmd </dev/null >/dev/ttyS1 2>/dev/ttyS2
echo $? > ${ctl}/status.tmp && mv ${ctl}/status.tmp ${ctl}/status
cat /proc/uptime > ${ctl}/ended
echo b > /proc/sysrq-trigger
`;
}

/** The script the init runs: the host's environment worth keeping, its directory, then the command. */
export function guestCommand(words: string[], cwd: string): string {
  const env: Record<string, string> = {
    HOME: process.env.HOME ?? homedir(),
    LANG: process.env.LANG ?? 'C.UTF-8',
    TERM: process.env.TERM ?? 'dumb',
    VMCTL_HOST_VM: '1',
  };
  const exports = Object.entries(env).map(([k, v]) => `${k}=${shQuote(v)}`);
  return [`export ${exports.join(' ')}`, `cd ${shQuote(cwd)} 2>/dev/null || cd /`, words.join(' '), ''].join('\n');
}

export function kernelCommandLine(init: string, append: string[] = []): string {
  return [
    'console=ttyS0',
    'root=hostroot',
    'rootfstype=9p',
    // No data caching (cache=mmap only backs mmap): the host's files may change under a
    // running guest (a tracer.node rebuilt by a test), and cache=loose would then serve
    // a mix of old and new pages. It costs 10 to 20 % on a `vmctl boot` in the guest.
    'rootflags=trans=virtio,version=9p2000.L,msize=262144,cache=mmap',
    'ro',
    `init=${init}`,
    // A panic resets the machine, which ends QEMU (-no-reboot).
    'panic=-1',
    ...append,
  ].join(' ');
}

export function qemuArgs(opts: {
  accel: Accel; cpus: number; memory: string; kernel: string; cmdline: string; dir: string; cwdShare?: string;
}): string[] {
  const scratch = join(opts.dir, 'scratch');
  const cwdShare = opts.cwdShare ? [
    '-fsdev', `local,id=cwd,path=${opts.cwdShare},security_model=none,readonly=on,multidevs=remap`,
    '-device', 'virtio-9p-pci,fsdev=cwd,mount_tag=vmctlcwd',
  ] : [];
  return [
    '-name', 'vmctl-host-vm',
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-machine', 'pc', '-accel', opts.accel, '-cpu', opts.accel === 'kvm' ? 'host' : 'max',
    '-smp', String(opts.cpus), '-m', opts.memory,
    '-kernel', opts.kernel, '-append', opts.cmdline,
    '-fsdev', 'local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap',
    '-device', 'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
    '-fsdev', `local,id=scratch,path=${scratch},security_model=none,multidevs=remap`,
    '-device', 'virtio-9p-pci,fsdev=scratch,mount_tag=vmctlscratch',
    ...cwdShare,
    '-chardev', `file,id=console,path=${join(opts.dir, 'console.log')}`, '-serial', 'chardev:console',
    '-chardev', `socket,id=out,path=${join(opts.dir, 'stdout.sock')}`, '-serial', 'chardev:out',
    '-chardev', `socket,id=err,path=${join(opts.dir, 'stderr.sock')}`, '-serial', 'chardev:err',
  ];
}

/**
 * A Unix socket QEMU connects a serial port to: what comes in is copied to
 * @sink. done() resolves once QEMU has closed it and everything is copied.
 */
async function serialSink(path: string, sink: NodeJS.WriteStream): Promise<{ server: Server; done: () => Promise<void> }> {
  const ended: Promise<void>[] = [];
  const server = createServer((socket: Socket) => {
    ended.push(
      new Promise((resolve) => {
        socket.on('data', (chunk: Buffer) => sink.write(chunk));
        socket.on('close', () => resolve());
        socket.on('error', () => resolve());
      }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return {
    server,
    done: async () => {
      server.close();
      await Promise.all(ended);
    },
  };
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

function lastLines(text: string, count: number): string {
  const lines = text.replace(/\r/g, '').split('\n');
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.slice(-count).join('\n');
}

/** Shows what the kernel prints as it prints it (--verbose): the console file, polled. */
function followConsole(path: string): () => Promise<void> {
  let offset = 0;
  let busy = false;
  const poll = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      const handle = await open(path, 'r');
      try {
        const { bytesRead, buffer } = await handle.read({ buffer: Buffer.alloc(65536), position: offset });
        offset += bytesRead;
        if (bytesRead > 0) process.stderr.write(buffer.subarray(0, bytesRead).toString('utf8').replace(/\r/g, ''));
      } finally {
        await handle.close();
      }
    } catch {
      // Not created yet.
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void poll(), 250);
  return async () => {
    clearInterval(timer);
    while (busy) await new Promise((resolve) => setTimeout(resolve, 20));
    await poll();
  };
}

interface QemuRun {
  exitCode: number | undefined;
  timedOut: boolean;
  /** QEMU's own messages (and the command's stderr), last lines. */
  stderrTail: string;
}

async function runQemu(args: string[], timeout: number | undefined, verbose: boolean): Promise<QemuRun> {
  if (verbose) progress(`+ ${formatCommand(QEMU, args)}`);
  // (imported here: commands/host-vm.ts imports this module for DEFAULT_MEMORY, and every vmctl
  // command loads the command table; execa's dozens of modules are for QEMU runs only)
  const { execa } = await import('execa');
  const subprocess = execa(QEMU, args, {
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
    buffer: false,
    reject: false,
    env: { LC_ALL: 'C' },
  });
  let stderrTail = '';
  subprocess.stderr?.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk);
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-8192);
  });
  let timedOut = false;
  const timer =
    timeout && timeout > 0
      ? setTimeout(() => {
          timedOut = true;
          subprocess.kill('SIGTERM');
          setTimeout(() => subprocess.kill('SIGKILL'), 5000).unref();
        }, timeout * 1000)
      : undefined;
  const result = await subprocess;
  if (timer) clearTimeout(timer);
  return { exitCode: result.exitCode, timedOut, stderrTail };
}

/** Boots the VM, runs the command, and returns its exit status. */
export async function runHostVm(opts: HostVmOptions): Promise<number> {
  assertSupportedHost();
  if (opts.command.length === 0) {
    throw new VmctlError('give the command to run after `--`, e.g. `vmctl host-vm -- uname -a`.', ExitCode.usage);
  }
  const verbose = opts.verbose ?? false;
  const kernel = await resolveKernel(opts.kernel);
  await ensureQemu(verbose);
  const accel = await chooseAccel(opts.accel);
  const cpus = opts.cpus ?? availableParallelism();
  const memory = opts.memory ?? DEFAULT_MEMORY;

  const dir = await mkdtemp(join(tmpdir(), 'vmctl-host-vm-'));
  try {
    const ctl = join(dir, 'scratch');
    await mkdir(ctl, { recursive: true });
    const init = join(dir, 'init');
    const cwdShare = hiddenInGuest(process.cwd());
    await writeFile(init, guestInit(cwdShare));
    await chmod(init, 0o755);
    await writeFile(join(ctl, 'cmd'), guestCommand(opts.command, process.cwd()));
    if (verbose) progress(`host-vm: kernel ${kernel}, ${cpus} CPUs, ${memory}, control files in ${ctl}`);

    const stdout = await serialSink(join(dir, 'stdout.sock'), process.stdout);
    const stderr = await serialSink(join(dir, 'stderr.sock'), process.stderr);
    const stopFollowing = verbose ? followConsole(join(dir, 'console.log')) : undefined;
    const started = Date.now();
    const args = qemuArgs({ accel, cpus, memory, kernel, cmdline: kernelCommandLine(init, opts.append), dir, cwdShare });
    let qemu: QemuRun;
    try {
      qemu = await runQemu(args, opts.timeout, verbose);
    } finally {
      await stopFollowing?.();
      await stdout.done();
      await stderr.done();
    }

    const status = await readText(join(ctl, 'status'));
    if (verbose) {
      const up = await stat(join(ctl, 'started')).catch(() => undefined);
      const seconds = (Date.now() - started) / 1000;
      if (up) {
        progress(
          `host-vm: command started ${((up.mtimeMs - started) / 1000).toFixed(2)} s after QEMU, which ran ${seconds.toFixed(2)} s in all`,
        );
      }
    }
    if (status !== undefined && /^\d+\s*$/.test(status)) return Number(status.trim());

    const consoleTail = lastLines((await readText(join(dir, 'console.log'))) ?? '', CONSOLE_TAIL_LINES);
    const why = qemu.timedOut
      ? `it was still running after --timeout ${opts.timeout} s and was killed`
      : qemu.exitCode === 0
        ? 'the guest reset before the command ended (a kernel panic, or an init that could not run)'
        : `QEMU exited with status ${qemu.exitCode ?? 'unknown'}`;
    throw hostError(
      `the VM did not run the command to its end: ${why}.\n` +
        (consoleTail ? `Last lines of the guest console:\n${consoleTail}\n` : 'The guest console is empty: the kernel did not start.\n') +
        (qemu.stderrTail.trim() && qemu.exitCode !== 0 ? `QEMU said:\n${lastLines(qemu.stderrTail, 10)}\n` : '') +
        'Run with --verbose to see the QEMU command line and the whole console; a kernel of your own needs virtio PCI, ' +
        '9p over virtio, a serial console and devtmpfs built in (host-patch/qemu.config has them).',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
