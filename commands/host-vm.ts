import { Flags } from '@oclif/core';
import { VmctlCommand } from '../src/cli/vmctl-command.ts';
import { DEFAULT_MEMORY, runHostVm } from '../src/host/host-vm.ts';

export default class HostVm extends VmctlCommand {
  static override summary = 'Boot a host kernel in QEMU on the host\'s own root and run one command in it.';

  static override description = `Boots a host kernel in QEMU: by default the one \`vmctl build-host --kernel\` built with the vmctl helper patch, so the helper can be tried and tested without installing a kernel.
The guest's / is the host's /, read-only over 9p: every program and file of the host is there at the same path. Its /tmp, /run and /dev/shm are writable tmpfs of its own (hiding the host's). The command runs as root in the current directory (/ when that is under the host's /tmp), with HOME, LANG and TERM from the host, by /bin/sh -c with its words joined by spaces (as ssh does).
KVM is used when it works, TCG emulation otherwise; one line says which. The command's stdout and stderr stream to vmctl's, and vmctl exits with its status. When the VM ends without running it to the end, vmctl prints the last lines of the guest's console and exits with 3.`;

  static override examples = [
    { description: 'Run the helper selftest in the patched kernel', command: '<%= config.bin %> <%= command.id %> -- ./helper-selftest --expect present' },
    { description: 'Check the kernel and the CPUs the guest sees', command: `<%= config.bin %> <%= command.id %> -- 'uname -r; nproc'` },
    { description: 'Boot another kernel, under TCG, showing its console', command: '<%= config.bin %> <%= command.id %> --kernel ./bzImage --accel tcg --verbose -- true' },
  ];

  static override usage = '<%= command.id %> [--kernel BZIMAGE] [--accel kvm|tcg] [--cpus N] [--memory SIZE] [--timeout SECONDS] [--append ARGS...] [-v] -- CMD...';

  static override strict = false;

  static override flags = {
    kernel: Flags.string({
      description: 'The bzImage to boot (default: the one `vmctl build-host --kernel` built from the current host-patch/).',
      helpValue: 'BZIMAGE',
    }),
    accel: Flags.string({ description: 'Force KVM or TCG instead of KVM when it works.', options: ['kvm', 'tcg'] }),
    cpus: Flags.integer({ description: 'Virtual CPUs (default: as many as the host has).', helpValue: 'N', min: 1 }),
    memory: Flags.string({ description: `The guest's memory, as QEMU's -m takes it (default ${DEFAULT_MEMORY}).`, helpValue: 'SIZE' }),
    timeout: Flags.integer({ description: 'Kill the VM after this many seconds (default: never).', helpValue: 'SECONDS', min: 1 }),
    append: Flags.string({
      description: 'More kernel arguments (repeatable), after vmctl\'s, e.g. --append loglevel=8.',
      helpValue: 'ARGS',
      multiple: true,
      multipleNonGreedy: true,
    }),
    verbose: Flags.boolean({ char: 'v', description: 'Show the QEMU command line, the guest console as it boots, and how long the boot took.' }),
  };

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(HostVm);
    const status = await runHostVm({
      command: argv as string[],
      kernel: flags.kernel,
      accel: flags.accel as 'kvm' | 'tcg' | undefined,
      cpus: flags.cpus,
      memory: flags.memory,
      timeout: flags.timeout,
      append: flags.append,
      verbose: flags.verbose,
    });
    this.exit(status);
  }
}
