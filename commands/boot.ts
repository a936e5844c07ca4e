import { Args, Flags } from '@oclif/core';
import { bootGuest } from '../src/boot.ts';
import { VmctlCommand } from '../src/cli/vmctl-command.ts';

export default class Boot extends VmctlCommand {
  static override summary = 'Boot a guest: an interactive shell on the console, or one command with --exec.';

  static override description = `Boots a guest under vmctl's own kernel: every guest process is a host process stopped at each system call (PTRACE_SYSEMU) and served by the guest kernel.
GUEST is a name from guest-configs/ (default: busybox) or the path of a guest config file. The host side is built first if needed (see build-host), and the busybox root filesystem is assembled on first use into $XDG_CACHE_HOME/vmctl/rootfs/.
The guest's / is its root filesystem, read-only, under a copy-on-write upper layer kept in $XDG_STATE_HOME/vmctl/<guest>/<rootfs>/upper, so a boot sees what the previous one wrote.
vmctl exits with the guest's status: the exit code of its first process, or 128+N when a signal N killed it.`;

  static override examples = [
    { description: 'Boot the default busybox guest into an interactive shell', command: '<%= config.bin %> <%= command.id %>' },
    { description: 'Run one command in the guest and exit with its status', command: `<%= config.bin %> <%= command.id %> --exec 'uname -a; ls /'` },
    { description: 'Boot a directory holding a static x86_64 userland', command: '<%= config.bin %> <%= command.id %> --rootfs ./my-root' },
    { description: 'Boot a guest from a config file, dropping its saved files first', command: '<%= config.bin %> <%= command.id %> ./my-guest.json --fresh' },
  ];

  static override args = {
    guest: Args.string({ description: 'Guest name from guest-configs/ or path of a guest config file.', default: 'busybox' }),
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
    verbose: Flags.boolean({ char: 'v', description: 'Show every host command run and the kernel diagnostics (unimplemented syscalls, ...).' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Boot);
    const status = await bootGuest({ guest: args.guest, ...flags });
    this.exit(status);
  }
}
