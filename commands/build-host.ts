import { Flags } from '@oclif/core';
import { VmctlCommand } from '../src/cli/vmctl-command.ts';
import { buildAndProbe } from '../src/host/build-and-probe.ts';

export default class BuildHost extends VmctlCommand {
  static override summary = 'Compile the C tracer and probe what this host offers.';

  static override description = `Compiles, with the host's C compiler (cc, or $CC), into build/host/ inside the vmctl package:
  tracer.node   the Node-API tracer addon, from src/tracer/addon/*.c
  vmctl-stub    the guest stub, from src/tracer/stub/stub.S
  vmctl-probe   the host probe, from src/tracer/probe/probe.c
Only what changed is rebuilt (a stamp holds a hash of the sources, flags and compiler version). Then runs the probe and prints what the host offers: kernel release, ptrace, PTRACE_SYSEMU, seccomp filters, seccomp user notification, process_vm_readv and the vmctl helper patch.
\`vmctl boot\` does the same by itself when needed; run this to see the host report, or after editing the tracer.
When there is no C compiler and vmctl runs as root on Debian, it installs gcc with apt-get.`;

  static override examples = [
    { description: 'Build what changed and show the host report', command: '<%= config.bin %> <%= command.id %>' },
    { description: 'Rebuild everything and show each compiler command', command: '<%= config.bin %> <%= command.id %> --force --verbose' },
  ];

  static override flags = {
    force: Flags.boolean({ description: 'Rebuild every output even if its sources are unchanged.' }),
    verbose: Flags.boolean({ char: 'v', description: 'Show every host command run (compiler, probe).' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(BuildHost);
    await buildAndProbe({ force: flags.force, verbose: flags.verbose, print: (text) => this.log(text) });
  }
}
