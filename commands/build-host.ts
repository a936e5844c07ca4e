import { Flags } from '@oclif/core';
import { VmctlCommand } from '../src/cli/vmctl-command.ts';

export default class BuildHost extends VmctlCommand {
  static override summary = 'Compile the C tracer and probe what this host offers.';

  static override description = `Compiles, with the host's C compiler (cc, or $CC), into build/host/ inside the vmctl package:
  tracer.node   the Node-API tracer addon, from src/tracer/addon/*.c
  vmctl-stub    the guest stub, from src/tracer/stub/stub.S
  vmctl-probe   the host probe, from src/tracer/probe/probe.c
Only what changed is rebuilt (a stamp holds a hash of the sources, flags and compiler version). Then runs the probe and prints what the host offers: kernel release, ptrace, PTRACE_SYSEMU, seccomp filters, seccomp user notification, process_vm_readv and the vmctl helper patch.
\`vmctl boot\` does the same by itself when needed; run this to see the host report, or after editing the tracer.
When there is no C compiler and vmctl runs as root on Debian, it installs gcc with apt-get.
With --kernel it builds, instead, a host kernel carrying the vmctl helper patch (host-patch/), for \`vmctl host-vm\`: Debian's linux-source-6.1 (installed with apt-get when missing) or the tree of --kernel-src, patched and configured for QEMU (tinyconfig plus host-patch/qemu.config), kept in $XDG_CACHE_HOME/vmctl/kernel/ by source version, patch hash and config hash.`;

  static override examples = [
    { description: 'Build what changed and show the host report', command: '<%= config.bin %> <%= command.id %>' },
    { description: 'Rebuild everything and show each compiler command', command: '<%= config.bin %> <%= command.id %> --force --verbose' },
    { description: 'Build the patched host kernel for `vmctl host-vm`', command: '<%= config.bin %> <%= command.id %> --kernel' },
  ];

  static override flags = {
    force: Flags.boolean({ description: 'Rebuild every output even if its sources are unchanged.' }),
    verbose: Flags.boolean({ char: 'v', description: 'Show every host command run (compiler, probe).' }),
    kernel: Flags.boolean({ description: 'Build the host kernel with the vmctl helper patch (for `vmctl host-vm`) instead.' }),
    'kernel-src': Flags.string({
      description: "With --kernel: the kernel source tree to patch (copied, never modified) instead of Debian's linux-source-6.1.",
      helpValue: 'DIR',
      dependsOn: ['kernel'],
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(BuildHost);
    if (flags.kernel) {
      const { buildHostKernel } = await import('../src/host/kernel-build.ts');
      await buildHostKernel({ kernelSrc: flags['kernel-src'], force: flags.force, verbose: flags.verbose });
      return;
    }
    const { buildAndProbe } = await import('../src/host/build-and-probe.ts');
    await buildAndProbe({ force: flags.force, verbose: flags.verbose, print: (text) => this.log(text) });
  }
}
