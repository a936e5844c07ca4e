import { Args, Flags } from '@oclif/core';
import { VmctlCommand } from '../src/cli/vmctl-command.ts';
import { DEFAULT_STRACE_SIZE } from '../src/kernel/trace/options.ts';
import { expandBareFlags } from '../src/cli/bare-flags.ts';

/** What a bare flag means (src/cli/bare-flags.ts). */
const BARE_FLAGS = { '--strace': 'all', '--inspect': 'default', '--inspect-brk': 'default' } as const;

export default class Boot extends VmctlCommand {
  static override summary = 'Boot a guest: an interactive shell on the console, or one command with --exec.';

  static override description = `Boots a guest under vmctl's own kernel: every guest process is a host process stopped at each system call (PTRACE_SYSEMU) and served by the guest kernel.
GUEST is a name from guest-configs/ (default: busybox) or the path of a guest config file. The host side is built first if needed (see build-host), and the busybox root filesystem is assembled on first use into $XDG_CACHE_HOME/vmctl/rootfs/.
The guest's / is its root filesystem, read-only, under a copy-on-write upper layer kept in $XDG_STATE_HOME/vmctl/<guest>/<rootfs>/upper, so a boot sees what the previous one wrote.
vmctl exits with the guest's status: the exit code of its first process, or 128+N when a signal N killed it.
With --kernel (or "kernel" in the guest config) a User-Mode Linux kernel boots instead, on the same config and root filesystem: an ext4 image of it with a copy-on-write file in the guest's state directory (or hostfs over a copy with --hostfs), the console on the terminal, pinned to one CPU.`;

  static override examples = [
    { description: 'Boot the default busybox guest into an interactive shell', command: '<%= config.bin %> <%= command.id %>' },
    { description: 'Run one command in the guest and exit with its status', command: `<%= config.bin %> <%= command.id %> --exec 'uname -a; ls /'` },
    { description: 'Boot a directory holding a static x86_64 userland', command: '<%= config.bin %> <%= command.id %> --rootfs ./my-root' },
    { description: 'Boot a guest from a config file, dropping its saved files first', command: '<%= config.bin %> <%= command.id %> ./my-guest.json --fresh' },
    { description: 'Trace the file syscalls of a command', command: `<%= config.bin %> <%= command.id %> --strace=file --exec 'cat /etc/hostname'` },
    { description: 'Trace every syscall of an interactive guest into a file, as JSON lines', command: '<%= config.bin %> <%= command.id %> --strace --strace-file trace.jsonl --strace-format json' },
    { description: 'Make opening anything under /etc fail with ENOENT', command: `<%= config.bin %> <%= command.id %> --inject 'openat:ENOENT:path=/etc/*' --exec 'cat /etc/hostname'` },
    { description: 'Count syscalls and guest-kernel time', command: `<%= config.bin %> <%= command.id %> --stats --exec 'ls -R /usr > /dev/null'` },
    { description: 'Debug the guest kernel in Chrome DevTools (chrome://inspect) or VS Code', command: `<%= config.bin %> <%= command.id %> --inspect --exec 'id -u'` },
    { description: 'Stop the guest thread that opens files; `vmctl ctl busybox ps` shows it, `vmctl ctl busybox go 2` lets it go on', command: `<%= config.bin %> <%= command.id %> --break-syscall openat --exec 'cat /etc/hostname'` },
    { description: "Run a command on Debian's User-Mode Linux kernel instead", command: `<%= config.bin %> <%= command.id %> --kernel uml --exec 'uname -r'` },
    { description: 'Debug a guest program with gdb: it stops at its first instruction until gdb connects', command: `<%= config.bin %> <%= command.id %> --gdb-port 1234 --gdb-exec myprog --exec ./myprog` },
    { description: 'Debug your own UML build in gdb', command: '<%= config.bin %> <%= command.id %> --kernel ~/linux/linux --gdb' },
  ];

  static override args = {
    // ignoreStdin: oclif otherwise reads a missing argument from a piped stdin, which is the guest's.
    guest: Args.string({ description: 'Guest name from guest-configs/ or path of a guest config file.', default: 'busybox', ignoreStdin: true }),
  };

  static override flags = {
    exec: Flags.string({
      char: 'e',
      description: "Run `/bin/sh -c CMD` instead of the guest's init, on the host's stdin/stdout/stderr, and exit with its status.",
      helpValue: 'CMD',
    }),
    rootfs: Flags.string({
      description: "Boot this host directory as / instead of the guest's root filesystem; it must hold /bin/sh.",
      helpValue: 'DIR',
    }),
    fresh: Flags.boolean({ description: "Drop the guest's saved state (its copy-on-write upper layer) before booting." }),
    strict: Flags.boolean({
      description: 'Stop on every guest syscall (pure PTRACE_SYSEMU) instead of letting the seccomp fast path run memory, futex and clock calls on the host.',
    }),
    helper: Flags.boolean({
      description: 'Use the host helper patch (host-patch/) where the host kernel has it: one-call syscall round trips ' +
        '(with --strict) and address-space batches with nothing of vmctl mapped in guests. --no-helper forces plain ptrace.',
      allowNo: true,
      default: true,
    }),
    verbose: Flags.boolean({ char: 'v', description: 'Show every host command run and the kernel diagnostics (unimplemented syscalls, ...).' }),
    strace: Flags.string({
      description: 'Print every guest syscall, decoded, with its result and time (strace style); --strace=LIST traces only ' +
        'those named: syscalls and classes file, process, signal, memory, network, desc, comma separated, !NAME to leave one out.',
      helpValue: 'SYSCALLS',
    }),
    'strace-file': Flags.string({ description: 'Write the --strace output to FILE instead of stderr.', helpValue: 'FILE' }),
    'strace-format': Flags.string({ description: 'Format of the --strace output: text lines, or JSON lines.', options: ['text', 'json'] }),
    'strace-size': Flags.integer({
      description: `Bytes of a buffer or string --strace shows before cutting it (default ${DEFAULT_STRACE_SIZE}).`,
      helpValue: 'N',
      min: 0,
    }),
    inject: Flags.string({
      description: 'Make chosen syscalls fail, return or wait (repeatable): SYSCALL:ERRNO or SYSCALL:delay=DURATION or ' +
        'SYSCALL:retval=N, with :path=GLOB, :pid=N, :comm=NAME, :nth=N (only the Nth matching call), :nth=N+ (the Nth ' +
        'and later), :prob=P. Example: openat:ENOENT:path=/etc/*',
      helpValue: 'SPEC',
      multiple: true,
      multipleNonGreedy: true,
    }),
    'inject-seed': Flags.integer({ description: 'Seed of the PRNG behind --inject prob=: the same seed repeats a run.', helpValue: 'N' }),
    stats: Flags.boolean({ description: 'At exit, print per-syscall counts, errors and guest-kernel time, and the host round trips.' }),
    kernel: Flags.string({
      description: 'Boot a User-Mode Linux kernel instead of vmctl\'s own: "uml" for Debian\'s /usr/bin/linux.uml (installed with apt-get ' +
        'when missing and run as root), or the path of a UML binary (`make ARCH=um` builds ./linux). Same guest configs and root filesystems.',
      helpValue: 'uml|PATH',
    }),
    mem: Flags.string({
      description: "The guest's memory (K, M, G suffixes): under vmctl's kernel, the bound on the kernel's own memory for the guest " +
        '(tmpfs contents, pipe buffers), which a guest that exceeds it gets ENOSPC or ENOMEM for, and twice the default size of ' +
        "its tmpfs mounts (default: half the host's memory); with --kernel, UML's mem= (default 256M).",
      helpValue: 'SIZE',
    }),
    'pids-max': Flags.integer({
      description: 'Most guest processes and threads alive at once (default 2048): fork and clone beyond it fail with EAGAIN, ' +
        'as under a pids cgroup, so a fork bomb ends in the guest and the host stays untouched.',
      helpValue: 'N',
      min: 1,
    }),
    name: Flags.string({
      description: 'Boot a separate instance of the guest under NAME, with copy-on-write state of its own: one guest runs once ' +
        'at a time per instance, so a second boot of the same guest needs --name. `vmctl ctl NAME` reaches it.',
      helpValue: 'NAME',
    }),
    append: Flags.string({
      description: 'UML only: extra kernel arguments (repeatable), e.g. --append \'slub_debug=FZ\'.',
      helpValue: 'ARGS',
      multiple: true,
      multipleNonGreedy: true,
    }),
    'gdb-port': Flags.integer({
      description: 'Serve gdb (remote protocol, `target remote 127.0.0.1:PORT`) on 127.0.0.1:PORT for one guest process: ' +
        "pid 1's program, or the first process that execs --gdb-exec's PROGRAM, is stopped at its first instruction " +
        'until gdb connects. Breakpoints, stepping, registers and memory; the rest of the guest keeps running. ' +
        'Quitting gdb detaches and lets the process go on.',
      helpValue: 'PORT',
      min: 1,
      max: 65535,
    }),
    'gdb-exec': Flags.string({
      description: 'With --gdb-port: stop the first process that execs PROGRAM (its file name, or with a "/" its guest path) ' +
        "instead of pid 1's program, e.g. --gdb-exec myprog --exec './myprog args'.",
      helpValue: 'PROGRAM',
    }),
    gdb: Flags.boolean({ description: 'UML only: load the kernel in gdb, its SIGSEGV/SIGUSR1/SIGIO/SIGALRM handling set up; `run` boots it.' }),
    hostfs: Flags.boolean({
      description: 'UML only: root on hostfs over a private copy of the root filesystem, instead of an ext4 image (ubd) with a copy-on-write file.',
    }),
    inspect: Flags.string({
      description: 'Open the Node inspector on the guest kernel (127.0.0.1, port 9229 by default; --inspect=PORT, 0 for any ' +
        'free one) and print its ws:// URL, for Chrome DevTools or VS Code. Breakpoints by TypeScript file and line ' +
        'work (inline source maps). A breakpoint pauses this guest\'s whole kernel: the calling thread waits in its ' +
        'syscall, the other guest threads run on until their next syscall, and console input, timers and the control ' +
        'socket wait too; other guests (other vmctl processes) keep going.',
      helpValue: 'PORT',
    }),
    'inspect-brk': Flags.string({
      description: 'Like --inspect, then wait for a debugger to attach and pause before the guest\'s first process runs.',
      helpValue: 'PORT',
    }),
    'break-syscall': Flags.string({
      description: 'Stop each guest thread (of guest pid PID only, with :PID) that enters syscall NAME (or a class: file, ' +
        'process, ...), before it is served, and say so on stderr; only that thread waits. `vmctl ctl GUEST ps` shows it, ' +
        '`vmctl ctl GUEST go PID` continues it. Repeatable; `ctl break`/`ctl unbreak` change them live.',
      helpValue: 'NAME[:PID]',
      multiple: true,
      multipleNonGreedy: true,
    }),
    cpu: Flags.string({
      description: 'UML only: the host CPU to pin UML to (default: the last one vmctl may use), or "all" to leave it unpinned.',
      helpValue: 'N|all',
    }),
  };

  async run(): Promise<void> {
    // `--strace` (every syscall), `--inspect` and `--inspect-brk` (as node's: a port
    // only as =PORT) also stand alone: oclif's string flags always take a value.
    const valueFlags = new Set(Object.entries(Boot.flags).filter(([, f]) => f.type === 'option')
      .flatMap(([name, f]) => [`--${name}`, ...(f.char ? [`-${f.char}`] : [])]));
    const { args, flags } = await this.parse(Boot, expandBareFlags(this.argv, valueFlags, BARE_FLAGS));
    const { strace, 'strace-file': straceFile, 'strace-format': straceFormat, 'strace-size': straceSize, inject,
      'inject-seed': injectSeed, stats, 'gdb-port': gdbPort, 'gdb-exec': gdbExec,
      'inspect-brk': inspectBrk, 'break-syscall': breakSyscall, 'pids-max': pidsMax, ...rest } = flags;
    const trace = { strace, straceFile, straceFormat, straceSize, inject, injectSeed, stats };
    const { bootGuest } = await import('../src/boot.ts');
    const status = await bootGuest({ guest: args.guest, ...rest, pidsMax, trace, inspectBrk, breakSyscall, gdbPort, gdbExec });
    this.exit(status);
  }
}
